//! Temporal filters: a maintained view's `WHERE` conditions that compare `now()` with an
//! expression of the row (`now() < ts + interval '1 hour'`). Each row is in the view from
//! the first time its conditions hold until the first time they stop holding; the
//! dataflow turns a row's insertion into an insertion at the first time and a deletion at
//! the second (as Materialize's `mz_now()` filters do), so nothing is recomputed as time
//! passes. Times are the dataflow's: wall-clock milliseconds.
//!
//! A condition qualifies when `now()` stands alone on one side of `<`, `<=`, `>`, `>=` or
//! `=`, or as `now() + interval` / `now() - interval` with an interval of fixed length
//! (no months: a month is not a fixed number of milliseconds), which is moved across.

use eddy_repr::{Datum, Interval, ScalarType, Timestamp};

use crate::{EvalError, Func, RelationExpr, ScalarExpr};

/// One condition `now() <op> bound`, `op` being `<`, `<=`, `>`, `>=` or `=`.
#[derive(Clone, Debug, PartialEq)]
pub struct TemporalBound {
    pub op: Func,
    pub bound: ScalarExpr,
}

/// True if `e` reads `now()`.
pub fn reads_now(e: &ScalarExpr) -> bool {
    let mut found = false;
    e.visit(&mut |e| found |= matches!(e, ScalarExpr::Call { func: Func::Now, .. }));
    found
}

/// True if `view` has a temporal filter (a WHERE condition reading `now()`).
pub fn has_temporal_filter(view: &RelationExpr) -> bool {
    let mut temporal = false;
    view.visit(&mut |e| {
        temporal |= matches!(e, RelationExpr::Filter { predicates, .. } if predicates.iter().any(reads_now))
    });
    temporal
}

/// Checks that `now()` appears in `view` only in temporal filters (and not inside a
/// recursive query, whose rounds have times of their own); true if it has any.
pub fn check_view(view: &RelationExpr) -> Result<bool, String> {
    let mut temporal = false;
    let mut problem = None;
    let mut in_recursive = false;
    view.visit(&mut |node| {
        let mut scalars: Vec<&ScalarExpr> = Vec::new();
        match node {
            RelationExpr::Filter { predicates, .. } if predicates.iter().any(reads_now) => {
                temporal = true;
                if let Err(e) = split(predicates) {
                    problem.get_or_insert(e);
                }
            }
            RelationExpr::Map { scalars: s, .. } => scalars.extend(s),
            RelationExpr::FlatMap { args, .. } => scalars.extend(args),
            RelationExpr::Join { left_key, right_key, .. } => scalars.extend(left_key.iter().chain(right_key)),
            RelationExpr::Reduce { aggregates, .. } => {
                scalars.extend(aggregates.iter().flat_map(|a| std::iter::once(&a.expr).chain(&a.second_arg)))
            }
            RelationExpr::Recursive { .. } => in_recursive = true,
            _ => {}
        }
        if scalars.into_iter().any(reads_now) {
            problem.get_or_insert_with(|| {
                "now() in a materialized view can only be compared with an expression of the row in WHERE \
                 (a temporal filter such as `WHERE ts > now() - interval '1 hour'`)"
                    .to_string()
            });
        }
    });
    if temporal && in_recursive {
        problem.get_or_insert_with(|| "now() cannot be used in a materialized view with a recursive query".to_string());
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(temporal),
    }
}

/// Splits a filter's conditions into the plain ones and the temporal ones; Err says why a
/// condition reading `now()` is not a temporal filter.
pub fn split(predicates: &[ScalarExpr]) -> Result<(Vec<ScalarExpr>, Vec<TemporalBound>), String> {
    let mut plain = Vec::new();
    let mut bounds = Vec::new();
    let mut pending: Vec<&ScalarExpr> = predicates.iter().rev().collect();
    while let Some(p) = pending.pop() {
        if !reads_now(p) {
            plain.push(p.clone());
            continue;
        }
        match p {
            ScalarExpr::And(parts) => pending.extend(parts.iter().rev()),
            ScalarExpr::Call { func, args } if args.len() == 2 => {
                let (op, now_side, other) = match (reads_now(&args[0]), reads_now(&args[1])) {
                    (true, false) => (func.clone(), &args[0], &args[1]),
                    (false, true) => (flip(func).ok_or_else(|| not_temporal(p))?, &args[1], &args[0]),
                    _ => return Err(not_temporal(p)),
                };
                if flip(&op).is_none() {
                    return Err(not_temporal(p));
                }
                bounds.push(TemporalBound {
                    op,
                    bound: isolate(now_side, other.clone()).ok_or_else(|| not_temporal(p))?,
                });
            }
            _ => return Err(not_temporal(p)),
        }
    }
    Ok((plain, bounds))
}

