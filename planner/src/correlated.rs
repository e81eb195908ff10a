//! Subqueries correlated in any way (`(SELECT count(*) FROM t AS x WHERE x.b < t.b)`,
//! `EXISTS (... WHERE x.c > t.c)`): the subquery is planned once over the distinct values
//! of the outer columns it reads (its *domain*), joined in as one more FROM item, and its
//! answers are joined back to the outer rows by those values. Subqueries correlated only
//! by equalities take the cheaper path in `query.rs` (`decorrelate`); this is the rest.

use std::ops::ControlFlow;

use eddy_expr::{AggregateExpr, AggregateFunc, RelationExpr, ScalarExpr};
use eddy_repr::Datum;
use sqlparser::ast::{self, Expr, Query, SelectItem, SetExpr, VisitMut, VisitorMut};

use crate::expr::{binary, normalize_ident, plan_expr, AggMode, Typed};
use crate::query::{
    aggregate_shape, antijoin, apply_alias, has_group_by, hidden_column, is_not_null, is_table_function,
    plan_from_where, plan_query_per_group, plan_table_function, plan_table_with_joins, plan_uncorrelated,
    AggregateShape, Planned, QueryCtx,
};
use crate::scope::{Scope, ScopeColumn};
use crate::PlanError;

/// The FROM name under which a correlated subquery sees its domain.
const DOMAIN: &str = "?outer?";

/// A correlated subquery rewritten to read its domain instead of the outer query.
struct OverDomain {
    /// The subquery's SELECT, reading `"?outer?".c0, ...` where it read outer columns,
    /// with `"?outer?"` added to its FROM.
    select: ast::Select,
    query: Query,
    /// The outer column each domain column stands for.
    outer_columns: Vec<usize>,
    /// The distinct values of those outer columns.
    domain: Planned,
}

impl OverDomain {
    fn slots(&self) -> Vec<Expr> {
        (0..self.outer_columns.len()).map(slot).collect()
    }

    /// Plans the rewritten subquery with the domain in scope.
    fn plan(&self, qcx: &QueryCtx) -> Result<Planned, PlanError> {
        let mut query = self.query.clone();
        *query.body = SetExpr::Select(Box::new(self.select.clone()));
        qcx.ctes.borrow_mut().push((DOMAIN.to_string(), self.domain.clone()));
        let planned = plan_uncorrelated(qcx, &query);
        qcx.ctes.borrow_mut().pop();
        planned
    }

    /// Plans the rewritten subquery with the domain in scope, its LIMIT and OFFSET
    /// applying per domain value (the select list must end with the domain columns).
    fn plan_per_domain_value(&self, qcx: &QueryCtx) -> Result<Planned, PlanError> {
        let mut query = self.query.clone();
        *query.body = SetExpr::Select(Box::new(self.select.clone()));
        qcx.ctes.borrow_mut().push((DOMAIN.to_string(), self.domain.clone()));
        let planned = plan_query_per_group(qcx, &query, self.outer_columns.len());
        qcx.ctes.borrow_mut().pop();
        planned
    }

    /// Keys joining outer rows to domain columns (`domain_start..`) of another relation.
    fn keys(&self, domain_start: usize) -> (Vec<ScalarExpr>, Vec<ScalarExpr>) {
        let outer = self.outer_columns.iter().map(|&c| ScalarExpr::Column(c)).collect();
        let inner = (0..self.outer_columns.len()).map(|i| ScalarExpr::Column(domain_start + i)).collect();
        (outer, inner)
    }
}

/// `"?outer?"` as a FROM item.
fn domain_from_item() -> Result<ast::TableWithJoins, PlanError> {
    let sql = format!("SELECT 1 FROM \"{DOMAIN}\"");
    let parsed = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
        .map_err(|e| PlanError::Syntax(e.to_string()))?;
    match parsed.into_iter().next() {
        Some(ast::Statement::Query(q)) => match *q.body {
            SetExpr::Select(mut s) if !s.from.is_empty() => Ok(s.from.remove(0)),
            _ => Err(PlanError::Syntax(sql)),
        },
        _ => Err(PlanError::Syntax(sql)),
    }
}

