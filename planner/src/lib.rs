//! SQL text to typed Eddy plans.
//!
//! [`parse`] turns SQL text into statements (sqlparser, PostgreSQL dialect); [`plan`] turns
//! one statement into a [`Plan`] against a read-only view of the catalog ([`Catalog`]):
//! names resolved, types checked and coerced as PostgreSQL would, queries lowered to
//! [`eddy_expr::RelationExpr`]. Errors carry SQLSTATE codes ([`PlanError`]).
//!
//! The planner performs no I/O and holds no state: everything it needs is passed in.

mod alter;
mod array_subquery;
mod bulk_insert;
pub mod catalog;
mod correlated;
pub mod ddl;
pub mod error;
mod expr;
mod object_ids;
pub mod plan;
pub mod prepared;
mod quantified;
mod query;
mod recursive;
mod scope;
pub mod sequence;
mod statement;
pub mod types;
mod windowing;
mod written_ctes;

pub use bulk_insert::BulkInsert;
pub use catalog::{Catalog, CatalogItem, ItemKind};
pub use eddy_expr::func::quote_ident;
pub use error::PlanError;
pub use expr::normalize_ident;
pub use plan::{
    CheckConstraint, ColumnOrder, ConflictAction, ConflictTarget, CopyFormat, ForeignKeySpec, Lag, ObjectKind,
    OnConflict, Plan, QueryPlan, ReferentialAction, RefreshMode, RenameTarget, RowSetFinishing, ShowKind,
    StatementContext, SubscribePlanTarget, TargetLag, UniqueKey,
};
pub use statement::{alter_target_lag_sql, identity_generation, is_numbering, plan, renamed_view_sql};
pub use written_ctes::{data_modifying_ctes, WrittenCte};

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Parses an expression the planner wrote itself (a rewrite before planning).
pub(crate) fn parse_rewritten_expr(sql: &str) -> Result<sqlparser::ast::Expr, PlanError> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| PlanError::Syntax(format!("planning the rewritten expression {sql}: {e}")))
}
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

/// One parsed statement: PostgreSQL's, or Eddy's own DDL (already planned, as it needs no
/// catalog).
#[derive(Clone, Debug)]
pub enum Statement {
    Sql(Box<sqlparser::ast::Statement>),
    /// A long `INSERT ... VALUES` of plain literals, its rows kept out of the AST.
    BulkInsert(Box<bulk_insert::BulkInsert>),
    Eddy(Box<Plan>),
    /// `SUBSCRIBE` (also inside `COPY (...) TO STDOUT`): planned against the catalog.
    Subscribe(Box<ddl::SubscribeStatement>),
    /// `DECLARE ... CURSOR FOR SUBSCRIBE`, `FETCH`, `CLOSE`: run by the session.
    Cursor(Box<ddl::CursorStatement>),
}

impl Statement {
    /// COMMIT and ROLLBACK (also TO SAVEPOINT): what a failed transaction block accepts.
    pub fn ends_failed_transaction(&self) -> bool {
        matches!(self, Statement::Sql(s) if matches!(**s, sqlparser::ast::Statement::Commit { .. } | sqlparser::ast::Statement::Rollback { .. }))
    }
}

/// Parses SQL text into statements. An empty or comment-only string yields no statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>, PlanError> {
    match bulk_insert::parse(sql) {
        Some(insert) => Ok(vec![insert]),
        None => parse_in_full(sql),
    }
}

