//! Planning scalar expressions: name resolution, PostgreSQL type resolution and coercion,
//! and the two passes that plan aggregates (collect them, then read them as columns).

use std::cell::RefCell;
use std::str::FromStr;

use eddy_expr::func::{self, CastContext, Func, JsonFunc};
use eddy_expr::{
    AggOrder, AggregateExpr, AggregateFunc, EvalError, Frame, FrameBound, Regression, ScalarExpr, WindowFunc,
};
use eddy_repr::{strconv, Datum, ScalarType};
use rust_decimal::Decimal;
use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator, Value,
};

use crate::bulk_insert::Literal;
use crate::scope::Scope;
use crate::types::{common_type, parse_type_name};
use crate::{PlanError, StatementContext};

/// A planned expression and its type. `ty == None` is PostgreSQL's `unknown`: an untyped
/// string literal, NULL or parameter whose type is decided by where it is used.
#[derive(Clone, Debug)]
pub struct Typed {
    pub expr: ScalarExpr,
    pub ty: Option<ScalarType>,
    pub unknown: Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Unknown {
    No,
    Text(String),
    Null,
    Param(usize),
}

impl Typed {
    pub(crate) fn known(expr: ScalarExpr, ty: ScalarType) -> Self {
        Typed { expr, ty: Some(ty), unknown: Unknown::No }
    }
}

/// An aggregate call found in a query, and the column it becomes after the Reduce.
#[derive(Clone, Debug)]
pub struct AggEntry {
    pub key: String,
    pub agg: AggregateExpr,
    pub ty: ScalarType,
}

/// What a grouped query's expressions can see after the Reduce: group keys, then aggregates.
#[derive(Clone, Debug)]
pub struct Grouping {
    pub keys: Vec<ScalarExpr>,
    pub key_types: Vec<ScalarType>,
    pub aggs: Vec<AggEntry>,
    /// With `GROUPING SETS`, `ROLLUP` or `CUBE`: which keys each grouping set groups by,
    /// and the column (after the aggregates) that says which set made a row.
    pub sets: Option<GroupingSets>,
}

#[derive(Clone, Debug)]
pub struct GroupingSets {
    pub column: usize,
    /// Per set, per key: whether the set groups by it.
    pub membership: Vec<Vec<bool>>,
}

/// The clause name that marks an aggregate's own arguments.
const NESTED_AGGREGATE: &str = "aggregate arguments";

/// The clause name of an ungrouped query's select list and ORDER BY (where window calls
/// are columns already, so one not found is nested in another's arguments).
pub const SELECT_LIST: &str = "this context";

/// How aggregate calls are treated where an expression appears.
#[derive(Clone, Copy)]
pub enum AggMode<'a> {
    /// Not allowed (WHERE, JOIN ON, GROUP BY, VALUES); the string names the clause.
    Forbidden(&'a str),
    /// First pass over SELECT/HAVING/ORDER BY: record every aggregate call.
    Collect(&'a RefCell<Vec<AggEntry>>),
    /// Second pass: expressions see the grouped relation.
    Grouped(&'a Grouping),
}

/// Everything expression planning needs.
#[derive(Clone, Copy)]
pub struct ExprCtx<'a> {
    pub scope: &'a Scope,
    pub stmt: &'a StatementContext,
    pub params: &'a RefCell<Vec<Option<ScalarType>>>,
    pub mode: AggMode<'a>,
    pub now: crate::query::NowContext,
    /// Window function calls already computed as columns (the select list and ORDER BY
    /// see them; other clauses have none).
    pub windows: &'a [WindowSlot],
}

impl<'a> ExprCtx<'a> {
    pub fn with_mode(&self, mode: AggMode<'a>) -> ExprCtx<'a> {
        ExprCtx { mode, ..*self }
    }

    pub fn with_windows(&self, windows: &'a [WindowSlot]) -> ExprCtx<'a> {
        ExprCtx { windows, ..*self }
    }
}

/// A window function call computed as a column: its text (how calls are matched), the
/// column and its type.
#[derive(Clone, Debug)]
pub struct WindowSlot {
    pub key: String,
    pub column: usize,
    pub ty: ScalarType,
}

/// A window function call, planned: what a `Window` operator computes for it.
pub struct PlannedWindow {
    pub func: WindowFunc,
    pub args: Vec<ScalarExpr>,
    pub partition: Vec<ScalarExpr>,
    pub order: Vec<AggOrder>,
    pub frame: Frame,
    pub ty: ScalarType,
}

/// The lower bound of a `BETWEEN SYMMETRIC` (marked by [`crate::SYMMETRIC_MARK`]).
fn symmetric_low_bound(low: &Expr) -> Option<&Expr> {
    let Expr::Function(f) = low else { return None };
    if f.name.to_string() != crate::SYMMETRIC_MARK {
        return None;
    }
    match &f.args {
        ast::FunctionArguments::List(list) => match list.args.as_slice() {
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] => Some(e),
            _ => None,
        },
        _ => None,
    }
}

/// Plans a boolean condition (WHERE, ON, HAVING, CASE WHEN).
pub fn plan_condition(ctx: &ExprCtx, e: &Expr, clause: &str) -> Result<ScalarExpr, PlanError> {
    let typed = plan_expr(ctx, e)?;
    match &typed.ty {
        Some(ScalarType::Bool) | None => coerce(ctx, typed, &ScalarType::Bool, CastContext::Implicit),
        Some(other) => {
            Err(PlanError::TypeMismatch(format!("argument of {clause} must be type boolean, not type {other}")))
        }
    }
}

/// Converts a planned expression to type `ty`: unknown literals are parsed as `ty`,
/// others cast when `context` allows it.
pub fn coerce(ctx: &ExprCtx, typed: Typed, ty: &ScalarType, context: CastContext) -> Result<ScalarExpr, PlanError> {
    match typed.unknown {
        // An explicit cast to a bounded string type truncates (as text then cast);
        // other contexts check the length, as an assignment does.
        Unknown::Text(text)
            if context == CastContext::Explicit
                && matches!(ty, ScalarType::Varchar { max_length: Some(_) } | ScalarType::Char { length: Some(_) }) =>
        {
            let text = ScalarExpr::Literal(Datum::Text(text), ScalarType::Text);
            return coerce(ctx, Typed { expr: text, ty: Some(ScalarType::Text), unknown: Unknown::No }, ty, context);
        }
        Unknown::Text(text) => return Ok(ScalarExpr::Literal(strconv::parse_datum(&text, ty)?, ty.clone())),
        Unknown::Null => return Ok(ScalarExpr::Literal(Datum::Null, ty.clone())),
        Unknown::Param(i) => {
            let mut params = ctx.params.borrow_mut();
            if params.len() <= i {
                params.resize(i + 1, None);
            }
            if params[i].is_none() {
                params[i] = Some(ty.clone());
            }
            return Ok(match &ctx.stmt.params {
                Some(values) => match values.get(i) {
                    Some((d, _)) => ScalarExpr::Literal(d.clone(), ty.clone()),
                    None => return Err(PlanError::InvalidParameter(format!("there is no parameter ${}", i + 1))),
                },
                None => ScalarExpr::Literal(Datum::Null, ty.clone()),
            });
        }
        Unknown::No => {}
    }
    let from = typed.ty.clone().unwrap_or(ScalarType::Text);
    match func::resolve_cast(&from, ty, context)? {
        None => Ok(typed.expr),
        Some(f) => Ok(constant_fold(ScalarExpr::call(f, vec![typed.expr]), ty)?),
    }
}

/// Evaluates calls on literals at plan time, so `'5'::int` or `-1` cost nothing per row and
/// bad literals fail at plan time, as in PostgreSQL.
fn constant_fold(e: ScalarExpr, ty: &ScalarType) -> Result<ScalarExpr, PlanError> {
    if let ScalarExpr::Call { func, args } = &e {
        if func.can_fold() && args.iter().all(|a| matches!(a, ScalarExpr::Literal(..))) {
            let value = e.eval(&[])?;
            return Ok(ScalarExpr::Literal(value, ty.clone()));
        }
    }
    Ok(e)
}

/// The lower-case, unqualified name of a function or type.
pub fn object_name(name: &ast::ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => normalize_ident(i),
            other => other.to_string(),
        })
        .collect();
    let joined = parts.join(".");
    joined.strip_prefix("pg_catalog.").map(str::to_string).unwrap_or(joined)
}

/// PostgreSQL folds unquoted identifiers to lower case.
pub fn normalize_ident(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

pub fn plan_expr(ctx: &ExprCtx, e: &Expr) -> Result<Typed, PlanError> {
    if let Expr::Function(f) = e {
        if f.over.is_none() && object_name(&f.name) == "grouping" {
            return plan_grouping_call(ctx, f);
        }
    }
    if let AggMode::Grouped(grouping) = ctx.mode {
        if let Some(t) = match_grouped(ctx, grouping, e)? {
            return Ok(t);
        }
    }
    match e {
        Expr::Identifier(ident) => column(ctx, None, &normalize_ident(ident)),
        Expr::CompoundIdentifier(parts) => {
            let names: Vec<String> = parts.iter().map(normalize_ident).collect();
            match names.as_slice() {
                [table, col] => column(ctx, Some(table), col),
                [_schema, table, col] => column(ctx, Some(table), col),
                _ => Err(PlanError::UnknownColumn(names.join("."))),
            }
        }
        Expr::Nested(inner) => plan_expr(ctx, inner),
        Expr::Value(v) => plan_value(ctx, &v.value),
        Expr::TypedString(ts) => {
            let ty = parse_type_name(&ts.data_type.to_string())?;
            let text = string_value(&ts.value.value)
                .ok_or_else(|| PlanError::Syntax(format!("expected a string after type {ty}")))?;
            Ok(Typed::known(ScalarExpr::Literal(strconv::parse_datum(&text, &ty)?, ty.clone()), ty))
        }
        Expr::Interval(iv) => {
            let text = match &*iv.value {
                Expr::Value(v) => string_value(&v.value),
                _ => None,
            }
            .ok_or_else(|| PlanError::Unsupported("INTERVAL with a non-literal value".into()))?;
            let text = match &iv.leading_field {
                Some(field) if iv.last_field.is_none() => format!("{text} {field}"),
                _ => text,
            };
            let d = strconv::parse_datum(&text, &ScalarType::Interval)?;
            Ok(Typed::known(ScalarExpr::Literal(d, ScalarType::Interval), ScalarType::Interval))
        }
        Expr::Cast { expr, data_type, .. } => {
            let ty = parse_type_name(&data_type.to_string())?;
            if let (Expr::Array(ast::Array { elem, .. }), ScalarType::Array(_)) = (&**expr, &ty) {
                if elem.is_empty() {
                    return Ok(Typed::known(ScalarExpr::Literal(Datum::Array(vec![]), ty.clone()), ty));
                }
            }
            let inner = plan_expr(ctx, expr)?;
            let expr = coerce(ctx, inner, &ty, CastContext::Explicit)?;
            Ok(Typed::known(expr, ty))
        }
        Expr::UnaryOp { op, expr } => plan_unary(ctx, op, expr),
        Expr::BinaryOp { left, op, right } => plan_binary(ctx, op, left, right),
        Expr::IsNull(inner) => call_named(ctx, "is_null", &[inner]),
        Expr::IsNotNull(inner) => call_named(ctx, "is_not_null", &[inner]),
        Expr::IsTrue(inner) => call_named(ctx, "is_true", &[inner]),
        Expr::IsNotTrue(inner) => call_named(ctx, "is_not_true", &[inner]),
        Expr::IsFalse(inner) => call_named(ctx, "is_false", &[inner]),
        Expr::IsNotFalse(inner) => call_named(ctx, "is_not_false", &[inner]),
        Expr::IsUnknown(inner) => call_named(ctx, "is_unknown", &[inner]),
        Expr::IsNotUnknown(inner) => {
            let t = call_named(ctx, "is_unknown", &[inner])?;
            negate(t)
        }
        Expr::IsDistinctFrom(a, b) => call_named(ctx, "is_distinct_from", &[a, b]),
        Expr::IsNotDistinctFrom(a, b) => call_named(ctx, "is_not_distinct_from", &[a, b]),
        Expr::Between { expr, negated, low, high } => {
            let range = |low: &Expr, high: &Expr| -> Result<ScalarExpr, PlanError> {
                let ge = binary(ctx, ">=", plan_expr(ctx, expr)?, plan_expr(ctx, low)?)?;
                let le = binary(ctx, "<=", plan_expr(ctx, expr)?, plan_expr(ctx, high)?)?;
                Ok(ScalarExpr::And(vec![ge.expr, le.expr]))
            };
            // PostgreSQL's definition: either order of the bounds.
            let within = match symmetric_low_bound(low) {
                Some(low) => ScalarExpr::Or(vec![range(low, high)?, range(high, low)?]),
                None => range(low, high)?,
            };
            let both = Typed::known(within, ScalarType::Bool);
            if *negated {
                negate(both)
            } else {
                Ok(both)
            }
        }
        Expr::In { expr, target: ast::InTarget::List(list), negated, .. } => {
            let mut alternatives = Vec::with_capacity(list.len());
            for item in list {
                alternatives.push(binary(ctx, "=", plan_expr(ctx, expr)?, plan_expr(ctx, item)?)?.expr);
            }
            let any = Typed::known(ScalarExpr::Or(alternatives), ScalarType::Bool);
            if *negated {
                negate(any)
            } else {
                Ok(any)
            }
        }
        Expr::Array(ast::Array { elem, .. }) => plan_array(ctx, elem),
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.as_slice() {
            [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] => {
                let array = plan_expr(ctx, root)?;
                let ty = array.ty.clone().ok_or_else(|| {
                    PlanError::Datatype("cannot subscript a value of unknown type; cast it to an array type".into())
                })?;
                let resolved = func::resolve_array_index(&ty)?;
                let index = coerce(ctx, plan_expr(ctx, index)?, &ScalarType::Int32, CastContext::Implicit)?;
                Ok(Typed::known(ScalarExpr::call(resolved.func, vec![array.expr, index]), resolved.return_type))
            }
            [ast::AccessExpr::Subscript(ast::Subscript::Slice { lower_bound, upper_bound, stride: None })] => {
                let array = plan_expr(ctx, root)?;
                let ty = array.ty.clone().ok_or_else(|| {
                    PlanError::Datatype("cannot subscript a value of unknown type; cast it to an array type".into())
                })?;
                let resolved = func::resolve_array_slice(&ty)?;
                let bound = |b: &Option<Expr>, omitted: i32| match b {
                    Some(b) => Ok(coerce(ctx, plan_expr(ctx, b)?, &ScalarType::Int32, CastContext::Implicit)?),
                    None => Ok::<_, PlanError>(ScalarExpr::Literal(Datum::Int32(omitted), ScalarType::Int32)),
                };
                let (from, to) = (bound(lower_bound, i32::MIN)?, bound(upper_bound, i32::MAX)?);
                Ok(Typed::known(ScalarExpr::call(resolved.func, vec![array.expr, from, to]), resolved.return_type))
            }
            _ => Err(PlanError::Unsupported(format!("{e} (several subscripts or field access)"))),
        },
        Expr::AnyOp { left, compare_op, right, .. } | Expr::AllOp { left, compare_op, right }
            if !matches!(**right, Expr::Subquery(_)) =>
        {
            let all = matches!(e, Expr::AllOp { .. });
            let (left, right) = (plan_expr(ctx, left)?, plan_expr(ctx, right)?);
            let resolved = func::resolve_array_any(&compare_op.to_string(), left.ty.clone(), right.ty.clone(), all)?;
            let l = coerce(ctx, left, &resolved.arg_types[0], CastContext::Implicit)?;
            let r = coerce(ctx, right, &resolved.arg_types[1], CastContext::Implicit)?;
            Ok(Typed::known(ScalarExpr::call(resolved.func, vec![l, r]), resolved.return_type))
        }
        Expr::In { .. } | Expr::Exists { .. } | Expr::Subquery(_) | Expr::AnyOp { .. } | Expr::AllOp { .. } => {
            Err(PlanError::Unsupported(
                "a subquery here (supported in WHERE, select lists and HAVING; IN, ANY and ALL need a subquery \
                 with one named column, not *, and a left side without aggregates; otherwise use a join or a \
                 subquery in FROM)"
                    .into(),
            ))
        }
        // PostgreSQL's own spelling of it: `timezone(zone, ts)`.
        Expr::AtTimeZone { timestamp, time_zone } => call_named(ctx, "timezone", &[time_zone, timestamp]),
        Expr::SimilarTo { negated, expr, pattern, escape_char } => {
            let regex = match escape_char {
                Some(esc) => call_named(ctx, "similar_to_escape", &[pattern, esc])?,
                None => call_named(ctx, "similar_to_escape", &[pattern])?,
            };
            binary(ctx, if *negated { "!~" } else { "~" }, plan_expr(ctx, expr)?, regex)
        }
        Expr::Like { negated, expr, pattern, escape_char, any: false } => {
            like(ctx, if *negated { "not like" } else { "like" }, expr, pattern, escape_char)
        }
        Expr::ILike { negated, expr, pattern, escape_char, any: false } => {
            like(ctx, if *negated { "not ilike" } else { "ilike" }, expr, pattern, escape_char)
        }
        Expr::Case { operand, conditions, else_result, .. } => {
            plan_case(ctx, operand.as_deref(), conditions, else_result.as_deref())
        }
        Expr::Function(f) => plan_function(ctx, f),
        Expr::Extract { field, expr, .. } => {
            let field_name = field.to_string().to_lowercase();
            let field_lit =
                Typed::known(ScalarExpr::Literal(Datum::Text(field_name), ScalarType::Text), ScalarType::Text);
            call_typed(ctx, "extract", vec![field_lit, plan_expr(ctx, expr)?])
        }
        Expr::Position { expr, r#in } => call_named(ctx, "strpos", &[r#in, expr]),
        Expr::Substring { expr, substring_from, substring_for, .. } => {
            let mut args = vec![plan_expr(ctx, expr)?];
            match (substring_from, substring_for) {
                (Some(from), Some(len)) => {
                    args.push(plan_expr(ctx, from)?);
                    args.push(plan_expr(ctx, len)?);
                }
                (Some(from), None) => args.push(plan_expr(ctx, from)?),
                (None, Some(len)) => {
                    args.push(Typed::known(ScalarExpr::Literal(Datum::Int32(1), ScalarType::Int32), ScalarType::Int32));
                    args.push(plan_expr(ctx, len)?);
                }
                (None, None) => {}
            }
            call_typed(ctx, "substr", args)
        }
        Expr::Trim { expr, trim_where, trim_what, trim_characters } => {
            let name = match trim_where {
                Some(ast::TrimWhereField::Leading) => "ltrim",
                Some(ast::TrimWhereField::Trailing) => "rtrim",
                _ => "btrim",
            };
            let mut args = vec![plan_expr(ctx, expr)?];
            if let Some(what) = trim_what {
                args.push(plan_expr(ctx, what)?);
            } else if let Some(chars) = trim_characters.as_ref().and_then(|c| c.first()) {
                args.push(plan_expr(ctx, chars)?);
            }
            call_typed(ctx, name, args)
        }
        Expr::Ceil { expr, .. } => call_named(ctx, "ceil", &[expr]),
        Expr::Floor { expr, .. } => call_named(ctx, "floor", &[expr]),
        Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => {
            Err(PlanError::Syntax("* is only allowed in a SELECT list or count(*)".into()))
        }
        // Eddy compares text by bytes, which is what these collations mean.
        Expr::Collate { expr, collation } => match object_name(collation).as_str() {
            "default" | "C" | "POSIX" | "ucs_basic" => plan_expr(ctx, expr),
            other => Err(PlanError::Unsupported(format!(
                "collation \"{other}\" (text compares by bytes: \"C\", \"POSIX\" and \"default\" are accepted)"
            ))),
        },
        other => Err(PlanError::Unsupported(format!("expression {other}"))),
    }
}

/// In a grouped query: an aggregate call or an expression equal to a GROUP BY key is a
/// column of the grouped relation; a bare column that is neither is an error.
/// `GROUPING(a, b, ...)`: a bit per argument, first argument highest, set when the row's
/// grouping set does not group by it.
fn plan_grouping_call(ctx: &ExprCtx, f: &ast::Function) -> Result<Typed, PlanError> {
    let not_a_key = || {
        PlanError::Grouping("arguments to GROUPING must be grouping expressions of the associated query level".into())
    };
    let int = |v: i32| ScalarExpr::Literal(Datum::Int32(v), ScalarType::Int32);
    let grouping = match ctx.mode {
        AggMode::Grouped(grouping) => grouping,
        // The pass that collects aggregate calls: GROUPING holds none.
        AggMode::Collect(_) => return Ok(Typed::known(int(0), ScalarType::Int32)),
        AggMode::Forbidden(_) => return Err(not_a_key()),
    };
    let input_ctx = ctx.with_mode(AggMode::Forbidden("GROUPING"));
    let mut keys = Vec::new();
    for arg in crate::query::function_arg_exprs(f)? {
        let planned = plan_expr(&input_ctx, arg)?.expr;
        keys.push(grouping.keys.iter().position(|k| *k == planned).ok_or_else(not_a_key)?);
    }
    if keys.len() > 31 {
        return Err(PlanError::Grouping("GROUPING must have fewer than 32 arguments".into()));
    }
    let Some(sets) = &grouping.sets else { return Ok(Typed::known(int(0), ScalarType::Int32)) };
    let mask = |members: &Vec<bool>| keys.iter().fold(0, |m, &k| (m << 1) | i32::from(!members[k]));
    let mut value = int(0);
    for (id, members) in sets.membership.iter().enumerate().rev() {
        let this_set = ScalarExpr::call(eddy_expr::Func::Eq, vec![ScalarExpr::Column(sets.column), int(id as i32)]);
        value = ScalarExpr::If { cond: Box::new(this_set), then: Box::new(int(mask(members))), els: Box::new(value) };
    }
    Ok(Typed::known(value, ScalarType::Int32))
}

fn match_grouped(ctx: &ExprCtx, grouping: &Grouping, e: &Expr) -> Result<Option<Typed>, PlanError> {
    if let Expr::Function(f) = e {
        if is_aggregate_call(f) {
            // Collected under the name the call was planned as (`jsonb_agg(t)` is planned as
            // `jsonb_agg(jsonb_build_object(...))`).
            let key = match whole_row_argument(ctx, f, &object_name(&f.name)) {
                Some(rewritten) => Expr::Function(rewritten).to_string(),
                None => e.to_string(),
            };
            return match grouping.aggs.iter().position(|a| a.key == key) {
                Some(i) => {
                    Ok(Some(Typed::known(ScalarExpr::Column(grouping.keys.len() + i), grouping.aggs[i].ty.clone())))
                }
                None => Err(PlanError::Grouping(format!("aggregate {key} was not collected; this is a bug"))),
            };
        }
    }
    let input_ctx = ctx.with_mode(AggMode::Forbidden("GROUP BY matching"));
    let planned = plan_expr(&input_ctx, e).ok();
    if let Some(planned) = &planned {
        if planned.expr.max_column().is_some() {
            if let Some(k) = grouping.keys.iter().position(|key| *key == planned.expr) {
                return Ok(Some(Typed::known(ScalarExpr::Column(k), grouping.key_types[k].clone())));
            }
        }
    }
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            // PostgreSQL names the column with its relation: `column "t.a" must appear ...`.
            let column = match planned.map(|p| p.expr) {
                Some(ScalarExpr::Column(i)) => ctx.scope.columns.get(i),
                _ => None,
            };
            let name = match column {
                Some(c) => c.table.as_ref().map_or_else(|| c.name.clone(), |t| format!("{t}.{}", c.name)),
                None => e.to_string(),
            };
            Err(PlanError::NotGrouped(name))
        }
        _ => Ok(None),
    }
}

pub fn is_aggregate_call(f: &ast::Function) -> bool {
    AggregateFunc::is_aggregate_name(&object_name(&f.name)) && f.over.is_none()
}

fn column(ctx: &ExprCtx, table: Option<&str>, name: &str) -> Result<Typed, PlanError> {
    let i = ctx.scope.resolve(table, name)?;
    Ok(Typed::known(ScalarExpr::Column(i), ctx.scope.columns[i].ty.clone()))
}

pub(crate) fn string_value(v: &Value) -> Option<String> {
    match v {
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) | Value::NationalStringLiteral(s) => {
            Some(s.clone())
        }
        Value::DollarQuotedString(d) => Some(d.value.clone()),
        _ => None,
    }
}

