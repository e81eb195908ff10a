//! `ARRAY(SELECT ...)`: the subquery's values as an array (`{}` when it has no rows),
//! rewritten before planning into a scalar subquery over `array_agg`, which the planner
//! already plans correlated or not. The subquery's ORDER BY becomes the aggregate's.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArguments, GroupByExpr, Ident, OrderByKind, Query, SelectItem, SetExpr, Statement, Value, Visit,
    VisitMut, Visitor, VisitorMut,
};

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

/// `COALESCE((SELECT array_agg(value ORDER BY ...) FROM ... WHERE ...), '{}')`; a query
/// that is not a plain SELECT of one plain value is aggregated from a derived table.
fn aggregated(query: &Query) -> Result<Expr, PlanError> {
    let SetExpr::Select(select) = &*query.body else { return from_derived_table(query, None) };
    let (value, alias) = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(e)] => (e.clone(), None),
        [SelectItem::ExprWithAlias { expr, alias }] => (expr.clone(), Some(alias.value.to_lowercase())),
        _ => return Err(PlanError::Syntax("subquery must return only one column".into())),
    };
    let refers_to_value = |e: &Expr| match e {
        Expr::Value(v) => matches!(&v.value, Value::Number(n, _) if n == "1"),
        Expr::Identifier(i) => alias.as_deref() == Some(i.value.to_lowercase().as_str()),
        other => *other == value,
    };
    let items = match &query.order_by {
        None => vec![],
        Some(order_by) => match &order_by.kind {
            OrderByKind::Expressions(items) => items.clone(),
            OrderByKind::All(_) => return Err(PlanError::Unsupported("ORDER BY ALL in ARRAY(subquery)".into())),
        },
    };
    let plain = select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && !has_special_calls(&value);
    if !plain {
        // Ordered by the value itself: the aggregate can keep that order.
        let by_value = match items.as_slice() {
            [item] if refers_to_value(&item.expr) => Some(item.options.to_string()),
            _ => None,
        };
        return from_derived_table(query, by_value);
    }
    let order: Vec<String> = items
        .iter()
        .map(|item| format!("{} {}", if refers_to_value(&item.expr) { &value } else { &item.expr }, item.options))
        .collect();
    let order = if order.is_empty() { String::new() } else { format!(" ORDER BY {}", order.join(", ")) };
    let mut select = (**select).clone();
    select.projection = vec![SelectItem::UnnamedExpr(parse_expr(&format!("pg_catalog.array_agg({value}{order})"))?)];
    let with = query.with.as_ref().map(|w| format!("{w} ")).unwrap_or_default();
    parse_expr(&format!("COALESCE(({with}{select}), '{{}}')"))
}

/// The whole query as a derived table, aggregated (uncorrelated only). `order_by_value`:
/// the ORDER BY options when the query is ordered by its value alone; any other order
/// is not kept.
fn from_derived_table(query: &Query, order_by_value: Option<String>) -> Result<Expr, PlanError> {
    let order = order_by_value.map(|options| format!(" ORDER BY \"?element?\" {options}")).unwrap_or_default();
    parse_expr(&format!(
        "COALESCE((SELECT pg_catalog.array_agg(\"?element?\"{order}) FROM ({query}) AS \"?array?\"(\"?element?\")), '{{}}')"
    ))
}

/// Whether `e` calls an aggregate, a window function or a set-returning function, which
/// cannot go inside `array_agg`.
fn has_special_calls(e: &Expr) -> bool {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let Expr::Function(f) = e else { return ControlFlow::Continue(()) };
            let name = f.name.to_string().to_lowercase();
            let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            let special = f.over.is_some()
                || eddy_expr::AggregateFunc::is_aggregate_name(name)
                || crate::query::is_set_returning(name);
            if special {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    e.visit(&mut Finder).is_break()
}

fn parse_expr(sql: &str) -> Result<Expr, PlanError> {
    crate::parse_rewritten_expr(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let stmt = crate::parse(sql).unwrap().remove(0);
        let crate::Statement::Sql(stmt) = stmt else { panic!("a SQL statement") };
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