/// [`parse`] through sqlparser, whatever the statement.
fn parse_in_full(sql: &str) -> Result<Vec<Statement>, PlanError> {
    let syntax = |e: sqlparser::parser::ParserError| PlanError::Syntax(e.to_string());
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokenize(&dialect, sql)?);
    let mut stmts = Vec::new();
    loop {
        while parser.consume_token(&Token::SemiColon) {}
        if parser.peek_token().token == Token::EOF {
            return Ok(stmts);
        }
        if ddl::starts_alter_refresh(&parser) {
            stmts.push(Statement::Eddy(Box::new(ddl::parse_alter_refresh(&mut parser)?)));
        } else if ddl::starts_dynamic_table(&parser) {
            let view = ddl::rewrite_dynamic_table(&mut parser, |from, to| slice(sql, from, to).to_string())?;
            let mut parsed = Parser::new(&dialect)
                .with_tokens_with_locations(tokenize(&dialect, &view)?)
                .parse_statements()
                .map_err(syntax)?;
            let stmt = parsed.pop().ok_or_else(|| PlanError::Syntax("empty dynamic table".into()))?;
            stmts.push(Statement::Sql(Box::new(stmt)));
        } else if ddl::starts_cursor(&parser) {
            stmts.push(Statement::Cursor(Box::new(ddl::parse_cursor(&mut parser)?)));
        } else if ddl::starts_subscribe(&parser) {
            stmts.push(Statement::Subscribe(Box::new(ddl::parse_subscribe(&mut parser)?)));
        } else if ddl::starts_here(&parser) {
            let start = parser.peek_token().span.start;
            let mut plan = ddl::parse(&mut parser)?;
            parser.prev_token();
            let end = parser.next_token().span.end;
            if let Plan::CreateSource { create_sql, .. } | Plan::CreateConnection { create_sql, .. } = &mut plan {
                *create_sql = slice(sql, start, end).to_string();
            }
            stmts.push(Statement::Eddy(Box::new(plan)));
        } else if starts_table_query(&parser) {
            // `TABLE t` as a statement of its own (sqlparser reads it only inside queries).
            let query = parser.parse_query().map_err(syntax)?;
            stmts.push(Statement::Sql(Box::new(sqlparser::ast::Statement::Query(query))));
        } else {
            stmts.push(Statement::Sql(Box::new(parser.parse_statement().map_err(syntax)?)));
        }
        let next = parser.peek_token();
        if next.token != Token::SemiColon && next.token != Token::EOF {
            return Err(syntax(parser.expected::<()>("end of statement", next).unwrap_err()));
        }
    }
}

fn starts_table_query(parser: &Parser) -> bool {
    matches!(&parser.peek_token().token, Token::Word(w) if w.keyword == sqlparser::keywords::Keyword::TABLE)
}

/// The tokens of `sql`, with `top` right after `SELECT [DISTINCT | ALL]` and not followed
/// by a number or `(` made a plain name: sqlparser reads SQL Server's `SELECT TOP n` in
/// every dialect, so PostgreSQL's `SELECT top FROM t` (a column named top) would not parse.
fn tokenize(dialect: &PostgreSqlDialect, sql: &str) -> Result<Vec<TokenWithSpan>, PlanError> {
    use sqlparser::keywords::Keyword;
    let mut tokens = sqlparser::tokenizer::Tokenizer::new(dialect, sql)
        .tokenize_with_location()
        .map_err(|e| PlanError::Syntax(e.to_string()))?;
    let significant: Vec<usize> =
        (0..tokens.len()).filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_))).collect();
    let keyword = |i: usize| match &tokens[i].token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let plain_top: Vec<usize> = significant
        .windows(3)
        .filter(|w| {
            matches!(keyword(w[0]), Some(Keyword::SELECT | Keyword::DISTINCT | Keyword::ALL))
                && keyword(w[1]) == Some(Keyword::TOP)
                && !matches!(tokens[w[2]].token, Token::Number(..) | Token::LParen)
        })
        .map(|w| w[1])
        .collect();
    // `FOR NO KEY UPDATE` and `FOR KEY SHARE`, which sqlparser does not know, lock no
    // more than `FOR UPDATE` / `FOR SHARE` here (Eddy takes no row locks): read them so.
    let mut weaker_locks: Vec<usize> = Vec::new();
    for w in significant.windows(4) {
        match (keyword(w[0]), keyword(w[1]), keyword(w[2]), keyword(w[3])) {
            (Some(Keyword::FOR), Some(Keyword::NO), Some(Keyword::KEY), Some(Keyword::UPDATE)) => {
                weaker_locks.extend([w[1], w[2]])
            }
            (Some(Keyword::FOR), Some(Keyword::KEY), Some(Keyword::SHARE), _) => weaker_locks.push(w[1]),
            _ => {}
        }
    }
    for i in plain_top {
        if let Token::Word(w) = &mut tokens[i].token {
            w.keyword = Keyword::NoKeyword;
        }
    }
    for i in weaker_locks.into_iter().rev() {
        tokens.remove(i);
    }
    Ok(mark_symmetric_between(tokens))
}

