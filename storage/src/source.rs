//! Running sources: each is a thread that produces [`SourceBatch`]es for the server to
//! timestamp and apply, and shares a [`SourceStatus`] for system tables and metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use eddy_repr::source::SourceSpec;
use eddy_repr::{Diff, RelationDesc, Row};

use tracing::warn;

use crate::{generator, kafka, StorageError};

/// What a source hands on at the end of a tick.
#[derive(Debug, Default)]
pub struct SourceBatch {
    /// Changes for each of the source's outputs, in [`outputs`] order.
    pub updates: Vec<Vec<(Row, Diff)>>,
    /// Messages that could not be applied.
    pub errors: Vec<SourceErrorRecord>,
    /// Kafka: the next offset per partition once this batch is applied. Persisted in the
    /// same atomic write as `updates`: that is what makes ingestion exactly-once.
    pub offsets: Vec<(i32, i64)>,
    /// UPSERT / keyed Debezium: per-key state changes, persisted with `updates`.
    pub upsert: Vec<(Vec<u8>, crate::envelope::KeyState)>,
}

impl SourceBatch {
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.offsets.is_empty() && self.updates.iter().all(Vec::is_empty)
    }
}

/// One message that did not decode or apply: a row of `eddy_catalog.source_errors`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceErrorRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
    /// The message's value (or key when there is no value), at most [`RAW_LIMIT`] bytes.
    pub raw: Vec<u8>,
    pub at: DateTime<Utc>,
}

/// How much of a bad message `source_errors.raw` keeps.
pub const RAW_LIMIT: usize = 1024;

/// Where a source stands, shared with the server.
#[derive(Clone, Debug, Default)]
pub struct SourceStatus {
    pub state: SourceState,
    pub messages_read: u64,
    pub bytes_read: u64,
    pub decode_errors: u64,
    /// Kafka: per partition, the next offset to read and the broker's high watermark.
    pub partitions: Vec<PartitionProgress>,
    /// Milliseconds spent handing batches on (waiting on the server and compute).
    pub backpressure_ms: u64,
    /// How long the last batch took to apply.
    pub last_batch_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SourceState {
    #[default]
    Starting,
    Running,
    /// Cannot make progress for the reason given (broker unreachable, topic deleted, ...);
    /// the source keeps retrying.
    Stalled(String),
    /// Finished producing (a load generator's `UP TO` reached).
    Finished,
}

impl std::fmt::Display for SourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceState::Starting => f.write_str("starting"),
            SourceState::Running => f.write_str("running"),
            SourceState::Stalled(why) => write!(f, "stalled: {why}"),
            SourceState::Finished => f.write_str("finished"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionProgress {
    pub partition: i32,
    /// The next offset the source will read (everything before is applied).
    pub next_offset: i64,
    /// The broker's high watermark when last seen: `high_watermark - next_offset` is lag.
    pub high_watermark: i64,
    /// The lag in time, ms (see `kafka::lag_in_time`); `None` while unknown.
    pub lag_ms: Option<i64>,
}

/// Where a restarted source resumes: what the durable store holds for it.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// Next offset per partition (Kafka), or events produced so far at partition 0 (load
    /// generators).
    pub offsets: std::collections::BTreeMap<i32, i64>,
    /// UPSERT / keyed Debezium state: key bytes, partition, current row.
    pub upsert: Vec<(Vec<u8>, i32, Row)>,
    /// Restored after a restart: a broker that cannot be reached now does not fail the
    /// start; the source waits for it, stalled.
    pub restored: bool,
}

/// Delivers a batch; returns `false` once the source has been dropped and should stop.
/// Shared by a source's reader threads.
pub type BatchSink = Arc<dyn Fn(SourceBatch) -> bool + Send + Sync>;

/// A running source. Dropping the handle stops it.
pub struct SourceHandle {
    stop: Arc<AtomicBool>,
    pub status: Arc<Mutex<SourceStatus>>,
    threads: Vec<JoinHandle<()>>,
}

impl SourceHandle {
    /// A handle for a source that is not running yet (a restored source waits for its
    /// stored rows to load); replace it with [`start`]'s.
    pub fn idle() -> SourceHandle {
        SourceHandle { stop: Arc::default(), status: Arc::default(), threads: Vec::new() }
    }

    pub fn status(&self) -> SourceStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for SourceHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The threads see the flag within a tick; they are not joined here so that a drop
        // made while holding the coordinator never waits on a thread that wants it.
        self.threads.clear();
    }
}

/// What a source thread is given.
#[derive(Clone)]
pub(crate) struct SourceContext {
    pub name: String,
    pub stop: Arc<AtomicBool>,
    pub status: Arc<Mutex<SourceStatus>>,
    pub sink: BatchSink,
}

