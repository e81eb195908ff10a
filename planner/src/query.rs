//! Planning queries: FROM (joins, subqueries, table functions), WHERE, GROUP BY and
//! aggregates, HAVING, the select list, DISTINCT, set operations, VALUES, ORDER BY/LIMIT.

use std::cell::RefCell;

use eddy_expr::func::{self, CastContext, Func};
use eddy_expr::{AggregateExpr, AggregateFunc, RelationExpr, ScalarExpr, TableFunc, WindowExpr};
use eddy_repr::{Datum, GlobalId, Row, ScalarType};
use sqlparser::ast::{
    self, Expr, JoinConstraint, JoinOperator, Query, Select, SelectItem, SetExpr, SetOperator, SetQuantifier,
    TableFactor,
};

use crate::bulk_insert::Literal;
use crate::correlated;
use crate::expr::{
    binary, coerce, column_name, normalize_ident, object_name, plan_condition, plan_expr, plan_literal,
    plan_window_call, sort_direction, AggEntry, AggMode, ExprCtx, Grouping, GroupingSets, PlannedWindow, Typed,
    WindowSlot, SELECT_LIST,
};
use crate::quantified;
use crate::scope::{Scope, ScopeColumn};
use crate::types::{common_type, parse_type_name};
use crate::{Catalog, ColumnOrder, ItemKind, PlanError, RowSetFinishing, StatementContext};

/// Shared state of one statement's planning.
/// Where a query is planned, which decides what `now()` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NowContext {
    /// A statement: `now()` is the statement's start time, a constant.
    Statement,
    /// A plain view: `now()` is each reading statement's start time.
    PlainView,
    /// A materialized view or subscription: `now()` only in temporal filters, and no
    /// `random()` (a row recomputed later would get another value).
    Maintained,
}

pub struct QueryCtx<'a> {
    pub catalog: &'a dyn Catalog,
    pub stmt: &'a StatementContext,
    pub params: &'a RefCell<Vec<Option<ScalarType>>>,
    /// What `now()` and `random()` mean where the query is planned.
    pub now: NowContext,
    /// Every catalog object the statement names, plain views included (they are inlined,
    /// so the plan alone does not show them): what a new view depends on.
    pub referenced: &'a RefCell<Vec<GlobalId>>,
    /// The WITH queries in scope, innermost last: names that FROM resolves before the
    /// catalog's.
    pub ctes: &'a RefCell<Vec<(String, Planned)>>,
}

impl<'a> QueryCtx<'a> {
    pub fn expr_ctx<'s>(&'s self, scope: &'s Scope, mode: AggMode<'s>) -> ExprCtx<'s> {
        ExprCtx { scope, stmt: self.stmt, params: self.params, mode, now: self.now, windows: &[] }
    }
}

/// A planned relation with the names and types of its columns.
#[derive(Clone)]
pub struct Planned {
    pub expr: RelationExpr,
    pub scope: Scope,
}

/// Plans a query whose ORDER BY/LIMIT become a finishing (top-level SELECT).
pub fn plan_top_query(qcx: &QueryCtx, query: &Query) -> Result<(Planned, RowSetFinishing), PlanError> {
    check_query_features(query)?;
    let outer_ctes = push_ctes(qcx, query, true)?;
    let planned = plan_set_expr(qcx, &query.body, order_by_exprs(query));
    qcx.ctes.borrow_mut().truncate(outer_ctes);
    let (mut planned, hidden_orders) = planned?;
    let visible = planned.scope.len() - hidden_orders.hidden;
    let mut finishing = RowSetFinishing { project: (0..visible).collect(), ..Default::default() };
    let (limit, offset) = limit_offset(qcx, query)?;
    match (with_ties(query, &hidden_orders)?, limit) {
        // The rows kept depend on ties, which the finishing's plain LIMIT cannot see.
        (true, Some(limit)) => {
            let orders = hidden_orders.orders.clone();
            planned.expr = keep_with_ties(planned.expr, vec![], orders, limit, offset);
        }
        _ => {
            finishing.limit = limit;
            finishing.offset = offset;
        }
    }
    finishing.order_by = hidden_orders.orders;
    Ok((planned, finishing))
}

/// Plans a query used as a relation (subquery, view body). Its rows have no order, but
/// ORDER BY still decides which rows LIMIT/OFFSET and DISTINCT ON keep (a TopK).
pub fn plan_query(qcx: &QueryCtx, query: &Query) -> Result<Planned, PlanError> {
    plan_query_per_group(qcx, query, 0)
}

/// [`plan_query`], with LIMIT and OFFSET applying to each group of rows that agree on the
/// last `group_columns` output columns (the domain columns of a LATERAL subquery).
pub(crate) fn plan_query_per_group(qcx: &QueryCtx, query: &Query, group_columns: usize) -> Result<Planned, PlanError> {
    check_query_features(query)?;
    let (limit, offset) = limit_offset(qcx, query)?;
    let outer_ctes = push_ctes(qcx, query, false)?;
    let planned = plan_set_expr(qcx, &query.body, order_by_exprs(query));
    qcx.ctes.borrow_mut().truncate(outer_ctes);
    let (mut planned, orders) = planned?;
    let visible = planned.scope.len() - orders.hidden;
    let with_ties = with_ties(query, &orders)?;
    if limit.is_some() || offset > 0 {
        let group_key = (visible.saturating_sub(group_columns)..visible).collect();
        planned.expr = match (with_ties, limit) {
            (true, Some(limit)) => keep_with_ties(planned.expr, group_key, orders.orders, limit, offset),
            _ => planned.expr.top_k(group_key, orders.orders, limit, offset),
        };
    }
    if orders.hidden > 0 {
        planned.expr = planned.expr.project((0..visible).collect());
        planned.scope.columns.truncate(visible);
    }
    Ok(planned)
}

/// Whether the query ends in `FETCH ... WITH TIES`, which needs an ORDER BY.
fn with_ties(query: &Query, orders: &Orders) -> Result<bool, PlanError> {
    let with_ties = query.fetch.as_ref().is_some_and(|f| f.with_ties);
    if with_ties && orders.orders.is_empty() {
        return Err(PlanError::SyntaxRule("WITH TIES cannot be specified without ORDER BY clause".into()));
    }
    Ok(with_ties)
}

/// `OFFSET offset FETCH FIRST limit ROWS WITH TIES`: the rows past the first `offset`, up
/// to the `limit`th and every row that sorts equal to it. A row is kept when its position
/// is past `offset` and its rank (1 + the rows sorting before it) is within
/// `offset + limit`: a later row has such a rank only if it ties with the last one taken.
fn keep_with_ties(
    input: RelationExpr,
    group_key: Vec<usize>,
    order: Vec<eddy_expr::ColumnOrder>,
    limit: usize,
    offset: usize,
) -> RelationExpr {
    use eddy_expr::{Frame, WindowFunc};
    let arity = input.arity();
    let numbered = |func| WindowExpr { func, args: vec![], frame: Frame::DEFAULT };
    let bound = |n: usize| ScalarExpr::literal(Datum::Int64(i64::try_from(n).unwrap_or(i64::MAX)), ScalarType::Int64);
    RelationExpr::Window {
        input: Box::new(input),
        partition_key: group_key,
        order,
        funcs: vec![numbered(WindowFunc::RowNumber), numbered(WindowFunc::Rank)],
    }
    .filter(vec![
        ScalarExpr::call(Func::Gt, vec![ScalarExpr::Column(arity), bound(offset)]),
        ScalarExpr::call(Func::Lte, vec![ScalarExpr::Column(arity + 1), bound(offset.saturating_add(limit))]),
    ])
    .project((0..arity).collect())
}

/// Plans the query's WITH queries, each seeing the ones before it, and puts them in scope;
/// returns how many were in scope before, for the caller to restore. Only a statement's
/// own WITH (`top_level`) may hold data-modifying queries.
pub(crate) fn push_ctes(qcx: &QueryCtx, query: &Query, top_level: bool) -> Result<usize, PlanError> {
    let before = qcx.ctes.borrow().len();
    let Some(with) = &query.with else { return Ok(before) };
    for cte in &with.cte_tables {
        let modifying = crate::written_ctes::modifying_statement(&cte.query);
        let planned = match (modifying, with.recursive && crate::recursive::reads_itself(cte)) {
            (Some(statement), _) => crate::written_ctes::plan_written_cte(qcx, cte, statement, top_level),
            (None, true) => crate::recursive::plan_recursive_cte(qcx, cte),
            (None, false) => plan_query(qcx, &cte.query).and_then(|p| apply_alias(p, Some(&cte.alias), None)),
        };
        match planned {
            Ok(p) => qcx.ctes.borrow_mut().push((normalize_ident(&cte.alias.name), p)),
            Err(e) => {
                qcx.ctes.borrow_mut().truncate(before);
                return Err(e);
            }
        }
    }
    Ok(before)
}

fn check_query_features(query: &Query) -> Result<(), PlanError> {
    if query.fetch.as_ref().is_some_and(|f| f.percent) {
        return Err(PlanError::Unsupported("FETCH ... PERCENT".into()));
    }
    // `FOR UPDATE` / `FOR SHARE` (NOWAIT, SKIP LOCKED) take no row locks: the rows a
    // transaction block then updates or deletes are checked at COMMIT instead, which fails
    // with a serialization error (40001) if another session changed them meanwhile.
    let Some(lock) = query.locks.first() else { return Ok(()) };
    let clause = match lock.lock_type {
        ast::LockType::Share => "FOR SHARE",
        ast::LockType::Update => "FOR UPDATE",
    };
    let refused = match query.body.as_ref() {
        SetExpr::SetOperation { .. } => Some("UNION/INTERSECT/EXCEPT"),
        SetExpr::Select(s) if s.distinct.is_some() => Some("DISTINCT clause"),
        SetExpr::Select(s) if !matches!(&s.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty()) => {
            Some("GROUP BY clause")
        }
        SetExpr::Select(s) if s.having.is_some() => Some("HAVING clause"),
        _ => None,
    };
    match refused {
        Some(what) => Err(PlanError::NotAllowed(format!("{clause} is not allowed with {what}"))),
        None => Ok(()),
    }
}

fn order_by_exprs(query: &Query) -> Vec<ast::OrderByExpr> {
    match &query.order_by {
        Some(ast::OrderBy { kind: ast::OrderByKind::Expressions(exprs), .. }) => exprs.clone(),
        _ => vec![],
    }
}

fn limit_offset(qcx: &QueryCtx, query: &Query) -> Result<(Option<usize>, usize), PlanError> {
    let eval_count = |e: &Expr, what: &str| -> Result<Option<usize>, PlanError> {
        let scope = Scope::default();
        let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden(what));
        let typed = plan_expr(&ctx, e)?;
        let expr = coerce(&ctx, typed, &ScalarType::Int64, CastContext::Implicit)?;
        match expr.eval(&[])? {
            Datum::Null => Ok(None),
            Datum::Int64(n) if n >= 0 => Ok(Some(n as usize)),
            _ => Err(PlanError::InvalidParameter(format!("{what} must not be negative"))),
        }
    };
    // `FETCH FIRST n ROWS ONLY` is the standard's LIMIT (n is 1 when left out).
    let fetch = match &query.fetch {
        Some(f) => match &f.quantity {
            Some(q) => Some(eval_count(q, "FETCH FIRST")?),
            None => Some(Some(1)),
        },
        None => None,
    };
    let (limit, offset) = match &query.limit_clause {
        None => (None, 0),
        Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
            let limit = match limit {
                Some(l) => eval_count(l, "LIMIT")?,
                None => None,
            };
            let offset = match offset {
                Some(o) => eval_count(&o.value, "OFFSET")?.unwrap_or(0),
                None => 0,
            };
            (limit, offset)
        }
        Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
            return Err(PlanError::Syntax("LIMIT #,# syntax is not supported; use LIMIT # OFFSET #".into()))
        }
    };
    Ok((fetch.unwrap_or(limit), offset))
}

/// ORDER BY keys of a planned body: `hidden` trailing columns exist only for sorting.
struct Orders {
    orders: Vec<ColumnOrder>,
    hidden: usize,
}

/// Plans one side of a set operation (no ORDER BY of its own).
pub(crate) fn plan_set_operand(qcx: &QueryCtx, body: &SetExpr) -> Result<Planned, PlanError> {
    Ok(plan_set_expr(qcx, body, vec![])?.0)
}

fn plan_set_expr(
    qcx: &QueryCtx,
    body: &SetExpr,
    order_by: Vec<ast::OrderByExpr>,
) -> Result<(Planned, Orders), PlanError> {
    match body {
        SetExpr::Select(select) => plan_select(qcx, select, &order_by),
        SetExpr::Query(q) => {
            let planned = plan_query(qcx, q)?;
            order_by_output(qcx, planned, &order_by)
        }
        SetExpr::Values(values) => {
            let planned = plan_values(qcx, values)?;
            order_by_output(qcx, planned, &order_by)
        }
        SetExpr::SetOperation { left, op, set_quantifier, right } => {
            let planned = plan_set_operation(qcx, left, op, set_quantifier, right)?;
            order_by_output(qcx, planned, &order_by)
        }
        SetExpr::Table(t) => {
            let name = t.table_name.as_ref().map(normalize_ident).unwrap_or_default();
            let planned = plan_table_name(qcx, &name, None)?;
            order_by_output(qcx, planned, &order_by)
        }
        other => Err(PlanError::Unsupported(format!("{other} as a query"))),
    }
}

/// ORDER BY over a relation without a select list (set operations, VALUES): keys must be
/// output columns, by name or position.
fn order_by_output(
    qcx: &QueryCtx,
    planned: Planned,
    order_by: &[ast::OrderByExpr],
) -> Result<(Planned, Orders), PlanError> {
    let mut orders = Vec::new();
    for o in order_by {
        let column = match &o.expr {
            Expr::Value(v) => ordinal(&v.value, planned.scope.len())?,
            e => {
                let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("ORDER BY"));
                match plan_expr(&ctx, e)?.expr {
                    ScalarExpr::Column(c) => c,
                    _ => {
                        return Err(PlanError::Unsupported(
                            "ORDER BY expressions on a set operation (order by an output column)".into(),
                        ))
                    }
                }
            }
        };
        orders.push(column_order(column, &o.options));
    }
    Ok((planned, Orders { orders, hidden: 0 }))
}

fn column_order(column: usize, options: &ast::OrderByOptions) -> ColumnOrder {
    let (desc, nulls_last) = sort_direction(options);
    ColumnOrder { column, desc, nulls_last }
}

fn ordinal(v: &ast::Value, len: usize) -> Result<usize, PlanError> {
    match v {
        ast::Value::Number(n, _) => match n.parse::<usize>() {
            Ok(i) if i >= 1 && i <= len => Ok(i - 1),
            _ => Err(PlanError::InvalidColumnReference(format!("ORDER BY position {n} is not in select list"))),
        },
        _ => Err(PlanError::Unsupported("ORDER BY a constant".into())),
    }
}

fn plan_values(qcx: &QueryCtx, values: &ast::Values) -> Result<Planned, PlanError> {
    plan_values_typed(qcx, values, &[], None)
}

