//! Formats: the bytes of a message's key or value to datums of declared columns.
//!
//! Every failure is a [`DecodeError`] naming what was wrong; the caller records it with
//! the message's position and keeps going.

use eddy_repr::jsonb::JsonNumber;
use eddy_repr::source::Format;
use eddy_repr::strconv::{self, jsonb_to_string, parse_jsonb};
use eddy_repr::{Datum, Jsonb, RelationDesc, ScalarType};

/// Why one message did not decode. The text is what `source_errors.reason` shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError(message.into())
    }
}

/// Decodes `bytes` in `format` into one datum per column of `desc`.
pub fn decode(bytes: &[u8], format: &Format, desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
    match format {
        Format::Json => {
            let doc = parse_json(bytes)?;
            decode_json_columns(&doc, desc)
        }
        Format::Csv { delimiter } => decode_csv(utf8(bytes)?, *delimiter, desc),
        Format::Text => single_column(Datum::Text(utf8(bytes)?.to_string()), desc),
        Format::Bytes => single_column(Datum::Bytes(bytes.to_vec()), desc),
    }
}

/// Parses a JSON document exactly (numbers keep every digit).
pub fn parse_json(bytes: &[u8]) -> Result<Jsonb, DecodeError> {
    parse_jsonb(utf8(bytes)?).map_err(|e| DecodeError::new(format!("invalid JSON: {e}")))
}

fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|e| DecodeError::new(format!("invalid UTF-8 at byte {}", e.valid_up_to())))
}

fn single_column(datum: Datum, desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
    match desc.columns() {
        [(_, ty)] if ty.scalar_type == ScalarType::Jsonb => match datum {
            Datum::Text(t) => Ok(vec![Datum::Jsonb(parse_jsonb(&t).map_err(|e| DecodeError::new(e.to_string()))?)]),
            Datum::Bytes(b) => Ok(vec![Datum::Jsonb(parse_json(&b)?)]),
            other => Ok(vec![other]),
        },
        [(_, ty)] => match datum {
            Datum::Text(t) => Ok(vec![convert_text(&t, &ty.scalar_type)?]),
            other => Ok(vec![other]),
        },
        _ => Err(DecodeError::new("this format decodes to exactly one column")),
    }
}