/// The function that marks the lower bound of `BETWEEN SYMMETRIC`, which sqlparser does
/// not know: `x BETWEEN SYMMETRIC a AND b` is parsed as `x BETWEEN
/// eddy_between_symmetric(a) AND b`, and planned as PostgreSQL defines it (see
/// `expr::plan_expr`). `BETWEEN ASYMMETRIC` is plain `BETWEEN`.
pub(crate) const SYMMETRIC_MARK: &str = "eddy_between_symmetric";

fn mark_symmetric_between(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    use sqlparser::keywords::Keyword;
    let keyword = |t: &TokenWithSpan| match &t.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let mut i = 0;
    while i < tokens.len() {
        if keyword(&tokens[i]) != Some(Keyword::BETWEEN) {
            i += 1;
            continue;
        }
        let Some(next) = (i + 1..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_))) else {
            break;
        };
        match keyword(&tokens[next]) {
            Some(Keyword::ASYMMETRIC) => {
                tokens[next].token = Token::Whitespace(sqlparser::tokenizer::Whitespace::Space)
            }
            Some(Keyword::SYMMETRIC) => {
                // The AND that ends the lower bound: the first at this nesting that no
                // BETWEEN or CASE inside the bound claims.
                let (mut depth, mut pending) = (0i32, 0i32);
                let end = (next + 1..tokens.len()).find(|&j| {
                    match (&tokens[j].token, keyword(&tokens[j])) {
                        (Token::LParen | Token::LBracket, _) => depth += 1,
                        (Token::RParen | Token::RBracket, _) => depth -= 1,
                        (_, Some(Keyword::BETWEEN | Keyword::CASE)) if depth == 0 => pending += 1,
                        (_, Some(Keyword::END)) if depth == 0 => pending -= 1,
                        (_, Some(Keyword::AND)) if depth == 0 && pending > 0 => pending -= 1,
                        (_, Some(Keyword::AND)) if depth == 0 => return true,
                        _ => {}
                    }
                    false
                });
                if let Some(end) = end {
                    let span = tokens[next].span;
                    tokens.insert(end, TokenWithSpan::new(Token::RParen, tokens[end].span));
                    tokens[next] = TokenWithSpan::new(Token::make_word(SYMMETRIC_MARK, None), span);
                    tokens.insert(next + 1, TokenWithSpan::new(Token::LParen, span));
                }
            }
            _ => {}
        }
        i = next;
    }
    tokens
}

/// The text of `sql` from `start` to `end` (sqlparser's 1-based line and column).
fn slice(sql: &str, start: Location, end: Location) -> &str {
    let (from, to) = (byte_offset(sql, start), byte_offset(sql, end));
    sql.get(from..to.max(from)).unwrap_or(sql)
}

/// Where the tokenizer's `loc` (1-based line and character) is in `sql`, in bytes.
fn byte_offset(sql: &str, loc: Location) -> usize {
    let line_start: usize = sql.split_inclusive('\n').take(loc.line.saturating_sub(1) as usize).map(str::len).sum();
    let line = &sql[line_start..];
    line_start + line.char_indices().nth(loc.column.saturating_sub(1) as usize).map_or(line.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select_items(sql: &str) -> Vec<String> {
        let parsed = parse(sql);
        let Ok([Statement::Sql(stmt)]) = parsed.as_deref() else { panic!("{sql} parses as one statement") };
        let sqlparser::ast::Statement::Query(q) = stmt.as_ref() else { panic!("{sql} is a query") };
        let sqlparser::ast::SetExpr::Select(select) = q.body.as_ref() else { panic!("{sql} is a SELECT") };
        assert!(select.top.is_none(), "{sql} has no TOP clause");
        select.projection.iter().map(|item| item.to_string()).collect()
    }

    #[test]
    fn a_column_named_top_is_a_column() {
        assert_eq!(select_items("SELECT top FROM t"), ["top"]);
        assert_eq!(select_items("SELECT DISTINCT top, x FROM t"), ["top", "x"]);
        assert_eq!(select_items("select ALL top + 1 AS n"), ["top + 1 AS n"]);
        // `TOP n` is SQL Server's: still read as sqlparser reads it, not as a column.
        let parsed = parse("SELECT TOP 5 x FROM t");
        let Ok([Statement::Sql(stmt)]) = parsed.as_deref() else { panic!("parses") };
        assert!(stmt.to_string().contains("TOP 5"));
    }

    #[test]
    fn names_are_quoted_where_sql_needs_it() {
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("Total"), "\"Total\"");
        assert_eq!(quote_ident("a b\"c"), "\"a b\"\"c\"");
    }
}