fn slot(i: usize) -> Expr {
    Expr::CompoundIdentifier(vec![ast::Ident::with_quote('"', DOMAIN), ast::Ident::with_quote('"', format!("c{i}"))])
}

/// Rewrites `query` over its domain if it reads columns of `outer`; `None` if it does not
/// (or is not a plain SELECT, which is then planned as uncorrelated and fails if it is).
fn over_domain(qcx: &QueryCtx, outer: &Planned, query: &Query) -> Result<Option<OverDomain>, PlanError> {
    let Some((mut select, outer_columns, lateral)) = outer_references(qcx, &outer.scope, query)? else {
        return Ok(None);
    };
    let columns = outer_columns
        .iter()
        .enumerate()
        .map(|(i, &c)| ScopeColumn {
            table: Some(DOMAIN.into()),
            name: format!("c{i}"),
            ty: outer.scope.columns[c].ty.clone(),
            qualified_only: true,
        })
        .collect();
    let domain =
        Planned { expr: outer.expr.clone().project(outer_columns.clone()).distinct(), scope: Scope { columns } };
    if lateral {
        // Table functions in FROM read outer columns: the domain goes first, so that they
        // are called once per domain row.
        select.from.insert(0, domain_from_item()?);
    } else {
        select.from.push(domain_from_item()?);
    }
    Ok(Some(OverDomain { select, query: query.clone(), outer_columns, domain }))
}

/// Whether `query` reads columns of `outer`.
pub(crate) fn reads_outer(qcx: &QueryCtx, outer: &Scope, query: &Query) -> Result<bool, PlanError> {
    Ok(outer_references(qcx, outer, query)?.is_some())
}

/// `query`'s SELECT with its references to `outer`'s columns pointed at domain columns,
/// the outer column of each domain column, and whether table functions in its FROM read
/// outer columns; `None` if it reads none.
fn outer_references(
    qcx: &QueryCtx,
    outer: &Scope,
    query: &Query,
) -> Result<Option<(ast::Select, Vec<usize>, bool)>, PlanError> {
    let SetExpr::Select(select) = query.body.as_ref() else { return Ok(None) };
    // A FROM that does not plan alone reads the outer query in a table function's
    // arguments, or reads the subquery's own WITH, say: the latter is left to the
    // uncorrelated path, which plans it whole or reports why not.
    let (inner, lateral) = match plan_from_where(qcx, &select.from, None) {
        Ok(p) => (p.scope, false),
        Err(_) => match scope_with_outer_arguments(qcx, outer, &select.from) {
            Some(scope) => (scope, true),
            None => return Ok(None),
        },
    };
    let mut select = (**select).clone();
    let mut columns = Vec::new();
    let mut find = |e: &mut Expr| point_at_domain(e, &inner, outer, &mut columns);
    if lateral {
        for twj in select.from.iter_mut().filter(|t| is_table_function(t)) {
            for_each_own_expr(&mut twj.relation, &mut find);
        }
    }
    // Only the SELECT's own clauses: FROM items and nested subqueries keep their names.
    for item in &mut select.projection {
        for_each_own_expr(item, &mut find);
    }
    for_each_own_expr(&mut select.selection, &mut find);
    for_each_own_expr(&mut select.group_by, &mut find);
    for_each_own_expr(&mut select.having, &mut find);
    Ok((!columns.is_empty()).then_some((select, columns, lateral)))
}

/// The columns of `from` when its table functions' arguments may read `outer`'s columns
/// (the FROM items before them, then the outer query's); `None` if it does not plan so.
fn scope_with_outer_arguments(qcx: &QueryCtx, outer: &Scope, from: &[ast::TableWithJoins]) -> Option<Scope> {
    let mut scope = Scope::default();
    for twj in from {
        let columns = if is_table_function(twj) {
            plan_table_function(qcx, &twj.relation, &scope.concat(outer)).ok()?.scope().clone()
        } else {
            plan_table_with_joins(qcx, twj).ok()?.scope
        };
        scope = scope.concat(&columns);
    }
    Some(scope)
}

