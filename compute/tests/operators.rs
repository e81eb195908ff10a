//! Property tests: every incremental operator, fed random batches of +1/-1 changes, must
//! equal recomputing the same plan from scratch (`eddy_expr::eval`) over all input so
//! far, after every batch, on one worker and on several.

use std::collections::BTreeMap;

use eddy_compute::{Command, Compute};
use eddy_expr::eval::{consolidate, evaluate, Collection};
use eddy_expr::func::NumType;
use eddy_expr::{
    AggregateExpr, AggregateFunc, ColumnOrder, Frame, FrameBound, Func, KeyRange, Pipeline, RelationExpr, RowOp,
    ScalarExpr, TableFunc, WindowExpr, WindowFunc,
};
use eddy_repr::{Datum, GlobalId, Row, ScalarType, Timestamp};
use proptest::prelude::*;
use rust_decimal::Decimal;

const LEFT: GlobalId = 1;
const RIGHT: GlobalId = 2;

fn left() -> RelationExpr {
    RelationExpr::get(LEFT, "l", 4)
}

fn right() -> RelationExpr {
    RelationExpr::get(RIGHT, "r", 4)
}

fn agg(func: AggregateFunc, col: usize, distinct: bool) -> AggregateExpr {
    AggregateExpr::new(func, ScalarExpr::Column(col), distinct)
}

