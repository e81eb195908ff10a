//! `json` operators and functions (json.c, jsonfuncs.c): a json value is the text it was
//! written as, so accessors return slices of that text and builders write PostgreSQL's
//! own spacing (`{"a" : 1}` from `json_build_object`, `{"a":1}` from `row_to_json`).

use eddy_repr::{strconv, Datum, Jsonb, ScalarType};
use serde::{Deserialize, Serialize};

use super::cast::output;
use super::jsonb::{parse_text_array, to_jsonb};
use crate::{EvalError, TableFunc};

/// A function or operator over or building `json`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JsonFunc {
    /// `->` (`text`: `->>`) by key or array index.
    Get {
        text: bool,
    },
    /// `#>` / `#>>` with the path as a text array.
    GetPath {
        text: bool,
    },
    /// `json_extract_path[_text](j, VARIADIC text)`.
    ExtractPath {
        text: bool,
    },
    Typeof,
    ArrayLength,
    StripNulls,
    /// `json_build_object(VARIADIC "any")`: `{"k" : v, ...}`.
    BuildObject {
        types: Vec<ScalarType>,
    },
    /// `json_build_array(VARIADIC "any")`: `[v, ...]`.
    BuildArray {
        types: Vec<ScalarType>,
    },
    /// `row_to_json` of a FROM item's whole row, given as name/value pairs: `{"k":v,...}`.
    Row {
        types: Vec<ScalarType>,
    },
    /// `to_json(anyelement)`.
    ToJson {
        ty: ScalarType,
    },
    /// `array_to_json(anyarray [, pretty])`.
    ArrayToJson {
        ty: ScalarType,
    },
    /// `json_object(text[])` (alternating keys and values) or `json_object(keys, values)`.
    Object,
}

