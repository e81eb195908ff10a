//! Casts: which exist in which context (PostgreSQL's `pg_cast` plus automatic I/O
//! conversion casts) and their evaluation.

use chrono::{NaiveTime, Timelike};
use eddy_repr::interval::MICROS_PER_DAY;
use eddy_repr::jsonb::JsonNumber;
use eddy_repr::strconv::{date_infinity, infinite_timestamp, timestamp_infinity};
use eddy_repr::{strconv, Datum, Interval, Jsonb, ScalarType};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::numeric::{as_dec, as_f64, float_to_numeric, int_datum, int_out_of_range, numeric_to_f64};
use super::{CastContext, Func, NumType, ResolveError};
use crate::EvalError;

fn rank(c: CastContext) -> u8 {
    match c {
        CastContext::Implicit => 0,
        CastContext::Assignment => 1,
        CastContext::Explicit => 2,
    }
}

/// The least permissive context in which PostgreSQL allows casting base type `from` to
/// base type `to` (different base types), or None if it has no such cast.
fn cast_context(from: &ScalarType, to: &ScalarType) -> Option<CastContext> {
    use CastContext::*;
    use ScalarType::*;
    if from.is_string() && to.is_string() {
        return Some(Implicit);
    }
    if let (Array(f), Array(t)) = (from, to) {
        return cast_context(f, t);
    }
    if super::resolve::can_coerce_implicit(from, to) {
        return Some(Implicit);
    }
    // Automatic I/O conversion casts: to string types in assignment, from them explicitly.
    if to.is_string() {
        return Some(Assignment);
    }
    if from.is_string() {
        return Some(Explicit);
    }
    match (from, to) {
        (Int32 | Int64, Int16) | (Int64, Int32) => Some(Assignment),
        (Float32 | Float64 | Numeric { .. }, Int16 | Int32 | Int64) => Some(Assignment),
        (Float32, Numeric { .. }) | (Float64, Numeric { .. } | Float32) => Some(Assignment),
        (Int32, Bool) | (Bool, Int32) => Some(Explicit),
        (Timestamp { .. } | TimestampTz { .. }, Date | Time { .. })
        | (TimestampTz { .. }, Timestamp { .. })
        | (Interval, Time { .. }) => Some(Assignment),
        (Jsonb, Bool | Numeric { .. } | Int16 | Int32 | Int64 | Float32 | Float64) => Some(Explicit),
        (Json, Jsonb) | (Jsonb, Json) => Some(Assignment),
        _ => None,
    }
}

/// Whether casting a value of `from` to `to` (same base type) must do anything.
fn needs_modifiers(from: &ScalarType, to: &ScalarType) -> bool {
    use ScalarType::*;
    match (from, to) {
        (Numeric { .. }, Numeric { precision: Some(_), .. }) => from != to,
        (Varchar { max_length: f }, Varchar { max_length: Some(n) }) => f.is_none_or(|f| f > *n),
        (Char { length: f }, Char { length: Some(n) }) => *f != Some(*n),
        (Time { precision: f }, Time { precision: Some(p) })
        | (Timestamp { precision: f }, Timestamp { precision: Some(p) })
        | (TimestampTz { precision: f }, TimestampTz { precision: Some(p) }) => f.is_none_or(|f| f > *p),
        (Array(f), Array(t)) => needs_modifiers(f, t),
        _ => false,
    }
}

pub(super) fn resolve_cast(
    from: &ScalarType,
    to: &ScalarType,
    context: CastContext,
) -> Result<Option<Func>, ResolveError> {
    let explicit = context == CastContext::Explicit;
    let fb = from.without_modifiers();
    let tb = to.without_modifiers();
    let cast = || Some(Func::Cast { from: from.clone(), to: to.clone(), explicit });
    if fb == tb {
        return Ok(if needs_modifiers(from, to) { cast() } else { None });
    }
    let required = cast_context(&fb, &tb)
        .ok_or_else(|| ResolveError::NoSuchCast { from: from.to_string(), to: to.to_string() })?;
    if rank(context) < rank(required) {
        return Err(ResolveError::NoSuchCast { from: from.to_string(), to: to.to_string() });
    }
    // Binary-coercible conversions with nothing to check.
    let noop = matches!(
        (from, to),
        (ScalarType::Int2Vector, ScalarType::Array(_))
            | (ScalarType::Varchar { .. }, ScalarType::Text)
            | (
                ScalarType::Text | ScalarType::Varchar { .. },
                ScalarType::Varchar { max_length: None } | ScalarType::Char { length: None }
            )
    );
    Ok(if noop { None } else { cast() })
}

