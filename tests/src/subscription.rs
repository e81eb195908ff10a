//! Reading a subscription (`COPY (SUBSCRIBE ...) TO STDOUT`) the way a client would:
//! its change lines replayed into the view's contents, with the state at every progress
//! timestamp.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio_postgres::{Client, SimpleQueryMessage};

/// The view as a multiset of text rows.
pub type State = BTreeMap<Vec<Option<String>>, i64>;

/// Runs `sql` and returns its rows as a multiset.
pub async fn select(client: &Client, sql: &str) -> anyhow::Result<State> {
    let mut state = State::new();
    for m in client.simple_query(sql).await? {
        if let SimpleQueryMessage::Row(r) = m {
            *state.entry((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()).or_default() += 1;
        }
    }
    Ok(state)
}

/// A subscription's COPY text lines replayed.
pub struct Replay {
    pub state: State,
    /// The state at every progress timestamp, in order.
    pub at_progress: Vec<(u64, State)>,
    /// The timestamp of every change line, in order.
    pub change_times: Vec<u64>,
    /// Every change line: its time, diff and row.
    pub changes: Vec<(u64, i64, Vec<Option<String>>)>,
    pending: String,
    progress: bool,
}

impl Replay {
    pub fn new(progress: bool) -> Self {
        Replay {
            state: State::new(),
            at_progress: vec![],
            change_times: vec![],
            changes: vec![],
            pending: String::new(),
            progress,
        }
    }

    pub fn apply(&mut self, chunk: &Bytes) {
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
            self.change_times.push(time);
            let diff: i64 = rest[0].as_deref().unwrap_or("0").parse().unwrap_or(0);
            let row = rest[1..].to_vec();
            self.changes.push((time, diff, row.clone()));
            let count = self.state.entry(row.clone()).or_default();
            *count += diff;
            if *count == 0 {
                self.state.remove(&row);
            }
        }
    }

    /// Reads whatever arrives within `window`.
    pub async fn read_for<S>(&mut self, stream: &mut S, window: Duration) -> anyhow::Result<()>
    where
        S: Stream<Item = Result<Bytes, tokio_postgres::Error>> + Unpin,
    {
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, stream.next()).await {
            self.apply(&chunk?);
        }
        Ok(())
    }

    /// Reads until `done` holds, failing after 20 s.
    pub async fn read_until<S>(&mut self, stream: &mut S, done: impl Fn(&Replay) -> bool) -> anyhow::Result<()>
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

/// Subscribes to `view` with progress and returns the stream.
pub async fn subscribe(
    client: &Client,
    view: &str,
) -> anyhow::Result<std::pin::Pin<Box<tokio_postgres::CopyOutStream>>> {
    Ok(Box::pin(client.copy_out(&format!("COPY (SUBSCRIBE TO {view} WITH (PROGRESS)) TO STDOUT")).await?))
}
