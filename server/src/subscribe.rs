//! `SUBSCRIBE`: a view's changes streamed to the client as COPY text rows
//! `mz_timestamp, [mz_progressed,] mz_diff, columns...`.
//!
//! Every worker reports its share of the changes and its frontier; [`Merger`] releases
//! the changes at a time only once every worker has passed it, so the stream is
//! consistent: replaying it up to a progress timestamp gives the view as a SELECT at that
//! time sees it. A thread per subscription merges and hands batches to the connection
//! through a bounded channel; a client that falls further behind than that is
//! disconnected with an error, so it never slows others or grows memory without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::Receiver;
use eddy_compute::SubscribeEvent;
use eddy_repr::{strconv, ColumnType, Datum, Diff, GlobalId, RelationDesc, Row, ScalarType, Timestamp};
use futures::Stream;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;

use crate::cancel::CancelSignal;
use crate::coordinator::Coordinator;
use crate::error::AdapterError;

/// Batches of COPY rows buffered for a client before it counts as too slow.
const BUFFERED_BATCHES: usize = 1024;

/// A subscription the coordinator has started.
#[derive(Debug)]
pub struct Subscription {
    pub desc: RelationDesc,
    pub events: Receiver<SubscribeEvent>,
    pub as_of: Timestamp,
    pub snapshot: bool,
    pub progress: bool,
    pub workers: usize,
    /// The dataflow made for a query or plain view, dropped when the subscription ends.
    pub transient: Option<GlobalId>,
}

impl Subscription {
    /// The columns the client sees.
    pub fn columns(&self) -> Vec<(String, ColumnType)> {
        let mut columns = vec![("mz_timestamp".to_string(), ColumnType::new(ScalarType::Int64, false))];
        if self.progress {
            columns.push(("mz_progressed".into(), ColumnType::new(ScalarType::Bool, false)));
        }
        columns.push(("mz_diff".into(), ColumnType::new(ScalarType::Int64, true)));
        columns.extend(self.desc.columns().iter().cloned());
        columns
    }
}

/// Orders the workers' reports into consistent output.
pub struct Merger {
    frontiers: Vec<Option<Timestamp>>,
    pending: Vec<(Row, Timestamp, Diff)>,
    as_of: Timestamp,
    snapshot: bool,
    /// Everything before this has been released.
    released: Timestamp,
}

/// What the merger releases: changes at a time, or "complete up to".
#[derive(Debug, PartialEq)]
pub enum Output {
    Change { time: Timestamp, row: Row, diff: Diff },
    Progress(Timestamp),
}

impl Merger {
    pub fn new(workers: usize, as_of: Timestamp, snapshot: bool) -> Self {
        Merger { frontiers: vec![Some(0); workers], pending: Vec::new(), as_of, snapshot, released: as_of }
    }

    /// Takes one worker event; returns what became complete, or `None` once every
    /// worker is done (the collection was dropped).
    pub fn push(&mut self, event: SubscribeEvent) -> Result<Option<Vec<Output>>, AdapterError> {
        match event {
            SubscribeEvent::Updates(updates) => {
                self.pending.extend(updates);
                Ok(Some(vec![]))
            }
            SubscribeEvent::Error(e) => Err(AdapterError::Eval(e)),
            SubscribeEvent::Frontier { worker, frontier } => {
                if let Some(f) = self.frontiers.get_mut(worker) {
                    *f = frontier;
                }
                if self.frontiers.iter().all(Option::is_none) {
                    return Ok(None);
                }
                let complete = self.frontiers.iter().filter_map(|f| *f).min().unwrap_or(Timestamp::MAX);
                Ok(Some(self.release(complete)))
            }
        }
    }

