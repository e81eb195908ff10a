//! Dynamic tables against a real server: `TARGET_LAG = DOWNSTREAM` follows the freshest
//! view reading it, `REFRESH_MODE = FULL` recomputes on schedule, SHOW CREATE and the
//! freshness table say which mode runs, and, with PostgreSQL as the oracle, every
//! dynamic table equals its defining query over its inputs as of its data timestamp
//! while writes go on. Also views whose rows change with time alone: temporal filters.

use std::collections::BTreeMap;
use std::time::Duration;

use eddy_tests::postgres::PostgresProcess;
use eddy_tests::subscription::{select, subscribe, Replay, State};
use eddy_tests::{row, rows, wait_for, EddyProcess, Rows};
use tokio_postgres::Client;

/// `name`'s row of `eddy_catalog.freshness`: refresh, refresh_mode, target_lag_ms.
async fn freshness(client: &Client, name: &str) -> anyhow::Result<Vec<Option<String>>> {
    let sql = format!("SELECT refresh, refresh_mode, target_lag_ms FROM eddy_catalog.freshness WHERE name = '{name}'");
    rows(client, &sql).await?.pop().ok_or_else(|| anyhow::anyhow!("{name} is not in eddy_catalog.freshness"))
}

/// The data timestamp (ms since the epoch) `name` shows, if it has refreshed.
async fn data_as_of(client: &Client, name: &str) -> anyhow::Result<Option<u64>> {
    let sql = format!(
        "SELECT (extract(epoch FROM data_as_of) * 1000)::bigint FROM eddy_catalog.freshness WHERE name = '{name}'"
    );
    Ok(rows(client, &sql).await?.pop().and_then(|r| r[0].as_ref().and_then(|t| t.parse().ok())))
}

