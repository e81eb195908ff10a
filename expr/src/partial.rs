//! Aggregation split in two: each reader folds its share of a collection into one partial
//! row per group where the rows are stored, and the partial rows combine into the result.
//!
//! An ad-hoc `SELECT sum(n) FROM v` then moves a few rows out of the compute workers
//! instead of all of `v`'s, and the workers fold their shares in parallel. Only
//! aggregates whose value over a union follows from their values over the parts qualify.

use eddy_repr::{Datum, Diff, Row};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::eval::{partitions, reduce_group, Collection};
use crate::func::numeric_div;
use crate::{AggregateExpr, AggregateFunc, EvalError, Func, ScalarExpr};

/// A `Reduce` split for [`PartialReduce::partials`] and [`PartialReduce::combine`]: the
/// group key and aggregates are the `Reduce`'s, over the rows its reader produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartialReduce {
    pub group_key: Vec<usize>,
    pub aggregates: Vec<AggregateExpr>,
}

impl PartialReduce {
    /// The split of a `Reduce` by `group_key` computing `aggregates`, if every aggregate
    /// can be combined from partial results.
    pub fn new(group_key: &[usize], aggregates: &[AggregateExpr]) -> Option<PartialReduce> {
        let splittable = |a: &AggregateExpr| {
            !a.distinct && a.second_arg.is_none() && a.order_by.is_empty() && !partial_funcs(&a.func).is_empty()
        };
        aggregates
            .iter()
            .all(splittable)
            .then(|| PartialReduce { group_key: group_key.to_vec(), aggregates: aggregates.to_vec() })
    }

    /// One reader's share of a collection (no retractions): per group (as the `Reduce`
    /// groups), its key columns followed by each aggregate's partial values (two for
    /// `avg`: the sum and the count).
    pub fn partials(&self, rows: Collection) -> Result<Collection, EvalError> {
        let partial_aggregates: Vec<AggregateExpr> = self
            .aggregates
            .iter()
            .flat_map(|a| partial_funcs(&a.func).into_iter().map(|func| AggregateExpr { func, ..a.clone() }))
            .collect();
        let mut out = Vec::new();
        for (key, rows) in partitions(rows, &self.group_key) {
            let refs: Vec<(&Row, Diff)> = rows.iter().map(|(r, d)| (r, *d)).collect();
            out.push((reduce_group(&self.group_key, &key, &refs, &partial_aggregates)?, 1));
        }
        Ok(out)
    }

    /// The `Reduce`'s rows from every reader's [`PartialReduce::partials`]: none over no
    /// rows, as the `Reduce` itself.
    pub fn combine(&self, partials: Collection) -> Result<Collection, EvalError> {
        let keys = self.group_key.len();
        let mut combining = Vec::new();
        for a in &self.aggregates {
            for func in partial_funcs(&a.func) {
                let column = ScalarExpr::Column(keys + combining.len());
                let func = match func {
                    // Partial counts add up as bigints.
                    AggregateFunc::CountRows | AggregateFunc::Count => AggregateFunc::SumInt,
                    other => other,
                };
                combining.push(AggregateExpr::new(func, column, false));
            }
        }
        let key: Vec<usize> = (0..keys).collect();
        let mut out = Vec::new();
        for (group, rows) in partitions(partials, &key) {
            let refs: Vec<(&Row, Diff)> = rows.iter().map(|(r, d)| (r, *d)).collect();
            let combined = reduce_group(&key, &group, &refs, &combining)?.into_datums();
            let mut values = combined[keys..].iter();
            let mut row: Vec<Datum> = combined[..keys].to_vec();
            for a in &self.aggregates {
                let mut next = || values.next().cloned().unwrap_or(Datum::Null);
                row.push(match a.func {
                    AggregateFunc::AvgNumeric => average_numeric(next(), next())?,
                    AggregateFunc::AvgInterval => match (next(), next()) {
                        (Datum::Null, _) => Datum::Null,
                        (sum, count) => Func::IntervalDiv.eval(&[sum, Datum::Float64(count_of(&count) as f64)])?,
                    },
                    _ => next(),
                });
            }
            out.push((Row::new(row), 1));
        }
        Ok(out)
    }
}

