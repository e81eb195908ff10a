//! Overload resolution, following PostgreSQL's `func_select_candidate` /
//! `oper_select_candidate` (parse_func.c, parse_oper.c) and `select_common_type`
//! (parse_coerce.c) over Eddy's catalog of functions and operators.

use eddy_repr::ScalarType;

use super::{FloatFunc, Func, JsonFunc, NumType, ResolveError, Resolved, TimeType, TrimSide};

pub(super) const BOOL: ScalarType = ScalarType::Bool;
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const I2: ScalarType = ScalarType::Int16;
pub(super) const I4: ScalarType = ScalarType::Int32;
pub(super) const I8: ScalarType = ScalarType::Int64;
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const F4: ScalarType = ScalarType::Float32;
pub(super) const F8: ScalarType = ScalarType::Float64;
pub(super) const NUM: ScalarType = ScalarType::Numeric { precision: None, scale: None };
pub(super) const TEXT: ScalarType = ScalarType::Text;
pub(super) const BPCHAR: ScalarType = ScalarType::Char { length: None };
pub(super) const BYTEA: ScalarType = ScalarType::Bytea;
pub(super) const DATE: ScalarType = ScalarType::Date;
pub(super) const TIME: ScalarType = ScalarType::time();
pub(super) const TS: ScalarType = ScalarType::timestamp();
pub(super) const TSTZ: ScalarType = ScalarType::timestamptz();
pub(super) const IV: ScalarType = ScalarType::Interval;
pub(super) const JSON: ScalarType = ScalarType::Json;
pub(super) const JSONB: ScalarType = ScalarType::Jsonb;
pub(super) const UUID: ScalarType = ScalarType::Uuid;

/// PostgreSQL's `typcategory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Category {
    Bool,
    Numeric,
    String,
    DateTime,
    Timespan,
    User,
    Array,
}

pub(super) fn category(t: &ScalarType) -> Category {
    match t {
        ScalarType::Bool => Category::Bool,
        ScalarType::Int16
        | ScalarType::Int32
        | ScalarType::Int64
        | ScalarType::Float32
        | ScalarType::Float64
        | ScalarType::Numeric { .. } => Category::Numeric,
        ScalarType::Text | ScalarType::Varchar { .. } | ScalarType::Char { .. } => Category::String,
        ScalarType::Date | ScalarType::Time { .. } | ScalarType::Timestamp { .. } | ScalarType::TimestampTz { .. } => {
            Category::DateTime
        }
        ScalarType::Interval => Category::Timespan,
        ScalarType::Bytea | ScalarType::Json | ScalarType::Jsonb | ScalarType::Uuid => Category::User,
        ScalarType::Array(_) | ScalarType::Int2Vector => Category::Array,
    }
}

/// PostgreSQL's `typispreferred`.
pub(super) fn is_preferred(t: &ScalarType) -> bool {
    matches!(
        t,
        ScalarType::Bool
            | ScalarType::Float64
            | ScalarType::Text
            | ScalarType::TimestampTz { .. }
            | ScalarType::Interval
    )
}

/// Whether PostgreSQL has an implicit cast (or binary coercion) from `from` to `to`,
/// comparing base types (modifiers are ignored).
pub(super) fn can_coerce_implicit(from: &ScalarType, to: &ScalarType) -> bool {
    use ScalarType::*;
    let from = from.without_modifiers();
    let to = to.without_modifiers();
    if from == to {
        return true;
    }
    match from {
        Int16 => matches!(to, Int32 | Int64 | Float32 | Float64 | Numeric { .. }),
        Int32 => matches!(to, Int64 | Float32 | Float64 | Numeric { .. }),
        Int64 => matches!(to, Float32 | Float64 | Numeric { .. }),
        Numeric { .. } => matches!(to, Float32 | Float64),
        Float32 => matches!(to, Float64),
        Text | Varchar { .. } | Char { .. } => to.is_string(),
        Date => matches!(to, Timestamp { .. } | TimestampTz { .. }),
        Timestamp { .. } => matches!(to, TimestampTz { .. }),
        Time { .. } => matches!(to, Interval),
        Array(from) => matches!(&to, Array(to) if can_coerce_implicit(&from, to)),
        // int2vector is binary-coercible to smallint[].
        Int2Vector => matches!(&to, Array(to) if **to == Int16),
        _ => false,
    }
}

/// One overload: argument types (base types), result type and the function to call.
#[derive(Clone, Debug)]
pub(super) struct Cand {
    pub args: Vec<ScalarType>,
    pub ret: ScalarType,
    pub func: Func,
}

fn c(func: Func, args: &[ScalarType], ret: ScalarType) -> Cand {
    Cand { args: args.to_vec(), ret, func }
}

