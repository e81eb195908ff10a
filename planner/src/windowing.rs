//! Time windows in FROM, as RisingWave, Flink and Feldera write them:
//! `TUMBLE(rel, time_col, size [, offset])` gives each row of `rel` the fixed window it
//! falls in, `HOP(rel, time_col, hop, size [, offset])` one row per sliding window that
//! holds it; both append `window_start` and `window_end` (start + size) to `rel`'s
//! columns. Windows are aligned to the Unix epoch plus `offset`. A row whose time is NULL
//! gets NULL window bounds from TUMBLE and no row from HOP (no window holds it). Each is rewritten into
//! SQL over `date_bin` (and, for HOP, `generate_series`) and planned as that query.

use eddy_repr::{Datum, ScalarType};
use sqlparser::ast::{self, Expr, FunctionArg, FunctionArgExpr};

use crate::expr::{normalize_ident, object_name, plan_expr, AggMode};
use crate::query::{apply_alias, plan_query, Planned, QueryCtx};
use crate::scope::Scope;
use crate::PlanError;

/// True for the window functions this module plans.
pub(crate) fn is_window_table(name: &ast::ObjectName) -> bool {
    matches!(object_name(name).as_str(), "tumble" | "hop")
}

/// Plans `TUMBLE(...)` or `HOP(...)` in FROM.
pub(crate) fn plan_window_table(
    qcx: &QueryCtx,
    name: &ast::ObjectName,
    args: &[FunctionArg],
    alias: Option<&ast::TableAlias>,
) -> Result<Planned, PlanError> {
    let function = object_name(name);
    let hop = function == "hop";
    let usage = match hop {
        true => "HOP(relation, time_column, hop_interval, size_interval [, offset_interval])",
        false => "TUMBLE(relation, time_column, size_interval [, offset_interval])",
    };
    let args: Vec<&Expr> = args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(PlanError::Syntax(format!("{usage}: arguments are not named"))),
        })
        .collect::<Result<_, _>>()?;
    let intervals = if hop { 2 } else { 1 };
    if args.len() != 2 + intervals && args.len() != 3 + intervals {
        return Err(PlanError::Syntax(format!("{usage} takes {} or {} arguments", 2 + intervals, 3 + intervals)));
    }
    let relation = match args[0] {
        Expr::Identifier(i) => normalize_ident(i),
        Expr::CompoundIdentifier(parts) => parts.iter().map(normalize_ident).collect::<Vec<_>>().join("."),
        other => return Err(PlanError::Syntax(format!("{usage}: the relation must be a name, not {other}"))),
    };
    let column = match args[1] {
        Expr::Identifier(i) => normalize_ident(i),
        other => return Err(PlanError::Syntax(format!("{usage}: the time column must be a name, not {other}"))),
    };
    let input = plan_query(qcx, &select_all(&relation)?)?;
    let time_type = input
        .scope
        .columns
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.ty.clone())
        .ok_or_else(|| PlanError::UnknownColumn(format!("{column}\" of relation \"{relation}")))?;
    let epoch = match time_type {
        ScalarType::Timestamp { .. } => "TIMESTAMP '1970-01-01 00:00:00'",
        ScalarType::TimestampTz { .. } => "TIMESTAMPTZ '1970-01-01 00:00:00+00'",
        other => {
            return Err(PlanError::TypeMismatch(format!(
                "{function}'s time column \"{column}\" is {other}, not timestamp or timestamp with time zone"
            )))
        }
    };
    let interval = |i: usize| format!("CAST({} AS interval)", args[i]);
    let origin = match args.get(2 + intervals) {
        Some(offset) => {
            constant_interval(qcx, offset, usage, false)?;
            format!("({epoch} + {})", interval(2 + intervals))
        }
        None => epoch.to_string(),
    };
    let col = ast::Ident::with_quote('"', column).to_string();
    let rel = quoted_name(&relation);
    let sql = if hop {
        let (step, size) = (interval(2), interval(3));
        let windows = windows_per_row(
            constant_interval(qcx, args[2], usage, true)?,
            constant_interval(qcx, args[3], usage, true)?,
        )?;
        format!(
            "(SELECT r.*, w.window_start, w.window_start + {size} AS window_end FROM {rel} AS r, \
             LATERAL (SELECT date_bin({step}, r.{col}, {origin}) - {step} * k AS window_start \
             FROM generate_series(0, {}) AS k) AS w WHERE r.{col} IS NOT NULL)",
            windows - 1
        )
    } else {
        constant_interval(qcx, args[2], usage, true)?;
        let size = interval(2);
        format!(
            "(SELECT *, date_bin({size}, {col}, {origin}) AS window_start, \
             date_bin({size}, {col}, {origin}) + {size} AS window_end FROM {rel})"
        )
    };
    let Expr::Subquery(query) = crate::parse_rewritten_expr(&sql)? else {
        return Err(PlanError::Syntax(format!("{function} was rewritten into something other than a query: {sql}")));
    };
    let planned = plan_query(qcx, &query)?;
    apply_alias(planned, alias, Some(&function))
}

/// `SELECT * FROM relation` (to learn its columns, resolving it as FROM would).
fn select_all(relation: &str) -> Result<ast::Query, PlanError> {
    match crate::parse_rewritten_expr(&format!("(SELECT * FROM {})", quoted_name(relation)))? {
        Expr::Subquery(q) => Ok(*q),
        other => Err(PlanError::Syntax(format!("SELECT * parsed as {other}"))),
    }
}

fn quoted_name(name: &str) -> String {
    name.split('.').map(|part| ast::Ident::with_quote('"', part).to_string()).collect::<Vec<_>>().join(".")
}

/// The value of a constant interval argument, in microseconds (no months: a window has
/// one length); a size or hop must be positive, an offset may be anything.
fn constant_interval(qcx: &QueryCtx, e: &Expr, usage: &str, positive: bool) -> Result<i64, PlanError> {
    let scope = Scope::default();
    let ctx = qcx.expr_ctx(&scope, AggMode::Forbidden("window sizes"));
    let planned =
        crate::expr::coerce(&ctx, plan_expr(&ctx, e)?, &ScalarType::Interval, eddy_expr::func::CastContext::Explicit)?;
    match planned.eval(&[]) {
        Ok(Datum::Interval(i)) if i.months == 0 && (!positive || i64::from(i.days) * 86_400_000_000 + i.micros > 0) => {
            Ok(i64::from(i.days) * 86_400_000_000 + i.micros)
        }
        Ok(_) => Err(PlanError::InvalidParameter(format!(
            "{usage}: window sizes must be positive constant intervals without months or years, not {e}"
        ))),
        Err(_) => Err(PlanError::InvalidParameter(format!("{usage}: {e} is not a constant interval"))),
    }
}

/// How many HOP windows hold each row: `size / hop`, which must be whole.
fn windows_per_row(hop: i64, size: i64) -> Result<i64, PlanError> {
    if size % hop != 0 {
        return Err(PlanError::InvalidParameter(
            "HOP's window size must be a whole multiple of its hop interval".into(),
        ));
    }
    match size / hop {
        n if n > 10_000 => Err(PlanError::InvalidParameter(format!(
            "HOP would put each row in {n} windows (at most 10000: make the hop longer)"
        ))),
        n => Ok(n),
    }
}