    /// Releases every change before `complete` (all workers are past it).
    fn release(&mut self, complete: Timestamp) -> Vec<Output> {
        // `released` starts at as_of: the snapshot (changes at or before as_of, shown at
        // as_of) waits for as_of to be complete.
        if complete <= self.released {
            return vec![];
        }
        let mut ready = Vec::new();
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].1 < complete {
                let (row, time, diff) = self.pending.swap_remove(i);
                let time = time.max(self.as_of);
                if time > self.as_of || self.snapshot {
                    ready.push((time, row, diff));
                }
            } else {
                i += 1;
            }
        }
        ready.sort();
        let mut out: Vec<Output> = Vec::with_capacity(ready.len() + 1);
        for (time, row, diff) in ready {
            match out.last_mut() {
                Some(Output::Change { time: t, row: r, diff: d }) if *t == time && *r == row => *d += diff,
                _ => out.push(Output::Change { time, row, diff }),
            }
        }
        out.retain(|o| !matches!(o, Output::Change { diff: 0, .. }));
        // Progress: everything before `complete` is out; the next change is at or after it.
        self.released = complete;
        out.push(Output::Progress(complete));
        out
    }
}

/// The COPY text line of one output (`\N` for NULL, PostgreSQL's escapes).
fn line(output: &Output, desc: &RelationDesc, progress: bool, out: &mut String) {
    let mut fields: Vec<Option<String>> = Vec::new();
    match output {
        Output::Change { time, row, diff } => {
            fields.push(Some(time.to_string()));
            if progress {
                fields.push(Some("f".into()));
            }
            fields.push(Some(diff.to_string()));
            for (datum, (_, ty)) in row.iter().zip(desc.columns()) {
                fields.push(strconv::datum_to_text(datum, &ty.scalar_type));
            }
        }
        Output::Progress(time) => {
            fields.push(Some(time.to_string()));
            fields.push(Some("t".into()));
            fields.push(None);
            fields.extend(desc.columns().iter().map(|_| None));
        }
    }
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            Some(text) => {
                for c in text.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        c => out.push(c),
                    }
                }
            }
        }
    }
    out.push('\n');
}

