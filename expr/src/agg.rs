//! Aggregate functions: how a group of values folds into one.

use eddy_repr::{Datum, Diff, Jsonb, Row, ScalarType};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{compare_rows, func::numeric_div, ColumnOrder, EvalError, ScalarExpr};

/// The bitwise aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BitwiseAgg {
    And,
    Or,
    Xor,
}

impl BitwiseAgg {
    /// `acc` combined with `value` occurring `times` times.
    fn fold(self, acc: i64, value: i64, times: Diff) -> i64 {
        match self {
            BitwiseAgg::And => acc & value,
            BitwiseAgg::Or => acc | value,
            BitwiseAgg::Xor if times % 2 == 0 => acc,
            BitwiseAgg::Xor => acc ^ value,
        }
    }
}

/// An aggregate function, resolved for its input type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AggregateFunc {
    /// `count(*)`: every row.
    CountRows,
    /// `count(x)`: non-NULL values.
    Count,
    /// `sum` of int2/int4 (bigint result).
    SumInt,
    /// `sum` of int8 or numeric (numeric result).
    SumNumeric,
    SumFloat,
    SumInterval,
    /// `avg` of integers or numeric (numeric result, PostgreSQL's division scale).
    AvgNumeric,
    AvgFloat,
    /// `avg` of intervals: their sum divided by their count, as interval / float8.
    AvgInterval,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    /// `bit_and`, `bit_or`, `bit_xor` of integers (of the input's type).
    Bitwise(BitwiseAgg),
    /// `string_agg(text, delimiter)`: the values joined, each after its own row's delimiter.
    StringAgg,
    /// `jsonb_agg(x)`: a jsonb array of every value (NULLs too), as `to_jsonb` of `ty`.
    JsonbAgg {
        ty: ScalarType,
        filtered: bool,
    },
    /// `jsonb_object_agg(key, value)`: an object of every pair; the key is the call's value
    /// (text), the value its second argument, as `to_jsonb` of `ty`.
    JsonbObjectAgg {
        ty: ScalarType,
        /// Under FILTER: keys come wrapped (`ARRAY[key]`), NULL for rows filtered out.
        filtered: bool,
    },
    /// `json_agg(x)`: a json array of every value (NULLs too), as `to_json` of `ty`;
    /// `rows` when the values are a FROM item's whole rows (each starts on a new line).
    JsonAgg {
        ty: ScalarType,
        filtered: bool,
        rows: bool,
    },
    /// `json_object_agg(key, value)`: as `jsonb_object_agg`, keeping every pair in order.
    JsonObjectAgg {
        ty: ScalarType,
        filtered: bool,
    },
    /// `array_agg(x)`: an array of every value (NULLs too), in the call's order.
    ArrayAgg {
        filtered: bool,
    },
    /// `percentile_cont(fraction) WITHIN GROUP (ORDER BY x)` of double precision values:
    /// interpolated between the two nearest values.
    PercentileCont,
    /// `percentile_disc(fraction) WITHIN GROUP (ORDER BY x)`: the first value whose
    /// position reaches the fraction.
    PercentileDisc,
    /// `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value (the first of equals).
    Mode,
    /// `var_samp`/`variance`, `var_pop`, `stddev`/`stddev_samp`, `stddev_pop` of integers
    /// and numerics (numeric result, PostgreSQL's scales).
    VarianceNumeric {
        sample: bool,
        sqrt: bool,
    },
    /// The same of floats (double precision result, PostgreSQL's Youngs-Cramer sums).
    VarianceFloat {
        sample: bool,
        sqrt: bool,
    },
    /// `corr(y, x)`, `covar_pop`, `covar_samp` and the `regr_*` family over the rows where
    /// both are non-NULL, as double precision (`regr_count`: bigint); y is the call's
    /// value, x its second argument.
    Regression(Regression),
}

/// Which statistic of the (y, x) pairs a [`AggregateFunc::Regression`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Regression {
    Corr,
    CovarPop,
    CovarSamp,
    Count,
    AvgX,
    AvgY,
    Sxx,
    Syy,
    Sxy,
    Slope,
    Intercept,
    R2,
}

