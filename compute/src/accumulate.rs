//! Accumulable aggregates (`count`, `sum`, `avg` of integers and numerics): instead of
//! recomputing a group on every change, each row's contribution is carried in the
//! differential *difference*, so the engine sums contributions as it consolidates and a
//! change costs the same whatever the group's size. This is how Materialize renders them.

use differential_dataflow::difference::{IsZero, Monoid, Multiply, Semigroup};
use eddy_expr::func::numeric_div;
use eddy_expr::{AggregateExpr, AggregateFunc, EvalError};
use eddy_repr::{Datum, Diff, PackedRow};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::{smallvec, SmallVec};

/// True if every aggregate can be maintained by summing contributions.
pub fn all_accumulable(aggregates: &[AggregateExpr]) -> bool {
    aggregates.iter().all(|a| {
        !a.distinct
            && matches!(
                a.func,
                AggregateFunc::CountRows
                    | AggregateFunc::Count
                    | AggregateFunc::SumInt
                    | AggregateFunc::SumNumeric
                    | AggregateFunc::AvgNumeric
            )
    })
}

/// The running totals of one group: its row count and one accumulator per aggregate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Accum {
    rows: Diff,
    /// Inline for up to three aggregates: an `Accum` is made for every input row and
    /// merged constantly, so heap allocations would be most of the operator's cost; but it
    /// is also the difference of every update the batchers sort and move, so it is kept
    /// small (160 bytes; with room for four and 16-byte alignment it was 288, and loading
    /// a GROUP BY view spent a sixth of its time moving them).
    values: SmallVec<[AccValue; 3]>,
}

/// An `i128` stored as two 8-byte halves: aligned to 8 bytes rather than 16, it does not
/// pad every accumulator around it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Wide {
    high: i64,
    low: u64,
}

impl Wide {
    fn get(self) -> i128 {
        ((self.high as i128) << 64) | self.low as i128
    }
}