/// Calls `f` on every expression of `node` outside its nested subqueries, which keep
/// their own names and windows.
fn for_each_own_expr<N: VisitMut>(node: &mut N, f: &mut impl FnMut(&mut Expr)) {
    struct OwnExprs<'f, F> {
        /// How deep inside nested subqueries the walk is.
        nesting: usize,
        f: &'f mut F,
    }
    impl<F: FnMut(&mut Expr)> VisitorMut for OwnExprs<'_, F> {
        type Break = ();
        fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.nesting += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.nesting -= 1;
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if self.nesting == 0 {
                (self.f)(e);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut OwnExprs { nesting: 0, f });
}

/// If `e` names a column of `outer` (not of the subquery's own `inner` columns), points
/// it at a domain column, adding that outer column to `columns` the first time.
fn point_at_domain(e: &mut Expr, inner: &Scope, outer: &Scope, columns: &mut Vec<usize>) {
    let (table, name) = match e {
        Expr::Identifier(i) => (None, normalize_ident(i)),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            (Some(normalize_ident(&parts[0])), normalize_ident(&parts[1]))
        }
        _ => return,
    };
    match inner.resolve(table.as_deref(), &name) {
        // The subquery's own column (or an ambiguity its planning reports).
        Ok(_) | Err(PlanError::AmbiguousColumn(_)) => {}
        Err(_) => {
            if let Ok(column) = outer.resolve(table.as_deref(), &name) {
                let i = columns.iter().position(|&c| c == column).unwrap_or_else(|| {
                    columns.push(column);
                    columns.len() - 1
                });
                *e = slot(i);
            }
        }
    }
}

/// Adds correlated scalar subquery number `n` to `planned` as a hidden column, or returns
/// `planned` back if `query` does not read its columns.
pub(crate) fn attach_scalar(
    qcx: &QueryCtx,
    planned: Planned,
    query: &Query,
    n: usize,
) -> Result<Result<Planned, Planned>, PlanError> {
    let Some(mut over) = over_domain(qcx, &planned, query)? else { return Ok(Err(planned)) };
    let value = match over.select.projection.as_slice() {
        [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] => e.clone(),
        _ => return Err(PlanError::Cardinality("subquery must return only one column".into())),
    };
    let explicit_groups = has_group_by(&over.select);
    let slots = over.slots();
    // An aggregate without GROUP BY has one row per domain value; anything else may have
    // several (an error) or none (NULL).
    let (default, one_row_each) = match (explicit_groups, aggregate_shape(&value)) {
        (false, AggregateShape::Count) => (Default::Literal(Datum::Int64(0)), true),
        (false, AggregateShape::Other) => (Default::Literal(Datum::Null), true),
        (false, AggregateShape::CountInside) => {
            (Default::OverNoRows(over_no_rows(qcx, &over, vec![SelectItem::UnnamedExpr(value.clone())])?), true)
        }
        _ => (Default::Literal(Datum::Null), false),
    };
    if one_row_each || explicit_groups {
        if let ast::GroupByExpr::Expressions(keys, _) = &mut over.select.group_by {
            keys.extend(slots.iter().cloned());
        }
    }
    over.select.projection = std::iter::once(SelectItem::UnnamedExpr(value))
        .chain(slots.iter().cloned().map(SelectItem::UnnamedExpr))
        .collect();
    limit_per_domain_value(&mut over, &slots)?;
    let sub = over.plan(qcx)?;
    let k = over.outer_columns.len();
    let arity = planned.scope.len();
    let ty = sub.scope.columns[0].ty.clone();

    // (domain..., value): the subquery's rows, and the default for domain values it has none for.
    let answered = sub.expr.clone().project((1..=k).collect()).distinct();
    let missing = antijoin(over.domain.expr.clone(), answered, k);
    let missing = match default {
        Default::Literal(datum) => missing.map(vec![ScalarExpr::Literal(datum, ty.clone())]),
        Default::OverNoRows(value) => missing.join(value, vec![], vec![]),
    };
    let values = sub.expr.clone().project((1..=k).chain([0]).collect()).union(missing);
    let (outer_keys, domain_keys) = over.keys(0);
    let mut expr = planned
        .expr
        .clone()
        .join(values, outer_keys.clone(), domain_keys.clone())
        .project((0..arity).chain([arity + k]).collect());
    if !one_row_each {
        // Errors (no rows) where a domain value has several rows.
        let count = AggregateExpr::new(AggregateFunc::CountRows, ScalarExpr::Column(0), false);
        let several = sub
            .expr
            .reduce((1..=k).collect(), vec![count])
            .map(vec![ScalarExpr::call(eddy_expr::Func::SingleRowCheck, vec![ScalarExpr::Column(k)])])
            .filter(vec![is_not_null(ScalarExpr::Column(k + 1))?])
            .project((0..k).chain([k + 1]).collect());
        expr = expr.union(
            planned.expr.join(several, outer_keys, domain_keys).project((0..arity).chain([arity + k]).collect()),
        );
    }
    Ok(Ok(Planned { expr, scope: planned.scope.concat(&hidden_column(n, ty)) }))
}