impl Regression {
    const ALL: [(&'static str, Regression); 12] = [
        ("corr", Regression::Corr),
        ("covar_pop", Regression::CovarPop),
        ("covar_samp", Regression::CovarSamp),
        ("regr_count", Regression::Count),
        ("regr_avgx", Regression::AvgX),
        ("regr_avgy", Regression::AvgY),
        ("regr_sxx", Regression::Sxx),
        ("regr_syy", Regression::Syy),
        ("regr_sxy", Regression::Sxy),
        ("regr_slope", Regression::Slope),
        ("regr_intercept", Regression::Intercept),
        ("regr_r2", Regression::R2),
    ];

    pub fn from_name(name: &str) -> Option<Regression> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, r)| *r == self).map_or("corr", |(n, _)| n)
    }

    pub fn result_type(self) -> ScalarType {
        if self == Regression::Count {
            ScalarType::Int64
        } else {
            ScalarType::Float64
        }
    }

    /// PostgreSQL's float8_regr_accum sums (Youngs-Cramer, so the text of every result
    /// matches PostgreSQL's) and its final functions.
    fn fold(self, entries: &[Entry]) -> Result<Datum, EvalError> {
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0);
        for e in entries {
            let (Some(y), Some(x)) = (as_float(&e.value)?, as_float(&e.second)?) else { continue };
            for _ in 0..e.count.max(0) {
                let previous = n;
                n += 1.0;
                sx += x;
                sy += y;
                if previous > 0.0 {
                    let (tmp_x, tmp_y) = (x * n - sx, y * n - sy);
                    let scale = 1.0 / (n * previous);
                    sxx += tmp_x * tmp_x * scale;
                    syy += tmp_y * tmp_y * scale;
                    sxy += tmp_x * tmp_y * scale;
                }
            }
        }
        if self == Regression::Count {
            return Ok(Datum::Int64(n as i64));
        }
        let value = match self {
            _ if n < 1.0 => None,
            Regression::Count => None,
            Regression::AvgX => Some(sx / n),
            Regression::AvgY => Some(sy / n),
            Regression::Sxx => Some(sxx),
            Regression::Syy => Some(syy),
            Regression::Sxy => Some(sxy),
            Regression::CovarPop => Some(sxy / n),
            Regression::CovarSamp => (n >= 2.0).then(|| sxy / (n - 1.0)),
            Regression::Corr => (sxx != 0.0 && syy != 0.0).then(|| sxy / (sxx * syy).sqrt()),
            Regression::Slope => (sxx != 0.0).then(|| sxy / sxx),
            Regression::Intercept => (sxx != 0.0).then(|| (sy - sx * sxy / sxx) / n),
            Regression::R2 if sxx == 0.0 => None,
            Regression::R2 if syy == 0.0 => Some(1.0),
            Regression::R2 => Some((sxy * sxy) / (sxx * syy)),
        };
        Ok(value.map_or(Datum::Null, Datum::Float64))
    }
}

/// A double precision argument, `None` when NULL.
fn as_float(d: &Datum) -> Result<Option<f64>, EvalError> {
    match d {
        Datum::Null => Ok(None),
        Datum::Float64(f) => Ok(Some(*f)),
        other => Err(type_bug("regression aggregate", other)),
    }
}

/// An aggregate call: `func([DISTINCT] expr [, delimiter] [ORDER BY ...])` over the rows of
/// a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggregateExpr {
    pub func: AggregateFunc,
    pub expr: ScalarExpr,
    pub distinct: bool,
    /// The argument after the value: `string_agg`'s delimiter (evaluated per row, as in
    /// PostgreSQL), a percentile's fraction.
    pub second_arg: Option<ScalarExpr>,
    /// `ORDER BY` inside the call: the order the values are folded in.
    pub order_by: Vec<AggOrder>,
}

/// One `ORDER BY` key inside an aggregate call.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggOrder {
    pub expr: ScalarExpr,
    pub desc: bool,
    pub nulls_last: bool,
}

/// One row's contribution to an ordered or delimited fold.
struct Entry {
    value: Datum,
    /// The second argument's value in this row.
    second: Datum,
    keys: Vec<Datum>,
    count: Diff,
}

impl Entry {
    /// Entries for bare values (no second argument, no ORDER BY keys).
    fn values_only<'a>(values: impl Iterator<Item = (&'a Datum, Diff)>) -> Vec<Entry> {
        values.map(|(d, count)| Entry { value: d.clone(), second: Datum::Null, keys: vec![], count }).collect()
    }
}

impl AggregateExpr {
    pub fn new(func: AggregateFunc, expr: ScalarExpr, distinct: bool) -> Self {
        AggregateExpr { func, expr, distinct, second_arg: None, order_by: vec![] }
    }

