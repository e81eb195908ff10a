//! `RelationExpr`: a relational plan over catalog collections, as multisets of rows.

use eddy_repr::{Datum, Diff, GlobalId, Row, ScalarType};
use serde::{Deserialize, Serialize};

use crate::{AggregateExpr, ScalarExpr, WindowExpr};

/// A relational expression. Every operator has a direct incremental counterpart in
/// `compute`; SQL constructs without one (outer joins, set operations, global aggregates
/// over empty input) are lowered by the planner into these.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RelationExpr {
    /// The contents of a table, source or view.
    Get { id: GlobalId, name: String, arity: usize },
    /// Literal rows.
    Constant { rows: Vec<(Row, Diff)>, arity: usize },
    /// Keeps the columns at `outputs`, in that order (repeats allowed).
    Project { input: Box<RelationExpr>, outputs: Vec<usize> },
    /// Appends one column per scalar; each scalar sees the columns appended before it.
    Map { input: Box<RelationExpr>, scalars: Vec<ScalarExpr> },
    /// Keeps rows for which every predicate is true.
    Filter { input: Box<RelationExpr>, predicates: Vec<ScalarExpr> },
    /// Appends the rows a table function returns for each input row.
    FlatMap { input: Box<RelationExpr>, func: TableFunc, args: Vec<ScalarExpr> },
    /// Pairs of rows whose keys are equal (NULL equals NULL here: SQL's `=` is enforced by
    /// the planner filtering NULL keys). Output: left columns, then right columns.
    Join { left: Box<RelationExpr>, right: Box<RelationExpr>, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr> },
    /// Groups by the `group_key` columns; output: the key columns, then one column per
    /// aggregate. No group, no row (global aggregates over empty input are the planner's).
    Reduce { input: Box<RelationExpr>, group_key: Vec<usize>, aggregates: Vec<AggregateExpr> },
    /// Each distinct row once.
    Distinct { input: Box<RelationExpr> },
    /// Multiset sum.
    Union { inputs: Vec<RelationExpr> },
    /// Negated multiplicities.
    Negate { input: Box<RelationExpr> },
    /// Keeps rows with positive multiplicity (`max(0, n)`).
    Threshold { input: Box<RelationExpr> },
    /// Per group of `group_key` (SQL-equal keys are one group), the rows in `order`
    /// (ties broken by the whole row), skipping `offset` and keeping `limit`: `LIMIT` in a
    /// view or subquery (no group key) and `DISTINCT ON` (limit 1).
    TopK {
        input: Box<RelationExpr>,
        group_key: Vec<usize>,
        order: Vec<ColumnOrder>,
        limit: Option<usize>,
        offset: usize,
    },
    /// Appends one column per window function, computed over the rows of each partition
    /// (SQL-equal `partition_key`s are one partition) in `order`.
    Window { input: Box<RelationExpr>, partition_key: Vec<usize>, order: Vec<ColumnOrder>, funcs: Vec<WindowExpr> },
    /// `WITH RECURSIVE name AS (base UNION [ALL] step)`, evaluated as PostgreSQL does: the
    /// rows of `base`, then round after round the rows `step` makes from the rows the
    /// previous round added (its [`RelationExpr::WorkingTable`]), until a round adds none.
    /// With `distinct` (UNION), a row equal to one already added is not added again. A
    /// query still adding rows after `max_rounds` rounds is an error, not an endless loop.
    Recursive {
        id: u64,
        name: String,
        base: Box<RelationExpr>,
        step: Box<RelationExpr>,
        distinct: bool,
        max_rounds: u64,
    },
    /// Inside the `step` of the [`RelationExpr::Recursive`] with this `id`: the rows the
    /// previous round added (PostgreSQL's working table).
    WorkingTable { id: u64, arity: usize },
}

/// Rounds a recursive query may take before it is stopped with an error (PostgreSQL
/// would loop until cancelled).
pub const MAX_RECURSION_ROUNDS: u64 = 10_000;

impl RelationExpr {
    /// The error a recursive query that never stops adding rows ends with.
    pub fn recursion_limit_error(name: &str, max_rounds: u64) -> crate::EvalError {
        crate::EvalError::InvalidArgument {
            sqlstate: "54000".into(),
            message: format!(
                "recursive query \"{name}\" was still adding rows after {max_rounds} rounds (does its recursive term ever return no rows?)"
            ),
        }
    }
}

