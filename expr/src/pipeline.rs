//! Per-row pipelines: the chain of `Filter`, `Map` and `Project` directly above a `Get`.
//!
//! A reader runs the pipeline where the rows are stored (in each compute worker) instead of
//! copying a whole collection out and filtering it afterwards, and uses [`KeyRange`] to
//! seek straight to the rows an equality or range predicate on leading columns selects.

use eddy_repr::{Datum, Diff, GlobalId, Row, ScalarType};
use serde::{Deserialize, Serialize};

use crate::eval::{map_row, passes};
use crate::partial::PartialReduce;
use crate::{EvalError, Func, RelationExpr, ScalarExpr};

/// One per-row step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RowOp {
    Filter(Vec<ScalarExpr>),
    Map(Vec<ScalarExpr>),
    Project(Vec<usize>),
}

/// Steps applied to each row of a collection, innermost first, then optionally the first
/// half of an aggregation. Empty: the rows as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pipeline {
    pub ops: Vec<RowOp>,
    /// Folds the rows that come out of `ops` into partial aggregates
    /// ([`PartialReduce::partials`]); the evaluator combines every reader's.
    #[serde(default)]
    pub reduce: Option<PartialReduce>,
}

impl Pipeline {
    /// Splits `expr` into the collection it reads and the per-row steps above it, if it is
    /// nothing but such steps over one `Get`.
    pub fn split(expr: &RelationExpr) -> Option<(GlobalId, Pipeline)> {
        let mut ops = Vec::new();
        let mut node = expr;
        loop {
            match node {
                RelationExpr::Get { id, .. } => {
                    ops.reverse();
                    return Some((*id, Pipeline { ops, reduce: None }));
                }
                // Functions that need the statement's thread (sequences, pg_sleep) stay
                // there: workers run pipelines elsewhere.
                RelationExpr::Filter { predicates, .. } | RelationExpr::Map { scalars: predicates, .. }
                    if predicates.iter().any(ScalarExpr::needs_statement) =>
                {
                    return None
                }
                RelationExpr::Filter { input, predicates } => {
                    ops.push(RowOp::Filter(predicates.clone()));
                    node = input;
                }
                RelationExpr::Map { input, scalars } => {
                    ops.push(RowOp::Map(scalars.clone()));
                    node = input;
                }
                RelationExpr::Project { input, outputs } => {
                    ops.push(RowOp::Project(outputs.clone()));
                    node = input;
                }
                _ => return None,
            }
        }
    }

    /// [`Pipeline::split`] of a `Reduce`'s input, with the `Reduce`'s first half added, if
    /// `expr` is such a `Reduce` and its aggregates can be split.
    pub fn split_reduce(expr: &RelationExpr) -> Option<(GlobalId, Pipeline)> {
        let RelationExpr::Reduce { input, group_key, aggregates } = expr else { return None };
        let reduce = PartialReduce::new(group_key, aggregates)?;
        let (id, pipeline) = Pipeline::split(input)?;
        Some((id, Pipeline { reduce: Some(reduce), ..pipeline }))
    }

    /// Runs the whole pipeline over `rows` (a collection: no retractions).
    pub fn run<R: std::borrow::Borrow<Row>>(
        &self,
        rows: impl IntoIterator<Item = (R, Diff)>,
    ) -> Result<Vec<(Row, Diff)>, EvalError> {
        let mut out = Vec::new();
        for (row, diff) in rows {
            out.extend(self.apply(row.borrow())?.map(|r| (r, diff)));
        }
        self.finish(out)
    }

    /// The rows [`Pipeline::apply`] let through, folded into partial aggregates if the
    /// pipeline ends in one.
    pub fn finish(&self, rows: Vec<(Row, Diff)>) -> Result<Vec<(Row, Diff)>, EvalError> {
        match &self.reduce {
            Some(reduce) => reduce.partials(rows),
            None => Ok(rows),
        }
    }

    /// The result of a pipeline ending in a partial aggregation from every reader's
    /// [`Pipeline::finish`]; other pipelines' rows as they are.
    pub fn combine(&self, rows: Vec<(Row, Diff)>) -> Result<Vec<(Row, Diff)>, EvalError> {
        match &self.reduce {
            Some(reduce) => reduce.combine(rows),
            None => Ok(rows),
        }
    }

