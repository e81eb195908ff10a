//! Eddy's compute layer: runs `RelationExpr` plans as timely/differential dataflows.
//!
//! [`Compute`] starts `--workers` timely worker threads. The coordinator sends every
//! worker the same [`Command`]s in the same order: create a table input, install a view's
//! dataflow, apply table updates at a timestamp, advance time, drop, and peek a
//! collection at a time. Each table and each materialized view is an arrangement (an
//! indexed, incrementally maintained multiset of rows) that later views import and share.
//! [`render`] turns plans into operators; errors raised while computing a row flow in a
//! parallel error collection, so a bad row poisons reads of that view only.
//!
//! This crate knows nothing of SQL text, sessions, sources or storage; it receives
//! updates `(Row, Timestamp, Diff)` and answers peeks. Inside, rows are packed
//! ([`eddy_repr::PackedRow`]): that is what dataflows move and arrangements hold.

mod accumulate;
mod packed_column;
pub mod render;
mod worker;

use std::collections::BTreeMap;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use eddy_expr::{EvalError, KeyRange, Pipeline, RelationExpr};
use eddy_repr::{Diff, GlobalId, PackedRow, Row, Timestamp};

/// An instruction to every worker.
#[derive(Clone, Debug)]
pub enum Command {
    /// Creates an empty input collection for a table.
    CreateTable {
        id: GlobalId,
    },
    /// Installs a dataflow maintaining `expr` as collection `id`; with `refresh`, its
    /// inputs' changes are held back to the next refresh time (target lag).
    CreateView {
        id: GlobalId,
        expr: RelationExpr,
        refresh: Option<Refresh>,
    },
    /// Forgets a table or view (its dependents must be dropped first).
    Drop {
        id: GlobalId,
    },
    /// Applies changes to a table at `time`. Each worker is sent its own share to feed in;
    /// arrangements then route every row to the worker that owns it.
    Update {
        id: GlobalId,
        updates: Vec<(PackedRow, Diff)>,
        time: Timestamp,
    },
    /// Promises no more updates before `time` to any table.
    AdvanceTime {
        time: Timestamp,
    },
    /// Streams every change of collection `collection` to `sender`: its whole contents
    /// first (as updates at the times they happened, compacted), then each change, with
    /// this worker's frontier after every step. Ends when `sender`'s receiver is dropped.
    Subscribe {
        subscription: u64,
        collection: GlobalId,
        sender: Sender<SubscribeEvent>,
    },
    /// Reads collection `id` as of `time`, once every worker's copy is complete there:
    /// the rows in `ranges` (sorted by start, disjoint) that come out of `pipeline`.
    Peek {
        id: GlobalId,
        time: Timestamp,
        pipeline: Pipeline,
        ranges: Vec<KeyRange>,
        reply: Sender<PeekResponse>,
    },
    /// Replies with the size of each collection's arrangement on this worker.
    Sizes {
        reply: Sender<Vec<(GlobalId, ArrangementSize)>>,
    },
    Shutdown,
}

/// What an arrangement holds in memory: its updates (rows at their distinct times, not
/// yet consolidated) and their bytes (each packed row once per batch it is in, with its
/// heap bytes if it is too wide to be inline, plus a time and a count per update;
/// allocator overhead not included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArrangementSize {
    pub updates: usize,
    pub bytes: usize,
}

/// A view's refresh schedule: it changes only at multiples of `every` (milliseconds
/// since the epoch), so the changes between two refreshes are consolidated into one.
/// Changes up to `initial` (the creation time, for INITIALIZE = ON_CREATE) show at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refresh {
    pub every: Timestamp,
    pub initial: Option<Timestamp>,
}

impl Refresh {
    /// The time a change made at `time` becomes visible: monotonic and never earlier.
    pub fn visible_at(&self, time: Timestamp) -> Timestamp {
        match self.initial {
            Some(initial) if time <= initial => initial,
            _ => time.div_ceil(self.every.max(1)).saturating_mul(self.every.max(1)),
        }
    }

    /// The time up to which a read at `read` sees the view's inputs: its last refresh.
    pub fn shown_as_of(&self, read: Timestamp) -> Timestamp {
        let refreshed = read / self.every.max(1) * self.every.max(1);
        self.initial.map_or(refreshed, |i| refreshed.max(i))
    }
}

/// What a subscription hears from each worker.
#[derive(Clone, Debug)]
pub enum SubscribeEvent {
    /// Some of the worker's changes (any times not yet covered by its frontier).
    Updates(Vec<(Row, Timestamp, Diff)>),
    /// The collection's rows raised this error.
    Error(EvalError),
    /// The worker will report no more changes at times before `frontier` (`None`: none
    /// at all, the collection is gone).
    Frontier { worker: usize, frontier: Option<Timestamp> },
}

/// One worker's share of a peek: its rows, or the first error of the view.
pub type PeekResponse = Result<Vec<(Row, Diff)>, PeekError>;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PeekError {
    /// The view's rows raised this error (as PostgreSQL would when running its query).
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("collection {0} does not exist in compute")]
    UnknownCollection(GlobalId),
}

