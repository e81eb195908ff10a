//! Accumulable aggregates (`count`, `sum`, `avg` of integers and numerics): instead of
//! recomputing a group on every change, each row's contribution is carried in the
//! differential *difference*, so the engine sums contributions as it consolidates and a
//! change costs the same whatever the group's size. This is how Materialize renders them.

use differential_dataflow::difference::{IsZero, Monoid, Multiply, Semigroup};
use eddy_expr::func::numeric_div;
use eddy_expr::{AggregateExpr, AggregateFunc, EvalError};
use eddy_repr::{Datum, Diff, Row};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// True if every aggregate can be maintained by summing contributions.
///
/// Numeric sums are not (yet): PostgreSQL's result scale is the largest scale among the
/// rows present, which a retractable sum of decimals does not track, so they take the
/// per-group path until the accumulator counts rows per scale.
pub fn all_accumulable(aggregates: &[AggregateExpr]) -> bool {
    aggregates.iter().all(|a| {
        !a.distinct && matches!(a.func, AggregateFunc::CountRows | AggregateFunc::Count | AggregateFunc::SumInt)
    })
}

/// The running totals of one group: its row count and one accumulator per aggregate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accum {
    rows: Diff,
    values: Vec<AccValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum AccValue {
    /// Non-NULL inputs.
    Count(Diff),
    /// Sum of integers and how many were non-NULL (NULL result when none).
    Int { sum: i128, count: Diff },
    /// Sum of numerics; `overflow` marks a sum beyond numeric's range (reported on read).
    Numeric { sum: Decimal, count: Diff, overflow: bool },
}

impl Accum {
    /// One row's contribution, from the aggregates' evaluated inputs.
    pub fn from_values(values: &[Datum], aggregates: &[AggregateExpr]) -> Result<Accum, EvalError> {
        let mut out = Vec::with_capacity(aggregates.len());
        for (v, agg) in values.iter().zip(aggregates) {
            let present = Diff::from(!v.is_null());
            out.push(match agg.func {
                AggregateFunc::CountRows | AggregateFunc::Count => AccValue::Count(present),
                AggregateFunc::SumInt => AccValue::Int { sum: v.as_i64().unwrap_or(0) as i128, count: present },
                _ => {
                    let sum = match v {
                        Datum::Null => Decimal::ZERO,
                        Datum::Numeric(d) => *d,
                        other => Decimal::from(
                            other.as_i64().ok_or_else(|| EvalError::Internal(format!("sum of {other:?}")))?,
                        ),
                    };
                    AccValue::Numeric { sum, count: present, overflow: false }
                }
            });
        }
        Ok(Accum { rows: 1, values: out })
    }

    /// The group's output row: key, then each aggregate's value.
    pub fn finish(&self, key: Row, aggregates: &[AggregateExpr]) -> Result<Row, EvalError> {
        let mut datums = key.into_datums();
        for (v, agg) in self.values.iter().zip(aggregates) {
            datums.push(match (v, &agg.func) {
                (_, AggregateFunc::CountRows) => Datum::Int64(self.rows),
                (AccValue::Count(n), _) => Datum::Int64(*n),
                (AccValue::Int { count: 0, .. } | AccValue::Numeric { count: 0, .. }, _) => Datum::Null,
                (AccValue::Int { sum, .. }, _) => {
                    Datum::Int64(i64::try_from(*sum).map_err(|_| EvalError::OutOfRange("bigint out of range".into()))?)
                }
                (AccValue::Numeric { overflow: true, .. }, _) => {
                    return Err(EvalError::OutOfRange("numeric field overflow".into()))
                }
                (AccValue::Numeric { sum, count, .. }, AggregateFunc::AvgNumeric) => {
                    Datum::Numeric(numeric_div(*sum, Decimal::from(*count))?)
                }
                (AccValue::Numeric { sum, .. }, _) => Datum::Numeric(*sum),
            });
        }
        Ok(Row::new(datums))
    }
}

impl IsZero for Accum {
    fn is_zero(&self) -> bool {
        self.rows == 0
            && self.values.iter().all(|v| match v {
                AccValue::Count(n) => *n == 0,
                AccValue::Int { sum, count } => *sum == 0 && *count == 0,
                AccValue::Numeric { sum, count, overflow } => sum.is_zero() && *count == 0 && !overflow,
            })
    }
}

impl Semigroup for Accum {
    fn plus_equals(&mut self, rhs: &Self) {
        self.rows += rhs.rows;
        if self.values.is_empty() {
            self.values = rhs.values.clone();
            return;
        }
        for (a, b) in self.values.iter_mut().zip(&rhs.values) {
            match (a, b) {
                (AccValue::Count(x), AccValue::Count(y)) => *x += y,
                (AccValue::Int { sum, count }, AccValue::Int { sum: s2, count: c2 }) => {
                    *sum += s2;
                    *count += c2;
                }
                (
                    AccValue::Numeric { sum, count, overflow },
                    AccValue::Numeric { sum: s2, count: c2, overflow: o2 },
                ) => {
                    match sum.checked_add(*s2) {
                        Some(s) => *sum = s,
                        None => *overflow = true,
                    }
                    *count += c2;
                    *overflow |= *o2;
                }
                // Accumulators of one dataflow always have the same shape.
                _ => {}
            }
        }
    }
}

impl Monoid for Accum {
    fn zero() -> Self {
        Accum { rows: 0, values: Vec::new() }
    }
}

impl Multiply<Diff> for Accum {
    type Output = Accum;
    fn multiply(mut self, rhs: &Diff) -> Accum {
        let n = *rhs;
        self.rows *= n;
        for v in &mut self.values {
            match v {
                AccValue::Count(x) => *x *= n,
                AccValue::Int { sum, count } => {
                    *sum *= n as i128;
                    *count *= n;
                }
                AccValue::Numeric { sum, count, overflow } => {
                    match sum.checked_mul(Decimal::from(n)) {
                        Some(s) => *sum = s,
                        None => *overflow = true,
                    }
                    *count *= n;
                }
            }
        }
        self
    }
}
