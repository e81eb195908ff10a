//! Renders a `RelationExpr` as differential dataflow operators.
//!
//! Every operator produces `(oks, errs)`: rows, and evaluation errors raised by rows.
//! Errors are data: a row that later disappears takes its error with it.

use std::collections::BTreeMap;

use differential_dataflow::difference::{Monoid, Multiply, Semigroup};
use differential_dataflow::operators::arrange::{Arranged, TraceAgent};
use differential_dataflow::operators::CountTotal;
use differential_dataflow::trace::implementations::KeySpine;
use differential_dataflow::AsCollection;
use differential_dataflow::VecCollection;
use eddy_expr::eval::{
    consolidate, distinct_count, eval_key, expand_table_func, keep_of_twins, map_row, passes, reduce_group,
    threshold_count, top_k,
};
use eddy_expr::window::window_partition;
use eddy_expr::{AggregateExpr, AggregateFunc, EvalError, RelationExpr, ScalarExpr};
use eddy_repr::{Datum, Diff, GlobalId, Row, Timestamp};
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::ToStream;
use timely::dataflow::Scope;

use crate::accumulate::{all_accumulable, Accum};

/// An arrangement of rows (keys) with no values.
pub type RowTrace = TraceAgent<KeySpine<Row, Timestamp, Diff>>;
pub type ErrTrace = TraceAgent<KeySpine<EvalError, Timestamp, Diff>>;

pub type Rows<'s> = VecCollection<'s, Timestamp, Row, Diff>;
pub type Errs<'s> = VecCollection<'s, Timestamp, EvalError, Diff>;

/// The arranged inputs a dataflow may read.
pub struct Imports<'s> {
    pub collections: BTreeMap<GlobalId, (Rows<'s>, Errs<'s>)>,
    /// Only worker 0 emits constant rows, so each appears once overall.
    pub emit_constants: bool,
}

