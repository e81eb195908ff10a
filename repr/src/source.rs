//! What a source is: where its data comes from, how messages decode and how they apply.
//!
//! The planner builds a [`SourceSpec`] from `CREATE SOURCE`; storage runs it. The types
//! live here, below both, because both must agree on them and neither may import the other.

use std::time::Duration;

use crate::RelationDesc;

/// A source's origin, decoding and output relations.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    Kafka(KafkaSourceSpec),
    LoadGenerator(LoadGeneratorSpec),
}

/// Where to connect to Kafka. Secret values are resolved by the server before storage
/// sees them and are never printed (see [`KafkaConnection`]'s `Debug`).
#[derive(Clone, PartialEq, Default)]
pub struct KafkaConnection {
    pub brokers: String,
    /// librdkafka settings (`security.protocol`, `sasl.mechanisms`, `sasl.username`,
    /// `ssl.ca.location`, ...) except secrets.
    pub options: Vec<(String, String)>,
    /// librdkafka settings whose values are secrets (`sasl.password`, `ssl.key.password`).
    pub secret_options: Vec<(String, String)>,
    /// Consumer group id prefix; the source's name is appended.
    pub group_id_prefix: Option<String>,
}

impl std::fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted: Vec<(&str, &str)> = self.secret_options.iter().map(|(k, _)| (k.as_str(), "<redacted>")).collect();
        f.debug_struct("KafkaConnection")
            .field("brokers", &self.brokers)
            .field("options", &self.options)
            .field("secret_options", &redacted)
            .field("group_id_prefix", &self.group_id_prefix)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KafkaSourceSpec {
    pub connection: KafkaConnection,
    pub topic: String,
    pub start_offset: StartOffset,
    /// How message keys decode (needed by `ENVELOPE UPSERT` and `INCLUDE KEY`).
    pub key_format: Option<Format>,
    pub value_format: Format,
    pub envelope: Envelope,
    /// Metadata columns appended after the value columns, in this order.
    pub include: Vec<Include>,
    /// The decoded value's columns (the source's columns minus key and metadata).
    pub value_desc: RelationDesc,
    /// The key's columns when keys decode to columns of their own.
    pub key_desc: Option<RelationDesc>,
    /// How often decoded messages are handed on as one batch.
    pub tick: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartOffset {
    Earliest,
    Latest,
}

/// How the bytes of a key or value become columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// A JSON object per message, fields matched to columns by name; or, with no
    /// columns declared, the whole document as one `jsonb` column.
    Json,
    /// One CSV line per message, fields matched to columns by position.
    Csv { delimiter: char },
    /// The message as UTF-8 text, one `text` column.
    Text,
    /// The raw bytes, one `bytea` column.
    Bytes,
    /// Avro in the Confluent wire format: each message names its writer schema's id in
    /// a schema registry; fields are matched to columns by name, as JSON's are.
    Avro(Box<AvroFormat>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvroFormat {
    /// The schema registry connection's name.
    pub connection: String,
    /// Filled in by the server from the connection (with its secret).
    pub registry: SchemaRegistry,
}

/// A Confluent-compatible schema registry. The password comes from a secret and is
/// never printed (see the `Debug` impl).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SchemaRegistry {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How decoded messages change the source's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Envelope {
    /// Every message is a new row.
    None,
    /// The key's row is replaced by the latest value; a null value (tombstone) deletes it.
    Upsert,
    /// Debezium change events: `op` c/r insert `after`, u replaces `before` by `after`,
    /// d deletes `before`.
    Debezium,
}

/// A Kafka metadata column added by `INCLUDE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    pub kind: IncludeKind,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeKind {
    Partition,
    Offset,
    Timestamp,
    Key,
}

impl IncludeKind {
    /// The column name when no `AS` is given.
    pub fn default_name(self) -> &'static str {
        match self {
            IncludeKind::Partition => "partition",
            IncludeKind::Offset => "offset",
            IncludeKind::Timestamp => "timestamp",
            IncludeKind::Key => "key",
        }
    }
}

/// A built-in generator of live data.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadGeneratorSpec {
    pub generator: LoadGenerator,
    /// How often a batch of rows is produced.
    pub tick: Duration,
    /// NEXMARK: events per second (spread over the ticks). Others ignore it.
    pub events_per_second: u64,
    /// Stop after this many ticks (COUNTER) or events (NEXMARK, AUCTION); `None` runs forever.
    pub up_to: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadGenerator {
    Counter,
    Auction,
    Nexmark,
}

impl LoadGenerator {
    pub fn name(self) -> &'static str {
        match self {
            LoadGenerator::Counter => "COUNTER",
            LoadGenerator::Auction => "AUCTION",
            LoadGenerator::Nexmark => "NEXMARK",
        }
    }
}