impl SourceContext {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn update_status(&self, f: impl FnOnce(&mut SourceStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// This context with a sink that returns as soon as a thread of its own has taken the
    /// batch: the reader decodes its next batch while the last one is persisted and
    /// applied. Batches keep their order; a reader that gets two batches ahead waits
    /// (that wait is the backpressure [`SourceContext::deliver`] reports).
    pub fn pipelined(self) -> Result<SourceContext, StorageError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<SourceBatch>(1);
        let applier = self.clone();
        spawn(&format!("{}-apply", self.name), move || {
            for batch in rx {
                let started = std::time::Instant::now();
                let keep_going = (applier.sink)(batch);
                let ms = started.elapsed().as_millis() as u64;
                applier.update_status(|s| s.last_batch_ms = ms);
                if !keep_going {
                    applier.stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        })?;
        let sink: BatchSink = Arc::new(move |batch| tx.send(batch).is_ok());
        Ok(SourceContext { sink, ..self })
    }

    /// Hands `batch` on, counting the time it waits as backpressure; `false` means stop.
    pub fn deliver(&self, batch: SourceBatch) -> bool {
        let started = std::time::Instant::now();
        let keep_going = (self.sink)(batch);
        let ms = started.elapsed().as_millis() as u64;
        self.update_status(|s| s.backpressure_ms += ms);
        keep_going && !self.stopped()
    }
}

/// The relations a source produces: for a Kafka source, `[(name, desc)]` as declared;
/// for a load generator, its fixed tables.
pub fn outputs(name: &str, spec: &SourceSpec, desc: &RelationDesc) -> Vec<(String, RelationDesc)> {
    match spec {
        SourceSpec::Kafka(_) => vec![(name.to_string(), desc.clone())],
        SourceSpec::LoadGenerator(g) => generator::outputs(name, g.generator),
    }
}

/// Checks that `spec` can run (for Kafka: the broker answers and the topic exists), then
/// starts it: a Kafka source on up to `readers` threads (its partitions split between
/// them), a load generator on one. `sink` receives every batch.
/// `resume` says where a source restored after a restart goes on from.
pub fn start(
    name: &str,
    spec: &SourceSpec,
    readers: usize,
    sink: BatchSink,
    resume: Resume,
) -> Result<SourceHandle, StorageError> {
    let stop = Arc::new(AtomicBool::new(false));
    let status = Arc::new(Mutex::new(SourceStatus::default()));
    let context =
        || SourceContext { name: name.to_string(), stop: stop.clone(), status: status.clone(), sink: sink.clone() };
    let mut threads = Vec::new();
    match spec {
        SourceSpec::Kafka(k) => match kafka::KafkaIngestion::connect(name, k, readers, &resume) {
            Ok((ingestions, watcher)) => {
                for ingestion in ingestions {
                    let cx = context().pipelined()?;
                    threads.push(spawn(name, move || ingestion.run(cx))?);
                }
                let cx = context();
                threads.push(spawn(name, move || watcher.run(cx))?);
            }
            Err(e) if resume.restored => {
                warn!(source = name, "cannot reach Kafka after the restart, retrying: {e}");
                let (k, cx, source) = (k.clone(), context(), name.to_string());
                threads.push(spawn(name, move || reconnect(&source, &k, readers, &resume, cx, e))?);
            }
            Err(e) => return Err(e),
        },
        SourceSpec::LoadGenerator(g) => {
            let (g, cx) = (g.clone(), context().pipelined()?);
            let produced = resume.offsets.get(&0).copied().unwrap_or(0).max(0) as u64;
            threads.push(spawn(name, move || generator::run(&g, cx, produced))?);
        }
    }
    Ok(SourceHandle { stop, status, threads })
}

/// A restored Kafka source whose broker was unreachable at startup: retries until it
/// connects (or the source is dropped), then runs its readers.
fn reconnect(
    name: &str,
    spec: &eddy_repr::source::KafkaSourceSpec,
    readers: usize,
    resume: &Resume,
    cx: SourceContext,
    mut error: StorageError,
) {
    loop {
        cx.update_status(|s| s.state = SourceState::Stalled(error.to_string()));
        std::thread::sleep(std::time::Duration::from_secs(2));
        if cx.stopped() {
            return;
        }
        match kafka::KafkaIngestion::connect(name, spec, readers, resume) {
            Ok((ingestions, watcher)) => {
                for ingestion in ingestions {
                    let spawned =
                        cx.clone().pipelined().and_then(|reader_cx| spawn(name, move || ingestion.run(reader_cx)));
                    if let Err(e) = spawned {
                        cx.update_status(|s| s.state = SourceState::Stalled(e.to_string()));
                        return;
                    }
                }
                return watcher.run(cx);
            }
            Err(e) => error = e,
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StorageError> {
    std::thread::Builder::new()
        .name(format!("source-{name}"))
        .spawn(f)
        .map_err(|e| StorageError::Internal(format!("cannot start a thread for source {name}: {e}")))
}