/// Builds the operators computing `expr`.
pub fn render<'s>(
    scope: Scope<'s, Timestamp>,
    imports: &Imports<'s>,
    expr: &RelationExpr,
) -> Result<(Rows<'s>, Errs<'s>), EvalError> {
    Ok(match expr {
        RelationExpr::Get { id, name, .. } => imports
            .collections
            .get(id)
            .cloned()
            .ok_or_else(|| EvalError::Internal(format!("dataflow input {name} ({id}) is not available")))?,
        RelationExpr::Constant { rows, .. } => {
            let data: Vec<(Row, Timestamp, Diff)> =
                if imports.emit_constants { rows.iter().map(|(r, d)| (r.clone(), 0, *d)).collect() } else { vec![] };
            let oks = data.to_stream(scope).as_collection();
            (oks, empty_errs(scope))
        }
        RelationExpr::Project { input, outputs } => {
            let (oks, errs) = render(scope, imports, input)?;
            let outputs = outputs.clone();
            (oks.map(move |row| row.project(&outputs)), errs)
        }
        RelationExpr::Map { input, scalars } => {
            let (oks, errs) = render(scope, imports, input)?;
            let scalars = scalars.clone();
            split(oks.map(move |row| map_row(row, &scalars)), errs)
        }
        RelationExpr::Filter { input, predicates } => {
            let (oks, errs) = render(scope, imports, input)?;
            let predicates = predicates.clone();
            let results = oks.flat_map(move |row| match passes(&row, &predicates) {
                Ok(true) => Some(Ok(row)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            });
            split(results, errs)
        }
        RelationExpr::FlatMap { input, func, args } => {
            let (oks, errs) = render(scope, imports, input)?;
            let (func, args) = (func.clone(), args.clone());
            let results = oks.flat_map(move |row| match expand_table_func(&func, &args, &row) {
                Ok(extras) => extras
                    .into_iter()
                    .map(|extra| Ok(row.iter().cloned().chain(extra).collect::<Row>()))
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            });
            split(results, errs)
        }
        RelationExpr::Join { left, right, left_key, right_key } => {
            let (l_oks, l_errs) = render(scope, imports, left)?;
            let (r_oks, r_errs) = render(scope, imports, right)?;
            let (lk, rk) = (left_key.clone(), right_key.clone());
            let (l_keyed, l_errs) = split_pairs(l_oks.map(move |row| eval_key(&row, &lk).map(|k| (k, row))), l_errs);
            let (r_keyed, r_errs) = split_pairs(r_oks.map(move |row| eval_key(&row, &rk).map(|k| (k, row))), r_errs);
            let l_arr = l_keyed.arrange_by_key();
            let r_arr = r_keyed.arrange_by_key();
            let joined = l_arr.join_core(r_arr, |_k, l: &Row, r: &Row| Some(l.concat(r)));
            (joined, l_errs.concat(r_errs))
        }
        RelationExpr::Reduce { input, group_key, aggregates } if all_accumulable(aggregates) => {
            let (oks, errs) = render(scope, imports, input)?;
            let (group_key, aggs) = (group_key.clone(), aggregates.clone());
            let results = oks.map(move |row| {
                let values = aggs.iter().map(|a| a.expr.eval(&row)).collect::<Result<Vec<_>, _>>()?;
                Ok((row.project(&group_key), Accum::from_values(&values, &aggs)?))
            });
            let (contributions, new_errs) = split_results(results);
            let errs = errs.concat(new_errs);
            let totals =
                contributions.explode(|(key, accum): (Row, Accum)| Some((key, accum))).count_total_core::<Diff>();
            // Groups are summed by their keys as written; groups whose keys are SQL twins
            // (`1.0`, `1.00`) are then merged into one, shown with the smallest key.
            let (plain, twins) = partition(totals, |(key, _)| !key.has_twins());
            let aggs = aggregates.clone();
            let plain = plain.map(move |(key, accum)| accum.finish(key, &aggs));
            let aggs = aggregates.clone();
            let merged = twins.map(|(key, accum)| (key.clone().sql_normalized(), (key, accum))).reduce(
                move |_, groups: &[(&(Row, Accum), Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                    let mut total = Accum::zero();
                    for ((_, accum), n) in groups {
                        total.plus_equals(&accum.clone().multiply(n));
                    }
                    out.push((total.finish(groups[0].0 .0.clone(), &aggs), 1));
                },
            );
            split(plain.concat(merged.map(|(_, row)| row)), errs)
        }
        RelationExpr::Reduce { input, group_key, aggregates } if is_one_distinct_aggregate(aggregates) => {
            // `count(DISTINCT x)` (and the like) alone would re-read its whole group on
            // every change: instead, DISTINCT the (key, x) pairs, then aggregate those
            // without DISTINCT (accumulably where the function allows).
            let a = &aggregates[0];
            let (k, arity) = (group_key.len(), input.arity());
            let mut columns = group_key.clone();
            columns.push(arity);
            let pairs = input.as_ref().clone().map(vec![a.expr.clone()]).project(columns).distinct();
            let plain = AggregateExpr { distinct: false, expr: ScalarExpr::Column(k), ..a.clone() };
            render(scope, imports, &pairs.reduce((0..k).collect(), vec![plain]))?
        }
        RelationExpr::Reduce { input, group_key, aggregates }
            if group_key.is_empty() && all_hierarchical(aggregates) =>
        {
            // A global min/max (with sums) over a large input would re-scan all of it on every change:
            // fold it in hash buckets first (as TopK does), then fold the buckets' results.
            let (oks, errs) = render(scope, imports, input)?;
            let aggs = aggregates.clone();
            let inputs = oks.map(move |row| {
                let values = aggs.iter().map(|a| a.expr.eval(&row)).collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(values))
            });
            let (mut partials, mut errs) = split(inputs, errs);
            let funcs: Vec<AggregateFunc> = aggregates.iter().map(|a| a.func.clone()).collect();
            for buckets in REDUCTION_BUCKETS.iter().map(|b| Some(*b)).chain([None]) {
                let folded = partials
                    .map(move |row| {
                        let bucket = buckets.map(|b| Datum::Int64((row.hashed() % b) as i64));
                        (Row::new(bucket.into_iter().collect()), row)
                    })
                    .reduce({
                        let funcs = funcs.clone();
                        move |_, rows: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                            let folded = (funcs.iter().enumerate())
                                .map(|(i, f)| f.eval(rows.iter().map(|(r, d)| (&r[i], *d))))
                                .collect::<Result<Vec<_>, _>>();
                            out.push((folded.map(Row::new), 1));
                        }
                    })
                    .map(|(_, row)| row);
                (partials, errs) = split(folded, errs);
            }
            (partials, errs)
        }
        RelationExpr::Reduce { input, group_key, aggregates } => {
            let (oks, errs) = render(scope, imports, input)?;
            let group_key = group_key.clone();
            let aggregates = aggregates.clone();
            let key_columns = group_key.clone();
            let keyed = oks.map(move |row| (row.project(&key_columns).sql_normalized(), row));
            let reduced =
                keyed.reduce(move |key: &Row, rows: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| {
                    out.push((reduce_group(&group_key, key, rows, &aggregates), 1));
                });
            split(reduced.map(|(_k, v)| v), errs)
        }
        RelationExpr::Distinct { input } => {
            let (oks, errs) = render(scope, imports, input)?;
            (keep_per_sql_class(oks, distinct_count), errs)
        }
        RelationExpr::Threshold { input } => {
            let (oks, errs) = render(scope, imports, input)?;
            (keep_per_sql_class(oks, threshold_count), errs)
        }
        RelationExpr::TopK { input, group_key, order, limit, offset } => {
            let (mut oks, errs) = render(scope, imports, input)?;
            // A LIMIT over a whole collection (no groups) would re-sort all of it on every
            // change: narrow it first within hash buckets, each keeping its own first
            // `offset + limit` rows, so a change re-sorts one small bucket and the winners.
            if let (true, Some(limit)) = (group_key.is_empty(), *limit) {
                for buckets in REDUCTION_BUCKETS {
                    let keep = Some(limit.saturating_add(*offset));
                    oks = top_k_stage(oks, order.clone(), keep, 0, move |row| {
                        Row::new(vec![Datum::Int64((row.hashed() % buckets) as i64)])
                    });
                }
            }
            let key_columns = group_key.clone();
            let kept =
                top_k_stage(oks, order.clone(), *limit, *offset, move |row| row.project(&key_columns).sql_normalized());
            (kept, errs)
        }
        RelationExpr::Window { input, partition_key, order, funcs } => {
            let (oks, errs) = render(scope, imports, input)?;
            let key_columns = partition_key.clone();
            let (order, funcs) = (order.clone(), funcs.clone());
            let computed = oks.map(move |row| (row.project(&key_columns).sql_normalized(), row)).reduce(
                move |_, rows: &[(&Row, Diff)], out: &mut Vec<(Result<Row, EvalError>, Diff)>| match window_partition(
                    rows, &order, &funcs,
                ) {
                    Ok(rows) => out.extend(consolidate(rows).into_iter().map(|(r, d)| (Ok(r), d))),
                    Err(e) => out.push((Err(e), 1)),
                },
            );
            split(computed.map(|(_, row)| row), errs)
        }
        RelationExpr::Union { inputs } => {
            let mut oks_all = None;
            let mut errs_all = empty_errs(scope);
            for i in inputs {
                let (oks, errs) = render(scope, imports, i)?;
                oks_all = Some(match oks_all {
                    None => oks,
                    Some(prev) => oks.concat(prev),
                });
                errs_all = errs_all.concat(errs);
            }
            let oks = oks_all.unwrap_or_else(|| Vec::<(Row, Timestamp, Diff)>::new().to_stream(scope).as_collection());
            (oks, errs_all)
        }
        RelationExpr::Negate { input } => {
            let (oks, errs) = render(scope, imports, input)?;
            (oks.negate(), errs)
        }
    })
}