/// Streams `sub` as COPY data. The merging runs on a thread of its own; when the client
/// goes (the stream is dropped) or the subscription ends, the thread stops and a transient
/// dataflow is dropped.
pub fn stream(sub: Subscription, coord: Arc<Mutex<Coordinator>>) -> impl Stream<Item = PgWireResult<CopyData>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<PgWireResult<CopyData>>(BUFFERED_BATCHES);
    let too_slow = Arc::new(AtomicBool::new(false));
    let flag = too_slow.clone();
    let spawned = std::thread::Builder::new().name("subscribe".into()).spawn(move || {
        let mut merger = Merger::new(sub.workers, sub.as_of, sub.snapshot);
        while let Ok(event) = sub.events.recv() {
            let outputs = match merger.push(event) {
                Ok(Some(outputs)) => outputs,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.try_send(Err(crate::protocol::user_error(e)));
                    break;
                }
            };
            let mut text = String::new();
            for o in outputs.iter().filter(|o| sub.progress || matches!(o, Output::Change { .. })) {
                line(o, &sub.desc, sub.progress, &mut text);
            }
            if text.is_empty() {
                continue;
            }
            match tx.try_send(Ok(CopyData::new(Bytes::from(text)))) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    flag.store(true, Ordering::Relaxed);
                    break;
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
        if let Some(id) = sub.transient {
            if let Ok(mut c) = coord.lock() {
                c.drop_transient(id);
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start a subscription thread: {e}");
    }
    futures::stream::poll_fn(move |cx| match rx.poll_recv(cx) {
        std::task::Poll::Ready(None) if too_slow.swap(false, Ordering::Relaxed) => {
            std::task::Poll::Ready(Some(Err(PgWireError::UserError(Box::new(pgwire::error::ErrorInfo::new(
                "ERROR".into(),
                "53400".into(),
                format!(
                    "subscriber too slow: more than {BUFFERED_BATCHES} batches of changes waiting to be read; \
                     disconnecting this subscription"
                ),
            ))))))
        }
        other => other,
    })
}

/// A cursor (`DECLARE c CURSOR FOR ...`), read with `FETCH`, living until `CLOSE` or the
/// end of the session.
pub enum Cursor {
    Subscription(SubscriptionCursor),
    /// `DECLARE c CURSOR FOR SELECT ...`: the query's rows as of DECLARE.
    Rows {
        desc: RelationDesc,
        rows: VecDeque<Row>,
    },
}

impl Cursor {
    /// Must not be dropped while the coordinator is locked (a subscription's guard locks it).
    pub fn subscription(sub: Subscription, coord: &Arc<Mutex<Coordinator>>) -> Cursor {
        Cursor::Subscription(SubscriptionCursor::new(sub, coord))
    }

    pub fn desc(&self) -> RelationDesc {
        match self {
            Cursor::Subscription(c) => c.desc(),
            Cursor::Rows { desc, .. } => desc.clone(),
        }
    }

    /// Up to `count` rows (all with `None`); a subscription waits for at least one until
    /// `timeout` (see [`SubscriptionCursor::fetch`]).
    pub fn fetch(
        &mut self,
        count: Option<u64>,
        timeout: Option<Duration>,
        cancel: &CancelSignal,
    ) -> Result<Vec<Row>, AdapterError> {
        match self {
            Cursor::Subscription(c) => c.fetch(count, timeout, cancel),
            Cursor::Rows { rows, .. } => Ok(take_up_to(rows, count).collect()),
        }
    }
}

/// `DECLARE c CURSOR FOR SUBSCRIBE ...`: a subscription read with `FETCH` instead of a
/// COPY stream.
pub struct SubscriptionCursor {
    sub: Subscription,
    merger: Merger,
    buffered: VecDeque<Output>,
    done: bool,
    _transient: Option<TransientGuard>,
}

/// Drops a subscription's own dataflow when the cursor goes.
struct TransientGuard {
    id: GlobalId,
    coord: Weak<Mutex<Coordinator>>,
}

impl Drop for TransientGuard {
    fn drop(&mut self) {
        if let Some(coord) = self.coord.upgrade() {
            if let Ok(mut c) = coord.lock() {
                c.drop_transient(self.id);
            }
        }
    }
}

impl SubscriptionCursor {
    /// Must not be dropped while the coordinator is locked (its guard locks it).
    pub fn new(mut sub: Subscription, coord: &Arc<Mutex<Coordinator>>) -> SubscriptionCursor {
        let guard = sub.transient.take().map(|id| TransientGuard { id, coord: Arc::downgrade(coord) });
        let merger = Merger::new(sub.workers, sub.as_of, sub.snapshot);
        SubscriptionCursor { sub, merger, buffered: VecDeque::new(), done: false, _transient: guard }
    }

    pub fn desc(&self) -> RelationDesc {
        RelationDesc::new(self.sub.columns())
    }

    fn take(&mut self, event: SubscribeEvent) -> Result<(), AdapterError> {
        match self.merger.push(event)? {
            Some(outputs) => {
                let progress = self.sub.progress;
                self.buffered.extend(outputs.into_iter().filter(|o| progress || matches!(o, Output::Change { .. })));
            }
            None => self.done = true,
        }
        Ok(())
    }

    /// Up to `count` rows (all available with `None`): waits for at least one until
    /// `timeout` (forever without one), then returns what has arrived.
    pub fn fetch(
        &mut self,
        count: Option<u64>,
        timeout: Option<Duration>,
        cancel: &CancelSignal,
    ) -> Result<Vec<Row>, AdapterError> {
        // Waits in short slices, so that a cancel request ends a FETCH with no timeout.
        const SLICE: Duration = Duration::from_millis(50);
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            while let Ok(event) = self.sub.events.try_recv() {
                self.take(event)?;
            }
            if !self.buffered.is_empty() || self.done {
                break;
            }
            let wait = deadline.map_or(SLICE, |d| d.saturating_duration_since(Instant::now()).min(SLICE));
            let event = match self.sub.events.recv_timeout(wait) {
                Ok(e) => e,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if cancel.is_requested() {
                        return Err(AdapterError::Eval(eddy_expr::EvalError::Canceled));
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    break;
                }
            };
            self.take(event)?;
        }
        let (desc, progress) = (&self.sub.desc, self.sub.progress);
        Ok(take_up_to(&mut self.buffered, count).map(|o| to_row(&o, desc, progress)).collect())
    }
}

/// The first `count` items of `queue` (all with `None`), removed from it.
fn take_up_to<T>(queue: &mut VecDeque<T>, count: Option<u64>) -> std::collections::vec_deque::Drain<'_, T> {
    let n = count.map_or(queue.len(), |c| (c as usize).min(queue.len()));
    queue.drain(..n)
}