/// The aggregates whose results over a reader's share combine into `func`'s value (empty:
/// `func` cannot be split). `avg` travels as its sum and its count of non-NULL values.
fn partial_funcs(func: &AggregateFunc) -> Vec<AggregateFunc> {
    match func {
        AggregateFunc::CountRows
        | AggregateFunc::Count
        | AggregateFunc::SumInt
        | AggregateFunc::SumNumeric
        | AggregateFunc::SumFloat
        | AggregateFunc::SumInterval
        | AggregateFunc::Min
        | AggregateFunc::Max
        | AggregateFunc::BoolAnd
        | AggregateFunc::BoolOr
        | AggregateFunc::Bitwise(_) => vec![func.clone()],
        AggregateFunc::AvgNumeric => vec![AggregateFunc::SumNumeric, AggregateFunc::Count],
        AggregateFunc::AvgInterval => vec![AggregateFunc::SumInterval, AggregateFunc::Count],
        // A float average's partial sums would be rounded to the input's precision (real).
        _ => Vec::new(),
    }
}

fn count_of(d: &Datum) -> i64 {
    d.as_i64().unwrap_or(0)
}

/// `avg` from its combined sum and count, as [`AggregateFunc::AvgNumeric`] computes it.
fn average_numeric(sum: Datum, count: Datum) -> Result<Datum, EvalError> {
    match sum {
        Datum::Numeric(s) => Ok(Datum::Numeric(numeric_div(s, Decimal::from(count_of(&count)))?)),
        _ => Ok(Datum::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::Datum::{Int64, Null};

    fn rows(values: &[(i64, Datum)]) -> Collection {
        values.iter().map(|(k, v)| (Row::new(vec![Int64(*k), v.clone()]), 1)).collect()
    }

    fn aggregates() -> Vec<AggregateExpr> {
        let v = ScalarExpr::Column(1);
        [
            AggregateFunc::CountRows,
            AggregateFunc::Count,
            AggregateFunc::SumNumeric,
            AggregateFunc::AvgNumeric,
            AggregateFunc::Min,
            AggregateFunc::Max,
        ]
        .into_iter()
        .map(|f| AggregateExpr::new(f, v.clone(), false))
        .collect()
    }

    /// Splitting the rows over readers in any way gives what one `Reduce` over all of them gives.
    #[test]
    fn combined_partials_equal_the_whole() {
        let num = |s: &str| Datum::Numeric(s.parse().unwrap());
        let all = rows(&[(1, num("1.5")), (1, Null), (2, num("2")), (1, num("0.25")), (2, num("-7.125")), (3, Null)]);
        for group_key in [vec![], vec![0]] {
            let split = PartialReduce::new(&group_key, &aggregates()).unwrap();
            let whole = crate::eval::evaluate(
                &crate::RelationExpr::Get { id: 1, name: "t".into(), arity: 2 }.reduce(group_key.clone(), aggregates()),
                &|_| Ok(all.clone()),
            )
            .unwrap();
            for cut in 0..=all.len() {
                let (first, second) = all.split_at(cut);
                let mut partials = split.partials(first.to_vec()).unwrap();
                partials.extend(split.partials(second.to_vec()).unwrap());
                let mut combined = split.combine(partials).unwrap();
                let mut expected = whole.clone();
                combined.sort();
                expected.sort();
                assert_eq!(combined, expected, "group key {group_key:?}, cut after {cut} rows");
            }
        }
    }

    #[test]
    fn no_rows_give_no_groups() {
        let split = PartialReduce::new(&[], &aggregates()).unwrap();
        assert_eq!(split.combine(split.partials(Vec::new()).unwrap()).unwrap(), Vec::new());
    }

    #[test]
    fn order_dependent_and_distinct_aggregates_are_not_split() {
        let v = ScalarExpr::Column(1);
        assert!(PartialReduce::new(&[], &[AggregateExpr::new(AggregateFunc::Count, v.clone(), true)]).is_none());
        assert!(PartialReduce::new(&[], &[AggregateExpr::new(AggregateFunc::StringAgg, v.clone(), false)]).is_none());
        assert!(PartialReduce::new(&[], &[AggregateExpr::new(AggregateFunc::AvgFloat, v, false)]).is_none());
    }
}