/// What a correlated scalar subquery is for outer values it has no row for.
enum Default {
    Literal(Datum),
    /// One row: the aggregate's select expression over no rows (`count(*) + 1` is 1).
    OverNoRows(RelationExpr),
}

/// The one row that `items`, aggregate expressions of `over`'s subquery, give over no
/// rows; refused when they read outer columns outside their aggregates.
fn over_no_rows(qcx: &QueryCtx, over: &OverDomain, items: Vec<SelectItem>) -> Result<RelationExpr, PlanError> {
    if items.iter().any(|i| i.to_string().contains(DOMAIN)) {
        return Err(PlanError::Unsupported(
            "a correlated subquery reading outer columns outside its aggregates and count()".into(),
        ));
    }
    let mut select = over.select.clone();
    select.from.retain(|t| !t.relation.to_string().contains(DOMAIN));
    select.projection = items;
    select.selection = Some(Expr::value(ast::Value::Boolean(false)));
    let query = Query { body: Box::new(SetExpr::Select(Box::new(select))), ..over.query.clone() };
    Ok(plan_uncorrelated(qcx, &Query { order_by: None, limit_clause: None, ..query })?.expr)
}

/// `ORDER BY ... LIMIT 1` in a correlated subquery keeps the first row per domain value
/// (`DISTINCT ON` the domain); other limits are not supported.
fn limit_per_domain_value(over: &mut OverDomain, slots: &[Expr]) -> Result<(), PlanError> {
    let Some(limit) = over.query.limit_clause.take() else {
        over.query.order_by = None;
        return Ok(());
    };
    let one = matches!(
        &limit,
        ast::LimitClause::LimitOffset { limit: Some(Expr::Value(v)), offset: None, limit_by }
            if limit_by.is_empty() && v.value == ast::Value::Number("1".into(), false)
    );
    if !one {
        return Err(PlanError::Unsupported("LIMIT other than LIMIT 1 in a correlated subquery".into()));
    }
    if over.select.distinct.is_some() {
        return Err(PlanError::Unsupported("DISTINCT with LIMIT in a correlated subquery".into()));
    }
    over.select.distinct = Some(ast::Distinct::On(slots.to_vec()));
    let by_slot = slots.iter().map(|s| ast::OrderByExpr {
        expr: s.clone(),
        options: ast::OrderByOptions::default(),
        with_fill: None,
    });
    let order = match over.query.order_by.take() {
        Some(ast::OrderBy { kind: ast::OrderByKind::Expressions(exprs), interpolate }) => {
            ast::OrderBy { kind: ast::OrderByKind::Expressions(by_slot.chain(exprs).collect()), interpolate }
        }
        None => ast::OrderBy { kind: ast::OrderByKind::Expressions(by_slot.collect()), interpolate: None },
        Some(other) => return Err(PlanError::Unsupported(format!("ORDER BY {other} in a correlated subquery"))),
    };
    over.query.order_by = Some(order);
    Ok(())
}

