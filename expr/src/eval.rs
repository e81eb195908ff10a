//! From-scratch evaluation of a [`RelationExpr`] over snapshots of its inputs.
//!
//! Serves ad-hoc queries and is the reference every incremental operator in `compute` is
//! tested against. The per-group and per-row helpers here ([`reduce_group`],
//! [`expand_table_func`]) are shared with `compute`, so the two paths cannot disagree on
//! what an aggregate or a table function means.

use std::collections::{BTreeMap, HashMap};

use eddy_repr::jsonb::JsonKey;
use eddy_repr::strconv::{self, jsonb_to_string};
use eddy_repr::{Datum, Diff, GlobalId, Jsonb, Row, ScalarType};

use crate::pipeline::Pipeline;
use crate::{compare_rows, AggregateExpr, ColumnOrder, EvalError, RelationExpr, ScalarExpr, TableFunc};

/// A multiset of rows with multiplicities, consolidated (each row once, no zero counts).
pub type Collection = Vec<(Row, Diff)>;

/// Sums multiplicities of equal rows and drops rows whose count is zero, keeping the
/// order in which rows first appear: a query without ORDER BY over VALUES or a
/// set-returning function (`SELECT * FROM generate_series(1, 3)`) shows its rows as
/// PostgreSQL does.
pub fn consolidate(updates: impl IntoIterator<Item = (Row, Diff)>) -> Collection {
    let mut acc: indexmap::IndexMap<Row, Diff> = indexmap::IndexMap::new();
    for (row, diff) in updates {
        *acc.entry(row).or_insert(0) += diff;
    }
    acc.retain(|_, d| *d != 0);
    acc.into_iter().collect()
}

/// Evaluates `expr`, reading each `Get` through `input`.
pub fn evaluate(
    expr: &RelationExpr,
    input: &dyn Fn(GlobalId) -> Result<Collection, EvalError>,
) -> Result<Collection, EvalError> {
    evaluate_pushdown(expr, &|id, pipeline| pipeline.run(input(id)?))
}

/// Evaluates `expr`, handing each `Get` and the per-row steps above it to `input`, which
/// returns the rows that come out of the pipeline, in any order (a row may come back
/// several times only if the pipeline projects). A `Reduce` directly above such steps
/// hands its first half to `input` too ([`Pipeline::split_reduce`]), which then returns
/// partial aggregates.
pub fn evaluate_pushdown(
    expr: &RelationExpr,
    input: &dyn Fn(GlobalId, &Pipeline) -> Result<Collection, EvalError>,
) -> Result<Collection, EvalError> {
    Evaluator::new(input, &|| false).eval(expr)
}