fn not_temporal(_: &ScalarExpr) -> String {
    "now() in a materialized view must stand alone on one side of <, <=, >, >= or = (or be moved by an \
     interval without months), in WHERE conditions joined by AND: a temporal filter such as \
     `WHERE ts > now() - interval '1 hour'`"
        .to_string()
}

/// `a op b` read as `b op' a`.
fn flip(op: &Func) -> Option<Func> {
    Some(match op {
        Func::Lt => Func::Gt,
        Func::Lte => Func::Gte,
        Func::Gt => Func::Lt,
        Func::Gte => Func::Lte,
        Func::Eq => Func::Eq,
        _ => return None,
    })
}

/// The bound `now()` is compared with once `now_side` (`now()`, or `now()` plus or minus
/// a fixed-length interval) is reduced to `now()` alone by moving the interval across.
fn isolate(now_side: &ScalarExpr, other: ScalarExpr) -> Option<ScalarExpr> {
    match now_side {
        ScalarExpr::Call { func: Func::Now, .. } => Some(other),
        ScalarExpr::Call { func: Func::TimestampAddInterval { tz: true }, args } if args.len() == 2 => {
            let (now, interval) = if reads_now(&args[0]) { (&args[0], &args[1]) } else { (&args[1], &args[0]) };
            fixed_length(interval)?;
            let moved = ScalarExpr::call(Func::TimestampSubInterval { tz: true }, vec![other, interval.clone()]);
            isolate(now, moved)
        }
        ScalarExpr::Call { func: Func::TimestampSubInterval { tz: true }, args } if args.len() == 2 => {
            if reads_now(&args[1]) {
                return None;
            }
            fixed_length(&args[1])?;
            let moved = ScalarExpr::call(Func::TimestampAddInterval { tz: true }, vec![other, args[1].clone()]);
            isolate(&args[0], moved)
        }
        _ => None,
    }
}

/// Some if `e` is a constant interval without months.
fn fixed_length(e: &ScalarExpr) -> Option<()> {
    match e {
        ScalarExpr::Literal(Datum::Interval(Interval { months: 0, .. }), _) => Some(()),
        _ => None,
    }
}