/// A literal of a bulk `VALUES` row, typed as [`plan_expr`] types the same literal.
pub(crate) fn plan_literal(literal: &Literal) -> Result<Typed, PlanError> {
    match literal {
        Literal::Number(n) => number_literal(n),
        Literal::String(s) => Ok(unknown_text(s.clone())),
        Literal::Null => Ok(unknown_null()),
        Literal::Bool(b) => Ok(bool_literal(*b)),
    }
}

/// A string literal: text until its context gives it a type.
fn unknown_text(s: String) -> Typed {
    Typed { expr: ScalarExpr::Literal(Datum::Text(s.clone()), ScalarType::Text), ty: None, unknown: Unknown::Text(s) }
}

fn unknown_null() -> Typed {
    Typed { expr: ScalarExpr::Literal(Datum::Null, ScalarType::Text), ty: None, unknown: Unknown::Null }
}

fn bool_literal(b: bool) -> Typed {
    Typed::known(ScalarExpr::Literal(Datum::Bool(b), ScalarType::Bool), ScalarType::Bool)
}

fn plan_value(ctx: &ExprCtx, v: &Value) -> Result<Typed, PlanError> {
    if let Some(s) = string_value(v) {
        return Ok(unknown_text(s));
    }
    match v {
        Value::Number(n, _) => number_literal(n),
        Value::Boolean(b) => Ok(bool_literal(*b)),
        Value::Null => Ok(unknown_null()),
        Value::Placeholder(p) => {
            let index: usize = p
                .trim_start_matches('$')
                .parse()
                .ok()
                .filter(|i| *i >= 1)
                .ok_or_else(|| PlanError::Syntax(format!("invalid parameter {p}")))?;
            let i = index - 1;
            let declared = ctx.stmt.param_types.get(i).cloned().flatten();
            let known = declared.or_else(|| ctx.params.borrow().get(i).cloned().flatten());
            match known {
                Some(ty) => {
                    let typed = Typed {
                        expr: ScalarExpr::Literal(Datum::Null, ty.clone()),
                        ty: None,
                        unknown: Unknown::Param(i),
                    };
                    let expr = coerce(ctx, typed, &ty, CastContext::Implicit)?;
                    Ok(Typed::known(expr, ty))
                }
                None => Ok(Typed {
                    expr: ScalarExpr::Literal(Datum::Null, ScalarType::Text),
                    ty: None,
                    unknown: Unknown::Param(i),
                }),
            }
        }
        Value::HexStringLiteral(h) => Err(PlanError::Unsupported(format!("hex literal X'{h}'"))),
        other => Err(PlanError::Unsupported(format!("literal {other}"))),
    }
}