/// Evaluates relational expressions over the rows `input` reads, stopping with
/// [`EvalError::Canceled`] once `cancelled` says so (checked at every operator, and per
/// input row in the loops whose output can grow large: joins and table functions).
pub struct Evaluator<'a> {
    input: &'a dyn Fn(GlobalId, &Pipeline) -> Result<Collection, EvalError>,
    cancelled: &'a dyn Fn() -> bool,
    /// The rows each running recursive query's previous round added, by its id.
    working_tables: std::cell::RefCell<HashMap<u64, Collection>>,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        input: &'a dyn Fn(GlobalId, &Pipeline) -> Result<Collection, EvalError>,
        cancelled: &'a dyn Fn() -> bool,
    ) -> Self {
        Evaluator { input, cancelled, working_tables: Default::default() }
    }

    fn check_rows(&self, rows: usize, what: &str) -> Result<(), EvalError> {
        if (self.cancelled)() {
            return Err(EvalError::Canceled);
        }
        check_intermediate_rows(rows, what)
    }

    pub fn eval(&self, expr: &RelationExpr) -> Result<Collection, EvalError> {
        if (self.cancelled)() {
            return Err(EvalError::Canceled);
        }
        if let Some((id, pipeline)) = Pipeline::split_reduce(expr) {
            return pipeline.combine((self.input)(id, &pipeline)?);
        }
        if let Some((id, pipeline)) = Pipeline::split(expr) {
            let rows = (self.input)(id, &pipeline)?;
            // A collection's rows are distinct, and filters and maps keep them so: only a
            // projection can make two rows equal (sorting a large read costs more than the read).
            return Ok(if pipeline.projects() { consolidate(rows) } else { rows });
        }
        Ok(match expr {
            RelationExpr::Get { id, .. } => consolidate((self.input)(*id, &Pipeline::default())?),
            RelationExpr::Constant { rows, .. } => consolidate(rows.iter().cloned()),
            RelationExpr::Project { input: inner, outputs } => {
                consolidate(self.eval(inner)?.into_iter().map(|(r, d)| (r.project(outputs), d)))
            }
            RelationExpr::Map { input: inner, scalars } => {
                let mut out = Vec::new();
                for (row, diff) in self.eval(inner)? {
                    out.push((map_row(row, scalars)?, diff));
                }
                out
            }
            RelationExpr::Filter { input: inner, predicates } => {
                let mut out = Vec::new();
                for (row, diff) in self.eval(inner)? {
                    if passes(&row, predicates)? {
                        out.push((row, diff));
                    }
                }
                out
            }
            RelationExpr::FlatMap { input: inner, func, args } => {
                let mut out = Vec::new();
                for (row, diff) in self.eval(inner)? {
                    for extra in expand_table_func(func, args, &row)? {
                        out.push((row.iter().cloned().chain(extra).collect(), diff));
                    }
                    self.check_rows(out.len(), "the table function")?;
                }
                consolidate(out)
            }
            RelationExpr::Join { left, right, left_key, right_key } => {
                let left = self.eval(left)?;
                let right = self.eval(right)?;
                let mut by_key: HashMap<Row, Vec<&(Row, Diff)>> = HashMap::new();
                for entry in &right {
                    by_key.entry(eval_key(&entry.0, right_key)?).or_default().push(entry);
                }
                let mut out = Vec::new();
                for (lrow, ldiff) in &left {
                    if let Some(matches) = by_key.get(&eval_key(lrow, left_key)?) {
                        for (rrow, rdiff) in matches.iter().map(|e| (&e.0, e.1)) {
                            out.push((lrow.concat(rrow), ldiff * rdiff));
                        }
                        self.check_rows(out.len(), "a join")?;
                    }
                }
                consolidate(out)
            }
            RelationExpr::Reduce { input: inner, group_key, aggregates } => {
                let mut out = Vec::new();
                for (key, rows) in partitions(self.eval(inner)?, group_key) {
                    let refs: Vec<(&Row, Diff)> = rows.iter().map(|(r, d)| (r, *d)).collect();
                    out.push((reduce_group(group_key, &key, &refs, aggregates)?, 1));
                }
                out
            }
            RelationExpr::Distinct { input: inner } => {
                let rows = self.eval(inner)?;
                for (_, diff) in &rows {
                    check_positive(*diff, "DISTINCT")?;
                }
                keep_per_sql_class(rows, distinct_count)
            }
            RelationExpr::Union { inputs } => {
                let mut all = Vec::new();
                for i in inputs {
                    all.extend(self.eval(i)?);
                }
                consolidate(all)
            }
            RelationExpr::Negate { input: inner } => self.eval(inner)?.into_iter().map(|(r, d)| (r, -d)).collect(),
            RelationExpr::Threshold { input: inner } => keep_per_sql_class(self.eval(inner)?, threshold_count),
            RelationExpr::TopK { input: inner, group_key, order, limit, offset } => {
                let mut out = Vec::new();
                for (_, rows) in partitions(self.eval(inner)?, group_key) {
                    let refs: Vec<(&Row, Diff)> = rows.iter().map(|(r, d)| (r, *d)).collect();
                    out.extend(top_k(&refs, order, *limit, *offset));
                }
                out
            }
            RelationExpr::Window { input: inner, partition_key, order, funcs } => {
                let mut out = Vec::new();
                for (_, rows) in partitions(self.eval(inner)?, partition_key) {
                    let refs: Vec<(&Row, Diff)> = rows.iter().map(|(r, d)| (r, *d)).collect();
                    out.extend(crate::window::window_partition(&refs, order, funcs)?);
                }
                consolidate(out)
            }
            RelationExpr::Recursive { id, name, base, step, distinct, max_rounds } => {
                self.eval_recursive(*id, name, base, step, *distinct, *max_rounds)?
            }
            RelationExpr::WorkingTable { id, .. } => {
                self.working_tables.borrow().get(id).cloned().ok_or_else(|| {
                    EvalError::Internal(format!("working table {id} read outside its recursive query"))
                })?
            }
        })
    }

    /// PostgreSQL's evaluation of a recursive query: `step` reads only the rows the last
    /// round added; with `distinct`, rows SQL-equal to earlier ones are dropped (the first
    /// written form is kept).
    fn eval_recursive(
        &self,
        id: u64,
        name: &str,
        base: &RelationExpr,
        step: &RelationExpr,
        distinct: bool,
        max_rounds: u64,
    ) -> Result<Collection, EvalError> {
        let mut seen = std::collections::HashSet::new();
        let mut keep_new = |rows: Collection| -> Result<Collection, EvalError> {
            if !distinct {
                return Ok(rows);
            }
            let mut out = Vec::new();
            for (row, diff) in rows {
                check_positive(diff, "UNION")?;
                if seen.insert(row.clone().sql_normalized()) {
                    out.push((row, 1));
                }
            }
            Ok(out)
        };
        let mut added = keep_new(self.eval(base)?)?;
        let mut all = added.clone();
        let mut rounds = 0;
        while !added.is_empty() {
            rounds += 1;
            if rounds > max_rounds {
                return Err(RelationExpr::recursion_limit_error(name, max_rounds));
            }
            let shadowed = self.working_tables.borrow_mut().insert(id, added);
            let made = self.eval(step);
            let mut tables = self.working_tables.borrow_mut();
            match shadowed {
                Some(outer) => tables.insert(id, outer),
                None => tables.remove(&id),
            };
            drop(tables);
            added = keep_new(made?)?;
            all.extend(added.iter().cloned());
            self.check_rows(all.len(), "a recursive query")?;
        }
        Ok(consolidate(all))
    }
}

