//! `eddy-kafka-bench`: how fast JSON messages flow from a Kafka-compatible broker (tansu
//! on loopback, sqlite storage; or librdkafka's mock cluster, `--broker mock`) into Eddy views, next to a plain rdkafka consumer
//! that only counts messages (the ceiling on this machine), and how fresh a view stays
//! at a fixed produce rate. A program that prints figures, not a test.

#[path = "machine.rs"]
#[allow(dead_code)]
mod machine;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use eddy_tests::kafka::{KafkaBroker, Record};
use eddy_tests::EddyProcess;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::machine::{percentile, Machine};

/// Measures Kafka ingestion: messages/s into a filter view and into a keyed aggregation,
/// against a plain consumer's rate; p50/p99 freshness (produced -> visible in a SELECT)
/// and consumer lag while producing at `--rate`. Only 127.0.0.1 is used.
#[derive(Parser, Debug)]
#[command(name = "eddy-kafka-bench", version)]
struct Args {
    /// JSON messages produced before the throughput runs.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Partitions of the topics.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Messages per second during the freshness run.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Seconds of the freshness run.
    #[arg(long, default_value_t = 10)]
    rate_seconds: u64,
    /// eddy --workers. Default: number of cores.
    #[arg(long)]
    workers: Option<usize>,
    /// The eddy binary. Default: `eddy` next to this program (target/release/eddy).
    #[arg(long)]
    eddy_bin: Option<PathBuf>,
    /// The broker: `tansu` (a real Kafka-compatible broker, sqlite storage) or `mock`
    /// (librdkafka's in-process mock cluster in this program: not a real broker, but fast
    /// enough to measure Eddy at rates tansu cannot take on this machine).
    #[arg(long, value_enum, default_value_t = BrokerKind::Tansu)]
    broker: BrokerKind,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum BrokerKind {
    Tansu,
    Mock,
}

/// The broker the run talks to, on loopback.
enum Broker {
    Tansu(KafkaBroker),
    Mock(rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>),
}

impl Broker {
    fn start(kind: BrokerKind) -> anyhow::Result<Self> {
        Ok(match kind {
            BrokerKind::Tansu => Broker::Tansu(KafkaBroker::start()?),
            BrokerKind::Mock => Broker::Mock(rdkafka::mocking::MockCluster::new(1)?),
        })
    }

    fn address(&self) -> String {
        match self {
            Broker::Tansu(b) => b.address(),
            Broker::Mock(m) => m.bootstrap_servers(),
        }
    }

    fn create_topic(&self, name: &str, partitions: i32) -> anyhow::Result<()> {
        match self {
            Broker::Tansu(b) => b.create_topic(name, partitions),
            Broker::Mock(m) => Ok(m.create_topic(name, partitions, 1)?),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Broker::Tansu(_) => "tansu (sqlite storage)",
            Broker::Mock(_) => "librdkafka mock cluster (in the benchmark process; not a real broker)",
        }
    }
}

fn message(i: u64) -> String {
    format!(
        r#"{{"id": {i}, "user_id": "u{}", "amount": {}.{:02}, "ts": "2026-01-01T00:00:00Z"}}"#,
        i % 10_000,
        i % 1000,
        i % 100
    )
}

fn produce(broker: &Broker, topic: &str, from: u64, to: u64, partitions: i32) -> anyhow::Result<()> {
    const CHUNK: u64 = 50_000;
    let mut start = from;
    while start < to {
        let end = (start + CHUNK).min(to);
        let values: Vec<String> = (start..end).map(message).collect();
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record { key: None, value: Some(v.as_bytes()), partition: Some((i as i32) % partitions) })
            .collect();
        eddy_tests::kafka::produce(&broker.address(), topic, &records)?;
        start = end;
    }
    Ok(())
}