    /// The same pipeline over rows stored with their columns reordered, where stored
    /// column `i` holds original column `permutation[i]` (an index's arrangement). Leading
    /// filters are rewritten to the stored order, so [`Pipeline::key_range`] can use
    /// the index's leading columns; then the original order is restored.
    pub fn over_permuted(&self, permutation: &[usize]) -> Pipeline {
        let mut stored_position = vec![0; permutation.len()];
        for (i, &c) in permutation.iter().enumerate() {
            stored_position[c] = i;
        }
        let mut ops = Vec::new();
        let mut rest = self.ops.iter().peekable();
        while let Some(RowOp::Filter(predicates)) = rest.peek() {
            let mut predicates = predicates.clone();
            predicates.iter_mut().for_each(|p| p.permute(&|c| stored_position[c]));
            ops.push(RowOp::Filter(predicates));
            rest.next();
        }
        ops.push(RowOp::Project(stored_position));
        ops.extend(rest.cloned());
        Pipeline { ops, reduce: self.reduce.clone() }
    }

    /// True if a step drops columns, so that distinct rows may become equal.
    pub fn projects(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, RowOp::Project(_)))
    }

    /// The row `row` becomes, or `None` if a filter drops it (the per-row steps only).
    pub fn apply(&self, row: &Row) -> Result<Option<Row>, EvalError> {
        let mut owned: Option<Row> = None;
        for op in &self.ops {
            let current = owned.as_ref().unwrap_or(row);
            match op {
                RowOp::Filter(predicates) => {
                    if !passes(current, predicates)? {
                        return Ok(None);
                    }
                }
                RowOp::Map(scalars) => owned = Some(map_row(current.clone(), scalars)?),
                RowOp::Project(outputs) => owned = Some(current.project(outputs)),
            }
        }
        Ok(Some(owned.unwrap_or_else(|| row.clone())))
    }

    /// The rows of a collection with column types `types`, ordered as `Datum` orders rows,
    /// that can pass this pipeline's leading filters.
    pub fn key_range(&self, types: &[ScalarType]) -> KeyRange {
        let mut conjuncts = Vec::new();
        for op in &self.ops {
            match op {
                RowOp::Filter(predicates) => predicates.iter().for_each(|p| flatten_and(p, &mut conjuncts)),
                // Later filters see computed or reordered columns, not the stored row.
                _ => break,
            }
        }
        let mut range = KeyRange::default();
        for (column, ty) in types.iter().enumerate() {
            let bounds: Vec<(Func, &Datum)> = conjuncts
                .iter()
                .filter_map(|c| column_comparison(c, column, ty))
                .filter(|(_, d)| !d.is_null())
                .collect();
            let equal = bounds.iter().find(|(f, _)| *f == Func::Eq);
            if let (Some((_, value)), false) = (equal, has_twins(ty)) {
                range.prefix.push((*value).clone());
                continue;
            }
            if order_matches_sql(ty) {
                for (func, value) in bounds {
                    let (lower, upper) = match func {
                        Func::Eq => (true, true),
                        Func::Gt | Func::Gte => (true, false),
                        Func::Lt | Func::Lte => (false, true),
                        _ => (false, false),
                    };
                    if lower && range.lower.as_ref().is_none_or(|l| value.sql_cmp(l).is_gt()) {
                        range.lower = Some(value.clone());
                    }
                    if upper && range.upper.as_ref().is_none_or(|u| value.sql_cmp(u).is_lt()) {
                        range.upper = Some(value.clone());
                    }
                }
            }
            break;
        }
        range
    }
}

/// Where in a collection's row order the rows a reader wants lie: rows starting with
/// `prefix`, whose next column is at least `lower` and at most `upper`. The pipeline's
/// filters still run on every row in the range, so a range may be wider than needed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRange {
    pub prefix: Vec<Datum>,
    pub lower: Option<Datum>,
    pub upper: Option<Datum>,
}

impl KeyRange {
    /// A row sorting at or before every row in the range: the bound's SQL twins written
    /// differently (`1.0` for `1.00`, `-0` for `0`) sort before it and are in range too.
    pub fn start(&self) -> Row {
        let mut start = self.prefix.clone();
        start.extend(self.lower.as_ref().map(smallest_twin));
        Row::new(start)
    }

    /// True once rows sorting at or after `row` are all past the range.
    pub fn is_past(&self, row: &[Datum]) -> bool {
        let n = self.prefix.len();
        if row.len() < n || row[..n] != self.prefix[..] {
            return true;
        }
        matches!((&self.upper, row.get(n)), (Some(upper), Some(value)) if value.sql_cmp(upper).is_gt())
    }