/// Plans `VALUES`; with `targets` (INSERT ... VALUES) each column is coerced straight to
/// its target column's type, as PostgreSQL does, so `'2024-01-01'` fills a date column.
/// `VALUES` rows; with `targets` (an INSERT's columns: name and type), each column is
/// assigned to its target's type, and a value that cannot be says which column.
pub fn plan_values_typed(
    qcx: &QueryCtx,
    values: &ast::Values,
    more_rows: &[Vec<Literal>],
    targets: Option<&[(String, ScalarType)]>,
) -> Result<Planned, PlanError> {
    let scope = Scope::default();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("VALUES"));
    let width = values.rows.first().map_or(0, |r| r.len());
    let mut typed_rows: Vec<Vec<Typed>> = Vec::with_capacity(values.rows.len() + more_rows.len());
    let mismatch = || PlanError::Cardinality("VALUES lists must all be the same length".into());
    for row in &values.rows {
        if row.len() != width {
            return Err(mismatch());
        }
        typed_rows.push(row.iter().map(|e| plan_expr(&ctx, e)).collect::<Result<_, _>>()?);
    }
    for row in more_rows {
        if row.len() != width {
            return Err(mismatch());
        }
        typed_rows.push(row.iter().map(plan_literal).collect::<Result<_, _>>()?);
    }
    let mut types = Vec::with_capacity(width);
    for c in 0..width {
        match targets.and_then(|t| t.get(c)) {
            Some((_, target)) => types.push(target.clone()),
            None => {
                let col: Vec<Option<ScalarType>> = typed_rows.iter().map(|r| r[c].ty.clone()).collect();
                types.push(common_type(&col, "VALUES")?);
            }
        }
    }
    let context = if targets.is_some() { CastContext::Assignment } else { CastContext::Implicit };
    let mut constant_rows = Vec::new();
    let mut computed: Option<RelationExpr> = None;
    for row in typed_rows {
        let exprs: Vec<ScalarExpr> = row
            .into_iter()
            .zip(&types)
            .enumerate()
            .map(|(c, (t, ty))| {
                let from = t.ty.clone();
                coerce(&ctx, t, ty, context).map_err(|e| match (e, targets.and_then(|t| t.get(c)), from) {
                    (PlanError::Resolve(_), Some((name, _)), Some(from)) => PlanError::TypeMismatch(format!(
                        "column \"{name}\" is of type {ty} but expression is of type {from}"
                    )),
                    (e, _, _) => e,
                })
            })
            .collect::<Result<_, _>>()?;
        if exprs.iter().all(|e| e.as_literal().is_some()) {
            constant_rows
                .push(Row::new(exprs.iter().map(|e| e.as_literal().cloned().unwrap_or(Datum::Null)).collect()));
        } else {
            let one = RelationExpr::constant(vec![Row::empty()], 0).map(exprs);
            computed = Some(match computed {
                None => one,
                Some(prev) => prev.union(one),
            });
        }
    }
    let mut expr = RelationExpr::constant(constant_rows, width);
    if let Some(c) = computed {
        expr = expr.union(c);
    }
    let scope = Scope {
        columns: types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| ScopeColumn { table: None, name: format!("column{}", i + 1), ty, qualified_only: false })
            .collect(),
    };
    Ok(Planned { expr, scope })
}

fn plan_set_operation(
    qcx: &QueryCtx,
    left: &SetExpr,
    op: &SetOperator,
    quantifier: &SetQuantifier,
    right: &SetExpr,
) -> Result<Planned, PlanError> {
    let (l, lo) = plan_set_expr(qcx, left, vec![])?;
    let (r, ro) = plan_set_expr(qcx, right, vec![])?;
    debug_assert!(lo.hidden == 0 && ro.hidden == 0);
    let op_name = match op {
        SetOperator::Union => "UNION",
        SetOperator::Except | SetOperator::Minus => "EXCEPT",
        SetOperator::Intersect => "INTERSECT",
    };
    if l.scope.len() != r.scope.len() {
        return Err(PlanError::Cardinality(format!("each {op_name} query must have the same number of columns")));
    }
    let types: Vec<ScalarType> = l
        .scope
        .columns
        .iter()
        .zip(&r.scope.columns)
        .map(|(a, b)| common_type(&[Some(a.ty.clone()), Some(b.ty.clone())], op_name))
        .collect::<Result<_, _>>()?;
    let left_expr = cast_columns(qcx, l.expr, &l.scope, &types)?;
    let right_expr = cast_columns(qcx, r.expr, &r.scope, &types)?;
    let all = match quantifier {
        SetQuantifier::All => true,
        SetQuantifier::Distinct | SetQuantifier::None => false,
        other => return Err(PlanError::Unsupported(format!("{op_name} {other}"))),
    };
    let (left_expr, right_expr) =
        if all { (left_expr, right_expr) } else { (left_expr.distinct(), right_expr.distinct()) };
    let expr = match op {
        SetOperator::Union => {
            let u = left_expr.union(right_expr);
            if all {
                u
            } else {
                u.distinct()
            }
        }
        SetOperator::Except | SetOperator::Minus => left_expr.union(right_expr.negate()).threshold(),
        // min(l, r) = l - max(0, l - r)
        SetOperator::Intersect => left_expr.clone().union(left_expr.union(right_expr.negate()).threshold().negate()),
    };
    let mut scope = l.scope;
    for (c, ty) in scope.columns.iter_mut().zip(types) {
        c.ty = ty;
        c.table = None;
    }
    Ok(Planned { expr, scope })
}

/// Casts each column of `expr` to `types` where they differ.
pub(crate) fn cast_columns(
    qcx: &QueryCtx,
    expr: RelationExpr,
    scope: &Scope,
    types: &[ScalarType],
) -> Result<RelationExpr, PlanError> {
    if scope.types() == types {
        return Ok(expr);
    }
    let ctx = qcx.expr_ctx(scope, AggMode::Forbidden("UNION"));
    let arity = scope.len();
    let casts = scope
        .columns
        .iter()
        .enumerate()
        .zip(types)
        .map(|((i, c), ty)| {
            coerce(
                &ctx,
                Typed { expr: ScalarExpr::Column(i), ty: Some(c.ty.clone()), unknown: crate::expr::Unknown::No },
                ty,
                CastContext::Implicit,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(expr.map(casts).project((arity..arity * 2).collect()))
}

fn plan_select(qcx: &QueryCtx, select: &Select, order_by: &[ast::OrderByExpr]) -> Result<(Planned, Orders), PlanError> {
    if select.having.is_some() && matches!(select.group_by, ast::GroupByExpr::All(_)) {
        return Err(PlanError::Unsupported("GROUP BY ALL".into()));
    }
    let (select, order_by) = inline_named_windows(select, order_by)?;
    let (select, order_by) = (&*select, &*order_by);
    let select = rewrite_definition_lookups(select)?;
    let (select, scalars) = extract_scalar_subqueries(qcx, &select)?;
    let select = &select;
    let grouped = has_group_by(select);
    let Planned { mut expr, scope } = plan_from(qcx, &select.from, select.selection.as_ref(), scalars, grouped)?;

    // Pass 1: find aggregate calls in the select list, HAVING and ORDER BY.
    let collected = RefCell::new(Vec::<AggEntry>::new());
    {
        let ctx = qcx.expr_ctx(&scope, AggMode::Collect(&collected));
        for item in &select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                plan_expr(&ctx, e)?;
            }
        }
        if let Some(h) = &select.having {
            plan_expr(&ctx, h)?;
        }
        for o in order_by {
            if !matches!(o.expr, Expr::Value(_)) && !is_output_alias(&o.expr, select) {
                plan_expr(&ctx, &o.expr)?;
            }
        }
    }
    let group_exprs = match &select.group_by {
        ast::GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => exprs.clone(),
        _ => return Err(PlanError::Unsupported("GROUP BY ALL / WITH ROLLUP".into())),
    };
    let sets = grouping_sets(&group_exprs);
    let group_exprs = match &sets {
        Some(sets) => distinct_exprs(sets.iter().flatten()),
        None => group_exprs,
    };
    let aggs = collected.into_inner();
    let grouped = !group_exprs.is_empty() || !aggs.is_empty() || select.having.is_some() || sets.is_some();

    let grouping;
    let mode = if grouped {
        let (reduced, g) = plan_grouping(qcx, expr, &scope, &group_exprs, sets.as_deref(), aggs, select)?;
        expr = reduced;
        grouping = g;
        AggMode::Grouped(&grouping)
    } else {
        AggMode::Forbidden(SELECT_LIST)
    };
    let ctx = qcx.expr_ctx(&scope, mode);
    if let Some(h) = &select.having {
        expr = expr.filter(vec![plan_condition(&ctx, h, "HAVING")?]);
    }
    // Window functions (after grouping, as in PostgreSQL): each call becomes a column that
    // a Window operator appends; the select list and ORDER BY read it.
    let mut calls = Vec::new();
    let items = select.projection.iter().filter_map(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    });
    for mut e in items.chain(order_by.iter().map(|o| &o.expr)).cloned() {
        collect_window_calls(&mut e, &mut calls);
    }
    let mut windows = Vec::new();
    for call in calls {
        let w = plan_window_call(&ctx, &call)?;
        let ty = w.ty.clone();
        expr = append_window(expr, w);
        windows.push(WindowSlot { key: call.to_string(), column: expr.arity() - 1, ty });
    }
    // Set-returning functions in the select list (`SELECT unnest(tags) FROM posts`): run
    // side by side over each row, after grouping and windows, as in PostgreSQL; each call
    // becomes a column the select list reads.
    let mut srf_calls = Vec::new();
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            collect_set_returning_calls(e, &mut srf_calls);
        }
    }
    if !srf_calls.is_empty() {
        let ctx = ctx.with_windows(&windows);
        let (mut funcs, mut all_args) = (Vec::new(), Vec::new());
        for call in &srf_calls {
            let args = function_arg_exprs(call)?;
            let name = object_name(&call.name);
            let (func, args) = plan_set_returning(&ctx, &name, &args)?;
            if func.output_types().len() != 1 {
                return Err(PlanError::Unsupported(format!(
                    "{name} in a select list (it returns records); call it in FROM: SELECT ... FROM t, {name}(t.column)"
                )));
            }
            funcs.push((func, args.len()));
            all_args.extend(args);
        }
        let zip = TableFunc::Zip(funcs);
        let first = expr.arity();
        for (i, (call, ty)) in srf_calls.iter().zip(zip.output_types()).enumerate() {
            windows.push(WindowSlot { key: call.to_string(), column: first + i, ty });
        }
        expr = RelationExpr::FlatMap { input: Box::new(expr), func: zip, args: all_args };
    }
    let ctx = ctx.with_windows(&windows);
    let base_arity = expr.arity();

    // The select list.
    let mut outputs: Vec<ScalarExpr> = Vec::new();
    let mut out_scope = Scope::default();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let typed = plan_expr(&ctx, e)?;
                let ty = typed.ty.clone().unwrap_or(ScalarType::Text);
                let expr = coerce(&ctx, typed, &ty, CastContext::Implicit)?;
                let name = match item {
                    SelectItem::ExprWithAlias { alias, .. } => normalize_ident(alias),
                    _ => column_name(e),
                };
                outputs.push(expr);
                out_scope.columns.push(ScopeColumn { table: None, name, ty, qualified_only: false });
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let table = match item {
                    SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                        Some(object_name(n))
                    }
                    SelectItem::QualifiedWildcard(..) => return Err(PlanError::Unsupported("expr.*".into())),
                    _ => None,
                };
                let table = table.map(|t| t.rsplit('.').next().unwrap_or_default().to_string());
                for c in scope.expand_wildcard(table.as_deref())? {
                    let col = &scope.columns[c];
                    let ident = Expr::CompoundIdentifier(vec![
                        ast::Ident::new(col.table.clone().unwrap_or_default()),
                        ast::Ident::new(col.name.clone()),
                    ]);
                    let e = if col.table.is_some() {
                        ident
                    } else {
                        Expr::Identifier(ast::Ident::with_quote('"', col.name.clone()))
                    };
                    let typed = if grouped {
                        plan_expr(&ctx, &e)?
                    } else {
                        Typed {
                            expr: ScalarExpr::Column(c),
                            ty: Some(col.ty.clone()),
                            unknown: crate::expr::Unknown::No,
                        }
                    };
                    outputs.push(typed.expr);
                    out_scope.columns.push(ScopeColumn {
                        table: None,
                        name: col.name.clone(),
                        ty: col.ty.clone(),
                        qualified_only: false,
                    });
                }
            }
            SelectItem::ExprWithAliases { .. } => return Err(PlanError::Unsupported("multiple aliases".into())),
        }
    }
    let visible = outputs.len();

    // ORDER BY and DISTINCT ON: output columns by position or name, else extra hidden
    // columns (not for plain DISTINCT, which would see them).
    let (distinct, distinct_on) = match &select.distinct {
        None | Some(ast::Distinct::All) => (false, &[][..]),
        Some(ast::Distinct::Distinct) => (true, &[][..]),
        Some(ast::Distinct::On(exprs)) => (false, &exprs[..]),
    };
    let mut sort_columns = SortColumns { ctx: &ctx, outputs, scope: out_scope, visible, distinct };
    let on_columns: Vec<usize> = distinct_on.iter().map(|e| sort_columns.resolve(e)).collect::<Result<_, _>>()?;
    let mut orders = Vec::new();
    for o in order_by {
        orders.push(column_order(sort_columns.resolve(&o.expr)?, &o.options));
    }
    let SortColumns { outputs, scope: out_scope, .. } = sort_columns;
    // PostgreSQL's rule: the first row of each DISTINCT ON group is only well defined when
    // ORDER BY sorts by the DISTINCT ON expressions first.
    if orders.iter().take(on_columns.len()).any(|o| !on_columns.contains(&o.column)) {
        return Err(PlanError::InvalidColumnReference(
            "SELECT DISTINCT ON expressions must match initial ORDER BY expressions".into(),
        ));
    }
    let hidden = outputs.len() - visible;
    let n = outputs.len();
    expr = expr.map(outputs).project((base_arity..base_arity + n).collect());
    if distinct {
        expr = expr.distinct();
    }
    if !on_columns.is_empty() {
        expr = expr.top_k(on_columns, orders.clone(), Some(1), 0);
    }
    Ok((Planned { expr, scope: out_scope }, Orders { orders, hidden }))
}

/// `expr` with the window function `w` computed as a new last column: its partition,
/// order and argument expressions are mapped to columns a `Window` operator reads.
fn append_window(expr: RelationExpr, w: PlannedWindow) -> RelationExpr {
    let base = expr.arity();
    let (p, o, a) = (w.partition.len(), w.order.len(), w.args.len());
    let order = (w.order.iter().enumerate())
        .map(|(i, k)| ColumnOrder { column: base + p + i, desc: k.desc, nulls_last: k.nulls_last })
        .collect();
    let mut scalars = w.partition;
    scalars.extend(w.order.into_iter().map(|k| k.expr));
    scalars.extend(w.args);
    let func = WindowExpr { func: w.func, args: (base + p + o..base + p + o + a).collect(), frame: w.frame };
    RelationExpr::Window {
        input: Box::new(expr.map(scalars)),
        partition_key: (base..base + p).collect(),
        order,
        funcs: vec![func],
    }
}

