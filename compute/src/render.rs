//! Renders a `RelationExpr` as differential dataflow operators.
//!
//! Every operator produces `(oks, errs)`: rows, and evaluation errors raised by rows.
//! Errors are data: a row that later disappears takes its error with it. Rows travel and
//! are arranged packed ([`PackedRow`]); operators unpack them only to evaluate expressions.

use std::collections::BTreeMap;

use differential_dataflow::lattice::Lattice;
use differential_dataflow::operators::iterate::Variable;
use timely::order::Product;

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
use eddy_expr::temporal;
use eddy_expr::window::window_partition;
use eddy_expr::{AggregateExpr, AggregateFunc, EvalError, RelationExpr, ScalarExpr};
use eddy_repr::{Datum, Diff, GlobalId, PackedRef, PackedRow, Row, Timestamp};
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::vec::{Filter, Map};
use timely::dataflow::operators::ToStream;
use timely::dataflow::Scope;

use crate::accumulate::{all_accumulable, Accum};
use crate::packed_column::{PairBatcher, PairSpine, RowBatcher, RowSpine};

/// An arrangement of rows (keys) with no values.
pub type RowTrace = TraceAgent<RowSpine<Timestamp>>;
pub type ErrTrace = TraceAgent<KeySpine<EvalError, Timestamp, Diff>>;

pub type Rows<'s, T = Timestamp> = VecCollection<'s, T, PackedRow, Diff>;
pub type Errs<'s, T = Timestamp> = VecCollection<'s, T, EvalError, Diff>;

/// What a dataflow's operators read: its inputs, and inside a recursive query's loop the
/// working tables and the recursive queries computed outside the loop.
pub struct Imports<'s, T: RenderTime = Timestamp> {
    pub collections: BTreeMap<GlobalId, (Rows<'s, T>, Errs<'s, T>)>,
    /// Only worker 0 emits constant rows, so each appears once overall.
    pub emit_constants: bool,
    /// Per recursive query (by id) whose loop this is: the rows its previous round added.
    pub working_tables: BTreeMap<u64, Rows<'s, T>>,
    /// Recursive queries nested in a loop that do not depend on it, rendered before it.
    pub hoisted: BTreeMap<u64, (Rows<'s, T>, Errs<'s, T>)>,
}

impl<'s, T: RenderTime> Imports<'s, T> {
    pub fn new(emit_constants: bool) -> Self {
        Imports {
            collections: BTreeMap::new(),
            emit_constants,
            working_tables: BTreeMap::new(),
            hoisted: BTreeMap::new(),
        }
    }
}

/// The times operators run at: a dataflow's own, and (outer time, round) inside the loop
/// of a recursive query. Operators that need a totally ordered time take another form in
/// the loop.
pub trait RenderTime: timely::progress::Timestamp + Lattice + Ord {
    /// `(key, accumulated value)` per key of `contributions`.
    fn accumulate<'s>(
        contributions: VecCollection<'s, Self, PackedRow, Accum>,
    ) -> VecCollection<'s, Self, (PackedRow, Accum), Diff>;

    /// This time, or the dataflow time `ms` if later (where a temporal filter puts a row's
    /// entry or exit).
    fn at_least(&self, ms: Timestamp) -> Self;

    /// Renders a [`RelationExpr::Recursive`].
    fn render_recursive<'s>(
        scope: Scope<'s, Self>,
        imports: &Imports<'s, Self>,
        recursion: Recursion<'_>,
    ) -> Result<(Rows<'s, Self>, Errs<'s, Self>), EvalError>;
}

impl RenderTime for Timestamp {
    fn accumulate<'s>(
        contributions: VecCollection<'s, Self, PackedRow, Accum>,
    ) -> VecCollection<'s, Self, (PackedRow, Accum), Diff> {
        contributions.count_total_core::<Diff>()
    }

    fn at_least(&self, ms: Timestamp) -> Self {
        (*self).max(ms)
    }

    fn render_recursive<'s>(
        scope: Scope<'s, Self>,
        imports: &Imports<'s, Self>,
        recursion: Recursion<'_>,
    ) -> Result<(Rows<'s>, Errs<'s>), EvalError> {
        render_recursive(scope, imports, recursion)
    }
}