    /// Folds a group's rows (with their multiplicities): evaluates the arguments, keeps one
    /// of each SQL-equal value under DISTINCT, sorts by the call's ORDER BY, then applies
    /// the function.
    pub fn fold(&self, rows: &[(&Row, Diff)]) -> Result<Datum, EvalError> {
        let mut entries = Vec::with_capacity(rows.len());
        for (row, count) in rows {
            crate::eval::check_positive(*count, self.func.name())?;
            let second = self.second_arg.as_ref().map_or(Ok(Datum::Null), |d| d.eval(row))?;
            let keys = self.order_by.iter().map(|o| o.expr.eval(row)).collect::<Result<Vec<_>, _>>()?;
            entries.push(Entry { value: self.expr.eval(row)?, second, keys, count: *count });
        }
        if self.distinct {
            entries.sort_by(|a, b| a.value.cmp(&b.value));
            entries.dedup_by(|a, b| a.value.sql_cmp(&b.value).is_eq());
            entries.iter_mut().for_each(|e| e.count = 1);
        }
        if !self.order_by.is_empty() {
            let order: Vec<ColumnOrder> = (self.order_by.iter().enumerate())
                .map(|(column, o)| ColumnOrder { column, desc: o.desc, nulls_last: o.nulls_last })
                .collect();
            entries.sort_by(|a, b| compare_rows(&a.keys, &b.keys, &order));
        }
        match self.func {
            AggregateFunc::StringAgg => Ok(string_agg(&entries)),
            AggregateFunc::JsonbObjectAgg { ref ty, filtered } => jsonb_object_agg(&entries, ty, filtered),
            AggregateFunc::JsonObjectAgg { ref ty, filtered } => json_object_agg(&entries, ty, filtered),
            AggregateFunc::PercentileCont | AggregateFunc::PercentileDisc | AggregateFunc::Mode => {
                ordered_set(&self.func, &entries)
            }
            AggregateFunc::Regression(r) => r.fold(&entries),
            _ => self.func.eval(entries.iter().map(|e| (&e.value, e.count))),
        }
    }
}

/// PostgreSQL's numeric variance (`numeric_stddev_internal`): exact sums of x and x², the
/// numerator `N·Σx² − (Σx)²` (zero if not positive), divided by `N(N−1)` or `N²` at
/// division's scale; `stddev` takes the root at that scale.
fn variance_numeric<'a>(
    values: impl Iterator<Item = (&'a Datum, Diff)>,
    sample: bool,
    sqrt: bool,
) -> Result<Datum, EvalError> {
    let (mut n, mut sum, mut sum_sq) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (d, count) in values.filter(|(d, _)| !d.is_null()) {
        let x = decimal_of(d)?;
        let count = Decimal::from(count);
        let square = x.checked_mul(x).ok_or_else(numeric_overflow)?;
        n += count;
        sum = sum.checked_add(x.checked_mul(count).ok_or_else(numeric_overflow)?).ok_or_else(numeric_overflow)?;
        sum_sq =
            sum_sq.checked_add(square.checked_mul(count).ok_or_else(numeric_overflow)?).ok_or_else(numeric_overflow)?;
    }
    if n.is_zero() || (sample && n == Decimal::ONE) {
        return Ok(Datum::Null);
    }
    let numerator = n
        .checked_mul(sum_sq)
        .and_then(|a| sum.checked_mul(sum).and_then(|b| a.checked_sub(b)))
        .ok_or_else(numeric_overflow)?;
    if numerator <= Decimal::ZERO {
        return Ok(Datum::Numeric(Decimal::ZERO));
    }
    let denominator = if sample { n * (n - Decimal::ONE) } else { n * n };
    let variance = numeric_div(numerator, denominator)?;
    Ok(Datum::Numeric(if sqrt { crate::func::numeric_sqrt_at_scale(variance, variance.scale())? } else { variance }))
}

/// PostgreSQL's float variance: Youngs-Cramer running sums over the values in order.
fn variance_float<'a>(
    values: impl Iterator<Item = (&'a Datum, Diff)>,
    sample: bool,
    sqrt: bool,
) -> Result<Datum, EvalError> {
    let (mut n, mut sum, mut sxx) = (0.0f64, 0.0f64, 0.0f64);
    for (d, count) in values.filter(|(d, _)| !d.is_null()) {
        let x = match d {
            Datum::Float32(f) => *f as f64,
            Datum::Float64(f) => *f,
            other => return Err(type_bug("variance", other)),
        };
        for _ in 0..count {
            let previous = n;
            n += 1.0;
            sum += x;
            if previous > 0.0 {
                let t = x * n - sum;
                sxx += t * t / (n * previous);
            }
        }
    }
    if n == 0.0 || (sample && n <= 1.0) {
        return Ok(Datum::Null);
    }
    let variance = sxx.max(0.0) / if sample { n - 1.0 } else { n };
    Ok(Datum::Float64(if sqrt { variance.sqrt() } else { variance }))
}