/// One ORDER BY key: a column, its direction and where NULLs go.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColumnOrder {
    pub column: usize,
    pub desc: bool,
    pub nulls_last: bool,
}

/// Compares two rows by `order` (PostgreSQL's ORDER BY; equal rows compare equal).
pub fn compare_rows(a: &[Datum], b: &[Datum], order: &[ColumnOrder]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for o in order {
        let (x, y) = (&a[o.column], &b[o.column]);
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if o.nulls_last => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, true) if o.nulls_last => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) if o.desc => y.cmp(x),
            (false, false) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A set-returning function usable in FROM.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableFunc {
    /// `generate_series(start, stop [, step])` over integers of the given type.
    GenerateSeriesInt(ScalarType),
    /// `generate_series(start, stop, step interval)` over timestamps or timestamptz.
    GenerateSeriesTimestamp(ScalarType),
    /// `unnest(array)`: one row per element (NULLs too), in order; the element type.
    Unnest(ScalarType),
    /// `generate_subscripts(array, dim)`: the array's subscripts, from its lower bound.
    GenerateSubscripts {
        lower: i32,
    },
    /// `jsonb_array_elements[_text](j)`: one row per element of a JSON array, as jsonb
    /// (or, `text`, as `->>` gives it).
    JsonbArrayElements {
        text: bool,
    },
    /// `jsonb_each[_text](j)`: one row (key, value) per member of a JSON object.
    JsonbEach {
        text: bool,
    },
    /// `jsonb_object_keys(j)`: one row per key of a JSON object.
    JsonbObjectKeys,
    /// The `json` forms: `json_array_elements[_text]`, `json_each[_text]` and
    /// `json_object_keys`, values as written in the document.
    JsonArrayElements {
        text: bool,
    },
    JsonEach {
        text: bool,
    },
    JsonObjectKeys,
    /// `regexp_matches(s, pattern [, flags])`: a `text[]` of each match's groups.
    RegexpMatches,
    /// `jsonb_to_record(j) AS x(name type, ...)`: a JSON object's members as the named,
    /// typed columns; `set`: `jsonb_to_recordset`, a row per object of a JSON array.
    JsonbToRecord {
        set: bool,
        columns: Vec<(String, ScalarType)>,
    },
    /// Set-returning functions of a select list, run side by side: row i holds each
    /// one's i-th value, NULL for those that gave fewer (PostgreSQL 10's rule). Each
    /// function reads the next `usize` arguments.
    Zip(Vec<(TableFunc, usize)>),
    /// `... WITH ORDINALITY`: the function's rows, each followed by its 1-based number.
    WithOrdinality(Box<TableFunc>),
}

impl TableFunc {
    /// The types of the columns the function adds to each input row.
    pub fn output_types(&self) -> Vec<ScalarType> {
        match self {
            TableFunc::GenerateSeriesInt(t) | TableFunc::GenerateSeriesTimestamp(t) | TableFunc::Unnest(t) => {
                vec![t.clone()]
            }
            TableFunc::GenerateSubscripts { .. } => vec![ScalarType::Int32],
            TableFunc::JsonbArrayElements { text } => vec![json_value_type(*text)],
            TableFunc::JsonbEach { text } => vec![ScalarType::Text, json_value_type(*text)],
            TableFunc::JsonbObjectKeys | TableFunc::JsonObjectKeys => vec![ScalarType::Text],
            TableFunc::JsonArrayElements { text: false } => vec![ScalarType::Json],
            TableFunc::JsonEach { text: false } => vec![ScalarType::Text, ScalarType::Json],
            TableFunc::JsonArrayElements { text: true } => vec![ScalarType::Text],
            TableFunc::JsonEach { text: true } => vec![ScalarType::Text, ScalarType::Text],
            TableFunc::RegexpMatches => vec![ScalarType::Array(Box::new(ScalarType::Text))],
            TableFunc::JsonbToRecord { columns, .. } => columns.iter().map(|(_, ty)| ty.clone()).collect(),
            TableFunc::Zip(funcs) => funcs.iter().flat_map(|(f, _)| f.output_types()).collect(),
            TableFunc::WithOrdinality(f) => f.output_types().into_iter().chain([ScalarType::Int64]).collect(),
        }
    }
}