/// Plain consumer `reader` of `readers`, assigned the partitions `p % readers == reader`
/// of `topic` from the beginning, with Eddy's fetch settings.
fn plain_consumer(
    broker: &Broker,
    group: &str,
    topic: &str,
    partitions: i32,
    readers: i32,
    reader: i32,
) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.address())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "25")
        .set("fetch.queue.backoff.ms", "10")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in (0..partitions).filter(|p| p % readers == reader) {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

/// The ceiling: plain rdkafka consumers that only count, `readers` of them splitting the
/// partitions as Eddy's readers do (`p % readers`), reading `n` messages from the start.
fn plain_consumer_rate(broker: &Broker, topic: &str, partitions: i32, readers: i32, n: u64) -> anyhow::Result<Rate> {
    let readers = readers.clamp(1, partitions);
    let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let first: Arc<Mutex<Option<Duration>>> = Arc::default();
    let started = Instant::now();
    let mut threads = Vec::new();
    for reader in 0..readers {
        let consumer = plain_consumer(broker, "plain-bench", topic, partitions, readers, reader)?;
        let (counted, first) = (counted.clone(), first.clone());
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut bytes = 0usize;
            while counted.load(std::sync::atomic::Ordering::Relaxed) < n {
                if let Some(m) = consumer.poll(Duration::from_millis(100)) {
                    if let Ok(mut first) = first.lock() {
                        first.get_or_insert_with(|| started.elapsed());
                    }
                    bytes += rdkafka::message::Message::payload(&m?).map_or(0, <[u8]>::len);
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else if started.elapsed() > Duration::from_secs(600) {
                    anyhow::bail!("plain consumer stalled");
                }
            }
            std::hint::black_box(bytes);
            Ok(())
        }));
    }
    for t in threads {
        t.join().map_err(|_| anyhow::anyhow!("consumer thread panicked"))??;
    }
    let first = first.lock().ok().and_then(|f| *f).unwrap_or_default();
    Ok(Rate { messages: n, first, all: started.elapsed() })
}

/// How long reading `messages` took: until the first arrived (connecting, assigning,
/// the broker's first fetch answer) and until all had.
#[derive(Clone, Copy)]
struct Rate {
    messages: u64,
    first: Duration,
    all: Duration,
}

impl Rate {
    /// Messages per second from the start.
    fn overall(&self) -> f64 {
        self.messages as f64 / self.all.as_secs_f64()
    }

    /// Messages per second once the first had arrived: the steady rate, without the
    /// start-up that dominates short runs.
    fn steady(&self) -> f64 {
        self.messages as f64 / (self.all.saturating_sub(self.first)).as_secs_f64().max(1e-6)
    }
}

