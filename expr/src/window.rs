//! Window functions: values computed for each row from the other rows of its partition
//! (`row_number() OVER (PARTITION BY ... ORDER BY ...)`), with PostgreSQL's default frame.

use eddy_repr::{Datum, Diff, Row};
use serde::{Deserialize, Serialize};

use crate::{compare_rows, AggregateFunc, ColumnOrder, EvalError, ScalarExpr};

/// A window function, resolved for its argument types.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    /// `ntile(buckets)`.
    Ntile,
    /// `lag(value [, offset [, default]])`.
    Lag,
    /// `lead(value [, offset [, default]])`.
    Lead,
    FirstValue,
    LastValue,
    /// `nth_value(value, n)`: the frame's `n`th row's value (1-based).
    NthValue,
    /// An aggregate over the frame: the partition's rows up to the current row's last peer
    /// (with ORDER BY), or the whole partition (without).
    Aggregate(AggregateFunc),
}

impl WindowFunc {
    pub fn name(&self) -> &'static str {
        match self {
            WindowFunc::RowNumber => "row_number",
            WindowFunc::Rank => "rank",
            WindowFunc::DenseRank => "dense_rank",
            WindowFunc::PercentRank => "percent_rank",
            WindowFunc::CumeDist => "cume_dist",
            WindowFunc::Ntile => "ntile",
            WindowFunc::Lag => "lag",
            WindowFunc::Lead => "lead",
            WindowFunc::FirstValue => "first_value",
            WindowFunc::LastValue => "last_value",
            WindowFunc::NthValue => "nth_value",
            WindowFunc::Aggregate(a) => a.name(),
        }
    }
}

/// One window function call: the function, the input columns holding its arguments, and
/// its frame (which rows `last_value` and aggregates see).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WindowExpr {
    pub func: WindowFunc,
    pub args: Vec<usize>,
    pub frame: Frame,
}

/// Which rows of the partition a row's `first_value`, `last_value` and aggregates see.
/// `RANGE` frames take whole peer groups at `CURRENT ROW`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
    /// `RANGE offset PRECEDING | FOLLOWING` (the window has one ORDER BY key).
    RangeOffset(Box<RangeOffset>),
}

impl FrameBound {
    fn range_offset(&self) -> Option<&RangeOffset> {
        match self {
            FrameBound::RangeOffset(r) => Some(r),
            _ => None,
        }
    }
}

/// A `RANGE` bound at an offset from the current row's ORDER BY value: the frame reaches
/// the rows whose value lies on the current row's side of `limit`. Both expressions read
/// an ORDER BY value as their column 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeOffset {
    /// The farthest value the bound reaches, from the current row's value (`v - offset`
    /// for `PRECEDING` in ascending order).
    pub limit: ScalarExpr,
    /// Another row's value, comparable with `limit` (a date as a timestamp).
    pub key: ScalarExpr,
    /// `PRECEDING` (else `FOLLOWING`), for the checks on the frame's two bounds.
    pub preceding: bool,
}

impl Frame {
    /// `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`: up to the row's last peer, or
    /// the whole partition without ORDER BY.
    pub const DEFAULT: Frame =
        Frame { rows: false, start: FrameBound::UnboundedPreceding, end: FrameBound::CurrentRow };