/// The reads [`evaluate_pushdown`] makes for `expr`, in its order: each `Get` with the
/// per-row steps above it. Reading them first lets a caller take its snapshot of every
/// input at once and evaluate the rest later, elsewhere ([`evaluate_prefetched`]).
pub fn pushdown_reads(expr: &RelationExpr, out: &mut Vec<(GlobalId, Pipeline)>) {
    if let Some(read) = Pipeline::split_reduce(expr).or_else(|| Pipeline::split(expr)) {
        out.push(read);
    } else if let RelationExpr::Get { id, .. } = expr {
        out.push((*id, Pipeline::default()));
    } else {
        for child in expr.children() {
            pushdown_reads(child, out);
        }
    }
}

/// Evaluates `expr` over `reads`: the rows of each of its [`pushdown_reads`], in that
/// order.
pub fn evaluate_prefetched(
    expr: &RelationExpr,
    reads: Vec<Collection>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Collection, EvalError> {
    let mut recursive = false;
    expr.visit(&mut |e| recursive |= matches!(e, RelationExpr::Recursive { .. }));
    if !recursive {
        let reads = std::cell::RefCell::new(reads.into_iter());
        let input = |_: GlobalId, _: &Pipeline| {
            reads.borrow_mut().next().ok_or_else(|| EvalError::Internal("a read was not prefetched".into()))
        };
        return Evaluator::new(&input, cancelled).eval(expr);
    }
    // A recursive query reads its inputs once per round: each read is looked up, not consumed.
    let mut wanted = Vec::new();
    pushdown_reads(expr, &mut wanted);
    let prefetched: Vec<((GlobalId, Pipeline), Collection)> = wanted.into_iter().zip(reads).collect();
    let input = |id: GlobalId, pipeline: &Pipeline| {
        prefetched
            .iter()
            .find(|((i, p), _)| *i == id && p == pipeline)
            .map(|(_, rows)| rows.clone())
            .ok_or_else(|| EvalError::Internal("a read was not prefetched".into()))
    };
    Evaluator::new(&input, cancelled).eval(expr)
}

/// Appends the values of `scalars` to `row`, each seeing the ones before it.
pub fn map_row(row: Row, scalars: &[ScalarExpr]) -> Result<Row, EvalError> {
    let mut datums = row.into_datums();
    for s in scalars {
        let v = s.eval(&datums)?;
        datums.push(v);
    }
    Ok(Row::new(datums))
}

/// True if every predicate holds (NULL is false).
pub fn passes(row: &[Datum], predicates: &[ScalarExpr]) -> Result<bool, EvalError> {
    for p in predicates {
        if !p.eval_predicate(row)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Evaluates join key expressions into the key row to match by: SQL-equal values written
/// differently (`1.0`, `1.00`) become one key ([`Row::sql_normalized`]).
pub fn eval_key(row: &[Datum], key: &[ScalarExpr]) -> Result<Row, EvalError> {
    key.iter().map(|k| k.eval(row)).collect::<Result<Vec<_>, _>>().map(|k| Row::new(k).sql_normalized())
}

/// The rows grouped by their SQL-normalized `key` columns (the map's keys).
pub(crate) fn partitions(rows: Collection, key: &[usize]) -> BTreeMap<Row, Vec<(Row, Diff)>> {
    let mut groups: BTreeMap<Row, Vec<(Row, Diff)>> = BTreeMap::new();
    for (row, diff) in rows {
        groups.entry(row.project(key).sql_normalized()).or_default().push((row, diff));
    }
    groups
}

/// The rows of one group a TopK keeps: sorted by `order`, ties by the whole row (so the
/// result does not depend on arrival order), `offset` copies skipped, `limit` kept.
pub fn top_k(rows: &[(&Row, Diff)], order: &[ColumnOrder], limit: Option<usize>, offset: usize) -> Vec<(Row, Diff)> {
    let mut sorted: Vec<(&Row, Diff)> = rows.iter().filter(|(_, d)| *d > 0).copied().collect();
    sorted.sort_by(|a, b| compare_rows(a.0, b.0, order).then_with(|| a.0.cmp(b.0)));
    let mut skip = Diff::try_from(offset).unwrap_or(Diff::MAX);
    let mut left = limit.map_or(Diff::MAX, |l| Diff::try_from(l).unwrap_or(Diff::MAX));
    let mut out = Vec::new();
    for (row, count) in sorted {
        if left == 0 {
            break;
        }
        let skipped = count.min(skip);
        skip -= skipped;
        let take = (count - skipped).min(left);
        if take > 0 {
            out.push((row.clone(), take));
            left -= take;
        }
    }
    out
}

/// How many copies of a row DISTINCT keeps, given how many there are.
pub fn distinct_count(count: Diff) -> Diff {
    if count > 0 {
        1
    } else {
        0
    }
}

/// How many copies of a row a threshold (EXCEPT, INTERSECT) keeps: none of a negative count.
pub fn threshold_count(count: Diff) -> Diff {
    count.max(0)
}

/// DISTINCT or threshold over a consolidated collection, where rows that are SQL-equal
/// but written differently (twins) count as one row, as in PostgreSQL.
fn keep_per_sql_class(rows: Collection, wanted: fn(Diff) -> Diff) -> Collection {
    let mut out = Vec::new();
    let mut classes: BTreeMap<Row, Vec<(Row, Diff)>> = BTreeMap::new();
    for (row, diff) in rows {
        if row.has_twins() {
            classes.entry(row.clone().sql_normalized()).or_default().push((row, diff));
        } else {
            let keep = wanted(diff);
            if keep != 0 {
                out.push((row, keep));
            }
        }
    }
    for mut class in classes.into_values() {
        class.sort();
        let refs: Vec<(&Row, Diff)> = class.iter().map(|(r, d)| (r, *d)).collect();
        out.extend(keep_of_twins(&refs, wanted));
    }
    out
}

/// The rows a DISTINCT or threshold keeps of one class of SQL-equal rows (`rows`, sorted,
/// with their counts): `wanted(total count)` copies, taken from the rows with a positive
/// count, smallest first, never more of a row than it has. Keeping only rows that are
/// there keeps `l - threshold(l - r)` (INTERSECT ALL) free of negative counts.
pub fn keep_of_twins(rows: &[(&Row, Diff)], wanted: fn(Diff) -> Diff) -> Vec<(Row, Diff)> {
    let total = wanted(rows.iter().map(|(_, d)| *d).sum());
    top_k(rows, &[], Some(usize::try_from(total).unwrap_or(0)), 0)
}

/// A negative multiplicity reaching an operator that needs sets means the plan is wrong.
pub fn check_positive(diff: Diff, operator: &str) -> Result<(), EvalError> {
    if diff < 0 {
        return Err(EvalError::Internal(format!("negative multiplicity {diff} reached {operator}")));
    }
    Ok(())
}

/// One output row of a grouped aggregation: the group key, then each aggregate folded over
/// the group's rows (with their multiplicities). `key` is the group's normalized key; the
/// row shows the smallest of the group's own keys (`1.0` of a group holding `1.0` and
/// `1.00`), as values in the group are written.
pub fn reduce_group(
    group_key: &[usize],
    key: &Row,
    rows: &[(&Row, Diff)],
    aggregates: &[AggregateExpr],
) -> Result<Row, EvalError> {
    let shown = match key.has_twins() {
        true => rows.iter().map(|(row, _)| row.project(group_key)).min().unwrap_or_else(|| key.clone()),
        false => key.clone(),
    };
    let mut out: Vec<Datum> = shown.into_datums();
    for agg in aggregates {
        out.push(agg.fold(rows)?);
    }
    Ok(Row::new(out))
}

/// Upper bound on rows one table-function call may produce, so a typo such as
/// `generate_series(1, 1e12)` is an error rather than an out-of-memory crash (rows are
/// held in memory: 20M narrow rows take a few GB).
pub const MAX_TABLE_FUNC_ROWS: i64 = 20_000_000;

/// Upper bound on the rows a join or table function of an ad-hoc query may hold while it
/// is evaluated in memory, for the same reason.
pub const MAX_INTERMEDIATE_ROWS: usize = MAX_TABLE_FUNC_ROWS as usize;

fn check_intermediate_rows(rows: usize, what: &str) -> Result<(), EvalError> {
    if rows > MAX_INTERMEDIATE_ROWS {
        return Err(EvalError::InvalidArgument {
            sqlstate: "54000".into(),
            message: format!(
                "{what} would hold more than {MAX_INTERMEDIATE_ROWS} rows in memory; narrow the query \
                 (ad-hoc queries are evaluated in memory)"
            ),
        });
    }
    Ok(())
}

/// The rows a table function returns for one input row: the columns it adds to it.
pub fn expand_table_func(func: &TableFunc, args: &[ScalarExpr], row: &[Datum]) -> Result<Vec<Vec<Datum>>, EvalError> {
    let values: Vec<Datum> = args.iter().map(|a| a.eval(row)).collect::<Result<_, _>>()?;
    expand_values(func, values)
}

fn expand_values(func: &TableFunc, values: Vec<Datum>) -> Result<Vec<Vec<Datum>>, EvalError> {
    if let TableFunc::Zip(funcs) = func {
        let mut values = values.into_iter();
        let mut outputs = Vec::with_capacity(funcs.len());
        for (f, n) in funcs {
            let rows = expand_values(f, values.by_ref().take(*n).collect())?;
            outputs.push((rows, f.output_types().len()));
        }
        let longest = outputs.iter().map(|(rows, _)| rows.len()).max().unwrap_or(0);
        return Ok((0..longest)
            .map(|i| {
                outputs
                    .iter()
                    .flat_map(|(rows, width)| rows.get(i).cloned().unwrap_or_else(|| vec![Datum::Null; *width]))
                    .collect()
            })
            .collect());
    }
    if let TableFunc::JsonbEach { text } = func {
        return jsonb_each(values, *text);
    }
    if let TableFunc::JsonArrayElements { .. } | TableFunc::JsonEach { .. } | TableFunc::JsonObjectKeys = func {
        return crate::func::json_table(func, values.first());
    }
    if let TableFunc::JsonbToRecord { set, columns } = func {
        return jsonb_to_record(values, *set, columns);
    }
    if let TableFunc::WithOrdinality(inner) = func {
        let rows = expand_values(inner, values)?;
        return Ok((rows.into_iter().zip(1..))
            .map(|(mut row, n)| {
                row.push(Datum::Int64(n));
                row
            })
            .collect());
    }
    Ok(single_column(func, values)?.into_iter().map(|d| vec![d]).collect())
}

/// A JSON value as `->>` gives it: strings unquoted, `null` as NULL.
fn json_text(j: Jsonb) -> Datum {
    match j {
        Jsonb::Null => Datum::Null,
        Jsonb::String(s) => Datum::Text(s),
        other => Datum::Text(jsonb_to_string(&other)),
    }
}

fn json_value(j: Jsonb, text: bool) -> Datum {
    if text {
        json_text(j)
    } else {
        Datum::Jsonb(j)
    }
}

/// PostgreSQL's "cannot call f on a scalar/an array" error (SQLSTATE 22023).
fn json_shape_error(what: &str, j: &Jsonb) -> EvalError {
    let shape = match j {
        Jsonb::Array(_) => "an array",
        Jsonb::Object(_) => "an object",
        _ => "a scalar",
    };
    EvalError::invalid_argument(format!("{what} {shape}"))
}

fn jsonb_each(values: Vec<Datum>, text: bool) -> Result<Vec<Vec<Datum>>, EvalError> {
    match values.into_iter().next() {
        Some(Datum::Jsonb(Jsonb::Object(members))) => {
            Ok(members.into_iter().map(|(key, value)| vec![Datum::Text(key.0), json_value(value, text)]).collect())
        }
        Some(Datum::Jsonb(_)) => {
            let name = if text { "jsonb_each_text" } else { "jsonb_each" };
            Err(EvalError::invalid_argument(format!("cannot call {name} on a non-object")))
        }
        _ => Ok(vec![]),
    }
}

/// `jsonb_to_record[set]`'s rows: each object's members named by `columns`, read as
/// their types read text (a JSON string's contents, any other value's JSON text); a
/// missing member or JSON null is NULL. As PostgreSQL's: a NULL argument is one row of
/// NULLs (no rows for the set).
fn jsonb_to_record(
    values: Vec<Datum>,
    set: bool,
    columns: &[(String, ScalarType)],
) -> Result<Vec<Vec<Datum>>, EvalError> {
    let record = |object: &[(JsonKey, Jsonb)]| -> Result<Vec<Datum>, EvalError> {
        columns
            .iter()
            .map(|(name, ty)| match object.iter().find(|(key, _)| key.0 == *name) {
                Some((_, value)) => json_as(value, ty),
                None => Ok(Datum::Null),
            })
            .collect()
    };
    match (values.into_iter().next(), set) {
        (Some(Datum::Jsonb(Jsonb::Object(members))), false) => Ok(vec![record(&members)?]),
        (Some(Datum::Jsonb(other)), false) => Err(json_shape_error("cannot call populate_composite on", &other)),
        (Some(Datum::Jsonb(Jsonb::Array(elements))), true) => elements
            .iter()
            .map(|e| match e {
                Jsonb::Object(members) => record(members),
                _ => Err(EvalError::invalid_argument("argument of jsonb_to_recordset must be an array of objects")),
            })
            .collect(),
        (Some(Datum::Jsonb(_)), true) => {
            Err(EvalError::invalid_argument("cannot call jsonb_to_recordset on a non-array"))
        }
        (_, false) => Ok(vec![vec![Datum::Null; columns.len()]]),
        (_, true) => Ok(vec![]),
    }
}

/// A JSON value as a column of type `ty`: arrays element by element into array types,
/// anything else through the type's text input.
fn json_as(value: &Jsonb, ty: &ScalarType) -> Result<Datum, EvalError> {
    let parse = |text: &str| strconv::parse_datum(text, ty).map_err(EvalError::from);
    match (value, ty) {
        (Jsonb::Null, _) => Ok(Datum::Null),
        (_, ScalarType::Jsonb) => Ok(Datum::Jsonb(value.clone())),
        (Jsonb::Array(elements), ScalarType::Array(element)) if !matches!(**element, ScalarType::Array(_)) => {
            if elements.iter().any(|e| matches!(e, Jsonb::Array(_))) {
                let message = "multidimensional arrays are not supported yet";
                return Err(EvalError::InvalidArgument { sqlstate: "0A000".into(), message: message.into() });
            }
            Ok(Datum::Array(elements.iter().map(|e| json_as(e, element)).collect::<Result<_, _>>()?))
        }
        (Jsonb::String(s), _) => parse(s),
        (other, _) => parse(&jsonb_to_string(other)),
    }
}

/// The values a one-column table function returns for argument values `values`.
fn single_column(func: &TableFunc, values: Vec<Datum>) -> Result<Vec<Datum>, EvalError> {
    if values.iter().any(Datum::is_null) {
        return Ok(vec![]);
    }
    match func {
        TableFunc::Zip(_) | TableFunc::WithOrdinality(_) | TableFunc::JsonbToRecord { .. } => {
            Err(EvalError::Internal(format!("{func:?} does not return a single column")))
        }
        TableFunc::GenerateSubscripts { lower } => match (values.first(), values.get(1).and_then(Datum::as_i64)) {
            (Some(Datum::Array(elements)), Some(1)) if !elements.is_empty() => {
                Ok((0..elements.len() as i32).map(|i| Datum::Int32(lower + i)).collect())
            }
            _ => Ok(vec![]),
        },
        TableFunc::JsonbArrayElements { text } => match values.into_iter().next() {
            Some(Datum::Jsonb(Jsonb::Array(elements))) => {
                Ok(elements.into_iter().map(|e| json_value(e, *text)).collect())
            }
            Some(Datum::Jsonb(other)) => Err(json_shape_error("cannot extract elements from", &other)),
            _ => Ok(vec![]),
        },
        TableFunc::JsonbObjectKeys => match values.into_iter().next() {
            Some(Datum::Jsonb(Jsonb::Object(members))) => {
                Ok(members.into_iter().map(|(key, _)| Datum::Text(key.0)).collect())
            }
            Some(Datum::Jsonb(other)) => Err(json_shape_error("cannot call jsonb_object_keys on", &other)),
            _ => Ok(vec![]),
        },
        TableFunc::JsonbEach { .. }
        | TableFunc::JsonEach { .. }
        | TableFunc::JsonArrayElements { .. }
        | TableFunc::JsonObjectKeys => Err(EvalError::Internal(format!("{func:?} is expanded row by row"))),
        TableFunc::RegexpMatches => match values.as_slice() {
            [Datum::Text(src), Datum::Text(pattern)] => crate::func::regexp_matches(src, pattern, ""),
            [Datum::Text(src), Datum::Text(pattern), Datum::Text(flags)] => {
                crate::func::regexp_matches(src, pattern, flags)
            }
            _ => Err(EvalError::Internal(format!("regexp_matches of {values:?}"))),
        },
        TableFunc::Unnest(_) => match values.into_iter().next() {
            Some(Datum::Array(elements)) => Ok(elements),
            _ => Ok(vec![]),
        },
        TableFunc::GenerateSeriesInt(ty) => {
            let start = values[0].as_i64().unwrap_or(0);
            let stop = values[1].as_i64().unwrap_or(0);
            let step = values.get(2).and_then(Datum::as_i64).unwrap_or(1);
            if step == 0 {
                return Err(EvalError::invalid_argument("step size cannot equal zero"));
            }
            let count = if (step > 0 && start > stop) || (step < 0 && start < stop) {
                0
            } else {
                ((stop as i128 - start as i128) / step as i128 + 1) as i64
            };
            if count > MAX_TABLE_FUNC_ROWS {
                return Err(EvalError::InvalidArgument {
                    sqlstate: "54000".into(),
                    message: format!(
                        "generate_series would return {count} rows, more than the limit of {MAX_TABLE_FUNC_ROWS}"
                    ),
                });
            }
            Ok((0..count)
                .map(|i| {
                    let v = start + i * step;
                    match ty {
                        ScalarType::Int16 => Datum::Int16(v as i16),
                        ScalarType::Int32 => Datum::Int32(v as i32),
                        _ => Datum::Int64(v),
                    }
                })
                .collect())
        }
        TableFunc::GenerateSeriesTimestamp(_) => {
            let (Some(step), true) = (interval_of(&values[2]), values.len() == 3) else {
                return Err(EvalError::Internal("generate_series over timestamps needs an interval step".into()));
            };
            if step.as_total_micros() == 0 {
                return Err(EvalError::invalid_argument("step size cannot equal zero"));
            }
            let mut out = Vec::new();
            let mut current = values[0].clone();
            let forward = step.as_total_micros() > 0;
            loop {
                let past_end = if forward { current > values[1] } else { current < values[1] };
                if past_end {
                    break;
                }
                if out.len() as i64 >= MAX_TABLE_FUNC_ROWS {
                    return Err(EvalError::InvalidArgument {
                        sqlstate: "54000".into(),
                        message: format!("generate_series would return more than {MAX_TABLE_FUNC_ROWS} rows"),
                    });
                }
                let next = add_interval(&current, &step)?;
                out.push(current);
                current = next;
            }
            Ok(out)
        }
    }
}

fn interval_of(d: &Datum) -> Option<eddy_repr::Interval> {
    match d {
        Datum::Interval(i) => Some(*i),
        _ => None,
    }
}

fn add_interval(ts: &Datum, step: &eddy_repr::Interval) -> Result<Datum, EvalError> {
    let op = crate::func::resolve_binary_operator(
        "+",
        Some(match ts {
            Datum::TimestampTz(_) => ScalarType::timestamptz(),
            _ => ScalarType::timestamp(),
        }),
        Some(ScalarType::Interval),
    )
    .map_err(|e| EvalError::Internal(e.to_string()))?;
    op.func.eval(&[ts.clone(), Datum::Interval(*step)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AggregateFunc;

    fn int_rows(values: &[(i64, i64)]) -> Collection {
        values.iter().map(|(v, d)| (Row::new(vec![Datum::Int64(*v)]), *d)).collect()
    }

    #[test]
    fn threshold_implements_except_all() {
        let l = RelationExpr::Constant { rows: int_rows(&[(1, 3), (2, 1)]), arity: 1 };
        let r = RelationExpr::Constant { rows: int_rows(&[(1, 1), (2, 2)]), arity: 1 };
        let except_all = l.union(r.negate()).threshold();
        let out = evaluate(&except_all, &|_| Ok(vec![])).unwrap();
        assert_eq!(out, int_rows(&[(1, 2)]));
    }

    fn numerics(values: &[(i64, u32, i64)]) -> Collection {
        let num = |m: i64, s: u32| Datum::Numeric(rust_decimal::Decimal::new(m, s));
        values.iter().map(|(m, s, d)| (Row::new(vec![num(*m, *s)]), *d)).collect()
    }

    /// `1.0` and `1.00` are one value to DISTINCT, GROUP BY, joins and set operations (as in
    /// PostgreSQL), yet each row keeps how it is written.
    #[test]
    fn twins_are_one_value_to_grouping_and_matching() {
        let eval = |e: &RelationExpr| consolidate(evaluate(e, &|_| Ok(vec![])).unwrap());
        let constant = |rows| RelationExpr::Constant { rows, arity: 1 };
        let twins = constant(numerics(&[(10, 1, 1), (100, 2, 2), (2, 0, 1)]));
        assert_eq!(eval(&twins.clone().distinct()), numerics(&[(10, 1, 1), (2, 0, 1)]));
        let counts = eval(
            &twins
                .clone()
                .reduce(vec![0], vec![AggregateExpr::new(AggregateFunc::CountRows, ScalarExpr::Column(0), false)]),
        );
        let shown: Vec<String> = counts.iter().map(|(r, _)| format!("{:?}", r.to_vec())).collect();
        assert_eq!(shown, ["[Numeric(1.0), Int64(3)]", "[Numeric(2), Int64(1)]"]);
        let other = constant(numerics(&[(1, 0, 1)]));
        let joined = eval(&twins.clone().join(other.clone(), vec![ScalarExpr::Column(0)], vec![ScalarExpr::Column(0)]));
        assert_eq!(joined.iter().map(|(_, d)| d).sum::<Diff>(), 3, "1 matches 1.0 and both 1.00");
        let except_all = eval(&twins.clone().union(other.clone().negate()).threshold());
        assert_eq!(except_all, numerics(&[(10, 1, 1), (100, 2, 1), (2, 0, 1)]));
        let intersect_all = twins.clone().union(twins.union(other.negate()).threshold().negate());
        assert_eq!(eval(&intersect_all), numerics(&[(100, 2, 1)]), "one row, none negative");
    }

    #[test]
    fn join_matches_equal_keys() {
        let l = RelationExpr::Constant { rows: int_rows(&[(1, 1), (2, 1)]), arity: 1 };
        let r = RelationExpr::Constant { rows: int_rows(&[(1, 2)]), arity: 1 };
        let j = l.join(r, vec![ScalarExpr::Column(0)], vec![ScalarExpr::Column(0)]);
        let out = evaluate(&j, &|_| Ok(vec![])).unwrap();
        assert_eq!(out, vec![(Row::new(vec![Datum::Int64(1), Datum::Int64(1)]), 2)]);
    }

    #[test]
    fn reduce_counts_distinct() {
        let input = RelationExpr::Constant { rows: int_rows(&[(1, 2), (2, 1)]), arity: 1 };
        let agg = AggregateExpr::new(AggregateFunc::Count, ScalarExpr::Column(0), true);
        let out = evaluate(&input.reduce(vec![], vec![agg]), &|_| Ok(vec![])).unwrap();
        assert_eq!(out, vec![(Row::new(vec![Datum::Int64(2)]), 1)]);
    }

    #[test]
    fn generate_series_int() {
        let args = vec![
            ScalarExpr::Literal(Datum::Int32(1), ScalarType::Int32),
            ScalarExpr::Literal(Datum::Int32(7), ScalarType::Int32),
            ScalarExpr::Literal(Datum::Int32(3), ScalarType::Int32),
        ];
        let out = expand_table_func(&TableFunc::GenerateSeriesInt(ScalarType::Int32), &args, &[]).unwrap();
        assert_eq!(out, vec![vec![Datum::Int32(1)], vec![Datum::Int32(4)], vec![Datum::Int32(7)]]);
    }
}
