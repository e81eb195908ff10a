//! SUBSCRIBE through a real client: the stream replayed up to each progress timestamp
//! reproduces what SELECT showed between the writes, in order; SNAPSHOT = false starts
//! empty; a query can be subscribed to; a dropped view ends its subscriptions.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use eddy_tests::EddyProcess;
use futures::{Stream, StreamExt};
use tokio_postgres::{Client, SimpleQueryMessage};

/// The view as a multiset of text rows.
type State = BTreeMap<Vec<Option<String>>, i64>;

async fn select(client: &Client, sql: &str) -> anyhow::Result<State> {
    let mut state = State::new();
    for m in client.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(r) = m {
            *state.entry((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()).or_default() += 1;
        }
    }
    Ok(state)
}

/// Reads COPY text lines from `stream` until `until` is satisfied or 20 s pass.
struct Replay {
    state: State,
    /// The state at every progress timestamp, in order.
    at_progress: Vec<(u64, State)>,
    pending: String,
    progress: bool,
}

impl Replay {
    fn new(progress: bool) -> Self {
        Replay { state: State::new(), at_progress: vec![], pending: String::new(), progress }
    }

    fn apply(&mut self, chunk: &Bytes) {
        self.pending.push_str(&String::from_utf8_lossy(chunk));
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            let fields: Vec<Option<String>> = line
                .trim_end_matches('\n')
                .split('\t')
                .map(|f| if f == "\\N" { None } else { Some(f.to_string()) })
                .collect();
            let time: u64 = fields[0].as_deref().unwrap_or("0").parse().unwrap_or(0);
            let (progressed, rest) =
                if self.progress { (fields[1].as_deref() == Some("t"), &fields[2..]) } else { (false, &fields[1..]) };
            if progressed {
                self.at_progress.push((time, self.state.clone()));
                continue;
            }
            let diff: i64 = rest[0].as_deref().unwrap_or("0").parse().unwrap_or(0);
            let row = rest[1..].to_vec();
            let count = self.state.entry(row.clone()).or_default();
            *count += diff;
            if *count == 0 {
                self.state.remove(&row);
            }
        }
    }

    async fn read_until<S>(&mut self, stream: &mut S, done: impl Fn(&Replay) -> bool) -> anyhow::Result<()>
    where
        S: Stream<Item = Result<Bytes, tokio_postgres::Error>> + Unpin,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(self) {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(chunk)) => self.apply(&chunk?),
                Ok(None) => break,
                Err(_) => anyhow::bail!("subscription did not reach the expected state; at {:?}", self.state),
            }
        }
        Ok(())
    }
}

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