/// The select list being built, to which ORDER BY and DISTINCT ON keys resolve.
struct SortColumns<'a> {
    ctx: &'a ExprCtx<'a>,
    outputs: Vec<ScalarExpr>,
    scope: Scope,
    visible: usize,
    distinct: bool,
}

impl SortColumns<'_> {
    /// The column of `e`: a select-list position (`ORDER BY 2`), an output name, an
    /// output expression, or else a new hidden column computing it.
    fn resolve(&mut self, e: &Expr) -> Result<usize, PlanError> {
        if let Expr::Value(v) = e {
            return ordinal(&v.value, self.visible);
        }
        if let Some(c) = output_alias_position(e, &self.scope, self.visible) {
            return Ok(c);
        }
        let typed = plan_expr(self.ctx, e)?;
        if let Some(c) = self.outputs.iter().position(|o| *o == typed.expr) {
            return Ok(c);
        }
        if self.distinct {
            return Err(PlanError::InvalidParameter(
                "for SELECT DISTINCT, ORDER BY expressions must appear in select list".into(),
            ));
        }
        let ty = typed.ty.clone().unwrap_or(ScalarType::Text);
        self.outputs.push(coerce(self.ctx, typed, &ty, CastContext::Implicit)?);
        self.scope.columns.push(ScopeColumn { table: None, name: "?order?".into(), ty, qualified_only: true });
        Ok(self.outputs.len() - 1)
    }
}

type WithWindows<'a> = (std::borrow::Cow<'a, Select>, std::borrow::Cow<'a, [ast::OrderByExpr]>);

/// The select with its `WINDOW w AS (...)` definitions written into the calls naming them
/// (`OVER w`, `OVER (w ORDER BY ...)`), as PostgreSQL copies a named window.
fn inline_named_windows<'a>(
    select: &'a Select,
    order_by: &'a [ast::OrderByExpr],
) -> Result<WithWindows<'a>, PlanError> {
    use std::borrow::Cow;
    if select.named_window.is_empty() {
        return Ok((Cow::Borrowed(select), Cow::Borrowed(order_by)));
    }
    let defs = &select.named_window;
    let mut error = None;
    let mut select = select.clone();
    for item in select.projection.iter_mut() {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            inline_window_names(e, defs, &mut error);
        }
    }
    let mut order_by = order_by.to_vec();
    order_by.iter_mut().for_each(|o| inline_window_names(&mut o.expr, defs, &mut error));
    match error {
        Some(e) => Err(e),
        None => Ok((Cow::Owned(select), Cow::Owned(order_by))),
    }
}

fn inline_window_names(e: &mut Expr, defs: &[ast::NamedWindowDefinition], error: &mut Option<PlanError>) {
    if let Expr::Function(f) = e {
        if let Some(over) = &mut f.over {
            match window_spec(over, defs) {
                Ok(spec) => *over = ast::WindowType::WindowSpec(spec),
                Err(err) => *error = Some(err),
            }
        }
    }
    for_each_child(e, &mut |c| inline_window_names(c, defs, error));
}

/// The full specification of a window: a named one's, or an inline one with the named
/// window it starts from (its PARTITION BY and ORDER BY; PostgreSQL's rules on overriding).
fn window_spec(over: &ast::WindowType, defs: &[ast::NamedWindowDefinition]) -> Result<ast::WindowSpec, PlanError> {
    let named = |name: &ast::Ident| -> Result<ast::WindowSpec, PlanError> {
        let key = normalize_ident(name);
        let def = defs.iter().find(|d| normalize_ident(&d.0) == key);
        match def.map(|d| &d.1) {
            Some(ast::NamedWindowExpr::WindowSpec(spec)) => {
                window_spec(&ast::WindowType::WindowSpec(spec.clone()), defs)
            }
            Some(ast::NamedWindowExpr::NamedWindow(other)) => {
                window_spec(&ast::WindowType::NamedWindow(other.clone()), defs)
            }
            None => Err(PlanError::Windowing(format!("window \"{key}\" does not exist"))),
        }
    };
    match over {
        ast::WindowType::NamedWindow(name) => named(name),
        ast::WindowType::WindowSpec(spec) => match &spec.window_name {
            None => Ok(spec.clone()),
            Some(name) => {
                let base = named(name)?;
                let key = normalize_ident(name);
                if !spec.partition_by.is_empty() {
                    return Err(PlanError::Windowing(format!(
                        "cannot override PARTITION BY clause of window \"{key}\""
                    )));
                }
                if !spec.order_by.is_empty() && !base.order_by.is_empty() {
                    return Err(PlanError::Windowing(format!("cannot override ORDER BY clause of window \"{key}\"")));
                }
                if base.window_frame.is_some() {
                    return Err(PlanError::Windowing(format!(
                        "cannot copy window \"{key}\" because it has a frame clause"
                    )));
                }
                Ok(ast::WindowSpec {
                    window_name: None,
                    partition_by: base.partition_by,
                    order_by: if spec.order_by.is_empty() { base.order_by } else { spec.order_by.clone() },
                    window_frame: spec.window_frame.clone(),
                })
            }
        },
    }
}

/// The window function calls in `e` (each text once), outermost first.
fn collect_window_calls(e: &mut Expr, out: &mut Vec<ast::Function>) {
    match e {
        Expr::Function(f) if f.over.is_some() => {
            let text = f.to_string();
            if !out.iter().any(|c| c.to_string() == text) {
                out.push(f.clone());
            }
        }
        _ => for_each_child(e, &mut |c| collect_window_calls(c, out)),
    }
}

/// The set-returning function calls in `e` (not inside subqueries), each once.
fn collect_set_returning_calls(e: &Expr, out: &mut Vec<ast::Function>) {
    match e {
        Expr::Function(f) if f.over.is_none() && is_set_returning(&object_name(&f.name)) => {
            let text = f.to_string();
            if !out.iter().any(|c| c.to_string() == text) {
                out.push(f.clone());
            }
        }
        _ => {
            let mut e = e.clone();
            for_each_child(&mut e, &mut |c| collect_set_returning_calls(c, out));
        }
    }
}

/// A function call's arguments, which must all be plain expressions.
pub(crate) fn function_arg_exprs(f: &ast::Function) -> Result<Vec<&Expr>, PlanError> {
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(PlanError::Unsupported(format!("{f}")));
    };
    unnamed_exprs(&list.args, &f.name)
}

/// Function arguments that must all be plain expressions (not named, not `*`).
fn unnamed_exprs<'a>(args: &'a [ast::FunctionArg], name: &ast::ObjectName) -> Result<Vec<&'a Expr>, PlanError> {
    args.iter()
        .map(|a| match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(PlanError::Unsupported(format!("named arguments or * in {name}(...)"))),
        })
        .collect()
}

fn is_output_alias(e: &Expr, select: &Select) -> bool {
    match e {
        Expr::Identifier(i) => {
            let name = normalize_ident(i);
            select
                .projection
                .iter()
                .any(|item| matches!(item, SelectItem::ExprWithAlias { alias, .. } if normalize_ident(alias) == name))
        }
        _ => false,
    }
}

fn output_alias_position(e: &Expr, out_scope: &Scope, visible: usize) -> Option<usize> {
    match e {
        Expr::Identifier(i) => {
            let name = normalize_ident(i);
            let hits: Vec<usize> = (0..visible).filter(|&c| out_scope.columns[c].name == name).collect();
            (hits.len() == 1).then(|| hits[0])
        }
        _ => None,
    }
}

/// Builds the Reduce for a grouped query and what later clauses see of it.
/// The grouping sets of a GROUP BY with `GROUPING SETS`, `ROLLUP` or `CUBE` (each a list
/// of expressions; PostgreSQL's cross product of its items' sets), or None without them.
fn grouping_sets(group_by: &[Expr]) -> Option<Vec<Vec<Expr>>> {
    if !group_by.iter().any(|e| matches!(e, Expr::Rollup(_) | Expr::Cube(_) | Expr::GroupingSets(_))) {
        return None;
    }
    let mut sets: Vec<Vec<Expr>> = vec![vec![]];
    for item in group_by {
        let item_sets = item_grouping_sets(item);
        sets = sets
            .iter()
            .flat_map(|prefix| item_sets.iter().map(move |s| prefix.iter().chain(s).cloned().collect()))
            .collect();
    }
    Some(sets)
}

/// The grouping sets one GROUP BY item stands for.
fn item_grouping_sets(item: &Expr) -> Vec<Vec<Expr>> {
    // Inside GROUPING SETS, an element may itself be a ROLLUP or CUBE.
    let flatten = |exprs: &Vec<Expr>| -> Vec<Vec<Expr>> {
        match exprs.as_slice() {
            [Expr::Function(f)] if matches!(object_name(&f.name).as_str(), "rollup" | "cube") => {
                item_grouping_sets(&exprs[0])
            }
            _ => grouping_sets(exprs).unwrap_or_else(|| vec![exprs.iter().flat_map(unparenthesized).collect()]),
        }
    };
    match item {
        Expr::Rollup(elements) => (0..=elements.len()).rev().map(|n| elements[..n].concat()).collect(),
        Expr::Cube(elements) => {
            let n = elements.len();
            // PostgreSQL's order: the full set first, then ever smaller subsets.
            let mut subsets: Vec<u32> = (0..1u32 << n).collect();
            subsets.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
            subsets
                .into_iter()
                .map(|m| (0..n).filter(|i| m & (1 << (n - 1 - i)) != 0).flat_map(|i| elements[i].clone()).collect())
                .collect()
        }
        Expr::GroupingSets(sets) => sets.iter().flat_map(flatten).collect(),
        // sqlparser reads `ROLLUP (a)` nested in GROUPING SETS as a function call.
        Expr::Function(f) if matches!(object_name(&f.name).as_str(), "rollup" | "cube") => {
            let elements =
                function_arg_exprs(f).map_or_else(|_| vec![], |args| args.into_iter().map(unparenthesized).collect());
            match object_name(&f.name).as_str() {
                "rollup" => item_grouping_sets(&Expr::Rollup(elements)),
                _ => item_grouping_sets(&Expr::Cube(elements)),
            }
        }
        other => vec![vec![other.clone()]],
    }
}