/// One output as a row of the subscription's columns.
fn to_row(output: &Output, desc: &RelationDesc, progress: bool) -> Row {
    let mut datums = Vec::with_capacity(desc.arity() + 3);
    match output {
        Output::Change { time, row, diff } => {
            datums.push(Datum::Int64(*time as i64));
            if progress {
                datums.push(Datum::Bool(false));
            }
            datums.push(Datum::Int64(*diff));
            datums.extend(row.iter().cloned());
        }
        Output::Progress(time) => {
            datums.push(Datum::Int64(*time as i64));
            datums.push(Datum::Bool(true));
            datums.push(Datum::Null);
            datums.extend(desc.columns().iter().map(|_| Datum::Null));
        }
    }
    Row::new(datums)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64) -> Row {
        Row::new(vec![Datum::Int64(i)])
    }

    #[test]
    fn releases_a_time_only_when_every_worker_passed_it() {
        let mut m = Merger::new(2, 10, true);
        m.push(SubscribeEvent::Updates(vec![(row(1), 5, 1), (row(2), 12, 1)])).expect("ok");
        m.push(SubscribeEvent::Updates(vec![(row(3), 12, 1), (row(2), 12, -1)])).expect("ok");
        let out = m.push(SubscribeEvent::Frontier { worker: 0, frontier: Some(13) }).expect("ok");
        assert_eq!(out, Some(vec![]), "worker 1 is still at 0");
        let out = m.push(SubscribeEvent::Frontier { worker: 1, frontier: Some(11) }).expect("ok").expect("more");
        assert_eq!(out, vec![Output::Change { time: 10, row: row(1), diff: 1 }, Output::Progress(11)]);
        let out = m.push(SubscribeEvent::Frontier { worker: 1, frontier: Some(20) }).expect("ok").expect("more");
        // row 2 came and went at 12: consolidated away.
        assert_eq!(out, vec![Output::Change { time: 12, row: row(3), diff: 1 }, Output::Progress(13)]);
        assert_eq!(
            m.push(SubscribeEvent::Frontier { worker: 0, frontier: None }).expect("ok").map(|o| o.len()),
            Some(1)
        );
        assert_eq!(m.push(SubscribeEvent::Frontier { worker: 1, frontier: None }).expect("ok"), None);
    }

    #[test]
    fn without_snapshot_only_later_changes() {
        let mut m = Merger::new(1, 10, false);
        m.push(SubscribeEvent::Updates(vec![(row(1), 3, 1), (row(2), 11, 1)])).expect("ok");
        let out = m.push(SubscribeEvent::Frontier { worker: 0, frontier: Some(12) }).expect("ok").expect("more");
        assert_eq!(out, vec![Output::Change { time: 11, row: row(2), diff: 1 }, Output::Progress(12)]);
    }

    #[test]
    fn copy_text_escapes_and_nulls() {
        let desc = RelationDesc::new(vec![
            ("s".into(), ColumnType::new(ScalarType::Text, true)),
            ("n".into(), ColumnType::new(ScalarType::Int64, true)),
        ]);
        let mut out = String::new();
        let change =
            Output::Change { time: 7, row: Row::new(vec![Datum::Text("a\tb\\".into()), Datum::Null]), diff: -1 };
        line(&change, &desc, true, &mut out);
        line(&Output::Progress(8), &desc, true, &mut out);
        assert_eq!(out, "7\tf\t-1\ta\\tb\\\\\t\\N\n8\tt\t\\N\t\\N\t\\N\n");
    }
}