async fn show_create(client: &Client, name: &str) -> anyhow::Result<String> {
    let shown = rows(client, &format!("SHOW CREATE DYNAMIC TABLE {name}")).await?;
    Ok(shown.first().and_then(|r| r[1].clone()).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn downstream_follows_the_freshest_reader() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE t (k int, v int);
             CREATE DYNAMIC TABLE up TARGET_LAG = DOWNSTREAM AS SELECT k, sum(v) AS s FROM t GROUP BY k;
             INSERT INTO t VALUES (1, 10), (2, 20);",
        )
        .await?;
    assert_eq!(freshness(&client, "up").await?, row(&["downstream", "INCREMENTAL", "NULL"]), "no reader yet");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rows(&client, "SELECT count(*) FROM up").await?, vec![row(&["0"])], "no reader: no refresh");
    assert!(show_create(&client, "up").await?.contains("TARGET_LAG = DOWNSTREAM"));

    client
        .batch_execute(
            "CREATE DYNAMIC TABLE slow_reader TARGET_LAG = '1 hour' AS SELECT sum(s) AS total FROM up;
             CREATE DYNAMIC TABLE fast_reader TARGET_LAG = '300ms' AS SELECT count(*) AS groups FROM up;",
        )
        .await?;
    assert_eq!(freshness(&client, "up").await?, row(&["downstream", "INCREMENTAL", "300"]), "the freshest reader");
    client.batch_execute("INSERT INTO t VALUES (3, 30)").await?;
    let got = wait_for(&client, "SELECT groups FROM fast_reader", &vec![row(&["3"])]).await?;
    assert_eq!(got, vec![row(&["3"])], "the reader refreshes through the downstream view");
    let got = wait_for(
        &client,
        "SELECT k, s FROM up ORDER BY k",
        &vec![row(&["1", "10"]), row(&["2", "20"]), row(&["3", "30"])],
    )
    .await?;
    assert_eq!(got.len(), 3, "{got:?}");

    client.batch_execute("DROP DYNAMIC TABLE fast_reader").await?;
    assert_eq!(freshness(&client, "up").await?, row(&["downstream", "INCREMENTAL", "3600000"]), "reader dropped");
    client
        .batch_execute("ALTER DYNAMIC TABLE slow_reader SET TARGET_LAG = '200ms'; INSERT INTO t VALUES (4, 40);")
        .await?;
    assert_eq!(freshness(&client, "up").await?, row(&["downstream", "INCREMENTAL", "200"]), "reader altered");
    let got = wait_for(&client, "SELECT total FROM slow_reader", &vec![row(&["100"])]).await?;
    assert_eq!(got, vec![row(&["100"])]);

    // A continuous reader makes it continuous.
    client
        .batch_execute("CREATE MATERIALIZED VIEW live AS SELECT max(s) AS m FROM up; INSERT INTO t VALUES (5, 50);")
        .await?;
    assert_eq!(freshness(&client, "up").await?, row(&["downstream", "INCREMENTAL", "NULL"]));
    assert_eq!(rows(&client, "SELECT m FROM live").await?, vec![row(&["50"])], "fresh at once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn full_refresh_mode_recomputes_on_schedule() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE f (k int, v numeric(8,2));
             INSERT INTO f VALUES (1, 1.50), (1, 2.25), (2, NULL);
             CREATE DYNAMIC TABLE full_dt TARGET_LAG = '200ms' REFRESH_MODE = FULL
               AS SELECT k, sum(v) AS s, count(*) AS n FROM f GROUP BY k;
             CREATE DYNAMIC TABLE auto_dt TARGET_LAG = '200ms' REFRESH_MODE = AUTO
               AS SELECT k, sum(v) AS s, count(*) AS n FROM f GROUP BY k;",
        )
        .await?;
    let query = "SELECT k, sum(v) AS s, count(*) AS n FROM f GROUP BY k ORDER BY k";
    let initial = rows(&client, query).await?;
    assert_eq!(rows(&client, "SELECT * FROM full_dt ORDER BY k").await?, initial, "INITIALIZE = ON_CREATE");
    assert_eq!(freshness(&client, "full_dt").await?, row(&["target lag", "FULL", "200"]));
    assert_eq!(freshness(&client, "auto_dt").await?, row(&["target lag", "INCREMENTAL", "200"]), "AUTO chose");
    let shown = show_create(&client, "full_dt").await?;
    assert!(
        shown.starts_with("CREATE DYNAMIC TABLE full_dt TARGET_LAG = '200 milliseconds' REFRESH_MODE = FULL"),
        "{shown}"
    );
    assert!(show_create(&client, "auto_dt").await?.contains("REFRESH_MODE = INCREMENTAL"), "AUTO resolved");
    let listed = rows(&client, "SHOW DYNAMIC TABLES").await?;
    let listed: Vec<_> = listed.iter().map(|r| r[..4].to_vec()).collect();
    assert_eq!(
        listed,
        vec![
            row(&["auto_dt", "200 milliseconds", "INCREMENTAL", "RUNNING"]),
            row(&["full_dt", "200 milliseconds", "FULL", "RUNNING"])
        ]
    );

    for write in [
        "INSERT INTO f VALUES (3, 9.99), (3, 0.01)",
        "UPDATE f SET v = v * 2 WHERE k = 1",
        "DELETE FROM f WHERE k = 2",
        "INSERT INTO f SELECT g % 4, g FROM generate_series(1, 40) g",
        "DELETE FROM f WHERE v > 10",
    ] {
        client.batch_execute(write).await?;
        let expected = rows(&client, query).await?;
        let got = wait_for(&client, "SELECT * FROM full_dt ORDER BY k", &expected).await?;
        assert_eq!(got, expected, "after {write}");
    }
    let history = rows(&client, "SELECT count(*) FROM eddy_catalog.refresh_history WHERE view = 'full_dt'").await?;
    let refreshes: i64 = history[0][0].as_deref().unwrap_or("0").parse()?;
    assert!(refreshes >= 5, "each refresh is recorded: {refreshes}");
    // With no write, due refreshes are skipped (as Snowflake does), yet the data is fresh.
    let count = "SELECT refreshes, lag_ms < 1000 FROM eddy_catalog.freshness WHERE name = 'full_dt'";
    let before = rows(&client, count).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = rows(&client, count).await?;
    assert_eq!(before[0][0], after[0][0], "nothing changed: no recomputation");
    assert_eq!(after[0][1].as_deref(), Some("t"), "and still as of now");

    // SUSPEND stops the recomputation, REFRESH runs one at once, RESUME restarts it.
    client.batch_execute("ALTER DYNAMIC TABLE full_dt SUSPEND; INSERT INTO f VALUES (7, 7)").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rows(&client, "SELECT * FROM full_dt WHERE k = 7").await?.is_empty(), "suspended");
    assert_eq!(freshness(&client, "full_dt").await?, row(&["suspended", "FULL", "NULL"]));
    client.batch_execute("ALTER DYNAMIC TABLE full_dt REFRESH").await?;
    assert_eq!(rows(&client, "SELECT n FROM full_dt WHERE k = 7").await?, vec![row(&["1"])], "REFRESH");
    client
        .batch_execute("ALTER DYNAMIC TABLE full_dt RESUME; ALTER DYNAMIC TABLE full_dt SET TARGET_LAG = '1 hour'")
        .await?;
    assert!(show_create(&client, "full_dt").await?.contains("TARGET_LAG = '1 hour'"));

    // An error in a recomputed row is the view's error, as the query's would be.
    client
        .batch_execute(
            "CREATE TABLE z (d int); INSERT INTO z VALUES (1);
             CREATE DYNAMIC TABLE ratio TARGET_LAG = '100ms' REFRESH_MODE = FULL AS SELECT 10 / d AS q FROM z;
             INSERT INTO z VALUES (0);",
        )
        .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        match client.simple_query("SELECT * FROM ratio").await {
            Err(e) => break e,
            Ok(_) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(_) => anyhow::bail!("the division by zero never surfaced"),
        }
    };
    assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err}");
    client.batch_execute("DELETE FROM z WHERE d = 0").await?;
    // Until the next refresh, reads still report the error.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        match rows(&client, "SELECT q FROM ratio").await {
            Ok(got) => break got,
            Err(_) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => return Err(e),
        }
    };
    assert_eq!(got, vec![row(&["10"])], "the error goes with the row");
    client.batch_execute("DROP TABLE f CASCADE").await?;
    assert!(rows(&client, "SELECT * FROM eddy_catalog.freshness WHERE name = 'full_dt'").await?.is_empty());
    Ok(())
}

