//! Eddy's expressions: what a plan computes, independent of how it is run.
//!
//! [`ScalarExpr`] computes one value from a row; [`func`] is the library of SQL functions,
//! operators and casts, with PostgreSQL's overload resolution. [`AggregateFunc`] folds a
//! group of values; [`window`] computes window functions over a partition. [`RelationExpr`] is a relational plan over catalog collections.
//! [`eval`] evaluates a `RelationExpr` from scratch over snapshots: it serves ad-hoc
//! queries and is the reference that incremental operators are tested against.
//!
//! This crate performs no I/O and knows nothing of dataflows, SQL text or the network.

pub mod agg;
pub mod error;
pub mod eval;
pub mod func;
pub mod partial;
pub mod pipeline;
pub mod relation;
pub mod scalar;
pub mod temporal;
pub mod window;

pub use agg::{AggOrder, AggregateExpr, AggregateFunc, BitwiseAgg, Regression};
pub use error::EvalError;
pub use func::Func;
pub use partial::PartialReduce;
pub use pipeline::{KeyRange, Pipeline, RowOp};
pub use relation::{compare_rows, ColumnOrder, RelationExpr, TableFunc};
pub use scalar::ScalarExpr;
pub use window::{Frame, FrameBound, RangeOffset, WindowExpr, WindowFunc};