/// The ordered-set aggregates over the group's non-NULL values, already sorted by the
/// WITHIN GROUP order; the fraction is the first row's (PostgreSQL requires it constant).
fn ordered_set(func: &AggregateFunc, entries: &[Entry]) -> Result<Datum, EvalError> {
    let values: Vec<&Datum> = entries
        .iter()
        .filter(|e| !e.value.is_null())
        .flat_map(|e| std::iter::repeat_n(&e.value, e.count.max(0) as usize))
        .collect();
    if values.is_empty() {
        return Ok(Datum::Null);
    }
    if *func == AggregateFunc::Mode {
        let (mut best, mut best_run, mut run) = (values[0], 0, 0);
        for (i, v) in values.iter().enumerate() {
            run = if i > 0 && values[i - 1].sql_cmp(v).is_eq() { run + 1 } else { 1 };
            if run > best_run {
                (best, best_run) = (values[i + 1 - run], run);
            }
        }
        return Ok(best.clone());
    }
    let fraction = match entries.first().map(|e| &e.second) {
        Some(Datum::Float64(f)) => *f,
        _ => return Ok(Datum::Null),
    };
    if !(0.0..=1.0).contains(&fraction) {
        return Err(EvalError::OutOfRange(format!("percentile value {fraction} is not between 0 and 1")));
    }
    let n = values.len();
    if *func == AggregateFunc::PercentileDisc {
        let row = ((fraction * n as f64).ceil() as usize).max(1);
        return Ok(values[row.min(n) - 1].clone());
    }
    let position = fraction * (n - 1) as f64;
    let (lower, upper) = (position.floor() as usize, position.ceil() as usize);
    let as_f64 = |d: &Datum| match d {
        Datum::Float64(f) => Ok(*f),
        other => Err(type_bug("percentile_cont", other)),
    };
    let (a, b) = (as_f64(values[lower])?, as_f64(values[upper])?);
    Ok(Datum::Float64(if lower == upper { a } else { a + (b - a) * (position - lower as f64) }))
}

/// The values a NULL-keeping aggregate (`array_agg`, `jsonb_agg`) folds. With FILTER
/// (`filtered`), each row's value comes as `ARRAY[x]` when the row passes and NULL when it
/// does not, so that a NULL `x` that passes is told apart from a row filtered out.
fn kept_values<'a>(
    values: impl Iterator<Item = (&'a Datum, Diff)>,
    filtered: bool,
) -> impl Iterator<Item = (&'a Datum, Diff)> {
    values.filter_map(move |(d, n)| match (filtered, d) {
        (false, d) => Some((d, n)),
        (true, Datum::Array(one)) => one.first().map(|x| (x, n)),
        (true, _) => None,
    })
}

/// PostgreSQL's `string_agg`: non-NULL values in order, each but the first preceded by its
/// row's delimiter (a NULL delimiter adds nothing); NULL when there is no value.
fn jsonb_object_agg(entries: &[Entry], ty: &ScalarType, filtered: bool) -> Result<Datum, EvalError> {
    let mut members = Vec::new();
    for (key, e) in object_agg_keys(entries, filtered) {
        let value = crate::func::to_jsonb(&e.second, ty)?;
        members.extend(std::iter::repeat_n((key?.to_string(), value), e.count.max(0) as usize));
    }
    Ok(if members.is_empty() { Datum::Null } else { Datum::Jsonb(Jsonb::object(members)) })
}

/// `json_object_agg`: `{ "k" : v, ... }` in the order the pairs came.
fn json_object_agg(entries: &[Entry], ty: &ScalarType, filtered: bool) -> Result<Datum, EvalError> {
    let mut out = String::from("{ ");
    let mut empty = true;
    for (key, e) in object_agg_keys(entries, filtered) {
        let key = key?;
        for _ in 0..e.count.max(0) {
            if !empty {
                out.push_str(", ");
            }
            empty = false;
            eddy_repr::strconv::escape_json(key, &mut out);
            out.push_str(" : ");
            crate::func::write_json(&e.second, ty, &mut out)?;
        }
    }
    out.push_str(" }");
    Ok(if empty { Datum::Null } else { Datum::Text(out) })
}

/// The key of each pair an object aggregate folds (rows a FILTER left out skipped); a
/// NULL key is an error.
fn object_agg_keys(entries: &[Entry], filtered: bool) -> impl Iterator<Item = (Result<&str, EvalError>, &Entry)> {
    entries.iter().filter_map(move |e| {
        let key = match (&e.value, filtered) {
            (Datum::Null, true) => return None,
            (Datum::Array(wrapped), true) => wrapped.first().unwrap_or(&Datum::Null),
            (key, _) => key,
        };
        let key = match key {
            Datum::Text(k) => Ok(k.as_str()),
            _ => Err(EvalError::invalid_argument("field name must not be null")),
        };
        Some((key, e))
    })
}

fn string_agg(entries: &[Entry]) -> Datum {
    let mut out: Option<String> = None;
    for e in entries {
        let Datum::Text(value) = &e.value else { continue };
        for _ in 0..e.count {
            match out.as_mut() {
                None => out = Some(value.clone()),
                Some(s) => {
                    if let Datum::Text(d) = &e.second {
                        s.push_str(d);
                    }
                    s.push_str(value);
                }
            }
        }
    }
    out.map_or(Datum::Null, Datum::Text)
}