/// The text a value becomes when cast to a string type: `true`/`false` for booleans,
/// char(n) without its padding, otherwise the type's output function.
pub(super) fn text_of(d: &Datum, ty: &ScalarType) -> Result<String, EvalError> {
    match (d, ty) {
        (Datum::Bool(b), _) => Ok(if *b { "true" } else { "false" }.to_string()),
        (Datum::Text(s), ScalarType::Char { .. }) => Ok(s.trim_end_matches(' ').to_string()),
        (Datum::Text(s), _) => Ok(s.clone()),
        _ => output(d, ty),
    }
}

/// The type's output function (`t` for true), as `concat` and `format` use.
pub(super) fn output(d: &Datum, ty: &ScalarType) -> Result<String, EvalError> {
    if let Datum::Text(s) = d {
        return Ok(s.clone());
    }
    let mut out = String::new();
    strconv::format_datum(d, ty, &mut out);
    Ok(out)
}

/// Applies string length modifiers; explicit casts truncate silently, as PostgreSQL.
fn string_modifiers(s: String, to: &ScalarType, explicit: bool) -> Result<Datum, EvalError> {
    let limit = match to {
        ScalarType::Varchar { max_length: Some(n) } => Some(*n),
        ScalarType::Char { length: Some(n) } => Some(*n),
        _ => None,
    };
    let s = match limit {
        Some(n) if explicit => match s.char_indices().nth(n as usize) {
            Some((i, _)) => s[..i].to_string(),
            None => s,
        },
        _ => s,
    };
    if limit.is_some() {
        Ok(strconv::apply_modifiers(Datum::Text(s), to)?)
    } else {
        Ok(Datum::Text(s))
    }
}

fn numeric_modifiers(d: Decimal, to: &ScalarType) -> Result<Datum, EvalError> {
    match to {
        ScalarType::Numeric { precision: Some(_), .. } => Ok(strconv::apply_modifiers(Datum::Numeric(d), to)?),
        _ => Ok(Datum::Numeric(d)),
    }
}

fn num_type(t: &ScalarType) -> Option<NumType> {
    Some(match t {
        ScalarType::Int16 => NumType::Int16,
        ScalarType::Int32 => NumType::Int32,
        ScalarType::Int64 => NumType::Int64,
        ScalarType::Float32 => NumType::Float32,
        ScalarType::Float64 => NumType::Float64,
        ScalarType::Numeric { .. } => NumType::Numeric,
        _ => return None,
    })
}

/// float → integer: round half to even (rint), then range-check.
fn float_to_int(v: f64, t: NumType) -> Result<Datum, EvalError> {
    let r = v.round_ties_even();
    let (lo, hi) = match t {
        NumType::Int16 => (i16::MIN as f64, -(i16::MIN as f64)),
        NumType::Int32 => (i32::MIN as f64, -(i32::MIN as f64)),
        _ => (i64::MIN as f64, -(i64::MIN as f64)),
    };
    if r.is_nan() || r < lo || r >= hi {
        return Err(int_out_of_range(t));
    }
    int_datum(r as i128, t)
}

/// numeric → integer: round half away from zero, then range-check.
fn numeric_to_int(d: Decimal, t: NumType) -> Result<Datum, EvalError> {
    let r = d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    match r.to_i128() {
        Some(v) => int_datum(v, t),
        None => Err(int_out_of_range(t)),
    }
}

