//! Eddy's storage layer: sources (Kafka, load generators), formats and envelopes, and
//! RocksDB durability of the catalog, inputs and view outputs.
//!
//! Not built yet: today tables live only in compute's in-memory arrangements and nothing
//! survives a restart (issues 4 and 5). The crate exists so the workspace shows the
//! architecture in DESIGN.md; it must never import `compute` (they meet in `server`).