/// A tiny deterministic generator (no dependency for a test's random writes).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The dynamic tables of the oracle test and the same query for PostgreSQL, over `o`.
const ORACLE_VIEWS: [(&str, &str, &str); 5] = [
    ("dt_inc", "TARGET_LAG = '300ms'", "SELECT g, count(*) AS n, sum(v) AS s FROM o GROUP BY g"),
    (
        "dt_full",
        "TARGET_LAG = '300ms' REFRESH_MODE = FULL",
        "SELECT a.g, count(*) AS pairs, max(b.v) AS top FROM o a JOIN o b ON a.g = b.g AND a.id < b.id GROUP BY a.g",
    ),
    ("dt_auto", "TARGET_LAG = '700ms' REFRESH_MODE = AUTO", "SELECT DISTINCT g, v IS NULL AS missing FROM o"),
    ("dt_down", "TARGET_LAG = DOWNSTREAM", "SELECT id, g, v FROM o WHERE v > 50"),
    ("dt_top", "TARGET_LAG = '500ms'", "SELECT g, count(*) AS n FROM dt_down GROUP BY g"),
];

/// PostgreSQL has no dynamic tables: `dt_down` is inlined where `dt_top` reads it.
fn postgres_query(query: &str) -> String {
    query.replace("FROM dt_down", "FROM (SELECT id, g, v FROM o WHERE v > 50) dt_down")
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_tables_equal_their_query_as_of_their_data_timestamp() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    let writer = server.connect().await?;
    let watcher = server.connect().await?;
    client.batch_execute("CREATE TABLE o (id int, g int, v int)").await?;
    for (name, options, query) in ORACLE_VIEWS {
        client.batch_execute(&format!("CREATE DYNAMIC TABLE {name} {options} AS {query}")).await?;
    }
    // The table's changes with their timestamps: the inputs as of any time.
    let mut base_stream = subscribe(&watcher, "o").await?;

    let seed: u64 = std::env::var("EDDY_ORACLE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let writes = tokio::spawn(async move {
        let mut rng = Lcg(seed);
        for i in 0..200u64 {
            let v = |rng: &mut Lcg| if rng.below(8) == 0 { "NULL".to_string() } else { rng.below(100).to_string() };
            let sql = match rng.below(4) {
                0 | 1 => format!("INSERT INTO o VALUES ({i}, {}, {})", rng.below(5), v(&mut rng)),
                2 => format!("UPDATE o SET v = {} WHERE id = {}", v(&mut rng), rng.below(i + 1)),
                _ => format!("DELETE FROM o WHERE id = {}", rng.below(i + 1)),
            };
            writer.batch_execute(&sql).await?;
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        anyhow::Ok(())
    });

    // Samples: a view's rows read between two reads of its data timestamp that agree.
    let mut samples: Vec<(&str, u64, State)> = Vec::new();
    while !writes.is_finished() {
        for (name, _, _) in ORACLE_VIEWS {
            let before = data_as_of(&client, name).await?;
            let contents = select(&client, &format!("SELECT * FROM {name}")).await?;
            if let (Some(t), true) = (before, before == data_as_of(&client, name).await?) {
                samples.push((name, t, contents));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writes.await??;
    let newest = samples.iter().map(|(_, t, _)| *t).max().unwrap_or(0);
    let mut base = Replay::new(true);
    base.read_until(&mut base_stream, |r| r.at_progress.last().is_some_and(|(t, _)| *t > newest)).await?;

    let pg = PostgresProcess::start()?;
    let oracle = pg.create_oracle_database("dynamic_tables").await?;
    oracle.batch_execute("CREATE TABLE o (id int, g int, v int)").await?;
    let mut checked: BTreeMap<&str, BTreeMap<u64, usize>> = BTreeMap::new();
    for (name, as_of, contents) in &samples {
        let values: Vec<String> = inputs_as_of(&base, *as_of)
            .into_iter()
            .map(|r| {
                format!(
                    "({})",
                    r.iter().map(|c| c.clone().unwrap_or_else(|| "NULL".into())).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        oracle.batch_execute("TRUNCATE o").await?;
        if !values.is_empty() {
            oracle.batch_execute(&format!("INSERT INTO o VALUES {}", values.join(", "))).await?;
        }
        let query =
            ORACLE_VIEWS.iter().find(|(n, _, _)| n == name).map(|(_, _, q)| postgres_query(q)).unwrap_or_default();
        let expected = select(&oracle, &query).await?;
        assert_eq!(contents, &expected, "{name} as of {as_of} differs from its query over the inputs then");
        *checked.entry(name).or_default().entry(*as_of).or_default() += 1;
    }
    let summary: Vec<String> = checked
        .iter()
        .map(|(n, t)| format!("{n}: {} samples at {} data times", t.values().sum::<usize>(), t.len()))
        .collect();
    eprintln!("checked against PostgreSQL: {}", summary.join("; "));
    for (name, _, _) in ORACLE_VIEWS {
        let data_times = checked.get(name).map_or(0, |t| t.len());
        assert!(data_times >= 3, "{name}: checked at {data_times} data timestamps");
    }
    Ok(())
}

/// Table `o`'s rows at `time`: every change at or before it, summed.
fn inputs_as_of(base: &Replay, time: u64) -> Vec<Vec<Option<String>>> {
    let mut rows: BTreeMap<&Vec<Option<String>>, i64> = BTreeMap::new();
    for (t, diff, row) in &base.changes {
        if *t <= time {
            *rows.entry(row).or_default() += diff;
        }
    }
    let mut out = Vec::new();
    for (row, count) in rows {
        out.extend(std::iter::repeat_n(row.clone(), count.max(0) as usize));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_slower_than_its_lag_is_counted_late() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    // Recomputing this takes a few hundred milliseconds here: more than the 100 ms lag.
    client
        .batch_execute(
            "CREATE TABLE big (x bigint); INSERT INTO big SELECT g FROM generate_series(1, 500000) g;
             CREATE DYNAMIC TABLE behind TARGET_LAG = '100ms' REFRESH_MODE = FULL
               AS SELECT count(DISTINCT x % 250000) AS d FROM big;",
        )
        .await?;
    let sql = "SELECT late_refreshes, lag_ms FROM eddy_catalog.freshness WHERE name = 'behind'";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (mut late, mut worst_lag) = (0, 0);
    // Keep the input changing: a FULL view whose inputs did not change skips its refresh
    // and stays fresh, so it would show no lag.
    while (late == 0 || worst_lag == 0) && std::time::Instant::now() < deadline {
        client.execute("INSERT INTO big VALUES (1)", &[]).await?;
        let r = client.query_one(sql, &[]).await?;
        late = r.get::<_, i64>(0);
        worst_lag = worst_lag.max(r.get::<_, i64>(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(late > 0, "late refreshes are counted");
    let history = "SELECT max(duration_ms) FROM eddy_catalog.refresh_history WHERE view = 'behind'";
    let longest: i64 = client.query_one(history, &[]).await?.get(0);
    assert!(longest > 100, "the history shows refreshes longer than the lag: {longest} ms");
    assert!(worst_lag > 0, "the lag is shown: {worst_lag} ms");
    Ok(())
}

/// A temporal filter (`WHERE ts > now() - interval '...'`) lets each row in from the
/// first time its conditions hold until the first time they stop: reads, views over the
/// view and subscriptions see rows leave (and future rows arrive) with no write, and a
/// restart recomputes the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn temporal_filters_let_rows_in_and_out_as_time_passes() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE events (id int, ts timestamptz, k text);
             CREATE MATERIALIZED VIEW recent AS SELECT id, k FROM events WHERE ts > now() - interval '3 seconds';
             CREATE MATERIALIZED VIEW recent_per_k AS SELECT k, count(*) AS n FROM recent GROUP BY k;
             CREATE MATERIALIZED VIEW half_hour AS SELECT id FROM events WHERE now() < ts + interval '30 minutes';
             CREATE MATERIALIZED VIEW arrived AS SELECT id FROM events WHERE now() >= ts AND id > 0;",
        )
        .await?;
    let subscriber = server.connect().await?;
    let mut subscription = subscribe(&subscriber, "recent").await?;
    let mut replay = Replay::new(true);
    client
        .batch_execute(
            "INSERT INTO events VALUES (1, now(), 'a'), (2, now() - interval '1 hour', 'a'),
             (3, now() + interval '2 seconds', 'b'), (4, NULL, 'c'), (-5, now(), 'd')",
        )
        .await?;
    let ids = |rows: Rows| rows.into_iter().map(|r| r[0].clone().unwrap_or_default()).collect::<Vec<_>>();
    assert_eq!(ids(rows(&client, "SELECT id FROM recent ORDER BY id").await?), ["-5", "1", "3"]);
    assert_eq!(ids(rows(&client, "SELECT id FROM arrived ORDER BY id").await?), ["1", "2"], "3 is in the future");
    replay.read_until(&mut subscription, |r| r.state.len() == 3).await?;

    // Row 1 leaves 3 s after it was written, row 3 (written 2 s ahead) 5 s after; row 3
    // arrives after 2 s. No write happens meanwhile.
    let leaving = vec![row(&["b", "1"])];
    let got = wait_for(&client, "SELECT k, n FROM recent_per_k ORDER BY k", &leaving).await?;
    assert_eq!(got, leaving, "rows 1 and -5 left the view over the view");
    assert_eq!(ids(rows(&client, "SELECT id FROM arrived ORDER BY id").await?), ["1", "2", "3"]);
    replay.read_until(&mut subscription, |r| r.state.len() == 1).await?;
    let retracted: Vec<_> =
        replay.changes.iter().filter(|(_, diff, _)| *diff < 0).map(|(_, _, r)| r[0].clone()).collect();
    assert_eq!(retracted.len(), 2, "each leaving row is retracted once: {:?}", replay.changes);

    server.restart()?;
    let client = server.connect().await?;
    let in_window = vec![row(&["-5"]), row(&["1"]), row(&["3"])];
    let after = wait_for(&client, "SELECT id FROM half_hour ORDER BY id", &in_window).await?;
    assert_eq!(after, in_window, "a restart recomputes the rows in the window");
    let gone = wait_for(&client, "SELECT count(*) FROM recent", &vec![row(&["0"])]).await?;
    assert_eq!(gone, vec![row(&["0"])], "rows leave after the restart too");

    // now() anywhere else in a maintained view is refused with a reason.
    for (sql, why) in [
        ("CREATE MATERIALIZED VIEW bad AS SELECT id, now() FROM events", "only be compared"),
        ("CREATE MATERIALIZED VIEW bad AS SELECT id FROM events WHERE ts > now() OR id = 1", "joined by AND"),
        ("CREATE MATERIALIZED VIEW bad AS SELECT id FROM events WHERE ts > now() - interval '1 month'", "months"),
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(message.contains(why), "{sql}: {message}");
    }
    Ok(())
}