fn float_checked_f32(v: f64) -> Result<f32, EvalError> {
    let r = v as f32;
    if r.is_infinite() && !v.is_infinite() {
        return Err(EvalError::OutOfRange("value out of range: overflow".into()));
    }
    if r == 0.0 && v != 0.0 {
        return Err(EvalError::OutOfRange("value out of range: underflow".into()));
    }
    Ok(r)
}

fn numeric_cast(d: &Datum, from: NumType, to: NumType, to_ty: &ScalarType) -> Result<Datum, EvalError> {
    use NumType::*;
    match (from, to) {
        (Int16 | Int32 | Int64, Int16 | Int32 | Int64) => int_datum(d.as_i64().unwrap_or(0) as i128, to),
        (Int16 | Int32 | Int64, Float32) => Ok(Datum::Float32(d.as_i64().unwrap_or(0) as f32)),
        (Int16 | Int32 | Int64, Float64) => Ok(Datum::Float64(d.as_i64().unwrap_or(0) as f64)),
        (Int16 | Int32 | Int64, Numeric) => numeric_modifiers(as_dec(d)?, to_ty),
        (Float32 | Float64, Int16 | Int32 | Int64) => float_to_int(as_f64(d)?, to),
        (Float32, Float64) => Ok(Datum::Float64(as_f64(d)?)),
        (Float64, Float32) => Ok(Datum::Float32(float_checked_f32(as_f64(d)?)?)),
        (Float32, Numeric) => numeric_modifiers(float_to_numeric(as_f64(d)?, 6)?, to_ty),
        (Float64, Numeric) => numeric_modifiers(float_to_numeric(as_f64(d)?, 15)?, to_ty),
        (Numeric, Int16 | Int32 | Int64) => numeric_to_int(as_dec(d)?, to),
        (Numeric, Float64) => Ok(Datum::Float64(numeric_to_f64(&as_dec(d)?))),
        (Numeric, Float32) => {
            let v: f32 = as_dec(d)?.to_string().parse().unwrap_or(f32::NAN);
            Ok(Datum::Float32(v))
        }
        (Numeric, Numeric) => numeric_modifiers(as_dec(d)?, to_ty),
        (a, b) if a == b => Ok(d.clone()),
        _ => Err(EvalError::Internal(format!("no numeric cast {from:?} -> {to:?}"))),
    }
}

fn jsonb_cast(j: &Jsonb, to: &ScalarType) -> Result<Datum, EvalError> {
    let type_desc = |j: &Jsonb| match j {
        Jsonb::Null => "null",
        Jsonb::Bool(_) => "boolean",
        Jsonb::Number(_) => "numeric",
        Jsonb::String(_) => "string",
        Jsonb::Array(_) => "array",
        Jsonb::Object(_) => "object",
    };
    let err = || EvalError::InvalidArgument {
        sqlstate: "22023".into(),
        message: format!("cannot cast jsonb {} to type {}", type_desc(j), to.without_modifiers()),
    };
    match (j, to) {
        (Jsonb::Bool(b), ScalarType::Bool) => Ok(Datum::Bool(*b)),
        (Jsonb::Number(n), _) if to.is_numeric_family() => {
            let d = match n {
                JsonNumber::Decimal(d) => Datum::Numeric(*d),
                JsonNumber::Text(t) => {
                    if matches!(to, ScalarType::Float32 | ScalarType::Float64) {
                        let v: f64 = t.parse().unwrap_or(f64::NAN);
                        return if matches!(to, ScalarType::Float32) {
                            Ok(Datum::Float32(float_checked_f32(v)?))
                        } else {
                            Ok(Datum::Float64(v))
                        };
                    }
                    return Err(super::numeric::numeric_overflow());
                }
            };
            let to_num = num_type(to).unwrap_or(NumType::Numeric);
            numeric_cast(&d, NumType::Numeric, to_num, to)
        }
        _ => Err(err()),
    }
}

fn as_time_of_day(micros: i64) -> Result<NaiveTime, EvalError> {
    let m = micros.rem_euclid(MICROS_PER_DAY);
    let secs = (m / 1_000_000) as u32;
    let nanos = ((m % 1_000_000) * 1000) as u32;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
        .ok_or_else(|| EvalError::Internal("bad time of day".into()))
}