impl AggregateFunc {
    /// Resolves `name(arg_type)` to an aggregate and its result type.
    pub fn resolve(name: &str, arg: Option<&ScalarType>) -> Option<(AggregateFunc, ScalarType)> {
        use ScalarType as T;
        let arg = match arg {
            None if name == "count" => return Some((AggregateFunc::CountRows, T::Int64)),
            None => return None,
            Some(arg) => arg.without_modifiers(),
        };
        Some(match (name, &arg) {
            ("count", _) => (AggregateFunc::Count, T::Int64),
            ("sum", T::Int16 | T::Int32) => (AggregateFunc::SumInt, T::Int64),
            ("sum", T::Int64 | T::Numeric { .. }) => (AggregateFunc::SumNumeric, T::numeric()),
            ("sum", T::Float32 | T::Float64) => (AggregateFunc::SumFloat, arg.clone()),
            ("sum", T::Interval) => (AggregateFunc::SumInterval, T::Interval),
            ("avg", T::Interval) => (AggregateFunc::AvgInterval, T::Interval),
            ("avg", T::Int16 | T::Int32 | T::Int64 | T::Numeric { .. }) => (AggregateFunc::AvgNumeric, T::numeric()),
            ("avg", T::Float32 | T::Float64) => (AggregateFunc::AvgFloat, T::Float64),
            // PostgreSQL 15 has no min/max for boolean (bool_and/bool_or), jsonb, uuid or bytea.
            ("min" | "max", T::Bool | T::Jsonb | T::Uuid | T::Bytea) => return None,
            ("min", _) => (AggregateFunc::Min, arg.clone()),
            ("max", _) => (AggregateFunc::Max, arg.clone()),
            ("bool_and" | "every", T::Bool) => (AggregateFunc::BoolAnd, T::Bool),
            ("bool_or", T::Bool) => (AggregateFunc::BoolOr, T::Bool),
            ("bit_and" | "bit_or" | "bit_xor", T::Int16 | T::Int32 | T::Int64) => {
                let op = match name {
                    "bit_and" => BitwiseAgg::And,
                    "bit_or" => BitwiseAgg::Or,
                    _ => BitwiseAgg::Xor,
                };
                (AggregateFunc::Bitwise(op), arg.clone())
            }
            ("string_agg", T::Text) => (AggregateFunc::StringAgg, T::Text),
            (
                "variance" | "var_samp" | "var_pop" | "stddev" | "stddev_samp" | "stddev_pop",
                T::Int16 | T::Int32 | T::Int64 | T::Numeric { .. } | T::Float32 | T::Float64,
            ) => {
                let sample = !name.ends_with("_pop");
                let sqrt = name.starts_with("stddev");
                match arg {
                    T::Float32 | T::Float64 => (AggregateFunc::VarianceFloat { sample, sqrt }, T::Float64),
                    _ => (AggregateFunc::VarianceNumeric { sample, sqrt }, T::numeric()),
                }
            }
            ("jsonb_agg", _) => (AggregateFunc::JsonbAgg { ty: arg.clone(), filtered: false }, T::Jsonb),
            ("json_agg", _) => (AggregateFunc::JsonAgg { ty: arg.clone(), filtered: false, rows: false }, T::Json),
            // Arrays of arrays would be multidimensional, which Eddy does not have.
            ("array_agg", T::Array(_)) => return None,
            ("array_agg", _) => (AggregateFunc::ArrayAgg { filtered: false }, T::Array(Box::new(arg.clone()))),
            _ => return None,
        })
    }

    pub fn is_aggregate_name(name: &str) -> bool {
        matches!(
            name,
            "count"
                | "sum"
                | "avg"
                | "min"
                | "max"
                | "bool_and"
                | "bool_or"
                | "every"
                | "bit_and"
                | "bit_or"
                | "bit_xor"
                | "string_agg"
                | "jsonb_object_agg"
                | "json_object_agg"
                | "jsonb_agg"
                | "json_agg"
                | "array_agg"
                | "variance"
                | "var_samp"
                | "var_pop"
                | "stddev"
                | "stddev_samp"
                | "stddev_pop"
                | "percentile_cont"
                | "percentile_disc"
                | "mode"
        ) || Regression::from_name(name).is_some()
    }