fn json_value_type(text: bool) -> ScalarType {
    if text {
        ScalarType::Text
    } else {
        ScalarType::Jsonb
    }
}

impl RelationExpr {
    pub fn get(id: GlobalId, name: impl Into<String>, arity: usize) -> Self {
        RelationExpr::Get { id, name: name.into(), arity }
    }

    pub fn constant(rows: Vec<Row>, arity: usize) -> Self {
        RelationExpr::Constant { rows: rows.into_iter().map(|r| (r, 1)).collect(), arity }
    }

    pub fn project(self, outputs: Vec<usize>) -> Self {
        RelationExpr::Project { input: Box::new(self), outputs }
    }

    pub fn map(self, scalars: Vec<ScalarExpr>) -> Self {
        if scalars.is_empty() {
            return self;
        }
        RelationExpr::Map { input: Box::new(self), scalars }
    }

    pub fn filter(self, predicates: Vec<ScalarExpr>) -> Self {
        if predicates.is_empty() {
            return self;
        }
        RelationExpr::Filter { input: Box::new(self), predicates }
    }

    pub fn join(self, right: RelationExpr, left_key: Vec<ScalarExpr>, right_key: Vec<ScalarExpr>) -> Self {
        RelationExpr::Join { left: Box::new(self), right: Box::new(right), left_key, right_key }
    }

    pub fn reduce(self, group_key: Vec<usize>, aggregates: Vec<AggregateExpr>) -> Self {
        RelationExpr::Reduce { input: Box::new(self), group_key, aggregates }
    }

    pub fn distinct(self) -> Self {
        RelationExpr::Distinct { input: Box::new(self) }
    }

    pub fn negate(self) -> Self {
        RelationExpr::Negate { input: Box::new(self) }
    }

    pub fn threshold(self) -> Self {
        RelationExpr::Threshold { input: Box::new(self) }
    }

    pub fn top_k(self, group_key: Vec<usize>, order: Vec<ColumnOrder>, limit: Option<usize>, offset: usize) -> Self {
        RelationExpr::TopK { input: Box::new(self), group_key, order, limit, offset }
    }

    pub fn union(self, other: RelationExpr) -> Self {
        RelationExpr::Union { inputs: vec![self, other] }
    }

    /// Number of columns of the output.
    pub fn arity(&self) -> usize {
        match self {
            RelationExpr::Get { arity, .. }
            | RelationExpr::Constant { arity, .. }
            | RelationExpr::WorkingTable { arity, .. } => *arity,
            RelationExpr::Recursive { base, .. } => base.arity(),
            RelationExpr::Project { outputs, .. } => outputs.len(),
            RelationExpr::Map { input, scalars } => input.arity() + scalars.len(),
            RelationExpr::Filter { input, .. }
            | RelationExpr::Distinct { input }
            | RelationExpr::Negate { input }
            | RelationExpr::Threshold { input }
            | RelationExpr::TopK { input, .. } => input.arity(),
            RelationExpr::FlatMap { input, func, .. } => input.arity() + func.output_types().len(),
            RelationExpr::Window { input, funcs, .. } => input.arity() + funcs.len(),
            RelationExpr::Join { left, right, .. } => left.arity() + right.arity(),
            RelationExpr::Reduce { group_key, aggregates, .. } => group_key.len() + aggregates.len(),
            RelationExpr::Union { inputs } => inputs.first().map_or(0, |i| i.arity()),
        }
    }