pub(super) fn eval_cast(from: &ScalarType, to: &ScalarType, explicit: bool, d: &Datum) -> Result<Datum, EvalError> {
    use ScalarType as T;
    if d.is_null() {
        return Ok(Datum::Null);
    }
    if to.time_precision().is_some() {
        let value = eval_cast(from, &to.without_modifiers(), explicit, d)?;
        return Ok(strconv::apply_modifiers(value, to)?);
    }
    if let (T::Array(f), T::Array(t), Datum::Array(elements)) = (from, to, d) {
        let cast = elements.iter().map(|e| eval_cast(f, t, explicit, e)).collect::<Result<_, _>>()?;
        return Ok(Datum::Array(cast));
    }
    // To string types.
    if to.is_string() {
        let s = text_of(d, from)?;
        return string_modifiers(s, to, explicit);
    }
    // From string types: the target type's input function.
    if from.is_string() {
        let s = match d {
            Datum::Text(s) => s,
            other => return Err(EvalError::Internal(format!("expected text, got {other:?}"))),
        };
        return Ok(strconv::parse_datum(s, to)?);
    }
    if let (Some(f), Some(t)) = (num_type(from), num_type(to)) {
        return numeric_cast(d, f, t, to);
    }
    match (from, to, d) {
        (T::Int32, T::Bool, _) => Ok(Datum::Bool(d.as_i64().unwrap_or(0) != 0)),
        (T::Bool, T::Int32, Datum::Bool(b)) => Ok(Datum::Int32(*b as i32)),
        (T::Date, T::Timestamp { .. }, Datum::Date(x)) => Ok(Datum::Timestamp(date_to_timestamp(x))),
        (T::Date, T::TimestampTz { .. }, Datum::Date(x)) => Ok(Datum::TimestampTz(date_to_timestamp(x).and_utc())),
        // `infinity` has no time of day.
        (T::Timestamp { .. }, T::Time { .. }, Datum::Timestamp(x)) if timestamp_infinity(x).is_some() => {
            Ok(Datum::Null)
        }
        (T::TimestampTz { .. }, T::Time { .. }, Datum::TimestampTz(x))
            if timestamp_infinity(&x.naive_utc()).is_some() =>
        {
            Ok(Datum::Null)
        }
        (T::Timestamp { .. }, T::TimestampTz { .. }, Datum::Timestamp(x)) => Ok(Datum::TimestampTz(x.and_utc())),
        (T::TimestampTz { .. }, T::Timestamp { .. }, Datum::TimestampTz(x)) => Ok(Datum::Timestamp(x.naive_utc())),
        (T::Timestamp { .. }, T::Date, Datum::Timestamp(x)) => Ok(Datum::Date(x.date())),
        (T::TimestampTz { .. }, T::Date, Datum::TimestampTz(x)) => Ok(Datum::Date(x.naive_utc().date())),
        (T::Timestamp { .. }, T::Time { .. }, Datum::Timestamp(x)) => Ok(Datum::Time(x.time())),
        (T::TimestampTz { .. }, T::Time { .. }, Datum::TimestampTz(x)) => Ok(Datum::Time(x.naive_utc().time())),
        (T::Time { .. }, T::Interval, Datum::Time(t)) => {
            let micros = t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
            Ok(Datum::Interval(Interval::new(0, 0, micros)))
        }
        (T::Interval, T::Time { .. }, Datum::Interval(iv)) => Ok(Datum::Time(as_time_of_day(iv.micros)?)),
        (T::Json, T::Jsonb, Datum::Text(s)) => Ok(strconv::parse_datum(s, to)?),
        (T::Jsonb, T::Json, Datum::Jsonb(j)) => Ok(Datum::Text(strconv::jsonb_to_string(j))),
        (T::Jsonb, _, Datum::Jsonb(j)) => jsonb_cast(j, to),
        (f, t, _) if f.without_modifiers() == t.without_modifiers() => Ok(d.clone()),
        _ => Err(EvalError::Internal(format!("no cast from {from} to {to} for {d:?}"))),
    }
}