/// PostgreSQL's rule: integers that fit are int4, then int8, otherwise numeric.
fn number_literal(n: &str) -> Result<Typed, PlanError> {
    // `-3` arrives here as one literal (see plan_unary) and is an integer like `3`.
    let digits = n.strip_prefix('-').unwrap_or(n);
    let is_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if is_integer {
        if let Ok(i) = n.parse::<i32>() {
            return Ok(Typed::known(ScalarExpr::Literal(Datum::Int32(i), ScalarType::Int32), ScalarType::Int32));
        }
        if let Ok(i) = n.parse::<i64>() {
            return Ok(Typed::known(ScalarExpr::Literal(Datum::Int64(i), ScalarType::Int64), ScalarType::Int64));
        }
    }
    if let Ok(d) = Decimal::from_str(n).or_else(|_| Decimal::from_scientific(n)) {
        return Ok(Typed::known(ScalarExpr::Literal(Datum::Numeric(d), ScalarType::numeric()), ScalarType::numeric()));
    }
    // Beyond numeric's 28 digits (1e100, 1e-300): a double precision, so that it can
    // still be cast or assigned to a float (PostgreSQL's numeric has no such limit).
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Float64(f), ScalarType::Float64), ScalarType::Float64))
        }
        _ => Err(PlanError::Parse(eddy_repr::ParseError::OutOfRange { type_name: "numeric".into(), text: n.into() })),
    }
}

fn negate(t: Typed) -> Result<Typed, PlanError> {
    let not = func::resolve_unary_operator("not", Some(ScalarType::Bool))?;
    Ok(Typed::known(ScalarExpr::call(not.func, vec![t.expr]), ScalarType::Bool))
}

fn plan_unary(ctx: &ExprCtx, op: &UnaryOperator, inner: &Expr) -> Result<Typed, PlanError> {
    match op {
        UnaryOperator::Not => {
            let cond = plan_condition(ctx, inner, "NOT")?;
            negate(Typed::known(cond, ScalarType::Bool))
        }
        UnaryOperator::Plus => plan_expr(ctx, inner),
        UnaryOperator::Minus => {
            if let Expr::Value(v) = inner {
                if let Value::Number(n, _) = &v.value {
                    return number_literal(&format!("-{n}"));
                }
            }
            prefix_operator(ctx, "-", inner)
        }
        UnaryOperator::PGAbs => prefix_operator(ctx, "@", inner),
        UnaryOperator::PGSquareRoot => prefix_operator(ctx, "|/", inner),
        UnaryOperator::PGCubeRoot => prefix_operator(ctx, "||/", inner),
        UnaryOperator::BitwiseNot => prefix_operator(ctx, "~", inner),
        other => Err(PlanError::Unsupported(format!("operator {other}"))),
    }
}

/// `op x` for a prefix operator other than NOT: `-`, `@` (abs), `|/`, `||/`, `~`.
fn prefix_operator(ctx: &ExprCtx, op: &str, inner: &Expr) -> Result<Typed, PlanError> {
    let arg = plan_expr(ctx, inner)?;
    let resolved = func::resolve_unary_operator(op, arg.ty.clone())?;
    let arg = coerce(ctx, arg, &resolved.arg_types[0], CastContext::Implicit)?;
    let folded = constant_fold(ScalarExpr::call(resolved.func, vec![arg]), &resolved.return_type)?;
    Ok(Typed::known(folded, resolved.return_type))
}

fn plan_binary(ctx: &ExprCtx, op: &BinaryOperator, left: &Expr, right: &Expr) -> Result<Typed, PlanError> {
    use BinaryOperator::{Eq, Gt, GtEq, Lt, LtEq, NotEq};
    if matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq) {
        if let (Some(l), Some(r)) = (row_items(left), row_items(right)) {
            return plan_row_comparison(ctx, op, &l, &r);
        }
    }
    match op {
        BinaryOperator::And | BinaryOperator::Or => {
            let clause = if matches!(op, BinaryOperator::And) { "AND" } else { "OR" };
            let l = plan_condition(ctx, left, clause)?;
            let r = plan_condition(ctx, right, clause)?;
            let flatten = |e: ScalarExpr, out: &mut Vec<ScalarExpr>| match (e, op) {
                (ScalarExpr::And(inner), BinaryOperator::And) | (ScalarExpr::Or(inner), BinaryOperator::Or) => {
                    out.extend(inner)
                }
                (e, _) => out.push(e),
            };
            let mut parts = Vec::new();
            flatten(l, &mut parts);
            flatten(r, &mut parts);
            let expr = if matches!(op, BinaryOperator::And) { ScalarExpr::And(parts) } else { ScalarExpr::Or(parts) };
            Ok(Typed::known(expr, ScalarType::Bool))
        }
        other => {
            let name = match other {
                BinaryOperator::PGLikeMatch => "like".to_string(),
                BinaryOperator::PGILikeMatch => "ilike".to_string(),
                BinaryOperator::PGNotLikeMatch => "not like".to_string(),
                BinaryOperator::PGNotILikeMatch => "not ilike".to_string(),
                BinaryOperator::PGExp => "^".to_string(),
                // `OPERATOR(pg_catalog.~)`, as psql writes its operators.
                BinaryOperator::PGCustomBinaryOperator(parts)
                    if parts.len() == 2 && parts[0].eq_ignore_ascii_case("pg_catalog") =>
                {
                    parts[1].clone()
                }
                o => o.to_string().to_lowercase(),
            };
            binary(ctx, &name, plan_expr(ctx, left)?, plan_expr(ctx, right)?)
        }
    }
}

/// The fields of a row constructor: `(a, b)` or `ROW(a, b)`.
pub(crate) fn row_items(e: &Expr) -> Option<Vec<Expr>> {
    match e {
        Expr::Nested(inner) => row_items(inner),
        Expr::Tuple(items) => Some(items.clone()),
        Expr::Function(f) if object_name(&f.name) == "row" && f.over.is_none() => {
            crate::query::function_arg_exprs(f).ok().map(|args| args.into_iter().cloned().collect())
        }
        _ => None,
    }
}