impl JsonFunc {
    pub fn name(&self) -> &'static str {
        match self {
            JsonFunc::Get { text: false } => "->",
            JsonFunc::Get { text: true } => "->>",
            JsonFunc::GetPath { text: false } => "#>",
            JsonFunc::GetPath { text: true } => "#>>",
            JsonFunc::ExtractPath { text: false } => "json_extract_path",
            JsonFunc::ExtractPath { text: true } => "json_extract_path_text",
            JsonFunc::Typeof => "json_typeof",
            JsonFunc::ArrayLength => "json_array_length",
            JsonFunc::StripNulls => "json_strip_nulls",
            JsonFunc::BuildObject { .. } => "json_build_object",
            JsonFunc::BuildArray { .. } => "json_build_array",
            JsonFunc::Row { .. } => "row_to_json",
            JsonFunc::ToJson { .. } => "to_json",
            JsonFunc::ArrayToJson { .. } => "array_to_json",
            JsonFunc::Object => "json_object",
        }
    }

    /// Builders take NULL arguments as JSON nulls; everything else is strict.
    pub fn is_strict(&self) -> bool {
        !matches!(self, JsonFunc::BuildObject { .. } | JsonFunc::BuildArray { .. } | JsonFunc::Row { .. })
    }

    pub fn eval(&self, args: &[Datum]) -> Result<Datum, EvalError> {
        let doc = |i: usize| match args.get(i) {
            Some(Datum::Text(s)) => Ok(s.as_str()),
            _ => Err(self.bad_arguments(args)),
        };
        match self {
            JsonFunc::Get { text } => {
                let value = doc(0)?;
                let found = match args.get(1) {
                    Some(Datum::Text(key)) => field(value, key),
                    Some(index) => match index.as_i64() {
                        Some(i) => element(value, i),
                        None => return Err(self.bad_arguments(args)),
                    },
                    None => return Err(self.bad_arguments(args)),
                };
                Ok(result(found, *text))
            }
            JsonFunc::GetPath { text } | JsonFunc::ExtractPath { text } => {
                let texts = |items: &[Datum]| -> Vec<Option<String>> {
                    items.iter().map(|d| if let Datum::Text(s) = d { Some(s.clone()) } else { None }).collect()
                };
                let path = match (self, &args[1..]) {
                    (JsonFunc::GetPath { .. }, [Datum::Text(p)]) => parse_text_array(p)?,
                    (JsonFunc::GetPath { .. }, [Datum::Array(items)]) => texts(items),
                    (JsonFunc::ExtractPath { .. }, items) => texts(items),
                    _ => return Err(self.bad_arguments(args)),
                };
                let mut at = Some(value_of(doc(0)?));
                for step in &path {
                    at = match (at, step) {
                        (Some(v), Some(step)) => match kind(v) {
                            Kind::Object => field(v, step),
                            Kind::Array => step.trim().parse::<i64>().ok().and_then(|i| element(v, i)),
                            _ => None,
                        },
                        _ => None,
                    };
                }
                Ok(result(at, *text))
            }
            JsonFunc::Typeof => Ok(Datum::Text(kind(value_of(doc(0)?)).name().into())),
            JsonFunc::ArrayLength => {
                let value = value_of(doc(0)?);
                match kind(value) {
                    Kind::Array => Ok(Datum::Int32(elements(value).len() as i32)),
                    Kind::Object => Err(EvalError::invalid_argument("cannot get array length of a non-array")),
                    _ => Err(EvalError::invalid_argument("cannot get array length of a scalar")),
                }
            }
            JsonFunc::StripNulls => {
                let mut out = String::new();
                strip_nulls(value_of(doc(0)?), &mut out);
                Ok(Datum::Text(out))
            }
            JsonFunc::BuildObject { types } | JsonFunc::Row { types } => {
                if !args.len().is_multiple_of(2) {
                    return Err(EvalError::invalid_argument("argument list must have even number of elements"));
                }
                let compact = matches!(self, JsonFunc::Row { .. });
                let mut out = String::from("{");
                for (i, pair) in args.chunks(2).enumerate() {
                    if i > 0 {
                        out.push_str(if compact { "," } else { ", " });
                    }
                    let key_type = types.get(2 * i).unwrap_or(&ScalarType::Text);
                    strconv::escape_json(&object_key(&pair[0], key_type, 2 * i)?, &mut out);
                    out.push_str(if compact { ":" } else { " : " });
                    write_json(&pair[1], types.get(2 * i + 1).unwrap_or(&ScalarType::Text), &mut out)?;
                }
                out.push('}');
                Ok(Datum::Text(out))
            }
            JsonFunc::BuildArray { types } => {
                let mut out = String::from("[");
                for (i, (d, ty)) in args.iter().zip(types).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_json(d, ty, &mut out)?;
                }
                out.push(']');
                Ok(Datum::Text(out))
            }
            JsonFunc::ToJson { ty } => {
                let mut out = String::new();
                write_json(&args[0], ty, &mut out)?;
                Ok(Datum::Text(out))
            }
            JsonFunc::ArrayToJson { ty } => {
                let (Datum::Array(items), element) = (&args[0], ty.array_element().unwrap_or(ty)) else {
                    return Err(self.bad_arguments(args));
                };
                let separator = if matches!(args.get(1), Some(Datum::Bool(true))) { ",\n " } else { "," };
                let mut out = String::from("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(separator);
                    }
                    write_json(item, element, &mut out)?;
                }
                out.push(']');
                Ok(Datum::Text(out))
            }
            JsonFunc::Object => {
                let texts = |d: &Datum| match d {
                    Datum::Array(items) => Ok(items.clone()),
                    _ => Err(self.bad_arguments(args)),
                };
                let pairs: Vec<(Datum, Datum)> = match args {
                    [flat] => {
                        let flat = texts(flat)?;
                        if flat.len() % 2 != 0 {
                            return Err(array_error("array must have even number of elements"));
                        }
                        flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
                    }
                    [keys, values] => {
                        let (keys, values) = (texts(keys)?, texts(values)?);
                        if keys.len() != values.len() {
                            return Err(array_error("mismatched array dimensions"));
                        }
                        keys.into_iter().zip(values).collect()
                    }
                    _ => return Err(self.bad_arguments(args)),
                };
                let mut out = String::from("{");
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let Datum::Text(key) = key else {
                        return Err(EvalError::InvalidArgument {
                            sqlstate: "22004".into(),
                            message: "null value not allowed for object key".into(),
                        });
                    };
                    strconv::escape_json(key, &mut out);
                    out.push_str(" : ");
                    match value {
                        Datum::Text(v) => strconv::escape_json(v, &mut out),
                        _ => out.push_str("null"),
                    }
                }
                out.push('}');
                Ok(Datum::Text(out))
            }
        }
    }

    fn bad_arguments(&self, args: &[Datum]) -> EvalError {
        EvalError::Internal(format!("{} called with unexpected arguments {args:?}", self.name()))
    }
}