/// `(a, b)` inside GROUPING SETS is the two expressions a and b.
fn unparenthesized(e: &Expr) -> Vec<Expr> {
    match e {
        Expr::Tuple(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn distinct_exprs<'a>(exprs: impl Iterator<Item = &'a Expr>) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::new();
    for e in exprs {
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    out
}

fn plan_grouping(
    qcx: &QueryCtx,
    input: RelationExpr,
    scope: &Scope,
    group_exprs: &[Expr],
    sets: Option<&[Vec<Expr>]>,
    aggs: Vec<AggEntry>,
    select: &Select,
) -> Result<(RelationExpr, Grouping), PlanError> {
    let ctx = qcx.expr_ctx(scope, AggMode::Forbidden("GROUP BY"));
    let mut keys = Vec::new();
    let mut key_types = Vec::new();
    let mut key_of_expr = Vec::new();
    for g in group_exprs {
        // GROUP BY 2 and GROUP BY alias refer to the select list, as in PostgreSQL.
        let resolved: Expr = match g {
            Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => {
                    let i: usize =
                        n.parse().map_err(|_| PlanError::Syntax(format!("invalid GROUP BY position {n}")))?;
                    match select.projection.get(i.wrapping_sub(1)) {
                        Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => e.clone(),
                        _ => {
                            return Err(PlanError::InvalidColumnReference(format!(
                                "GROUP BY position {n} is not in select list"
                            )))
                        }
                    }
                }
                _ => g.clone(),
            },
            Expr::Identifier(i) if scope.resolve(None, &normalize_ident(i)).is_err() => {
                let name = normalize_ident(i);
                select
                    .projection
                    .iter()
                    .find_map(|item| match item {
                        SelectItem::ExprWithAlias { expr, alias } if normalize_ident(alias) == name => {
                            Some(expr.clone())
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| g.clone())
            }
            _ => g.clone(),
        };
        let typed = plan_expr(&ctx, &resolved)?;
        let ty = typed.ty.clone().unwrap_or(ScalarType::Text);
        let e = coerce(&ctx, typed, &ty, CastContext::Implicit)?;
        if !keys.contains(&e) {
            keys.push(e.clone());
            key_types.push(ty);
        }
        key_of_expr.push(keys.iter().position(|k| *k == e).unwrap_or_default());
    }
    if let Some(sets) = sets {
        let membership = sets
            .iter()
            .map(|set| {
                let mut members = vec![false; keys.len()];
                for e in set {
                    if let Some(i) = group_exprs.iter().position(|g| g == e) {
                        members[key_of_expr[i]] = true;
                    }
                }
                members
            })
            .collect();
        return Ok(plan_grouping_sets(input, scope.len(), keys, key_types, membership, aggs));
    }
    let arity = scope.len();
    let group_key: Vec<usize> = (arity..arity + keys.len()).collect();
    let aggregates = aggs.iter().map(|a| a.agg.clone()).collect::<Vec<_>>();
    let mut reduced = input.map(keys.clone()).reduce(group_key, aggregates.clone());
    if group_exprs.is_empty() {
        // A global aggregate yields one row even over no input: (0, NULL, ...).
        let defaults = Row::new(aggregates.iter().map(|a| a.func.default_value()).collect());
        let default_exprs: Vec<ScalarExpr> =
            aggs.iter().zip(defaults.iter()).map(|(a, d)| ScalarExpr::Literal(d.clone(), a.ty.clone())).collect();
        let n = aggs.len();
        let present_as_default = reduced.clone().project(vec![]).map(default_exprs).project((0..n).collect());
        reduced = reduced.union(present_as_default.negate()).union(RelationExpr::constant(vec![defaults], n));
    }
    Ok((reduced, Grouping { keys, key_types, aggs, sets: None }))
}

/// GROUP BY over several grouping sets: every input row once per set, with the keys the
/// set does not group by as NULL and the set's number as one more key, aggregated in one
/// Reduce. Output: keys, aggregates, set number. A set grouping by nothing yields its row
/// also over no input, as a global aggregate does.
fn plan_grouping_sets(
    input: RelationExpr,
    arity: usize,
    keys: Vec<ScalarExpr>,
    key_types: Vec<ScalarType>,
    membership: Vec<Vec<bool>>,
    aggs: Vec<AggEntry>,
) -> (RelationExpr, Grouping) {
    let (k, n) = (keys.len(), aggs.len());
    let set_number = |id: usize| ScalarExpr::Literal(Datum::Int32(id as i32), ScalarType::Int32);
    let branches = membership.iter().enumerate().map(|(id, members)| {
        let mut exprs: Vec<ScalarExpr> = (keys.iter().zip(&key_types).zip(members))
            .map(|((key, ty), member)| match member {
                true => key.clone(),
                false => ScalarExpr::Literal(Datum::Null, ty.clone()),
            })
            .collect();
        exprs.push(set_number(id));
        input.clone().map(exprs)
    });
    let aggregates: Vec<_> = aggs.iter().map(|a| a.agg.clone()).collect();
    let mut reduced = RelationExpr::Union { inputs: branches.collect() }
        .reduce((arity..arity + k + 1).collect(), aggregates.clone())
        .project((0..k).chain(k + 1..k + 1 + n).chain([k]).collect());
    for (id, _) in membership.iter().enumerate().filter(|(_, members)| !members.contains(&true)) {
        let mut defaults: Vec<Datum> = vec![Datum::Null; k];
        defaults.extend(aggregates.iter().map(|a| a.func.default_value()));
        defaults.push(Datum::Int32(id as i32));
        let types = key_types.iter().cloned().chain(aggs.iter().map(|a| a.ty.clone())).chain([ScalarType::Int32]);
        let default_exprs: Vec<ScalarExpr> =
            defaults.iter().cloned().zip(types).map(|(d, t)| ScalarExpr::Literal(d, t)).collect();
        let width = default_exprs.len();
        let this_set = ScalarExpr::call(eddy_expr::Func::Eq, vec![ScalarExpr::Column(k + n), set_number(id)]);
        let present_as_default =
            reduced.clone().filter(vec![this_set]).project(vec![]).map(default_exprs).project((0..width).collect());
        reduced =
            reduced.union(present_as_default.negate()).union(RelationExpr::constant(vec![Row::new(defaults)], width));
    }
    let sets = Some(GroupingSets { column: k + n, membership });
    (reduced, Grouping { keys, key_types, aggs, sets })
}

/// Plans FROM, folding in WHERE: equalities between inputs become join keys.
/// Plans FROM and WHERE. WHERE conditions that are subquery tests (`x IN (SELECT ...)`,
/// `[NOT] EXISTS (SELECT ...)`, joined to the rest by AND) become semi- and anti-joins.
/// `scalars` are the select's scalar subqueries (see [`extract_scalar_subqueries`]): each
/// is cross-joined before the WHERE conditions that read it.
pub(crate) fn plan_from(
    qcx: &QueryCtx,
    from: &[ast::TableWithJoins],
    selection: Option<&Expr>,
    scalars: Vec<ast::Query>,
    grouped: bool,
) -> Result<Planned, PlanError> {
    let mut conjuncts = Vec::new();
    if let Some(w) = selection {
        ast_conjuncts(w, &mut conjuncts);
    }
    if scalars.is_empty() && !conjuncts.iter().any(|c| is_subquery_test(c)) {
        return plan_from_where(qcx, from, selection);
    }
    let (subquery_tests, rest): (Vec<&Expr>, Vec<&Expr>) = conjuncts.into_iter().partition(|c| is_subquery_test(c));
    let (reading_scalars, rest): (Vec<&Expr>, Vec<&Expr>) =
        rest.into_iter().partition(|c| c.to_string().contains(SCALAR_SUBQUERY_TABLE));
    let mut planned = plan_from_where(qcx, from, and_all(rest).as_ref())?;
    for (n, query) in scalars.iter().enumerate() {
        let null_rejected = reading_scalars.iter().any(|c| rejects_null_subquery(c, n));
        planned = attach_scalar_subquery(qcx, planned, query, n, grouped, null_rejected)?;
    }
    planned = apply_where(qcx, planned, and_all(reading_scalars).as_ref())?;
    for test in subquery_tests {
        planned = apply_subquery_test(qcx, planned, test)?;
    }
    Ok(planned)
}

/// Keeps the rows of `planned` (one table, for UPDATE and DELETE) that pass `selection`,
/// whose AND-ed parts may be subquery tests (`IN (SELECT ...)`, `EXISTS`). The result has
/// the same columns as `planned`.
pub fn filter_rows(qcx: &QueryCtx, planned: Planned, selection: &Expr) -> Result<RelationExpr, PlanError> {
    let mut conjuncts = Vec::new();
    ast_conjuncts(selection, &mut conjuncts);
    let (tests, rest): (Vec<&Expr>, Vec<&Expr>) = conjuncts.into_iter().partition(|c| is_subquery_test(c));
    let mut planned = apply_where(qcx, planned, and_all(rest).as_ref())?;
    for test in tests {
        planned = apply_subquery_test(qcx, planned, test)?;
    }
    Ok(planned.expr)
}

/// Whether WHERE conjunct `c` is false or NULL whenever scalar subquery `n` is NULL: a
/// comparison with the subquery as one side (`l_quantity < (SELECT 0.2 * avg(...) ...)`).
fn rejects_null_subquery(c: &Expr, n: usize) -> bool {
    use ast::BinaryOperator::*;
    let hidden = hidden_column_ref(n);
    match unnest(c) {
        Expr::BinaryOp { left, op: Eq | NotEq | Lt | LtEq | Gt | GtEq, right } => {
            *unnest(left) == hidden || *unnest(right) == hidden
        }
        _ => false,
    }
}

fn and_all(conjuncts: Vec<&Expr>) -> Option<Expr> {
    conjuncts.into_iter().cloned().reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: ast::BinaryOperator::And,
        right: Box::new(b),
    })
}

/// The qualifier of the hidden columns holding scalar subqueries' values.
const SCALAR_SUBQUERY_TABLE: &str = "?subquery?";

/// Replaces each scalar subquery `(SELECT ...)` in WHERE (and in the select list when
/// there is no GROUP BY) by a hidden column `?subquery?.?n`, which [`plan_from`] fills
/// (see [`attach_scalar_subquery`]); returns the subqueries in order.
/// `pg_get_indexdef(oid [, column, pretty])` and `pg_get_constraintdef(oid [, pretty])` in
/// the select list (how psql's `\d` shows indexes and keys) become lookups in
/// `eddy_catalog.definitions`, `obj_description(oid [, catalog])` and
/// `col_description(oid, column)` (psql's `\dt+` and `\d+`) lookups in `pg_description`:
/// scalar subqueries correlated by the oid.
fn rewrite_definition_lookups(select: &Select) -> Result<std::borrow::Cow<'_, Select>, PlanError> {
    use std::ops::ControlFlow;
    const LOOKUPS: [&str; 4] = ["pg_get_indexdef", "pg_get_constraintdef", "obj_description", "col_description"];
    let is_lookup = |e: &Expr| {
        ast::visit_expressions(e, |e| match e {
            Expr::Function(f) if LOOKUPS.contains(&object_name(&f.name).as_str()) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .is_break()
    };
    let items = || {
        select.projection.iter().filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
    };
    if !items().any(is_lookup) {
        return Ok(std::borrow::Cow::Borrowed(select));
    }
    let lookup = |f: &ast::Function| -> Result<Option<Expr>, PlanError> {
        let part = match (object_name(&f.name).as_str(), function_arg_exprs(f)?.as_slice()) {
            ("pg_get_indexdef", [oid]) => format!("definition_oid = ({oid}) AND definition_part = 0"),
            ("pg_get_indexdef", [oid, column, _]) => {
                format!("definition_oid = ({oid}) AND definition_part = ({column})")
            }
            ("pg_get_constraintdef", [oid] | [oid, _]) => format!("definition_oid = ({oid}) AND definition_part = -1"),
            ("obj_description", [oid] | [oid, _]) => {
                return crate::parse_rewritten_expr(&format!(
                    "(SELECT description FROM pg_catalog.pg_description WHERE objoid = ({oid}) AND objsubid = 0)"
                ))
                .map(Some)
            }
            ("col_description", [oid, column]) => {
                return crate::parse_rewritten_expr(&format!(
                "(SELECT description FROM pg_catalog.pg_description WHERE objoid = ({oid}) AND objsubid = ({column}))"
            ))
                .map(Some)
            }
            _ => return Ok(None),
        };
        let sql = format!("(SELECT definition FROM eddy_catalog.definitions WHERE {part})");
        crate::parse_rewritten_expr(&sql).map(Some)
    };
    let mut select = select.clone();
    for item in &mut select.projection {
        // The column keeps the function's name, as it would have without the rewrite.
        if let SelectItem::UnnamedExpr(Expr::Function(f)) = item {
            let name = object_name(&f.name);
            if LOOKUPS.contains(&name.as_str()) {
                *item = SelectItem::ExprWithAlias { expr: Expr::Function(f.clone()), alias: ast::Ident::new(name) };
            }
        }
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            let rewritten = ast::visit_expressions_mut(e, |e| {
                if let Expr::Function(f) = e {
                    match lookup(f) {
                        Ok(Some(rewritten)) => *e = rewritten,
                        Ok(None) => {}
                        Err(err) => return ControlFlow::Break(err),
                    }
                }
                ControlFlow::Continue(())
            });
            if let ControlFlow::Break(err) = rewritten {
                return Err(err);
            }
        }
    }
    Ok(std::borrow::Cow::Owned(select))
}

fn extract_scalar_subqueries<'s>(
    qcx: &QueryCtx,
    select: &'s Select,
) -> Result<(std::borrow::Cow<'s, Select>, Vec<ast::Query>), PlanError> {
    let explicit_groups = has_group_by(select);
    // Aggregates without GROUP BY: a hidden column could not join the (absent) group key.
    let global_aggregate = !explicit_groups && select.having.is_some();
    let mentions = |e: &Expr| e.to_string().contains("(SELECT");
    let in_items = !global_aggregate
        && select.projection.iter().any(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => mentions(e),
            _ => false,
        });
    let in_having = explicit_groups && select.having.as_ref().is_some_and(mentions);
    if !in_items && !in_having && !select.selection.as_ref().is_some_and(mentions) {
        return Ok((std::borrow::Cow::Borrowed(select), vec![]));
    }
    let mut select = select.clone();
    let mut scalars = Vec::new();
    if let Some(w) = select.selection.as_mut() {
        replace_outside_subquery_tests(qcx, w, &mut scalars);
    }
    if in_items {
        for item in select.projection.iter_mut() {
            match item {
                // A bare subquery is named after its column, as in PostgreSQL.
                // A rewritten item keeps the name PostgreSQL gives the original (a bare
                // subquery is named after its column).
                SelectItem::UnnamedExpr(e) => {
                    let name = match e {
                        Expr::Subquery(q) => subquery_column_name(q),
                        _ => column_name(e),
                    };
                    let before = scalars.len();
                    replace_scalar_subqueries(qcx, e, &mut scalars);
                    if scalars.len() > before {
                        *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: ast::Ident::with_quote('"', name) };
                    }
                }
                SelectItem::ExprWithAlias { expr: e, .. } => replace_scalar_subqueries(qcx, e, &mut scalars),
                _ => {}
            }
        }
    }
    if in_having {
        if let Some(h) = select.having.as_mut() {
            replace_scalar_subqueries(qcx, h, &mut scalars);
        }
    }
    if explicit_groups {
        // An uncorrelated subquery has one value for all rows: grouping by it too changes no
        // group and makes it readable after grouping (correlated ones are refused there).
        if let ast::GroupByExpr::Expressions(keys, _) = &mut select.group_by {
            keys.extend((0..scalars.len()).map(hidden_column_ref));
        }
    }
    Ok((std::borrow::Cow::Owned(select), scalars))
}

fn hidden_column_ref(n: usize) -> Expr {
    Expr::CompoundIdentifier(vec![ast::Ident::new(SCALAR_SUBQUERY_TABLE), ast::Ident::new(format!("?{n}"))])
}

/// The name PostgreSQL gives a scalar subquery's column in a select list.
fn subquery_column_name(q: &ast::Query) -> String {
    match q.body.as_ref() {
        SetExpr::Select(s) => match s.projection.as_slice() {
            [SelectItem::ExprWithAlias { alias, .. }] => normalize_ident(alias),
            [SelectItem::UnnamedExpr(e)] => column_name(e),
            _ => "?column?".into(),
        },
        _ => "?column?".into(),
    }
}

/// [`replace_scalar_subqueries`] in a WHERE condition, except in its AND-ed subquery tests
/// (`EXISTS`, `IN (SELECT ...)`), which [`plan_from`] plans as semi- and anti-joins.
fn replace_outside_subquery_tests(qcx: &QueryCtx, e: &mut Expr, scalars: &mut Vec<ast::Query>) {
    match e {
        Expr::BinaryOp { left, op: ast::BinaryOperator::And, right } => {
            replace_outside_subquery_tests(qcx, left, scalars);
            replace_outside_subquery_tests(qcx, right, scalars);
        }
        Expr::Nested(inner) if matches!(**inner, Expr::BinaryOp { op: ast::BinaryOperator::And, .. }) => {
            replace_outside_subquery_tests(qcx, inner, scalars)
        }
        // The anti-join plan of NOT IN needs an uncorrelated subquery; a correlated one is
        // answered by counting instead.
        Expr::In { target: ast::InTarget::Subquery(query), negated: true, .. }
            if is_correlated(qcx, query) && quantified::as_counts(qcx, e).is_some_and(|c| c.in_place) =>
        {
            replace_scalar_subqueries(qcx, e, scalars)
        }
        test if is_subquery_test(test) => {}
        other => replace_scalar_subqueries(qcx, other, scalars),
    }
}

/// Whether `query` reads the outer query's columns (it does not plan on its own).
fn is_correlated(qcx: &QueryCtx, query: &ast::Query) -> bool {
    matches!(plan_uncorrelated(qcx, query), Err(PlanError::Unsupported(m)) if m.contains("correlated subquery"))
}

/// Walks the common expression forms, replacing scalar subqueries, and `[NOT] EXISTS`
/// as a comparison of a counting scalar subquery with 0 (subqueries inside other forms
/// stay, and are refused when planned).
fn replace_scalar_subqueries(qcx: &QueryCtx, e: &mut Expr, scalars: &mut Vec<ast::Query>) {
    match e {
        Expr::Subquery(query) => {
            let n = scalars.len();
            scalars.push((**query).clone());
            *e = hidden_column_ref(n);
        }
        Expr::Exists { subquery, negated } => {
            if let Some(counting) = counting_rows_of(subquery) {
                let n = scalars.len();
                scalars.push(counting);
                let op = if *negated { ast::BinaryOperator::Eq } else { ast::BinaryOperator::Gt };
                let zero = Expr::value(ast::Value::Number("0".into(), false));
                *e = Expr::Nested(Box::new(Expr::BinaryOp {
                    left: Box::new(hidden_column_ref(n)),
                    op,
                    right: Box::new(zero),
                }));
            }
        }
        Expr::In { target: ast::InTarget::Subquery(_), .. } | Expr::AnyOp { .. } | Expr::AllOp { .. } => {
            match quantified::as_counts(qcx, e) {
                Some(counts) => *e = counts_answer(counts, scalars),
                None => for_each_child(e, &mut |c| replace_scalar_subqueries(qcx, c, scalars)),
            }
        }
        _ => for_each_child(e, &mut |c| replace_scalar_subqueries(qcx, c, scalars)),
    }
}

/// Adds a quantified comparison's two counting subqueries and returns its answer over them.
fn counts_answer(counts: quantified::AsCounts, scalars: &mut Vec<ast::Query>) -> Expr {
    let n = scalars.len();
    let quantified::AsCounts { decisive, unknown, answer, .. } = counts;
    scalars.extend([decisive, unknown]);
    answer.over(hidden_column_ref(n), hidden_column_ref(n + 1))
}