impl RenderTime for Product<Timestamp, u64> {
    fn accumulate<'s>(
        contributions: VecCollection<'s, Self, PackedRow, Accum>,
    ) -> VecCollection<'s, Self, (PackedRow, Accum), Diff> {
        contributions.count_core::<Diff>()
    }

    fn at_least(&self, ms: Timestamp) -> Self {
        Product::new(self.outer.max(ms), self.inner)
    }

    fn render_recursive<'s>(
        _: Scope<'s, Self>,
        _: &Imports<'s, Self>,
        recursion: Recursion<'_>,
    ) -> Result<(Rows<'s, Self>, Errs<'s, Self>), EvalError> {
        Err(EvalError::InvalidArgument {
            sqlstate: "0A000".into(),
            message: format!(
                "recursive query \"{}\" depends on the rows of another recursive query's rounds, which a materialized view cannot maintain yet",
                recursion.name
            ),
        })
    }
}

/// The parts of a [`RelationExpr::Recursive`].
pub struct Recursion<'a> {
    pub id: u64,
    pub name: &'a str,
    pub base: &'a RelationExpr,
    pub step: &'a RelationExpr,
    pub distinct: bool,
    pub max_rounds: u64,
}

/// Builds the operators computing `expr`.
pub fn render<'s, T: RenderTime>(
    scope: Scope<'s, T>,
    imports: &Imports<'s, T>,
    expr: &RelationExpr,
) -> Result<(Rows<'s, T>, Errs<'s, T>), EvalError> {
    Ok(match expr {
        RelationExpr::Get { id, name, .. } => imports
            .collections
            .get(id)
            .cloned()
            .ok_or_else(|| EvalError::Internal(format!("dataflow input {name} ({id}) is not available")))?,
        RelationExpr::Constant { rows, .. } => {
            let data: Vec<(PackedRow, T, Diff)> = if imports.emit_constants {
                rows.iter().map(|(r, d)| (PackedRow::pack(r), T::minimum(), *d)).collect()
            } else {
                vec![]
            };
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
            split(oks.map(move |row| map_row(row.unpack(), &scalars).map(PackedRow::from)), errs)
        }
        RelationExpr::Filter { input, predicates } if predicates.iter().any(temporal::reads_now) => {
            let (plain, bounds) = temporal::split(predicates).map_err(EvalError::Internal)?;
            let (oks, errs) = render(scope, imports, input)?;
            let results = oks.inner.flat_map(move |(row, time, diff)| {
                let datums = row.unpack();
                let validity = passes(&datums, &plain).and_then(|pass| match pass {
                    true => temporal::validity(&bounds, &datums),
                    false => Ok(None),
                });
                match validity {
                    Err(e) => vec![(Err(e), time, diff)],
                    Ok(None) => vec![],
                    Ok(Some((from, until))) => {
                        let enters = time.at_least(from);
                        match until {
                            None => vec![(Ok(row), enters, diff)],
                            Some(until) if enters.less_than(&time.at_least(until)) => {
                                vec![(Ok(row.clone()), enters, diff), (Ok(row), time.at_least(until), -diff)]
                            }
                            Some(_) => vec![],
                        }
                    }
                }
            });
            split(results.as_collection(), errs)
        }
        RelationExpr::Filter { input, predicates } => {
            let (oks, errs) = render(scope, imports, input)?;
            let predicates = predicates.clone();
            let results = oks.flat_map(move |row| match passes(&row.unpack(), &predicates) {
                Ok(true) => Some(Ok(row)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            });
            split(results, errs)
        }
        RelationExpr::FlatMap { input, func, args } => {
            let (oks, errs) = render(scope, imports, input)?;
            let (func, args) = (func.clone(), args.clone());
            let results = oks.flat_map(move |row| match expand_table_func(&func, &args, &row.unpack()) {
                Ok(extras) => extras
                    .into_iter()
                    .map(|extra| {
                        let mut out = row.clone();
                        extra.iter().for_each(|d| out.push(d));
                        Ok(out)
                    })
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            });
            split(results, errs)
        }
        RelationExpr::Join { left, right, left_key, right_key } => {
            let (l_oks, l_errs) = render(scope, imports, left)?;
            let (r_oks, r_errs) = render(scope, imports, right)?;
            let (lk, rk) = (left_key.clone(), right_key.clone());
            // Keys that are plain columns are projected as bytes, without unpacking the row.
            let keyed = |key: Vec<ScalarExpr>| {
                let columns: Option<Vec<usize>> =
                    key.iter().map(|k| if let ScalarExpr::Column(c) = k { Some(*c) } else { None }).collect();
                move |row: PackedRow| match &columns {
                    Some(columns) => Ok((sql_normalized(&row.project(columns)), row)),
                    None => eval_key(&row.unpack(), &key).map(|k| (PackedRow::from(k), row)),
                }
            };
            let (l_keyed, l_errs) = split_pairs(l_oks.map(keyed(lk)), l_errs);
            let (r_keyed, r_errs) = split_pairs(r_oks.map(keyed(rk)), r_errs);
            let l_arr = l_keyed.arrange_named::<PairBatcher<T>, PairSpine<T>>("JoinSide", PairBatcher::new);
            let r_arr = r_keyed.arrange_named::<PairBatcher<T>, PairSpine<T>>("JoinSide", PairBatcher::new);
            let joined = l_arr.join_core(r_arr, |_k, l: PackedRef<'_>, r: PackedRef<'_>| Some(l.concat(r)));
            (joined, l_errs.concat(r_errs))
        }
        RelationExpr::Reduce { input, group_key, aggregates } if all_accumulable(aggregates) => {
            let (oks, errs) = render(scope, imports, input)?;
            let (group_key, aggs) = (group_key.clone(), aggregates.clone());
            let results = oks.map(move |row| {
                let datums = row.unpack();
                let values = aggs.iter().map(|a| a.expr.eval(&datums)).collect::<Result<Vec<_>, _>>()?;
                Ok((row.project(&group_key), Accum::from_values(&values, &aggs)?))
            });
            let (contributions, new_errs) = split_results(results);
            let errs = errs.concat(new_errs);
            let totals = T::accumulate(contributions.explode(|(key, accum): (PackedRow, Accum)| Some((key, accum))));
            // Groups are summed by their keys as written; groups whose keys are SQL twins
            // (`1.0`, `1.00`) are then merged into one, shown with the smallest key (packed
            // rows sort as rows do, so the first).
            let (plain, twins) = partition(totals, |(key, _)| !key.has_twins());
            let aggs = aggregates.clone();
            let plain = plain.map(move |(key, accum)| accum.finish(key, &aggs));
            let aggs = aggregates.clone();
            let merged = twins.map(|(key, accum)| (sql_normalized(&key), (key, accum))).reduce(
                move |_,
                      groups: &[(&(PackedRow, Accum), Diff)],
                      out: &mut Vec<(Result<PackedRow, EvalError>, Diff)>| {
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
                let datums = row.unpack();
                let values = aggs.iter().map(|a| a.expr.eval(&datums)).collect::<Result<Vec<_>, _>>()?;
                Ok(PackedRow::pack(&values))
            });
            let (mut partials, mut errs) = split(inputs, errs);
            let funcs: Vec<AggregateFunc> = aggregates.iter().map(|a| a.func.clone()).collect();
            for buckets in REDUCTION_BUCKETS.iter().map(|b| Some(*b)).chain([None]) {
                let folded = partials
                    .map(move |row| {
                        let bucket = buckets.map(|b| Datum::Int64((row.hashed() % b) as i64));
                        (PackedRow::pack(bucket.as_slice()), row)
                    })
                    .reduce({
                        let funcs = funcs.clone();
                        move |_, rows: &[(&PackedRow, Diff)], out: &mut Vec<(Result<PackedRow, EvalError>, Diff)>| {
                            let folded = with_unpacked(rows, |rows| {
                                (funcs.iter().enumerate())
                                    .map(|(i, f)| f.eval(rows.iter().map(|(r, d)| (&r[i], *d))))
                                    .collect::<Result<Vec<_>, _>>()
                            });
                            out.push((folded.map(|values| PackedRow::pack(&values)), 1));
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
            let keyed = oks.map(move |row| (sql_normalized(&row.project(&key_columns)), row));
            let reduced = keyed.reduce(
                move |key: &PackedRow,
                      rows: &[(&PackedRow, Diff)],
                      out: &mut Vec<(Result<PackedRow, EvalError>, Diff)>| {
                    let group = with_unpacked(rows, |rows| reduce_group(&group_key, &key.unpack(), rows, &aggregates));
                    out.push((group.map(PackedRow::from), 1));
                },
            );
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
                        PackedRow::pack(&[Datum::Int64((row.hashed() % buckets) as i64)])
                    });
                }
            }
            let key_columns = group_key.clone();
            let kept =
                top_k_stage(oks, order.clone(), *limit, *offset, move |row| sql_normalized(&row.project(&key_columns)));
            (kept, errs)
        }
        RelationExpr::Window { input, partition_key, order, funcs } => {
            let (oks, errs) = render(scope, imports, input)?;
            let key_columns = partition_key.clone();
            let (order, funcs) = (order.clone(), funcs.clone());
            let computed = oks.map(move |row| (sql_normalized(&row.project(&key_columns)), row)).reduce(
                move |_, rows: &[(&PackedRow, Diff)], out: &mut Vec<(Result<PackedRow, EvalError>, Diff)>| {
                    match with_unpacked(rows, |rows| window_partition(rows, &order, &funcs)) {
                        Ok(rows) => out.extend(consolidate(rows).into_iter().map(|(r, d)| (Ok(PackedRow::from(r)), d))),
                        Err(e) => out.push((Err(e), 1)),
                    }
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
            let oks = oks_all.unwrap_or_else(|| Vec::<(PackedRow, T, Diff)>::new().to_stream(scope).as_collection());
            (oks, errs_all)
        }
        RelationExpr::Negate { input } => {
            let (oks, errs) = render(scope, imports, input)?;
            (oks.negate(), errs)
        }
        RelationExpr::Recursive { id, name, base, step, distinct, max_rounds } => match imports.hoisted.get(id) {
            Some(rendered) => rendered.clone(),
            None => {
                let recursion = Recursion { id: *id, name, base, step, distinct: *distinct, max_rounds: *max_rounds };
                T::render_recursive(scope, imports, recursion)?
            }
        },
        RelationExpr::WorkingTable { id, .. } => {
            let rows =
                imports.working_tables.get(id).cloned().ok_or_else(|| {
                    EvalError::Internal(format!("working table {id} read outside its recursive query"))
                })?;
            (rows, empty_errs(scope))
        }
    })
}

/// A recursive query as PostgreSQL evaluates it ([`RelationExpr::Recursive`]), in a loop
/// whose round `i` holds `added`, the rows round `i` added, and `all`, the rows of rounds
/// up to `i`:
///   added(0) = all(0) = base;  added(i+1) = step(added(i)) [minus all(i), for UNION];
///   all(i+1) = all(i) + added(i+1).
/// Errors raised in any round are kept, as the query would have failed on them. Updates
/// past `max_rounds` are not fed back; rows still being added then are an error.
fn render_recursive<'s>(
    scope: Scope<'s, Timestamp>,
    imports: &Imports<'s>,
    r: Recursion<'_>,
) -> Result<(Rows<'s>, Errs<'s>), EvalError> {
    let (mut base, base_errs) = render(scope, imports, r.base)?;
    if r.distinct {
        base = keep_per_sql_class(base, distinct_count);
    }
    // Recursive queries in `step` that do not read this loop's rounds are computed once, outside it.
    let mut hoisted = BTreeMap::new();
    for nested in loop_invariant_recursions(r.step) {
        if let RelationExpr::Recursive { id, .. } = nested {
            hoisted.insert(*id, render(scope, imports, nested)?);
        }
    }
    let (distinct, max_rounds, id) = (r.distinct, r.max_rounds, r.id);
    let limit_error = RelationExpr::recursion_limit_error(r.name, max_rounds);
    let (all, errs) = scope.iterative::<u64, _, _>(|inner| {
        let round = Product::new(Default::default(), 1);
        let (added_var, added) = Variable::new_from(base.clone().enter(inner), round);
        let (all_var, all) = Variable::new_from(base.enter(inner), round);
        let (errs_var, errs_so_far) = Variable::new(inner, round);
        let mut inner_imports = Imports::new(imports.emit_constants);
        for dep in r.step.depends_on() {
            if let Some((oks, errs)) = imports.collections.get(&dep) {
                inner_imports.collections.insert(dep, (oks.clone().enter(inner), errs.clone().enter(inner)));
            }
        }
        for (nested, (oks, errs)) in hoisted {
            inner_imports.hoisted.insert(nested, (oks.enter(inner), errs.enter(inner)));
        }
        inner_imports.working_tables.insert(id, added);
        let (made, made_errs) = render(inner, &inner_imports, r.step)?;
        let new_rows = match distinct {
            true => keep_per_sql_class(
                keep_per_sql_class(made, distinct_count).concat(all.clone().negate()),
                threshold_count,
            ),
            false => made,
        };
        let within_limit = move |update: &(PackedRow, Product<Timestamp, u64>, Diff)| update.1.inner < max_rounds;
        added_var.set(new_rows.clone().inner.filter(within_limit).as_collection());
        // `all(i) + added(i+1)`, consolidated: unconsolidated, each round would carry every
        // earlier round's updates again.
        all_var.set(all.clone().concat(new_rows).consolidate().inner.filter(within_limit).as_collection());
        let errs_fed_back =
            errs_so_far.clone().concat(made_errs).consolidate().inner.filter(move |update| update.1.inner < max_rounds);
        errs_var.set(errs_fed_back.as_collection());
        // `all` changes in round `max_rounds` only if that round added rows (by as many
        // updates as rows), in which case the query has not finished.
        let unfinished = all
            .clone()
            .inner
            .filter(move |update| update.1.inner >= max_rounds)
            .map(move |(_, time, diff)| (limit_error.clone(), time, diff))
            .as_collection();
        let errs = errs_so_far.leave(scope).concat(unfinished.leave(scope).threshold(|_, n: &Diff| Diff::from(*n > 0)));
        Ok::<_, EvalError>((all.leave(scope), errs))
    })?;
    Ok((all, base_errs.concat(errs)))
}

/// The outermost recursive queries inside `expr` that read no working table but their own
/// (and their own nested ones'): they can be computed outside a loop around `expr`.
fn loop_invariant_recursions(expr: &RelationExpr) -> Vec<&RelationExpr> {
    if let RelationExpr::Recursive { .. } = expr {
        if free_working_tables(expr).is_empty() {
            return vec![expr];
        }
    }
    expr.children().into_iter().flat_map(loop_invariant_recursions).collect()
}

/// The working tables `expr` reads that no recursive query inside it defines.
fn free_working_tables(expr: &RelationExpr) -> Vec<u64> {
    match expr {
        RelationExpr::WorkingTable { id, .. } => vec![*id],
        RelationExpr::Recursive { id, base, step, .. } => {
            let mut free = free_working_tables(base);
            free.extend(free_working_tables(step).into_iter().filter(|w| w != id));
            free
        }
        other => other.children().into_iter().flat_map(free_working_tables).collect(),
    }
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
fn top_k_stage<'s, T: RenderTime>(
    rows: Rows<'s, T>,
    order: Vec<eddy_expr::ColumnOrder>,
    limit: Option<usize>,
    offset: usize,
    key: impl Fn(&PackedRow) -> PackedRow + 'static,
) -> Rows<'s, T> {
    rows.map(move |row| (key(&row), row))
        .reduce(move |_, rows: &[(&PackedRow, Diff)], out: &mut Vec<(PackedRow, Diff)>| {
            let kept = with_unpacked(rows, |rows| top_k(rows, &order, limit, offset));
            out.extend(kept.into_iter().map(|(row, diff)| (PackedRow::from(row), diff)))
        })
        .map(|(_, row)| row)
}

/// DISTINCT or threshold, where rows that are SQL-equal but written differently (twins,
/// `1.0` and `1.00`) count as one row, as in PostgreSQL. Rows without values that can have
/// twins (most rows) take the plain operator.
fn keep_per_sql_class<'s, T: RenderTime>(rows: Rows<'s, T>, wanted: fn(Diff) -> Diff) -> Rows<'s, T> {
    let (plain, twins) = partition(rows, |row| !row.has_twins());
    let plain = plain.threshold(move |_, count: &Diff| wanted(*count));
    let kept = twins.map(|row| (sql_normalized(&row), row)).reduce(
        move |_, rows: &[(&PackedRow, Diff)], out: &mut Vec<(PackedRow, Diff)>| {
            let kept = with_unpacked(rows, |rows| keep_of_twins(rows, wanted));
            out.extend(kept.into_iter().map(|(row, diff)| (PackedRow::from(row), diff)))
        },
    );
    plain.concat(kept.map(|(_, row)| row))
}