/// The times `[from, until)` at which a row passes all of `bounds`; `until` None when it
/// never stops. None when the row never passes (a NULL bound, or an empty range).
pub fn validity(bounds: &[TemporalBound], row: &[Datum]) -> Result<Option<(Timestamp, Option<Timestamp>)>, EvalError> {
    let mut from: Timestamp = 0;
    let mut until: Option<Timestamp> = None;
    for b in bounds {
        let micros = match b.bound.eval(row)? {
            Datum::Null => return Ok(None),
            Datum::TimestampTz(t) => t.timestamp_micros(),
            Datum::Timestamp(t) => t.and_utc().timestamp_micros(),
            Datum::Date(d) => d.and_hms_opt(0, 0, 0).map_or(i64::MIN, |t| t.and_utc().timestamp_micros()),
            other => {
                return Err(EvalError::Internal(format!(
                    "a temporal filter's bound is {other:?}, not a time ({})",
                    ScalarType::timestamptz()
                )))
            }
        };
        // now() at dataflow time t (milliseconds) is t * 1000 microseconds.
        let floor_ms = micros.div_euclid(1000);
        let ceil_ms = floor_ms + i64::from(micros.rem_euclid(1000) != 0);
        let at_least = |ms: i64| ms.max(0) as Timestamp;
        let (lower, upper) = match b.op {
            Func::Gt => (Some(floor_ms + 1), None),
            Func::Gte => (Some(ceil_ms), None),
            Func::Lt => (None, Some(ceil_ms)),
            Func::Lte => (None, Some(floor_ms + 1)),
            _ => (Some(ceil_ms), Some(floor_ms + 1)),
        };
        if let Some(l) = lower {
            from = from.max(at_least(l));
        }
        if let Some(u) = upper {
            until = Some(until.map_or(at_least(u), |x| x.min(at_least(u))));
        }
    }
    Ok(match until {
        Some(u) if u <= from => None,
        _ => Some((from, until)),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> ScalarExpr {
        ScalarExpr::call(Func::Now, vec![])
    }

    fn hour() -> ScalarExpr {
        ScalarExpr::Literal(Datum::Interval(Interval::new(0, 0, 3_600_000_000)), ScalarType::Interval)
    }

    fn ts(ms: i64) -> Datum {
        Datum::TimestampTz(chrono::Utc.timestamp_millis_opt(ms).unwrap())
    }

    #[test]
    fn a_window_of_one_hour_from_the_row_s_time() {
        // WHERE ts > now() - interval '1 hour' AND ts <= now() AND x = 1
        let plain = ScalarExpr::call(
            Func::Eq,
            vec![ScalarExpr::Column(1), ScalarExpr::Literal(Datum::Int32(1), ScalarType::Int32)],
        );
        let recent = ScalarExpr::call(
            Func::Gt,
            vec![ScalarExpr::Column(0), ScalarExpr::call(Func::TimestampSubInterval { tz: true }, vec![now(), hour()])],
        );
        let arrived = ScalarExpr::call(Func::Lte, vec![ScalarExpr::Column(0), now()]);
        let (rest, bounds) = split(&[plain.clone(), ScalarExpr::And(vec![recent, arrived])]).unwrap();
        assert_eq!(rest, vec![plain]);
        let row = [ts(10_000), Datum::Int32(1)];
        // Visible from 10 s (now >= ts) until 10 s + 1 h (now < ts + 1h).
        assert_eq!(validity(&bounds, &row).unwrap(), Some((10_000, Some(3_610_000))));
        assert_eq!(validity(&bounds, &[Datum::Null, Datum::Int32(1)]).unwrap(), None);
    }

    #[test]
    fn only_now_alone_or_moved_by_a_fixed_interval_qualifies() {
        let month = ScalarExpr::Literal(Datum::Interval(Interval::new(1, 0, 0)), ScalarType::Interval);
        let by_month = ScalarExpr::call(
            Func::Gt,
            vec![ScalarExpr::Column(0), ScalarExpr::call(Func::TimestampSubInterval { tz: true }, vec![now(), month])],
        );
        assert!(split(&[by_month]).is_err());
        let not_equal = ScalarExpr::call(Func::NotEq, vec![ScalarExpr::Column(0), now()]);
        assert!(split(&[not_equal]).is_err());
        let in_or = ScalarExpr::Or(vec![ScalarExpr::call(Func::Lt, vec![ScalarExpr::Column(0), now()])]);
        assert!(split(&[in_or]).is_err());
    }

    #[test]
    fn sub_millisecond_bounds_round_toward_the_condition() {
        let at = |micros: i64| Datum::TimestampTz(chrono::Utc.timestamp_micros(micros).unwrap());
        let bound = |op| vec![TemporalBound { op, bound: ScalarExpr::Column(0) }];
        // now() > 1.5 ms: first true at 2 ms; now() >= 1.5 ms: 2 ms; now() < 1.5 ms: until 2 ms.
        assert_eq!(validity(&bound(Func::Gt), &[at(1500)]).unwrap(), Some((2, None)));
        assert_eq!(validity(&bound(Func::Gte), &[at(2000)]).unwrap(), Some((2, None)));
        assert_eq!(validity(&bound(Func::Lt), &[at(1500)]).unwrap(), Some((0, Some(2))));
        assert_eq!(validity(&bound(Func::Lte), &[at(2000)]).unwrap(), Some((0, Some(3))));
        assert_eq!(validity(&bound(Func::Eq), &[at(1500)]).unwrap(), None);
    }
}