/// `SELECT count(*) FROM ... WHERE ...` of an `EXISTS` subquery (whose select list does
/// not matter), if it is a plain SELECT without grouping, aggregates or LIMIT.
fn counting_rows_of(query: &ast::Query) -> Option<ast::Query> {
    let SetExpr::Select(select) = query.body.as_ref() else { return None };
    let grouped = has_group_by(select);
    let aggregates = select.projection.iter().any(|i| match i {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            !matches!(aggregate_shape(e), AggregateShape::None)
        }
        _ => false,
    });
    if grouped || aggregates || select.having.is_some() || query.limit_clause.is_some() || query.with.is_some() {
        return None;
    }
    let count = sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql("count(*)")
        .and_then(|mut p| p.parse_expr())
        .ok()?;
    let mut select = select.clone();
    select.projection = vec![SelectItem::UnnamedExpr(count)];
    select.distinct = None;
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    query.order_by = None;
    Some(query)
}

/// Calls `f` on the direct subexpressions of the forms planning looks into for scalar
/// subqueries and window calls: operators, casts, tests, BETWEEN, IN lists, CASE and
/// function arguments.
fn for_each_child(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    match e {
        Expr::BinaryOp { left, right, .. } => {
            f(left);
            f(right);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => f(expr),
        Expr::Between { expr, low, high, .. } => {
            f(expr);
            f(low);
            f(high);
        }
        Expr::In { expr, target: ast::InTarget::List(list), .. } => {
            f(expr);
            for item in list {
                f(item);
            }
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            if let Some(o) = operand {
                f(o);
            }
            for c in conditions {
                f(&mut c.condition);
                f(&mut c.result);
            }
            if let Some(e) = else_result {
                f(e);
            }
        }
        Expr::Function(func) => {
            if let ast::FunctionArguments::List(list) = &mut func.args {
                for arg in &mut list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = arg {
                        f(e);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Plans uncorrelated scalar subquery number `n`: one hidden column `?subquery?.?n`, one
/// row: the subquery's value, NULL if it has no row, an error if it has several.
fn scalar_subquery(qcx: &QueryCtx, query: &ast::Query, n: usize) -> Result<Planned, PlanError> {
    let sub = plan_uncorrelated(qcx, query)?;
    if sub.scope.len() != 1 {
        return Err(PlanError::Cardinality("subquery must return only one column".into()));
    }
    let ty = sub.scope.columns[0].ty.clone();
    let any_row = sub.expr.clone().project(vec![]).distinct();
    let is_empty = RelationExpr::constant(vec![Row::empty()], 0).union(any_row.negate());
    let null_if_empty = RelationExpr::constant(vec![Row::new(vec![Datum::Null])], 1).join(is_empty, vec![], vec![]);
    // No rows, but an error row when the subquery has more than one.
    let count = AggregateExpr::new(AggregateFunc::CountRows, ScalarExpr::Column(0), false);
    let check = sub
        .expr
        .clone()
        .reduce(vec![], vec![count])
        .map(vec![ScalarExpr::call(eddy_expr::Func::SingleRowCheck, vec![ScalarExpr::Column(0)])])
        .filter(vec![is_not_null(ScalarExpr::Column(1))?])
        .project(vec![1]);
    let expr = sub.expr.union(null_if_empty).union(check);
    Ok(Planned { expr, scope: hidden_column(n, ty) })
}

pub(crate) fn hidden_column(n: usize, ty: ScalarType) -> Scope {
    Scope {
        columns: vec![ScopeColumn {
            table: Some(SCALAR_SUBQUERY_TABLE.into()),
            name: format!("?{n}"),
            ty,
            qualified_only: true,
        }],
    }
}

/// Adds scalar subquery number `n` to `planned` as a hidden column. Uncorrelated: a cross
/// join with its one-row value. Correlated: by equalities ([`attach_by_equalities`]) or
/// otherwise (planned over the outer values it reads, [`correlated::attach_scalar`]).
/// `null_rejected`: WHERE drops the rows where the subquery is NULL.
fn attach_scalar_subquery(
    qcx: &QueryCtx,
    planned: Planned,
    query: &ast::Query,
    n: usize,
    grouped: bool,
    null_rejected: bool,
) -> Result<Planned, PlanError> {
    if grouped && correlated::reads_outer(qcx, &planned.scope, query)? {
        return Err(PlanError::Unsupported("a correlated scalar subquery in a query with GROUP BY".into()));
    }
    if let Some(d) = decorrelate(qcx, query, &planned.scope, true, true)? {
        if let Some(default) = equality_correlated_default(qcx, &planned.scope, query, &d)? {
            return attach_by_equalities(qcx, planned, d, default, n, null_rejected);
        }
    }
    let planned = match correlated::attach_scalar(qcx, planned, query, n)? {
        Ok(attached) => return Ok(attached),
        Err(uncorrelated) => uncorrelated,
    };
    let value = scalar_subquery(qcx, query, n)?;
    Ok(Planned { expr: planned.expr.join(value.expr, vec![], vec![]), scope: planned.scope.concat(&value.scope) })
}

/// The value over no rows of a subquery correlated only by the equalities `decorrelate`
/// took out, if it is one aggregate (`count` or another); `None` when the cheaper
/// equality path does not apply.
fn equality_correlated_default(
    qcx: &QueryCtx,
    outer: &Scope,
    query: &ast::Query,
    d: &Decorrelated,
) -> Result<Option<Datum>, PlanError> {
    let SetExpr::Select(select) = query.body.as_ref() else { return Ok(None) };
    let value = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] => e,
        _ => return Err(PlanError::Cardinality("subquery must return only one column".into())),
    };
    let default = match aggregate_shape(value) {
        AggregateShape::Count => Datum::Int64(0),
        AggregateShape::Other => Datum::Null,
        AggregateShape::CountInside | AggregateShape::None => return Ok(None),
    };
    if query.limit_clause.is_some() || correlated::reads_outer(qcx, outer, &d.query)? {
        return Ok(None);
    }
    Ok(Some(default))
}

/// A scalar subquery correlated by equalities (`(SELECT avg(x) FROM t2 WHERE t2.k =
/// t1.k)`): its aggregate grouped by the inner keys, left-joined on the outer keys; outer
/// rows without a group get `default` (NULL, or 0 for a `count`). When the default is NULL
/// and WHERE drops NULLs (`null_rejected`), an inner join gives the same rows and does
/// not compute the outer query a second time for the unmatched ones.
fn attach_by_equalities(
    qcx: &QueryCtx,
    planned: Planned,
    d: Decorrelated,
    default: Datum,
    n: usize,
    null_rejected: bool,
) -> Result<Planned, PlanError> {
    let sub = plan_uncorrelated(qcx, &d.query)?;
    let arity = planned.scope.len();
    let ty = sub.scope.columns[0].ty.clone();
    let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("WHERE"));
    let mut equalities = Vec::new();
    for (i, key) in d.outer_keys.iter().enumerate() {
        let left = plan_expr(&ctx, key)?;
        let right = Typed::known(ScalarExpr::Column(arity + 1 + i), sub.scope.columns[1 + i].ty.clone());
        equalities.push(binary(&ctx, "=", left, right)?.expr);
    }
    let matched = join_on(planned.expr.clone(), arity, sub.expr, equalities)?.project((0..=arity).collect());
    let scope = planned.scope.concat(&hidden_column(n, ty.clone()));
    if null_rejected && default.is_null() {
        return Ok(Planned { expr: matched, scope });
    }
    let unmatched = antijoin(planned.expr, matched.clone().project((0..arity).collect()).distinct(), arity)
        .map(vec![ScalarExpr::Literal(default, ty)]);
    Ok(Planned { expr: matched.union(unmatched), scope })
}

pub(crate) enum AggregateShape {
    /// `count(...)`: 0 over no rows.
    Count,
    /// Another aggregate, possibly inside arithmetic: NULL over no rows.
    Other,
    /// `count` inside a larger expression: its value over no rows is not simply NULL or 0.
    CountInside,
    None,
}

pub(crate) fn aggregate_shape(e: &Expr) -> AggregateShape {
    fn contains_aggregate(e: &Expr, count: &mut bool) -> bool {
        match e {
            // A window function (`sum(x) OVER (...)`) is not an aggregate of the query.
            Expr::Function(f) if f.over.is_none() => {
                let name = object_name(&f.name);
                *count |= matches!(name.as_str(), "count" | "regr_count");
                AggregateFunc::is_aggregate_name(&name)
            }
            Expr::Nested(e) | Expr::Cast { expr: e, .. } | Expr::UnaryOp { expr: e, .. } => {
                contains_aggregate(e, count)
            }
            Expr::BinaryOp { left, right, .. } => contains_aggregate(left, count) | contains_aggregate(right, count),
            _ => false,
        }
    }
    match e {
        Expr::Function(f) if f.over.is_none() && matches!(object_name(&f.name).as_str(), "count" | "regr_count") => {
            AggregateShape::Count
        }
        other => {
            let mut count = false;
            match (contains_aggregate(other, &mut count), count) {
                (true, true) => AggregateShape::CountInside,
                (true, false) => AggregateShape::Other,
                (false, _) => AggregateShape::None,
            }
        }
    }
}

/// The AND-ed parts of a condition (parentheses around a part are looked through).
fn ast_conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp { left, op: ast::BinaryOperator::And, right } => {
            ast_conjuncts(left, out);
            ast_conjuncts(right, out);
        }
        Expr::Nested(inner) if matches!(**inner, Expr::BinaryOp { op: ast::BinaryOperator::And, .. }) => {
            ast_conjuncts(inner, out)
        }
        other => out.push(other),
    }
}

fn unnest(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnest(inner),
        other => other,
    }
}

fn is_subquery_test(e: &Expr) -> bool {
    matches!(unnest(e), Expr::Exists { .. } | Expr::In { target: ast::InTarget::Subquery(_), .. })
}

pub(crate) fn is_not_null(e: ScalarExpr) -> Result<ScalarExpr, PlanError> {
    let resolved = func::resolve_function("is_not_null", &[Some(ScalarType::Bool)])?;
    Ok(ScalarExpr::call(resolved.func, vec![e]))
}

fn is_null(e: ScalarExpr) -> Result<ScalarExpr, PlanError> {
    let resolved = func::resolve_function("is_null", &[Some(ScalarType::Bool)])?;
    Ok(ScalarExpr::call(resolved.func, vec![e]))
}

/// Plans a subquery that must not read the outer query's columns.
pub(crate) fn plan_uncorrelated(qcx: &QueryCtx, query: &ast::Query) -> Result<Planned, PlanError> {
    let correlated = |what: String| {
        PlanError::Unsupported(format!(
            "a subquery reading columns of the query around it (correlated subquery: {what}); rewrite it as a join"
        ))
    };
    plan_query(qcx, query).map_err(|e| match e {
        PlanError::UnknownColumn(c) | PlanError::UnknownQualifiedColumn(c) => correlated(format!("column {c}")),
        PlanError::UnknownRelation(r) if r.contains("missing FROM-clause entry") => {
            correlated(format!("table {}", r.split('"').next().unwrap_or(&r)))
        }
        other => other,
    })
}

/// Keeps the rows of `planned` that pass `test`: `x IN (SELECT y ...)` is a join with the
/// distinct non-NULL `y`s; `NOT IN` follows SQL's NULL rules with joins against "is the
/// subquery empty / does it hold a NULL"; `EXISTS` is a cross join with one empty row if
/// the subquery has any row; `NOT EXISTS` the rows minus those.
fn apply_subquery_test(qcx: &QueryCtx, planned: Planned, test: &Expr) -> Result<Planned, PlanError> {
    let arity = planned.scope.len();
    let outer_columns: Vec<usize> = (0..arity).collect();
    match unnest(test) {
        Expr::Exists { subquery, negated } => {
            if let Some(d) = decorrelate(qcx, subquery, &planned.scope, false, false)? {
                if !correlated::reads_outer(qcx, &planned.scope, &d.query)? {
                    return semijoin(qcx, planned, d, None, *negated);
                }
            }
            let planned = match correlated::semijoin(qcx, planned, subquery, None, *negated)? {
                Ok(tested) => return Ok(tested),
                Err(uncorrelated) => uncorrelated,
            };
            let sub = plan_uncorrelated(qcx, subquery)?;
            let any_row = sub.expr.project(vec![]).distinct();
            let matching = planned.expr.clone().join(any_row, vec![], vec![]);
            let expr = if *negated { planned.expr.union(matching.negate()) } else { matching };
            Ok(Planned { expr, scope: planned.scope })
        }
        Expr::In { expr: left, target: ast::InTarget::Subquery(subquery), negated, .. } => {
            if let Some(d) = decorrelate(qcx, subquery, &planned.scope, true, false)? {
                if *negated {
                    return Err(PlanError::Unsupported("NOT IN with a correlated subquery".into()));
                }
                if !correlated::reads_outer(qcx, &planned.scope, &d.query)? {
                    return semijoin(qcx, planned, d, Some(left), false);
                }
            }
            let planned = match correlated::semijoin(qcx, planned, subquery, Some(left), *negated)? {
                Ok(tested) => return Ok(tested),
                Err(uncorrelated) => uncorrelated,
            };
            let sub = plan_uncorrelated(qcx, subquery)?;
            // `(a, b) IN (SELECT x, y ...)`: a row of the subquery equal in every column.
            let fields = crate::expr::row_items(left);
            let lefts: Vec<&Expr> = fields.as_ref().map_or_else(|| vec![&**left], |f| f.iter().collect());
            if sub.scope.len() != lefts.len() {
                return Err(PlanError::Cardinality(format!(
                    "subquery has too {} columns",
                    if sub.scope.len() > lefts.len() { "many" } else { "few" }
                )));
            }
            if lefts.len() > 1 && *negated {
                return Err(PlanError::Unsupported("NOT IN of a row of several columns".into()));
            }
            let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("WHERE"));
            let (mut not_null, mut equal) = (Vec::new(), Vec::new());
            for (i, l) in lefts.into_iter().enumerate() {
                let l = plan_expr(&ctx, l)?;
                not_null.push(is_not_null(l.expr.clone())?);
                let right = Typed::known(ScalarExpr::Column(arity + i), sub.scope.columns[i].ty.clone());
                equal.push(binary(&ctx, "=", l, right)?.expr);
            }
            let non_null = planned.expr.clone().filter(not_null);
            let members = join_on(non_null.clone(), arity, sub.expr.clone().distinct(), equal)?.project(outer_columns);
            if !*negated {
                return Ok(Planned { expr: members, scope: planned.scope });
            }
            // x NOT IN (S) is true when S is empty (even for a NULL x), and otherwise only
            // when x is not NULL, S holds no NULL, and x is not in S.
            let any_row = |s: RelationExpr| s.project(vec![]).distinct();
            let s_is_empty_rows = planned
                .expr
                .clone()
                .union(planned.expr.clone().join(any_row(sub.expr.clone()), vec![], vec![]).negate());
            let s_null = sub.expr.clone().filter(vec![is_null(ScalarExpr::Column(0))?]);
            let s_nonempty_without_null = any_row(sub.expr).union(any_row(s_null).negate());
            let not_members = non_null.union(members.negate()).join(s_nonempty_without_null, vec![], vec![]);
            Ok(Planned { expr: s_is_empty_rows.union(not_members), scope: planned.scope })
        }
        other => Err(PlanError::Unsupported(format!("the condition {other}"))),
    }
}