/// Keeps the rows of `planned` for which the correlated `EXISTS (query)` (or `tested IN
/// (query)`) holds, or, `negated`, does not; returns `planned` back if `query` does not
/// read its columns.
pub(crate) fn semijoin(
    qcx: &QueryCtx,
    planned: Planned,
    query: &Query,
    tested: Option<&Expr>,
    negated: bool,
) -> Result<Result<Planned, Planned>, PlanError> {
    let Some(mut over) = over_domain(qcx, &planned, query)? else { return Ok(Err(planned)) };
    let explicit_groups = has_group_by(&over.select);
    let value = match over.select.projection.as_slice() {
        [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] => Some(e.clone()),
        _ => None,
    };
    let aggregated = value.as_ref().is_some_and(|v| !matches!(aggregate_shape(v), AggregateShape::None));
    if (aggregated && !explicit_groups) || over.select.having.is_some() || over.query.limit_clause.is_some() {
        return Err(PlanError::Unsupported(
            "a correlated EXISTS or IN subquery with aggregates, HAVING or LIMIT".into(),
        ));
    }
    let slots = over.slots();
    if explicit_groups {
        if let ast::GroupByExpr::Expressions(keys, _) = &mut over.select.group_by {
            keys.extend(slots.iter().cloned());
        }
    }
    let tested_value = match tested {
        Some(_) => Some(value.ok_or_else(|| PlanError::Cardinality("subquery has too many columns".into()))?),
        None => None,
    };
    over.select.projection =
        tested_value.into_iter().chain(slots.iter().cloned()).map(SelectItem::UnnamedExpr).collect();
    over.query.order_by = None;
    let sub = over.plan(qcx)?;
    let arity = planned.scope.len();
    let start = usize::from(tested.is_some());
    let (mut outer_keys, mut inner_keys) = over.keys(start);
    let mut outer = planned.expr.clone();
    let mut inner = sub.expr.distinct();
    if let Some(x) = tested {
        if negated {
            return Err(PlanError::Unsupported("NOT IN with a correlated subquery".into()));
        }
        let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("WHERE"));
        let left = plan_expr(&ctx, x)?;
        let right = Typed::known(ScalarExpr::Column(arity), sub.scope.columns[0].ty.clone());
        let ScalarExpr::Call { args, .. } = binary(&ctx, "=", left, right)?.expr else {
            return Err(PlanError::Unsupported(format!("IN with {x}")));
        };
        let [l, mut r]: [ScalarExpr; 2] =
            args.try_into().map_err(|_| PlanError::Unsupported(format!("IN with {x}")))?;
        r.permute(&|c| c - arity);
        outer = outer.filter(vec![is_not_null(l.clone())?]);
        inner = inner.filter(vec![is_not_null(r.clone())?]);
        outer_keys.insert(0, l);
        inner_keys.insert(0, r);
    }
    let matching = outer.join(inner, outer_keys, inner_keys).project((0..arity).collect());
    let expr = if negated { planned.expr.union(matching.negate()) } else { matching };
    Ok(Ok(Planned { expr, scope: planned.scope }))
}