pub(super) fn type_list(args: &[Option<ScalarType>]) -> String {
    args.iter()
        .map(|a| a.as_ref().map_or("unknown".to_string(), |t| t.without_modifiers().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_name(t: &Option<ScalarType>) -> String {
    t.as_ref().map_or("unknown".to_string(), |t| t.without_modifiers().to_string())
}

enum Pick {
    One(Cand),
    NoMatch,
    Ambiguous,
}

/// Chooses among `cands` for the argument types `inputs` (None = unknown).
fn select(inputs: &[Option<ScalarType>], cands: Vec<Cand>, binary_op: bool) -> Pick {
    let inputs: Vec<Option<ScalarType>> =
        inputs.iter().map(|t| t.as_ref().map(ScalarType::without_modifiers)).collect();
    let nargs = inputs.len();
    let cands: Vec<Cand> = cands.into_iter().filter(|c| c.args.len() == nargs).collect();

    // Exact match.
    if let Some(c) = cands.iter().find(|c| inputs.iter().zip(&c.args).all(|(i, a)| i.as_ref() == Some(a))) {
        return Pick::One(c.clone());
    }
    // binary_oper_exact: an unknown operand is assumed to have the other operand's type.
    if binary_op && nargs == 2 {
        let known = match (&inputs[0], &inputs[1]) {
            (Some(t), None) | (None, Some(t)) => Some(t.clone()),
            _ => None,
        };
        if let Some(t) = known {
            if let Some(c) = cands.iter().find(|c| c.args[0] == t && c.args[1] == t) {
                return Pick::One(c.clone());
            }
        }
    }

    // func_match_argtypes: candidates reachable by implicit coercion.
    let mut cands: Vec<Cand> = cands
        .into_iter()
        .filter(|c| inputs.iter().zip(&c.args).all(|(i, a)| i.as_ref().is_none_or(|t| can_coerce_implicit(t, a))))
        .collect();
    match cands.len() {
        0 => return Pick::NoMatch,
        1 => return Pick::One(cands.remove(0)),
        _ => {}
    }

    // func_select_candidate.
    // 1. Most exact matches on known inputs.
    let keep_best = |cands: Vec<Cand>, score: &dyn Fn(&Cand) -> usize| -> Vec<Cand> {
        let best = cands.iter().map(score).max().unwrap_or(0);
        cands.into_iter().filter(|c| score(c) == best).collect()
    };
    cands = keep_best(cands, &|c: &Cand| inputs.iter().zip(&c.args).filter(|(i, a)| i.as_ref() == Some(a)).count());
    if cands.len() == 1 {
        return Pick::One(cands.remove(0));
    }
    // 2. Exact matches or preferred types (of the input's own category) where coercion is
    //    needed.
    cands = keep_best(cands, &|c: &Cand| {
        inputs
            .iter()
            .zip(&c.args)
            .filter(|(i, a)| match i {
                Some(t) => t == *a || (is_preferred(a) && category(a) == category(t)),
                None => false,
            })
            .count()
    });
    if cands.len() == 1 {
        return Pick::One(cands.remove(0));
    }
    // 3. Resolve unknown inputs by category.
    let nunknowns = inputs.iter().filter(|i| i.is_none()).count();
    if nunknowns == 0 {
        return Pick::Ambiguous;
    }
    let mut resolved = true;
    let mut slot: Vec<Option<(Category, bool)>> = vec![None; nargs];
    for i in 0..nargs {
        if inputs[i].is_some() {
            continue;
        }
        let mut cat: Option<Category> = None;
        let mut has_pref = false;
        let mut conflict = false;
        for c in &cands {
            let ccat = category(&c.args[i]);
            let pref = is_preferred(&c.args[i]);
            match cat {
                None => {
                    cat = Some(ccat);
                    has_pref = pref;
                }
                Some(cur) if cur == ccat => has_pref |= pref,
                Some(_) => {
                    if ccat == Category::String {
                        cat = Some(ccat);
                        has_pref = pref;
                    } else {
                        conflict = true;
                    }
                }
            }
        }
        if conflict && cat != Some(Category::String) {
            resolved = false;
            break;
        }
        slot[i] = cat.map(|c| (c, has_pref));
    }
    if resolved {
        let kept: Vec<Cand> = cands
            .iter()
            .filter(|c| {
                (0..nargs).all(|i| match (&inputs[i], slot[i]) {
                    (None, Some((cat, has_pref))) => {
                        category(&c.args[i]) == cat && (!has_pref || is_preferred(&c.args[i]))
                    }
                    _ => true,
                })
            })
            .cloned()
            .collect();
        if !kept.is_empty() {
            cands = kept;
        }
        if cands.len() == 1 {
            return Pick::One(cands.remove(0));
        }
    }
    // 4. Last gasp: unknowns take the type shared by all known inputs.
    if nunknowns < nargs {
        let mut known: Option<&ScalarType> = None;
        let mut same = true;
        for t in inputs.iter().flatten() {
            match known {
                None => known = Some(t),
                Some(k) if k == t => {}
                Some(_) => same = false,
            }
        }
        if let (true, Some(k)) = (same, known) {
            let matching: Vec<&Cand> =
                cands.iter().filter(|c| c.args.iter().all(|a| can_coerce_implicit(k, a))).collect();
            if matching.len() == 1 {
                return Pick::One(matching[0].clone());
            }
        }
    }
    Pick::Ambiguous
}

fn resolved(c: Cand) -> Resolved {
    Resolved { func: c.func, arg_types: c.args, return_type: c.ret }
}

/// PostgreSQL's `select_common_type`: the type that CASE, COALESCE, GREATEST, UNION, ...
/// convert their inputs to. `context` names the construct in errors (`CASE`, `COALESCE`).
/// All-unknown inputs resolve to text.
pub fn common_type(types: &[Option<ScalarType>], context: &str) -> Result<ScalarType, ResolveError> {
    // All inputs of exactly one type (modifiers included): keep it.
    if let Some(Some(first)) = types.first() {
        if types.iter().all(|t| t.as_ref() == Some(first)) {
            return Ok(first.clone());
        }
    }
    let mut ptype: Option<ScalarType> = None;
    for t in types.iter().flatten() {
        let t = t.without_modifiers();
        match &ptype {
            None => ptype = Some(t),
            Some(p) if *p == t => {}
            Some(p) => {
                if category(p) != category(&t) {
                    return Err(ResolveError::DatatypeMismatch(format!(
                        "{context} types {p} and {t} cannot be matched"
                    )));
                }
                if !is_preferred(p) && can_coerce_implicit(p, &t) && !can_coerce_implicit(&t, p) {
                    ptype = Some(t);
                }
            }
        }
    }
    let ptype = ptype.unwrap_or(TEXT);
    for t in types.iter().flatten() {
        if !can_coerce_implicit(t, &ptype) {
            return Err(ResolveError::DatatypeMismatch(format!(
                "{context} could not convert type {} to {ptype}",
                t.without_modifiers()
            )));
        }
    }
    Ok(ptype)
}

fn no_function(name: &str, args: &[Option<ScalarType>]) -> ResolveError {
    ResolveError::NoSuchFunction { name: name.to_string(), args: type_list(args) }
}

fn pick_function(name: &str, args: &[Option<ScalarType>], cands: Vec<Cand>) -> Result<Resolved, ResolveError> {
    match select(args, cands, false) {
        Pick::One(c) => Ok(resolved(c)),
        Pick::NoMatch => Err(no_function(name, args)),
        Pick::Ambiguous => Err(ResolveError::Ambiguous(format!("function {name}({}) is not unique", type_list(args)))),
    }
}

/// Unknown arguments of `"any"` parameters become text.
fn any_types(args: &[Option<ScalarType>]) -> Vec<ScalarType> {
    args.iter().map(|a| a.clone().unwrap_or(TEXT)).collect()
}

pub(super) fn resolve_function(name: &str, args: &[Option<ScalarType>]) -> Result<Resolved, ResolveError> {
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    if let Some(resolved) = super::array::resolve(name, args)? {
        return Ok(resolved);
    }
    // Polymorphic, variadic and non-strict special forms.
    match name {
        "is_null" | "is_not_null" => {
            if args.len() != 1 {
                return Err(no_function(name, args));
            }
            let func = if name == "is_null" { Func::IsNull } else { Func::IsNotNull };
            return Ok(Resolved { func, arg_types: any_types(args), return_type: BOOL });
        }
        "is_true" | "is_not_true" | "is_false" | "is_not_false" | "is_unknown" => {
            match args {
                [None] | [Some(ScalarType::Bool)] => {}
                [Some(t)] => {
                    let what = name.trim_start_matches("is_").replace('_', " ").to_uppercase();
                    return Err(ResolveError::DatatypeMismatch(format!(
                        "argument of IS {what} must be type boolean, not type {t}"
                    )));
                }
                _ => return Err(no_function(name, args)),
            }
            let func = match name {
                "is_true" => Func::IsTrue,
                "is_not_true" => Func::IsNotTrue,
                "is_false" => Func::IsFalse,
                "is_not_false" => Func::IsNotFalse,
                _ => Func::IsUnknown,
            };
            return Ok(Resolved { func, arg_types: vec![BOOL], return_type: BOOL });
        }
        "is_distinct_from" | "is_not_distinct_from" | "nullif" => {
            let [l, r] = args else {
                return Err(no_function(name, args));
            };
            let eq = resolve_binary_operator("=", l.clone(), r.clone())?;
            if eq.func != Func::Eq || eq.return_type != BOOL {
                return Err(no_function(name, args));
            }
            let (func, return_type) = match name {
                "is_distinct_from" => (Func::IsDistinctFrom, BOOL),
                "is_not_distinct_from" => (Func::IsNotDistinctFrom, BOOL),
                _ => (Func::NullIf, eq.arg_types[0].clone()),
            };
            return Ok(Resolved { func, arg_types: eq.arg_types, return_type });
        }
        "greatest" | "least" => {
            if args.is_empty() {
                return Err(no_function(name, args));
            }
            let ty = common_type(args, &name.to_uppercase())?;
            let func = if name == "greatest" { Func::Greatest } else { Func::Least };
            return Ok(Resolved { func, arg_types: vec![ty.clone(); args.len()], return_type: ty });
        }
        "jsonb_extract_path" | "jsonb_extract_path_text" | "json_extract_path" | "json_extract_path_text" => {
            let (Some(first), rest) = (args.first(), args.get(1..).unwrap_or_default()) else {
                return Err(no_function(name, args));
            };
            let texty = |t: &Option<ScalarType>| {
                matches!(t, None | Some(ScalarType::Text | ScalarType::Varchar { .. } | ScalarType::Char { .. }))
            };
            let doc = if name.starts_with("jsonb") { JSONB } else { JSON };
            if !(first.is_none() || first.as_ref() == Some(&doc)) || rest.is_empty() || !rest.iter().all(texty) {
                return Err(no_function(name, args));
            }
            let text = name.ends_with("_text");
            let (func, return_type) = match (name, text) {
                ("jsonb_extract_path", _) => (Func::JsonbExtractPath, JSONB),
                ("jsonb_extract_path_text", _) => (Func::JsonbExtractPathText, TEXT),
                (_, false) => (Func::Json(JsonFunc::ExtractPath { text }), JSON),
                (_, true) => (Func::Json(JsonFunc::ExtractPath { text }), TEXT),
            };
            let arg_types = std::iter::once(doc).chain(rest.iter().map(|_| TEXT)).collect();
            return Ok(Resolved { func, arg_types, return_type });
        }
        "format" => {
            match args.first() {
                None => return Err(no_function(name, args)),
                Some(Some(first)) if !first.is_string() => return Err(no_function(name, args)),
                _ => {}
            }
            let mut types = any_types(args);
            types[0] = TEXT;
            return Ok(Resolved { func: Func::Format { types: types.clone() }, arg_types: types, return_type: TEXT });
        }
        "num_nulls" | "num_nonnulls" => {
            if args.is_empty() {
                return Err(no_function(name, args));
            }
            let types = any_types(args);
            let func = Func::NumNulls { nulls: name == "num_nulls" };
            return Ok(Resolved { func, arg_types: types, return_type: I4 });
        }
        "concat" => {
            let types = any_types(args);
            return Ok(Resolved { func: Func::Concat { types: types.clone() }, arg_types: types, return_type: TEXT });
        }
        "concat_ws" => {
            let Some(sep) = args.first() else {
                return Err(no_function(name, args));
            };
            if let Some(t) = sep {
                if !t.is_string() {
                    return Err(no_function(name, args));
                }
            }
            let mut types = any_types(args);
            types[0] = TEXT;
            return Ok(Resolved { func: Func::ConcatWs { types: types.clone() }, arg_types: types, return_type: TEXT });
        }
        "jsonb_build_object" | "jsonb_build_array" => {
            let types = any_types(args);
            let func = if name == "jsonb_build_object" {
                Func::JsonbBuildObject { types: types.clone() }
            } else {
                Func::JsonbBuildArray { types: types.clone() }
            };
            return Ok(Resolved { func, arg_types: types, return_type: JSONB });
        }
        "json_build_object" | "json_build_array" | "row_to_json"
            if name != "row_to_json" || args.len().is_multiple_of(2) =>
        {
            let types = any_types(args);
            let func = match name {
                "json_build_object" => JsonFunc::BuildObject { types: types.clone() },
                "json_build_array" => JsonFunc::BuildArray { types: types.clone() },
                // A FROM item's whole row, as the planner passes it: name/value pairs.
                _ => JsonFunc::Row { types: types.clone() },
            };
            return Ok(Resolved { func: Func::Json(func), arg_types: types, return_type: JSON });
        }
        "array_to_json" => {
            return match args {
                [Some(t @ ScalarType::Array(_))] | [Some(t @ ScalarType::Array(_)), None | Some(ScalarType::Bool)] => {
                    let mut arg_types = vec![t.clone()];
                    arg_types.extend(args.get(1).map(|_| BOOL));
                    Ok(Resolved {
                        func: Func::Json(JsonFunc::ArrayToJson { ty: t.clone() }),
                        arg_types,
                        return_type: JSON,
                    })
                }
                _ => Err(no_function(name, args)),
            };
        }
        "to_jsonb" | "to_json" => {
            let json = name == "to_json";
            return match args {
                [Some(t)] => Ok(Resolved {
                    func: if json {
                        Func::Json(JsonFunc::ToJson { ty: t.clone() })
                    } else {
                        Func::ToJsonb { ty: t.clone() }
                    },
                    arg_types: vec![t.clone()],
                    return_type: if json { JSON } else { JSONB },
                }),
                [None] => Err(ResolveError::DatatypeMismatch(
                    "could not determine polymorphic type because input has type unknown".into(),
                )),
                _ => Err(no_function(name, args)),
            };
        }
        _ => {}
    }
    let cands = function_candidates(name);
    if cands.is_empty() {
        return Err(no_function(name, args));
    }
    pick_function(name, args, cands)
}

fn unary_math(func: fn(NumType) -> Func, types: &[NumType]) -> Vec<Cand> {
    types.iter().map(|&t| c(func(t), &[t.scalar_type()], t.scalar_type())).collect()
}

const ALL_NUM: [NumType; 6] =
    [NumType::Int16, NumType::Int32, NumType::Int64, NumType::Float32, NumType::Float64, NumType::Numeric];
const F8_NUM: [NumType; 2] = [NumType::Float64, NumType::Numeric];
const INTS: [NumType; 3] = [NumType::Int16, NumType::Int32, NumType::Int64];

fn function_candidates(name: &str) -> Vec<Cand> {
    use NumType::*;
    let f8 = |f: FloatFunc| vec![c(Func::Float(f), &[F8], F8)];
    match name {
        // ---- math ----
        "abs" => unary_math(Func::Abs, &ALL_NUM),
        "round" => {
            let mut v = unary_math(Func::Round, &F8_NUM);
            v.push(c(Func::RoundScale, &[NUM, I4], NUM));
            v
        }
        "trunc" => {
            let mut v = unary_math(Func::Trunc, &F8_NUM);
            v.push(c(Func::TruncScale, &[NUM, I4], NUM));
            v
        }
        "ceil" | "ceiling" => unary_math(Func::Ceil, &F8_NUM),
        "floor" => unary_math(Func::Floor, &F8_NUM),
        "sign" => unary_math(Func::Sign, &F8_NUM),
        "sqrt" => unary_math(Func::Sqrt, &F8_NUM),
        "exp" => unary_math(Func::Exp, &F8_NUM),
        "ln" => unary_math(Func::Ln, &F8_NUM),
        "log10" => unary_math(Func::Log10, &F8_NUM),
        "log" => {
            let mut v = unary_math(Func::Log10, &F8_NUM);
            v.push(c(Func::LogBase(Numeric), &[NUM, NUM], NUM));
            v
        }
        "mod" => [Int16, Int32, Int64, Numeric]
            .iter()
            .map(|&t| c(Func::Mod(t), &[t.scalar_type(), t.scalar_type()], t.scalar_type()))
            .collect(),
        "power" | "pow" => vec![c(Func::Pow(Float64), &[F8, F8], F8), c(Func::Pow(Numeric), &[NUM, NUM], NUM)],
        "div" => vec![c(Func::NumericIntDiv, &[NUM, NUM], NUM)],
        "factorial" => vec![c(Func::Factorial, &[I8], NUM)],
        "scale" => vec![c(Func::NumericScale, &[NUM], I4)],
        "min_scale" => vec![c(Func::NumericMinScale, &[NUM], I4)],
        "trim_scale" => vec![c(Func::NumericTrimScale, &[NUM], NUM)],
        "pi" => vec![c(Func::Pi, &[], F8)],
        "random" => vec![c(Func::Random, &[], F8)],
        "gen_random_uuid" => vec![c(Func::GenRandomUuid, &[], UUID)],
        "pg_cancel_backend" => vec![c(Func::PgCancelBackend, &[I4], BOOL)],
        // PostgreSQL's result type is void, whose text form is empty: Eddy has no void
        // type and returns the empty text.
        "pg_sleep" => vec![c(Func::PgSleep, &[F8], TEXT)],
        // The timeout (how long PostgreSQL waits for the backend to exit) is accepted and
        // not waited on: the connection is closed at once.
        "pg_terminate_backend" => {
            vec![c(Func::PgTerminateBackend, &[I4], BOOL), c(Func::PgTerminateBackend, &[I4, I8], BOOL)]
        }
        "cbrt" => f8(FloatFunc::Cbrt),
        "sin" => f8(FloatFunc::Sin),
        "cos" => f8(FloatFunc::Cos),
        "tan" => f8(FloatFunc::Tan),
        "cot" => f8(FloatFunc::Cot),
        "asin" => f8(FloatFunc::Asin),
        "acos" => f8(FloatFunc::Acos),
        "atan" => f8(FloatFunc::Atan),
        "degrees" => f8(FloatFunc::Degrees),
        "radians" => f8(FloatFunc::Radians),
        "atan2" => vec![c(Func::Atan2, &[F8, F8], F8)],
        "width_bucket" => vec![
            c(Func::WidthBucket(Float64), &[F8, F8, F8, I4], I4),
            c(Func::WidthBucket(Numeric), &[NUM, NUM, NUM, I4], I4),
        ],
        "gcd" => vec![c(Func::Gcd(Int32), &[I4, I4], I4), c(Func::Gcd(Int64), &[I8, I8], I8)],
        "lcm" => vec![c(Func::Lcm(Int32), &[I4, I4], I4), c(Func::Lcm(Int64), &[I8, I8], I8)],

        // ---- strings ----
        "length" => vec![c(Func::CharLength, &[TEXT], I4), c(Func::OctetLength, &[BYTEA], I4)],
        "char_length" | "character_length" => vec![c(Func::CharLength, &[TEXT], I4)],
        // No bpchar variant (unlike octet_length): char(n) padding is dropped as text.
        "bit_length" => vec![c(Func::BitLength, &[TEXT], I4), c(Func::BitLength, &[BYTEA], I4)],
        "octet_length" => vec![
            c(Func::OctetLength, &[TEXT], I4),
            c(Func::OctetLength, &[BPCHAR], I4),
            c(Func::OctetLength, &[BYTEA], I4),
        ],
        "lower" => vec![c(Func::Lower, &[TEXT], TEXT)],
        "upper" => vec![c(Func::Upper, &[TEXT], TEXT)],
        "initcap" => vec![c(Func::Initcap, &[TEXT], TEXT)],
        "substr" | "substring" => {
            vec![c(Func::Substr, &[TEXT, I4], TEXT), c(Func::Substr, &[TEXT, I4, I4], TEXT)]
        }
        "position" | "strpos" => vec![c(Func::Position, &[TEXT, TEXT], I4)],
        "replace" => vec![c(Func::Replace, &[TEXT, TEXT, TEXT], TEXT)],
        "btrim" | "trim" | "ltrim" | "rtrim" => {
            let side = match name {
                "ltrim" => TrimSide::Leading,
                "rtrim" => TrimSide::Trailing,
                _ => TrimSide::Both,
            };
            vec![c(Func::Trim(side), &[TEXT], TEXT), c(Func::Trim(side), &[TEXT, TEXT], TEXT)]
        }
        "left" => vec![c(Func::Left, &[TEXT, I4], TEXT)],
        "right" => vec![c(Func::Right, &[TEXT, I4], TEXT)],
        "lpad" => vec![c(Func::Lpad, &[TEXT, I4], TEXT), c(Func::Lpad, &[TEXT, I4, TEXT], TEXT)],
        "rpad" => vec![c(Func::Rpad, &[TEXT, I4], TEXT), c(Func::Rpad, &[TEXT, I4, TEXT], TEXT)],
        "repeat" => vec![c(Func::Repeat, &[TEXT, I4], TEXT)],
        "reverse" => vec![c(Func::Reverse, &[TEXT], TEXT)],
        "split_part" => vec![c(Func::SplitPart, &[TEXT, TEXT, I4], TEXT)],
        "starts_with" => vec![c(Func::StartsWith, &[TEXT, TEXT], BOOL)],
        "ascii" => vec![c(Func::Ascii, &[TEXT], I4)],
        "chr" => vec![c(Func::Chr, &[I4], TEXT)],
        "translate" => vec![c(Func::Translate, &[TEXT, TEXT, TEXT], TEXT)],
        "format_type" => vec![c(Func::FormatType, &[I8, I4], TEXT)],
        "pg_size_pretty" => vec![c(Func::SizePretty, &[I8], TEXT)],
        "to_hex" => vec![c(Func::ToHex, &[I4], TEXT), c(Func::ToHex, &[I8], TEXT)],
        "like_escape" => vec![c(Func::LikeEscape, &[TEXT, TEXT], TEXT)],
        "regexp_match" => vec![
            c(Func::RegexpMatch, &[TEXT, TEXT], text_array()),
            c(Func::RegexpMatch, &[TEXT, TEXT, TEXT], text_array()),
        ],
        "regexp_split_to_array" => vec![
            c(Func::RegexpSplitToArray, &[TEXT, TEXT], text_array()),
            c(Func::RegexpSplitToArray, &[TEXT, TEXT, TEXT], text_array()),
        ],
        "string_to_array" => vec![
            c(Func::StringToArray, &[TEXT, TEXT], text_array()),
            c(Func::StringToArray, &[TEXT, TEXT, TEXT], text_array()),
        ],
        "similar_to_escape" => {
            vec![c(Func::SimilarToEscape, &[TEXT], TEXT), c(Func::SimilarToEscape, &[TEXT, TEXT], TEXT)]
        }
        "md5" => vec![c(Func::Md5, &[TEXT], TEXT), c(Func::Md5, &[BYTEA], TEXT)],
        "sha224" => vec![c(Func::Sha { bits: 224 }, &[BYTEA], BYTEA)],
        "sha256" => vec![c(Func::Sha { bits: 256 }, &[BYTEA], BYTEA)],
        "sha384" => vec![c(Func::Sha { bits: 384 }, &[BYTEA], BYTEA)],
        "sha512" => vec![c(Func::Sha { bits: 512 }, &[BYTEA], BYTEA)],
        "encode" => vec![c(Func::Encode, &[BYTEA, TEXT], TEXT)],
        "decode" => vec![c(Func::Decode, &[TEXT, TEXT], BYTEA)],
        "quote_ident" => vec![c(Func::QuoteIdent, &[TEXT], TEXT)],
        "quote_literal" => vec![c(Func::QuoteLiteral, &[TEXT], TEXT)],
        "quote_nullable" => vec![c(Func::QuoteNullable, &[TEXT], TEXT)],
        "regexp_replace" => vec![
            c(Func::RegexpReplace, &[TEXT, TEXT, TEXT], TEXT),
            c(Func::RegexpReplace, &[TEXT, TEXT, TEXT, TEXT], TEXT),
        ],
        "textlike" | "like" => vec![c(Func::Like { case_insensitive: false, negated: false }, &[TEXT, TEXT], BOOL)],

        // ---- date/time ----
        "timezone" => vec![
            c(Func::Timezone(TimeType::TimestampTz), &[TEXT, TSTZ], TS),
            c(Func::Timezone(TimeType::Timestamp), &[TEXT, TS], TSTZ),
        ],
        "date_trunc" => vec![
            c(Func::DateTrunc(TimeType::Timestamp), &[TEXT, TS], TS),
            c(Func::DateTrunc(TimeType::TimestampTz), &[TEXT, TSTZ], TSTZ),
            c(Func::DateTrunc(TimeType::Interval), &[TEXT, IV], IV),
        ],
        "date_part" => vec![
            c(Func::DatePart(TimeType::Date), &[TEXT, DATE], F8),
            c(Func::DatePart(TimeType::Time), &[TEXT, TIME], F8),
            c(Func::DatePart(TimeType::Timestamp), &[TEXT, TS], F8),
            c(Func::DatePart(TimeType::TimestampTz), &[TEXT, TSTZ], F8),
            c(Func::DatePart(TimeType::Interval), &[TEXT, IV], F8),
        ],
        "extract" => vec![
            c(Func::Extract(TimeType::Date), &[TEXT, DATE], NUM),
            c(Func::Extract(TimeType::Time), &[TEXT, TIME], NUM),
            c(Func::Extract(TimeType::Timestamp), &[TEXT, TS], NUM),
            c(Func::Extract(TimeType::TimestampTz), &[TEXT, TSTZ], NUM),
            c(Func::Extract(TimeType::Interval), &[TEXT, IV], NUM),
        ],
        "age" => vec![c(Func::Age { tz: false }, &[TS, TS], IV), c(Func::Age { tz: true }, &[TSTZ, TSTZ], IV)],
        "isfinite" => [DATE, TS, TSTZ, IV].iter().map(|t| c(Func::IsFinite, std::slice::from_ref(t), BOOL)).collect(),
        "make_date" => vec![c(Func::MakeDate, &[I4, I4, I4], DATE)],
        "make_timestamp" => vec![c(Func::MakeTimestamp, &[I4, I4, I4, I4, I4, F8], TS)],
        "make_interval" => {
            let full = [I4, I4, I4, I4, I4, I4, F8];
            (0..=7).map(|n| c(Func::MakeInterval, &full[..n], IV)).collect()
        }
        "to_timestamp" => vec![c(Func::ToTimestamp, &[F8], TSTZ), c(Func::ToTimestamp, &[TEXT, TEXT], TSTZ)],
        "to_date" => vec![c(Func::ToDate, &[TEXT, TEXT], DATE)],
        "to_char" => {
            [TS, TSTZ, IV, I2, I4, I8, F4, F8, NUM].into_iter().map(|t| c(Func::ToChar, &[t, TEXT], TEXT)).collect()
        }
        "date_bin" => vec![
            c(Func::DateBin { tz: false }, &[IV, TS, TS], TS),
            c(Func::DateBin { tz: true }, &[IV, TSTZ, TSTZ], TSTZ),
        ],
        "justify_days" => vec![c(Func::JustifyDays, &[IV], IV)],
        "justify_hours" => vec![c(Func::JustifyHours, &[IV], IV)],
        "justify_interval" => vec![c(Func::JustifyInterval, &[IV], IV)],

        // ---- json and jsonb ----
        "json_typeof" => vec![c(Func::Json(JsonFunc::Typeof), &[JSON], TEXT)],
        "json_array_length" => vec![c(Func::Json(JsonFunc::ArrayLength), &[JSON], I4)],
        "json_strip_nulls" => vec![c(Func::Json(JsonFunc::StripNulls), &[JSON], JSON)],
        "json_object" => vec![
            c(Func::Json(JsonFunc::Object), &[text_array()], JSON),
            c(Func::Json(JsonFunc::Object), &[text_array(), text_array()], JSON),
        ],
        "jsonb_typeof" => vec![c(Func::JsonbTypeof, &[JSONB], TEXT)],
        "jsonb_pretty" => vec![c(Func::JsonbPretty, &[JSONB], TEXT)],
        "jsonb_array_length" => vec![c(Func::JsonbArrayLength, &[JSONB], I4)],
        "jsonb_strip_nulls" => vec![c(Func::JsonbStripNulls, &[JSONB], JSONB)],
        "jsonb_set" => vec![
            c(Func::JsonbSet, &[JSONB, text_array(), JSONB], JSONB),
            c(Func::JsonbSet, &[JSONB, text_array(), JSONB, BOOL], JSONB),
        ],
        _ => vec![],
    }
}

/// Same-type candidates for each numeric type, plus PostgreSQL's cross-type integer and
/// float operators (`int24pl`, `float48pl`, ...), which win resolution in mixed cases.
fn numeric_family(func: impl Fn(NumType) -> Func, types: &[NumType], ret_bool: bool, cross: bool) -> Vec<Cand> {
    use NumType::*;
    let ret = |t: NumType| if ret_bool { BOOL } else { t.scalar_type() };
    let mut v: Vec<Cand> = types.iter().map(|&t| c(func(t), &[t.scalar_type(), t.scalar_type()], ret(t))).collect();
    if cross {
        let pairs = [
            (Int16, Int32, Int32),
            (Int32, Int16, Int32),
            (Int16, Int64, Int64),
            (Int64, Int16, Int64),
            (Int32, Int64, Int64),
            (Int64, Int32, Int64),
            (Float32, Float64, Float64),
            (Float64, Float32, Float64),
        ];
        for (a, b, r) in pairs {
            v.push(c(func(r), &[a.scalar_type(), b.scalar_type()], ret(r)));
        }
    }
    v
}

fn comparison_candidates(func: Func) -> Vec<Cand> {
    let mut v = numeric_family(|_| func.clone(), &ALL_NUM, true, true);
    for t in [BOOL, TEXT, BYTEA, DATE, TIME, TS, TSTZ, IV, JSONB, UUID] {
        v.push(c(func.clone(), &[t.clone(), t], BOOL));
    }
    for (a, b) in [(DATE, TS), (TS, DATE), (DATE, TSTZ), (TSTZ, DATE), (TS, TSTZ), (TSTZ, TS)] {
        v.push(c(func.clone(), &[a, b], BOOL));
    }
    v
}

fn binary_candidates(op: &str) -> Vec<Cand> {
    use NumType::*;
    match op {
        "=" => comparison_candidates(Func::Eq),
        "<>" => comparison_candidates(Func::NotEq),
        "<" => comparison_candidates(Func::Lt),
        "<=" => comparison_candidates(Func::Lte),
        ">" => comparison_candidates(Func::Gt),
        ">=" => comparison_candidates(Func::Gte),
        "+" => {
            let mut v = numeric_family(Func::Add, &ALL_NUM, false, true);
            v.extend([
                c(Func::DateAddInt, &[DATE, I4], DATE),
                c(Func::DateAddInt, &[I4, DATE], DATE),
                c(Func::DateAddInterval, &[DATE, IV], TS),
                c(Func::DateAddInterval, &[IV, DATE], TS),
                c(Func::DateAddTime, &[DATE, TIME], TS),
                c(Func::DateAddTime, &[TIME, DATE], TS),
                c(Func::TimestampAddInterval { tz: false }, &[TS, IV], TS),
                c(Func::TimestampAddInterval { tz: false }, &[IV, TS], TS),
                c(Func::TimestampAddInterval { tz: true }, &[TSTZ, IV], TSTZ),
                c(Func::TimestampAddInterval { tz: true }, &[IV, TSTZ], TSTZ),
                c(Func::TimeAddInterval, &[TIME, IV], TIME),
                c(Func::TimeAddInterval, &[IV, TIME], TIME),
                c(Func::IntervalAdd, &[IV, IV], IV),
            ]);
            v
        }
        "-" => {
            let mut v = numeric_family(Func::Sub, &ALL_NUM, false, true);
            v.extend([
                c(Func::DateSubInt, &[DATE, I4], DATE),
                c(Func::DateSubDate, &[DATE, DATE], I4),
                c(Func::DateSubInterval, &[DATE, IV], TS),
                c(Func::TimestampSubInterval { tz: false }, &[TS, IV], TS),
                c(Func::TimestampSubInterval { tz: true }, &[TSTZ, IV], TSTZ),
                c(Func::TimestampSub { tz: false }, &[TS, TS], IV),
                c(Func::TimestampSub { tz: true }, &[TSTZ, TSTZ], IV),
                c(Func::TimeSubInterval, &[TIME, IV], TIME),
                c(Func::TimeSub, &[TIME, TIME], IV),
                c(Func::IntervalSub, &[IV, IV], IV),
                c(Func::JsonbDelete, &[JSONB, TEXT], JSONB),
                c(Func::JsonbDelete, &[JSONB, I4], JSONB),
            ]);
            v
        }
        "*" => {
            let mut v = numeric_family(Func::Mul, &ALL_NUM, false, true);
            v.extend([c(Func::IntervalMul, &[IV, F8], IV), c(Func::IntervalMul, &[F8, IV], IV)]);
            v
        }
        "/" => {
            let mut v = numeric_family(Func::Div, &ALL_NUM, false, true);
            v.push(c(Func::IntervalDiv, &[IV, F8], IV));
            v
        }
        "%" => numeric_family(Func::Mod, &[Int16, Int32, Int64, Numeric], false, false),
        "^" => numeric_family(Func::Pow, &F8_NUM, false, false),
        "&" => numeric_family(Func::BitAnd, &INTS, false, false),
        "|" => numeric_family(Func::BitOr, &INTS, false, false),
        "#" => numeric_family(Func::BitXor, &INTS, false, false),
        "<<" | ">>" => INTS
            .iter()
            .map(|&t| {
                let f = if op == "<<" { Func::ShiftLeft(t) } else { Func::ShiftRight(t) };
                c(f, &[t.scalar_type(), I4], t.scalar_type())
            })
            .collect(),
        "~~" | "!~~" | "~~*" | "!~~*" => {
            let func = Func::Like { case_insensitive: op.contains('*'), negated: op.starts_with('!') };
            vec![c(func.clone(), &[TEXT, TEXT], BOOL), c(func, &[BPCHAR, TEXT], BOOL)]
        }
        "~" | "!~" | "~*" | "!~*" => {
            let func = Func::RegexMatch { case_insensitive: op.contains('*'), negated: op.starts_with('!') };
            vec![c(func.clone(), &[TEXT, TEXT], BOOL), c(func, &[BPCHAR, TEXT], BOOL)]
        }
        "->" | "->>" => {
            let text = op == "->>";
            let (jsonb, ret, jsonb_ret) =
                if text { (Func::JsonbGetText, TEXT, TEXT) } else { (Func::JsonbGet, JSON, JSONB) };
            let json = Func::Json(JsonFunc::Get { text });
            vec![
                c(jsonb.clone(), &[JSONB, TEXT], jsonb_ret.clone()),
                c(jsonb, &[JSONB, I4], jsonb_ret),
                c(json.clone(), &[JSON, TEXT], ret.clone()),
                c(json, &[JSON, I4], ret),
            ]
        }
        "#>" => vec![
            c(Func::JsonbGetPath, &[JSONB, TEXT], JSONB),
            c(Func::Json(JsonFunc::GetPath { text: false }), &[JSON, text_array()], JSON),
        ],
        "#>>" => vec![
            c(Func::JsonbGetPathText, &[JSONB, TEXT], TEXT),
            c(Func::Json(JsonFunc::GetPath { text: true }), &[JSON, text_array()], TEXT),
        ],
        "@>" => vec![c(Func::JsonbContains, &[JSONB, JSONB], BOOL)],
        "<@" => vec![c(Func::JsonbContained, &[JSONB, JSONB], BOOL)],
        "?" => vec![c(Func::JsonbExists, &[JSONB, TEXT], BOOL)],
        _ => vec![],
    }
}

pub(super) fn operator_display(op: &str, left: &Option<ScalarType>, right: &Option<ScalarType>) -> String {
    format!("{} {op} {}", type_name(left), type_name(right))
}

pub(super) fn resolve_binary_operator(
    op: &str,
    left: Option<ScalarType>,
    right: Option<ScalarType>,
) -> Result<Resolved, ResolveError> {
    let lower = op.to_ascii_lowercase();
    let op = match lower.trim() {
        "!=" => "<>",
        "like" => "~~",
        "not like" => "!~~",
        "ilike" => "~~*",
        "not ilike" => "!~~*",
        other => other,
    };
    let is_array = |t: &Option<ScalarType>| matches!(t, Some(ScalarType::Array(_)));
    if op == "||" {
        if is_array(&left) || is_array(&right) {
            return super::array::concat(&left, &right);
        }
        return resolve_concat(left, right);
    }
    if is_array(&left) || is_array(&right) {
        return resolve_array_comparison(op, left, right);
    }
    let cands = binary_candidates(op);
    let inputs = [left.clone(), right.clone()];
    match select(&inputs, cands, true) {
        Pick::One(c) => Ok(resolved(c)),
        Pick::NoMatch => Err(ResolveError::NoSuchOperator(operator_display(op, &left, &right))),
        Pick::Ambiguous => {
            Err(ResolveError::Ambiguous(format!("operator is not unique: {}", operator_display(op, &left, &right))))
        }
    }
}

/// `=`, `<`, ... between two arrays of one element type (an unknown side takes the
/// other's type): element by element, then by length; and `@>`, `<@`, `&&`.
fn resolve_array_comparison(
    op: &str,
    left: Option<ScalarType>,
    right: Option<ScalarType>,
) -> Result<Resolved, ResolveError> {
    let (func, return_type) = match op {
        "@>" => (Func::ArrayContains { contained: false }, BOOL),
        "<@" => (Func::ArrayContains { contained: true }, BOOL),
        "&&" => (Func::ArrayOverlap, BOOL),
        other => {
            (comparison(other).ok_or_else(|| ResolveError::NoSuchOperator(operator_display(op, &left, &right)))?, BOOL)
        }
    };
    let ty = match (&left, &right) {
        (Some(a), Some(b)) if a.without_modifiers() == b.without_modifiers() => a.without_modifiers(),
        (Some(t @ ScalarType::Array(_)), None) | (None, Some(t @ ScalarType::Array(_))) => t.without_modifiers(),
        _ => return Err(ResolveError::NoSuchOperator(operator_display(op, &left, &right))),
    };
    Ok(Resolved { func, arg_types: vec![ty.clone(), ty], return_type })
}

fn comparison(op: &str) -> Option<Func> {
    Some(match op {
        "=" => Func::Eq,
        "<>" => Func::NotEq,
        "<" => Func::Lt,
        "<=" => Func::Lte,
        ">" => Func::Gt,
        ">=" => Func::Gte,
        _ => return None,
    })
}

/// `||`: text concatenation (with PostgreSQL's `anynonarray || text` forms) or jsonb
/// concatenation.
fn resolve_concat(left: Option<ScalarType>, right: Option<ScalarType>) -> Result<Resolved, ResolveError> {
    let text_like = |t: &Option<ScalarType>| t.as_ref().is_none_or(ScalarType::is_string);
    let base = |t: &Option<ScalarType>| t.as_ref().map(ScalarType::without_modifiers);
    match (base(&left), base(&right)) {
        (Some(ScalarType::Jsonb), Some(ScalarType::Jsonb))
        | (Some(ScalarType::Jsonb), None)
        | (None, Some(ScalarType::Jsonb)) => {
            return Ok(Resolved { func: Func::JsonbConcat, arg_types: vec![JSONB, JSONB], return_type: JSONB })
        }
        (Some(ScalarType::Bytea), Some(ScalarType::Bytea))
        | (Some(ScalarType::Bytea), None)
        | (None, Some(ScalarType::Bytea)) => {
            return Ok(Resolved { func: Func::ByteaConcat, arg_types: vec![BYTEA, BYTEA], return_type: BYTEA })
        }
        _ => {}
    }
    if text_like(&left) && text_like(&right) {
        return Ok(Resolved { func: Func::TextConcat, arg_types: vec![TEXT, TEXT], return_type: TEXT });
    }
    // One side is text (or unknown, taken as text), the other a non-text value.
    if let (true, Some(t)) = (text_like(&left), &right) {
        return Ok(Resolved {
            func: Func::TextAnyConcat { ty: t.clone() },
            arg_types: vec![TEXT, t.clone()],
            return_type: TEXT,
        });
    }
    if let (Some(t), true) = (&left, text_like(&right)) {
        return Ok(Resolved {
            func: Func::TextAnyConcat { ty: t.clone() },
            arg_types: vec![t.clone(), TEXT],
            return_type: TEXT,
        });
    }
    Err(ResolveError::NoSuchOperator(operator_display("||", &left, &right)))
}

pub(super) fn resolve_unary_operator(op: &str, arg: Option<ScalarType>) -> Result<Resolved, ResolveError> {
    let lower = op.to_ascii_lowercase();
    let op = lower.trim();
    let cands: Vec<Cand> = match op {
        "-" => {
            let mut v = unary_math(Func::Neg, &ALL_NUM);
            v.push(c(Func::IntervalNeg, &[IV], IV));
            v
        }
        "+" => unary_math(Func::Plus, &ALL_NUM),
        "not" => vec![c(Func::Not, &[BOOL], BOOL)],
        "@" => unary_math(Func::Abs, &ALL_NUM),
        "|/" => vec![c(Func::Sqrt(NumType::Float64), &[F8], F8)],
        "||/" => vec![c(Func::Float(FloatFunc::Cbrt), &[F8], F8)],
        "~" => unary_math(Func::BitNot, &INTS),
        _ => vec![],
    };
    let display = || {
        if op == "not" {
            format!("NOT {}", type_name(&arg))
        } else {
            format!("{op} {}", type_name(&arg))
        }
    };
    match select(std::slice::from_ref(&arg), cands, false) {
        Pick::One(c) => Ok(resolved(c)),
        Pick::NoMatch => Err(ResolveError::NoSuchOperator(display())),
        Pick::Ambiguous => Err(ResolveError::Ambiguous(format!("operator is not unique: {}", display()))),
    }
}

fn text_array() -> ScalarType {
    ScalarType::Array(Box::new(TEXT))
}
