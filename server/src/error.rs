//! `AdapterError`: every error a session can see, mapped to SQLSTATE at the pgwire edge.

use eddy_expr::EvalError;
use eddy_planner::PlanError;
use eddy_repr::ParseError;
use eddy_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("null value in column \"{column}\" of relation \"{table}\" violates not-null constraint")]
    NotNull { column: String, table: String },
    #[error("schema \"{0}\" already exists")]
    DuplicateSchema(String),
    /// ALTER TABLE making a column NOT NULL where a row has NULL.
    #[error("column \"{column}\" of relation \"{table}\" contains null values")]
    NullValues { column: String, table: String },
    #[error("{message}")]
    Dependents { message: String, detail: String },
    /// A write would give two rows equal values in a PRIMARY KEY or UNIQUE key.
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String, detail: String },
    /// ADD PRIMARY KEY / UNIQUE over rows that repeat a key.
    #[error("could not create unique index \"{index}\"")]
    UniqueViolationOnCreate { index: String, detail: String },
    /// ADD CHECK over rows for which it is false.
    #[error("check constraint \"{constraint}\" of relation \"{table}\" is violated by some row")]
    CheckViolatedByRow { constraint: String, table: String },
    #[error("{0}")]
    DuplicateConstraint(String),
    /// A row for which a CHECK constraint is false.
    #[error("new row for relation \"{table}\" violates check constraint \"{constraint}\"")]
    CheckViolation { constraint: String, table: String, detail: String },
    /// A row whose key its parent lacks, or a parent key still referenced (23503).
    #[error("{message}")]
    ForeignKeyViolation { message: String, detail: String },
    /// A FOREIGN KEY between columns of types that do not compare (42804).
    #[error("foreign key constraint \"{name}\" cannot be implemented")]
    ForeignKeyTypes { name: String, detail: String },
    /// A FOREIGN KEY that cannot be declared (no matching key, columns disagree: 42830).
    #[error("{0}")]
    InvalidForeignKey(String),
    /// TRUNCATE of a table others reference (0A000).
    #[error("cannot truncate a table referenced in a foreign key constraint")]
    TruncateReferenced { detail: String, hint: String },
    /// `table "x" does not exist` from DROP (SQLSTATE 42P01, or 42704 for other kinds).
    #[error("{0}")]
    UnknownObject(String),
    #[error("{0}")]
    WrongObjectType(String, String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnknownVariable(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("canceling statement due to statement timeout")]
    StatementTimeout,
    /// Bad COPY input: which line and what was wrong.
    #[error("{message}")]
    Copy { sqlstate: String, message: String, context: String },
    #[error("cursor \"{0}\" does not exist")]
    UnknownCursor(String),
    #[error("cursor \"{0}\" already exists")]
    DuplicateCursor(String),
    /// A definition PostgreSQL would refuse as such, e.g. a replaced view that drops a
    /// column (SQLSTATE 42P16).
    #[error("{0}")]
    InvalidObjectDefinition(String),
    /// A connection or secret that does not exist (SQLSTATE 42704).
    #[error("{0}")]
    UndefinedObject(String),
    /// A source could not start: broker unreachable, topic missing, bad settings.
    #[error(transparent)]
    Storage(#[from] eddy_storage::StorageError),
    /// The data directory could not be written: nothing of the statement was kept.
    #[error("{0}")]
    Durability(#[from] eddy_storage::durable::StoreError),
    /// A statement other than COMMIT/ROLLBACK after an error inside a transaction block.
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    /// SAVEPOINT, RELEASE or ROLLBACK TO outside a transaction block (SQLSTATE 25P01).
    #[error("{0} can only be used in transaction blocks")]
    NoTransaction(&'static str),
    #[error("savepoint \"{0}\" does not exist")]
    UnknownSavepoint(String),
    /// A transaction block changed or deleted rows another session changed since the
    /// block read them (SQLSTATE 40001: the client may retry the block).
    #[error("could not serialize access due to concurrent update")]
    SerializationFailure { detail: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdapterError {
    pub fn sqlstate(&self) -> String {
        match self {
            AdapterError::Plan(e) => e.sqlstate().to_string(),
            AdapterError::Eval(e) => e.sqlstate().to_string(),
            AdapterError::Parse(e) => e.sqlstate().to_string(),
            AdapterError::NotNull { .. } | AdapterError::NullValues { .. } => "23502".into(),
            AdapterError::DuplicateSchema(_) => "42P06".into(),
            AdapterError::Dependents { .. } => "2BP01".into(),
            AdapterError::UniqueViolation { .. } | AdapterError::UniqueViolationOnCreate { .. } => "23505".into(),
            AdapterError::CheckViolatedByRow { .. } => "23514".into(),
            AdapterError::DuplicateConstraint(_) => "42710".into(),
            AdapterError::CheckViolation { .. } => "23514".into(),
            AdapterError::ForeignKeyViolation { .. } => "23503".into(),
            AdapterError::InvalidForeignKey(_) => "42830".into(),
            AdapterError::ForeignKeyTypes { .. } => "42804".into(),
            AdapterError::TruncateReferenced { .. } => "0A000".into(),
            AdapterError::UnknownObject(_) => "42P01".into(),
            AdapterError::WrongObjectType(..) => "42809".into(),
            AdapterError::UnknownVariable(_) => "42704".into(),
            AdapterError::InvalidParameterValue(_) => "22023".into(),
            AdapterError::StatementTimeout => "57014".into(),
            AdapterError::Copy { sqlstate, .. } => sqlstate.clone(),
            AdapterError::UndefinedObject(_) => "42704".into(),
            AdapterError::InvalidObjectDefinition(_) => "42P16".into(),
            AdapterError::UnknownCursor(_) => "34000".into(),
            AdapterError::DuplicateCursor(_) => "42P03".into(),
            AdapterError::Storage(e) => match e {
                StorageError::Connect(_) => "08001",
                StorageError::Topic(_) => "42704",
                StorageError::Config(_) => "22023",
                StorageError::Internal(_) => "XX000",
            }
            .into(),
            AdapterError::Durability(e) => match e {
                eddy_storage::durable::StoreError::DiskFull { .. } => "53100".into(),
                eddy_storage::durable::StoreError::Corrupt { .. } => "XX001".into(),
                _ => "58030".into(),
            },
            AdapterError::InFailedTransaction => "25P02".into(),
            AdapterError::NoTransaction(_) => "25P01".into(),
            AdapterError::UnknownSavepoint(_) => "3B001".into(),
            AdapterError::SerializationFailure { .. } => "40001".into(),
            AdapterError::Internal(_) => "XX000".into(),
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            AdapterError::Plan(e) => e.hint(),
            AdapterError::Dependents { .. } => Some("Use DROP ... CASCADE to drop the dependent objects too.".into()),
            AdapterError::WrongObjectType(_, hint) => Some(hint.clone()),
            AdapterError::TruncateReferenced { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }

    /// Where the error happened (PostgreSQL's CONTEXT line), e.g. `COPY m, line 2`.
    pub fn detail(&self) -> Option<String> {
        match self {
            AdapterError::Dependents { detail, .. }
            | AdapterError::UniqueViolation { detail, .. }
            | AdapterError::UniqueViolationOnCreate { detail, .. }
            | AdapterError::CheckViolation { detail, .. }
            | AdapterError::ForeignKeyViolation { detail, .. }
            | AdapterError::ForeignKeyTypes { detail, .. }
            | AdapterError::TruncateReferenced { detail, .. }
            | AdapterError::SerializationFailure { detail } => Some(detail.clone()),
            _ => None,
        }
    }

    pub fn context(&self) -> Option<String> {
        match self {
            AdapterError::Copy { context, .. } => Some(context.clone()),
            _ => None,
        }
    }
}