/// Waits for every one of `workers` answers to a [`Compute::peek_later`] and joins them:
/// the rows, or the first error.
pub fn collect_peek(rx: &Receiver<PeekResponse>, workers: usize) -> Result<Vec<(Row, Diff)>, PeekError> {
    collect_peek_unless(rx, workers, &|| false)
}

/// [`collect_peek`], giving up with [`EvalError::Canceled`] once `cancelled` says so (the
/// workers' answers then go nowhere).
pub fn collect_peek_unless(
    rx: &Receiver<PeekResponse>,
    workers: usize,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<(Row, Diff)>, PeekError> {
    let mut rows = Vec::new();
    let mut first_error = None;
    let mut answered = 0;
    while answered < workers {
        match rx.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(Ok(part)) => rows.extend(part),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if cancelled() {
                    return Err(PeekError::Eval(EvalError::Canceled));
                }
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(PeekError::Eval(EvalError::Internal("compute worker exited during a peek".into())))
            }
        }
        answered += 1;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

/// Updates in the form [`Compute::update`] takes. Packing a row costs less than cloning
/// it, so a writer that must keep its rows (to make them durable) packs a copy.
pub fn pack_updates(updates: &[(Row, Diff)]) -> Vec<(PackedRow, Diff)> {
    updates.iter().map(|(row, diff)| (PackedRow::pack(row), *diff)).collect()
}

/// Handle to the running workers.
pub struct Compute {
    senders: Vec<Sender<Command>>,
    /// The worker threads, woken after each command: an idle worker parks for up to a
    /// millisecond and would otherwise notice a command only then.
    threads: Vec<std::thread::Thread>,
    guards: Option<JoinHandle<()>>,
    next_subscription: u64,
}

/// Updates' worth of merge work an idle arrangement does per scheduling. Chosen with
/// eddy-bench (2 cores, 2M rows) while idle arrangements still merged down to one batch
/// (differential's own logic, replaced by [`exert_while_merging`]); not re-tuned since:
/// 1000 (Materialize's default) and 10000 kept the workers busy enough to double the p50
/// of a 1k-row INSERT; none left the occasional large merge inline (p99 400 ms); 100 gave
/// p50 14 ms, p99 90 ms.
const IDLE_MERGE_EFFORT: usize = 100;

/// When an idle arrangement works on its merges: only while one is in progress.
///
/// Differential's own idle logic (`Config::idle_merge_effort`) merges until the whole trace
/// is one batch, so every small write was followed by a merge of all of a table's or view's
/// rows: work proportional to the data, not to the change (a 1k-row INSERT into a 2M-row
/// table cost each worker ~12 ms of merging). Finishing only the merges already started
/// keeps the amortized cost logarithmic and still frees a half-merged pair's memory soon.
fn exert_while_merging(layers: &[(usize, usize, usize)]) -> Option<usize> {
    layers.iter().any(|&(_level, batches, _len)| batches > 1).then_some(IDLE_MERGE_EFFORT)
}

impl Compute {
    /// Starts `workers` timely worker threads in this process. Each calls `housekeeping`
    /// about once a second on its own thread (the server returns the thread's freed
    /// memory to the OS there; compute does not know the allocator).
    pub fn start(workers: usize, housekeeping: fn()) -> Result<Compute, String> {
        let workers = workers.max(1);
        let (senders, receivers): (Vec<Sender<Command>>, Vec<Receiver<Command>>) =
            (0..workers).map(|_| crossbeam_channel::unbounded()).unzip();
        let receivers = std::sync::Mutex::new(receivers.into_iter().map(Some).collect::<Vec<_>>());
        let receivers = std::sync::Arc::new(receivers);
        let mut config = timely::Config::process(workers);
        // Arrangements finish their merges while the worker is otherwise idle, instead of
        // only when new updates arrive: a half-done merge holds both inputs and the partial
        // output in memory, and reads walk more batches.
        let exert: differential_dataflow::trace::ExertionLogic = std::sync::Arc::new(exert_while_merging);
        config.worker.set("differential/default_exert_logic".to_string(), exert);
        let (thread_tx, thread_rx) = std::sync::mpsc::channel();
        let guards = timely::execute(config, move |worker| {
            let rx = receivers.lock().ok().and_then(|mut r| r[worker.index()].take());
            let _ = thread_tx.send((worker.index(), std::thread::current()));
            if let Some(rx) = rx {
                worker::run(worker, rx, housekeeping);
            }
        })?;
        let mut threads: Vec<(usize, std::thread::Thread)> = thread_rx.iter().take(workers).collect();
        if threads.len() < workers {
            return Err("a compute worker exited while starting".to_string());
        }
        threads.sort_by_key(|(index, _)| *index);
        let handle = std::thread::spawn(move || {
            drop(guards.join());
        });
        Ok(Compute {
            senders,
            threads: threads.into_iter().map(|(_, t)| t).collect(),
            guards: Some(handle),
            next_subscription: 1,
        })
    }

    pub fn workers(&self) -> usize {
        self.senders.len()
    }

    /// Sends `command` to every worker.
    pub fn send(&self, command: Command) {
        for (s, thread) in self.senders.iter().zip(&self.threads) {
            // A worker that has exited only does so at shutdown; nothing to tell it then.
            let _ = s.send(command.clone());
            thread.unpark();
        }
    }

    /// Applies `updates` to table `id` at `time`, spreading them over the workers so that
    /// every worker shares the work of feeding them in (none is cloned).
    pub fn update(&self, id: GlobalId, mut updates: Vec<(PackedRow, Diff)>, time: Timestamp) {
        let share = updates.len().div_ceil(self.workers());
        for (sender, thread) in self.senders.iter().zip(&self.threads).rev() {
            let mine = updates.split_off(updates.len().saturating_sub(share));
            if !mine.is_empty() {
                let _ = sender.send(Command::Update { id, updates: mine, time });
                thread.unpark();
            }
        }
    }

    /// Starts streaming collection `collection`'s changes; every worker reports on the
    /// returned channel. Dropping the receiver ends the subscription.
    pub fn subscribe(&mut self, collection: GlobalId) -> Receiver<SubscribeEvent> {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let subscription = self.next_subscription;
        self.next_subscription += 1;
        self.send(Command::Subscribe { subscription, collection, sender });
        receiver
    }

    /// Reads the rows of collection `id` at `time` that lie in `ranges` (sorted by start,
    /// disjoint) and come out of `pipeline`, blocking until all workers answer. Rows are
    /// not consolidated across workers when the pipeline projects.
    pub fn peek(
        &self,
        id: GlobalId,
        time: Timestamp,
        pipeline: Pipeline,
        ranges: Vec<KeyRange>,
    ) -> Result<Vec<(Row, Diff)>, PeekError> {
        collect_peek(&self.peek_later(id, time, pipeline, ranges), self.workers())
    }

    /// [`Compute::peek`] that gives up once `cancelled` says so.
    pub fn peek_unless(
        &self,
        id: GlobalId,
        time: Timestamp,
        pipeline: Pipeline,
        ranges: Vec<KeyRange>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<(Row, Diff)>, PeekError> {
        collect_peek_unless(&self.peek_later(id, time, pipeline, ranges), self.workers(), cancelled)
    }

    /// Like [`Compute::peek`], but returns at once: each worker answers on the returned
    /// channel once its part of `id` is complete at `time` (empty `ranges`: answers with
    /// no rows, which tells when a collection has caught up to `time`).
    pub fn peek_later(
        &self,
        id: GlobalId,
        time: Timestamp,
        pipeline: Pipeline,
        ranges: Vec<KeyRange>,
    ) -> Receiver<PeekResponse> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.send(Command::Peek { id, time, pipeline, ranges, reply: tx });
        rx
    }

    /// The updates each collection's arrangement holds, over all workers.
    pub fn arrangement_sizes(&self) -> BTreeMap<GlobalId, ArrangementSize> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.send(Command::Sizes { reply: tx });
        let mut sizes = BTreeMap::new();
        for _ in 0..self.workers() {
            let Ok(part) = rx.recv() else { break };
            for (id, size) in part {
                let total: &mut ArrangementSize = sizes.entry(id).or_default();
                total.updates += size.updates;
                total.bytes += size.bytes;
            }
        }
        sizes
    }

    pub fn shutdown(&mut self) {
        self.send(Command::Shutdown);
        if let Some(h) = self.guards.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Compute {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::Refresh;

    #[test]
    fn changes_wait_for_the_next_refresh_except_the_initial_contents() {
        let r = Refresh { every: 1000, initial: Some(5500) };
        assert_eq!(r.visible_at(10), 5500);
        assert_eq!(r.visible_at(5500), 5500);
        assert_eq!(r.visible_at(5501), 6000);
        assert_eq!(r.visible_at(6000), 6000);
        assert_eq!(Refresh { every: 1000, initial: None }.visible_at(10), 1000);
        assert_eq!(r.shown_as_of(5700), 5500);
        assert_eq!(r.shown_as_of(6100), 6000);
    }
}

#[cfg(test)]
mod exert_tests {
    use super::{exert_while_merging, IDLE_MERGE_EFFORT};

    #[test]
    fn idle_merging_finishes_merges_but_does_not_collapse_the_trace() {
        // (level, batches at that level, updates): several settled batches, none merging.
        let settled = [(20, 1, 1_000_000), (10, 1, 1_000), (9, 1, 500)];
        assert_eq!(exert_while_merging(&settled), None);
        let merging = [(20, 1, 1_000_000), (10, 2, 2_000)];
        assert_eq!(exert_while_merging(&merging), Some(IDLE_MERGE_EFFORT));
        assert_eq!(exert_while_merging(&[]), None);
    }
}
