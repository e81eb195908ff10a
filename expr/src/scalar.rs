//! `ScalarExpr`: an expression computing one value from the columns of one row.

use eddy_repr::{Datum, ScalarType};
use serde::{Deserialize, Serialize};

use crate::{EvalError, Func};

/// A scalar expression over a row. Evaluation follows PostgreSQL: strict functions return
/// NULL on a NULL argument, `AND`/`OR` use three-valued logic, and `CASE`, `COALESCE`,
/// `AND` and `OR` evaluate lazily so a guarded error (`CASE WHEN x = 0 THEN 0 ELSE 1/x END`)
/// is never raised.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScalarExpr {
    Column(usize),
    Literal(Datum, ScalarType),
    Call {
        func: Func,
        args: Vec<ScalarExpr>,
    },
    And(Vec<ScalarExpr>),
    Or(Vec<ScalarExpr>),
    /// `CASE WHEN cond THEN then ELSE els END`; NULL conditions take the else branch.
    If {
        cond: Box<ScalarExpr>,
        then: Box<ScalarExpr>,
        els: Box<ScalarExpr>,
    },
    Coalesce(Vec<ScalarExpr>),
}

impl ScalarExpr {
    pub fn literal(datum: Datum, ty: ScalarType) -> Self {
        ScalarExpr::Literal(datum, ty)
    }

    pub fn null(ty: ScalarType) -> Self {
        ScalarExpr::Literal(Datum::Null, ty)
    }

    pub fn call(func: Func, args: Vec<ScalarExpr>) -> Self {
        ScalarExpr::Call { func, args }
    }

    /// Evaluates the expression against `row`.
    pub fn eval(&self, row: &[Datum]) -> Result<Datum, EvalError> {
        match self {
            ScalarExpr::Column(i) => Ok(row[*i].clone()),
            ScalarExpr::Literal(d, _) => Ok(d.clone()),
            ScalarExpr::Call { func, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    let v = arg.eval(row)?;
                    if v.is_null() && func.is_strict() {
                        return Ok(Datum::Null);
                    }
                    values.push(v);
                }
                func.eval(&values)
            }
            ScalarExpr::And(exprs) => {
                let mut saw_null = false;
                for e in exprs {
                    match e.eval(row)?.as_bool() {
                        Some(false) => return Ok(Datum::Bool(false)),
                        None => saw_null = true,
                        Some(true) => {}
                    }
                }
                Ok(if saw_null { Datum::Null } else { Datum::Bool(true) })
            }
            ScalarExpr::Or(exprs) => {
                let mut saw_null = false;
                for e in exprs {
                    match e.eval(row)?.as_bool() {
                        Some(true) => return Ok(Datum::Bool(true)),
                        None => saw_null = true,
                        Some(false) => {}
                    }
                }
                Ok(if saw_null { Datum::Null } else { Datum::Bool(false) })
            }
            ScalarExpr::If { cond, then, els } => match cond.eval(row)?.as_bool() {
                Some(true) => then.eval(row),
                _ => els.eval(row),
            },
            ScalarExpr::Coalesce(exprs) => {
                for e in exprs {
                    let v = e.eval(row)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ok(Datum::Null)
            }
        }
    }

    /// True if the predicate holds for `row` (NULL counts as false, as in WHERE).
    pub fn eval_predicate(&self, row: &[Datum]) -> Result<bool, EvalError> {
        Ok(self.eval(row)?.as_bool() == Some(true))
    }

    /// Rewrites every column reference with `f`.
    pub fn permute(&mut self, f: &impl Fn(usize) -> usize) {
        self.visit_mut(&mut |e| {
            if let ScalarExpr::Column(c) = e {
                *c = f(*c);
            }
        });
    }

    /// Adds `offset` to every column reference.
    pub fn shift_columns(&mut self, offset: usize) {
        self.permute(&|c| c + offset)
    }

