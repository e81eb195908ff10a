//! `WITH RECURSIVE`: a WITH query that reads itself becomes a [`RelationExpr::Recursive`]
//! over its non-recursive term (`base`) and its recursive term (`step`).

use std::sync::atomic::{AtomicU64, Ordering};

use eddy_expr::relation::MAX_RECURSION_ROUNDS;
use eddy_expr::RelationExpr;
use sqlparser::ast::{self, SetExpr, SetOperator, SetQuantifier};

use crate::expr::normalize_ident;
use crate::query::{apply_alias, cast_columns, plan_set_operand, Planned, QueryCtx};
use crate::types::common_type;
use crate::PlanError;

/// True if `cte` names itself in FROM (only such WITH queries are recursive).
pub(crate) fn reads_itself(cte: &ast::Cte) -> bool {
    references(&*cte.query, &normalize_ident(&cte.alias.name)) > 0
}

/// Plans a self-referencing WITH query, which must be `base UNION [ALL] step` with only
/// `step` reading it, once.
pub(crate) fn plan_recursive_cte(qcx: &QueryCtx, cte: &ast::Cte) -> Result<Planned, PlanError> {
    let name = normalize_ident(&cte.alias.name);
    let query = &cte.query;
    let not_implemented = |what: &str| Err(PlanError::Unsupported(format!("{what} in a recursive query")));
    if query.order_by.is_some() {
        return not_implemented("ORDER BY");
    }
    if query.limit_clause.is_some() || query.fetch.is_some() {
        return not_implemented("LIMIT or OFFSET");
    }
    let SetExpr::SetOperation { op: SetOperator::Union, set_quantifier, left, right } = query.body.as_ref() else {
        return Err(PlanError::InvalidRecursion(format!(
            "recursive query \"{name}\" does not have the form non-recursive-term UNION [ALL] recursive-term"
        )));
    };
    let distinct = match set_quantifier {
        SetQuantifier::All => false,
        SetQuantifier::Distinct | SetQuantifier::None => true,
        other => return Err(PlanError::Unsupported(format!("UNION {other}"))),
    };
    if references(left, &name) > 0 {
        return Err(PlanError::InvalidRecursion(format!(
            "recursive reference to query \"{name}\" must not appear within its non-recursive term"
        )));
    }
    if references(right, &name) > 1 {
        return Err(PlanError::InvalidRecursion(format!(
            "recursive reference to query \"{name}\" must not appear more than once"
        )));
    }
    let base = plan_set_operand(qcx, left)?;
    let base = apply_alias(base, Some(&cte.alias), None)?;
    let id = next_recursion_id();
    let working_table =
        Planned { expr: RelationExpr::WorkingTable { id, arity: base.scope.len() }, scope: base.scope.clone() };
    let before = qcx.ctes.borrow().len();
    qcx.ctes.borrow_mut().push((name.clone(), working_table));
    let step = plan_set_operand(qcx, right);
    qcx.ctes.borrow_mut().truncate(before);
    let step = step?;
    if step.scope.len() != base.scope.len() {
        return Err(PlanError::Cardinality("each UNION query must have the same number of columns".into()));
    }
    // The non-recursive term decides the column types; the recursive term's must fit them.
    let types = base.scope.types();
    for (i, (b, s)) in base.scope.columns.iter().zip(&step.scope.columns).enumerate() {
        let overall = common_type(&[Some(b.ty.clone()), Some(s.ty.clone())], "UNION")?;
        if overall != b.ty {
            return Err(PlanError::Datatype(format!(
                "recursive query \"{name}\" column {} has type {} in non-recursive term but type {overall} overall \
                 (cast the output of the non-recursive term to the correct type)",
                i + 1,
                b.ty
            )));
        }
    }
    let step_expr = cast_columns(qcx, step.expr, &step.scope, &types)?;
    let mut base_expr = cast_columns(qcx, base.expr, &base.scope, &types)?;
    if distinct {
        base_expr = base_expr.distinct();
    }
    let expr = RelationExpr::Recursive {
        id,
        name,
        base: Box::new(base_expr),
        step: Box::new(step_expr),
        distinct,
        max_rounds: MAX_RECURSION_ROUNDS,
    };
    Ok(Planned { expr, scope: base.scope })
}

/// Ids that tell recursive queries apart, also those of views planned in other runs and
/// inlined into one plan.
fn next_recursion_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = || {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos());
        (nanos as u64) << 16
    };
    let _ = NEXT.compare_exchange(0, seed(), Ordering::Relaxed, Ordering::Relaxed);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// How many times `node` names the relation `name` (unqualified) in FROM.
fn references(node: &impl ast::Visit, name: &str) -> usize {
    let mut count = 0;
    let _ = ast::visit_relations(node, |relation: &ast::ObjectName| {
        if let [part] = relation.0.as_slice() {
            if part.as_ident().is_some_and(|ident| normalize_ident(ident) == name) {
                count += 1;
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    count
}