/// `(a, b) op (c, d)`, field by field as PostgreSQL compares rows: `=` when every pair is
/// equal, `<>` when any differs, and the ordering operators by the first unequal pair
/// (`a < c OR (a = c AND b < d)`), NULL when a pair needed is NULL.
fn plan_row_comparison(ctx: &ExprCtx, op: &BinaryOperator, left: &[Expr], right: &[Expr]) -> Result<Typed, PlanError> {
    if left.len() != right.len() {
        return Err(PlanError::SyntaxRule("unequal number of entries in row expressions".into()));
    }
    if left.is_empty() {
        return Err(PlanError::SyntaxRule("cannot compare rows of zero length".into()));
    }
    let pair = |op: &str, i: usize| -> Result<ScalarExpr, PlanError> {
        let compared = binary(ctx, op, plan_expr(ctx, &left[i])?, plan_expr(ctx, &right[i])?)?;
        if compared.ty != Some(ScalarType::Bool) {
            return Err(PlanError::Datatype(format!("row comparison operator {op} must yield type boolean")));
        }
        Ok(compared.expr)
    };
    let n = left.len();
    let expr = match op {
        BinaryOperator::Eq => ScalarExpr::And((0..n).map(|i| pair("=", i)).collect::<Result<_, _>>()?),
        BinaryOperator::NotEq => ScalarExpr::Or((0..n).map(|i| pair("<>", i)).collect::<Result<_, _>>()?),
        ordering => {
            let last = ordering.to_string();
            let strict = match ordering {
                BinaryOperator::Lt | BinaryOperator::LtEq => "<",
                _ => ">",
            };
            // Built from the last pair outwards.
            let mut expr = pair(&last, n.saturating_sub(1))?;
            for i in (0..n.saturating_sub(1)).rev() {
                expr = ScalarExpr::Or(vec![pair(strict, i)?, ScalarExpr::And(vec![pair("=", i)?, expr])]);
            }
            expr
        }
    };
    Ok(Typed::known(expr, ScalarType::Bool))
}

/// Resolves and plans `left op right`.
/// `ARRAY[a, b, ...]`: the elements brought to their common type.
fn plan_array(ctx: &ExprCtx, elements: &[Expr]) -> Result<Typed, PlanError> {
    if elements.is_empty() {
        return Err(PlanError::IndeterminateType("cannot determine type of empty array".into()));
    }
    let planned: Vec<Typed> = elements.iter().map(|e| plan_expr(ctx, e)).collect::<Result<_, _>>()?;
    let element = common_type(&planned.iter().map(|p| p.ty.clone()).collect::<Vec<_>>(), "ARRAY")?;
    let resolved = func::resolve_array_create(&element)?;
    let exprs =
        planned.into_iter().map(|p| coerce(ctx, p, &element, CastContext::Implicit)).collect::<Result<_, _>>()?;
    Ok(Typed::known(ScalarExpr::call(resolved.func, exprs), resolved.return_type))
}

pub fn binary(ctx: &ExprCtx, op: &str, left: Typed, right: Typed) -> Result<Typed, PlanError> {
    // Comparisons between different types of one family compare in their common type, so
    // equal values are equal datums (join keys and grouping rely on it).
    let (left, right) = match (op, &left.ty, &right.ty) {
        ("=" | "<>" | "!=" | "<" | "<=" | ">" | ">=", Some(l), Some(r)) if l != r => {
            match common_type(&[Some(l.clone()), Some(r.clone())], "comparison") {
                Ok(common) => {
                    let l = coerce(ctx, left, &common, CastContext::Implicit)?;
                    let r = coerce(ctx, right, &common, CastContext::Implicit)?;
                    (Typed::known(l, common.clone()), Typed::known(r, common))
                }
                Err(_) => (left, right),
            }
        }
        _ => (left, right),
    };
    let resolved = func::resolve_binary_operator(op, left.ty.clone(), right.ty.clone())?;
    let l = coerce(ctx, left, &resolved.arg_types[0], CastContext::Implicit)?;
    let r = coerce(ctx, right, &resolved.arg_types[1], CastContext::Implicit)?;
    Ok(Typed::known(ScalarExpr::call(resolved.func, vec![l, r]), resolved.return_type))
}

fn like(ctx: &ExprCtx, op: &str, expr: &Expr, pattern: &Expr, escape: &Option<Box<Expr>>) -> Result<Typed, PlanError> {
    let pattern = match escape {
        // Another escape character: rewrite the pattern to backslash escapes, as PostgreSQL's
        // like_escape does.
        Some(esc) if !matches!(&**esc, Expr::Value(v) if string_value(&v.value).as_deref() == Some("\\")) => {
            call_named(ctx, "like_escape", &[pattern, esc])?
        }
        _ => plan_expr(ctx, pattern)?,
    };
    binary(ctx, op, plan_expr(ctx, expr)?, pattern)
}

fn call_named(ctx: &ExprCtx, name: &str, args: &[&Expr]) -> Result<Typed, PlanError> {
    let planned = args.iter().map(|a| plan_expr(ctx, a)).collect::<Result<Vec<_>, _>>()?;
    call_typed(ctx, name, planned)
}

/// Resolves `name(args)` and coerces the arguments.
pub fn call_typed(ctx: &ExprCtx, name: &str, args: Vec<Typed>) -> Result<Typed, PlanError> {
    let types: Vec<Option<ScalarType>> = args.iter().map(|a| a.ty.clone()).collect();
    let resolved = func::resolve_function(name, &types)?;
    let mut exprs = Vec::with_capacity(args.len());
    for (arg, ty) in args.into_iter().zip(resolved.arg_types.iter()) {
        exprs.push(coerce(ctx, arg, ty, CastContext::Implicit)?);
    }
    Ok(Typed::known(ScalarExpr::call(resolved.func, exprs), resolved.return_type))
}

fn plan_case(
    ctx: &ExprCtx,
    operand: Option<&Expr>,
    conditions: &[ast::CaseWhen],
    else_result: Option<&Expr>,
) -> Result<Typed, PlanError> {
    let mut conds = Vec::with_capacity(conditions.len());
    for when in conditions {
        let cond = match operand {
            Some(op) => binary(ctx, "=", plan_expr(ctx, op)?, plan_expr(ctx, &when.condition)?)?.expr,
            None => plan_condition(ctx, &when.condition, "CASE")?,
        };
        conds.push(cond);
    }
    let mut results: Vec<Typed> = conditions.iter().map(|w| plan_expr(ctx, &w.result)).collect::<Result<_, _>>()?;
    let else_typed = match else_result {
        Some(e) => plan_expr(ctx, e)?,
        None => Typed { expr: ScalarExpr::Literal(Datum::Null, ScalarType::Text), ty: None, unknown: Unknown::Null },
    };
    results.push(else_typed);
    // PostgreSQL considers the ELSE branch first when it picks the result type.
    let mut branch_types: Vec<Option<ScalarType>> = results.iter().map(|r| r.ty.clone()).collect();
    branch_types.rotate_right(1);
    let ty = common_type(&branch_types, "CASE")?;
    let mut coerced: Vec<ScalarExpr> =
        results.into_iter().map(|r| coerce(ctx, r, &ty, CastContext::Implicit)).collect::<Result<_, _>>()?;
    let mut expr = coerced.pop().unwrap_or(ScalarExpr::Literal(Datum::Null, ty.clone()));
    for (cond, then) in conds.into_iter().zip(coerced).rev() {
        expr = ScalarExpr::If { cond: Box::new(cond), then: Box::new(then), els: Box::new(expr) };
    }
    Ok(Typed::known(expr, ty))
}

/// `to_jsonb(t)`, `to_json(t)`, `row_to_json(t)` of a whole row of FROM item `t` (Eddy has
/// no record type): the row as `jsonb_build_object('col', t.col, ...)` for jsonb, and as
/// `row_to_json('col', t.col, ...)` (json written `{"col":value}`) for json; also as the
/// argument of `jsonb_agg(t)` / `json_agg(t)`.
fn whole_row_argument(ctx: &ExprCtx, f: &ast::Function, name: &str) -> Option<ast::Function> {
    if !matches!(name, "to_jsonb" | "to_json" | "row_to_json" | "jsonb_agg" | "json_agg") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else { return None };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(ident)))] = list.args.as_slice() else {
        return None;
    };
    let table = normalize_ident(ident);
    if ctx.scope.resolve(None, &table).is_ok() {
        return None;
    }
    let columns: Vec<&str> = ctx
        .scope
        .columns
        .iter()
        .filter(|c| c.table.as_deref() == Some(table.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    if columns.is_empty() {
        return None;
    }
    let quoted = |s: &str| ast::Ident::with_quote('"', s);
    let mut pairs = Vec::new();
    for column in columns {
        pairs.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(ast::Value::SingleQuotedString(
            column.to_string(),
        )))));
        pairs.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::CompoundIdentifier(vec![
            quoted(&table),
            quoted(column),
        ]))));
    }
    let json = matches!(name, "to_json" | "row_to_json" | "json_agg");
    let object = ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(if json { "row_to_json" } else { "jsonb_build_object" })]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: pairs,
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    };
    if name == "row_to_json" {
        return Some(object);
    }
    let mut rewritten = f.clone();
    if let FunctionArguments::List(list) = &mut rewritten.args {
        list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(object)))];
    }
    Some(rewritten)
}

fn function_args(f: &ast::Function) -> Result<(Vec<&FunctionArgExpr>, bool), PlanError> {
    match &f.args {
        FunctionArguments::None => Ok((vec![], false)),
        FunctionArguments::Subquery(_) => Err(PlanError::Unsupported("subquery as a function argument".into())),
        FunctionArguments::List(list) => {
            // ORDER BY is the aggregate's own (see `aggregate_order_by`).
            if list.clauses.iter().any(|c| !matches!(c, ast::FunctionArgumentClause::OrderBy(_))) {
                return Err(PlanError::Unsupported(format!("function clauses in {f}")));
            }
            let distinct = matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct));
            if list.args.iter().all(|a| matches!(a, FunctionArg::Unnamed(_))) {
                let args =
                    list.args.iter().filter_map(|a| if let FunctionArg::Unnamed(e) = a { Some(e) } else { None });
                return Ok((args.collect(), distinct));
            }
            Ok((named_args(f, &list.args)?, distinct))
        }
    }
}

/// The `ORDER BY` inside an aggregate call's parentheses.
fn aggregate_order_by(f: &ast::Function) -> &[ast::OrderByExpr] {
    match &f.args {
        FunctionArguments::List(list) => list
            .clauses
            .iter()
            .find_map(|c| match c {
                ast::FunctionArgumentClause::OrderBy(keys) => Some(&keys[..]),
                _ => None,
            })
            .unwrap_or(&[]),
        _ => &[],
    }
}

/// The zero that `make_interval`'s omitted arguments default to.
static ZERO_ARG: std::sync::LazyLock<FunctionArgExpr> =
    std::sync::LazyLock::new(|| FunctionArgExpr::Expr(Expr::value(ast::Value::Number("0".into(), false))));