/// A correlated subquery made uncorrelated: the equalities `inner = outer` it was
/// correlated by are removed from its WHERE, and the inner sides become its output
/// columns (after the tested value, for IN), to be joined with `outer_keys`.
struct Decorrelated {
    query: ast::Query,
    outer_keys: Vec<Expr>,
}

/// Decorrelates `query` if it reads columns of `outer` only through equalities with its
/// own columns among its WHERE's AND-ed conditions (`EXISTS (SELECT ... WHERE t2.k = t1.k
/// AND ...)`). With `keep_value` the subquery keeps its one column first (`x IN (...)`, a
/// scalar subquery); with `group_by_keys` it is grouped by the inner keys (an aggregate).
fn decorrelate(
    qcx: &QueryCtx,
    query: &ast::Query,
    outer: &Scope,
    keep_value: bool,
    group_by_keys: bool,
) -> Result<Option<Decorrelated>, PlanError> {
    let SetExpr::Select(select) = query.body.as_ref() else { return Ok(None) };
    let Some(selection) = &select.selection else { return Ok(None) };
    let inner = match plan_from_where(qcx, &select.from, None) {
        Ok(planned) => planned.scope,
        Err(_) => return Ok(None),
    };
    let mut conjuncts = Vec::new();
    ast_conjuncts(selection, &mut conjuncts);
    let (mut inner_keys, mut outer_keys, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for c in conjuncts {
        if let Expr::BinaryOp { left, op: ast::BinaryOperator::Eq, right } = unnest(c) {
            match (side(left, &inner, outer), side(right, &inner, outer)) {
                (Side::Inner, Side::Outer) => {
                    inner_keys.push((**left).clone());
                    outer_keys.push((**right).clone());
                    continue;
                }
                (Side::Outer, Side::Inner) => {
                    inner_keys.push((**right).clone());
                    outer_keys.push((**left).clone());
                    continue;
                }
                _ => {}
            }
        }
        rest.push(c);
    }
    if inner_keys.is_empty() {
        return Ok(None);
    }
    let mut select = select.clone();
    select.selection = and_all(rest);
    if group_by_keys {
        if has_group_by(&select) {
            return Ok(None);
        }
        select.group_by = ast::GroupByExpr::Expressions(inner_keys.clone(), vec![]);
    }
    let keys = inner_keys.into_iter().map(SelectItem::UnnamedExpr);
    select.projection = match keep_value {
        // EXISTS ignores what the subquery selects.
        false => keys.collect(),
        true if select.projection.len() != 1 => {
            return Err(PlanError::Cardinality("subquery has too many columns".into()))
        }
        true => select.projection.iter().cloned().chain(keys).collect(),
    };
    let mut query = query.clone();
    query.body = Box::new(SetExpr::Select(select));
    Ok(Some(Decorrelated { query, outer_keys }))
}

enum Side {
    Inner,
    Outer,
    Neither,
}

/// Whether `e` reads only the subquery's columns, only the outer query's, or neither/both.
fn side(e: &Expr, inner: &Scope, outer: &Scope) -> Side {
    let Some(refs) = column_refs(e) else { return Side::Neither };
    let resolves =
        |scope: &Scope, (table, name): &(Option<String>, String)| scope.resolve(table.as_deref(), name).is_ok();
    if refs.is_empty() {
        Side::Neither
    } else if refs.iter().all(|r| resolves(inner, r)) {
        Side::Inner
    } else if refs.iter().all(|r| !resolves(inner, r) && resolves(outer, r)) {
        Side::Outer
    } else {
        Side::Neither
    }
}

/// The column references of a simple expression, or `None` if it has other parts.
fn column_refs(e: &Expr) -> Option<Vec<(Option<String>, String)>> {
    match e {
        Expr::Identifier(i) => Some(vec![(None, normalize_ident(i))]),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            Some(vec![(Some(normalize_ident(&parts[0])), normalize_ident(&parts[1]))])
        }
        Expr::Value(_) => Some(vec![]),
        Expr::Nested(e) | Expr::UnaryOp { expr: e, .. } | Expr::Cast { expr: e, .. } => column_refs(e),
        Expr::BinaryOp { left, right, .. } => {
            let mut refs = column_refs(left)?;
            refs.extend(column_refs(right)?);
            Some(refs)
        }
        _ => None,
    }
}

/// The rows of `planned` with a match in the decorrelated subquery (`x IN`: on the tested
/// value too), or without one when `negated` (NOT EXISTS).
fn semijoin(
    qcx: &QueryCtx,
    planned: Planned,
    d: Decorrelated,
    tested: Option<&Expr>,
    negated: bool,
) -> Result<Planned, PlanError> {
    let sub = plan_uncorrelated(qcx, &d.query)?;
    let arity = planned.scope.len();
    let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("WHERE"));
    let mut outer_values = Vec::new();
    if let Some(x) = tested {
        outer_values.push(x);
    }
    outer_values.extend(d.outer_keys.iter());
    let mut equalities = Vec::new();
    for (i, value) in outer_values.into_iter().enumerate() {
        let left = plan_expr(&ctx, value)?;
        let right = Typed::known(ScalarExpr::Column(arity + i), sub.scope.columns[i].ty.clone());
        equalities.push(binary(&ctx, "=", left, right)?.expr);
    }
    let matching = join_on(planned.expr.clone(), arity, sub.expr.distinct(), equalities)?.project((0..arity).collect());
    let expr = if negated { planned.expr.union(matching.negate()) } else { matching };
    Ok(Planned { expr, scope: planned.scope })
}

pub(crate) fn plan_from_where(
    qcx: &QueryCtx,
    from: &[ast::TableWithJoins],
    selection: Option<&Expr>,
) -> Result<Planned, PlanError> {
    let mut factors = Vec::with_capacity(from.len());
    let mut laterals: Vec<Option<Lateral>> = Vec::with_capacity(from.len());
    let mut left_scope = Scope::default();
    for twj in from {
        let lateral = match &twj.relation {
            TableFactor::Derived { lateral: true, subquery, alias, .. }
                if !factors.is_empty() && twj.joins.is_empty() =>
            {
                Some(Lateral::Subquery { query: subquery, alias: alias.as_ref() })
            }
            _ if !factors.is_empty() && is_table_function(twj) => {
                let call = plan_table_function(qcx, &twj.relation, &left_scope)?;
                call.is_lateral().then_some(Lateral::Function(call))
            }
            _ => None,
        };
        if let Some(item) = lateral {
            // A placeholder with the item's columns: it is joined in FROM order, below.
            let scope = item.scope(qcx, &left_scope)?;
            left_scope = left_scope.concat(&scope);
            factors.push(Planned { expr: RelationExpr::constant(vec![], scope.len()), scope });
            laterals.push(Some(item));
            continue;
        }
        let planned = plan_table_with_joins(qcx, twj)?;
        left_scope = left_scope.concat(&planned.scope);
        factors.push(planned);
        laterals.push(None);
    }
    if factors.is_empty() {
        let unit = Planned { expr: RelationExpr::constant(vec![Row::empty()], 0), scope: Scope::default() };
        return apply_where(qcx, unit, selection);
    }
    if factors.len() == 1 {
        let only = factors.pop().ok_or_else(|| PlanError::Syntax("empty FROM".into()))?;
        return apply_where(qcx, only, selection);
    }
    // Comma joins: plan WHERE over all inputs, then join one input at a time, moving each
    // conjunct into the first join where all its columns are available.
    let mut full_scope = Scope::default();
    let mut ranges = Vec::new();
    for f in &factors {
        let start = full_scope.len();
        full_scope = full_scope.concat(&f.scope);
        ranges.push(start..full_scope.len());
    }
    let mut conjuncts = match selection {
        Some(w) => {
            split_conjunction(plan_condition(&qcx.expr_ctx(&full_scope, AggMode::Forbidden("WHERE")), w, "WHERE")?)
        }
        None => vec![],
    };
    // A function reading the items before it must come after them: FROM order then.
    let order = if laterals.iter().any(Option::is_some) {
        (0..factors.len()).collect()
    } else {
        join_order(&ranges, &conjuncts)
    };
    let mut inputs: Vec<Option<(Planned, Option<Lateral>)>> = factors.into_iter().zip(laterals).map(Some).collect();
    // Where each column of `full_scope` sits in the joined relation so far.
    let mut position = vec![usize::MAX; full_scope.len()];
    let mut expr: Option<RelationExpr> = None;
    let mut left_arity = 0;
    for &f in &order {
        let (factor, lateral) = inputs[f].take().ok_or_else(|| PlanError::Syntax("FROM item joined twice".into()))?;
        for (i, column) in ranges[f].clone().enumerate() {
            position[column] = left_arity + i;
        }
        let (ready, rest): (Vec<_>, Vec<_>) =
            conjuncts.into_iter().partition(|c| columns_of(c).iter().all(|&col| position[col] != usize::MAX));
        conjuncts = rest;
        let ready: Vec<ScalarExpr> = ready
            .into_iter()
            .map(|mut c| {
                c.permute(&|col| position[col]);
                c
            })
            .collect();
        expr = Some(match (expr, lateral) {
            (None, _) => factor.expr.filter(ready),
            // An item reading the items before it: evaluated for each row of them (in FROM
            // order, so the columns so far are the scope's first ones).
            (Some(left), Some(item)) => {
                let scope = Scope { columns: full_scope.columns[..left_arity].to_vec() };
                item.over(qcx, &Planned { expr: left, scope })?.expr.filter(ready)
            }
            (Some(left), None) => join_on(left, left_arity, factor.expr, ready)?,
        });
        left_arity += ranges[f].len();
    }
    let expr = expr.ok_or_else(|| PlanError::Syntax("empty FROM".into()))?;
    let in_from_order = order.windows(2).all(|w| w[0] < w[1]);
    let expr = if in_from_order { expr } else { expr.project(position) };
    Ok(Planned { expr, scope: full_scope })
}

/// The order in which to join the FROM items at `ranges` (column ranges of the combined
/// scope): the first item, then again and again the first remaining item that an equality
/// in `conjuncts` ties to those joined so far (FROM order when none is), so that `FROM
/// part, supplier, partsupp WHERE p_partkey = ps_partkey AND s_suppkey = ps_suppkey`
/// joins through `partsupp` instead of building part x supplier.
fn join_order(ranges: &[std::ops::Range<usize>], conjuncts: &[ScalarExpr]) -> Vec<usize> {
    let item_of = |column: usize| ranges.iter().position(|r| r.contains(&column));
    // For each equality between columns of two or more items: the items it reads.
    let links: Vec<Vec<usize>> = conjuncts
        .iter()
        .filter(|c| matches!(c, ScalarExpr::Call { func: eddy_expr::Func::Eq, .. }))
        .map(|c| {
            let mut items: Vec<usize> = columns_of(c).into_iter().filter_map(item_of).collect();
            items.sort_unstable();
            items.dedup();
            items
        })
        .filter(|items| items.len() > 1)
        .collect();
    let mut joined = vec![false; ranges.len()];
    let mut order = Vec::with_capacity(ranges.len());
    while order.len() < ranges.len() {
        let tied =
            |i: usize| links.iter().any(|items| items.contains(&i) && items.iter().all(|&j| j == i || joined[j]));
        let next = (0..ranges.len())
            .filter(|&i| !joined[i])
            .find(|&i| order.is_empty() || tied(i))
            .or_else(|| (0..ranges.len()).find(|&i| !joined[i]));
        let Some(next) = next else { break };
        joined[next] = true;
        order.push(next);
    }
    order
}

/// The columns `e` reads.
fn columns_of(e: &ScalarExpr) -> Vec<usize> {
    let mut columns = Vec::new();
    e.visit(&mut |x| {
        if let ScalarExpr::Column(i) = x {
            columns.push(*i);
        }
    });
    columns
}

fn apply_where(qcx: &QueryCtx, planned: Planned, selection: Option<&Expr>) -> Result<Planned, PlanError> {
    match selection {
        None => Ok(planned),
        Some(w) => {
            let ctx = qcx.expr_ctx(&planned.scope, AggMode::Forbidden("WHERE"));
            let pred = plan_condition(&ctx, w, "WHERE")?;
            Ok(Planned { expr: planned.expr.filter(split_conjunction(pred)), scope: planned.scope })
        }
    }
}

fn split_conjunction(e: ScalarExpr) -> Vec<ScalarExpr> {
    match e {
        ScalarExpr::And(parts) => parts.into_iter().flat_map(split_conjunction).collect(),
        ScalarExpr::Or(branches) if !branches.is_empty() => factor_disjunction(branches),
        other => vec![other],
    }
}

/// `(a AND b) OR (a AND c)` as the conjuncts `a`, `b OR c` (equal in three-valued logic),
/// so that an equality every branch repeats can join the inputs it ties, as in TPC-H's
/// query 19, instead of filtering their cross product.
fn factor_disjunction(branches: Vec<ScalarExpr>) -> Vec<ScalarExpr> {
    let branches: Vec<Vec<ScalarExpr>> = branches.into_iter().map(split_conjunction).collect();
    let mut common: Vec<ScalarExpr> = Vec::new();
    for c in &branches[0] {
        if !common.contains(c) && branches[1..].iter().all(|b| b.contains(c)) {
            common.push(c.clone());
        }
    }
    let rest: Vec<Vec<ScalarExpr>> =
        branches.into_iter().map(|b| b.into_iter().filter(|c| !common.contains(c)).collect()).collect();
    // A branch left with nothing is TRUE, and so is the whole disjunction.
    if !common.is_empty() && rest.iter().any(Vec::is_empty) {
        return common;
    }
    let and_of = |mut parts: Vec<ScalarExpr>| if parts.len() == 1 { parts.remove(0) } else { ScalarExpr::And(parts) };
    common.push(ScalarExpr::Or(rest.into_iter().map(and_of).collect()));
    common
}

/// Inner join of `left` (columns `0..left_arity`) and `right` on `conjuncts` over the
/// combined columns: equalities between a left-only and a right-only expression become
/// join keys (NULL keys removed first, as `=` never matches NULL); the rest filter.
fn join_on(
    left: RelationExpr,
    left_arity: usize,
    right: RelationExpr,
    conjuncts: Vec<ScalarExpr>,
) -> Result<RelationExpr, PlanError> {
    let mut left_key = Vec::new();
    let mut right_key = Vec::new();
    let mut residual = Vec::new();
    for c in conjuncts {
        match equi_sides(&c, left_arity) {
            Some((l, mut r)) => {
                r.permute(&|col| col - left_arity);
                left_key.push(l);
                right_key.push(r);
            }
            None => residual.push(c),
        }
    }
    let not_null =
        |keys: &[ScalarExpr]| -> Result<Vec<ScalarExpr>, PlanError> { keys.iter().cloned().map(is_not_null).collect() };
    let left = left.filter(not_null(&left_key)?);
    let right = right.filter(not_null(&right_key)?);
    Ok(left.join(right, left_key, right_key).filter(residual))
}

