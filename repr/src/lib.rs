//! Eddy's fundamental data representation.
//!
//! Every other crate speaks in these types: a [`Datum`] is one SQL value, a [`Row`] a tuple
//! of them (a [`PackedRow`] the same tuple as bytes, as dataflows hold it), a [`ScalarType`] the SQL type of a column and a [`RelationDesc`] the names and
//! types of a relation's columns. [`Timestamp`] and [`Diff`] are the time and multiplicity
//! of differential updates. [`strconv`] holds PostgreSQL's exact text forms of every type.
//!
//! This crate owns no I/O and depends on no other Eddy crate.

pub mod datum;
pub mod interval;
pub mod jsonb;
pub mod packed;
pub mod relation;
pub mod row;
pub mod scalar;
pub mod source;
pub mod strconv;

pub use datum::Datum;
pub use interval::Interval;
pub use jsonb::Jsonb;
pub use packed::{PackedRef, PackedRow};
pub use relation::{ColumnType, RelationDesc};
pub use row::Row;
pub use scalar::ScalarType;
pub use strconv::ParseError;

/// Logical time of an update: milliseconds since the Unix epoch, from the coordinator's
/// timestamp oracle.
pub type Timestamp = u64;

/// Multiplicity change of an update: +1 insert, -1 delete, or any accumulated count.
pub type Diff = i64;

/// Stable identifier of a catalog object (table, view, source).
pub type GlobalId = u64;