/// `f(a, name => b, ...)`: the arguments in parameter order, for the built-in functions
/// whose parameters PostgreSQL names. Omitted parameters take their default (only
/// `make_interval`'s have one: 0).
fn named_args<'e>(f: &ast::Function, args: &'e [FunctionArg]) -> Result<Vec<&'e FunctionArgExpr>, PlanError> {
    let name = object_name(&f.name);
    let (params, defaults): (&[&str], bool) = match name.as_str() {
        "make_interval" => (&["years", "months", "weeks", "days", "hours", "mins", "secs"], true),
        "make_date" => (&["year", "month", "day"], false),
        "make_timestamp" => (&["year", "month", "mday", "hour", "min", "sec"], false),
        _ => return Err(PlanError::Unsupported(format!("named arguments in {f}"))),
    };
    let mut slots: Vec<Option<&'e FunctionArgExpr>> = vec![None; params.len()];
    for (position, arg) in args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(e) => (position, e),
            FunctionArg::Named { name: param, arg, .. }
            | FunctionArg::ExprNamed { name: Expr::Identifier(param), arg, .. } => {
                let param = normalize_ident(param);
                let slot = params.iter().position(|p| *p == param).ok_or_else(|| {
                    let args = format!("{param} => ...");
                    PlanError::Resolve(eddy_expr::func::ResolveError::NoSuchFunction { name: name.clone(), args })
                })?;
                (slot, arg)
            }
            FunctionArg::ExprNamed { .. } => return Err(PlanError::Unsupported(format!("named arguments in {f}"))),
        };
        match slots.get_mut(slot) {
            Some(s @ None) => *s = Some(value),
            Some(Some(_)) => {
                return Err(PlanError::Syntax(format!("argument \"{}\" given more than once in {f}", params[slot])))
            }
            None => return Err(PlanError::Syntax(format!("too many arguments in {f}"))),
        }
    }
    let given = slots.iter().rposition(Option::is_some).map_or(0, |last| last + 1);
    slots.truncate(given);
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| match slot {
            Some(arg) => Ok(arg),
            None if defaults => Ok(&*ZERO_ARG),
            None => Err(PlanError::Syntax(format!("missing argument \"{}\" in {f}", params[i]))),
        })
        .collect()
}

fn expr_args<'e>(args: &[&'e FunctionArgExpr], f: &ast::Function) -> Result<Vec<&'e Expr>, PlanError> {
    args.iter()
        .map(|a| match a {
            FunctionArgExpr::Expr(e) => Ok(e),
            _ => Err(PlanError::Syntax(format!("* is not allowed in {f}"))),
        })
        .collect()
}

/// `nextval(name)`, `currval(name)`, `setval(name, value [, is_called])`, `lastval()`:
/// bigint, evaluated when the statement runs (the name is looked up then).
fn plan_sequence_call(ctx: &ExprCtx, name: &str, args: &[&ast::Expr]) -> Result<Typed, PlanError> {
    use eddy_expr::Func;
    if ctx.now == crate::query::NowContext::Maintained {
        return Err(PlanError::Unsupported(format!(
            "{name}() in a materialized view (it changes a sequence each time it runs)"
        )));
    }
    let (func, types) = match (name, args.len()) {
        ("nextval", 1) => (Func::NextVal, vec![ScalarType::Text]),
        ("currval", 1) => (Func::CurrVal, vec![ScalarType::Text]),
        ("setval", 2 | 3) => (Func::SetVal, vec![ScalarType::Text, ScalarType::Int64, ScalarType::Bool]),
        ("lastval", 0) => (Func::LastVal, vec![]),
        _ => {
            let args = args.iter().map(|a| plan_expr(ctx, a).map(|t| t.ty)).collect::<Result<Vec<_>, _>>()?;
            let args = args.iter().map(|t| t.as_ref().map_or("unknown".into(), |t| t.to_string()));
            let (name, args) = (name.to_string(), args.collect::<Vec<_>>().join(", "));
            return Err(PlanError::Resolve(eddy_expr::func::ResolveError::NoSuchFunction { name, args }));
        }
    };
    let mut planned = Vec::new();
    for (arg, ty) in args.iter().zip(&types) {
        let arg = plan_expr(ctx, arg)?;
        planned.push(coerce(ctx, arg, ty, CastContext::Implicit)?);
    }
    if planned.len() == 2 {
        planned.push(ScalarExpr::Literal(Datum::Bool(true), ScalarType::Bool));
    }
    Ok(Typed::known(ScalarExpr::call(func, planned), ScalarType::Int64))
}

fn plan_function(ctx: &ExprCtx, f: &ast::Function) -> Result<Typed, PlanError> {
    let name = object_name(&f.name);
    if let Some(rewritten) = whole_row_argument(ctx, f, &name) {
        return plan_function(ctx, &rewritten);
    }
    if f.over.is_some() {
        return plan_window_reference(ctx, f);
    }
    if crate::query::is_set_returning(&name) {
        return plan_set_returning_reference(ctx, f, &name);
    }
    let (args, distinct) = function_args(f)?;
    if AggregateFunc::is_aggregate_name(&name) {
        return plan_aggregate(ctx, f, &name, &args, distinct);
    }
    if f.filter.is_some() {
        return Err(PlanError::Grouping(format!("FILTER specified, but {name} is not an aggregate function")));
    }
    if !aggregate_order_by(f).is_empty() {
        return Err(PlanError::WrongObjectType(format!("ORDER BY specified, but {name} is not an aggregate function")));
    }
    let args = expr_args(&args, f)?;
    match name.as_str() {
        // What psql's \d commands ask of the catalog: every relation is visible on the
        // search path, and every object belongs to the one user there is.
        "pg_table_is_visible" | "pg_type_is_visible" | "pg_function_is_visible" if args.len() == 1 => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Bool(true), ScalarType::Bool), ScalarType::Bool))
        }
        // Column defaults are kept as SQL in pg_attrdef.adbin: their text is the answer.
        "pg_get_expr" if (2..=3).contains(&args.len()) => match plan_expr(ctx, args[0])? {
            text @ Typed { ty: Some(ScalarType::Text), .. } => Ok(text),
            _ => Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Text), ScalarType::Text)),
        },
        // Eddy keeps no policies or statistics objects, and nothing is published: what
        // psql and BI tools ask about them has no answer (NULL) or "no". Comments are
        // looked up in the select list (see `query::rewrite_definition_lookups`).
        "pg_get_expr"
        | "col_description"
        | "obj_description"
        | "shobj_description"
        | "pg_get_constraintdef"
        | "pg_get_function_result"
        | "pg_get_function_arguments"
        | "pg_get_function_identity_arguments"
        | "pg_get_statisticsobjdef_columns"
        | "pg_get_triggerdef"
            if (1..=3).contains(&args.len()) =>
        {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Text), ScalarType::Text))
        }
        // With constant names it was answered before planning (see `object_ids`).
        "pg_get_serial_sequence" if args.len() == 2 => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Text), ScalarType::Text))
        }
        // Eddy has no partitioned tables: a relation's only ancestor is itself (psql's
        // \d asks, to list the foreign keys referencing a table).
        "pg_partition_ancestors" if args.len() == 1 => {
            let arg = plan_expr(ctx, args[0])?;
            Ok(Typed::known(coerce(ctx, arg, &ScalarType::Int64, CastContext::Explicit)?, ScalarType::Int64))
        }
        "pg_relation_is_publishable" if args.len() == 1 => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Bool(false), ScalarType::Bool), ScalarType::Bool))
        }
        "has_table_privilege" | "has_schema_privilege" | "has_database_privilege" | "has_column_privilege"
            if (2..=4).contains(&args.len()) =>
        {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Bool(true), ScalarType::Bool), ScalarType::Bool))
        }
        "pg_encoding_to_char" if args.len() == 1 => text_literal("UTF8".into()),
        // The argument's type name (as text; PostgreSQL's is a regtype printing the same).
        "pg_typeof" if args.len() == 1 => {
            let arg = plan_expr(ctx, args[0])?;
            text_literal(arg.ty.map_or_else(|| "unknown".to_string(), |t| t.without_modifiers().to_string()))
        }
        "set_config" => Err(PlanError::Unsupported(
            "set_config(...) other than alone, with constant arguments, as SELECT set_config('name', 'value', false)"
                .into(),
        )),
        "pg_is_in_recovery" if args.is_empty() => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Bool(false), ScalarType::Bool), ScalarType::Bool))
        }
        "pg_backend_pid" if args.is_empty() => Ok(Typed::known(
            ScalarExpr::Literal(Datum::Int32(ctx.stmt.backend_pid), ScalarType::Int32),
            ScalarType::Int32,
        )),
        // The schemas searched: with `true`, the implicit pg_catalog too.
        "current_schemas" if args.len() == 1 => {
            let implicit = match plan_expr(ctx, args[0])?.expr {
                ScalarExpr::Literal(Datum::Bool(b), _) => b,
                _ => return Err(PlanError::Unsupported("current_schemas of a non-constant".into())),
            };
            let schemas = if implicit { vec!["pg_catalog", "public"] } else { vec!["public"] };
            let ty = ScalarType::Array(Box::new(ScalarType::Text));
            let datum = Datum::Array(schemas.into_iter().map(|s| Datum::Text(s.into())).collect());
            Ok(Typed::known(ScalarExpr::Literal(datum, ty.clone()), ty))
        }
        // `current_setting(name [, missing_ok])`: the session's value when the statement ran.
        "current_setting" if (1..=2).contains(&args.len()) => {
            let name = match plan_expr(ctx, args[0])?.expr {
                ScalarExpr::Literal(Datum::Text(name), _) => name.to_lowercase(),
                _ => return Err(PlanError::Unsupported("current_setting of a non-constant name".into())),
            };
            let missing_ok = match args.get(1).map(|a| plan_expr(ctx, a)).transpose()?.map(|t| t.expr) {
                Some(ScalarExpr::Literal(Datum::Bool(b), _)) => b,
                _ => false,
            };
            match ctx.stmt.settings.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => text_literal(value.clone()),
                None if missing_ok => {
                    Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Text), ScalarType::Text))
                }
                None => Err(PlanError::UnknownSetting(name)),
            }
        }
        // Sizes on disk are per collection in eddy_catalog.storage, not per relation oid.
        "pg_table_size" | "pg_relation_size" | "pg_total_relation_size" | "pg_indexes_size" if args.len() == 1 => {
            Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Int64), ScalarType::Int64))
        }
        "pg_get_userbyid" if args.len() == 1 => Ok(Typed::known(
            ScalarExpr::Literal(Datum::Text(crate::catalog::OWNER.into()), ScalarType::Text),
            ScalarType::Text,
        )),
        "nextval" | "currval" | "setval" | "lastval" => plan_sequence_call(ctx, &name, &args),
        "random" | "gen_random_uuid" if ctx.now == crate::query::NowContext::Maintained => Err(PlanError::Unsupported(
            format!("{name}() in a materialized view (a row recomputed later would get another value)"),
        )),
        "now"
        | "current_timestamp"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "localtimestamp"
        | "current_date" => {
            if ctx.now != crate::query::NowContext::Statement {
                // In a view now() stays a call: the reading statement's time in a plain
                // view, a temporal filter's time in a maintained one (checked once the
                // view is planned), where the date forms have no meaning.
                let now = Typed::known(ScalarExpr::call(eddy_expr::Func::Now, vec![]), ScalarType::timestamptz());
                let to = match name.as_str() {
                    "localtimestamp" => ScalarType::timestamp(),
                    "current_date" => ScalarType::Date,
                    _ => return Ok(now),
                };
                if ctx.now == crate::query::NowContext::Maintained {
                    return Err(PlanError::Unsupported(format!(
                        "{name} in a materialized view (its result would depend on when it was computed; \
                         compare now() with a row's time instead)"
                    )));
                }
                return Ok(Typed::known(coerce(ctx, now, &to, CastContext::Explicit)?, to));
            }
            let (datum, ty) = match name.as_str() {
                "current_date" => (Datum::Date(ctx.stmt.now.date_naive()), ScalarType::Date),
                "localtimestamp" => (Datum::Timestamp(ctx.stmt.now.naive_utc()), ScalarType::timestamp()),
                _ => (Datum::TimestampTz(ctx.stmt.now), ScalarType::timestamptz()),
            };
            Ok(Typed::known(ScalarExpr::Literal(datum, ty.clone()), ty))
        }
        // age(x) is the age at midnight today.
        "age" if args.len() == 1 => {
            let today = crate::parse_rewritten_expr("current_date")?;
            call_named(ctx, "age", &[&today, args[0]])
        }
        "version" => text_literal(crate::statement::version_string()),
        "current_database" => text_literal(ctx.stmt.database.clone()),
        "current_user" | "session_user" | "user" | "current_role" => text_literal(ctx.stmt.user.clone()),
        "current_schema" => text_literal("public".into()),
        "coalesce" => {
            let planned: Vec<Typed> = args.iter().map(|a| plan_expr(ctx, a)).collect::<Result<_, _>>()?;
            let ty = common_type(&planned.iter().map(|p| p.ty.clone()).collect::<Vec<_>>(), "COALESCE")?;
            let exprs =
                planned.into_iter().map(|p| coerce(ctx, p, &ty, CastContext::Implicit)).collect::<Result<_, _>>()?;
            Ok(Typed::known(ScalarExpr::Coalesce(exprs), ty))
        }
        "nullif" | "greatest" | "least" => {
            let planned: Vec<Typed> = args.iter().map(|a| plan_expr(ctx, a)).collect::<Result<_, _>>()?;
            let ty = common_type(&planned.iter().map(|p| p.ty.clone()).collect::<Vec<_>>(), &name.to_uppercase())?;
            let typed: Vec<Typed> = planned
                .into_iter()
                .map(|p| Ok(Typed::known(coerce(ctx, p, &ty, CastContext::Implicit)?, ty.clone())))
                .collect::<Result<_, PlanError>>()?;
            call_typed(ctx, &name, typed)
        }
        _ => {
            let planned = args.iter().map(|a| plan_expr(ctx, a)).collect::<Result<Vec<_>, _>>()?;
            call_typed(ctx, &name, planned)
        }
    }
}