    /// Each row's frame, `start..end` (empty when `start >= end`), in a partition sorted
    /// by `order`, whose peer groups are `peers`.
    fn all_bounds(
        &self,
        rows: &[&Row],
        peers: &[(usize, usize)],
        order: &[ColumnOrder],
    ) -> Result<Vec<(usize, usize)>, EvalError> {
        let n = rows.len();
        let (start_offset, end_offset) = (self.start.range_offset(), self.end.range_offset());
        if start_offset.is_none() && end_offset.is_none() {
            return Ok(peers.iter().enumerate().map(|(i, p)| self.bounds(i, *p, n)).collect());
        }
        let key = order.first().ok_or_else(|| EvalError::Internal("RANGE offset without ORDER BY".into()))?;
        let values: Vec<&Datum> = rows.iter().map(|r| &r[key.column]).collect();
        // Rows with a NULL value are a peer group at one end; offsets reach only the others.
        let non_null = match values.iter().position(|v| !v.is_null()) {
            Some(first) => first..first + values[first..].iter().take_while(|v| !v.is_null()).count(),
            None => 0..0,
        };
        let side = |bound: Option<&RangeOffset>, is_start: bool| -> Result<Option<Vec<usize>>, EvalError> {
            let Some(bound) = bound else { return Ok(None) };
            let keys: Vec<Datum> = values[non_null.clone()]
                .iter()
                .map(|v| bound.key.eval(std::slice::from_ref(*v)))
                .collect::<Result<_, _>>()?;
            let mut out = Vec::with_capacity(n);
            for (i, value) in values.iter().enumerate() {
                if value.is_null() {
                    out.push(if is_start { peers[i].0 } else { peers[i].1 });
                    continue;
                }
                let limit = bound.limit.eval(std::slice::from_ref(*value))?;
                // Keys rise along the sorted rows (fall, descending): the bound is where
                // they pass the limit, inclusive for a start, exclusive for an end.
                let before = |k: &Datum| match (key.desc, is_start) {
                    (false, true) => *k < limit,
                    (false, false) => *k <= limit,
                    (true, true) => *k > limit,
                    (true, false) => *k >= limit,
                };
                out.push(non_null.start + keys.partition_point(before));
            }
            Ok(Some(out))
        };
        let starts = side(start_offset, true)?;
        let ends = side(end_offset, false)?;
        Ok((0..n)
            .map(|i| {
                let (start, end) = self.bounds(i, peers[i], n);
                (starts.as_ref().map_or(start, |s| s[i]), ends.as_ref().map_or(end, |e| e[i]))
            })
            .collect())
    }

    /// The frame of row `i` (whose peers are `peers`) in a partition of `n`: `start..end`,
    /// empty when `start >= end`. Range offsets are left to [`Frame::all_bounds`].
    fn bounds(&self, i: usize, peers: (usize, usize), n: usize) -> (usize, usize) {
        let offset = |k: u64| usize::try_from(k).unwrap_or(usize::MAX);
        let start = match self.start {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(k) => i.saturating_sub(offset(k)),
            FrameBound::CurrentRow if self.rows => i,
            FrameBound::CurrentRow => peers.0,
            FrameBound::Following(k) => i.saturating_add(offset(k)).min(n),
            FrameBound::UnboundedFollowing => n,
            FrameBound::RangeOffset(_) => peers.0,
        };
        let end = match self.end {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(k) => (i + 1).saturating_sub(offset(k)),
            FrameBound::CurrentRow if self.rows => i + 1,
            FrameBound::CurrentRow => peers.1,
            FrameBound::Following(k) => i.saturating_add(offset(k)).saturating_add(1).min(n),
            FrameBound::UnboundedFollowing => n,
            FrameBound::RangeOffset(_) => peers.1,
        };
        (start, end)
    }
}

/// The rows of one partition (with their counts), each followed by one value per window
/// function. Rows are ordered by `order`, ties by the whole row, so results do not depend
/// on arrival order; copies of a row are numbered one after the other.
pub fn window_partition(
    rows: &[(&Row, Diff)],
    order: &[ColumnOrder],
    funcs: &[WindowExpr],
) -> Result<Vec<(Row, Diff)>, EvalError> {
    let mut sorted: Vec<&Row> = Vec::new();
    for (row, count) in rows {
        crate::eval::check_positive(*count, "a window function")?;
        sorted.extend(std::iter::repeat_n(*row, *count as usize));
    }
    sorted.sort_by(|a, b| compare_rows(a, b, order).then_with(|| a.cmp(b)));
    let peers = peer_groups(&sorted, order);
    let columns: Vec<Vec<Datum>> =
        funcs.iter().map(|f| compute(f, &sorted, &peers, order)).collect::<Result<_, _>>()?;
    Ok(sorted
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut out = row.to_vec();
            out.extend(columns.iter().map(|c| c[i].clone()));
            (Row::new(out), 1)
        })
        .collect())
}

/// For each row, the index range of its peers (rows equal under ORDER BY).
fn peer_groups(sorted: &[&Row], order: &[ColumnOrder]) -> Vec<(usize, usize)> {
    let mut groups = vec![(0, 0); sorted.len()];
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start + 1;
        while end < sorted.len() && compare_rows(sorted[start], sorted[end], order).is_eq() {
            end += 1;
        }
        groups[start..end].fill((start, end));
        start = end;
    }
    groups
}