    /// True if the aggregate of a union is the aggregate of the parts' results (sums,
    /// min/max, bool_and/bool_or; NULL results of empty parts are ignored like NULL inputs).
    pub fn combines_partial_results(&self) -> bool {
        matches!(
            self,
            AggregateFunc::SumInt
                | AggregateFunc::SumNumeric
                | AggregateFunc::SumFloat
                | AggregateFunc::SumInterval
                | AggregateFunc::Min
                | AggregateFunc::Max
                | AggregateFunc::BoolAnd
                | AggregateFunc::BoolOr
                | AggregateFunc::Bitwise(_)
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunc::CountRows | AggregateFunc::Count => "count",
            AggregateFunc::SumInt
            | AggregateFunc::SumNumeric
            | AggregateFunc::SumFloat
            | AggregateFunc::SumInterval => "sum",
            AggregateFunc::AvgNumeric | AggregateFunc::AvgFloat | AggregateFunc::AvgInterval => "avg",
            AggregateFunc::Min => "min",
            AggregateFunc::Max => "max",
            AggregateFunc::BoolAnd => "bool_and",
            AggregateFunc::BoolOr => "bool_or",
            AggregateFunc::Bitwise(BitwiseAgg::And) => "bit_and",
            AggregateFunc::Bitwise(BitwiseAgg::Or) => "bit_or",
            AggregateFunc::Bitwise(BitwiseAgg::Xor) => "bit_xor",
            AggregateFunc::StringAgg => "string_agg",
            AggregateFunc::JsonbObjectAgg { .. } => "jsonb_object_agg",
            AggregateFunc::JsonbAgg { .. } => "jsonb_agg",
            AggregateFunc::JsonObjectAgg { .. } => "json_object_agg",
            AggregateFunc::JsonAgg { .. } => "json_agg",
            AggregateFunc::ArrayAgg { .. } => "array_agg",
            AggregateFunc::PercentileCont => "percentile_cont",
            AggregateFunc::PercentileDisc => "percentile_disc",
            AggregateFunc::Mode => "mode",
            AggregateFunc::Regression(r) => r.name(),
            AggregateFunc::VarianceNumeric { sample, sqrt } | AggregateFunc::VarianceFloat { sample, sqrt } => {
                match (sample, sqrt) {
                    (true, false) => "var_samp",
                    (false, false) => "var_pop",
                    (true, true) => "stddev_samp",
                    (false, true) => "stddev_pop",
                }
            }
        }
    }

