//! SUBSCRIBE through a real client: the stream replayed up to each progress timestamp
//! reproduces what SELECT showed between the writes, in order; SNAPSHOT = false starts
//! empty; a query can be subscribed to; a dropped view ends its subscriptions. And views
//! with a target lag: they change only at refresh times, less often than a continuous
//! view under the same writes, and catch up within their lag.

use std::time::Duration;

use eddy_tests::subscription::{select, subscribe, Replay, State};
use eddy_tests::EddyProcess;
use futures::StreamExt;
use tokio_postgres::SimpleQueryMessage;

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_replays_to_what_select_saw_at_every_progress_point() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    let subscriber = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE t (k text, v int);
             CREATE MATERIALIZED VIEW s AS SELECT k, count(*) AS n, sum(v) AS total FROM t GROUP BY k;
             INSERT INTO t VALUES ('a', 1), ('b', 2), ('b', 3);",
        )
        .await?;
    let mut seen = vec![select(&client, "SELECT * FROM s").await?];
    let stream = subscriber.copy_out("COPY (SUBSCRIBE TO s WITH (PROGRESS)) TO STDOUT").await?;
    let mut stream = Box::pin(stream);
    let mut replay = Replay::new(true);
    let first = seen[0].clone();
    replay.read_until(&mut stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == first)).await?;

    let writes = [
        "INSERT INTO t VALUES ('c', 10)",
        "UPDATE t SET v = v + 1 WHERE k = 'b'",
        "DELETE FROM t WHERE k = 'a'",
        "INSERT INTO t SELECT 'd', g FROM generate_series(1, 50) g",
        "DELETE FROM t WHERE v > 20",
    ];
    for w in writes {
        client.batch_execute(w).await?;
        seen.push(select(&client, "SELECT * FROM s").await?);
    }
    let last = seen.last().cloned().unwrap_or_default();
    replay.read_until(&mut stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == last)).await?;

    // Every progress point shows one of the states SELECT saw, in the order they happened.
    let mut position = 0;
    for (time, state) in &replay.at_progress {
        let found = seen[position..].iter().position(|s| s == state);
        let Some(offset) = found else {
            panic!("at progress {time} the stream shows {state:?}, which no SELECT saw after {:?}", seen[position]);
        };
        position += offset;
    }
    assert_eq!(position, seen.len() - 1, "the stream went through to the last state");
    let times: Vec<u64> = replay.at_progress.iter().map(|(t, _)| *t).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "progress timestamps increase: {times:?}");

    // Dropping the view ends the subscription: the COPY completes.
    client.batch_execute("DROP MATERIALIZED VIEW s").await?;
    let rest = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        Ok::<_, tokio_postgres::Error>(())
    })
    .await;
    assert!(matches!(rest, Ok(Ok(()))), "the subscription ended cleanly: {rest:?}");
    Ok(())
}