/// A count argument (`ntile`'s buckets, `nth_value`'s n): NULL, or PostgreSQL's error
/// unless it is positive.
fn positive_argument(value: &Datum, func: &str, sqlstate: &str) -> Result<Option<usize>, EvalError> {
    match value.as_i64() {
        None => Ok(None),
        Some(v) if v <= 0 => Err(EvalError::InvalidArgument {
            sqlstate: sqlstate.into(),
            message: format!("argument of {func} must be greater than zero"),
        }),
        Some(v) => Ok(Some(usize::try_from(v).unwrap_or(usize::MAX))),
    }
}

fn compute(
    f: &WindowExpr,
    rows: &[&Row],
    peers: &[(usize, usize)],
    order: &[ColumnOrder],
) -> Result<Vec<Datum>, EvalError> {
    let frames = || f.frame.all_bounds(rows, peers, order);
    let n = rows.len();
    let arg = |i: usize, a: usize| f.args.get(a).map_or(Datum::Null, |&c| rows[i][c].clone());
    let mut out = Vec::with_capacity(n);
    match &f.func {
        WindowFunc::RowNumber => out.extend((1..=n as i64).map(Datum::Int64)),
        WindowFunc::Rank => out.extend(peers.iter().map(|(s, _)| Datum::Int64(*s as i64 + 1))),
        WindowFunc::DenseRank => {
            let mut rank = 0;
            for (i, (s, _)) in peers.iter().enumerate() {
                if *s == i {
                    rank += 1;
                }
                out.push(Datum::Int64(rank));
            }
        }
        WindowFunc::PercentRank => {
            out.extend(peers.iter().map(|(s, _)| Datum::Float64(if n > 1 { *s as f64 / (n - 1) as f64 } else { 0.0 })))
        }
        WindowFunc::CumeDist => out.extend(peers.iter().map(|(_, e)| Datum::Float64(*e as f64 / n as f64))),
        WindowFunc::Ntile => {
            for i in 0..n {
                out.push(match positive_argument(&arg(i, 0), "ntile", "22014")? {
                    None => Datum::Null,
                    Some(b) => Datum::Int32(ntile(i, n, b) as i32),
                });
            }
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            for i in 0..n {
                let offset = if f.args.len() > 1 { arg(i, 1).as_i64() } else { Some(1) };
                let Some(offset) = offset else {
                    out.push(Datum::Null);
                    continue;
                };
                let offset = if f.func == WindowFunc::Lag { -offset } else { offset };
                let target = i as i64 + offset;
                out.push(if (0..n as i64).contains(&target) { arg(target as usize, 0) } else { arg(i, 2) });
            }
        }
        WindowFunc::FirstValue | WindowFunc::LastValue => {
            for (start, end) in frames()? {
                let at = if f.func == WindowFunc::FirstValue { start } else { end.wrapping_sub(1) };
                out.push(if start < end { arg(at, 0) } else { Datum::Null });
            }
        }
        WindowFunc::NthValue => {
            for (i, (start, end)) in frames()?.into_iter().enumerate() {
                out.push(match positive_argument(&arg(i, 1), "nth_value", "22016")? {
                    Some(k) if start.saturating_add(k - 1) < end => arg(start + k - 1, 0),
                    _ => Datum::Null,
                });
            }
        }
        WindowFunc::Aggregate(agg) if f.frame.start == FrameBound::UnboundedPreceding => {
            // The frame only grows: fold the rows it gains into the value so far where the
            // aggregate allows it, else recompute over the frame.
            let mut value = agg.eval(std::iter::empty())?;
            let mut count: i64 = 0;
            let mut done = 0;
            for (_, end) in frames()? {
                if end > done {
                    let new: Vec<Datum> = (done..end).map(|r| arg(r, 0)).collect();
                    value = match agg {
                        AggregateFunc::CountRows => {
                            count += (end - done) as i64;
                            Datum::Int64(count)
                        }
                        AggregateFunc::Count => {
                            count += new.iter().filter(|d| !d.is_null()).count() as i64;
                            Datum::Int64(count)
                        }
                        _ if agg.combines_partial_results() => {
                            agg.eval(std::iter::once(&value).chain(&new).map(|d| (d, 1)))?
                        }
                        _ => {
                            let frame: Vec<Datum> = (0..end).map(|r| arg(r, 0)).collect();
                            agg.eval(frame.iter().map(|d| (d, 1)))?
                        }
                    };
                    done = end;
                }
                out.push(value.clone());
            }
        }
        WindowFunc::Aggregate(agg) => {
            // A sliding frame: each row's frame folded on its own (cost grows with its width).
            for (start, end) in frames()? {
                let frame: Vec<Datum> = (start..end.max(start)).map(|r| arg(r, 0)).collect();
                out.push(agg.eval(frame.iter().map(|d| (d, 1)))?);
            }
        }
    }
    Ok(out)
}