    /// Folds a group's values with their multiplicities (all positive), in the order given.
    /// NULL inputs are ignored except by `count(*)`, `jsonb_agg` and `array_agg`; an empty fold is 0 for
    /// counts and NULL otherwise. (`string_agg`'s delimiters come through
    /// [`AggregateExpr::fold`]; here there are none.)
    pub fn eval<'a>(&self, values: impl IntoIterator<Item = (&'a Datum, Diff)>) -> Result<Datum, EvalError> {
        let values = values.into_iter();
        match self {
            AggregateFunc::CountRows => Ok(Datum::Int64(values.map(|(_, n)| n).sum())),
            AggregateFunc::Count => Ok(Datum::Int64(values.filter(|(d, _)| !d.is_null()).map(|(_, n)| n).sum())),
            AggregateFunc::SumInt => {
                let mut sum: Option<i128> = None;
                for (d, n) in values.filter(|(d, _)| !d.is_null()) {
                    let v = d.as_i64().ok_or_else(|| type_bug("sum", d))? as i128;
                    sum = Some(sum.unwrap_or(0) + v * n as i128);
                }
                match sum {
                    None => Ok(Datum::Null),
                    Some(s) => i64::try_from(s)
                        .map(Datum::Int64)
                        .map_err(|_| EvalError::OutOfRange("bigint out of range".into())),
                }
            }
            AggregateFunc::SumNumeric | AggregateFunc::AvgNumeric => {
                let mut sum: Option<Decimal> = None;
                let mut count: i64 = 0;
                for (d, n) in values.filter(|(d, _)| !d.is_null()) {
                    let v = decimal_of(d)?;
                    let term = v.checked_mul(Decimal::from(n)).ok_or_else(numeric_overflow)?;
                    let acc = sum.unwrap_or(Decimal::ZERO);
                    let total = acc.checked_add(term).ok_or_else(numeric_overflow)?;
                    // rust_decimal drops the scale of a zero operand (0.00 * 1 is 0,
                    // 5 + 0.00 is 5); PostgreSQL keeps the larger scale.
                    sum = Some(keep_scale(total, acc.scale().max(v.scale())));
                    count += n;
                }
                match (self, sum) {
                    (_, None) => Ok(Datum::Null),
                    (AggregateFunc::SumNumeric, Some(s)) => Ok(Datum::Numeric(s)),
                    (_, Some(s)) => Ok(Datum::Numeric(numeric_div(s, Decimal::from(count))?)),
                }
            }
            AggregateFunc::SumFloat | AggregateFunc::AvgFloat => {
                let mut sum: Option<f64> = None;
                let mut count: i64 = 0;
                let mut is_f32 = false;
                for (d, n) in values.filter(|(d, _)| !d.is_null()) {
                    let v = match d {
                        Datum::Float32(f) => {
                            is_f32 = true;
                            *f as f64
                        }
                        Datum::Float64(f) => *f,
                        other => return Err(type_bug("sum", other)),
                    };
                    sum = Some(sum.unwrap_or(0.0) + v * n as f64);
                    count += n;
                }
                Ok(match (self, sum) {
                    (_, None) => Datum::Null,
                    (AggregateFunc::SumFloat, Some(s)) if is_f32 => Datum::Float32(s as f32),
                    (AggregateFunc::SumFloat, Some(s)) => Datum::Float64(s),
                    (_, Some(s)) => Datum::Float64(s / count as f64),
                })
            }
            AggregateFunc::SumInterval => {
                let mut sum: Option<(i64, i64, i128)> = None;
                for (d, n) in values.filter(|(d, _)| !d.is_null()) {
                    let Datum::Interval(i) = d else {
                        return Err(type_bug("sum", d));
                    };
                    let (m, dd, us) = sum.unwrap_or((0, 0, 0));
                    sum = Some((m + i.months as i64 * n, dd + i.days as i64 * n, us + i.micros as i128 * n as i128));
                }
                match sum {
                    None => Ok(Datum::Null),
                    Some((m, d, us)) => {
                        let overflow = || EvalError::OutOfRange("interval out of range".into());
                        Ok(Datum::Interval(eddy_repr::Interval::new(
                            i32::try_from(m).map_err(|_| overflow())?,
                            i32::try_from(d).map_err(|_| overflow())?,
                            i64::try_from(us).map_err(|_| overflow())?,
                        )))
                    }
                }
            }
            AggregateFunc::AvgInterval => {
                let values: Vec<(&Datum, Diff)> = values.filter(|(d, _)| !d.is_null()).collect();
                let count: Diff = values.iter().map(|(_, n)| n).sum();
                match AggregateFunc::SumInterval.eval(values)? {
                    Datum::Null => Ok(Datum::Null),
                    sum => crate::Func::IntervalDiv.eval(&[sum, Datum::Float64(count as f64)]),
                }
            }
            AggregateFunc::Min => {
                Ok(values.filter(|(d, _)| !d.is_null()).map(|(d, _)| d).min().cloned().unwrap_or(Datum::Null))
            }
            AggregateFunc::Max => {
                Ok(values.filter(|(d, _)| !d.is_null()).map(|(d, _)| d).max().cloned().unwrap_or(Datum::Null))
            }
            AggregateFunc::BoolAnd => {
                let mut acc = None;
                for (d, _) in values.filter(|(d, _)| !d.is_null()) {
                    acc = Some(acc.unwrap_or(true) && d.as_bool() == Some(true));
                }
                Ok(Datum::from_bool_opt(acc))
            }
            AggregateFunc::BoolOr => {
                let mut acc = None;
                for (d, _) in values.filter(|(d, _)| !d.is_null()) {
                    acc = Some(acc.unwrap_or(false) || d.as_bool() == Some(true));
                }
                Ok(Datum::from_bool_opt(acc))
            }
            AggregateFunc::Bitwise(op) => {
                let mut acc: Option<(i64, &Datum)> = None;
                for (d, n) in values.filter(|(d, _)| !d.is_null()) {
                    let v = d.as_i64().ok_or_else(|| type_bug(self.name(), d))?;
                    acc = Some(match acc {
                        None if *op == BitwiseAgg::Xor && n % 2 == 0 => (0, d),
                        None => (v, d),
                        Some((a, _)) => (op.fold(a, v, n), d),
                    });
                }
                Ok(match acc {
                    None => Datum::Null,
                    Some((v, Datum::Int16(_))) => Datum::Int16(v as i16),
                    Some((v, Datum::Int32(_))) => Datum::Int32(v as i32),
                    Some((v, _)) => Datum::Int64(v),
                })
            }
            AggregateFunc::PercentileCont | AggregateFunc::PercentileDisc | AggregateFunc::Mode => {
                let mut entries = Entry::values_only(values);
                entries.sort_by(|a, b| a.value.cmp(&b.value));
                ordered_set(self, &entries)
            }
            AggregateFunc::StringAgg => Ok(string_agg(&Entry::values_only(values))),
            // Need their second argument: computed by `AggregateExpr::fold` only.
            AggregateFunc::JsonbObjectAgg { .. }
            | AggregateFunc::JsonObjectAgg { .. }
            | AggregateFunc::Regression(_) => {
                Err(EvalError::Internal(format!("{} without its second argument", self.name())))
            }
            AggregateFunc::VarianceNumeric { sample, sqrt } => variance_numeric(values, *sample, *sqrt),
            AggregateFunc::VarianceFloat { sample, sqrt } => variance_float(values, *sample, *sqrt),
            AggregateFunc::JsonbAgg { ty, filtered } => {
                let mut items = Vec::new();
                for (d, n) in kept_values(values, *filtered) {
                    let item = crate::func::to_jsonb(d, ty)?;
                    items.extend(std::iter::repeat_n(item, n.max(0) as usize));
                }
                Ok(if items.is_empty() { Datum::Null } else { Datum::Jsonb(Jsonb::Array(items)) })
            }
            AggregateFunc::JsonAgg { ty, filtered, rows } => {
                let mut out = String::from("[");
                for (d, n) in kept_values(values, *filtered) {
                    for _ in 0..n.max(0) {
                        if out.len() > 1 {
                            out.push_str(crate::func::agg_separator(ty, *rows));
                        }
                        crate::func::write_json(d, ty, &mut out)?;
                    }
                }
                out.push(']');
                Ok(if out.len() == 2 { Datum::Null } else { Datum::Text(out) })
            }
            AggregateFunc::ArrayAgg { filtered } => {
                let mut items = Vec::new();
                for (d, n) in kept_values(values, *filtered) {
                    items.extend(std::iter::repeat_n(d.clone(), n.max(0) as usize));
                }
                Ok(if items.is_empty() { Datum::Null } else { Datum::Array(items) })
            }
        }
    }

    /// The aggregate's value over no rows at all (a global aggregate of an empty input).
    pub fn default_value(&self) -> Datum {
        match self {
            AggregateFunc::CountRows | AggregateFunc::Count | AggregateFunc::Regression(Regression::Count) => {
                Datum::Int64(0)
            }
            _ => Datum::Null,
        }
    }
}