/// The rows of `json_each[_text]`, `json_array_elements[_text]` or `json_object_keys` of
/// json document `doc` (none for NULL).
pub(crate) fn json_table(func: &TableFunc, doc: Option<&Datum>) -> Result<Vec<Vec<Datum>>, EvalError> {
    let Some(Datum::Text(doc)) = doc else { return Ok(vec![]) };
    let value = value_of(doc);
    let shape = kind(value);
    let value_datum = |v: &str, text: bool| if text { result(Some(v), true) } else { Datum::Text(v.to_string()) };
    match func {
        TableFunc::JsonEach { text } => match shape {
            Kind::Object => {
                Ok(members(value).into_iter().map(|(k, v)| vec![Datum::Text(k), value_datum(v, *text)]).collect())
            }
            Kind::Array => Err(EvalError::invalid_argument("cannot deconstruct an array as an object")),
            _ => Err(EvalError::invalid_argument("cannot deconstruct a scalar")),
        },
        TableFunc::JsonArrayElements { text } => match shape {
            Kind::Array => Ok(elements(value).into_iter().map(|v| vec![value_datum(v, *text)]).collect()),
            Kind::Object => Err(EvalError::invalid_argument(format!(
                "cannot call {} on a non-array",
                if *text { "json_array_elements_text" } else { "json_array_elements" }
            ))),
            _ => Err(EvalError::invalid_argument("cannot extract elements from a scalar")),
        },
        TableFunc::JsonObjectKeys => match shape {
            Kind::Object => Ok(members(value).into_iter().map(|(k, _)| vec![Datum::Text(k)]).collect()),
            Kind::Array => Err(EvalError::invalid_argument("cannot call json_object_keys on an array")),
            _ => Err(EvalError::invalid_argument("cannot call json_object_keys on a scalar")),
        },
        other => Err(EvalError::Internal(format!("{other:?} is not a json table function"))),
    }
}

fn array_error(message: &str) -> EvalError {
    EvalError::InvalidArgument { sqlstate: "2202E".into(), message: message.into() }
}

/// What `->` or `#>` found, as json, or as text for `->>` / `#>>` (strings unquoted,
/// JSON null as SQL NULL).
fn result(found: Option<&str>, text: bool) -> Datum {
    match found {
        None => Datum::Null,
        Some(v) if !text => Datum::Text(v.to_string()),
        Some(v) => match kind(v) {
            Kind::Null => Datum::Null,
            Kind::String => Datum::Text(unquote(v)),
            _ => Datum::Text(v.to_string()),
        },
    }
}

/// The key of a `json_build_object` pair: a scalar's text.
fn object_key(d: &Datum, ty: &ScalarType, i: usize) -> Result<String, EvalError> {
    match (d, ty) {
        (Datum::Null, _) => Err(EvalError::invalid_argument(format!("argument {} cannot be null", i + 1))),
        (_, ScalarType::Json | ScalarType::Jsonb | ScalarType::Array(_)) => {
            Err(EvalError::invalid_argument("key value must be scalar, not array, composite, or json"))
        }
        (Datum::Bool(b), _) => Ok(if *b { "true" } else { "false" }.into()),
        (other, _) => output(other, ty),
    }
}

