//! jsonb operators and functions (jsonfuncs.c, jsonb_op.c, jsonb.c).

use std::cmp::Ordering;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use eddy_repr::jsonb::JsonNumber;
use eddy_repr::{strconv, Datum, Jsonb, ScalarType};
use rust_decimal::Decimal;

use super::cast::output;
use super::{arity_error, type_error, Func};
use crate::EvalError;

fn json_arg<'a>(func: &Func, args: &'a [Datum], i: usize) -> Result<&'a Jsonb, EvalError> {
    match args.get(i) {
        Some(Datum::Jsonb(j)) => Ok(j),
        _ => Err(type_error(func, args)),
    }
}

/// The text `->>` and `#>>` return: strings unquoted, JSON null as SQL NULL, anything
/// else in jsonb's text form.
fn as_text(j: &Jsonb) -> Datum {
    match j {
        Jsonb::Null => Datum::Null,
        Jsonb::String(s) => Datum::Text(s.clone()),
        other => {
            let mut out = String::new();
            strconv::format_datum(&Datum::Jsonb(other.clone()), &ScalarType::Jsonb, &mut out);
            Datum::Text(out)
        }
    }
}

fn is_scalar(j: &Jsonb) -> bool {
    !matches!(j, Jsonb::Array(_) | Jsonb::Object(_))
}

/// jsonb equality of two scalars: numbers by value (`1.0` = `1`).
fn scalar_eq(a: &Jsonb, b: &Jsonb) -> bool {
    value_cmp(a, b) == Ordering::Equal
}

/// PostgreSQL's `@>`.
fn contains(a: &Jsonb, b: &Jsonb, top: bool) -> bool {
    match (a, b) {
        (Jsonb::Object(_), Jsonb::Object(rb)) => rb.iter().all(|(k, bv)| match a.get_key(&k.0) {
            None => false,
            Some(av) => match (av, bv) {
                (Jsonb::Object(_), Jsonb::Object(_)) | (Jsonb::Array(_), Jsonb::Array(_)) => contains(av, bv, false),
                (x, y) if is_scalar(x) && is_scalar(y) => scalar_eq(x, y),
                _ => false,
            },
        }),
        (Jsonb::Array(la), Jsonb::Array(rb)) => rb.iter().all(|bv| {
            if is_scalar(bv) {
                la.iter().any(|av| is_scalar(av) && scalar_eq(av, bv))
            } else {
                la.iter().any(|av| {
                    matches!((av, bv), (Jsonb::Array(_), Jsonb::Array(_)) | (Jsonb::Object(_), Jsonb::Object(_)))
                        && contains(av, bv, false)
                })
            }
        }),
        (Jsonb::Array(la), s) if top && is_scalar(s) => la.iter().any(|av| scalar_eq(av, s)),
        (x, y) if is_scalar(x) && is_scalar(y) => scalar_eq(x, y),
        _ => false,
    }
}

/// jsonb's btree order: Object > Array > Boolean > Number > String > Null; containers
/// by size first, then element by element (object pairs in storage order); a top-level
/// scalar counts as a one-element array that sorts before a real one.
pub(crate) fn jsonb_cmp(a: &Jsonb, b: &Jsonb) -> Ordering {
    match (a, b) {
        (x, y) if is_scalar(x) && is_scalar(y) => value_cmp(x, y),
        (s, Jsonb::Array(items)) if is_scalar(s) => {
            if items.len() != 1 {
                1.cmp(&items.len())
            } else {
                Ordering::Less
            }
        }
        (Jsonb::Array(_), s) if is_scalar(s) => jsonb_cmp(b, a).reverse(),
        (s, Jsonb::Object(_)) if is_scalar(s) => Ordering::Less,
        (Jsonb::Object(_), s) if is_scalar(s) => Ordering::Greater,
        _ => value_cmp(a, b),
    }
}

fn type_rank(j: &Jsonb) -> u8 {
    match j {
        Jsonb::Null => 0,
        Jsonb::String(_) => 1,
        Jsonb::Number(_) => 2,
        Jsonb::Bool(_) => 3,
        Jsonb::Array(_) => 4,
        Jsonb::Object(_) => 5,
    }
}