/// The row with its values replaced by their SQL representatives (`Row::sql_normalized`):
/// the key to group or match SQL-equal rows by. Most rows have no such values.
fn sql_normalized(row: &PackedRow) -> PackedRow {
    match row.has_twins() {
        true => PackedRow::from(row.unpack().sql_normalized()),
        false => row.clone(),
    }
}

/// `f` of a reduce's input rows unpacked: the functions that evaluate groups take rows.
fn with_unpacked<R>(rows: &[(&PackedRow, Diff)], f: impl FnOnce(&[(&Row, Diff)]) -> R) -> R {
    let owned: Vec<(Row, Diff)> = rows.iter().map(|(row, diff)| (row.unpack(), *diff)).collect();
    let borrowed: Vec<(&Row, Diff)> = owned.iter().map(|(row, diff)| (row, *diff)).collect();
    f(&borrowed)
}

/// Splits a collection in one pass: records for which `first` holds, and the rest.
fn partition<'s, T: RenderTime, D: timely::ExchangeData>(
    collection: VecCollection<'s, T, D, Diff>,
    first: impl Fn(&D) -> bool + 'static,
) -> (VecCollection<'s, T, D, Diff>, VecCollection<'s, T, D, Diff>) {
    let (a, b) = collection.inner.ok_err::<Vec<_>, _, Vec<_>, _, _>(move |update| match first(&update.0) {
        true => Ok(update),
        false => Err(update),
    });
    (a.as_collection(), b.as_collection())
}