/// Whether `select` has a GROUP BY clause (`GROUP BY ()` and `ALL` count).
pub(crate) fn has_group_by(select: &Select) -> bool {
    !matches!(&select.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
}

/// If `c` is `a = b` with `a` over left columns only and `b` over right columns only (or
/// the reverse), returns `(a, b)`.
fn equi_sides(c: &ScalarExpr, left_arity: usize) -> Option<(ScalarExpr, ScalarExpr)> {
    let ScalarExpr::Call { func, args } = c else {
        return None;
    };
    if args.len() != 2 || !matches!(func, eddy_expr::Func::Eq) {
        return None;
    }
    let side = |e: &ScalarExpr| -> Option<bool> {
        let mut min = usize::MAX;
        let mut max = 0;
        e.visit(&mut |x| {
            if let ScalarExpr::Column(i) = x {
                min = min.min(*i);
                max = max.max(*i);
            }
        });
        if min == usize::MAX {
            None
        } else if max < left_arity {
            Some(true)
        } else if min >= left_arity {
            Some(false)
        } else {
            None
        }
    };
    match (side(&args[0])?, side(&args[1])?) {
        (true, false) => Some((args[0].clone(), args[1].clone())),
        (false, true) => Some((args[1].clone(), args[0].clone())),
        _ => None,
    }
}

pub(crate) fn plan_table_with_joins(qcx: &QueryCtx, twj: &ast::TableWithJoins) -> Result<Planned, PlanError> {
    let mut left = plan_table_factor(qcx, &twj.relation)?;
    for join in &twj.joins {
        if let TableFactor::Derived { lateral: true, subquery, alias, .. } = &join.relation {
            let item = Lateral::Subquery { query: subquery, alias: alias.as_ref() };
            left = plan_lateral_join(qcx, left, item, &join.join_operator)?;
            continue;
        }
        if is_function_factor(&join.relation) {
            let call = plan_table_function(qcx, &join.relation, &left.scope)?;
            if call.is_lateral() {
                left = plan_lateral_join(qcx, left, Lateral::Function(call), &join.join_operator)?;
                continue;
            }
        }
        let right = plan_table_factor(qcx, &join.relation)?;
        left = plan_join(qcx, left, right, &join.join_operator)?;
    }
    Ok(left)
}

/// A FROM item that reads the columns of the items before it.
pub(crate) enum Lateral<'a> {
    /// A table function whose arguments read them (`unnest(posts.tags)`).
    Function(TableFuncCall),
    /// `LATERAL (SELECT ...)`.
    Subquery { query: &'a Query, alias: Option<&'a ast::TableAlias> },
}

impl Lateral<'_> {
    /// `left` with, for each of its rows, the item's rows: left's columns, then the item's.
    fn over(&self, qcx: &QueryCtx, left: &Planned) -> Result<Planned, PlanError> {
        match self {
            Lateral::Function(call) => {
                Ok(Planned { expr: call.clone().over(left.expr.clone()), scope: left.scope.concat(call.scope()) })
            }
            Lateral::Subquery { query, alias } => correlated::lateral(qcx, left, query, *alias),
        }
    }

    /// The item's own columns, when the items before it have columns `left`.
    fn scope(&self, qcx: &QueryCtx, left: &Scope) -> Result<Scope, PlanError> {
        let empty = Planned { expr: RelationExpr::constant(vec![], left.len()), scope: left.clone() };
        let combined = self.over(qcx, &empty)?;
        Ok(Scope { columns: combined.scope.columns[left.len()..].to_vec() })
    }
}

/// `left [CROSS | LEFT] JOIN [LATERAL] f(... left's columns ...) [ON ...]`, and the same
/// with `LATERAL (SELECT ...)`: the item is evaluated for each row of `left`; a LEFT join
/// keeps the rows it gives nothing for (or none that pass `ON`), with NULLs.
fn plan_lateral_join(qcx: &QueryCtx, left: Planned, item: Lateral, op: &JoinOperator) -> Result<Planned, PlanError> {
    let (outer, constraint) = match op {
        JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => (false, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
        _ => {
            return Err(PlanError::InvalidColumnReference(
                "invalid reference to FROM-clause entry: the combining JOIN type must be INNER or LEFT for a \
                 LATERAL reference"
                    .into(),
            ))
        }
    };
    let la = left.scope.len();
    let combined = item.over(qcx, &left)?;
    let scope = combined.scope;
    let conjuncts = match constraint {
        JoinConstraint::On(e) => {
            let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("JOIN conditions"));
            split_conjunction(plan_condition(&ctx, e, "JOIN/ON")?)
        }
        JoinConstraint::None => vec![],
        _ => return Err(PlanError::Unsupported("USING or NATURAL with a LATERAL item".into())),
    };
    let ra = scope.len() - la;
    let inner = combined.expr.filter(conjuncts);
    let mut expr = inner.clone();
    if outer {
        let matched = inner.project((0..la).collect()).distinct();
        let unmatched = antijoin(left.expr, matched, la);
        let nulls = (0..ra).map(|c| ScalarExpr::null(scope.columns[la + c].ty.clone())).collect();
        expr = expr.union(unmatched.map(nulls));
    }
    Ok(Planned { expr, scope })
}

#[derive(Clone, Copy, PartialEq)]
enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

fn plan_join(qcx: &QueryCtx, left: Planned, right: Planned, op: &JoinOperator) -> Result<Planned, PlanError> {
    let (kind, constraint) = match op {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
        JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
        JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
        JoinOperator::FullOuter(c) => (JoinKind::Full, c),
        other => return Err(PlanError::Unsupported(format!("join {other:?}").chars().take(60).collect())),
    };
    let la = left.scope.len();
    let ra = right.scope.len();
    let mut scope = left.scope.concat(&right.scope);
    let mut using_columns: Vec<(usize, usize)> = Vec::new();
    let conjuncts = match constraint {
        JoinConstraint::On(e) => {
            let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("JOIN conditions"));
            split_conjunction(plan_condition(&ctx, e, "JOIN/ON")?)
        }
        JoinConstraint::Using(_) | JoinConstraint::Natural => {
            let names: Vec<String> = match constraint {
                JoinConstraint::Using(cols) => cols.iter().map(object_name).collect(),
                _ => left
                    .scope
                    .columns
                    .iter()
                    .filter(|c| {
                        !c.qualified_only && right.scope.columns.iter().any(|r| !r.qualified_only && r.name == c.name)
                    })
                    .map(|c| c.name.clone())
                    .collect(),
            };
            let mut conj = Vec::new();
            for name in &names {
                let l = left.scope.resolve(None, name)?;
                let r = right.scope.resolve(None, name)?;
                using_columns.push((l, la + r));
                let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("JOIN conditions"));
                let lt = Typed {
                    expr: ScalarExpr::Column(l),
                    ty: Some(scope.columns[l].ty.clone()),
                    unknown: crate::expr::Unknown::No,
                };
                let rt = Typed {
                    expr: ScalarExpr::Column(la + r),
                    ty: Some(scope.columns[la + r].ty.clone()),
                    unknown: crate::expr::Unknown::No,
                };
                conj.push(binary(&ctx, "=", lt, rt)?.expr);
            }
            conj
        }
        JoinConstraint::None => vec![],
        JoinConstraint::UsingAlias(..) => return Err(PlanError::Unsupported("JOIN USING (...) AS alias".into())),
    };
    let inner = join_on(left.expr.clone(), la, right.expr.clone(), conjuncts)?;
    let mut expr = inner.clone();
    let pad_left_unmatched = matches!(kind, JoinKind::Left | JoinKind::Full);
    let pad_right_unmatched = matches!(kind, JoinKind::Right | JoinKind::Full);
    if pad_left_unmatched {
        let matched = inner.clone().project((0..la).collect()).distinct();
        let unmatched = antijoin(left.expr.clone(), matched, la);
        let nulls = (0..ra).map(|c| ScalarExpr::null(scope.columns[la + c].ty.clone())).collect();
        expr = expr.union(unmatched.map(nulls));
    }
    if pad_right_unmatched {
        let matched = inner.project((la..la + ra).collect()).distinct();
        let unmatched = antijoin(right.expr.clone(), matched, ra);
        let nulls: Vec<ScalarExpr> = (0..la).map(|c| ScalarExpr::null(scope.columns[c].ty.clone())).collect();
        let padded = unmatched.map(nulls).project((ra..ra + la).chain(0..ra).collect());
        expr = expr.union(padded);
    }
    if !using_columns.is_empty() {
        // USING columns appear once, first; the inputs' copies stay reachable qualified.
        let mut merged = Vec::new();
        let mut merged_scope = Vec::new();
        for (l, r) in &using_columns {
            let e = match kind {
                JoinKind::Inner | JoinKind::Left => ScalarExpr::Column(*l),
                JoinKind::Right => ScalarExpr::Column(*r),
                JoinKind::Full => ScalarExpr::Coalesce(vec![ScalarExpr::Column(*l), ScalarExpr::Column(*r)]),
            };
            merged.push(e);
            merged_scope.push(ScopeColumn {
                table: None,
                name: scope.columns[*l].name.clone(),
                ty: scope.columns[*l].ty.clone(),
                qualified_only: false,
            });
        }
        let width = la + ra;
        let n = merged.len();
        expr = expr.map(merged).project((width..width + n).chain(0..width).collect());
        for (l, r) in &using_columns {
            scope.columns[*l].qualified_only = true;
            scope.columns[*r].qualified_only = true;
        }
        merged_scope.extend(scope.columns);
        scope = Scope { columns: merged_scope };
    }
    Ok(Planned { expr, scope })
}

/// Rows of `input` (arity `arity`) that are not in the set `matched` of such rows.
pub(crate) fn antijoin(input: RelationExpr, matched: RelationExpr, arity: usize) -> RelationExpr {
    let key: Vec<ScalarExpr> = (0..arity).map(ScalarExpr::Column).collect();
    let present = input.clone().join(matched, key.clone(), key).project((0..arity).collect());
    input.union(present.negate())
}

fn plan_table_factor(qcx: &QueryCtx, factor: &TableFactor) -> Result<Planned, PlanError> {
    match factor {
        TableFactor::Table { name, alias, args: None, .. } => plan_table_name(qcx, &object_name(name), alias.as_ref()),
        TableFactor::Table { name, alias, args: Some(args), .. } if crate::windowing::is_window_table(name) => {
            crate::windowing::plan_window_table(qcx, name, &args.args, alias.as_ref())
        }
        TableFactor::Table { .. } | TableFactor::UNNEST { .. } | TableFactor::Function { .. } => {
            let call = plan_table_function(qcx, factor, &Scope::default())?;
            Ok(call.standalone())
        }
        // LATERAL first in FROM has nothing before it to read.
        TableFactor::Derived { subquery, alias, .. } => {
            let planned = plan_query(qcx, subquery)?;
            apply_alias(planned, alias.as_ref(), None)
        }
        TableFactor::NestedJoin { table_with_joins, alias } => {
            let planned = plan_table_with_joins(qcx, table_with_joins)?;
            apply_alias(planned, alias.as_ref(), None)
        }
        other => Err(PlanError::Unsupported(format!("FROM item {other}"))),
    }
}

fn plan_table_name(qcx: &QueryCtx, name: &str, alias: Option<&ast::TableAlias>) -> Result<Planned, PlanError> {
    let cte = qcx.ctes.borrow().iter().rev().find(|(n, _)| n == name).map(|(_, p)| p.clone());
    if let Some(planned) = cte {
        return apply_alias(planned, alias, Some(name));
    }
    let item =
        crate::statement::resolve_relation(qcx, name).ok_or_else(|| PlanError::UnknownRelation(name.to_string()))?;
    qcx.referenced.borrow_mut().push(item.id);
    let expr = match (item.kind, &item.view_expr) {
        (ItemKind::View, Some(e)) => e.clone(),
        _ => RelationExpr::get(item.id, item.name.clone(), item.desc.arity()),
    };
    // `FROM s.t` is referred to as `t`, as in PostgreSQL.
    let short = name.rsplit_once('.').map_or(name, |(_, table)| table);
    let scope = Scope::from_desc(Some(short), &item.desc);
    apply_alias(Planned { expr, scope }, alias, Some(short))
}

pub(crate) fn apply_alias(
    mut planned: Planned,
    alias: Option<&ast::TableAlias>,
    default: Option<&str>,
) -> Result<Planned, PlanError> {
    match alias {
        Some(a) => {
            let table = normalize_ident(&a.name);
            if a.columns.len() > planned.scope.len() {
                return Err(PlanError::Cardinality(format!(
                    "table \"{table}\" has {} columns available but {} columns specified",
                    planned.scope.len(),
                    a.columns.len()
                )));
            }
            for (c, def) in planned.scope.columns.iter_mut().zip(&a.columns) {
                c.name = normalize_ident(&def.name);
            }
            planned.scope = planned.scope.with_table(&table);
        }
        None => {
            if let Some(d) = default {
                planned.scope = planned.scope.with_table(d);
            } else {
                for c in &mut planned.scope.columns {
                    c.table = None;
                }
            }
        }
    }
    Ok(planned)
}

/// A table function in FROM (`generate_series(...)`, `unnest(...)`), planned against the
/// columns of the FROM items before it (`left`): its arguments may read them, as
/// PostgreSQL's implicit LATERAL for functions allows.
#[derive(Clone)]
pub(crate) struct TableFuncCall {
    func: TableFunc,
    /// Over `left`'s columns.
    args: Vec<ScalarExpr>,
    /// The function's own output columns.
    scope: Scope,
}

impl TableFuncCall {
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// True if the arguments read columns of the FROM items before it.
    fn is_lateral(&self) -> bool {
        self.args.iter().any(|a| a.max_column().is_some())
    }

    /// The call over `input` (whose columns its arguments read): input columns, then its own.
    fn over(self, input: RelationExpr) -> RelationExpr {
        RelationExpr::FlatMap { input: Box::new(input), func: self.func, args: self.args }
    }

    fn standalone(self) -> Planned {
        let scope = self.scope.clone();
        Planned { expr: self.over(RelationExpr::constant(vec![Row::empty()], 0)), scope }
    }
}

/// True for a FROM item that is a table function call alone.
pub(crate) fn is_table_function(twj: &ast::TableWithJoins) -> bool {
    twj.joins.is_empty() && is_function_factor(&twj.relation)
}

/// `f(...)`, `LATERAL f(...)` or `unnest(...)`.
fn is_function_factor(factor: &TableFactor) -> bool {
    match factor {
        TableFactor::Table { name, args: Some(_), .. } => !crate::windowing::is_window_table(name),
        TableFactor::UNNEST { .. } | TableFactor::Function { .. } => true,
        _ => false,
    }
}