/// Appends `d` of type `ty` as json (PostgreSQL's `datum_to_json`): json as written, jsonb
/// in its text form, arrays as `[a,b]`, numbers bare (non-finite floats quoted), dates
/// and timestamps as ISO 8601 strings, everything else as a string of its text form.
pub(crate) fn write_json(d: &Datum, ty: &ScalarType, out: &mut String) -> Result<(), EvalError> {
    match (d, ty) {
        (Datum::Null, _) => out.push_str("null"),
        (Datum::Text(s), ScalarType::Json) => out.push_str(s),
        (Datum::Text(s), _) => strconv::escape_json(s, out),
        (Datum::Bool(b), _) => out.push_str(if *b { "true" } else { "false" }),
        (Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) | Datum::Numeric(_), _) => {
            strconv::format_datum(d, ty, out)
        }
        (Datum::Float32(f), _) if f.is_finite() => strconv::format_datum(d, ty, out),
        (Datum::Float64(f), _) if f.is_finite() => strconv::format_datum(d, ty, out),
        (Datum::Array(items), _) => {
            let element = ty.array_element().unwrap_or(ty);
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, element, out)?;
            }
            out.push(']');
        }
        (Datum::Jsonb(j), _) => strconv::format_jsonb(j, out),
        (other, _) => match to_jsonb(other, ty)? {
            Jsonb::String(s) => strconv::escape_json(&s, out),
            j => strconv::format_jsonb(&j, out),
        },
    }
    Ok(())
}

/// The separator `json_agg` puts before an element of type `ty` that is not the first:
/// arrays and rows start on a new line.
pub(crate) fn agg_separator(ty: &ScalarType, row: bool) -> &'static str {
    if row || matches!(ty, ScalarType::Array(_)) {
        ", \n "
    } else {
        ", "
    }
}

/// The kind of JSON value a (checked) text starts with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Null => "null",
        }
    }
}

/// The kind of `value` (no leading whitespace).
pub(crate) fn kind(value: &str) -> Kind {
    match value.as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Boolean,
        Some(b'n') => Kind::Null,
        _ => Kind::Number,
    }
}

/// A whole json document's value without its surrounding whitespace.
pub(crate) fn value_of(doc: &str) -> &str {
    doc.trim_matches(is_json_space)
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// A JSON string's contents, unescaped.
pub(crate) fn unquote(value: &str) -> String {
    match strconv::parse_jsonb(value) {
        Ok(Jsonb::String(s)) => s,
        _ => value.trim_matches('"').to_string(),
    }
}

/// Walks a json text the input function has already checked: it only finds where
/// values end.
struct Walker<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Walker<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips the value starting here and returns it.
    fn value(&mut self) -> &'a str {
        let start = self.at;
        match self.byte() {
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                loop {
                    self.skip_space();
                    match self.byte() {
                        None => break,
                        Some(b) if b == close => {
                            self.at += 1;
                            break;
                        }
                        Some(b',' | b':') => self.at += 1,
                        Some(_) => {
                            self.value();
                        }
                    }
                }
            }
            Some(b'"') => {
                self.at += 1;
                while let Some(b) = self.byte() {
                    self.at += if b == b'\\' { 2 } else { 1 };
                    if b == b'"' {
                        break;
                    }
                }
            }
            _ => {
                while !matches!(self.byte(), None | Some(b',' | b']' | b'}' | b':' | b' ' | b'\t' | b'\n' | b'\r')) {
                    self.at += 1;
                }
            }
        }
        &self.text[start..self.at.min(self.text.len())]
    }

    /// After a member or element: past the `,` (true) or the closing bracket (false).
    fn next_item(&mut self) -> bool {
        self.skip_space();
        let more = self.byte() == Some(b',');
        self.at += 1;
        self.skip_space();
        more
    }
}

/// The elements of array `value`, as written.
pub(crate) fn elements(value: &str) -> Vec<&str> {
    let mut w = Walker { text: value, at: 1 };
    w.skip_space();
    let mut out = Vec::new();
    if w.byte() == Some(b']') {
        return out;
    }
    loop {
        out.push(w.value());
        if !w.next_item() {
            return out;
        }
    }
}