/// `outer` with, for each of its rows, the rows of `query`, a `LATERAL (SELECT ...)` that
/// may read `outer`'s columns: outer's columns, then the subquery's (named by `alias`).
/// The subquery is planned once over the distinct values of the outer columns it reads,
/// with its GROUP BY, DISTINCT ON, LIMIT and OFFSET applying per value, and joined back
/// on them, so a view using it stays incremental (top-K per outer row included).
pub(crate) fn lateral(
    qcx: &QueryCtx,
    outer: &Planned,
    query: &Query,
    alias: Option<&ast::TableAlias>,
) -> Result<Planned, PlanError> {
    let Some(mut over) = over_domain(qcx, outer, query)? else {
        let sub = apply_alias(plan_uncorrelated(qcx, query)?, alias, None)?;
        let expr = outer.expr.clone().join(sub.expr, vec![], vec![]);
        return Ok(Planned { expr, scope: outer.scope.concat(&sub.scope) });
    };
    let slots = over.slots();
    partition_windows_by(&mut over.select, &slots);
    let k = slots.len();
    let items = over.select.projection.clone();
    let is_aggregate = |i: &SelectItem| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            !matches!(aggregate_shape(e), AggregateShape::None)
        }
        _ => false,
    };
    // Aggregates without GROUP BY: one row for every outer row, also those without rows.
    let global_aggregate =
        !has_group_by(&over.select) && (over.select.having.is_some() || items.iter().any(is_aggregate));
    let over_nothing = if global_aggregate { Some(over_no_rows(qcx, &over, items)?) } else { None };
    if has_group_by(&over.select) || global_aggregate {
        if let ast::GroupByExpr::Expressions(keys, _) = &mut over.select.group_by {
            keys.extend(slots.iter().cloned());
        }
    }
    if let Some(ast::Distinct::On(exprs)) = &mut over.select.distinct {
        exprs.splice(0..0, slots.iter().cloned());
        if let Some(ast::OrderBy { kind: ast::OrderByKind::Expressions(order), .. }) = &mut over.query.order_by {
            let by_slot = slots.iter().map(|s| ast::OrderByExpr {
                expr: s.clone(),
                options: ast::OrderByOptions::default(),
                with_fill: None,
            });
            order.splice(0..0, by_slot);
        }
    }
    over.select.projection.extend(slots.iter().cloned().map(SelectItem::UnnamedExpr));
    let sub = over.plan_per_domain_value(qcx)?;
    let width = sub.scope.len() - k;
    // (the subquery's columns..., domain...)
    let mut values = sub.expr;
    if let Some(none) = over_nothing {
        let answered = values.clone().project((width..width + k).collect()).distinct();
        let missing = antijoin(over.domain.expr.clone(), answered, k);
        let defaults = missing.join(none, vec![], vec![]).project((k..k + width).chain(0..k).collect());
        values = values.union(defaults);
    }
    let (outer_keys, domain_keys) = over.keys(width);
    let arity = outer.scope.len();
    let expr = outer.expr.clone().join(values, outer_keys, domain_keys).project((0..arity + width).collect());
    let own = Planned {
        expr: RelationExpr::constant(vec![], width),
        scope: Scope { columns: sub.scope.columns[..width].to_vec() },
    };
    let own = apply_alias(own, alias, None)?;
    Ok(Planned { expr, scope: outer.scope.concat(&own.scope) })
}

/// Adds `slots` to the front of the PARTITION BY of every window in `select` (not in its
/// nested subqueries), so window functions compute per domain value.
fn partition_windows_by(select: &mut ast::Select, slots: &[Expr]) {
    fn partition(spec: &mut ast::WindowSpec, slots: &[Expr]) {
        // A window based on a named one takes that one's partitioning.
        if spec.window_name.is_none() {
            spec.partition_by.splice(0..0, slots.iter().cloned());
        }
    }
    let mut partition_calls = |e: &mut Expr| {
        if let Expr::Function(ast::Function { over: Some(ast::WindowType::WindowSpec(spec)), .. }) = e {
            partition(spec, slots);
        }
    };
    for item in &mut select.projection {
        for_each_own_expr(item, &mut partition_calls);
    }
    for_each_own_expr(&mut select.having, &mut partition_calls);
    for ast::NamedWindowDefinition(_, definition) in &mut select.named_window {
        if let ast::NamedWindowExpr::WindowSpec(spec) = definition {
            partition(spec, slots);
        }
    }
}