    pub fn is_everything(&self) -> bool {
        self.prefix.is_empty() && self.lower.is_none() && self.upper.is_none()
    }
}

/// The value that sorts first among those SQL-equal to `d` (`Datum` orders twins by scale,
/// and `-0` before `0`).
fn smallest_twin(d: &Datum) -> Datum {
    match d {
        Datum::Float32(f) if *f == 0.0 => Datum::Float32(-0.0),
        Datum::Float64(f) if *f == 0.0 => Datum::Float64(-0.0),
        other => other.sql_normalized(),
    }
}

/// Types whose values can be SQL-equal while stored differently, so equality cannot be a
/// prefix of stored rows.
fn has_twins(ty: &ScalarType) -> bool {
    matches!(ty, ScalarType::Numeric { .. } | ScalarType::Float32 | ScalarType::Float64 | ScalarType::Interval)
}

fn flatten_and<'a>(e: &'a ScalarExpr, out: &mut Vec<&'a ScalarExpr>) {
    match e {
        ScalarExpr::And(parts) => parts.iter().for_each(|p| flatten_and(p, out)),
        other => out.push(other),
    }
}

/// `column <op> literal` (or mirrored) where the literal is stored as the column's values
/// are, so that comparing `Datum`s agrees with the SQL operator.
fn column_comparison<'a>(e: &'a ScalarExpr, column: usize, ty: &ScalarType) -> Option<(Func, &'a Datum)> {
    let ScalarExpr::Call { func, args } = e else { return None };
    let mirrored = match func {
        Func::Eq => Func::Eq,
        Func::Lt => Func::Gt,
        Func::Lte => Func::Gte,
        Func::Gt => Func::Lt,
        Func::Gte => Func::Lte,
        _ => return None,
    };
    match args.as_slice() {
        [ScalarExpr::Column(c), ScalarExpr::Literal(d, lit_ty)] if *c == column && same_storage(lit_ty, ty) => {
            Some((func.clone(), d))
        }
        [ScalarExpr::Literal(d, lit_ty), ScalarExpr::Column(c)] if *c == column && same_storage(lit_ty, ty) => {
            Some((mirrored, d))
        }
        _ => None,
    }
}

/// True if values of the two types are the same kind of `Datum`, so `Datum::sql_cmp` is
/// SQL's comparison between them. jsonb is left out: its `Datum` order is not PostgreSQL's.
fn same_storage(a: &ScalarType, b: &ScalarType) -> bool {
    use ScalarType::*;
    match (a, b) {
        (Numeric { .. }, Numeric { .. }) => true,
        (Jsonb, _) | (_, Jsonb) => false,
        (a, b) if a.is_string() && b.is_string() => true,
        (a, b) => a == b,
    }
}

