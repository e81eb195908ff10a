//! `x [NOT] IN (SELECT ...)`, `x op ANY (SELECT ...)` and `x op ALL (SELECT ...)` where
//! they are values rather than AND-ed WHERE tests (in a select list, under OR, inside
//! CASE): each becomes two counting scalar subqueries over the subquery's rows, how many
//! compare decisively (true for IN/ANY, false for ALL) and how many compare NULL, which
//! together give SQL's three-valued answer. The counts read `x` from the outer row, so
//! they are planned as correlated scalar subqueries (over the distinct values of `x`'s
//! columns), and a view using them is maintained incrementally like any other join.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr, Query, SelectItem, SetExpr};

use crate::expr::object_name;
use eddy_expr::AggregateFunc;

/// The FROM name and column under which the counting subqueries read the subquery's rows.
const ROWS: &str = "?quantified?";
const VALUE: &str = "?value?";

/// Which rows decide the answer.
#[derive(Clone, Copy)]
enum Quantifier {
    /// `IN`, `op ANY`: true if some row compares true.
    Any,
    /// `op ALL`: false if some row compares false.
    All,
}

/// A quantified comparison split into its two counting subqueries.
pub(crate) struct AsCounts {
    /// Rows that compare true (ANY) or false (ALL).
    pub decisive: Query,
    /// Rows that compare NULL.
    pub unknown: Query,
    pub answer: Answer,
}

/// How the two counts give the comparison's value.
#[derive(Clone, Copy)]
pub(crate) struct Answer {
    quantifier: Quantifier,
    negated: bool,
}

/// `e` (`x [NOT] IN (query)`, `x op ANY (query)`, `x op ALL (query)`) as counts, when it
/// can be: `query` must have one column (named in its select list, not `*`) and `x` must
/// read only the outer row's columns (no aggregates, window functions, subqueries or
/// volatile functions, which would change meaning inside the counting subqueries).
pub(crate) fn as_counts(e: &Expr) -> Option<AsCounts> {
    let (x, op, query, quantifier, negated) = match e {
        Expr::In { expr, target: ast::InTarget::Subquery(query), negated, .. } => {
            (expr, &ast::BinaryOperator::Eq, query, Quantifier::Any, *negated)
        }
        Expr::AnyOp { left, compare_op, right, .. } => match &**right {
            Expr::Subquery(query) => (left, compare_op, query, Quantifier::Any, false),
            _ => return None,
        },
        Expr::AllOp { left, compare_op, right } => match &**right {
            Expr::Subquery(query) => (left, compare_op, query, Quantifier::All, false),
            _ => return None,
        },
        _ => return None,
    };
    if !has_one_column(query) || !reads_only_columns(x) {
        return None;
    }
    let comparison = format!("({x}) {op} \"{ROWS}\".\"{VALUE}\"");
    let decisive_truth = match quantifier {
        Quantifier::Any => "TRUE",
        Quantifier::All => "FALSE",
    };
    let counting = |condition: &str| -> Option<Query> {
        let sql = format!("SELECT count(*) FROM ({query}) AS \"{ROWS}\"(\"{VALUE}\") WHERE {condition}");
        sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_query())
            .ok()
            .map(|q| *q)
    };
    Some(AsCounts {
        decisive: counting(&format!("({comparison}) IS {decisive_truth}"))?,
        unknown: counting(&format!("({comparison}) IS NULL"))?,
        answer: Answer { quantifier, negated },
    })
}

impl Answer {
    /// The value from the two counts (as the expressions that read them):
    /// `CASE WHEN decisive > 0 THEN <decided> WHEN unknown > 0 THEN NULL ELSE <not decided> END`,
    /// negated for NOT IN.
    pub fn over(self, decisive: Expr, unknown: Expr) -> Expr {
        let positive = |count: Expr| Expr::BinaryOp {
            left: Box::new(count),
            op: ast::BinaryOperator::Gt,
            right: Box::new(Expr::value(ast::Value::Number("0".into(), false))),
        };
        let decided = matches!(self.quantifier, Quantifier::Any);
        let answer = Expr::Case {
            case_token: ast::helpers::attached_token::AttachedToken::empty(),
            end_token: ast::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![
                ast::CaseWhen { condition: positive(decisive), result: Expr::value(ast::Value::Boolean(decided)) },
                ast::CaseWhen { condition: positive(unknown), result: Expr::value(ast::Value::Null) },
            ],
            else_result: Some(Box::new(Expr::value(ast::Value::Boolean(!decided)))),
        };
        let answer = Expr::Nested(Box::new(answer));
        if self.negated {
            Expr::Nested(Box::new(Expr::UnaryOp { op: ast::UnaryOperator::Not, expr: Box::new(answer) }))
        } else {
            answer
        }
    }
}

/// Whether `query` produces exactly one column, as far as its text shows.
fn has_one_column(query: &Query) -> bool {
    fn body_has_one(body: &SetExpr) -> bool {
        match body {
            SetExpr::Select(s) => {
                matches!(s.projection.as_slice(), [SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }])
            }
            SetExpr::Query(q) => body_has_one(&q.body),
            SetExpr::SetOperation { left, .. } => body_has_one(left),
            SetExpr::Values(v) => v.rows.first().is_some_and(|r| r.len() == 1),
            _ => false,
        }
    }
    body_has_one(&query.body)
}

/// Whether `e` reads nothing but column values and constants: evaluating it inside the
/// counting subqueries then gives what evaluating it on the outer row gives.
fn reads_only_columns(e: &Expr) -> bool {
    const VOLATILE: &[&str] = &["random", "nextval", "currval", "setval", "gen_random_uuid", "clock_timestamp"];
    let visited = ast::visit_expressions(e, |e| match e {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::In { target: ast::InTarget::Subquery(_), .. } => {
            ControlFlow::Break(())
        }
        Expr::Function(f) => {
            let name = object_name(&f.name);
            if f.over.is_some() || AggregateFunc::is_aggregate_name(&name) || VOLATILE.contains(&name.as_str()) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        _ => ControlFlow::Continue(()),
    });
    visited.is_continue()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(sql: &str) -> Expr {
        crate::parse_rewritten_expr(sql).expect("test SQL parses")
    }

    #[test]
    fn rewrites_only_one_column_subqueries_over_plain_left_sides() {
        assert!(as_counts(&expr("c IN (SELECT name FROM t)")).is_some());
        assert!(as_counts(&expr("c + 1 > ALL (SELECT n FROM t UNION SELECT 3)")).is_some());
        assert!(as_counts(&expr("c IN (SELECT * FROM t)")).is_none());
        assert!(as_counts(&expr("c IN (SELECT a, b FROM t)")).is_none());
        assert!(as_counts(&expr("count(*) IN (SELECT n FROM t)")).is_none());
        assert!(as_counts(&expr("random() < ANY (SELECT n FROM t)")).is_none());
        assert!(as_counts(&expr("c = ANY (ARRAY[1, 2])")).is_none());
    }

    #[test]
    fn not_in_negates_the_any_answer() {
        let counts = as_counts(&expr("c NOT IN (SELECT name FROM t)")).expect("rewritten");
        let text = counts.answer.over(expr("d"), expr("u")).to_string();
        assert_eq!(text, "(NOT (CASE WHEN d > 0 THEN true WHEN u > 0 THEN NULL ELSE false END))");
        assert!(counts.unknown.to_string().ends_with("IS NULL"), "{}", counts.unknown);
    }
}