/// Hash buckets of the stages that narrow a LIMIT, or fold a min/max, over a whole
/// collection, widest first.
const REDUCTION_BUCKETS: &[u64] = &[4096, 64];

/// A single aggregate over DISTINCT values (`count(DISTINCT x)`), which folds the same over
/// the distinct `(key, x)` pairs.
fn is_one_distinct_aggregate(aggregates: &[AggregateExpr]) -> bool {
    matches!(aggregates, [a] if a.distinct && a.order_by.is_empty() && a.second_arg.is_none())
}

/// Aggregates whose value over a union is their value over the parts' values.
fn all_hierarchical(aggregates: &[AggregateExpr]) -> bool {
    !aggregates.is_empty() && aggregates.iter().all(|a| !a.distinct && a.func.combines_partial_results())
}

/// Per group of `key(row)`, the rows `top_k` keeps.
fn top_k_stage<'s>(
    rows: Rows<'s>,
    order: Vec<eddy_expr::ColumnOrder>,
    limit: Option<usize>,
    offset: usize,
    key: impl Fn(&Row) -> Row + 'static,
) -> Rows<'s> {
    rows.map(move |row| (key(&row), row))
        .reduce(move |_, rows: &[(&Row, Diff)], out: &mut Vec<(Row, Diff)>| {
            out.extend(top_k(rows, &order, limit, offset))
        })
        .map(|(_, row)| row)
}