/// One plan per operator (and a few compositions).
fn plans() -> Vec<(&'static str, RelationExpr)> {
    let lit = |i: i64| ScalarExpr::Literal(Datum::Int64(i), ScalarType::Int64);
    vec![
        ("project", left().project(vec![1, 0])),
        ("map", left().map(vec![ScalarExpr::Coalesce(vec![ScalarExpr::Column(1), lit(-1)])])),
        ("filter", left().filter(vec![ScalarExpr::Column(2)])),
        (
            "flat_map",
            RelationExpr::FlatMap {
                input: Box::new(left()),
                func: TableFunc::GenerateSeriesInt(ScalarType::Int64),
                args: vec![lit(1), lit(2)],
            },
        ),
        ("join", left().join(right(), vec![ScalarExpr::Column(0)], vec![ScalarExpr::Column(0)])),
        ("cross_join", left().project(vec![0]).join(right().project(vec![3]), vec![], vec![])),
        (
            "reduce",
            left().reduce(
                vec![0],
                vec![
                    agg(AggregateFunc::CountRows, 0, false),
                    agg(AggregateFunc::Count, 1, false),
                    agg(AggregateFunc::SumNumeric, 1, false),
                    agg(AggregateFunc::AvgNumeric, 1, false),
                    agg(AggregateFunc::Min, 3, false),
                    agg(AggregateFunc::Max, 3, false),
                    agg(AggregateFunc::Count, 1, true),
                    agg(AggregateFunc::BoolAnd, 2, false),
                    agg(AggregateFunc::BoolOr, 2, false),
                ],
            ),
        ),
        (
            // count/sum/avg are accumulated in the difference; the mapped column's scale is
            // 2 or 0 depending on the row, so a group's result scale changes with retractions.
            "accumulable_reduce",
            left()
                .map(vec![ScalarExpr::If {
                    cond: Box::new(ScalarExpr::Column(2)),
                    then: Box::new(ScalarExpr::Literal(Datum::Numeric(Decimal::new(150, 2)), ScalarType::numeric())),
                    els: Box::new(ScalarExpr::Literal(Datum::Numeric(Decimal::new(2, 0)), ScalarType::numeric())),
                }])
                .reduce(
                    vec![0],
                    vec![
                        agg(AggregateFunc::CountRows, 0, false),
                        agg(AggregateFunc::Count, 1, false),
                        agg(AggregateFunc::SumNumeric, 1, false),
                        agg(AggregateFunc::AvgNumeric, 1, false),
                        agg(AggregateFunc::SumNumeric, 4, false),
                        agg(AggregateFunc::AvgNumeric, 4, false),
                    ],
                ),
        ),
        (
            "global_reduce",
            left().reduce(
                vec![],
                vec![agg(AggregateFunc::SumNumeric, 1, false), agg(AggregateFunc::CountRows, 0, false)],
            ),
        ),
        (
            "global_min_max",
            left().reduce(
                vec![],
                vec![
                    agg(AggregateFunc::Min, 3, false),
                    agg(AggregateFunc::Max, 1, false),
                    agg(AggregateFunc::BoolOr, 2, false),
                    agg(AggregateFunc::SumNumeric, 1, false),
                ],
            ),
        ),
        ("count_distinct", left().reduce(vec![2], vec![agg(AggregateFunc::Count, 1, true)])),
        ("count_distinct_twins", twins(left()).reduce(vec![4], vec![agg(AggregateFunc::Count, 3, true)])),
        ("sum_distinct_global", twins(left()).reduce(vec![], vec![agg(AggregateFunc::SumNumeric, 4, true)])),
        ("distinct", left().project(vec![0, 2]).distinct()),
        ("union_negate", left().union(right().negate())),
        ("threshold", left().union(right().negate()).threshold()),
        ("twin_distinct", twins(left()).project(vec![4]).distinct()),
        (
            "twin_group_accumulable",
            twins(left())
                .reduce(vec![4], vec![agg(AggregateFunc::CountRows, 0, false), agg(AggregateFunc::SumInt, 0, false)]),
        ),
        (
            "twin_group",
            twins(left())
                .reduce(vec![4], vec![agg(AggregateFunc::CountRows, 0, false), agg(AggregateFunc::Min, 3, false)]),
        ),
        ("twin_join", twins(left()).join(twins(right()), vec![ScalarExpr::Column(4)], vec![ScalarExpr::Column(4)])),
        ("twin_except_all", twins(left()).project(vec![4]).union(twins(right()).project(vec![4]).negate()).threshold()),
        ("twin_intersect_all", {
            let l = twins(left()).project(vec![4]);
            let r = twins(right()).project(vec![4]);
            l.clone().union(l.union(r.negate()).threshold().negate())
        }),
        ("top_k_per_group", left().top_k(vec![0], vec![order(1, true, false)], Some(2), 0)),
        ("limit_offset", left().top_k(vec![], vec![order(3, false, true), order(1, false, true)], Some(3), 1)),
        ("distinct_on_twins", twins(left()).top_k(vec![4], vec![order(1, false, true)], Some(1), 0)),
        (
            "window",
            RelationExpr::Window {
                input: Box::new(left()),
                partition_key: vec![0],
                order: vec![order(1, false, true)],
                funcs: vec![
                    window(WindowFunc::RowNumber, vec![], Frame::DEFAULT),
                    window(WindowFunc::Rank, vec![], Frame::DEFAULT),
                    window(WindowFunc::Aggregate(AggregateFunc::SumInt), vec![1], Frame::DEFAULT),
                    window(WindowFunc::Lag, vec![3], Frame::DEFAULT),
                    window(
                        WindowFunc::LastValue,
                        vec![3],
                        rows(FrameBound::CurrentRow, FrameBound::UnboundedFollowing),
                    ),
                    window(
                        WindowFunc::Aggregate(AggregateFunc::Count),
                        vec![1],
                        rows(FrameBound::UnboundedPreceding, FrameBound::CurrentRow),
                    ),
                    window(
                        WindowFunc::Aggregate(AggregateFunc::SumInt),
                        vec![1],
                        rows(FrameBound::Preceding(1), FrameBound::Following(1)),
                    ),
                ],
            },
        ),
        (
            "window_over_twins",
            RelationExpr::Window {
                input: Box::new(twins(left())),
                partition_key: vec![4],
                order: vec![],
                funcs: vec![window(WindowFunc::Aggregate(AggregateFunc::CountRows), vec![], Frame::DEFAULT)],
            },
        ),
        ("recursive_union", reachable(1, true)),
        ("recursive_union_all_bounded", {
            // (from, to, depth) over paths of up to 3 edges, duplicates kept.
            let base = left().project(vec![0, 1]).map(vec![lit(0)]);
            let step = RelationExpr::WorkingTable { id: 2, arity: 3 }
                .join(left(), vec![ScalarExpr::Column(1)], vec![ScalarExpr::Column(0)])
                .filter(vec![ScalarExpr::call(Func::Lt, vec![ScalarExpr::Column(2), lit(3)])])
                .map(vec![ScalarExpr::call(Func::Add(NumType::Int64), vec![ScalarExpr::Column(2), lit(1)])])
                .project(vec![0, 4, 7]);
            recursive(2, base, step, false, 100)
        }),
        ("recursive_past_limit", {
            // Counts up from each `a` whose `c` holds, forever: an error while there is one.
            let base = left().filter(vec![ScalarExpr::Column(2)]).project(vec![0]);
            let step = RelationExpr::WorkingTable { id: 3, arity: 1 }
                .map(vec![ScalarExpr::call(Func::Add(NumType::Int64), vec![ScalarExpr::Column(0), lit(1)])])
                .project(vec![1]);
            recursive(3, base, step, false, 6)
        }),
        ("recursive_nested", {
            // Pairs reachable from `right`'s rows through a reachability computed by another
            // recursive query (independent of this loop).
            let base = right().project(vec![0]);
            let step = RelationExpr::WorkingTable { id: 4, arity: 1 }
                .join(reachable(5, true), vec![ScalarExpr::Column(0)], vec![ScalarExpr::Column(0)])
                .project(vec![2]);
            recursive(4, base, step, true, 100)
        }),
        (
            "join_then_reduce",
            left()
                .join(right(), vec![ScalarExpr::Column(0)], vec![ScalarExpr::Column(0)])
                .reduce(vec![3], vec![agg(AggregateFunc::CountRows, 0, false)]),
        ),
    ]
}