/// The columns of `desc` from the JSON object `doc`, matched by name (exactly, else
/// ignoring case). A single `jsonb` column takes the whole document.
pub fn decode_json_columns(doc: &Jsonb, desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
    if let [(name, ty)] = desc.columns() {
        if ty.scalar_type == ScalarType::Jsonb && doc.get_key(name).is_none() {
            return Ok(vec![Datum::Jsonb(doc.clone())]);
        }
    }
    let Jsonb::Object(pairs) = doc else {
        return Err(DecodeError::new(format!("expected a JSON object, got {}", doc.type_name())));
    };
    let mut datums = Vec::with_capacity(desc.arity());
    for (name, ty) in desc.columns() {
        let value = pairs
            .iter()
            .find(|(k, _)| k.0 == *name)
            .or_else(|| pairs.iter().find(|(k, _)| k.0.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v);
        let datum = match value {
            None | Some(Jsonb::Null) => Datum::Null,
            Some(v) => json_to_datum(v, &ty.scalar_type)
                .map_err(|e| DecodeError::new(format!("column \"{name}\": {}", e.0)))?,
        };
        if datum.is_null() && !ty.nullable {
            let what = if value.is_none() { "is missing" } else { "is null" };
            return Err(DecodeError::new(format!("required column \"{name}\" {what}")));
        }
        datums.push(datum);
    }
    Ok(datums)
}

/// One JSON value as a datum of type `ty`: strings and numbers are read as that type's
/// text input; objects and arrays only fit `jsonb` (or `text`, as their JSON text).
fn json_to_datum(value: &Jsonb, ty: &ScalarType) -> Result<Datum, DecodeError> {
    if *ty == ScalarType::Jsonb {
        return Ok(Datum::Jsonb(value.clone()));
    }
    // A JSON array into an array column: element by element.
    if let (Jsonb::Array(items), ScalarType::Array(element)) = (value, ty) {
        let elements = items.iter().map(|item| json_to_datum(item, element)).collect::<Result<_, _>>()?;
        return Ok(Datum::Array(elements));
    }
    match value {
        Jsonb::String(s) => convert_text(s, ty),
        Jsonb::Number(JsonNumber::Decimal(d)) => convert_text(&d.to_string(), ty),
        Jsonb::Number(JsonNumber::Text(t)) => convert_text(t, ty),
        Jsonb::Bool(b) => convert_text(if *b { "true" } else { "false" }, ty),
        Jsonb::Null => Ok(Datum::Null),
        Jsonb::Array(_) | Jsonb::Object(_) => match ty {
            ScalarType::Text | ScalarType::Varchar { .. } => Ok(Datum::Text(jsonb_to_string(value))),
            _ => Err(DecodeError::new(format!("expected {ty}, got a JSON {}", value.type_name()))),
        },
    }
}

fn convert_text(text: &str, ty: &ScalarType) -> Result<Datum, DecodeError> {
    strconv::parse_datum(text, ty).map_err(|e| DecodeError::new(e.to_string()))
}

fn decode_csv(line: &str, delimiter: char, desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let fields = strconv::split_csv(line, delimiter, '"', '"', "");
    if fields.len() != desc.arity() {
        return Err(DecodeError::new(format!("expected {} CSV fields, got {}", desc.arity(), fields.len())));
    }
    fields
        .iter()
        .zip(desc.columns())
        .map(|(field, (name, ty))| match field {
            None if !ty.nullable => Err(DecodeError::new(format!("required column \"{name}\" is empty"))),
            None => Ok(Datum::Null),
            Some(text) => {
                convert_text(text, &ty.scalar_type).map_err(|e| DecodeError::new(format!("column \"{name}\": {}", e.0)))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::ColumnType;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn desc(cols: &[(&str, ScalarType, bool)]) -> RelationDesc {
        RelationDesc::new(cols.iter().map(|(n, t, null)| (n.to_string(), ColumnType::new(t.clone(), *null))).collect())
    }

    #[test]
    fn json_columns_by_name_with_exact_numbers() {
        let d = desc(&[
            ("id", ScalarType::Int64, true),
            ("amount", ScalarType::Numeric { precision: None, scale: None }, true),
            ("userid", ScalarType::Text, true),
            ("missing", ScalarType::Bool, true),
        ]);
        let row = decode(br#"{"id": 7, "amount": 12345678901234567890.125, "userId": "a"}"#, &Format::Json, &d)
            .expect("decodes");
        assert_eq!(row[0], Datum::Int64(7));
        assert_eq!(row[1], Datum::Numeric(Decimal::from_str("12345678901234567890.125").expect("decimal")));
        assert_eq!(row[2], Datum::Text("a".into()));
        assert_eq!(row[3], Datum::Null);
    }

    #[test]
    fn json_errors_name_the_problem() {
        let d = desc(&[("id", ScalarType::Int64, false)]);
        assert!(decode(b"{not json", &Format::Json, &d).unwrap_err().0.starts_with("invalid JSON"));
        assert_eq!(decode(b"{}", &Format::Json, &d).unwrap_err().0, "required column \"id\" is missing");
        let err = decode(br#"{"id": "x"}"#, &Format::Json, &d).unwrap_err().0;
        assert_eq!(err, "column \"id\": invalid input syntax for type bigint: \"x\"");
        assert_eq!(decode(b"[1]", &Format::Json, &d).unwrap_err().0, "expected a JSON object, got array");
    }

    #[test]
    fn json_arrays_fill_array_columns() {
        let d = desc(&[("tags", ScalarType::Array(Box::new(ScalarType::Text)), true)]);
        let row = decode(br#"{"tags": ["a", null, "b"]}"#, &Format::Json, &d).expect("decodes");
        assert_eq!(row[0], Datum::Array(vec![Datum::Text("a".into()), Datum::Null, Datum::Text("b".into())]));
        let ints = desc(&[("n", ScalarType::Array(Box::new(ScalarType::Int32)), true)]);
        let err = decode(br#"{"n": [1, "x"]}"#, &Format::Json, &ints).unwrap_err().0;
        assert_eq!(err, "column \"n\": invalid input syntax for type integer: \"x\"");
    }

    #[test]
    fn json_document_as_one_jsonb_column() {
        let d = desc(&[("data", ScalarType::Jsonb, true)]);
        let row = decode(br#"{"a": [1, 2]}"#, &Format::Json, &d).expect("decodes");
        assert_eq!(
            jsonb_to_string(match &row[0] {
                Datum::Jsonb(j) => j,
                other => panic!("{other:?}"),
            }),
            r#"{"a": [1, 2]}"#
        );
    }

    #[test]
    fn csv_text_and_bytes() {
        let d = desc(&[("a", ScalarType::Int32, true), ("b", ScalarType::Text, true)]);
        assert_eq!(
            decode(b"1,\"x,y\"\n", &Format::Csv { delimiter: ',' }, &d).expect("csv"),
            vec![Datum::Int32(1), Datum::Text("x,y".into())]
        );
        assert_eq!(decode(b"1", &Format::Csv { delimiter: ',' }, &d).unwrap_err().0, "expected 2 CSV fields, got 1");
        let t = desc(&[("text", ScalarType::Text, true)]);
        assert_eq!(decode(b"hi", &Format::Text, &t).expect("text"), vec![Datum::Text("hi".into())]);
        assert!(decode(&[0xff], &Format::Text, &t).is_err());
        let b = desc(&[("data", ScalarType::Bytea, true)]);
        assert_eq!(decode(&[0xff], &Format::Bytes, &b).expect("bytes"), vec![Datum::Bytes(vec![0xff])]);
    }
}