fn empty_errs<T: RenderTime>(scope: Scope<'_, T>) -> Errs<'_, T> {
    Vec::<(EvalError, T, Diff)>::new().to_stream(scope).as_collection()
}

/// Rows go on, errors join `errs`.
fn split<'s, T: RenderTime>(
    results: VecCollection<'s, T, Result<PackedRow, EvalError>, Diff>,
    errs: Errs<'s, T>,
) -> (Rows<'s, T>, Errs<'s, T>) {
    let (oks, new_errs) = split_results(results);
    (oks, errs.concat(new_errs))
}

fn split_pairs<'s, T: RenderTime>(
    results: VecCollection<'s, T, Result<(PackedRow, PackedRow), EvalError>, Diff>,
    errs: Errs<'s, T>,
) -> (VecCollection<'s, T, (PackedRow, PackedRow), Diff>, Errs<'s, T>) {
    let (oks, new_errs) = split_results(results);
    (oks, errs.concat(new_errs))
}

/// Separates successes from errors in one pass that moves each record to its side
/// (reading one stream twice would copy every record for the second reader).
fn split_results<'s, T: RenderTime, D: Clone + 'static>(
    results: VecCollection<'s, T, Result<D, EvalError>, Diff>,
) -> (VecCollection<'s, T, D, Diff>, Errs<'s, T>) {
    let (oks, errs) = results.inner.ok_err::<Vec<_>, _, Vec<_>, _, _>(|(result, time, diff)| match result {
        Ok(data) => Ok((data, time, diff)),
        Err(e) => Err((e, time, diff)),
    });
    (oks.as_collection(), errs.as_collection())
}

/// Arranges a rendered output so peeks and other dataflows can read it.
pub fn arrange<'s>(oks: Rows<'s>, errs: Errs<'s>) -> (Arranged<'s, RowTrace>, Arranged<'s, ErrTrace>) {
    (
        oks.map(|row| (row, ())).arrange_named::<RowBatcher<Timestamp>, RowSpine<Timestamp>>("Rows", RowBatcher::new),
        errs.arrange_by_self(),
    )
}