/// Eddy's decoding alone, in this process: JSON bytes -> typed row changes through the
/// same format and envelope code a source runs, on one core. What one reader thread
/// could do with a broker that is never the bottleneck.
fn decode_rate(n: u64) -> anyhow::Result<f64> {
    use eddy_repr::source::{Envelope, Format};
    use eddy_repr::{ColumnType, RelationDesc, ScalarType};
    use eddy_storage::envelope::{EnvelopeState, Message};
    let desc = RelationDesc::new(vec![
        ("id".into(), ColumnType::new(ScalarType::Int64, true)),
        ("user_id".into(), ColumnType::new(ScalarType::Text, true)),
        ("amount".into(), ColumnType::new(ScalarType::Numeric { precision: None, scale: None }, true)),
        ("ts".into(), ColumnType::new(ScalarType::timestamptz(), true)),
    ]);
    let mut envelope = EnvelopeState::new(Envelope::None, None, Format::Json, None, desc, vec![]);
    let messages: Vec<String> = (0..n.min(100_000)).map(message).collect();
    let mut out = Vec::with_capacity(messages.len());
    let started = Instant::now();
    let mut done = 0u64;
    while done < n {
        for (i, m) in messages.iter().enumerate().take((n - done) as usize) {
            let msg =
                Message { key: None, value: Some(m.as_bytes()), partition: 0, offset: i as i64, timestamp_ms: None };
            envelope.apply(&msg, &mut out).map_err(|e| anyhow::anyhow!("decode: {e}"))?;
            done += 1;
        }
        std::hint::black_box(&out);
        out.clear();
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn scalar(client: &tokio_postgres::Client, sql: &str) -> anyhow::Result<i64> {
    Ok(client.query_one(sql, &[]).await?.get(0))
}

/// Eddy's rate: from CREATE SOURCE until the view has every one of `n` messages.
async fn eddy_rate(
    client: &tokio_postgres::Client,
    name: &str,
    view: &str,
    check: &str,
    n: u64,
) -> anyhow::Result<Rate> {
    let started = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE SOURCE {name} (id bigint, user_id text, amount numeric, ts timestamptz)
               FROM KAFKA CONNECTION conn (TOPIC 'bench') FORMAT JSON;
             CREATE MATERIALIZED VIEW {name}_v AS {view};"
        ))
        .await?;
    let progress = format!("SELECT messages FROM eddy_catalog.sources WHERE name = '{name}'");
    let mut last_report = Instant::now();
    let mut first = None;
    loop {
        let read = scalar(client, &progress).await?;
        if read > 0 {
            first.get_or_insert_with(|| started.elapsed());
        }
        if read as u64 >= n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!("  {name}: {read} of {n} messages read");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A read waits until the view is complete at the last batch's time.
    let rows = scalar(client, check).await?;
    let all = started.elapsed();
    let waited =
        scalar(client, &format!("SELECT backpressure_ms FROM eddy_catalog.sources WHERE name = '{name}'")).await?;
    eprintln!("  {name}: view check -> {rows}; readers waited {waited} ms on batches in flight");
    client.batch_execute(&format!("DROP SOURCE {name} CASCADE")).await?;
    Ok(Rate { messages: n, first: first.unwrap_or_default(), all })
}

/// (message id, when a plain consumer received it).
type Arrivals = Vec<(u64, Instant)>;

/// The plain consumers' side of the freshness run: `readers` consumers splitting the
/// partitions as Eddy's readers do note when each message of the run (`total`, ids
/// parsed from the payload) reached them, so Eddy's freshness reads against what the
/// broker and librdkafka alone allow. Stops once all arrived or at `deadline`.
fn plain_arrivals(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    readers: i32,
    total: u64,
    deadline: Instant,
) -> anyhow::Result<Vec<std::thread::JoinHandle<Arrivals>>> {
    let readers = readers.clamp(1, partitions);
    let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut threads = Vec::new();
    for reader in 0..readers {
        let consumer = plain_consumer(broker, "plain-fresh", topic, partitions, readers, reader)?;
        let seen = seen.clone();
        threads.push(std::thread::spawn(move || {
            let mut arrivals = Vec::new();
            while seen.load(std::sync::atomic::Ordering::Relaxed) < total && Instant::now() < deadline {
                let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else { continue };
                use rdkafka::message::Message as _;
                // Partition 0's first message is the warm-up, not part of the run.
                if m.partition() == 0 && m.offset() == 0 {
                    continue;
                }
                let id = m.payload().and_then(|p| std::str::from_utf8(p).ok()).and_then(|text| {
                    let rest = text.strip_prefix(r#"{"id": "#)?;
                    rest[..rest.find(',')?].parse::<u64>().ok()
                });
                if let Some(id) = id {
                    arrivals.push((id, Instant::now()));
                    seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            arrivals
        }));
    }
    Ok(threads)
}

/// When the broker acknowledged each message of the freshness run.
struct Acks {
    at: Mutex<Vec<Option<Instant>>>,
}

struct AckContext(Arc<Acks>);

impl rdkafka::ClientContext for AckContext {}

impl rdkafka::producer::ProducerContext for AckContext {
    type DeliveryOpaque = Box<u64>;
    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, id: Box<u64>) {
        if result.is_ok() {
            if let Ok(mut at) = self.0.at.lock() {
                if let Some(slot) = at.get_mut(*id as usize) {
                    *slot = Some(Instant::now());
                }
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let machine = Machine::detect();
    let workers = args.workers.unwrap_or(machine.cores);
    let eddy_bin = args.eddy_bin.clone().unwrap_or_else(machine::eddy_next_to_this_program);

    eprintln!("decoding in-process");
    let decode = decode_rate(args.messages)?;
    eprintln!(
        "starting {:?} and producing {} messages over {} partitions",
        args.broker, args.messages, args.partitions
    );
    let broker = Broker::start(args.broker)?;
    broker.create_topic("bench", args.partitions)?;
    broker.create_topic("fresh", args.partitions)?;
    let started = Instant::now();
    produce(&broker, "bench", 0, args.messages, args.partitions)?;
    let produce_rate = args.messages as f64 / started.elapsed().as_secs_f64();

    eprintln!("plain rdkafka consumers");
    let plain = plain_consumer_rate(&broker, "bench", args.partitions, workers as i32, args.messages)?;

    let server = EddyProcess::start_with(&eddy_bin, workers)?;
    let client = server.connect().await?;
    client.batch_execute(&format!("CREATE CONNECTION conn TO KAFKA (BROKER '{}')", broker.address())).await?;
    eprintln!("eddy: filter view");
    let filter = eddy_rate(
        &client,
        "f",
        "SELECT id, user_id, amount FROM f WHERE amount >= 500",
        "SELECT count(*) FROM f_v WHERE id < 1000",
        args.messages,
    )
    .await?;
    eprintln!("eddy: keyed aggregation");
    let aggregate = eddy_rate(
        &client,
        "g",
        "SELECT user_id, count(*) AS n, sum(amount) AS total FROM g GROUP BY user_id",
        "SELECT n FROM g_v WHERE user_id = 'u1'",
        args.messages,
    )
    .await?;

    eprintln!("freshness at {} messages/s for {} s", args.rate, args.rate_seconds);
    client
        .batch_execute(
            "CREATE SOURCE fr (id bigint, user_id text, amount numeric, ts timestamptz)
               FROM KAFKA CONNECTION conn (TOPIC 'fresh') FORMAT JSON;
             CREATE MATERIALIZED VIEW fr_v AS SELECT count(*) AS n FROM fr;",
        )
        .await?;
    // Warm up: one message through before the clock starts, so the figures are the steady
    // state and not the consumer's first connection.
    let warm_up = message(0);
    let record = Record { key: None, value: Some(warm_up.as_bytes()), partition: Some(0) };
    eddy_tests::kafka::produce(&broker.address(), "fresh", &[record])?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(&client, "SELECT n FROM fr_v").await? < 1 {
        anyhow::ensure!(Instant::now() < deadline, "the warm-up message did not reach the view within 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let total = args.rate * args.rate_seconds;
    let plain_readers = plain_arrivals(
        &broker,
        "fresh",
        args.partitions,
        workers as i32,
        total,
        Instant::now() + Duration::from_secs(args.rate_seconds + 60),
    )?;
    let sent: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let acked = Arc::new(Acks { at: Mutex::new(vec![None; total as usize]) });
    let producer = {
        let (sent, acked) = (sent.clone(), acked.clone());
        let address = broker.address();
        let (rate, partitions) = (args.rate, args.partitions);
        std::thread::spawn(move || -> anyhow::Result<()> {
            use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
            let producer: BaseProducer<AckContext> = ClientConfig::new()
                .set("bootstrap.servers", &address)
                .set("linger.ms", "1")
                .create_with_context(AckContext(acked))?;
            let started = Instant::now();
            for i in 0..total {
                // Pace: message i goes out at i / rate seconds.
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let body = message(i);
                let mut record = BaseRecord::<[u8], [u8], Box<u64>>::with_opaque_to("fresh", Box::new(i))
                    .payload(body.as_bytes())
                    .partition((i as i32) % partitions);
                loop {
                    match producer.send(record) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            producer.poll(Duration::from_millis(1));
                            record = back;
                        }
                    }
                }
                if let Ok(mut s) = sent.lock() {
                    s.push(Instant::now());
                }
                producer.poll(Duration::ZERO);
            }
            producer.flush(Duration::from_secs(30))?;
            Ok(())
        })
    };
    // Message i counts as visible once the view's count (less the warm-up message)
    // exceeds i (messages are produced in order; across partitions this is approximate
    // by at most a batch).
    let mut latencies = Vec::new();
    let mut since_ack = Vec::new();
    // (message id, when the view first showed it), for the comparison with the plain consumers.
    let mut visible_at = Vec::new();
    let mut visible = 0u64;
    let mut max_lag = 0i64;
    let mut lag_sum = 0i64;
    let mut lag_samples = 0i64;
    let deadline = Instant::now() + Duration::from_secs(args.rate_seconds + 60);
    while visible < total && Instant::now() < deadline {
        let n = scalar(&client, "SELECT n FROM fr_v").await? as u64 - 1;
        let now = Instant::now();
        if n > visible {
            // Only the newly visible messages' send times: copying the whole vector on
            // every poll cost this process (which hosts the mock broker) real CPU.
            let sent: Vec<Instant> = sent
                .lock()
                .map(|s| s.get(visible as usize..(n as usize).min(s.len())).unwrap_or_default().to_vec())
                .unwrap_or_default();
            for (i, sent_at) in (visible..).zip(&sent) {
                if i % 10 == 0 {
                    latencies.push(now.duration_since(*sent_at).as_secs_f64() * 1000.0);
                    visible_at.push((i, now));
                    let ack = acked.at.lock().ok().and_then(|a| a[i as usize]);
                    if let Some(ack) = ack {
                        since_ack.push(now.saturating_duration_since(ack).as_secs_f64() * 1000.0);
                    }
                }
            }
            visible = n;
        }
        let lag = scalar(&client, "SELECT lag_messages FROM eddy_catalog.sources WHERE name = 'fr'").await?;
        max_lag = max_lag.max(lag);
        lag_sum += lag;
        lag_samples += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    producer.join().map_err(|_| anyhow::anyhow!("producer panicked"))??;
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let mut plain_latencies = Vec::new();
    let mut received_at = std::collections::HashMap::new();
    for reader in plain_readers {
        let arrivals = reader.join().map_err(|_| anyhow::anyhow!("plain consumer panicked"))?;
        for (id, at) in arrivals.into_iter().filter(|(id, _)| id % 10 == 0) {
            if let Some(sent) = sent.get(id as usize) {
                plain_latencies.push(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
                received_at.insert(id, at);
            }
        }
    }
    plain_latencies.sort_by(f64::total_cmp);
    // What Eddy adds to what the broker and librdkafka take: for each message, from the
    // plain consumers' receipt to the view showing it (negative when the view was first).
    let mut added: Vec<f64> = visible_at
        .iter()
        .filter_map(|(id, visible)| {
            let received = received_at.get(id)?;
            let ms = match visible.checked_duration_since(*received) {
                Some(d) => d.as_secs_f64(),
                None => -received.duration_since(*visible).as_secs_f64(),
            };
            Some(ms * 1000.0)
        })
        .collect();
    added.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    since_ack.sort_by(f64::total_cmp);

    println!("# eddy-kafka-bench");
    println!(
        "machine: {} cores, {:.1} GiB, {}, kernel {}, load {}",
        machine.cores,
        machine.ram_bytes as f64 / (1u64 << 30) as f64,
        machine.cpu_model,
        machine.kernel,
        machine::load_average()
    );
    println!("broker: {} on loopback, {} partitions; eddy --workers {workers}", broker.describe(), args.partitions);
    println!("messages: {} JSON messages of ~{} bytes", args.messages, message(123_456).len());
    println!("decode only (JSON -> rows, in-process, 1 core): {:>6.0} msg/s", decode);
    println!("produce (rdkafka producer -> broker):      {:>10.0} msg/s", produce_rate);
    println!(
        "plain rdkafka consumers ({} threads), counting only: {:>10.0} msg/s  (ceiling; first message after {} ms, \
         {:.0} msg/s from then on)",
        workers.min(args.partitions as usize),
        plain.overall(),
        plain.first.as_millis(),
        plain.steady()
    );
    for (what, rate) in [("filter view:                 ", filter), ("keyed aggregation (10k keys):", aggregate)] {
        println!(
            "eddy, JSON -> {what}{:>10.0} msg/s  ({:.0}% of ceiling, {:.0} msg/s per core); first message after {} ms, \
             then {:.0} msg/s ({:.0}% of the ceiling's, {:.0} per core)",
            rate.overall(),
            100.0 * rate.overall() / plain.overall(),
            rate.overall() / machine.cores as f64,
            rate.first.as_millis(),
            rate.steady(),
            100.0 * rate.steady() / plain.steady(),
            rate.steady() / machine.cores as f64
        );
    }
    println!(
        "freshness at {} msg/s for {} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples; {} of {} visible)",
        args.rate,
        args.rate_seconds,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len(),
        visible,
        total
    );
    println!(
        "  of which after the broker acknowledged the message: p50 {:.1} ms, p99 {:.1} ms ({} samples)",
        percentile(&since_ack, 0.5),
        percentile(&since_ack, 0.99),
        since_ack.len()
    );
    println!(
        "  plain consumers in the same run, produced -> received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        percentile(&plain_latencies, 0.5),
        percentile(&plain_latencies, 0.99),
        plain_latencies.last().copied().unwrap_or(f64::NAN),
        plain_latencies.len()
    );
    println!(
        "  eddy after the plain consumers received the message: p50 {:.1} ms, p99 {:.1} ms ({} samples)",
        percentile(&added, 0.5),
        percentile(&added, 0.99),
        added.len()
    );
    println!(
        "consumer lag under that load: mean {:.0} messages, max {} messages",
        lag_sum as f64 / lag_samples.max(1) as f64,
        max_lag
    );
    Ok(())
}