fn recursive(id: u64, base: RelationExpr, step: RelationExpr, distinct: bool, max_rounds: u64) -> RelationExpr {
    let name = format!("r{id}");
    RelationExpr::Recursive { id, name, base: Box::new(base), step: Box::new(step), distinct, max_rounds }
}

/// `(a, b)` pairs connected by a path of `left`'s `a -> b` edges (a graph with cycles).
fn reachable(id: u64, distinct: bool) -> RelationExpr {
    let step = RelationExpr::WorkingTable { id, arity: 2 }
        .join(left(), vec![ScalarExpr::Column(1)], vec![ScalarExpr::Column(0)])
        .project(vec![0, 3]);
    recursive(id, left().project(vec![0, 1]).distinct(), step, distinct, 100)
}

fn rows(start: FrameBound, end: FrameBound) -> Frame {
    Frame { rows: true, start, end }
}

fn window(func: WindowFunc, args: Vec<usize>, frame: Frame) -> WindowExpr {
    WindowExpr { func, args, frame }
}

fn order(column: usize, desc: bool, nulls_last: bool) -> ColumnOrder {
    ColumnOrder { column, desc, nulls_last }
}

/// Appends column 4: column 0 as a numeric written `a.0` or `a.00` depending on column 2,
/// so rows of one `a` are SQL-equal "twins" that print differently.
fn twins(input: RelationExpr) -> RelationExpr {
    let scale = |s: u32| ScalarExpr::Literal(Datum::Numeric(Decimal::new(0, s)), ScalarType::numeric());
    let as_numeric = ScalarExpr::call(
        Func::Cast { from: ScalarType::Int64, to: ScalarType::numeric(), explicit: true },
        vec![ScalarExpr::Column(0)],
    );
    let zero =
        ScalarExpr::If { cond: Box::new(ScalarExpr::Column(2)), then: Box::new(scale(1)), els: Box::new(scale(2)) };
    input.map(vec![ScalarExpr::call(Func::Add(NumType::Numeric), vec![as_numeric, zero])])
}

fn row(a: i64, b: Option<i64>, c: bool, d: &str) -> Row {
    Row::new(vec![Datum::Int64(a), b.map_or(Datum::Null, Datum::Int64), Datum::Bool(c), Datum::Text(d.into())])
}

/// A random change: which table, the row, insert or delete.
/// (left table?, a, b, c, index of d, insert?)
type Change = (bool, i64, Option<i64>, bool, u8, bool);

fn change() -> impl Strategy<Value = Change> {
    (any::<bool>(), 0..4i64, proptest::option::of(-3..4i64), any::<bool>(), 0..3u8, any::<bool>())
}

fn run(workers: usize, batches: Vec<Vec<Change>>) {
    let compute = Compute::start(workers, || {}).expect("compute starts");
    let mut time: Timestamp = 1;
    compute.send(Command::AdvanceTime { time });
    compute.send(Command::CreateTable { id: LEFT });
    compute.send(Command::CreateTable { id: RIGHT });
    let plans = plans();
    for (i, (_, plan)) in plans.iter().enumerate() {
        compute.send(Command::CreateView { id: 100 + i as GlobalId, expr: plan.clone(), refresh: None });
    }
    let mut contents: BTreeMap<GlobalId, Collection> = BTreeMap::new();
    for batch in batches {
        let mut updates: BTreeMap<GlobalId, Vec<(Row, i64)>> = BTreeMap::new();
        for (is_left, a, b, c, d, insert) in batch {
            let id = if is_left { LEFT } else { RIGHT };
            let r = row(a, b, c, ["x", "y", "z"][d as usize]);
            let current = contents.entry(id).or_default();
            let present = current.iter().find(|(x, _)| *x == r).map_or(0, |(_, n)| *n);
            // Deletes only remove rows that exist, as a table would.
            let diff = if insert || present == 0 { 1 } else { -1 };
            current.push((r.clone(), diff));
            *current = consolidate(current.drain(..));
            updates.entry(id).or_default().push((r, diff));
        }
        for (id, ups) in updates {
            compute.update(id, eddy_compute::pack_updates(&ups), time);
        }
        compute.send(Command::AdvanceTime { time: time + 1 });
        for (i, (name, plan)) in plans.iter().enumerate() {
            let expected = evaluate(plan, &|id| Ok(contents.get(&id).cloned().unwrap_or_default()));
            let actual = compute
                .peek(100 + i as GlobalId, time, Pipeline::default(), vec![KeyRange::default()])
                .map(consolidate);
            match (expected, actual) {
                (Ok(e), Ok(a)) => {
                    assert_eq!(exact(consolidate(e)), exact(a), "operator {name} on {workers} workers at time {time}")
                }
                (Err(e), Err(a)) => {
                    assert_eq!(eddy_compute::PeekError::Eval(e), a, "operator {name}")
                }
                (e, a) => panic!("operator {name}: reference {e:?} but dataflow {a:?}"),
            }
        }
        check_keyed_reads(&compute, &contents, time);
        time += 1;
    }
}