/// Types whose `Datum` order refines the order of SQL's `<` (strings are left out: their
/// SQL order is the collation's).
fn order_matches_sql(ty: &ScalarType) -> bool {
    use ScalarType::*;
    matches!(
        ty,
        Int16
            | Int32
            | Int64
            | Numeric { .. }
            | Date
            | Time { .. }
            | Timestamp { .. }
            | TimestampTz { .. }
            | Float32
            | Float64
            | Uuid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: i64) -> ScalarExpr {
        ScalarExpr::literal(Datum::Int64(v), ScalarType::Int64)
    }

    fn cmp(func: Func, a: ScalarExpr, b: ScalarExpr) -> ScalarExpr {
        ScalarExpr::call(func, vec![a, b])
    }

    fn get() -> RelationExpr {
        RelationExpr::get(1, "t", 3)
    }

    #[test]
    fn equality_on_a_numeric_is_a_range_that_holds_its_twins() {
        let num = |m: i64, s: u32| Datum::Numeric(rust_decimal::Decimal::new(m, s));
        let equal = cmp(Func::Eq, ScalarExpr::Column(0), ScalarExpr::literal(num(100, 2), ScalarType::numeric()));
        let (_, pipeline) = Pipeline::split(&get().filter(vec![equal])).unwrap();
        let range = pipeline.key_range(&[ScalarType::numeric(), ScalarType::Int64, ScalarType::Int64]);
        assert!(range.prefix.is_empty());
        assert_eq!(range.start(), Row::new(vec![num(1, 0)]), "1 sorts before 1.0, 1.00, 1.000");
        assert!(range.start()[..] <= [num(10, 1)][..]);
        for twin in [num(1, 0), num(10, 1), num(1000, 3)] {
            assert!(!range.is_past(&[twin, Datum::Null]));
        }
        assert!(range.is_past(&[num(101, 2)]));
    }

    #[test]
    fn equality_on_leading_columns_becomes_a_prefix_then_a_range() {
        let expr = get()
            .filter(vec![ScalarExpr::And(vec![
                cmp(Func::Eq, ScalarExpr::Column(0), lit(7)),
                cmp(Func::Gte, ScalarExpr::Column(1), lit(10)),
            ])])
            .filter(vec![cmp(Func::Gt, lit(20), ScalarExpr::Column(1))])
            .project(vec![2]);
        let (id, pipeline) = Pipeline::split(&expr).unwrap();
        assert_eq!(id, 1);
        let range = pipeline.key_range(&[ScalarType::Int64, ScalarType::Int64, ScalarType::Text]);
        assert_eq!(range.prefix, vec![Datum::Int64(7)]);
        assert_eq!(range.lower, Some(Datum::Int64(10)));
        assert_eq!(range.upper, Some(Datum::Int64(20)));
        assert_eq!(range.start(), Row::new(vec![Datum::Int64(7), Datum::Int64(10)]));
        assert!(!range.is_past(&[Datum::Int64(7), Datum::Int64(20), Datum::Null]));
        assert!(range.is_past(&[Datum::Int64(7), Datum::Int64(21), Datum::Null]));
        assert!(range.is_past(&[Datum::Int64(8), Datum::Int64(0), Datum::Null]));
    }

    #[test]
    fn mismatched_types_and_filters_after_a_map_give_no_range() {
        let int4 = ScalarExpr::literal(Datum::Int32(7), ScalarType::Int32);
        let (_, p) = Pipeline::split(&get().filter(vec![cmp(Func::Eq, ScalarExpr::Column(0), int4)])).unwrap();
        assert!(p.key_range(&[ScalarType::Int64]).is_everything());

        let mapped = get().map(vec![lit(1)]).filter(vec![cmp(Func::Eq, ScalarExpr::Column(0), lit(7))]);
        let (_, p) = Pipeline::split(&mapped).unwrap();
        assert!(p.key_range(&[ScalarType::Int64]).is_everything());
    }

    #[test]
    fn text_equality_is_a_prefix_but_text_ranges_are_not() {
        let text = |s: &str| ScalarExpr::literal(Datum::Text(s.into()), ScalarType::Text);
        let (_, p) = Pipeline::split(&get().filter(vec![
            cmp(Func::Eq, ScalarExpr::Column(0), text("a")),
            cmp(Func::Lt, ScalarExpr::Column(1), text("m")),
        ]))
        .unwrap();
        let range = p.key_range(&[ScalarType::Text, ScalarType::Text]);
        assert_eq!(range.prefix, vec![Datum::Text("a".into())]);
        assert_eq!(range.upper, None);
    }

    #[test]
    fn a_permuted_pipeline_seeks_on_the_index_columns_and_restores_the_row() {
        let (_, p) = Pipeline::split(&get().filter(vec![cmp(Func::Eq, ScalarExpr::Column(2), lit(5))])).unwrap();
        let types = [ScalarType::Int64, ScalarType::Int64, ScalarType::Int64];
        assert!(p.key_range(&types).is_everything());
        // Stored as (c, a, b).
        let permuted = p.over_permuted(&[2, 0, 1]);
        assert_eq!(permuted.key_range(&types).prefix, vec![Datum::Int64(5)]);
        let stored = Row::new(vec![Datum::Int64(5), Datum::Int64(1), Datum::Int64(2)]);
        let original = Row::new(vec![Datum::Int64(1), Datum::Int64(2), Datum::Int64(5)]);
        assert_eq!(permuted.apply(&stored).unwrap(), Some(original));
        let other = Row::new(vec![Datum::Int64(6), Datum::Int64(1), Datum::Int64(2)]);
        assert_eq!(permuted.apply(&other).unwrap(), None);
    }

    #[test]
    fn apply_filters_maps_and_projects_in_order() {
        let (_, p) = Pipeline::split(
            &get().filter(vec![cmp(Func::Gt, ScalarExpr::Column(0), lit(1))]).map(vec![lit(9)]).project(vec![3, 0]),
        )
        .unwrap();
        let row = |a| Row::new(vec![Datum::Int64(a), Datum::Null, Datum::Null]);
        assert_eq!(p.apply(&row(1)).unwrap(), None);
        assert_eq!(p.apply(&row(2)).unwrap(), Some(Row::new(vec![Datum::Int64(9), Datum::Int64(2)])));
    }
}