/// PostgreSQL's `ntile`: `n` rows in `buckets` buckets, the first `n % buckets` one row
/// larger; the 1-based bucket of row `i`.
fn ntile(i: usize, n: usize, buckets: usize) -> usize {
    let small = n / buckets;
    let large = n % buckets;
    let in_large = large * (small + 1);
    if i < in_large {
        i / (small + 1) + 1
    } else {
        // Reached only when every bucket has at least `small` >= 1 rows.
        large + (i - in_large).checked_div(small).unwrap_or(0) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(values: &[(i64, i64)]) -> Vec<Row> {
        values.iter().map(|(g, v)| Row::new(vec![Datum::Int64(*g), Datum::Int64(*v)])).collect()
    }

    fn ints(rows: &[(Row, Diff)], column: usize) -> Vec<Option<i64>> {
        rows.iter().map(|(r, _)| r[column].as_i64()).collect()
    }

    #[test]
    fn ranking_functions_and_running_sums_follow_postgres() {
        let input = rows(&[(1, 10), (1, 20), (1, 20), (1, 30)]);
        let refs: Vec<(&Row, Diff)> = input.iter().map(|r| (r, 1)).collect();
        let order = [ColumnOrder { column: 1, desc: false, nulls_last: true }];
        let w = |func, args: Vec<usize>| WindowExpr { func, args, frame: Frame::DEFAULT };
        let funcs = [
            w(WindowFunc::RowNumber, vec![]),
            w(WindowFunc::Rank, vec![]),
            w(WindowFunc::DenseRank, vec![]),
            w(WindowFunc::Aggregate(AggregateFunc::SumInt), vec![1]),
            w(WindowFunc::Lag, vec![1]),
            w(WindowFunc::LastValue, vec![1]),
        ];
        let out = window_partition(&refs, &order, &funcs).unwrap();
        assert_eq!(ints(&out, 2), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(ints(&out, 3), [Some(1), Some(2), Some(2), Some(4)]);
        assert_eq!(ints(&out, 4), [Some(1), Some(2), Some(2), Some(3)]);
        assert_eq!(ints(&out, 5), [Some(10), Some(50), Some(50), Some(80)], "peers share the frame");
        assert_eq!(ints(&out, 6), [None, Some(10), Some(20), Some(20)]);
        assert_eq!(ints(&out, 7), [Some(10), Some(20), Some(20), Some(30)]);
        let unordered = window_partition(&refs, &[], &funcs[3..4]).unwrap();
        assert_eq!(ints(&unordered, 2), [Some(80); 4], "no ORDER BY: the whole partition");
        let rows = |start, end| Frame { rows: true, start, end };
        let rows_frame =
            [WindowExpr { frame: rows(FrameBound::UnboundedPreceding, FrameBound::CurrentRow), ..funcs[3].clone() }];
        let running = window_partition(&refs, &order, &rows_frame).unwrap();
        assert_eq!(ints(&running, 2), [Some(10), Some(30), Some(50), Some(80)], "ROWS: up to the row itself");
        let sliding =
            [WindowExpr { frame: rows(FrameBound::Preceding(1), FrameBound::Following(1)), ..funcs[3].clone() }];
        let moving = window_partition(&refs, &order, &sliding).unwrap();
        assert_eq!(ints(&moving, 2), [Some(30), Some(50), Some(70), Some(50)], "1 PRECEDING .. 1 FOLLOWING");
        let ahead =
            [WindowExpr { frame: rows(FrameBound::Following(2), FrameBound::UnboundedFollowing), ..funcs[3].clone() }];
        let later = window_partition(&refs, &order, &ahead).unwrap();
        assert_eq!(ints(&later, 2), [Some(50), Some(30), None, None], "empty frames are NULL");
    }

    #[test]
    fn ntile_spreads_the_remainder_over_the_first_buckets() {
        let buckets: Vec<usize> = (0..7).map(|i| ntile(i, 7, 3)).collect();
        assert_eq!(buckets, [1, 1, 1, 2, 2, 3, 3]);
        let few: Vec<usize> = (0..2).map(|i| ntile(i, 2, 5)).collect();
        assert_eq!(few, [1, 2]);
    }
}
