//! Eddy's storage layer: sources (Kafka, load generators), their formats (with a schema
//! registry client for Avro) and envelopes.
//!
//! A source runs on a thread of its own ([`source::start`]) and hands the server batches
//! of row changes for its outputs plus the messages it could not decode; the server
//! timestamps them and feeds compute. [`durable::Store`] keeps, in RocksDB, the catalog,
//! every durable collection, and each source's offsets and upsert state. This crate must
//! never import `compute` (they meet in `server`).

pub mod avro;
pub mod codec;
pub mod decode;
pub mod durable;
pub mod envelope;
pub mod generator;
pub mod kafka;
pub mod registry;
pub mod source;

pub use source::{
    outputs, start, BatchSink, PartitionProgress, Resume, SourceBatch, SourceErrorRecord, SourceHandle, SourceState,
    SourceStatus,
};

/// Why a source could not be created or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The broker did not answer.
    #[error("{0}")]
    Connect(String),
    /// The topic is missing or not readable.
    #[error("{0}")]
    Topic(String),
    /// Settings librdkafka rejects.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Internal(String),
}
