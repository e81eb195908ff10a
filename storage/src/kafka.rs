//! Kafka ingestion: one consumer thread per source reads every partition of its topic,
//! decodes and applies the envelope, and hands a batch on every tick. After each batch
//! the next offsets are committed to the consumer group so that Kafka's lag tools see
//! how far Eddy is. New partitions are picked up on the next metadata refresh.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{info, warn};

use eddy_repr::source::{KafkaConnection, KafkaSourceSpec, StartOffset};
use eddy_repr::Row;

use crate::envelope::{EnvelopeState, Message};
use crate::source::{PartitionProgress, Resume, SourceBatch, SourceContext, SourceErrorRecord, SourceState, RAW_LIMIT};
use crate::StorageError;

/// How long CREATE SOURCE waits for the broker before saying it cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often partitions and high watermarks are looked up.
const METADATA_INTERVAL: Duration = Duration::from_secs(2);
/// Messages read between two looks at the clock (see [`KafkaIngestion::run`]).
const CLOCK_EVERY: u32 = 16;

/// One reader of a source: it owns the partitions `p` with `p % readers == reader`, so
/// several readers decode in parallel, and a key (which Kafka keeps in one partition)
/// always meets the same reader's upsert state.
pub(crate) struct KafkaIngestion {
    consumer: BaseConsumer<ClientEvents>,
    spec: KafkaSourceSpec,
    reader: i32,
    readers: i32,
    /// Next offset to read, per assigned partition.
    next_offsets: BTreeMap<i32, i64>,
    /// Per partition: the Kafka timestamp (ms) of the last message applied, for lag in time.
    last_timestamps: BTreeMap<i32, i64>,
    /// The topic's partition count as the watcher last saw it.
    partitions: Arc<AtomicI32>,
    /// Persisted next offsets of a restarted source: partitions resume there.
    resume_offsets: BTreeMap<i32, i64>,
    /// Persisted UPSERT state of this reader's partitions, handed to the envelope.
    seed: Vec<(Vec<u8>, Row)>,
}

/// Looks up the topic's metadata every [`METADATA_INTERVAL`] on a thread of its own (a
/// metadata request can take a second; readers must not wait for it): new partitions go
/// to [`KafkaIngestion::partitions`]; an unreachable broker or a vanished topic marks the
/// source stalled, and its return running again.
pub(crate) struct Watcher {
    consumer: BaseConsumer<ClientEvents>,
    topic: String,
    partitions: Arc<AtomicI32>,
}

impl Watcher {
    pub fn run(self, cx: SourceContext) {
        while !cx.stopped() {
            std::thread::sleep(METADATA_INTERVAL);
            match partition_count(&self.consumer, &self.topic, Duration::from_secs(1)) {
                Ok(n) => {
                    self.partitions.fetch_max(n, Ordering::Relaxed);
                    cx.update_status(|s| {
                        if matches!(&s.state, SourceState::Stalled(why) if why.starts_with("broker unreachable") || why.starts_with("topic")) {
                            s.state = SourceState::Running;
                        }
                    });
                }
                Err(MetadataError::Unreachable(why)) => {
                    let why = self.consumer.context().last().unwrap_or(why);
                    cx.update_status(|s| s.state = SourceState::Stalled(format!("broker unreachable: {why}")));
                }
                Err(MetadataError::Topic(why)) => {
                    cx.update_status(|s| s.state = SourceState::Stalled(format!("topic \"{}\": {why}", self.topic)));
                }
            }
        }
    }
}

/// What librdkafka tells a consumer on the side: its last client-level error
/// (authentication failures arrive only this way, so "cannot reach the broker" can say
/// why) and, from its periodic statistics, each partition's high watermark (so lag is
/// known without blocking the reader on a ListOffsets request).
#[derive(Default)]
pub struct ClientEvents {
    last: Mutex<Option<String>>,
    /// Per partition: low and high watermark and librdkafka's own consumer lag, all
    /// taken at the same instant.
    watermarks: Mutex<BTreeMap<i32, (i64, i64, i64)>>,
}

impl ClientEvents {
    fn last(&self) -> Option<String> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    fn watermarks(&self, partition: i32) -> Option<(i64, i64, i64)> {
        self.watermarks.lock().ok().and_then(|w| w.get(&partition).copied())
    }
}

