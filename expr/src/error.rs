//! `EvalError`: what can go wrong while computing a value.

use eddy_repr::ParseError;
use serde::{Deserialize, Serialize};

/// An error computing a value from data: PostgreSQL would raise it while executing the
/// query. Errors are data in dataflows (a view whose rows hit one reports it on read), so
/// they are cloneable, ordered and serializable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum EvalError {
    #[error("division by zero")]
    DivisionByZero,
    /// `integer out of range`, `bigint out of range`, `numeric field overflow`, ...
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An argument outside a function's domain, e.g. `cannot take logarithm of zero`
    /// (SQLSTATE 22023 or the function's own code).
    #[error("{message}")]
    InvalidArgument { sqlstate: String, message: String },
    /// A value that cannot be represented, e.g. a date outside the supported range.
    #[error("{0}")]
    DatetimeOverflow(String),
    /// `more than one row returned by a subquery used as an expression` (SQLSTATE 21000).
    #[error("{0}")]
    Cardinality(String),
    /// The client asked to cancel the statement (psql's Ctrl-C).
    #[error("canceling statement due to user request")]
    Canceled,
    /// A bug in Eddy, never the user's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EvalError {
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        EvalError::InvalidArgument { sqlstate: "22023".into(), message: message.into() }
    }

    /// The SQLSTATE PostgreSQL reports for this error.
    pub fn sqlstate(&self) -> &str {
        match self {
            EvalError::DivisionByZero => "22012",
            EvalError::OutOfRange(_) => "22003",
            EvalError::Parse(e) => e.sqlstate(),
            EvalError::InvalidArgument { sqlstate, .. } => sqlstate,
            EvalError::DatetimeOverflow(_) => "22008",
            EvalError::Cardinality(_) => "21000",
            EvalError::Canceled => "57014",
            EvalError::Internal(_) => "XX000",
        }
    }
}