/// The members of object `value` in written order (duplicates kept): key unescaped,
/// value as written.
pub(crate) fn members(value: &str) -> Vec<(String, &str)> {
    let mut w = Walker { text: value, at: 1 };
    w.skip_space();
    let mut out = Vec::new();
    if w.byte() == Some(b'}') {
        return out;
    }
    loop {
        let key = unquote(w.value());
        w.skip_space();
        w.at += 1; // the ':'
        w.skip_space();
        out.push((key, w.value()));
        if !w.next_item() {
            return out;
        }
    }
}

/// `value -> key`: the last member named `key`, as PostgreSQL finds it.
fn field<'a>(value: &'a str, key: &str) -> Option<&'a str> {
    if kind(value) != Kind::Object {
        return None;
    }
    members(value).into_iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `value -> i`: negative indexes count from the end.
fn element(value: &str, index: i64) -> Option<&str> {
    if kind(value) != Kind::Array {
        return None;
    }
    let items = elements(value);
    let at = if index < 0 { index + items.len() as i64 } else { index };
    usize::try_from(at).ok().and_then(|i| items.get(i).copied())
}

/// `json_strip_nulls`: objects lose their null members, at any depth; the result is
/// written without spaces, as PostgreSQL rewrites it.
fn strip_nulls(value: &str, out: &mut String) {
    match kind(value) {
        Kind::Object => {
            out.push('{');
            let mut first = true;
            for (key, v) in members(value) {
                if kind(v) == Kind::Null {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                strconv::escape_json(&key, out);
                out.push(':');
                strip_nulls(v, out);
            }
            out.push('}');
        }
        Kind::Array => {
            out.push('[');
            for (i, v) in elements(value).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                strip_nulls(v, out);
            }
            out.push(']');
        }
        _ => out.push_str(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_members_and_elements_as_written() {
        let doc = r#" {"a" : [1, {"b":2} ], "a":"x\"}", "c":  null } "#;
        let v = value_of(doc);
        let m = members(v);
        assert_eq!(m, vec![("a".into(), r#"[1, {"b":2} ]"#), ("a".into(), r#""x\"}""#), ("c".into(), "null")]);
        assert_eq!(elements(m[0].1), vec!["1", r#"{"b":2}"#]);
        assert_eq!(elements("[ ]"), Vec::<&str>::new());
        assert_eq!(members("{ }"), vec![]);
        assert_eq!(field(v, "a"), Some(r#""x\"}""#));
        assert_eq!(element("[1,2,3]", -1), Some("3"));
        assert_eq!(element("[1,2,3]", 3), None);
        assert_eq!(element("1", 0), None);
        assert_eq!(unquote(r#""x\"}""#), "x\"}");
    }

    #[test]
    fn strips_nulls_without_spaces() {
        let mut out = String::new();
        strip_nulls(r#"[{"a":null,"b":[null, {"c":null}]} , 1]"#, &mut out);
        assert_eq!(out, r#"[{"b":[null,{}]},1]"#);
    }

    #[test]
    fn builders_space_as_postgres() {
        let f = JsonFunc::BuildObject {
            types: vec![ScalarType::Text, ScalarType::Int32, ScalarType::Text, ScalarType::Json],
        };
        let d = f.eval(&[
            Datum::Text("a".into()),
            Datum::Int32(1),
            Datum::Text("b".into()),
            Datum::Text("{\"y\" : 2}".into()),
        ]);
        assert_eq!(d.unwrap(), Datum::Text(r#"{"a" : 1, "b" : {"y" : 2}}"#.into()));
        let row = JsonFunc::Row { types: vec![ScalarType::Text, ScalarType::Float64] };
        assert_eq!(
            row.eval(&[Datum::Text("x".into()), Datum::Float64(f64::NAN)]).unwrap(),
            Datum::Text(r#"{"x":"NaN"}"#.into())
        );
    }
}
