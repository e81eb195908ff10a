//! A real Kafka-compatible broker for tests: `tansu` on a free loopback port with sqlite
//! storage (durable across a broker restart), plus a producer to write test data.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::free_port;

/// A running tansu broker; stopped and its files removed when dropped.
pub struct KafkaBroker {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// Clients must authenticate with SASL (SCRAM) once the broker restarts with this set.
    pub authentication: bool,
}

/// One message to produce: key, value (None = tombstone), partition (None = by key).
#[derive(Clone)]
pub struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub partition: Option<i32>,
}

impl KafkaBroker {
    /// Starts tansu (`$TANSU_BIN`, else `tansu` on the PATH or in ~/.cargo/bin).
    pub fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("eddy-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut broker = KafkaBroker { child: None, port, dir, authentication: false };
        broker.spawn()?;
        Ok(broker)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("tansu.log"))?;
        let mut command = Command::new(tansu_binary());
        command.args(["broker", "--listener-url", &url, "--advertised-listener-url", &url]);
        if self.authentication {
            command.arg("--authentication");
        }
        let child = command
            // tansu reads the sqlite path as relative to its working directory.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&self.dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start the tansu broker ({e}); install it with \
                     `cargo install tansu --locked --features dynostore,libsql` (scripts/test.sh does)"
                )
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                anyhow::bail!("tansu did not listen on 127.0.0.1:{} within 30 s", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `host:port` for librdkafka and for `CREATE CONNECTION ... (BROKER '...')`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn create_topic(&self, name: &str, partitions: i32) -> anyhow::Result<()> {
        let out = Command::new(tansu_binary())
            .args(["topic", "create", name, "--partitions", &partitions.to_string()])
            .args(["--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .output()?;
        if !out.status.success() {
            anyhow::bail!("tansu topic create {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Creates a SCRAM user (on a broker without authentication: tansu's CLI does not
    /// authenticate itself).
    pub fn create_user(&self, name: &str, password: &str) -> anyhow::Result<()> {
        let out = Command::new(tansu_binary())
            .args(["user", "create", name, password, "--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .output()?;
        if !out.status.success() {
            anyhow::bail!("tansu user create {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    pub fn delete_topic(&self, name: &str) -> anyhow::Result<()> {
        let out = Command::new(tansu_binary())
            .args(["topic", "delete", name, "--broker", &format!("tcp://127.0.0.1:{}", self.port)])
            .output()?;
        if !out.status.success() {
            anyhow::bail!("tansu topic delete {name} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Produces `records` to `topic` and waits until the broker has them all.
    pub fn produce(&self, topic: &str, records: &[Record]) -> anyhow::Result<()> {
        produce(&self.address(), topic, records)
    }

    /// The offsets consumer group `group` has committed for `topic`'s partitions
    /// `0..partitions` (-1 where none), as Kafka's lag tools would read them.
    pub fn committed_offsets(&self, group: &str, topic: &str, partitions: i32) -> anyhow::Result<Vec<i64>> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", self.address()).set("group.id", group).create()?;
        let mut tpl = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
        Ok((0..partitions)
            .map(|p| match committed.find_partition(topic, p).map(|e| e.offset()) {
                Some(rdkafka::Offset::Offset(o)) => o,
                _ => -1,
            })
            .collect())
    }

    /// The high watermark (messages ever written) of each of `topic`'s partitions.
    pub fn high_watermarks(&self, topic: &str, partitions: i32) -> anyhow::Result<Vec<i64>> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", self.address()).create()?;
        (0..partitions).map(|p| Ok(consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?.1)).collect()
    }

    /// Stops the broker (SIGKILL: as abrupt as a crash); [`KafkaBroker::restart`] brings it back.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }

    /// Grows `topic` to `partitions` partitions. tansu 0.6 has no CreatePartitions, so this
    /// stops the broker, adds the partitions to its sqlite catalog as its own
    /// `CreateTopics` would (a `topition` and a `watermark` row each) and starts it again:
    /// to clients, a topic that gained partitions across a broker restart.
    pub fn add_partitions(&mut self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        self.kill();
        let script = r#"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
topic, partitions = sys.argv[2], int(sys.argv[3])
(tid, old), = db.execute("select id, partitions from topic where name = ?", (topic,)).fetchall()
for p in range(old, partitions):
    tp = db.execute("insert into topition (topic, partition) values (?, ?)", (tid, p)).lastrowid
    db.execute("insert into watermark (topition, low, high) values (?, 0, 0)", (tp,))
db.execute("update topic set partitions = ? where id = ?", (partitions, tid))
db.commit()
"#;
        let db = self.dir.join("tansu.db");
        let out = Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&db)
            .args([topic, &partitions.to_string()])
            .output()?;
        if !out.status.success() {
            anyhow::bail!("adding partitions to {topic} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        self.spawn()
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("tansu.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("tansu log (last lines):\n{}", self.log_tail());
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tansu_binary() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let in_cargo_home = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu"));
    match in_cargo_home {
        Ok(p) if p.exists() => p,
        _ => PathBuf::from("tansu"),
    }
}

/// Produces `records` to `topic` on the broker at `address` and waits until it has them
/// all (usable from a thread that does not own the broker).
pub fn produce(address: &str, topic: &str, records: &[Record]) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", address)
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()?;
    for r in records {
        let mut record: BaseRecord<[u8], [u8]> = BaseRecord::to(topic);
        if let Some(k) = r.key {
            record = record.key(k);
        }
        if let Some(v) = r.value {
            record = record.payload(v);
        }
        if let Some(p) = r.partition {
            record = record.partition(p);
        }
        let mut pending = record;
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((e, back)) if e.to_string().contains("Queue full") => {
                    producer.poll(Duration::from_millis(10));
                    pending = back;
                }
                Err((e, _)) => anyhow::bail!("producing to {topic}: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(())
}