fn text_literal(s: String) -> Result<Typed, PlanError> {
    Ok(Typed::known(ScalarExpr::Literal(Datum::Text(s), ScalarType::Text), ScalarType::Text))
}

fn plan_aggregate(
    ctx: &ExprCtx,
    f: &ast::Function,
    name: &str,
    args: &[&FunctionArgExpr],
    distinct: bool,
) -> Result<Typed, PlanError> {
    let entries = match ctx.mode {
        AggMode::Forbidden(NESTED_AGGREGATE) => {
            return Err(PlanError::Grouping("aggregate function calls cannot be nested".into()))
        }
        AggMode::Forbidden(clause) => {
            return Err(PlanError::Grouping(format!("aggregate functions are not allowed in {clause}")))
        }
        AggMode::Grouped(_) => {
            return Err(PlanError::Grouping(format!("aggregate function calls cannot be nested: {f}")))
        }
        AggMode::Collect(entries) => entries,
    };
    let inner_ctx = ctx.with_mode(AggMode::Forbidden(NESTED_AGGREGATE));
    let mut second_arg = None;
    let ordered_set = matches!(name, "percentile_cont" | "percentile_disc" | "mode");
    let has_within_group = !f.within_group.is_empty();
    if ordered_set != has_within_group {
        return Err(PlanError::WrongObjectType(if ordered_set {
            format!("WITHIN GROUP is required for ordered-set aggregate {name}")
        } else {
            format!("{name} is not an ordered-set aggregate, so it cannot have WITHIN GROUP")
        }));
    }
    let (func, ty, expr, input_ty) = match args {
        _ if ordered_set => {
            let [key] = &f.within_group[..] else {
                return Err(PlanError::Unsupported(format!("{name} with more than one WITHIN GROUP key")));
            };
            let value = plan_expr(&inner_ctx, &key.expr)?;
            let value_ty = value.ty.as_ref().map_or(ScalarType::Text, ScalarType::without_modifiers);
            let (func, ty) = match (name, args) {
                ("mode", []) => (AggregateFunc::Mode, value_ty),
                ("percentile_cont", [FunctionArgExpr::Expr(_)]) if value_ty.is_numeric_family() => {
                    (AggregateFunc::PercentileCont, ScalarType::Float64)
                }
                ("percentile_disc", [FunctionArgExpr::Expr(_)]) => (AggregateFunc::PercentileDisc, value_ty),
                _ => {
                    return Err(PlanError::Resolve(func::ResolveError::NoSuchFunction {
                        name: name.to_string(),
                        args: format!("{} ORDER BY {value_ty}", args.len()),
                    }))
                }
            };
            if let [FunctionArgExpr::Expr(fraction)] = args {
                let fraction = plan_expr(&inner_ctx, fraction)?;
                second_arg = Some(coerce(&inner_ctx, fraction, &ScalarType::Float64, CastContext::Implicit)?);
            }
            let value = coerce(&inner_ctx, value, &ty, CastContext::Implicit)?;
            (func, ty.clone(), value, ty)
        }
        [FunctionArgExpr::Wildcard] if name == "count" && distinct => {
            return Err(PlanError::Syntax("at or near \"*\"".into()))
        }
        [] if name == "count" => {
            return Err(PlanError::WrongObjectType(
                "count(*) must be used to call a parameterless aggregate function".into(),
            ))
        }
        [FunctionArgExpr::Wildcard] if name == "count" => (
            AggregateFunc::CountRows,
            ScalarType::Int64,
            ScalarExpr::Literal(Datum::Bool(true), ScalarType::Bool),
            ScalarType::Bool,
        ),
        [FunctionArgExpr::Expr(e), FunctionArgExpr::Expr(d)] if name == "string_agg" => {
            let (value, delimiter) = (plan_expr(&inner_ctx, e)?, plan_expr(&inner_ctx, d)?);
            let textual = |t: &Typed| {
                matches!(t.ty, None | Some(ScalarType::Text | ScalarType::Varchar { .. } | ScalarType::Char { .. }))
            };
            if !textual(&value) || !textual(&delimiter) {
                let type_name =
                    |t: &Typed| t.ty.as_ref().map_or("unknown".to_string(), |ty| ty.without_modifiers().to_string());
                return Err(PlanError::Resolve(func::ResolveError::NoSuchFunction {
                    name: name.to_string(),
                    args: format!("{}, {}", type_name(&value), type_name(&delimiter)),
                }));
            }
            let text = |t: Typed| coerce(&inner_ctx, t, &ScalarType::Text, CastContext::Implicit);
            second_arg = Some(text(delimiter)?);
            (AggregateFunc::StringAgg, ScalarType::Text, text(value)?, ScalarType::Text)
        }
        [FunctionArgExpr::Expr(k), FunctionArgExpr::Expr(v)]
            if matches!(name, "jsonb_object_agg" | "json_object_agg") =>
        {
            // Keys by their text form (NULL keys are an error when folded), values as to_jsonb.
            let key = plan_expr(&inner_ctx, k)?;
            let key = coerce(&inner_ctx, key, &ScalarType::Text, CastContext::Explicit)?;
            let value = plan_expr(&inner_ctx, v)?;
            let value_ty = value.ty.clone().unwrap_or(ScalarType::Text);
            second_arg = Some(coerce(&inner_ctx, value, &value_ty, CastContext::Implicit)?);
            if name == "json_object_agg" {
                (
                    AggregateFunc::JsonObjectAgg { ty: value_ty, filtered: false },
                    ScalarType::Json,
                    key,
                    ScalarType::Text,
                )
            } else {
                (
                    AggregateFunc::JsonbObjectAgg { ty: value_ty, filtered: false },
                    ScalarType::Jsonb,
                    key,
                    ScalarType::Text,
                )
            }
        }
        [FunctionArgExpr::Expr(y), FunctionArgExpr::Expr(x)] if Regression::from_name(name).is_some() => {
            let regression = Regression::from_name(name).ok_or_else(|| PlanError::Unsupported(name.to_string()))?;
            let (y, x) = (plan_expr(&inner_ctx, y)?, plan_expr(&inner_ctx, x)?);
            let type_name =
                |t: &Typed| t.ty.as_ref().map_or("unknown".to_string(), |ty| ty.without_modifiers().to_string());
            let no_such_function = PlanError::Resolve(func::ResolveError::NoSuchFunction {
                name: name.to_string(),
                args: format!("{}, {}", type_name(&y), type_name(&x)),
            });
            let float = |t: Typed| coerce(&inner_ctx, t, &ScalarType::Float64, CastContext::Implicit);
            let (Ok(y), Ok(x)) = (float(y), float(x)) else { return Err(no_such_function) };
            second_arg = Some(x);
            (AggregateFunc::Regression(regression), regression.result_type(), y, ScalarType::Float64)
        }
        [FunctionArgExpr::Expr(e)] if name != "string_agg" => {
            let mut arg = plan_expr(&inner_ctx, e)?;
            if arg.ty.is_none() {
                let expr = coerce(&inner_ctx, arg, &ScalarType::Text, CastContext::Implicit)?;
                arg = Typed::known(expr, ScalarType::Text);
            }
            let arg_ty = arg.ty.clone();
            let (mut func, ty) = AggregateFunc::resolve(name, arg_ty.as_ref()).ok_or_else(|| {
                PlanError::Resolve(func::ResolveError::NoSuchFunction {
                    name: name.to_string(),
                    args: arg_ty.as_ref().map_or("unknown".into(), |t| t.without_modifiers().to_string()),
                })
            })?;
            // `json_agg(t)` of whole rows puts each row on its own line.
            if let (
                AggregateFunc::JsonAgg { rows, .. },
                ScalarExpr::Call { func: Func::Json(JsonFunc::Row { .. }), .. },
            ) = (&mut func, &arg.expr)
            {
                *rows = true;
            }
            (func, ty, arg.expr, arg_ty.unwrap_or(ScalarType::Text))
        }
        _ if name == "string_agg" => {
            return Err(PlanError::Resolve(func::ResolveError::NoSuchFunction {
                name: name.to_string(),
                args: "text".into(),
            }))
        }
        _ => return Err(PlanError::Unsupported(format!("{f}"))),
    };
    let (func, expr) = match &f.filter {
        None => (func, expr),
        Some(filter) => with_filter(&ctx.with_mode(AggMode::Forbidden("FILTER")), func, expr, input_ty, filter)?,
    };
    let mut order_by = Vec::new();
    for o in f.within_group.iter().chain(aggregate_order_by(f)) {
        order_by.push(plan_sort_key(&inner_ctx, o)?);
    }
    if distinct && order_by.iter().any(|o| o.expr != expr) {
        return Err(PlanError::InvalidColumnReference(
            "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list".into(),
        ));
    }
    let key = Expr::Function(f.clone()).to_string();
    let mut entries = entries.borrow_mut();
    if !entries.iter().any(|e| e.key == key) {
        let agg = AggregateExpr { func, expr, distinct, second_arg, order_by };
        entries.push(AggEntry { key, agg, ty: ty.clone() });
    }
    Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ty.clone()), ty))
}