/// `d` at scale `scale` if it has fewer fractional digits, and never negative zero.
fn keep_scale(mut d: Decimal, scale: u32) -> Decimal {
    if d.scale() < scale {
        d.rescale(scale);
    }
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d
}

fn decimal_of(d: &Datum) -> Result<Decimal, EvalError> {
    match d {
        Datum::Numeric(n) => Ok(*n),
        Datum::Int16(i) => Ok(Decimal::from(*i)),
        Datum::Int32(i) => Ok(Decimal::from(*i)),
        Datum::Int64(i) => Ok(Decimal::from(*i)),
        other => Err(type_bug("sum", other)),
    }
}

fn numeric_overflow() -> EvalError {
    EvalError::OutOfRange("numeric field overflow".into())
}

fn type_bug(agg: &str, d: &Datum) -> EvalError {
    EvalError::Internal(format!("{agg} received an unexpected value {d:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_folds() {
        let none: Vec<(&Datum, Diff)> = vec![];
        assert_eq!(AggregateFunc::CountRows.eval(none.clone()).unwrap(), Datum::Int64(0));
        assert_eq!(AggregateFunc::SumInt.eval(none.clone()).unwrap(), Datum::Null);
        assert_eq!(AggregateFunc::Max.eval(none).unwrap(), Datum::Null);
    }

    #[test]
    fn sum_and_count_respect_multiplicity_and_nulls() {
        let a = Datum::Int32(5);
        let n = Datum::Null;
        let vals = vec![(&a, 3), (&n, 2)];
        assert_eq!(AggregateFunc::SumInt.eval(vals.clone()).unwrap(), Datum::Int64(15));
        assert_eq!(AggregateFunc::Count.eval(vals.clone()).unwrap(), Datum::Int64(3));
        assert_eq!(AggregateFunc::CountRows.eval(vals).unwrap(), Datum::Int64(5));
    }

    #[test]
    fn bool_aggregates() {
        let t = Datum::Bool(true);
        let f = Datum::Bool(false);
        assert_eq!(AggregateFunc::BoolAnd.eval(vec![(&t, 1), (&f, 1)]).unwrap(), Datum::Bool(false));
        let (six, three) = (Datum::Int32(6), Datum::Int32(3));
        let bits = |op| AggregateFunc::Bitwise(op).eval(vec![(&six, 1), (&Datum::Null, 1), (&three, 2)]).unwrap();
        assert_eq!(bits(BitwiseAgg::And), Datum::Int32(2));
        assert_eq!(bits(BitwiseAgg::Or), Datum::Int32(7));
        // 3 twice cancels out.
        assert_eq!(bits(BitwiseAgg::Xor), Datum::Int32(6));
        assert_eq!(AggregateFunc::BoolOr.eval(vec![(&t, 1), (&f, 1)]).unwrap(), Datum::Bool(true));
    }

    #[test]
    fn numeric_sum_keeps_the_scale_of_zero() {
        let sum = |vals: Vec<(&Datum, Diff)>| match AggregateFunc::SumNumeric.eval(vals) {
            Ok(Datum::Numeric(n)) => n.to_string(),
            other => format!("{other:?}"),
        };
        let zero = Datum::Numeric(Decimal::new(0, 2));
        let five = Datum::Numeric(Decimal::new(5, 0));
        let plus = Datum::Numeric(Decimal::new(150, 2));
        let minus = Datum::Numeric(Decimal::new(-150, 2));
        assert_eq!(sum(vec![(&zero, 1)]), "0.00");
        assert_eq!(sum(vec![(&five, 1), (&zero, 2)]), "5.00");
        assert_eq!(sum(vec![(&minus, 1), (&plus, 1)]), "0.00");
    }
}