    /// Calls `f` on this expression and every sub-expression, children first.
    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut ScalarExpr)) {
        match self {
            ScalarExpr::Column(_) | ScalarExpr::Literal(..) => {}
            ScalarExpr::Call { args: exprs, .. }
            | ScalarExpr::And(exprs)
            | ScalarExpr::Or(exprs)
            | ScalarExpr::Coalesce(exprs) => exprs.iter_mut().for_each(|e| e.visit_mut(f)),
            ScalarExpr::If { cond, then, els } => {
                cond.visit_mut(f);
                then.visit_mut(f);
                els.visit_mut(f);
            }
        }
        f(self)
    }

    /// Calls `f` on this expression and every sub-expression.
    pub fn visit(&self, f: &mut impl FnMut(&ScalarExpr)) {
        match self {
            ScalarExpr::Column(_) | ScalarExpr::Literal(..) => {}
            ScalarExpr::Call { args: exprs, .. }
            | ScalarExpr::And(exprs)
            | ScalarExpr::Or(exprs)
            | ScalarExpr::Coalesce(exprs) => exprs.iter().for_each(|e| e.visit(f)),
            ScalarExpr::If { cond, then, els } => {
                cond.visit(f);
                then.visit(f);
                els.visit(f);
            }
        }
        f(self)
    }

    /// The largest column index referenced, if any.
    /// True if evaluating twice may give two values (`random()` somewhere inside).
    /// Calls a function only the statement's own thread can run ([`Func::needs_statement`]).
    pub fn needs_statement(&self) -> bool {
        let mut needs = false;
        self.visit(&mut |e| needs |= matches!(e, ScalarExpr::Call { func, .. } if func.needs_statement()));
        needs
    }

    pub fn is_volatile(&self) -> bool {
        let mut volatile = false;
        self.visit(&mut |e| volatile |= matches!(e, ScalarExpr::Call { func, .. } if func.is_volatile()));
        volatile
    }

    pub fn max_column(&self) -> Option<usize> {
        let mut max = None;
        self.visit(&mut |e| {
            if let ScalarExpr::Column(c) = e {
                max = Some(max.map_or(*c, |m: usize| m.max(*c)));
            }
        });
        max
    }

    /// Literal value, if this expression is a literal.
    pub fn as_literal(&self) -> Option<&Datum> {
        match self {
            ScalarExpr::Literal(d, _) => Some(d),
            _ => None,
        }
    }
}

/// A compact rendering of a scalar expression for EXPLAIN (`#2`, literals, calls).
pub fn display(expr: &ScalarExpr) -> String {
    let list = |es: &[ScalarExpr], sep: &str| es.iter().map(display).collect::<Vec<_>>().join(sep);
    match expr {
        ScalarExpr::Column(c) => format!("#{c}"),
        ScalarExpr::Literal(d, ty) => match eddy_repr::strconv::datum_to_text(d, ty) {
            None => "NULL".to_string(),
            Some(s) => format!("{s:?}"),
        },
        ScalarExpr::Call { func, args } => format!("{func:?}({})", list(args, ", ")),
        ScalarExpr::And(es) => format!("({})", list(es, " AND ")),
        ScalarExpr::Or(es) => format!("({})", list(es, " OR ")),
        ScalarExpr::If { cond, then, els } => {
            format!("CASE WHEN {} THEN {} ELSE {} END", display(cond), display(then), display(els))
        }
        ScalarExpr::Coalesce(es) => format!("coalesce({})", list(es, ", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: Option<bool>) -> ScalarExpr {
        ScalarExpr::Literal(Datum::from_bool_opt(v), ScalarType::Bool)
    }

    #[test]
    fn three_valued_logic() {
        let and = ScalarExpr::And(vec![b(None), b(Some(false))]);
        assert_eq!(and.eval(&[]).unwrap(), Datum::Bool(false));
        let and = ScalarExpr::And(vec![b(None), b(Some(true))]);
        assert_eq!(and.eval(&[]).unwrap(), Datum::Null);
        let or = ScalarExpr::Or(vec![b(None), b(Some(true))]);
        assert_eq!(or.eval(&[]).unwrap(), Datum::Bool(true));
        let or = ScalarExpr::Or(vec![b(None), b(Some(false))]);
        assert_eq!(or.eval(&[]).unwrap(), Datum::Null);
    }

    #[test]
    fn case_with_null_condition_takes_else() {
        let e = ScalarExpr::If {
            cond: Box::new(b(None)),
            then: Box::new(ScalarExpr::Literal(Datum::Int32(1), ScalarType::Int32)),
            els: Box::new(ScalarExpr::Literal(Datum::Int32(2), ScalarType::Int32)),
        };
        assert_eq!(e.eval(&[]).unwrap(), Datum::Int32(2));
    }
}