/// A TRUNCATE of several tables empties them at one timestamp: a view over both never
/// shows one emptied and the other not.
#[tokio::test(flavor = "multi_thread")]
async fn truncating_several_tables_is_one_change() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    let subscriber = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE ta (x int); CREATE TABLE tb (y int);
             INSERT INTO ta VALUES (1), (2); INSERT INTO tb VALUES (3);
             CREATE MATERIALIZED VIEW both_counts AS
               SELECT a.n AS na, b.n AS nb FROM (SELECT count(*) AS n FROM ta) a, (SELECT count(*) AS n FROM tb) b;",
        )
        .await?;
    let stream = subscriber.copy_out("COPY (SUBSCRIBE TO both_counts WITH (PROGRESS)) TO STDOUT").await?;
    let mut stream = Box::pin(stream);
    let mut replay = Replay::new(true);
    let state = |na: &str, nb: &str| -> State { [(vec![Some(na.to_string()), Some(nb.to_string())], 1)].into() };
    let (full, empty) = (state("2", "1"), state("0", "0"));
    replay.read_until(&mut stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == full)).await?;
    client.batch_execute("TRUNCATE ta, tb").await?;
    replay.read_until(&mut stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == empty)).await?;
    for (time, seen) in &replay.at_progress {
        assert!(*seen == full || *seen == empty, "at {time} the view showed {seen:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_without_snapshot_and_to_a_query() -> anyhow::Result<()> {
    let server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    let subscriber = server.connect().await?;
    client.batch_execute("CREATE TABLE t (k text, v int); INSERT INTO t VALUES ('old', 1);").await?;
    let stream = subscriber
        .copy_out("COPY (SUBSCRIBE (SELECT k, v * 2 AS w FROM t WHERE v > 0) WITH (SNAPSHOT = false)) TO STDOUT")
        .await?;
    let mut stream = Box::pin(stream);
    client.batch_execute("INSERT INTO t VALUES ('new', 5), ('neg', -1)").await?;
    let mut replay = Replay::new(false);
    replay.read_until(&mut stream, |r| !r.state.is_empty()).await?;
    let expected: State = [(vec![Some("new".to_string()), Some("10".to_string())], 1)].into_iter().collect();
    assert_eq!(replay.state, expected, "only changes after the start, through the query");

    // Errors: SUBSCRIBE must stand alone in a simple query; unknown names are named.
    let err = client.batch_execute("SELECT 1; SUBSCRIBE t").await.expect_err("not alone");
    assert!(err
        .as_db_error()
        .expect("server error")
        .message()
        .contains("SUBSCRIBE must be sent as a query of its own"));
    let Err(err) = client.copy_out("COPY (SUBSCRIBE nope) TO STDOUT").await else { panic!("unknown relation") };
    assert_eq!(err.code().map(|c| c.code()), Some("42P01"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn target_lag_batches_changes_into_refreshes() -> anyhow::Result<()> {
    const LAG_MS: u64 = 500;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE t (k text, v int);
             INSERT INTO t VALUES ('a', 0);
             CREATE MATERIALIZED VIEW fast AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k;
             CREATE MATERIALIZED VIEW slow WITH (TARGET_LAG = '{LAG_MS} milliseconds')
               AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k;
             CREATE DYNAMIC TABLE dyn TARGET_LAG = '{LAG_MS}ms' REFRESH_MODE = AUTO INITIALIZE = ON_CREATE
               AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k;"
        ))
        .await?;
    // INITIALIZE = ON_CREATE: the contents at creation show at once.
    assert_eq!(select(&client, "SELECT * FROM slow").await?, select(&client, "SELECT * FROM fast").await?);
    assert_eq!(select(&client, "SELECT * FROM dyn").await?, select(&client, "SELECT * FROM fast").await?);

    let (c1, c2) = (server.connect().await?, server.connect().await?);
    let mut fast_stream = subscribe(&c1, "fast").await?;
    let mut slow_stream = subscribe(&c2, "slow").await?;
    for i in 1..=30 {
        client.batch_execute(&format!("INSERT INTO t VALUES ('a', {i})")).await?;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let last_write = std::time::Instant::now();
    let expected = select(&client, "SELECT * FROM fast").await?;
    // The lagged view catches up within its lag (plus a tolerance for a loaded machine).
    let mut caught_up = None;
    while last_write.elapsed() < Duration::from_millis(LAG_MS + 2000) {
        if select(&client, "SELECT * FROM slow").await? == expected {
            caught_up = Some(last_write.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let caught_up = caught_up.expect("the lagged view caught up");
    assert!(caught_up <= Duration::from_millis(LAG_MS + 1500), "caught up after {caught_up:?}");
    assert_eq!(select(&client, "SELECT * FROM dyn").await?, expected);

    let mut fast = Replay::new(true);
    fast.read_until(&mut fast_stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == expected)).await?;
    let mut slow = Replay::new(true);
    slow.read_until(&mut slow_stream, |r| r.at_progress.last().is_some_and(|(_, s)| *s == expected)).await?;
    let distinct_states = |r: &Replay| {
        let mut states: Vec<&State> = r.at_progress.iter().map(|(_, s)| s).collect();
        states.dedup();
        states.len()
    };
    // 30 writes: the continuous view goes through every state, the lagged one through a few.
    assert!(distinct_states(&fast) >= 25, "continuous: {} states", distinct_states(&fast));
    assert!(
        distinct_states(&slow) * 3 <= distinct_states(&fast),
        "lagged: {} states vs {}",
        distinct_states(&slow),
        distinct_states(&fast)
    );
    // Every change of the lagged view after its snapshot sits on a refresh boundary.
    let snapshot_time = slow.change_times.first().copied().unwrap_or(0);
    let later: Vec<u64> = slow.change_times.iter().copied().filter(|t| *t != snapshot_time).collect();
    assert!(!later.is_empty(), "the lagged view changed after its snapshot");
    assert!(later.iter().all(|t| t % LAG_MS == 0), "changes off the refresh boundaries: {later:?}");

    let freshness = client
        .query_one(
            "SELECT refresh, target_lag_ms, lag_ms, refreshes FROM eddy_catalog.freshness WHERE name = 'slow'",
            &[],
        )
        .await?;
    assert_eq!(freshness.get::<_, String>(0), "target lag");
    assert_eq!(freshness.get::<_, i64>(1), LAG_MS as i64);
    assert!(freshness.get::<_, i64>(2) <= LAG_MS as i64 + 1000, "lag {}", freshness.get::<_, i64>(2));
    // Each refresh that changed rows is in the history, on a boundary, with its size.
    let history = client
        .query(
            "SELECT (extract(epoch FROM data_as_of) * 1000)::bigint, rows_changed, duration_ms
             FROM eddy_catalog.refresh_history WHERE view = 'slow' AND started_at <= completed_at",
            &[],
        )
        .await?;
    assert!(!history.is_empty(), "refreshes recorded");
    assert_eq!(history.len() as i64, freshness.get::<_, i64>(3));
    for r in &history {
        let (at, rows, duration): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
        assert_eq!(at % LAG_MS as i64, 0, "refresh at a boundary: {at}");
        assert_eq!(rows, 2, "one group: its old row out, its new row in");
        assert!(duration >= 0);
    }

    for (sql, message) in [
        (
            "CREATE MATERIALIZED VIEW x WITH (TARGET_LAG = '10ms') AS SELECT 1",
            "TARGET_LAG must be at least 100 ms, not '10ms'",
        ),
        ("CREATE DYNAMIC TABLE x AS SELECT 1", "a dynamic table needs TARGET_LAG"),
        ("CREATE DYNAMIC TABLE x TARGET_LAG = '1s' REFRESH_MODE = SOMETIMES AS SELECT 1", "REFRESH_MODE must be"),
        ("CREATE MATERIALIZED VIEW x WITH (REFRESH_MODE = 'FULL') AS SELECT 1", "REFRESH_MODE needs a TARGET_LAG"),
        ("CREATE VIEW x WITH (TARGET_LAG = '1s') AS SELECT 1", "apply to materialized views"),
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let text = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(text.contains(message), "{sql}: {text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cursors_fetch_a_subscription() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    let writer = server.connect().await?;
    client.batch_execute("CREATE TABLE ct (x int); INSERT INTO ct VALUES (1);").await?;
    client.batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE ct;").await?;
    let fetch = |rows: Vec<SimpleQueryMessage>| -> Vec<(String, String)> {
        rows.iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((r.get(1).unwrap_or("").to_string(), r.get(2).unwrap_or("").to_string()))
                }
                _ => None,
            })
            .collect()
    };
    let first = fetch(client.simple_query("FETCH ALL c WITH (timeout = '5s')").await?);
    assert_eq!(first, vec![("1".to_string(), "1".to_string())], "the snapshot");
    writer.batch_execute("INSERT INTO ct VALUES (2), (3); DELETE FROM ct WHERE x = 1;").await?;
    let mut changes = Vec::new();
    while changes.len() < 3 {
        let got = fetch(client.simple_query("FETCH ALL c WITH (timeout = '5s')").await?);
        assert!(!got.is_empty(), "changes arrive within the timeout");
        changes.extend(got);
    }
    changes.sort();
    let expected: Vec<(String, String)> =
        [("-1", "1"), ("1", "2"), ("1", "3")].iter().map(|(d, x)| (d.to_string(), x.to_string())).collect();
    assert_eq!(changes, expected);
    // Nothing more: a short timeout returns no rows; the extended protocol works too.
    assert!(fetch(client.simple_query("FETCH ALL c WITH (timeout = '100ms')").await?).is_empty());
    writer.batch_execute("INSERT INTO ct VALUES (4)").await?;
    let typed = client.query("FETCH 1 c WITH (timeout = '5s')", &[]).await?;
    assert_eq!(typed.len(), 1);
    assert_eq!((typed[0].get::<_, i64>(1), typed[0].get::<_, i32>(2)), (1, 4));
    client.batch_execute("CLOSE c; COMMIT").await?;
    let err = client.simple_query("FETCH ALL c").await.expect_err("closed");
    assert_eq!(err.code().map(|c| c.code()), Some("34000"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn alter_dynamic_table_refresh_suspend_resume_and_lag() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    let n = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0)) }
    };
    client
        .batch_execute(
            "CREATE TABLE t2 (x int);
             CREATE DYNAMIC TABLE d TARGET_LAG = '1 hour' AS SELECT count(*) AS n FROM t2;
             INSERT INTO t2 VALUES (1);",
        )
        .await?;
    assert_eq!(n("SELECT n FROM d").await?, 0, "an hour's lag: not refreshed yet");
    // Nor does the transaction's own uncommitted write show through the lag.
    let in_transaction = client.simple_query("BEGIN; INSERT INTO t2 VALUES (100); SELECT n FROM d; ROLLBACK").await?;
    let seen: Vec<&str> = in_transaction
        .iter()
        .filter_map(|m| if let SimpleQueryMessage::Row(r) = m { r.get(0) } else { None })
        .collect();
    assert_eq!(seen, ["0"], "a lagged view inside a transaction");
    client.batch_execute("ALTER DYNAMIC TABLE d REFRESH").await?;
    assert_eq!(n("SELECT n FROM d").await?, 1, "REFRESH shows the inputs as of now");

    client.batch_execute("ALTER DYNAMIC TABLE d SET TARGET_LAG = '200ms'; INSERT INTO t2 VALUES (2);").await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while n("SELECT n FROM d").await? != 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n("SELECT n FROM d").await?, 2, "the new lag applies");

    client.batch_execute("ALTER DYNAMIC TABLE d SUSPEND; INSERT INTO t2 VALUES (3);").await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(n("SELECT n FROM d").await?, 2, "suspended: no refresh");
    let mode = client.query_one("SELECT refresh FROM eddy_catalog.freshness WHERE name = 'd'", &[]).await?;
    assert_eq!(mode.get::<_, String>(0), "suspended");
    client.batch_execute("ALTER DYNAMIC TABLE d RESUME").await?;
    assert_eq!(n("SELECT n FROM d").await?, 3, "RESUME catches up at once");

    // Views and indexes reading an altered view are rebuilt with it and keep up.
    client
        .batch_execute(
            "CREATE MATERIALIZED VIEW cont AS SELECT count(*) FROM t2; CREATE VIEW over_d AS SELECT n FROM d;
             CREATE MATERIALIZED VIEW doubled AS SELECT n * 2 AS m FROM over_d; CREATE INDEX d_n ON d (n);
             ALTER DYNAMIC TABLE d SET TARGET_LAG = '1 hour'; INSERT INTO t2 VALUES (4);
             ALTER DYNAMIC TABLE d REFRESH;",
        )
        .await?;
    assert_eq!(n("SELECT m FROM doubled").await?, 8, "a reader of the refreshed view sees its refresh");
    assert_eq!(n("SELECT n FROM d WHERE n = 4").await?, 4, "through its rebuilt index");
    let err = client.batch_execute("ALTER MATERIALIZED VIEW cont SUSPEND").await.expect_err("no target lag");
    assert!(err.as_db_error().map(|e| e.message().contains("has no target lag")).unwrap_or(false), "{err}");
    client.batch_execute("ALTER MATERIALIZED VIEW cont SET (TARGET_LAG = '1 hour')").await?;
    let shown = client.query_one("SHOW CREATE MATERIALIZED VIEW cont", &[]).await?;
    let shown: String = shown.get(1);
    assert!(shown.contains("TARGET_LAG = '1 hour'"), "SHOW CREATE gives the lag ALTER set: {shown}");
    let err = client.batch_execute("ALTER DYNAMIC TABLE nope REFRESH").await.expect_err("unknown");
    assert!(err.as_db_error().map(|e| e.message().contains("does not exist")).unwrap_or(false), "{err}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn target_lag_over_a_load_generator_stays_within_its_lag() -> anyhow::Result<()> {
    const LAG_MS: i64 = 2000;
    const TOLERANCE_MS: i64 = 1000;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(&format!(
            "CREATE SOURCE ticks FROM LOAD GENERATOR COUNTER (TICK INTERVAL '20ms');
             CREATE MATERIALIZED VIEW live AS SELECT counter % 10 AS g, count(*) AS n FROM ticks GROUP BY 1;
             CREATE MATERIALIZED VIEW lagged WITH (TARGET_LAG = '{LAG_MS}ms')
               AS SELECT counter % 10 AS g, count(*) AS n FROM ticks GROUP BY 1;"
        ))
        .await?;
    let (c1, c2) = (server.connect().await?, server.connect().await?);
    let mut live_stream = subscribe(&c1, "live").await?;
    let mut lagged_stream = subscribe(&c2, "lagged").await?;
    // Watch for 5 s: the lagged view's data is never older than its lag (plus tolerance).
    let started = std::time::Instant::now();
    let mut worst_lag = 0;
    while started.elapsed() < Duration::from_secs(5) {
        let lag: i64 =
            client.query_one("SELECT lag_ms FROM eddy_catalog.freshness WHERE name = 'lagged'", &[]).await?.get(0);
        worst_lag = worst_lag.max(lag);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(worst_lag <= LAG_MS + TOLERANCE_MS, "observed lag {worst_lag} ms");
    // Both subscriptions, read up to now: far fewer changes and states for the lagged view.
    let mut live = Replay::new(true);
    let mut lagged = Replay::new(true);
    live.read_for(&mut live_stream, Duration::from_millis(300)).await?;
    lagged.read_for(&mut lagged_stream, Duration::from_millis(300)).await?;
    assert!(
        lagged.change_times.len() * 5 < live.change_times.len(),
        "output changes: lagged {} vs live {}",
        lagged.change_times.len(),
        live.change_times.len()
    );
    let refreshes: i64 =
        client.query_one("SELECT refreshes FROM eddy_catalog.freshness WHERE name = 'lagged'", &[]).await?.get(0);
    assert!((1..=4).contains(&refreshes), "about one refresh per 2 s in 5 s: {refreshes}");
    Ok(())
}