/// Rows as their exact representations (what PostgreSQL would print).
/// The rows in a fixed order (consolidation keeps the order rows come in), each shown
/// exactly (`1.0` and `1.00` differ).
fn exact(rows: Collection) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = rows.into_iter().map(|(r, d)| (format!("{r:?}"), d)).collect();
    out.sort();
    out
}

/// Reads of a table through pipelines whose filters give a key range (an equality prefix,
/// a range on the next column, both, and a filter after a map that gives none) equal
/// filtering everything.
fn check_keyed_reads(compute: &Compute, contents: &BTreeMap<GlobalId, Collection>, time: Timestamp) {
    let lit = |i: i64| ScalarExpr::Literal(Datum::Int64(i), ScalarType::Int64);
    let cmp = |func: Func, col: usize, v: i64| ScalarExpr::call(func, vec![ScalarExpr::Column(col), lit(v)]);
    let types = [ScalarType::Int64, ScalarType::Int64, ScalarType::Bool, ScalarType::Text];
    let reads = [
        left().filter(vec![cmp(Func::Eq, 0, 2)]),
        left().filter(vec![cmp(Func::Eq, 0, 1), cmp(Func::Gte, 1, 0)]).project(vec![3, 1]),
        left().filter(vec![ScalarExpr::And(vec![cmp(Func::Gt, 0, 0), cmp(Func::Lte, 0, 2)])]),
        left().filter(vec![cmp(Func::Eq, 0, 3), cmp(Func::Lt, 1, 2), cmp(Func::Gt, 1, -2)]),
        left().map(vec![lit(5)]).filter(vec![cmp(Func::Eq, 4, 5), cmp(Func::Eq, 0, 0)]).project(vec![1]),
    ];
    for read in reads {
        let (id, pipeline) = Pipeline::split(&read).expect("a pipeline over a table");
        let range = pipeline.key_range(&types);
        let expected = evaluate(&read, &|id| Ok(contents.get(&id).cloned().unwrap_or_default())).expect("no errors");
        let actual = compute.peek(id, time, pipeline, vec![range.clone()]).map(consolidate).expect("peek");
        assert_eq!(exact(expected), exact(actual), "read {read:?} with {range:?} at time {time}");
    }
    // Several point ranges in one read (how unique-key checks look rows up).
    let point = |v: i64| KeyRange { prefix: vec![Datum::Int64(v)], lower: None, upper: None };
    let ranges = vec![point(0), point(2), point(3)];
    let pipeline = Pipeline { ops: vec![RowOp::Project(vec![0, 3])], reduce: None };
    let actual = compute.peek(LEFT, time, pipeline, ranges).map(consolidate).expect("peek");
    let wanted = left()
        .filter(vec![ScalarExpr::Or(vec![cmp(Func::Eq, 0, 0), cmp(Func::Eq, 0, 2), cmp(Func::Eq, 0, 3)])])
        .project(vec![0, 3]);
    let expected = evaluate(&wanted, &|id| Ok(contents.get(&id).cloned().unwrap_or_default())).expect("no errors");
    assert_eq!(exact(expected), exact(actual), "point ranges at time {time}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn operators_match_reference_on_one_worker(batches in proptest::collection::vec(proptest::collection::vec(change(), 1..12), 1..8)) {
        run(1, batches);
    }

    #[test]
    fn operators_match_reference_on_three_workers(batches in proptest::collection::vec(proptest::collection::vec(change(), 1..12), 1..8)) {
        run(3, batches);
    }
}