    /// Every collection this expression reads, in first-use order, without repeats.
    pub fn depends_on(&self) -> Vec<GlobalId> {
        let mut ids = Vec::new();
        self.visit(&mut |e| {
            if let RelationExpr::Get { id, .. } = e {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
        });
        ids
    }

    /// Calls `f` on this expression and all its inputs, inputs first.
    pub fn visit(&self, f: &mut impl FnMut(&RelationExpr)) {
        for child in self.children() {
            child.visit(f);
        }
        f(self)
    }

    pub fn children(&self) -> Vec<&RelationExpr> {
        match self {
            RelationExpr::Get { .. } | RelationExpr::Constant { .. } | RelationExpr::WorkingTable { .. } => vec![],
            RelationExpr::Recursive { base, step, .. } => vec![base, step],
            RelationExpr::Project { input, .. }
            | RelationExpr::Map { input, .. }
            | RelationExpr::Filter { input, .. }
            | RelationExpr::FlatMap { input, .. }
            | RelationExpr::Reduce { input, .. }
            | RelationExpr::Distinct { input }
            | RelationExpr::Negate { input }
            | RelationExpr::Threshold { input }
            | RelationExpr::TopK { input, .. }
            | RelationExpr::Window { input, .. } => vec![input],
            RelationExpr::Join { left, right, .. } => vec![left, right],
            RelationExpr::Union { inputs } => inputs.iter().collect(),
        }
    }

    /// A row of `arity` NULLs (outer-join padding).
    pub fn null_row(arity: usize) -> Row {
        Row::new(vec![Datum::Null; arity])
    }

    /// An indented, human-readable rendering of the plan for EXPLAIN.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.explain_into(&mut out, 0);
        out
    }

    fn explain_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let line = match self {
            RelationExpr::Get { name, .. } => format!("Get {name}"),
            RelationExpr::Constant { rows, .. } => format!("Constant ({} rows)", rows.len()),
            RelationExpr::Project { outputs, .. } => format!("Project {}", cols(outputs)),
            RelationExpr::Map { scalars, .. } => format!("Map {}", exprs(scalars)),
            RelationExpr::Filter { predicates, .. } => format!("Filter {}", exprs(predicates)),
            RelationExpr::FlatMap { func, args, .. } => {
                format!("FlatMap {func:?}({})", exprs(args))
            }
            RelationExpr::Join { left_key, right_key, .. } if left_key.is_empty() => {
                let _ = right_key;
                "CrossJoin".to_string()
            }
            RelationExpr::Join { left_key, right_key, .. } => {
                format!("Join on {} = {}", exprs(left_key), exprs(right_key))
            }
            RelationExpr::Reduce { group_key, aggregates, .. } => {
                let aggs: Vec<String> = aggregates
                    .iter()
                    .map(|a| {
                        let distinct = if a.distinct { "DISTINCT " } else { "" };
                        format!("{}({distinct}{})", a.func.name(), crate::scalar::display(&a.expr))
                    })
                    .collect();
                format!("Reduce group_by={} aggregates=[{}]", cols(group_key), aggs.join(", "))
            }
            RelationExpr::Recursive { name, distinct, .. } => {
                format!("Recursive {name} ({})", if *distinct { "UNION" } else { "UNION ALL" })
            }
            RelationExpr::WorkingTable { .. } => "WorkingTable".to_string(),
            RelationExpr::Distinct { .. } => "Distinct".to_string(),
            RelationExpr::Union { .. } => "Union".to_string(),
            RelationExpr::Negate { .. } => "Negate".to_string(),
            RelationExpr::Threshold { .. } => "Threshold".to_string(),
            RelationExpr::TopK { group_key, order, limit, offset, .. } => {
                let limit = limit.map_or("ALL".to_string(), |l| l.to_string());
                format!("TopK group_by={} order_by={} limit={limit} offset={offset}", cols(group_key), orders(order))
            }
            RelationExpr::Window { partition_key, order, funcs, .. } => {
                let calls: Vec<String> = funcs.iter().map(|f| format!("{}{}", f.func.name(), cols(&f.args))).collect();
                format!(
                    "Window partition_by={} order_by={} functions=[{}]",
                    cols(partition_key),
                    orders(order),
                    calls.join(", ")
                )
            }
        };
        out.push_str(&pad);
        out.push_str(&line);
        out.push('\n');
        for child in self.children() {
            child.explain_into(out, depth + 1);
        }
    }
}

fn cols(columns: &[usize]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("#{c}")).collect();
    format!("[{}]", names.join(", "))
}

fn orders(order: &[ColumnOrder]) -> String {
    let keys: Vec<String> =
        order.iter().map(|o| format!("#{}{}", o.column, if o.desc { " DESC" } else { "" })).collect();
    format!("[{}]", keys.join(", "))
}

fn exprs(exprs: &[ScalarExpr]) -> String {
    let parts: Vec<String> = exprs.iter().map(crate::scalar::display).collect();
    format!("[{}]", parts.join(", "))
}