impl ClientContext for ClientEvents {
    fn stats(&self, statistics: rdkafka::Statistics) {
        if let Ok(mut watermarks) = self.watermarks.lock() {
            for topic in statistics.topics.values() {
                // Partition -1 is librdkafka's internal "unassigned" bucket.
                for (&p, partition) in topic.partitions.iter().filter(|(&p, _)| p >= 0) {
                    if partition.hi_offset >= 0 {
                        let entry = (partition.lo_offset.max(0), partition.hi_offset, partition.consumer_lag);
                        watermarks.insert(p, entry);
                    }
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        warn!("Kafka client error: {error}: {reason}");
        if let Ok(mut last) = self.last.lock() {
            *last = Some(reason.to_string());
        }
    }
}

impl ConsumerContext for ClientEvents {}

/// A consumer configured from `connection`, in consumer group `group`.
pub fn consumer(connection: &KafkaConnection, group: &str) -> Result<BaseConsumer<ClientEvents>, StorageError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &connection.brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // Long enough for a slow broker to answer a large fetch: a shorter timeout makes
        // librdkafka retry the same fetch forever.
        .set("socket.timeout.ms", "30000")
        // Brokers may hold a fetch this long when no data is waiting; freshness is
        // bounded by it (librdkafka's default of 500 ms is too coarse for a view).
        .set("fetch.wait.max.ms", "25")
        // Once its local queue holds enough, librdkafka stops fetching for this long
        // (default 1 s): a reader that decodes more slowly than the broker sends then
        // drains the queue and sits idle, which halved throughput and put second-long
        // stalls into freshness. Look again soon instead.
        .set("fetch.queue.backoff.ms", "10")
        // Statistics carry each partition's high watermark, for lag (see ClientEvents).
        .set("statistics.interval.ms", "1000")
        .set("reconnect.backoff.max.ms", "2000")
        .set("log_level", "3");
    for (k, v) in connection.options.iter().chain(&connection.secret_options) {
        config.set(k, v);
    }
    config
        .create_with_context(ClientEvents::default())
        .map_err(|e| StorageError::Config(format!("invalid Kafka connection settings: {e}")))
}

impl KafkaIngestion {
    /// Connects, checks the topic, and splits its partitions over up to `readers`
    /// readers, each assigned its partitions at the start offset; plus the topic's watcher.
    pub fn connect(
        name: &str,
        spec: &KafkaSourceSpec,
        readers: usize,
        resume: &Resume,
    ) -> Result<(Vec<Self>, Watcher), StorageError> {
        let group = format!("{}{name}", spec.connection.group_id_prefix.as_deref().unwrap_or("eddy-"));
        let first = consumer(&spec.connection, &group)?;
        let partitions = partition_count(&first, &spec.topic, CONNECT_TIMEOUT).map_err(|e| match e {
            MetadataError::Unreachable(why) => {
                // An authentication failure, say, reaches us only as a client error event,
                // delivered by polling.
                let _ = first.poll(Duration::from_millis(100));
                let why = first.context().last().unwrap_or(why);
                StorageError::Connect(format!("cannot reach Kafka broker {}: {why}", spec.connection.brokers))
            }
            MetadataError::Topic(why) => StorageError::Topic(format!("topic \"{}\": {why}", spec.topic)),
        })?;
        let start = match spec.start_offset {
            StartOffset::Earliest => Offset::Beginning,
            StartOffset::Latest => Offset::End,
        };
        let readers = readers.clamp(1, partitions.max(1) as usize) as i32;
        let count = Arc::new(AtomicI32::new(partitions));
        let mut out = Vec::new();
        for reader in 0..readers {
            let mut ingestion = KafkaIngestion {
                consumer: consumer(&spec.connection, &group)?,
                spec: spec.clone(),
                reader,
                readers,
                next_offsets: BTreeMap::new(),
                last_timestamps: BTreeMap::new(),
                partitions: count.clone(),
                resume_offsets: resume.offsets.clone(),
                seed: resume
                    .upsert
                    .iter()
                    .filter(|(_, p, _)| p % readers == reader)
                    .map(|(k, _, r)| (k.clone(), r.clone()))
                    .collect(),
            };
            ingestion.assign_new(partitions, start)?;
            out.push(ingestion);
        }
        info!(source = name, topic = %spec.topic, partitions, readers, "Kafka source connected");
        Ok((out, Watcher { consumer: first, topic: spec.topic.clone(), partitions: count }))
    }

    fn owns(&self, partition: i32) -> bool {
        partition % self.readers == self.reader
    }

    /// Assigns this reader's partitions below `partitions` that it does not read yet, from `start`.
    fn assign_new(&mut self, partitions: i32, start: Offset) -> Result<(), StorageError> {
        let new: Vec<i32> = (0..partitions).filter(|p| self.owns(*p) && !self.next_offsets.contains_key(p)).collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for &p in &new {
            // A restarted source goes on exactly where its persisted rows end.
            let from = self.resume_offsets.get(&p).map_or(start, |&o| Offset::Offset(o));
            tpl.add_partition_offset(&self.spec.topic, p, from)
                .map_err(|e| StorageError::Internal(format!("assigning partition {p}: {e}")))?;
        }
        self.consumer
            .incremental_assign(&tpl)
            .map_err(|e| StorageError::Internal(format!("assigning partitions of {}: {e}", self.spec.topic)))?;
        for p in new {
            // Unknown until the first message (lag then counts from the low watermark),
            // unless resumed.
            self.next_offsets.insert(p, self.resume_offsets.get(&p).copied().unwrap_or(-1));
        }
        Ok(())
    }

    pub fn run(mut self, cx: SourceContext) {
        let spec = self.spec.clone();
        let mut envelope = EnvelopeState::new(
            spec.envelope,
            spec.key_format.clone(),
            spec.value_format.clone(),
            spec.key_desc.clone(),
            spec.value_desc.clone(),
            spec.include.clone(),
        );
        for (key, row) in std::mem::take(&mut self.seed) {
            envelope.seed(key, row);
        }
        let mut last_metadata = Instant::now() - METADATA_INTERVAL;
        cx.update_status(|s| s.state = SourceState::Running);
        while !cx.stopped() {
            let tick_end = Instant::now() + spec.tick;
            let mut batch = SourceBatch { updates: vec![Vec::new()], ..SourceBatch::default() };
            let (mut messages, mut bytes) = (0u64, 0u64);
            let mut stalled: Option<String> = None;
            let mut wait = spec.tick;
            let mut polls = 0u32;
            while !cx.stopped() {
                // Reading the clock costs as much as decoding a small message on some
                // virtual machines: look at it once every few messages. A stale `wait`
                // overshoots the tick by the microseconds those messages took.
                if polls.is_multiple_of(CLOCK_EVERY) {
                    wait = tick_end.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        break;
                    }
                }
                polls += 1;
                match self.consumer.poll(wait) {
                    None => break,
                    Some(Ok(m)) => {
                        if self.next_offsets.get(&m.partition()).is_some_and(|&next| m.offset() < next) {
                            // Applied already (redelivered after a reconnect): exactly once.
                            continue;
                        }
                        let msg = Message {
                            key: m.key(),
                            value: m.payload(),
                            partition: m.partition(),
                            offset: m.offset(),
                            timestamp_ms: m.timestamp().to_millis(),
                        };
                        messages += 1;
                        bytes += (msg.key.map_or(0, <[u8]>::len) + msg.value.map_or(0, <[u8]>::len)) as u64;
                        let applied = loop {
                            match envelope.apply(&msg, &mut batch.updates[0]) {
                                // The message is fine but cannot be decoded now (its
                                // schema registry is down): wait, stalled, and retry it.
                                Err(e) if e.transient && !cx.stopped() => {
                                    warn!(topic = %spec.topic, "{}; retrying", e.reason);
                                    cx.update_status(|s| s.state = SourceState::Stalled(e.reason.clone()));
                                    std::thread::sleep(Duration::from_secs(1));
                                }
                                other => break other,
                            }
                        };
                        if let Err(e) = applied {
                            let raw = msg.value.or(msg.key).unwrap_or_default();
                            batch.errors.push(SourceErrorRecord {
                                topic: spec.topic.clone(),
                                partition: msg.partition,
                                offset: msg.offset,
                                reason: e.reason,
                                raw: raw[..raw.len().min(RAW_LIMIT)].to_vec(),
                                at: Utc::now(),
                            });
                        }
                        self.next_offsets.insert(msg.partition, msg.offset + 1);
                        if let Some(ts) = msg.timestamp_ms {
                            self.last_timestamps.insert(msg.partition, ts);
                        }
                        stalled = None;
                    }
                    Some(Err(e)) => {
                        stalled = Some(describe(&e));
                        break;
                    }
                }
            }
            let errors = batch.errors.len() as u64;
            cx.update_status(|s| {
                s.messages_read += messages;
                s.bytes_read += bytes;
                s.decode_errors += errors;
                match &stalled {
                    Some(why) => s.state = SourceState::Stalled(why.clone()),
                    None if messages > 0 => s.state = SourceState::Running,
                    None => {}
                }
            });
            if messages > 0 {
                batch.offsets = self.next_offsets.iter().filter(|(_, &o)| o >= 0).map(|(&p, &o)| (p, o)).collect();
                batch.upsert = envelope.take_state_changes();
            }
            if !batch.is_empty() {
                if !cx.deliver(batch) {
                    return;
                }
                self.commit();
            }
            if last_metadata.elapsed() >= METADATA_INTERVAL {
                last_metadata = Instant::now();
                self.refresh(&cx);
            }
            if stalled.is_some() {
                // rdkafka reconnects by itself; do not spin on the error meanwhile.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// Commits the next offsets to the consumer group (best effort: Eddy's own offsets
    /// are what it resumes from; the group is for Kafka's tools).
    fn commit(&self) {
        let mut tpl = TopicPartitionList::new();
        for (&p, &next) in self.next_offsets.iter().filter(|(_, &o)| o >= 0) {
            let _ = tpl.add_partition_offset(&self.spec.topic, p, Offset::Offset(next));
        }
        if tpl.count() > 0 {
            if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
                warn!(topic = %self.spec.topic, "committing offsets to the consumer group failed: {e}");
            }
        }
    }

    /// Picks up new partitions and updates per-partition lag; a broker that does not
    /// answer or a topic that vanished marks the source stalled.
    /// Takes on partitions the [`Watcher`] has seen appear and reports this reader's
    /// progress; never blocks on the broker.
    fn refresh(&mut self, cx: &SourceContext) {
        let n = self.partitions.load(Ordering::Relaxed);
        let known = self.next_offsets.keys().next_back().map_or(0, |p| p + 1);
        if n > known && (known..n).any(|p| self.owns(p)) {
            info!(topic = %self.spec.topic, partitions = n, "new partitions; reading them from the beginning");
            if let Err(e) = self.assign_new(n, Offset::Beginning) {
                warn!("{e}");
            }
        }
        let mut progress = Vec::new();
        for (&p, &next) in &self.next_offsets {
            let (low, high, lag) = self.consumer.context().watermarks(p).unwrap_or((0, 0, -1));
            // Before the first message the position is the start offset.
            let next_offset = match (next, &self.spec.start_offset) {
                (n, _) if n >= 0 => n,
                (_, StartOffset::Earliest) => low,
                (_, StartOffset::Latest) => high,
            };
            // The statistics are up to a second old: their own lag figure is consistent
            // (both ends seen at once); a stale high watermark against our newer
            // position would read as no lag.
            let lag = if lag >= 0 { lag } else { (high - next_offset).max(0) };
            let lag_ms = lag_in_time(lag, self.last_timestamps.get(&p).copied(), Utc::now().timestamp_millis());
            progress.push(PartitionProgress { partition: p, next_offset, high_watermark: next_offset + lag, lag_ms });
        }
        cx.update_status(|s| {
            // Other readers report their own partitions.
            s.partitions.retain(|p| p.partition % self.readers != self.reader);
            s.partitions.extend(progress);
            s.partitions.sort_by_key(|p| p.partition);
        });
    }
}

/// How far behind in time a partition `lag` messages behind is: the age of the last
/// message applied (the oldest waiting one was produced after it, so it has waited at
/// most that long); 0 when caught up; unknown before the first message or without
/// timestamps.
fn lag_in_time(lag: i64, last_timestamp_ms: Option<i64>, now_ms: i64) -> Option<i64> {
    match (lag, last_timestamp_ms) {
        (0, _) => Some(0),
        (_, Some(ts)) => Some((now_ms - ts).max(0)),
        (_, None) => None,
    }
}

enum MetadataError {
    Unreachable(String),
    Topic(String),
}

fn partition_count(
    consumer: &BaseConsumer<ClientEvents>,
    topic: &str,
    timeout: Duration,
) -> Result<i32, MetadataError> {
    // All topics, not `Some(topic)`: librdkafka 2.12 crashes (a NULL topic name in its
    // metadata cache) on tansu's answer for one topic that has been deleted.
    let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| MetadataError::Unreachable(describe(&e)))?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(MetadataError::Topic("does not exist".into()));
    };
    if let Some(err) = t.error() {
        let code = rdkafka::types::RDKafkaErrorCode::from(err);
        return Err(MetadataError::Topic(match code {
            rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition => "does not exist".into(),
            rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed => "not authorized to read it".into(),
            other => other.to_string(),
        }));
    }
    if t.partitions().is_empty() {
        return Err(MetadataError::Topic("does not exist (no partitions)".into()));
    }
    Ok(t.partitions().len() as i32)
}

fn describe(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("{code}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::lag_in_time;

    #[test]
    fn lag_in_time_is_the_age_of_the_last_message_read_while_messages_wait() {
        assert_eq!(lag_in_time(0, Some(1_000), 5_000), Some(0), "caught up");
        assert_eq!(lag_in_time(12, Some(1_000), 5_000), Some(4_000));
        assert_eq!(lag_in_time(12, None, 5_000), None, "nothing read yet");
        assert_eq!(lag_in_time(3, Some(9_000), 5_000), Some(0), "clock skew never goes negative");
    }
}
