//! `x [NOT] IN (SELECT ...)`, `x op ANY (SELECT ...)` and `x op ALL (SELECT ...)` where
//! they are values rather than AND-ed WHERE tests (in a select list, under OR, inside
//! CASE): each becomes two counting scalar subqueries over the subquery's rows, how many
//! compare decisively (true for IN/ANY, false for ALL) and how many compare NULL, which
//! together give SQL's three-valued answer. The counts read `x` from the outer row, so
//! they are planned as correlated scalar subqueries (over the distinct values of `x`'s
//! columns), and a view using them is maintained incrementally like any other join.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr, Query, SelectItem, SetExpr};

use crate::expr::{normalize_ident, object_name};
use crate::query::{has_group_by, plan_table_with_joins, QueryCtx};
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
    /// Counted in the subquery's own FROM (may be correlated), not as a derived table.
    pub in_place: bool,
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
///
/// A plain `SELECT v FROM f WHERE w` (which may read the outer query: correlated) is
/// counted in place, `SELECT count(*) FROM f WHERE w AND (x op v) IS ...`, when no column
/// of `f` could capture a name in `x`; anything else is counted as a derived table,
/// `SELECT count(*) FROM (query) AS q(v) WHERE (x op q.v) IS ...`, which must then be
/// uncorrelated.
pub(crate) fn as_counts(qcx: &QueryCtx, e: &Expr) -> Option<AsCounts> {
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
    let decisive_truth = match quantifier {
        Quantifier::Any => "TRUE",
        Quantifier::All => "FALSE",
    };
    let in_place = countable_in_place(qcx, query, x);
    Some(AsCounts {
        decisive: counting(query, in_place, x, op, decisive_truth)?,
        unknown: counting(query, in_place, x, op, "NULL")?,
        answer: Answer { quantifier, negated },
        in_place: in_place.is_some(),
    })
}

/// `SELECT count(*)` of the rows of `query` for which `(x op value) IS truth`: in the
/// subquery's own FROM when `in_place` gives its SELECT and value, else over it as a
/// derived table.
fn counting(
    query: &Query,
    in_place: Option<(&ast::Select, &Expr)>,
    x: &Expr,
    op: &ast::BinaryOperator,
    truth: &str,
) -> Option<Query> {
    let Some((select, value)) = in_place else {
        let sql = format!(
            "SELECT count(*) FROM ({query}) AS \"{ROWS}\"(\"{VALUE}\") WHERE (({x}) {op} \"{ROWS}\".\"{VALUE}\") IS {truth}"
        );
        return sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_query())
            .ok()
            .map(|q| *q);
    };
    let mut counting = select.clone();
    counting.projection = vec![SelectItem::UnnamedExpr(crate::parse_rewritten_expr("count(*)").ok()?)];
    counting.distinct = None;
    let test = crate::parse_rewritten_expr(&format!("(({x}) {op} ({value})) IS {truth}")).ok()?;
    counting.selection = Some(match counting.selection.take() {
        Some(w) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(w))),
            op: ast::BinaryOperator::And,
            right: Box::new(test),
        },
        None => test,
    });
    let mut q = query.clone();
    *q.body = SetExpr::Select(Box::new(counting));
    q.order_by = None;
    Some(q)
}

/// The SELECT of `query` and its one value, if `query` is a plain `SELECT v FROM ... WHERE
/// ...` (no grouping, aggregates, windows, LIMIT or WITH: counting its FROM rows that pass
/// counts its rows) and no column of its FROM can capture a name `x` reads.
fn countable_in_place<'q>(qcx: &QueryCtx, query: &'q Query, x: &Expr) -> Option<(&'q ast::Select, &'q Expr)> {
    let SetExpr::Select(select) = query.body.as_ref() else { return None };
    let [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] = select.projection.as_slice()
    else {
        return None;
    };
    let plain = query.with.is_none()
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && !has_group_by(select)
        && select.having.is_none()
        && select.named_window.is_empty()
        && !matches!(select.distinct, Some(ast::Distinct::On(_)))
        && reads_only_columns(value);
    if !plain || select.from.is_empty() {
        return None;
    }
    let mut inner_columns = Vec::new();
    for twj in &select.from {
        let planned = plan_table_with_joins(qcx, twj).ok()?;
        inner_columns.extend(planned.scope.columns);
    }
    let mut captured = false;
    let _ = ast::visit_expressions(x, |e| {
        captured |= match e {
            Expr::Identifier(id) => {
                let name = normalize_ident(id);
                inner_columns.iter().any(|c| c.name == name)
            }
            Expr::CompoundIdentifier(parts) => parts.iter().rev().nth(1).is_some_and(|table| {
                let table = normalize_ident(table);
                inner_columns.iter().any(|c| c.table.as_deref() == Some(table.as_str()))
            }),
            _ => false,
        };
        ControlFlow::<()>::Continue(())
    });
    (!captured).then_some((select, value))
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

    fn subquery(sql: &str) -> Query {
        match expr(&format!("({sql})")) {
            Expr::Subquery(q) => *q,
            other => panic!("{other} is not a subquery"),
        }
    }

    #[test]
    fn only_one_named_column_and_plain_left_sides_qualify() {
        assert!(has_one_column(&subquery("SELECT name FROM t")));
        assert!(has_one_column(&subquery("SELECT n FROM t UNION SELECT 3")));
        assert!(!has_one_column(&subquery("SELECT * FROM t")));
        assert!(!has_one_column(&subquery("SELECT a, b FROM t")));
        assert!(reads_only_columns(&expr("c + 1")));
        assert!(!reads_only_columns(&expr("count(*)")));
        assert!(!reads_only_columns(&expr("random()")));
        assert!(!reads_only_columns(&expr("sum(c) OVER ()")));
    }

    #[test]
    fn answers_follow_three_valued_logic() {
        let any = Answer { quantifier: Quantifier::Any, negated: true };
        assert_eq!(
            any.over(expr("d"), expr("u")).to_string(),
            "(NOT (CASE WHEN d > 0 THEN true WHEN u > 0 THEN NULL ELSE false END))"
        );
        let all = Answer { quantifier: Quantifier::All, negated: false };
        assert_eq!(
            all.over(expr("d"), expr("u")).to_string(),
            "(CASE WHEN d > 0 THEN false WHEN u > 0 THEN NULL ELSE true END)"
        );
    }
}
