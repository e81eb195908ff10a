//! SQL text to typed Eddy plans.
//!
//! [`parse`] turns SQL text into statements (sqlparser, PostgreSQL dialect); [`plan`] turns
//! one statement into a [`Plan`] against a read-only view of the catalog ([`Catalog`]):
//! names resolved, types checked and coerced as PostgreSQL would, queries lowered to
//! [`eddy_expr::RelationExpr`]. Errors carry SQLSTATE codes ([`PlanError`]).
//!
//! The planner performs no I/O and holds no state: everything it needs is passed in.

pub mod catalog;
pub mod error;
mod expr;
pub mod plan;
mod query;
mod scope;
mod statement;
pub mod types;

pub use catalog::{Catalog, CatalogItem, ItemKind};
pub use error::PlanError;
pub use plan::{
    ColumnOrder, CopyFormat, ObjectKind, Plan, QueryPlan, RowSetFinishing, ShowKind, StatementContext, UniqueKey,
};
pub use sqlparser::ast::Statement;
pub use statement::plan;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Parses SQL text into statements. An empty or comment-only string yields no statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>, PlanError> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| PlanError::Syntax(e.to_string()))
}