fn number_cmp(a: &JsonNumber, b: &JsonNumber) -> Ordering {
    match (a, b) {
        (JsonNumber::Decimal(x), JsonNumber::Decimal(y)) => x.cmp(y),
        _ => {
            let f = |n: &JsonNumber| match n {
                JsonNumber::Decimal(d) => d.to_string().parse::<f64>().unwrap_or(0.0),
                JsonNumber::Text(t) => t.parse::<f64>().unwrap_or(0.0),
            };
            eddy_repr::datum::cmp_f64(f(a), f(b))
        }
    }
}

fn value_cmp(a: &Jsonb, b: &Jsonb) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Jsonb::Number(x), Jsonb::Number(y)) => number_cmp(x, y),
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Array(x), Jsonb::Array(y)) => x
            .len()
            .cmp(&y.len())
            .then_with(|| x.iter().zip(y).map(|(p, q)| value_cmp(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)),
        (Jsonb::Object(x), Jsonb::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((k1, v1), (k2, v2))| k1.0.as_bytes().cmp(k2.0.as_bytes()).then_with(|| value_cmp(v1, v2)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => Ordering::Equal,
    }
}

fn exists(j: &Jsonb, key: &str) -> bool {
    match j {
        Jsonb::Object(_) => j.get_key(key).is_some(),
        Jsonb::Array(items) => items.iter().any(|i| matches!(i, Jsonb::String(s) if s == key)),
        Jsonb::String(s) => s == key,
        _ => false,
    }
}

fn concat(a: &Jsonb, b: &Jsonb) -> Jsonb {
    match (a, b) {
        (Jsonb::Object(x), Jsonb::Object(y)) => {
            let pairs = x.iter().chain(y.iter()).map(|(k, v)| (k.0.clone(), v.clone())).collect();
            Jsonb::object(pairs)
        }
        (Jsonb::Array(x), Jsonb::Array(y)) => Jsonb::Array(x.iter().chain(y.iter()).cloned().collect()),
        (Jsonb::Array(x), other) => {
            let mut v = x.clone();
            v.push(other.clone());
            Jsonb::Array(v)
        }
        (other, Jsonb::Array(y)) => {
            let mut v = vec![other.clone()];
            v.extend(y.iter().cloned());
            Jsonb::Array(v)
        }
        (x, y) => Jsonb::Array(vec![x.clone(), y.clone()]),
    }
}

fn delete(j: &Jsonb, what: &Datum) -> Result<Jsonb, EvalError> {
    let scalar_err = || EvalError::invalid_argument("cannot delete from scalar");
    match (j, what) {
        (Jsonb::Object(pairs), Datum::Text(k)) => {
            Ok(Jsonb::Object(pairs.iter().filter(|(key, _)| key.0 != *k).cloned().collect()))
        }
        (Jsonb::Array(items), Datum::Text(k)) => {
            Ok(Jsonb::Array(items.iter().filter(|i| !matches!(i, Jsonb::String(s) if s == k)).cloned().collect()))
        }
        (Jsonb::Object(_), _) => Err(EvalError::invalid_argument("cannot delete from object using integer index")),
        (Jsonb::Array(items), idx) => {
            let idx = idx.as_i64().unwrap_or(0);
            let len = items.len() as i64;
            let i = if idx < 0 { len + idx } else { idx };
            if i < 0 || i >= len {
                return Ok(j.clone());
            }
            let mut v = items.clone();
            v.remove(i as usize);
            Ok(Jsonb::Array(v))
        }
        _ => Err(scalar_err()),
    }
}

fn strip_nulls(j: &Jsonb) -> Jsonb {
    match j {
        Jsonb::Object(pairs) => Jsonb::Object(
            pairs.iter().filter(|(_, v)| *v != Jsonb::Null).map(|(k, v)| (k.clone(), strip_nulls(v))).collect(),
        ),
        Jsonb::Array(items) => Jsonb::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn malformed_array(s: &str) -> EvalError {
    EvalError::InvalidArgument { sqlstate: "22P02".into(), message: format!("malformed array literal: \"{s}\"") }
}

/// Parses a one-dimensional text[] literal (`{a,"b c",NULL}`).
pub(super) fn parse_text_array(s: &str) -> Result<Vec<Option<String>>, EvalError> {
    let body = s.trim();
    let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(|| malformed_array(s))?;
    let mut out = Vec::new();
    if body.trim().is_empty() {
        return Ok(out);
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut elem = String::new();
        let mut quoted = false;
        let mut trailing_ws = 0usize;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(malformed_array(s)),
                    Some('"') => break,
                    Some('\\') => elem.push(chars.next().ok_or_else(|| malformed_array(s))?),
                    Some(c) => elem.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                chars.next();
                match c {
                    '{' | '}' | '"' => return Err(malformed_array(s)),
                    '\\' => {
                        elem.push(chars.next().ok_or_else(|| malformed_array(s))?);
                        trailing_ws = 0;
                    }
                    c if c.is_whitespace() => {
                        elem.push(c);
                        trailing_ws += 1;
                    }
                    c => {
                        elem.push(c);
                        trailing_ws = 0;
                    }
                }
            }
            elem.truncate(elem.len() - trailing_ws.min(elem.len()));
            if elem.is_empty() {
                return Err(malformed_array(s));
            }
        }
        if !quoted && elem.eq_ignore_ascii_case("null") {
            out.push(None);
        } else {
            out.push(Some(elem));
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(malformed_array(s)),
        }
    }
    Ok(out)
}

/// `#>`: follows a path of keys and array indexes; None if any step is missing.
fn get_path<'a>(j: &'a Jsonb, path: &[Option<String>]) -> Option<&'a Jsonb> {
    let mut cur = j;
    for step in path {
        let step = step.as_ref()?;
        cur = match cur {
            Jsonb::Object(_) => cur.get_key(step)?,
            Jsonb::Array(_) => {
                let idx: i64 = step.trim().parse().ok()?;
                cur.get_index(idx)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn two_digits_frac(t: &NaiveTime) -> String {
    let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    let micros = t.nanosecond().min(999_999_999) / 1000;
    if micros > 0 {
        let frac = format!("{micros:06}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

fn iso_date(d: &NaiveDate) -> (String, bool) {
    let y = d.year();
    let shown = if y > 0 { y } else { 1 - y };
    (format!("{shown:04}-{:02}-{:02}", d.month(), d.day()), y <= 0)
}

/// A float as a jsonb number; zero is never negative (a jsonb number is a numeric).
fn float_json<F: Into<f64> + std::fmt::Display + Copy>(v: F) -> Jsonb {
    match Jsonb::from_float(v) {
        Jsonb::Number(JsonNumber::Decimal(mut d)) if d.is_zero() => {
            d.set_sign_positive(true);
            Jsonb::Number(JsonNumber::Decimal(d))
        }
        other => other,
    }
}

/// `to_jsonb`: a SQL value as jsonb (dates and timestamps in ISO 8601 with `T`).
pub(crate) fn to_jsonb(d: &Datum, ty: &ScalarType) -> Result<Jsonb, EvalError> {
    Ok(match d {
        Datum::Null => Jsonb::Null,
        Datum::Bool(b) => Jsonb::Bool(*b),
        Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => {
            Jsonb::Number(JsonNumber::Decimal(Decimal::from(d.as_i64().unwrap_or(0))))
        }
        // The shortest text of the float4 value itself.
        Datum::Float32(f) => float_json(*f),
        Datum::Float64(f) => float_json(*f),
        Datum::Numeric(n) => Jsonb::Number(JsonNumber::Decimal(*n)),
        Datum::Text(s) if *ty == ScalarType::Json => strconv::parse_jsonb(s)?,
        Datum::Text(s) => Jsonb::String(s.clone()),
        Datum::Array(elements) => {
            let element = match ty {
                ScalarType::Array(e) => e.as_ref(),
                other => other,
            };
            Jsonb::Array(elements.iter().map(|e| to_jsonb(e, element)).collect::<Result<_, _>>()?)
        }
        Datum::Jsonb(j) => j.clone(),
        Datum::Date(x) => {
            let (s, bc) = iso_date(x);
            Jsonb::String(if bc { s + " BC" } else { s })
        }
        Datum::Time(t) => Jsonb::String(two_digits_frac(t)),
        Datum::Timestamp(ts) => {
            let (s, bc) = iso_date(&ts.date());
            let s = format!("{s}T{}", two_digits_frac(&ts.time()));
            Jsonb::String(if bc { s + " BC" } else { s })
        }
        Datum::TimestampTz(ts) => {
            let n = ts.naive_utc();
            let (s, bc) = iso_date(&n.date());
            let s = format!("{s}T{}+00:00", two_digits_frac(&n.time()));
            Jsonb::String(if bc { s + " BC" } else { s })
        }
        Datum::Interval(_) | Datum::Uuid(_) | Datum::Bytes(_) => Jsonb::String(output(d, ty)?),
    })
}

fn object_key(d: &Datum, ty: &ScalarType, i: usize) -> Result<String, EvalError> {
    match d {
        Datum::Null => Err(EvalError::InvalidArgument {
            sqlstate: "22004".into(),
            message: format!("argument {}: key must not be null", i + 1),
        }),
        Datum::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
        Datum::Jsonb(Jsonb::String(s)) => Ok(s.clone()),
        Datum::Jsonb(Jsonb::Array(_) | Jsonb::Object(_)) => {
            Err(EvalError::invalid_argument("key value must be scalar, not array, composite, or json"))
        }
        Datum::Jsonb(j) => match as_text(j) {
            Datum::Text(s) => Ok(s),
            _ => Ok("null".into()),
        },
        other => output(other, ty),
    }
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    use Func::*;
    let j = |i: usize| json_arg(func, args, i);
    match (func, args.len()) {
        (JsonbGet | JsonbGetText, 2) => {
            let doc = j(0)?;
            let found = match &args[1] {
                Datum::Text(k) => doc.get_key(k),
                other => match other.as_i64() {
                    // A top-level scalar is a one-element array to `->`.
                    Some(0 | -1) if is_scalar(doc) => Some(doc),
                    Some(i) => doc.get_index(i),
                    None => return Err(type_error(func, args)),
                },
            };
            Ok(match (found, func) {
                (None, _) => Datum::Null,
                (Some(v), JsonbGet) => Datum::Jsonb(v.clone()),
                (Some(v), _) => as_text(v),
            })
        }
        (JsonbGetPath | JsonbGetPathText | JsonbExtractPath | JsonbExtractPathText, n) if n >= 1 => {
            let path = match (func, &args[1..]) {
                (JsonbGetPath | JsonbGetPathText, [Datum::Text(p)]) => parse_text_array(p)?,
                (JsonbExtractPath | JsonbExtractPathText, elements) => elements
                    .iter()
                    .map(|e| match e {
                        Datum::Text(t) => Ok(Some(t.clone())),
                        Datum::Null => Ok(None),
                        _ => Err(type_error(func, args)),
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(type_error(func, args)),
            };
            Ok(match (get_path(j(0)?, &path), func) {
                (None, _) => Datum::Null,
                (Some(v), JsonbGetPath | JsonbExtractPath) => Datum::Jsonb(v.clone()),
                (Some(v), _) => as_text(v),
            })
        }
        (JsonbContains, 2) => Ok(Datum::Bool(contains(j(0)?, j(1)?, true))),
        (JsonbContained, 2) => Ok(Datum::Bool(contains(j(1)?, j(0)?, true))),
        (JsonbExists, 2) => match &args[1] {
            Datum::Text(k) => Ok(Datum::Bool(exists(j(0)?, k))),
            _ => Err(type_error(func, args)),
        },
        (JsonbConcat, 2) => Ok(Datum::Jsonb(concat(j(0)?, j(1)?))),
        (JsonbDelete, 2) => Ok(Datum::Jsonb(delete(j(0)?, &args[1])?)),
        (JsonbTypeof, 1) => Ok(Datum::Text(j(0)?.type_name().into())),
        (JsonbPretty, 1) => {
            let mut out = String::new();
            eddy_repr::strconv::format_jsonb_pretty(j(0)?, 0, &mut out);
            Ok(Datum::Text(out))
        }
        (JsonbArrayLength, 1) => match j(0)? {
            Jsonb::Array(items) => Ok(Datum::Int32(items.len() as i32)),
            Jsonb::Object(_) => Err(EvalError::invalid_argument("cannot get array length of a non-array")),
            _ => Err(EvalError::invalid_argument("cannot get array length of a scalar")),
        },
        (JsonbStripNulls, 1) => Ok(Datum::Jsonb(strip_nulls(j(0)?))),
        (JsonbSet, 3 | 4) => {
            let Datum::Array(path) = &args[1] else { return Err(type_error(func, args)) };
            let path = path
                .iter()
                .map(|p| match p {
                    Datum::Text(t) => Ok(t.as_str()),
                    _ => Err(EvalError::InvalidArgument {
                        sqlstate: "22004".into(),
                        message: "path element at position 1 is null".into(),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let create = !matches!(args.get(3), Some(Datum::Bool(false)));
            let mut target = j(0)?.clone();
            if !matches!(target, Jsonb::Array(_) | Jsonb::Object(_)) {
                return Err(EvalError::invalid_argument("cannot set path in scalar"));
            }
            set_path(&mut target, &path, j(2)?.clone(), create)?;
            Ok(Datum::Jsonb(target))
        }
        (ToJsonb { ty }, 1) => Ok(Datum::Jsonb(to_jsonb(&args[0], ty)?)),
        (JsonbBuildArray { types }, _) => {
            let items = args.iter().zip(types).map(|(d, t)| to_jsonb(d, t)).collect::<Result<Vec<_>, _>>()?;
            Ok(Datum::Jsonb(Jsonb::Array(items)))
        }
        (JsonbBuildObject { types }, n) => {
            if n % 2 != 0 {
                return Err(EvalError::invalid_argument("argument list must have even number of elements"));
            }
            let mut pairs = Vec::with_capacity(n / 2);
            for i in (0..n).step_by(2) {
                let key = object_key(&args[i], types.get(i).unwrap_or(&ScalarType::Text), i)?;
                let value = to_jsonb(&args[i + 1], types.get(i + 1).unwrap_or(&ScalarType::Text))?;
                pairs.push((key, value));
            }
            Ok(Datum::Jsonb(Jsonb::object(pairs)))
        }
        _ => Err(arity_error(func, args)),
    }
}

/// `jsonb_set`'s walk: follows `path` through objects (by key) and arrays (by index,
/// negative from the end) and puts `value` at its end; a missing last step is added when
/// `create` (array indexes past either end prepend or append); a missing step before it
/// leaves `target` as it was, as in PostgreSQL.
fn set_path(target: &mut Jsonb, path: &[&str], value: Jsonb, create: bool) -> Result<(), EvalError> {
    let Some((step, rest)) = path.split_first() else {
        *target = value;
        return Ok(());
    };
    match target {
        Jsonb::Object(pairs) => match pairs.iter().position(|(k, _)| k.0 == *step) {
            Some(i) => set_path(&mut pairs[i].1, rest, value, create),
            None if rest.is_empty() && create => {
                let mut members: Vec<(String, Jsonb)> =
                    std::mem::take(pairs).into_iter().map(|(k, v)| (k.0, v)).collect();
                members.push((step.to_string(), value));
                *target = Jsonb::object(members);
                Ok(())
            }
            None => Ok(()),
        },
        Jsonb::Array(items) => {
            let index: i64 = step.parse().map_err(|_| {
                EvalError::invalid_argument(format!("path element at position {} is not an integer: \"{step}\"", 1))
            })?;
            let len = items.len() as i64;
            let at = if index < 0 { index + len } else { index };
            if (0..len).contains(&at) {
                return set_path(&mut items[at as usize], rest, value, create);
            }
            if rest.is_empty() && create {
                if at < 0 {
                    items.insert(0, value);
                } else {
                    items.push(value);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: i64) -> Jsonb {
        Jsonb::Number(JsonNumber::Decimal(Decimal::from(n)))
    }

    fn s(x: &str) -> Jsonb {
        Jsonb::String(x.into())
    }

    fn obj(pairs: &[(&str, Jsonb)]) -> Jsonb {
        Jsonb::object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn doc() -> Jsonb {
        obj(&[
            ("a", num(1)),
            ("b", Jsonb::Array(vec![num(1), num(2), obj(&[("c", s("x"))])])),
            ("n", Jsonb::Null),
            ("s", s("str")),
        ])
    }

    #[test]
    fn get_operators() {
        let d = Datum::Jsonb(doc());
        let t = |x: &str| Datum::Text(x.into());
        assert_eq!(Func::JsonbGet.eval(&[d.clone(), t("a")]).unwrap(), Datum::Jsonb(num(1)));
        assert_eq!(Func::JsonbGet.eval(&[d.clone(), t("zz")]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbGet.eval(&[d.clone(), Datum::Int32(0)]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbGetText.eval(&[d.clone(), t("s")]).unwrap(), t("str"));
        assert_eq!(Func::JsonbGetText.eval(&[d.clone(), t("n")]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbGet.eval(&[d.clone(), t("n")]).unwrap(), Datum::Jsonb(Jsonb::Null));
        let arr = Func::JsonbGet.eval(&[d.clone(), t("b")]).unwrap();
        assert_eq!(Func::JsonbGet.eval(&[arr.clone(), Datum::Int32(-2)]).unwrap(), Datum::Jsonb(num(2)));
        assert_eq!(Func::JsonbGet.eval(&[arr, Datum::Int32(5)]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbGetPathText.eval(&[d.clone(), t("{b,2,c}")]).unwrap(), t("x"));
        assert_eq!(Func::JsonbGetPath.eval(&[d.clone(), t("{b,-1,c}")]).unwrap(), Datum::Jsonb(s("x")));
        assert_eq!(Func::JsonbGetPath.eval(&[d.clone(), t("{b,x}")]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbGetPath.eval(&[d.clone(), t("{}")]).unwrap(), d);
        assert_eq!(Func::JsonbGetPath.eval(&[d.clone(), t("{a,NULL}")]).unwrap(), Datum::Null);
        assert!(Func::JsonbGetPath.eval(&[d.clone(), t("a,b")]).is_err());
        // jsonb_extract_path: each argument one element, taken as written.
        assert_eq!(Func::JsonbExtractPath.eval(&[d.clone(), t("b"), t("-1"), t("c")]).unwrap(), Datum::Jsonb(s("x")));
        assert_eq!(Func::JsonbExtractPath.eval(&[d.clone(), t("{b}")]).unwrap(), Datum::Null);
        assert_eq!(Func::JsonbExtractPath.eval(&[d, t("b"), Datum::Null]).unwrap(), Datum::Null);
    }

    #[test]
    fn text_arrays() {
        assert_eq!(
            parse_text_array(r#"{a, "b c" ,NULL,"NULL",d\,e}"#).unwrap(),
            vec![Some("a".into()), Some("b c".into()), None, Some("NULL".into()), Some("d,e".into())]
        );
        assert_eq!(parse_text_array(" {} ").unwrap(), Vec::<Option<String>>::new());
        assert!(parse_text_array("{a,}").is_err());
        assert!(parse_text_array("{{a}}").is_err());
    }

    #[test]
    fn containment_and_existence() {
        let d = doc();
        assert!(contains(&d, &obj(&[("a", num(1))]), true));
        assert!(!contains(&d, &obj(&[("a", num(2))]), true));
        assert!(contains(&d, &obj(&[("b", Jsonb::Array(vec![num(2)]))]), true));
        assert!(contains(&d, &obj(&[("b", Jsonb::Array(vec![obj(&[])]))]), true));
        assert!(!contains(&d, &obj(&[("b", num(1))]), true));
        let arr = Jsonb::Array(vec![num(1), num(2), Jsonb::Array(vec![num(3)])]);
        assert!(contains(&arr, &num(1), true));
        assert!(!contains(&arr, &Jsonb::Array(vec![num(3)]), true));
        assert!(contains(&arr, &Jsonb::Array(vec![Jsonb::Array(vec![num(3)])]), true));
        assert!(!contains(&num(1), &Jsonb::Array(vec![num(1)]), true));
        assert!(exists(&d, "a"));
        assert!(!exists(&d, "zz"));
        assert!(exists(&Jsonb::Array(vec![s("a")]), "a"));
        assert!(exists(&s("a"), "a"));
        assert_eq!(
            Func::JsonbContained.eval(&[Datum::Jsonb(obj(&[("a", num(1))])), Datum::Jsonb(d)]).unwrap(),
            Datum::Bool(true)
        );
    }

    #[test]
    fn modification() {
        let a = obj(&[("a", num(1)), ("b", num(2))]);
        let b = obj(&[("b", num(3)), ("c", num(4))]);
        assert_eq!(concat(&a, &b), obj(&[("a", num(1)), ("b", num(3)), ("c", num(4))]));
        assert_eq!(concat(&Jsonb::Array(vec![num(1)]), &num(2)), Jsonb::Array(vec![num(1), num(2)]));
        assert_eq!(concat(&num(1), &num(2)), Jsonb::Array(vec![num(1), num(2)]));
        assert_eq!(delete(&a, &Datum::Text("a".into())).unwrap(), obj(&[("b", num(2))]));
        assert_eq!(delete(&Jsonb::Array(vec![num(1), num(2)]), &Datum::Int32(-1)).unwrap(), Jsonb::Array(vec![num(1)]));
        assert!(delete(&num(1), &Datum::Text("a".into())).is_err());
        assert!(delete(&a, &Datum::Int32(0)).is_err());
        assert_eq!(strip_nulls(&doc()).get_key("n"), None);
    }

    #[test]
    fn builders() {
        let f = Func::JsonbBuildObject {
            types: vec![ScalarType::Bool, ScalarType::Int32, ScalarType::Text, ScalarType::Text],
        };
        let r = f.eval(&[Datum::Bool(true), Datum::Int32(1), Datum::Text("k".into()), Datum::Null]).unwrap();
        assert_eq!(r, Datum::Jsonb(obj(&[("true", num(1)), ("k", Jsonb::Null)])));
        let e = f.eval(&[Datum::Null, Datum::Int32(1), Datum::Text("k".into()), Datum::Null]).unwrap_err();
        assert_eq!(e.to_string(), "argument 1: key must not be null");
        let f = Func::JsonbBuildObject { types: vec![ScalarType::Int32] };
        assert!(f.eval(&[Datum::Int32(1)]).is_err());
        let f = Func::JsonbBuildArray { types: vec![ScalarType::Int32, ScalarType::Float64, ScalarType::Text] };
        let r = f.eval(&[Datum::Int32(1), Datum::Float64(f64::NAN), Datum::Null]).unwrap();
        assert_eq!(r, Datum::Jsonb(Jsonb::Array(vec![num(1), s("NaN"), Jsonb::Null])));
        let ts = chrono::NaiveDate::from_ymd_opt(2001, 2, 16).unwrap().and_hms_milli_opt(20, 38, 40, 500).unwrap();
        assert_eq!(to_jsonb(&Datum::Timestamp(ts), &ScalarType::timestamp()).unwrap(), s("2001-02-16T20:38:40.5"));
        assert_eq!(
            to_jsonb(&Datum::TimestampTz(ts.and_utc()), &ScalarType::timestamptz()).unwrap(),
            s("2001-02-16T20:38:40.5+00:00")
        );
        assert_eq!(to_jsonb(&Datum::Date(ts.date()), &ScalarType::Date).unwrap(), s("2001-02-16"));
        assert_eq!(
            to_jsonb(&Datum::Float64(0.1), &ScalarType::Float64).unwrap(),
            Jsonb::Number(JsonNumber::Decimal(Decimal::new(1, 1)))
        );
    }

    #[test]
    fn ordering() {
        use std::cmp::Ordering::*;
        let arr = |v: Vec<Jsonb>| Jsonb::Array(v);
        assert_eq!(jsonb_cmp(&arr(vec![]), &Jsonb::Null), Less);
        assert_eq!(jsonb_cmp(&num(1), &arr(vec![num(1)])), Less);
        assert_eq!(jsonb_cmp(&arr(vec![num(1), num(2)]), &arr(vec![num(3)])), Greater);
        assert_eq!(jsonb_cmp(&obj(&[("b", num(1))]), &obj(&[("aa", num(1))])), Greater);
        assert_eq!(jsonb_cmp(&s("a"), &s("B")), Greater);
        assert_eq!(jsonb_cmp(&Jsonb::Bool(true), &num(1)), Greater);
        assert_eq!(jsonb_cmp(&num(1), &s("a")), Greater);
        assert_eq!(Func::Lt.eval(&[Datum::Jsonb(num(1)), Datum::Jsonb(s("a"))]).unwrap(), Datum::Bool(false));
        assert_eq!(Func::JsonbGet.eval(&[Datum::Jsonb(s("abc")), Datum::Int32(0)]).unwrap(), Datum::Jsonb(s("abc")));
        assert_eq!(Func::JsonbGet.eval(&[Datum::Jsonb(s("abc")), Datum::Int32(1)]).unwrap(), Datum::Null);
    }

    #[test]
    fn array_length_and_type() {
        assert_eq!(Func::JsonbArrayLength.eval(&[Datum::Jsonb(Jsonb::Array(vec![num(1)]))]).unwrap(), Datum::Int32(1));
        assert_eq!(
            Func::JsonbArrayLength.eval(&[Datum::Jsonb(num(1))]).unwrap_err().to_string(),
            "cannot get array length of a scalar"
        );
        assert_eq!(Func::JsonbTypeof.eval(&[Datum::Jsonb(doc())]).unwrap(), Datum::Text("object".into()));
    }
}