/// The table function `factor` (a `TableFactor::Table` with arguments or `UNNEST`).
pub(crate) fn plan_table_function(
    qcx: &QueryCtx,
    factor: &TableFactor,
    left: &Scope,
) -> Result<TableFuncCall, PlanError> {
    let (name, args, alias, ordinality): (String, Vec<&Expr>, _, bool) = match factor {
        TableFactor::Table { name, alias, args: Some(args), with_ordinality, .. } => {
            (object_name(name), unnamed_exprs(&args.args, name)?, alias.as_ref(), *with_ordinality)
        }
        TableFactor::UNNEST { alias, array_exprs, with_offset: false, with_ordinality, .. } => {
            ("unnest".to_string(), array_exprs.iter().collect(), alias.as_ref(), *with_ordinality)
        }
        TableFactor::Function { name, args, with_ordinality, alias, .. } => {
            (object_name(name), unnamed_exprs(args, name)?, alias.as_ref(), *with_ordinality)
        }
        other => return Err(PlanError::Unsupported(format!("FROM item {other}"))),
    };
    let ctx = qcx.expr_ctx(left, AggMode::Forbidden("FROM"));
    let (mut func, args) = match record_function(&name) {
        Some(set) => plan_to_record(&ctx, &name, set, &args, alias)?,
        None => plan_set_returning(&ctx, &name, &args)?,
    };
    let mut names: Vec<String> = match &func {
        TableFunc::JsonbEach { .. } | TableFunc::JsonEach { .. } => vec!["key".into(), "value".into()],
        TableFunc::JsonbToRecord { columns, .. } => columns.iter().map(|(name, _)| name.clone()).collect(),
        TableFunc::JsonbArrayElements { .. } | TableFunc::JsonArrayElements { .. } => vec!["value".into()],
        // `unnest(a, b, ...)`: a column per array, each named as the function.
        TableFunc::Zip(funcs) => vec![name.clone(); funcs.len()],
        _ => vec![name.clone()],
    };
    if ordinality {
        func = TableFunc::WithOrdinality(Box::new(func));
        names.push("ordinality".into());
    }
    let types = func.output_types();
    let columns = names
        .into_iter()
        .zip(types)
        .map(|(column, ty)| ScopeColumn { table: Some(name.clone()), name: column, ty, qualified_only: false })
        .collect();
    let scope = Scope { columns };
    let arity = scope.len();
    let planned = match alias {
        // `generate_series(1,3) AS x` names the column x too, as in PostgreSQL.
        Some(a) if a.columns.is_empty() && arity - usize::from(ordinality) == 1 => {
            let mut p = apply_alias(Planned { expr: RelationExpr::constant(vec![], arity), scope }, Some(a), None)?;
            p.scope.columns[0].name = normalize_ident(&a.name);
            p
        }
        other => apply_alias(Planned { expr: RelationExpr::constant(vec![], arity), scope }, other, Some(&name))?,
    };
    Ok(TableFuncCall { func, args, scope: planned.scope })
}

/// `jsonb_to_record` (false) and `jsonb_to_recordset` (true), also spelled `json_`.
fn record_function(name: &str) -> Option<bool> {
    match name {
        "jsonb_to_record" | "json_to_record" => Some(false),
        "jsonb_to_recordset" | "json_to_recordset" => Some(true),
        _ => None,
    }
}

/// `jsonb_to_record[set](j) AS x(name type, ...)`: its columns are the alias's.
fn plan_to_record(
    ctx: &ExprCtx,
    name: &str,
    set: bool,
    args: &[&Expr],
    alias: Option<&ast::TableAlias>,
) -> Result<(TableFunc, Vec<ScalarExpr>), PlanError> {
    let definitions = alias.map(|a| a.columns.as_slice()).unwrap_or_default();
    if definitions.is_empty() || definitions.iter().any(|c| c.data_type.is_none()) {
        // Cardinality: SQLSTATE 42601 without the "syntax error" prefix, as PostgreSQL says it.
        return Err(PlanError::Cardinality(
            "a column definition list is required for functions returning \"record\"".into(),
        ));
    }
    let columns = definitions
        .iter()
        .map(|c| {
            let ty = c.data_type.as_ref().map(|t| parse_type_name(&t.to_string())).transpose()?;
            Ok((normalize_ident(&c.name), ty.unwrap_or(ScalarType::Text)))
        })
        .collect::<Result<Vec<_>, PlanError>>()?;
    let typed: Vec<Typed> = args.iter().map(|e| plan_expr(ctx, e)).collect::<Result<_, _>>()?;
    Ok((TableFunc::JsonbToRecord { set, columns }, vec![one_json_argument(ctx, name, typed, ScalarType::Jsonb)?]))
}

/// The one document argument of a JSON table function: jsonb for the `jsonb_` ones, json
/// for the `json_` ones (an unknown literal is read as that type). `json_to_record` reads
/// its json as jsonb.
fn one_json_argument(ctx: &ExprCtx, name: &str, typed: Vec<Typed>, to: ScalarType) -> Result<ScalarExpr, PlanError> {
    let doc = document_type(name);
    match <[Typed; 1]>::try_from(typed) {
        Ok([arg]) if arg.ty.is_none() || arg.ty == Some(doc.clone()) => coerce(ctx, arg, &to, CastContext::Assignment),
        Ok(one) => Err(no_such_function(name, &one)),
        Err(other) => Err(no_such_function(name, &other)),
    }
}

/// The document type a JSON function named `name` reads: jsonb for `jsonb_...`.
fn document_type(name: &str) -> ScalarType {
    if name.starts_with("jsonb") {
        ScalarType::Jsonb
    } else {
        ScalarType::Json
    }
}

/// The names of the set-returning functions Eddy has.
pub(crate) fn is_set_returning(name: &str) -> bool {
    matches!(
        name,
        "generate_series"
            | "unnest"
            | "generate_subscripts"
            | "jsonb_array_elements"
            | "jsonb_array_elements_text"
            | "jsonb_each"
            | "jsonb_each_text"
            | "jsonb_object_keys"
            | "json_array_elements"
            | "json_array_elements_text"
            | "json_each"
            | "json_each_text"
            | "json_object_keys"
            | "regexp_matches"
            | "regexp_split_to_table"
            | "string_to_table"
    )
}

/// The JSON set-returning function `name`, if it is one.
fn json_table_function(name: &str) -> Option<TableFunc> {
    Some(match name {
        "jsonb_array_elements" => TableFunc::JsonbArrayElements { text: false },
        "jsonb_array_elements_text" => TableFunc::JsonbArrayElements { text: true },
        "jsonb_each" => TableFunc::JsonbEach { text: false },
        "jsonb_each_text" => TableFunc::JsonbEach { text: true },
        "jsonb_object_keys" => TableFunc::JsonbObjectKeys,
        "json_array_elements" => TableFunc::JsonArrayElements { text: false },
        "json_array_elements_text" => TableFunc::JsonArrayElements { text: true },
        "json_each" => TableFunc::JsonEach { text: false },
        "json_each_text" => TableFunc::JsonEach { text: true },
        "json_object_keys" => TableFunc::JsonObjectKeys,
        _ => return None,
    })
}

/// A set-returning function call, its arguments planned in `ctx`: in FROM, or in a
/// select list.
pub(crate) fn plan_set_returning(
    ctx: &ExprCtx,
    name: &str,
    args: &[&Expr],
) -> Result<(TableFunc, Vec<ScalarExpr>), PlanError> {
    let typed: Vec<Typed> = args.iter().map(|e| plan_expr(ctx, e)).collect::<Result<_, _>>()?;
    let unknown_array =
        || PlanError::Datatype("could not determine polymorphic type because input has type unknown".into());
    if let Some(func) = json_table_function(name) {
        return Ok((func, vec![one_json_argument(ctx, name, typed, document_type(name))?]));
    }
    Ok(match name {
        "generate_series" => generate_series(ctx, typed)?,
        // Several arrays (in FROM) side by side, the shorter ones padded with NULLs.
        "unnest" => {
            let mut funcs = Vec::with_capacity(typed.len());
            for arg in &typed {
                match &arg.ty {
                    Some(t @ (ScalarType::Array(_) | ScalarType::Int2Vector)) => {
                        let element = t.array_element().cloned().unwrap_or(ScalarType::Int16);
                        funcs.push((TableFunc::Unnest(element), 1));
                    }
                    None => return Err(unknown_array()),
                    Some(_) => return Err(no_such_function(name, &typed)),
                }
            }
            let func = match funcs.len() {
                0 => return Err(no_such_function(name, &typed)),
                1 => funcs.swap_remove(0).0,
                _ => TableFunc::Zip(funcs),
            };
            (func, typed.into_iter().map(|t| t.expr).collect())
        }
        // The pieces of the array form, in order.
        "regexp_split_to_table" | "string_to_table" => {
            let array_form = name.replace("_table", "_array");
            let pieces = crate::expr::call_typed(ctx, &array_form, typed).map_err(|e| match e {
                PlanError::Resolve(func::ResolveError::NoSuchFunction { args, .. }) => {
                    PlanError::Resolve(func::ResolveError::NoSuchFunction { name: name.into(), args })
                }
                other => other,
            })?;
            (TableFunc::Unnest(ScalarType::Text), vec![pieces.expr])
        }
        "regexp_matches" if (2..=3).contains(&typed.len()) => {
            let stringy = |t: &Typed| {
                matches!(t.ty, None | Some(ScalarType::Text | ScalarType::Varchar { .. } | ScalarType::Char { .. }))
            };
            if !typed.iter().all(stringy) {
                return Err(no_such_function(name, &typed));
            }
            let args = typed
                .into_iter()
                .map(|t| coerce(ctx, t, &ScalarType::Text, CastContext::Implicit))
                .collect::<Result<_, _>>()?;
            (TableFunc::RegexpMatches, args)
        }
        "generate_subscripts" => match typed.as_slice() {
            [Typed { ty: Some(array @ (ScalarType::Array(_) | ScalarType::Int2Vector)), .. }, _] => {
                let lower = func::array_lower_bound(array);
                let mut typed = typed.into_iter();
                let array = typed.next().map(|t| t.expr);
                let dim =
                    typed.next().map(|t| coerce(ctx, t, &ScalarType::Int32, CastContext::Implicit)).transpose()?;
                (TableFunc::GenerateSubscripts { lower }, array.into_iter().chain(dim).collect())
            }
            [Typed { ty: None, .. }, _] => return Err(unknown_array()),
            _ => return Err(no_such_function(name, &typed)),
        },
        // No partitioned tables: a relation's only ancestor is itself (psql's \d asks).
        "pg_partition_ancestors" if typed.len() == 1 => {
            let relation = typed.into_iter().map(|t| coerce(ctx, t, &ScalarType::Int64, CastContext::Explicit));
            let relation = relation.collect::<Result<Vec<_>, _>>()?;
            (TableFunc::Unnest(ScalarType::Int64), vec![ScalarExpr::call(Func::ArrayCreate, relation)])
        }
        _ => return Err(PlanError::Unsupported(format!("table function {name}"))),
    })
}

fn no_such_function(name: &str, typed: &[Typed]) -> PlanError {
    let types: Vec<Option<ScalarType>> = typed.iter().map(|t| t.ty.clone()).collect();
    match func::resolve_function(name, &types) {
        Err(e) => PlanError::Resolve(e),
        Ok(_) => PlanError::Unsupported(format!("{name} here")),
    }
}

/// `generate_series(start, stop [, step])` over integers or timestamps.
fn generate_series(ctx: &ExprCtx, typed: Vec<Typed>) -> Result<(TableFunc, Vec<ScalarExpr>), PlanError> {
    let name = "generate_series";
    if !(2..=3).contains(&typed.len()) {
        return Err(PlanError::Resolve(func::ResolveError::NoSuchFunction {
            name: name.into(),
            args: format!("{} arguments", typed.len()),
        }));
    }
    let is_time = typed[..2].iter().any(|t| {
        matches!(t.ty, Some(ScalarType::Timestamp { .. } | ScalarType::TimestampTz { .. } | ScalarType::Date))
    });
    let (func, arg_types) = if is_time {
        let ty = if typed[..2].iter().any(|t| matches!(t.ty, Some(ScalarType::TimestampTz { .. }))) {
            ScalarType::timestamptz()
        } else {
            ScalarType::timestamp()
        };
        if typed.len() != 3 {
            return Err(PlanError::Resolve(func::ResolveError::NoSuchFunction {
                name: name.into(),
                args: format!("{ty}, {ty}"),
            }));
        }
        (TableFunc::GenerateSeriesTimestamp(ty.clone()), vec![ty.clone(), ty, ScalarType::Interval])
    } else {
        let types: Vec<Option<ScalarType>> = typed.iter().map(|t| t.ty.clone()).collect();
        let ty = match common_type(&types, name)? {
            t @ (ScalarType::Int16 | ScalarType::Int32 | ScalarType::Int64) => {
                if t == ScalarType::Int16 {
                    ScalarType::Int32
                } else {
                    t
                }
            }
            ScalarType::Text => ScalarType::Int32,
            other => return Err(PlanError::Unsupported(format!("generate_series over {other}"))),
        };
        (TableFunc::GenerateSeriesInt(ty.clone()), vec![ty; typed.len()])
    };
    let args: Vec<ScalarExpr> = typed
        .into_iter()
        .zip(&arg_types)
        .map(|(t, ty)| coerce(ctx, t, ty, CastContext::Implicit))
        .collect::<Result<_, _>>()?;
    Ok((func, args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_expr::Func;

    fn eq(a: usize, b: usize) -> ScalarExpr {
        ScalarExpr::call(Func::Eq, vec![ScalarExpr::Column(a), ScalarExpr::Column(b)])
    }

    fn flag(c: usize) -> ScalarExpr {
        ScalarExpr::Column(c)
    }

    #[test]
    fn comma_joins_follow_equalities_instead_of_cross_joining() {
        // part (0..2), supplier (2..4), partsupp (4..6): part = partsupp, supplier = partsupp.
        let ranges = [0..2, 2..4, 4..6];
        assert_eq!(join_order(&ranges, &[eq(0, 4), eq(2, 5)]), vec![0, 2, 1]);
        // Already connected in FROM order: unchanged.
        assert_eq!(join_order(&ranges, &[eq(0, 2), eq(3, 4)]), vec![0, 1, 2]);
        // Nothing ties the items: FROM order (a cross join is what was asked for).
        assert_eq!(join_order(&ranges, &[flag(1)]), vec![0, 1, 2]);
        // An equality over three items ties an item once the other two are in.
        let three =
            ScalarExpr::call(Func::Eq, vec![ScalarExpr::call(Func::Eq, vec![flag(0), flag(2)]), ScalarExpr::Column(4)]);
        assert_eq!(join_order(&ranges, &[three, eq(0, 5)]), vec![0, 2, 1]);
    }

    #[test]
    fn conjuncts_every_branch_repeats_leave_the_disjunction() {
        let branch = |extra: usize| ScalarExpr::And(vec![eq(0, 4), flag(extra), eq(0, 4)]);
        let factored = split_conjunction(ScalarExpr::Or(vec![branch(1), branch(2), branch(3)]));
        assert_eq!(factored, vec![eq(0, 4), ScalarExpr::Or(vec![flag(1), flag(2), flag(3)])]);
        // A branch that is only the common part makes the rest of the disjunction TRUE.
        let factored = split_conjunction(ScalarExpr::Or(vec![eq(0, 4), branch(2)]));
        assert_eq!(factored, vec![eq(0, 4)]);
        // Nothing in common: the disjunction stays whole.
        let plain = ScalarExpr::Or(vec![flag(1), ScalarExpr::And(vec![flag(2), flag(3)])]);
        assert_eq!(split_conjunction(plain.clone()), vec![plain]);
    }
}