impl From<i128> for Wide {
    fn from(v: i128) -> Wide {
        Wide { high: (v >> 64) as i64, low: v as u64 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum AccValue {
    /// Non-NULL inputs.
    Count(Diff),
    /// Sum of integers and how many were non-NULL (NULL result when none).
    Int { sum: Wide, count: Diff },
    /// Sum of numerics (and of integers summed as numeric), one exact integer sum per input
    /// scale, sorted by scale: PostgreSQL's result takes the largest scale among the rows
    /// present, which a single decimal sum could not recover after retractions.
    Numeric(SmallVec<[ScaleSum; 1]>),
}

/// The non-NULL inputs of one scale: how many, and the sum of their unscaled mantissas.
/// Mantissas add with wrapping arithmetic, so any sequence of insertions and retractions
/// leaves the exact sum whenever the true sum fits in an `i128` (more than 2^31 maximal
/// 28-digit values would be needed to exceed it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct ScaleSum {
    scale: u32,
    count: Diff,
    mantissa: Wide,
}

impl Accum {
    /// One row's contribution, from the aggregates' evaluated inputs.
    pub fn from_values(values: &[Datum], aggregates: &[AggregateExpr]) -> Result<Accum, EvalError> {
        let mut out = SmallVec::with_capacity(aggregates.len());
        for (v, agg) in values.iter().zip(aggregates) {
            let present = Diff::from(!v.is_null());
            out.push(match agg.func {
                AggregateFunc::CountRows | AggregateFunc::Count => AccValue::Count(present),
                AggregateFunc::SumInt => {
                    AccValue::Int { sum: Wide::from(v.as_i64().unwrap_or(0) as i128), count: present }
                }
                _ => AccValue::Numeric(match v {
                    Datum::Null => SmallVec::new(),
                    Datum::Numeric(d) => {
                        smallvec![ScaleSum { scale: d.scale(), count: 1, mantissa: d.mantissa().into() }]
                    }
                    other => {
                        let i = other.as_i64().ok_or_else(|| EvalError::Internal(format!("sum of {other:?}")))?;
                        smallvec![ScaleSum { scale: 0, count: 1, mantissa: i128::from(i).into() }]
                    }
                }),
            });
        }
        Ok(Accum { rows: 1, values: out })
    }

    /// The group's output row: key, then each aggregate's value.
    pub fn finish(&self, key: PackedRow, aggregates: &[AggregateExpr]) -> Result<PackedRow, EvalError> {
        let mut row = key;
        for (v, agg) in self.values.iter().zip(aggregates) {
            row.push(&match (v, &agg.func) {
                (_, AggregateFunc::CountRows) => Datum::Int64(self.rows),
                (AccValue::Count(n), _) => Datum::Int64(*n),
                (AccValue::Int { count: 0, .. }, _) => Datum::Null,
                (AccValue::Int { sum, .. }, _) => Datum::Int64(
                    i64::try_from(sum.get()).map_err(|_| EvalError::OutOfRange("bigint out of range".into()))?,
                ),
                (AccValue::Numeric(sums), func) => match numeric_total(sums)? {
                    None => Datum::Null,
                    Some((sum, count)) if *func == AggregateFunc::AvgNumeric => {
                        Datum::Numeric(numeric_div(sum, Decimal::from(count))?)
                    }
                    Some((sum, _)) => Datum::Numeric(sum),
                },
            });
        }
        Ok(row)
    }
}

/// The sum at the largest scale present and the number of non-NULL inputs, or `None`
/// when there are none.
fn numeric_total(sums: &[ScaleSum]) -> Result<Option<(Decimal, Diff)>, EvalError> {
    let present: Vec<&ScaleSum> = sums.iter().filter(|s| s.count != 0).collect();
    let Some(scale) = present.iter().map(|s| s.scale).max() else { return Ok(None) };
    let overflow = || EvalError::OutOfRange("numeric field overflow".into());
    let mut total: i128 = 0;
    for s in &present {
        let factor = 10i128.checked_pow(scale - s.scale).ok_or_else(overflow)?;
        total = s.mantissa.get().checked_mul(factor).and_then(|m| total.checked_add(m)).ok_or_else(overflow)?;
    }
    let sum = Decimal::try_from_i128_with_scale(total, scale).map_err(|_| overflow())?;
    Ok(Some((sum, present.iter().map(|s| s.count).sum())))
}

/// Adds `rhs` into `lhs`, both sorted by scale, dropping scales whose inputs cancelled out.
fn add_scale_sums(lhs: &mut SmallVec<[ScaleSum; 1]>, rhs: &[ScaleSum]) {
    for r in rhs {
        match lhs.binary_search_by_key(&r.scale, |s| s.scale) {
            Ok(i) => {
                let l = &mut lhs[i];
                l.count += r.count;
                l.mantissa = l.mantissa.get().wrapping_add(r.mantissa.get()).into();
                if l.count == 0 && l.mantissa.get() == 0 {
                    lhs.remove(i);
                }
            }
            Err(i) => lhs.insert(i, r.clone()),
        }
    }
}

impl IsZero for Accum {
    fn is_zero(&self) -> bool {
        self.rows == 0
            && self.values.iter().all(|v| match v {
                AccValue::Count(n) => *n == 0,
                AccValue::Int { sum, count } => sum.get() == 0 && *count == 0,
                AccValue::Numeric(sums) => sums.is_empty(),
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
                    *sum = (sum.get() + s2.get()).into();
                    *count += c2;
                }
                (AccValue::Numeric(sums), AccValue::Numeric(more)) => add_scale_sums(sums, more),
                // Accumulators of one dataflow always have the same shape.
                _ => {}
            }
        }
    }
}

impl Monoid for Accum {
    fn zero() -> Self {
        Accum { rows: 0, values: SmallVec::new() }
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
                    *sum = (sum.get() * n as i128).into();
                    *count *= n;
                }
                AccValue::Numeric(sums) => {
                    for s in sums.iter_mut() {
                        s.count *= n;
                        s.mantissa = s.mantissa.get().wrapping_mul(i128::from(n)).into();
                    }
                    sums.retain(|s| s.count != 0 || s.mantissa.get() != 0);
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_expr::ScalarExpr;
    use std::str::FromStr;

    fn aggs() -> Vec<AggregateExpr> {
        [AggregateFunc::SumNumeric, AggregateFunc::AvgNumeric]
            .into_iter()
            .map(|func| AggregateExpr::new(func, ScalarExpr::Column(0), false))
            .collect()
    }

    fn contribution(value: &str, diff: Diff) -> Accum {
        let datum = if value == "NULL" { Datum::Null } else { Datum::Numeric(Decimal::from_str(value).unwrap()) };
        Accum::from_values(&[datum.clone(), datum], &aggs()).unwrap().multiply(&diff)
    }

    fn totals(changes: &[(&str, Diff)]) -> Vec<String> {
        let mut acc = Accum::zero();
        for (value, diff) in changes {
            acc.plus_equals(&contribution(value, *diff));
        }
        acc.finish(PackedRow::default(), &aggs()).unwrap().iter().map(|d| format!("{d:?}")).collect()
    }

    fn numeric(s: &str) -> String {
        format!("{:?}", Datum::Numeric(Decimal::from_str(s).unwrap()))
    }

    #[test]
    fn sum_takes_the_largest_scale_present_and_forgets_retracted_scales() {
        assert_eq!(totals(&[("1.5", 1), ("2.25", 1)]), [numeric("3.75"), numeric("1.8750000000000000")]);
        assert_eq!(
            totals(&[("1.5", 1), ("2.25", 1), ("2.25", -1)]),
            [numeric("1.5"), numeric("1.50000000000000000000")]
        );
        assert_eq!(totals(&[("0.00", 1), ("7", 1)]), [numeric("7.00"), numeric("3.5000000000000000")]);
    }

    #[test]
    fn only_nulls_or_nothing_give_null_and_cancelled_groups_are_zero() {
        assert_eq!(totals(&[("NULL", 2)]), ["Null", "Null"]);
        let mut acc = contribution("1.25", 3);
        acc.plus_equals(&contribution("1.25", -3));
        assert!(acc.is_zero());
    }

    #[test]
    fn accumulators_stay_small_and_wide_sums_exact() {
        assert_eq!(std::mem::size_of::<Accum>(), 160);
        for v in [0, 1, -1, i128::MAX, i128::MIN, 1 << 64, -(1 << 64) - 7] {
            assert_eq!(Wide::from(v).get(), v);
        }
    }

    #[test]
    fn a_sum_beyond_numeric_range_is_an_error_not_a_wrong_value() {
        let big = "79228162514264337593543950335";
        let mut acc = contribution(big, 1);
        acc.plus_equals(&contribution(big, 1));
        assert!(matches!(acc.finish(PackedRow::default(), &aggs()), Err(EvalError::OutOfRange(_))));
        acc.plus_equals(&contribution(big, -1));
        assert_eq!(
            acc.finish(PackedRow::default(), &aggs()).unwrap().unpack()[0],
            Datum::Numeric(Decimal::from_str(big).unwrap())
        );
    }
}