/// Midnight of `d`; `infinity` stays `infinity`.
fn date_to_timestamp(d: &chrono::NaiveDate) -> chrono::NaiveDateTime {
    match date_infinity(d) {
        Some(positive) => infinite_timestamp(positive),
        None => d.and_time(NaiveTime::MIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::func::resolve::{F4, F8, I2, I4, I8, NUM, TEXT};

    fn cast(from: &ScalarType, to: &ScalarType, d: Datum) -> Result<Datum, EvalError> {
        match resolve_cast(from, to, CastContext::Explicit).unwrap() {
            Some(f) => f.eval(&[d]),
            None => Ok(d),
        }
    }

    #[test]
    fn contexts() {
        assert!(resolve_cast(&I4, &I8, CastContext::Implicit).unwrap().is_some());
        assert!(resolve_cast(&I8, &I4, CastContext::Implicit).is_err());
        assert!(resolve_cast(&I8, &I4, CastContext::Assignment).unwrap().is_some());
        assert!(resolve_cast(&I4, &TEXT, CastContext::Implicit).is_err());
        assert!(resolve_cast(&I4, &TEXT, CastContext::Assignment).is_ok());
        assert!(resolve_cast(&TEXT, &I4, CastContext::Assignment).is_err());
        assert!(resolve_cast(&TEXT, &I4, CastContext::Explicit).is_ok());
        assert!(resolve_cast(&ScalarType::Bool, &I4, CastContext::Assignment).is_err());
        assert!(resolve_cast(&ScalarType::Bool, &I4, CastContext::Explicit).is_ok());
        assert!(resolve_cast(&ScalarType::Bool, &I8, CastContext::Explicit).is_err());
        assert!(resolve_cast(&ScalarType::Date, &ScalarType::timestamp(), CastContext::Implicit).is_ok());
        assert!(resolve_cast(&ScalarType::timestamp(), &ScalarType::Date, CastContext::Implicit).is_err());
        assert!(resolve_cast(&ScalarType::Uuid, &I4, CastContext::Explicit).is_err());
        assert_eq!(resolve_cast(&I4, &I4, CastContext::Implicit).unwrap(), None);
        assert_eq!(
            resolve_cast(&ScalarType::Varchar { max_length: Some(3) }, &TEXT, CastContext::Implicit).unwrap(),
            None
        );
        let n52 = ScalarType::Numeric { precision: Some(5), scale: Some(2) };
        assert!(resolve_cast(&NUM, &n52, CastContext::Assignment).unwrap().is_some());
        assert_eq!(resolve_cast(&n52, &NUM, CastContext::Implicit).unwrap(), None);
        assert_eq!(resolve_cast(&n52, &n52, CastContext::Implicit).unwrap(), None);
        let v3 = ScalarType::Varchar { max_length: Some(3) };
        let v5 = ScalarType::Varchar { max_length: Some(5) };
        assert_eq!(resolve_cast(&v3, &v5, CastContext::Assignment).unwrap(), None);
        assert!(resolve_cast(&v5, &v3, CastContext::Assignment).unwrap().is_some());
    }

    #[test]
    fn numeric_conversions() {
        assert_eq!(cast(&F8, &I4, Datum::Float64(2.5)).unwrap(), Datum::Int32(2));
        assert_eq!(cast(&F8, &I4, Datum::Float64(3.5)).unwrap(), Datum::Int32(4));
        assert_eq!(cast(&F8, &I4, Datum::Float64(-2.5)).unwrap(), Datum::Int32(-2));
        assert_eq!(cast(&NUM, &I4, Datum::Numeric(Decimal::new(25, 1))).unwrap(), Datum::Int32(3));
        assert_eq!(cast(&NUM, &I4, Datum::Numeric(Decimal::new(-25, 1))).unwrap(), Datum::Int32(-3));
        assert_eq!(
            cast(&I8, &I4, Datum::Int64(1 << 40)).unwrap_err(),
            EvalError::OutOfRange("integer out of range".into())
        );
        assert_eq!(
            cast(&I4, &I2, Datum::Int32(40000)).unwrap_err(),
            EvalError::OutOfRange("smallint out of range".into())
        );
        assert_eq!(
            cast(&F8, &I8, Datum::Float64(f64::NAN)).unwrap_err(),
            EvalError::OutOfRange("bigint out of range".into())
        );
        assert_eq!(cast(&F4, &F8, Datum::Float32(1.1)).unwrap(), Datum::Float64(1.1f32 as f64));
        assert_eq!(cast(&F8, &NUM, Datum::Float64(0.1)).unwrap(), Datum::Numeric(Decimal::new(1, 1)));
        assert!(cast(&F8, &F4, Datum::Float64(1e300)).is_err());
        assert_eq!(cast(&I4, &ScalarType::Bool, Datum::Int32(5)).unwrap(), Datum::Bool(true));
        assert_eq!(cast(&ScalarType::Bool, &I4, Datum::Bool(true)).unwrap(), Datum::Int32(1));
    }

    #[test]
    fn string_conversions_without_strconv() {
        assert_eq!(cast(&ScalarType::Bool, &TEXT, Datum::Bool(true)).unwrap(), Datum::Text("true".into()));
        let c3 = ScalarType::Char { length: Some(3) };
        assert_eq!(cast(&c3, &TEXT, Datum::Text("a  ".into())).unwrap(), Datum::Text("a".into()));
        assert_eq!(
            cast(&c3, &ScalarType::Varchar { max_length: None }, Datum::Text("ab ".into())).unwrap(),
            Datum::Text("ab".into())
        );
    }

    #[test]
    fn jsonb_casts() {
        let j = |v: Jsonb| Datum::Jsonb(v);
        let num = Jsonb::Number(JsonNumber::Decimal(Decimal::new(15, 1)));
        assert_eq!(cast(&ScalarType::Jsonb, &I4, j(num.clone())).unwrap(), Datum::Int32(2));
        assert_eq!(cast(&ScalarType::Jsonb, &F8, j(num.clone())).unwrap(), Datum::Float64(1.5));
        assert_eq!(cast(&ScalarType::Jsonb, &NUM, j(num)).unwrap(), Datum::Numeric(Decimal::new(15, 1)));
        assert_eq!(
            cast(&ScalarType::Jsonb, &NUM, j(Jsonb::String("1".into()))).unwrap_err().to_string(),
            "cannot cast jsonb string to type numeric"
        );
        assert_eq!(
            cast(&ScalarType::Jsonb, &I4, j(Jsonb::Null)).unwrap_err().to_string(),
            "cannot cast jsonb null to type integer"
        );
        assert_eq!(
            cast(&ScalarType::Jsonb, &I4, j(Jsonb::Bool(true))).unwrap_err().to_string(),
            "cannot cast jsonb boolean to type integer"
        );
        assert_eq!(cast(&ScalarType::Jsonb, &ScalarType::Bool, j(Jsonb::Bool(true))).unwrap(), Datum::Bool(true));
    }

    #[test]
    fn datetime_casts() {
        let d = chrono::NaiveDate::from_ymd_opt(2001, 2, 16).unwrap();
        let ts = d.and_hms_opt(20, 38, 40).unwrap();
        assert_eq!(
            cast(&ScalarType::Date, &ScalarType::timestamp(), Datum::Date(d)).unwrap(),
            Datum::Timestamp(d.and_hms_opt(0, 0, 0).unwrap())
        );
        assert_eq!(cast(&ScalarType::timestamp(), &ScalarType::Date, Datum::Timestamp(ts)).unwrap(), Datum::Date(d));
        assert_eq!(
            cast(&ScalarType::timestamp(), &ScalarType::time(), Datum::Timestamp(ts)).unwrap(),
            Datum::Time(ts.time())
        );
        assert_eq!(
            cast(&ScalarType::Interval, &ScalarType::time(), Datum::Interval(Interval::new(1, 2, -3_600_000_000)))
                .unwrap(),
            Datum::Time(chrono::NaiveTime::from_hms_opt(23, 0, 0).unwrap())
        );
    }
}