/// DISTINCT or threshold, where rows that are SQL-equal but written differently (twins,
/// `1.0` and `1.00`) count as one row, as in PostgreSQL. Rows without values that can have
/// twins (most rows) take the plain operator.
fn keep_per_sql_class<'s>(rows: Rows<'s>, wanted: fn(Diff) -> Diff) -> Rows<'s> {
    let (plain, twins) = partition(rows, |row| !row.has_twins());
    let plain = plain.threshold(move |_, count: &Diff| wanted(*count));
    let kept = twins
        .map(|row| (row.clone().sql_normalized(), row))
        .reduce(move |_, rows: &[(&Row, Diff)], out: &mut Vec<(Row, Diff)>| out.extend(keep_of_twins(rows, wanted)));
    plain.concat(kept.map(|(_, row)| row))
}

/// Splits a collection in one pass: records for which `first` holds, and the rest.
fn partition<'s, D: timely::ExchangeData>(
    collection: VecCollection<'s, Timestamp, D, Diff>,
    first: impl Fn(&D) -> bool + 'static,
) -> (VecCollection<'s, Timestamp, D, Diff>, VecCollection<'s, Timestamp, D, Diff>) {
    let (a, b) = collection.inner.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |update| match first(&update.0) {
        true => Ok(update),
        false => Err(update),
    });
    (a.as_collection(), b.as_collection())
}

fn empty_errs(scope: Scope<'_, Timestamp>) -> Errs<'_> {
    Vec::<(EvalError, Timestamp, Diff)>::new().to_stream(scope).as_collection()
}

/// Rows go on, errors join `errs`.
fn split<'s>(
    results: VecCollection<'s, Timestamp, Result<Row, EvalError>, Diff>,
    errs: Errs<'s>,
) -> (Rows<'s>, Errs<'s>) {
    let (oks, new_errs) = split_results(results);
    (oks, errs.concat(new_errs))
}

fn split_pairs<'s>(
    results: VecCollection<'s, Timestamp, Result<(Row, Row), EvalError>, Diff>,
    errs: Errs<'s>,
) -> (VecCollection<'s, Timestamp, (Row, Row), Diff>, Errs<'s>) {
    let (oks, new_errs) = split_results(results);
    (oks, errs.concat(new_errs))
}

/// Separates successes from errors in one pass that moves each record to its side
/// (reading one stream twice would copy every record for the second reader).
fn split_results<'s, D: Clone + 'static>(
    results: VecCollection<'s, Timestamp, Result<D, EvalError>, Diff>,
) -> (VecCollection<'s, Timestamp, D, Diff>, Errs<'s>) {
    let (oks, errs) = results.inner.ok_err::<Vec<_>, _, Vec<_>, _, _>(|(result, time, diff)| match result {
        Ok(data) => Ok((data, time, diff)),
        Err(e) => Err((e, time, diff)),
    });
    (oks.as_collection(), errs.as_collection())
}

/// Arranges a rendered output so peeks and other dataflows can read it.
pub fn arrange<'s>(oks: Rows<'s>, errs: Errs<'s>) -> (Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>) {
    (oks.arrange_by_self(), errs.arrange_by_self())
}
