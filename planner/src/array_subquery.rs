//! `ARRAY(SELECT ...)`: the subquery's values as an array (`{}` when it has no rows),
//! rewritten before planning into a scalar subquery over `array_agg`, which the planner
//! already plans correlated or not. The subquery's ORDER BY becomes the aggregate's.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArguments, GroupByExpr, Ident, OrderByKind, Query, SelectItem, SetExpr, Statement, Value, Visit,
    VisitMut, Visitor, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::PlanError;

fn array_subquery(e: &Expr) -> Option<&Query> {
    let Expr::Function(f) = e else { return None };
    match &f.args {
        FunctionArguments::Subquery(q) if f.name.to_string().eq_ignore_ascii_case("array") => Some(q),
        _ => None,
    }
}

/// `stmt` with its `ARRAY(subquery)` expressions rewritten, or `None` when it has none.
pub fn rewrite(stmt: &Statement) -> Result<Option<Statement>, PlanError> {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if array_subquery(e).is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    struct Rewriter;
    impl VisitorMut for Rewriter {
        type Break = PlanError;
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<PlanError> {
            keep_column_names(q, |e| array_subquery(e).is_some());
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<PlanError> {
            let Some(query) = array_subquery(e) else { return ControlFlow::Continue(()) };
            match aggregated(query) {
                Ok(new) => {
                    *e = new;
                    ControlFlow::Continue(())
                }
                Err(err) => ControlFlow::Break(err),
            }
        }
    }
    if stmt.visit(&mut Finder).is_continue() {
        return Ok(None);
    }
    let mut stmt = stmt.clone();
    match VisitMut::visit(&mut stmt, &mut Rewriter) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(Some(stmt)),
    }
}

/// Gives select-list items about to be rewritten (`rewritten(e)`) the column name they had
/// as written (`array`, `oid`, ...), unless they have an alias already.
pub(crate) fn keep_column_names(query: &mut Query, rewritten: impl Fn(&Expr) -> bool) {
    let SetExpr::Select(select) = &mut *query.body else { return };
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(e) = item {
            if rewritten(e) {
                let alias = Ident::with_quote('"', crate::expr::column_name(e));
                *item = SelectItem::ExprWithAlias { expr: e.clone(), alias };
            }
        }
    }
}

/// `COALESCE((SELECT array_agg(value ORDER BY ...) FROM ... WHERE ...), '{}')`.
fn aggregated(query: &Query) -> Result<Expr, PlanError> {
    let simple = match &*query.body {
        SetExpr::Select(select)
            if select.projection.len() == 1
                && select.distinct.is_none()
                && select.having.is_none()
                && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
                && query.limit_clause.is_none()
                && query.fetch.is_none() =>
        {
            Some(select)
        }
        _ => None,
    };
    let Some(select) = simple else {
        // Anything else is aggregated whole, from a derived table (uncorrelated only).
        return parse_expr(&format!(
            "COALESCE((SELECT pg_catalog.array_agg(\"?element?\") FROM ({query}) AS \"?array?\"(\"?element?\")), '{{}}')"
        ));
    };
    let (value, alias) = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) => (e.clone(), None),
        SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.value.to_lowercase())),
        other => return Err(PlanError::Syntax(format!("ARRAY(subquery) must select one value, not {other}"))),
    };
    let mut order = Vec::new();
    if let Some(order_by) = &query.order_by {
        let OrderByKind::Expressions(items) = &order_by.kind else {
            return Err(PlanError::Unsupported("ORDER BY ALL in ARRAY(subquery)".into()));
        };
        for item in items {
            let refers_to_value = match &item.expr {
                Expr::Value(v) => matches!(&v.value, Value::Number(n, _) if n == "1"),
                Expr::Identifier(i) => alias.as_deref() == Some(i.value.to_lowercase().as_str()),
                _ => false,
            };
            let key = if refers_to_value { &value } else { &item.expr };
            order.push(format!("{key} {}", item.options));
        }
    }
    let order = if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
    let mut select = (**select).clone();
    select.projection = vec![SelectItem::UnnamedExpr(parse_expr(&format!("pg_catalog.array_agg({value}{order})"))?)];
    let with = query.with.as_ref().map(|w| format!("{w} ")).unwrap_or_default();
    parse_expr(&format!("COALESCE(({with}{select}), '{{}}')"))
}

fn parse_expr(sql: &str) -> Result<Expr, PlanError> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| PlanError::Syntax(format!("rewriting ARRAY(subquery): {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().remove(0);
        rewrite(&stmt).unwrap().expect("rewritten").to_string()
    }

    #[test]
    fn the_subquery_order_becomes_the_aggregate_order() {
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT name AS n FROM r WHERE r.id = t.id ORDER BY n DESC) FROM t"),
            "SELECT COALESCE((SELECT pg_catalog.array_agg(name ORDER BY name DESC) FROM r WHERE r.id = t.id), '{}') AS \"array\" FROM t"
        );
        assert!(rewritten("SELECT ARRAY(SELECT a FROM x UNION SELECT b FROM y)").contains("AS \"?array?\""));
    }
}