/// A window function call where an expression uses it: the column computing it (see
/// `plan_select`), or, while aggregates are being collected, a placeholder of its type
/// (planning its arguments collects the aggregates inside them).
/// A set-returning call in an expression: the column the select list's FlatMap computed
/// for it; while aggregates are collected, a placeholder of its type.
fn plan_set_returning_reference(ctx: &ExprCtx, f: &ast::Function, name: &str) -> Result<Typed, PlanError> {
    let key = f.to_string();
    if let Some(slot) = ctx.windows.iter().find(|w| w.key == key) {
        return Ok(Typed::known(ScalarExpr::Column(slot.column), slot.ty.clone()));
    }
    match ctx.mode {
        AggMode::Collect(_) => {
            let args = crate::query::function_arg_exprs(f)?;
            let (func, _) = crate::query::plan_set_returning(ctx, name, &args)?;
            let ty = func.output_types().into_iter().next().unwrap_or(ScalarType::Text);
            Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ty.clone()), ty))
        }
        AggMode::Forbidden(NESTED_AGGREGATE) => {
            Err(PlanError::Grouping("aggregate function calls cannot contain set-returning function calls".into()))
        }
        AggMode::Forbidden(clause) if clause != SELECT_LIST => {
            Err(PlanError::NotAllowed(format!("set-returning functions are not allowed in {clause}")))
        }
        _ => Err(PlanError::Unsupported(format!("{name} here (set-returning functions nested in each other)"))),
    }
}

fn plan_window_reference(ctx: &ExprCtx, f: &ast::Function) -> Result<Typed, PlanError> {
    let key = f.to_string();
    if let Some(slot) = ctx.windows.iter().find(|w| w.key == key) {
        return Ok(Typed::known(ScalarExpr::Column(slot.column), slot.ty.clone()));
    }
    match ctx.mode {
        AggMode::Collect(_) => {
            let ty = plan_window_call(ctx, f)?.ty;
            Ok(Typed::known(ScalarExpr::Literal(Datum::Null, ty.clone()), ty))
        }
        AggMode::Forbidden(NESTED_AGGREGATE) => {
            Err(PlanError::Grouping("aggregate function calls cannot contain window function calls".into()))
        }
        AggMode::Forbidden(clause) if clause != SELECT_LIST => {
            Err(PlanError::Windowing(format!("window functions are not allowed in {clause}")))
        }
        _ => Err(PlanError::Windowing("window function calls cannot be nested".into())),
    }
}

/// Plans `f(args) OVER (PARTITION BY ... ORDER BY ... [frame])` against `ctx`'s relation.
pub fn plan_window_call(ctx: &ExprCtx, f: &ast::Function) -> Result<PlannedWindow, PlanError> {
    let name = object_name(&f.name);
    let spec = match &f.over {
        // Named windows the query defines are written into their calls before planning.
        Some(ast::WindowType::WindowSpec(spec @ ast::WindowSpec { window_name: None, .. })) => spec,
        Some(
            ast::WindowType::NamedWindow(name)
            | ast::WindowType::WindowSpec(ast::WindowSpec { window_name: Some(name), .. }),
        ) => return Err(PlanError::Windowing(format!("window \"{}\" does not exist", normalize_ident(name)))),
        None => return Err(PlanError::Windowing(format!("{name} is not a window function call"))),
    };
    let inner = ctx.with_windows(&[]);
    let (args, distinct) = function_args(f)?;
    if distinct {
        return Err(PlanError::Unsupported("DISTINCT in window functions".into()));
    }
    if f.filter.is_some() {
        return Err(PlanError::Unsupported("FILTER in window functions".into()));
    }
    let mut planned = Vec::new();
    for a in &args {
        match a {
            FunctionArgExpr::Expr(e) => planned.push(plan_expr(&inner, e)?),
            FunctionArgExpr::Wildcard if name == "count" => {}
            _ => return Err(PlanError::Unsupported(format!("{f}"))),
        }
    }
    let (func, ty, args) = resolve_window_function(&inner, &name, planned)?;
    let mut partition = Vec::new();
    for e in &spec.partition_by {
        partition.push(plan_known(&inner, e)?);
    }
    let order = spec.order_by.iter().map(|o| plan_sort_key(&inner, o)).collect::<Result<_, _>>()?;
    let frame = window_frame(&inner, spec.window_frame.as_ref(), &spec.order_by)?;
    Ok(PlannedWindow { func, args, partition, order, frame, ty })
}

/// Plans `e`, typing an unknown literal as text.
fn plan_known(ctx: &ExprCtx, e: &Expr) -> Result<ScalarExpr, PlanError> {
    let typed = plan_expr(ctx, e)?;
    let ty = typed.ty.clone().unwrap_or(ScalarType::Text);
    coerce(ctx, typed, &ty, CastContext::Implicit)
}

/// The window function `name` over `args`: the function, its result type, and the
/// arguments coerced to what it takes.
fn resolve_window_function(
    ctx: &ExprCtx,
    name: &str,
    args: Vec<Typed>,
) -> Result<(WindowFunc, ScalarType, Vec<ScalarExpr>), PlanError> {
    let no_such = |args: &[Typed]| {
        let types: Vec<String> = args
            .iter()
            .map(|a| a.ty.as_ref().map_or("unknown".to_string(), |t| t.without_modifiers().to_string()))
            .collect();
        PlanError::Resolve(func::ResolveError::NoSuchFunction { name: name.to_string(), args: types.join(", ") })
    };
    let ranking = match name {
        "row_number" => Some(WindowFunc::RowNumber),
        "rank" => Some(WindowFunc::Rank),
        "dense_rank" => Some(WindowFunc::DenseRank),
        "percent_rank" => Some(WindowFunc::PercentRank),
        "cume_dist" => Some(WindowFunc::CumeDist),
        _ => None,
    };
    if let Some(func) = ranking {
        if !args.is_empty() {
            return Err(no_such(&args));
        }
        let ty = match func {
            WindowFunc::PercentRank | WindowFunc::CumeDist => ScalarType::Float64,
            _ => ScalarType::Int64,
        };
        return Ok((func, ty, vec![]));
    }
    // The value's type without modifiers, as PostgreSQL's `anyelement` (a default of `0`
    // for a numeric(10,2) value stays `0`).
    let value_type = |a: &Typed| a.ty.as_ref().map_or(ScalarType::Text, ScalarType::without_modifiers);
    let mut args = args.into_iter();
    match (name, args.len()) {
        ("ntile", 1) => {
            let buckets = coerce(ctx, args.next().unwrap_or_else(null_arg), &ScalarType::Int32, CastContext::Implicit)?;
            Ok((WindowFunc::Ntile, ScalarType::Int32, vec![buckets]))
        }
        ("lag" | "lead", 1..=3) => {
            let value = args.next().unwrap_or_else(null_arg);
            let ty = value_type(&value);
            let mut coerced = vec![coerce(ctx, value, &ty, CastContext::Implicit)?];
            if let Some(offset) = args.next() {
                coerced.push(coerce(ctx, offset, &ScalarType::Int32, CastContext::Implicit)?);
            }
            if let Some(default) = args.next() {
                coerced.push(coerce(ctx, default, &ty, CastContext::Implicit)?);
            }
            let func = if name == "lag" { WindowFunc::Lag } else { WindowFunc::Lead };
            Ok((func, ty, coerced))
        }
        ("first_value" | "last_value", 1) => {
            let value = args.next().unwrap_or_else(null_arg);
            let ty = value_type(&value);
            let func = if name == "first_value" { WindowFunc::FirstValue } else { WindowFunc::LastValue };
            Ok((func, ty.clone(), vec![coerce(ctx, value, &ty, CastContext::Implicit)?]))
        }
        ("nth_value", 2) => {
            let value = args.next().unwrap_or_else(null_arg);
            let ty = value_type(&value);
            let value = coerce(ctx, value, &ty, CastContext::Implicit)?;
            let n = coerce(ctx, args.next().unwrap_or_else(null_arg), &ScalarType::Int32, CastContext::Implicit)?;
            Ok((WindowFunc::NthValue, ty, vec![value, n]))
        }
        ("count", 0) => Ok((WindowFunc::Aggregate(AggregateFunc::CountRows), ScalarType::Int64, vec![])),
        (_, 1) if AggregateFunc::is_aggregate_name(name) => {
            let value = args.next().unwrap_or_else(null_arg);
            let ty = value_type(&value);
            let value = coerce(ctx, value, &ty, CastContext::Implicit)?;
            let (agg, result) = AggregateFunc::resolve(name, Some(&ty)).ok_or_else(|| {
                PlanError::Resolve(func::ResolveError::NoSuchFunction { name: name.to_string(), args: ty.to_string() })
            })?;
            Ok((WindowFunc::Aggregate(agg), result, vec![value]))
        }
        _ => {
            let args: Vec<Typed> = args.collect();
            Err(no_such(&args))
        }
    }
}

fn null_arg() -> Typed {
    Typed::known(ScalarExpr::Literal(Datum::Null, ScalarType::Text), ScalarType::Text)
}

/// A window's frame: `ROWS` with any bounds (offsets are constant non-negative integers),
/// `RANGE` with `UNBOUNDED`, `CURRENT ROW` or constant offsets from the one ORDER BY key
/// (numbers, or intervals for dates and times); PostgreSQL's checks on the bounds.
fn window_frame(
    ctx: &ExprCtx,
    frame: Option<&ast::WindowFrame>,
    order_by: &[ast::OrderByExpr],
) -> Result<Frame, PlanError> {
    use ast::{WindowFrameBound as B, WindowFrameUnits as U};
    let Some(frame) = frame else { return Ok(Frame::DEFAULT) };
    let rows = match frame.units {
        U::Rows => true,
        U::Range => false,
        U::Groups => return Err(PlanError::Unsupported("GROUPS window frames".into())),
    };
    let bound = |b: &B| -> Result<FrameBound, PlanError> {
        let offset = |e: &Expr| -> Result<u64, PlanError> {
            match e {
                Expr::Value(v) => match &v.value {
                    ast::Value::Number(n, _) => n.parse::<u64>().map_err(|_| {
                        PlanError::Eval(EvalError::InvalidArgument {
                            sqlstate: "22013".into(),
                            message: "frame starting offset must not be negative".into(),
                        })
                    }),
                    _ => Err(PlanError::Unsupported("a window frame offset other than an integer".into())),
                },
                _ => Err(PlanError::Unsupported("a window frame offset other than an integer literal".into())),
            }
        };
        if !rows {
            if let B::Preceding(Some(e)) | B::Following(Some(e)) = b {
                return range_offset(ctx, e, matches!(b, B::Preceding(_)), order_by);
            }
        }
        Ok(match b {
            B::CurrentRow => FrameBound::CurrentRow,
            B::Preceding(None) => FrameBound::UnboundedPreceding,
            B::Following(None) => FrameBound::UnboundedFollowing,
            B::Preceding(Some(e)) => FrameBound::Preceding(offset(e)?),
            B::Following(Some(e)) => FrameBound::Following(offset(e)?),
        })
    };
    let start = bound(&frame.start_bound)?;
    let end = frame.end_bound.as_ref().map_or(Ok(FrameBound::CurrentRow), bound)?;
    let error = |m: &str| Err(PlanError::Windowing(m.into()));
    let preceding = |b: &FrameBound| match b {
        FrameBound::Preceding(_) => true,
        FrameBound::RangeOffset(r) => r.preceding,
        _ => false,
    };
    let following = |b: &FrameBound| match b {
        FrameBound::Following(_) => true,
        FrameBound::RangeOffset(r) => !r.preceding,
        _ => false,
    };
    match (&start, &end) {
        (FrameBound::UnboundedFollowing, _) => error("frame start cannot be UNBOUNDED FOLLOWING"),
        (_, FrameBound::UnboundedPreceding) => error("frame end cannot be UNBOUNDED PRECEDING"),
        (FrameBound::CurrentRow, e) if preceding(e) => {
            error("frame starting from current row cannot have preceding rows")
        }
        (s, e) if following(s) && (preceding(e) || *e == FrameBound::CurrentRow) => {
            error("frame starting from following row cannot have preceding rows")
        }
        _ => Ok(Frame { rows, start, end }),
    }
}

