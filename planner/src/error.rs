//! `PlanError`: why a statement cannot be planned, with its SQLSTATE.

use eddy_expr::func::ResolveError;
use eddy_expr::EvalError;
use eddy_repr::ParseError;

/// A user error found while planning. Each variant knows its SQLSTATE.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A rule of the grammar broken, in PostgreSQL's own words (42601).
    #[error("{0}")]
    SyntaxRule(String),
    #[error("relation \"{0}\" does not exist")]
    UnknownRelation(String),
    #[error("schema \"{0}\" does not exist")]
    UnknownSchema(String),
    #[error("relation \"{0}\" already exists")]
    RelationExists(String),
    #[error("column \"{0}\" does not exist")]
    UnknownColumn(String),
    /// A qualified name: PostgreSQL prints `column t.x does not exist` without quotes.
    #[error("column {0} does not exist")]
    UnknownQualifiedColumn(String),
    /// `ORDER BY 5` / `GROUP BY 5` past the end of the select list.
    #[error("{0}")]
    InvalidColumnReference(String),
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    #[error("column \"{0}\" must appear in the GROUP BY clause or be used in an aggregate function")]
    NotGrouped(String),
    #[error("type \"{0}\" does not exist")]
    UnknownType(String),
    /// `ARRAY[]` without a cast (SQLSTATE 42P18).
    #[error("{0}")]
    IndeterminateType(String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UnknownSetting(String),
    #[error("{0}")]
    TypeMismatch(String),
    #[error("{0}")]
    Datatype(String),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// What PostgreSQL does not allow either, with its `feature_not_supported` code.
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    WrongObjectType(String),
    #[error("{message}")]
    DependentObjects { message: String, hint: String },
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Cardinality(String),
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    #[error("column \"{column}\" of relation \"{table}\" already exists")]
    ColumnExists { column: String, table: String },
    #[error("{0}")]
    Grouping(String),
    #[error("{0}")]
    Windowing(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("prepared statement \"{0}\" does not exist")]
    UnknownPrepared(String),
    #[error("prepared statement \"{0}\" already exists")]
    DuplicatePrepared(String),
    /// A malformed `WITH RECURSIVE` query (SQLSTATE 42P19).
    #[error("{0}")]
    InvalidRecursion(String),
    /// A constraint (or other object) whose name is taken.
    #[error("{0}")]
    DuplicateObject(String),
    #[error("multiple primary keys for table \"{0}\" are not allowed")]
    MultiplePrimaryKeys(String),
}

impl PlanError {
    pub fn sqlstate(&self) -> &str {
        match self {
            PlanError::Syntax(_) | PlanError::SyntaxRule(_) => "42601",
            PlanError::UnknownRelation(_) => "42P01",
            PlanError::UnknownSchema(_) => "3F000",
            PlanError::RelationExists(_) => "42P07",
            PlanError::UnknownColumn(_) | PlanError::UnknownQualifiedColumn(_) => "42703",
            PlanError::InvalidColumnReference(_) => "42P10",
            PlanError::AmbiguousColumn(_) => "42702",
            PlanError::NotGrouped(_) | PlanError::Grouping(_) => "42803",
            PlanError::Windowing(_) => "42P20",
            PlanError::UnknownType(_) => "42704",
            PlanError::IndeterminateType(_) => "42P18",
            PlanError::UnknownSetting(_) => "42704",
            PlanError::TypeMismatch(_) => "42804",
            PlanError::Datatype(_) => "42804",
            PlanError::Resolve(e) => e.sqlstate(),
            PlanError::Parse(e) => e.sqlstate(),
            PlanError::Eval(e) => e.sqlstate(),
            PlanError::Unsupported(_) | PlanError::NotAllowed(_) => "0A000",
            PlanError::WrongObjectType(_) => "42809",
            PlanError::DependentObjects { .. } => "2BP01",
            PlanError::InvalidParameter(_) => "22023",
            PlanError::Cardinality(_) => "42601",
            PlanError::DuplicateColumn(_) | PlanError::ColumnExists { .. } => "42701",
            PlanError::InvalidName(_) => "42602",
            PlanError::MultiplePrimaryKeys(_) => "42P16",
            PlanError::InvalidRecursion(_) => "42P19",
            PlanError::UnknownPrepared(_) => "26000",
            PlanError::DuplicatePrepared(_) => "42P05",
            PlanError::DuplicateObject(_) => "42710",
        }
    }

    /// A hint telling the user how to fix the error, when one is known.
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::DependentObjects { hint, .. } => Some(hint.clone()),
            PlanError::Resolve(ResolveError::NoSuchFunction { .. }) => Some(
                "No function matches the given name and argument types. You might need to add explicit type casts."
                    .into(),
            ),
            PlanError::Resolve(ResolveError::NoSuchOperator(_)) => Some(
                "No operator matches the given name and argument types. You might need to add explicit type casts."
                    .into(),
            ),
            PlanError::UnknownRelation(_) => {
                Some("SHOW TABLES, SHOW VIEWS and SHOW MATERIALIZED VIEWS list what exists.".into())
            }
            PlanError::IndeterminateType(_) => {
                Some("Explicitly cast to the desired type, for example ARRAY[]::integer[].".into())
            }
            _ => None,
        }
    }
}