/// `RANGE offset PRECEDING | FOLLOWING`: the value `offset` away from the ORDER BY key's,
/// toward the earlier rows for PRECEDING.
fn range_offset(
    ctx: &ExprCtx,
    offset: &Expr,
    preceding: bool,
    order_by: &[ast::OrderByExpr],
) -> Result<FrameBound, PlanError> {
    let [key] = order_by else {
        return Err(PlanError::Windowing(
            "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column".into(),
        ));
    };
    let key_ty = plan_expr(ctx, &key.expr)?.ty.unwrap_or(ScalarType::Text);
    let offset = plan_expr(ctx, offset)?;
    let size = offset
        .expr
        .eval(&[])
        .map_err(|_| PlanError::Windowing("argument of RANGE must not contain variables".into()))?;
    let negative = match &size {
        Datum::Null => {
            return Err(PlanError::Eval(EvalError::InvalidArgument {
                sqlstate: "22004".into(),
                message: "frame starting offset must not be null".into(),
            }))
        }
        Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => size.as_i64().is_some_and(|v| v < 0),
        Datum::Numeric(d) => d.is_sign_negative() && !d.is_zero(),
        Datum::Float32(f) => *f < 0.0,
        Datum::Float64(f) => *f < 0.0,
        Datum::Interval(i) => i.months < 0 || i.days < 0 || i.micros < 0,
        _ => false,
    };
    if negative {
        return Err(PlanError::Eval(EvalError::InvalidArgument {
            sqlstate: "22013".into(),
            message: "invalid preceding or following size in window function".into(),
        }));
    }
    let (desc, _) = sort_direction(&key.options);
    let value = Typed::known(ScalarExpr::Column(0), key_ty.clone());
    let toward_smaller = preceding != desc;
    let ordered_by_distance = key_ty.is_numeric_family()
        || matches!(
            key_ty,
            ScalarType::Date
                | ScalarType::Time { .. }
                | ScalarType::Timestamp { .. }
                | ScalarType::TimestampTz { .. }
                | ScalarType::Interval
        );
    let not_supported = || {
        let column = key_ty.without_modifiers();
        PlanError::NotAllowed(match (ordered_by_distance, &offset.ty) {
            (true, Some(t)) => format!(
                "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {column} and offset type {}",
                t.without_modifiers()
            ),
            _ => format!("RANGE with offset PRECEDING/FOLLOWING is not supported for column type {column}"),
        })
    };
    if !ordered_by_distance {
        return Err(not_supported());
    }
    let limit =
        binary(ctx, if toward_smaller { "-" } else { "+" }, value, offset.clone()).map_err(|_| not_supported())?;
    let limit_ty = limit.ty.clone().ok_or_else(not_supported)?;
    let key = coerce(ctx, Typed::known(ScalarExpr::Column(0), key_ty.clone()), &limit_ty, CastContext::Implicit)
        .map_err(|_| not_supported())?;
    Ok(FrameBound::RangeOffset(Box::new(eddy_expr::RangeOffset { limit: limit.expr, key, preceding })))
}

/// An ORDER BY key's direction: descending, and whether NULLs come last (PostgreSQL's
/// default: last ascending, first descending).
pub fn sort_direction(options: &ast::OrderByOptions) -> (bool, bool) {
    let desc = matches!(options.sort, Some(ast::OrderBySort::Desc));
    (desc, options.nulls_first.map(|f| !f).unwrap_or(!desc))
}

/// An ORDER BY key inside a call (an aggregate's or a window's), planned.
fn plan_sort_key(ctx: &ExprCtx, o: &ast::OrderByExpr) -> Result<AggOrder, PlanError> {
    let (desc, nulls_last) = sort_direction(&o.options);
    Ok(AggOrder { expr: plan_known(ctx, &o.expr)?, desc, nulls_last })
}

/// `agg(x) FILTER (WHERE p)`: the aggregate over `CASE WHEN p THEN x END`. Aggregates skip
/// NULL inputs, so rows failing `p` do not count; `count(*)` becomes a count of non-NULLs;
/// `array_agg` and `jsonb_agg`, which keep NULLs, get their values wrapped.
fn with_filter(
    ctx: &ExprCtx,
    func: AggregateFunc,
    expr: ScalarExpr,
    input_ty: ScalarType,
    filter: &Expr,
) -> Result<(AggregateFunc, ScalarExpr), PlanError> {
    let cond = plan_condition(ctx, filter, "FILTER")?;
    // Aggregates that keep NULLs see `ARRAY[x]` for rows that pass (see `kept_values`).
    let (func, expr, input_ty) = match func {
        AggregateFunc::CountRows => (AggregateFunc::Count, expr, input_ty),
        AggregateFunc::ArrayAgg { .. } => {
            (AggregateFunc::ArrayAgg { filtered: true }, wrapped(expr), wrapped_ty(input_ty))
        }
        AggregateFunc::JsonbAgg { ty, .. } => {
            (AggregateFunc::JsonbAgg { ty, filtered: true }, wrapped(expr), wrapped_ty(input_ty))
        }
        AggregateFunc::JsonbObjectAgg { ty, .. } => {
            (AggregateFunc::JsonbObjectAgg { ty, filtered: true }, wrapped(expr), wrapped_ty(input_ty))
        }
        AggregateFunc::JsonAgg { ty, rows, .. } => {
            (AggregateFunc::JsonAgg { ty, filtered: true, rows }, wrapped(expr), wrapped_ty(input_ty))
        }
        AggregateFunc::JsonObjectAgg { ty, .. } => {
            (AggregateFunc::JsonObjectAgg { ty, filtered: true }, wrapped(expr), wrapped_ty(input_ty))
        }
        other => (other, expr, input_ty),
    };
    let els = Box::new(ScalarExpr::Literal(Datum::Null, input_ty));
    Ok((func, ScalarExpr::If { cond: Box::new(cond), then: Box::new(expr), els }))
}

fn wrapped(expr: ScalarExpr) -> ScalarExpr {
    ScalarExpr::call(eddy_expr::Func::ArrayCreate, vec![expr])
}

fn wrapped_ty(ty: ScalarType) -> ScalarType {
    ScalarType::Array(Box::new(ty))
}

/// Whether `e`'s column name is only a default (`?column?`) or a type's name, which an
/// enclosing cast replaces.
fn weak_column_name(e: &Expr) -> bool {
    match e {
        Expr::Nested(inner) => weak_column_name(inner),
        // A cast is as weak as its operand: `x::text::int` is still `x`.
        Expr::Cast { expr, .. } => weak_column_name(expr),
        Expr::Value(_) | Expr::TypedString(_) | Expr::Case { .. } => true,
        other => column_name(other) == "?column?",
    }
}

/// The column name PostgreSQL gives an unaliased select-list expression.
pub fn column_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(i) => normalize_ident(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(normalize_ident).unwrap_or_default(),
        Expr::Nested(inner) => column_name(inner),
        // A cast names its column after its type unless its operand has a stronger name
        // (PostgreSQL's FigureColname): `x::int` is `x`, `'1'::date::timestamp` is `timestamp`.
        Expr::Cast { expr, data_type, .. } if weak_column_name(expr) => type_column_name(&data_type.to_string()),
        Expr::Cast { expr, .. } => column_name(expr),
        Expr::Function(f) => object_name(&f.name).rsplit('.').next().unwrap_or("?column?").to_string(),
        Expr::Case { .. } => "case".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::AtTimeZone { .. } => "timezone".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Substring { shorthand: true, .. } => "substr".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        Expr::TypedString(ts) => type_column_name(&ts.data_type.to_string()),
        Expr::Interval(_) => "interval".into(),
        Expr::Array(_) => "array".into(),
        _ => "?column?".into(),
    }
}

fn type_column_name(t: &str) -> String {
    let lower = t.to_lowercase();
    let base = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    if matches!(base, "oid" | "regclass" | "regtype" | "regnamespace" | "regproc") {
        return base.to_string();
    }
    match parse_type_name(t) {
        Ok(ty) => scalar_column_name(&ty),
        Err(_) => "?column?".into(),
    }
}

/// The name PostgreSQL's parser gives a type: no modifiers, an array named by its element.
fn scalar_column_name(ty: &ScalarType) -> String {
    match ty {
        ScalarType::Int32 => "int4".into(),
        ScalarType::Int64 => "int8".into(),
        ScalarType::Int16 => "int2".into(),
        ScalarType::Float64 => "float8".into(),
        ScalarType::Float32 => "float4".into(),
        ScalarType::Bool => "bool".into(),
        ScalarType::Numeric { .. } => "numeric".into(),
        ScalarType::Varchar { .. } => "varchar".into(),
        ScalarType::Char { .. } => "bpchar".into(),
        ScalarType::Timestamp { .. } => "timestamp".into(),
        ScalarType::TimestampTz { .. } => "timestamptz".into(),
        ScalarType::Time { .. } => "time".into(),
        ScalarType::Array(element) => scalar_column_name(element),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::column_name;

    #[test]
    fn unnamed_columns_are_named_as_postgresql_names_them() {
        let name = |sql: &str| column_name(&crate::parse_rewritten_expr(sql).expect("test SQL parses"));
        assert_eq!(name("x::text::int"), "x");
        assert_eq!(name("'1'::date::timestamp"), "timestamp");
        assert_eq!(name("CASE WHEN true THEN 1 END::text"), "text");
        assert_eq!(name("substr(a, 2)"), "substr");
        assert_eq!(name("substring(a from 2)"), "substring");
        assert_eq!(name("ts AT TIME ZONE 'UTC'"), "timezone");
        assert_eq!(name("EXISTS (SELECT 1)"), "exists");
        assert_eq!(name("a + 1"), "?column?");
        assert_eq!(name("1::numeric(10,2)"), "numeric");
        assert_eq!(name("'{1}'::int[]"), "int4");
        assert_eq!(name("'{a}'::varchar(3)[]"), "varchar");
    }
}
