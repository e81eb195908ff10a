//! Formats: the bytes of a message's key or value to datums of declared columns.
//!
//! Every failure is a [`DecodeError`] naming what was wrong; the caller records it with
//! the message's position and keeps going.

use eddy_repr::jsonb::JsonNumber;
use eddy_repr::source::Format;
use eddy_repr::strconv::{self, jsonb_to_string, parse_jsonb};
use eddy_repr::{Datum, Jsonb, RelationDesc, ScalarType};

use crate::registry::{split_framing, RegistryClient, RegistryError};

/// Why one message did not decode. The text is what `source_errors.reason` shows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DecodeError {
    pub reason: String,
    /// Not the message's fault (its schema registry cannot be reached): the source
    /// should retry the message rather than record it as bad.
    pub transient: bool,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError { reason: message.into(), transient: false }
    }

    /// This message's reason, prefixed with where in the message it was.
    pub fn context(self, what: impl std::fmt::Display) -> Self {
        DecodeError { reason: format!("{what}: {}", self.reason), ..self }
    }
}

/// Decodes one side (key or value) of a source's messages. Stateless formats are plain
/// functions of the bytes; Avro also needs its registry and the writer schemas fetched
/// from it so far.
pub struct Decoder {
    format: Format,
    registry: Option<RegistryClient>,
}

impl Decoder {
    pub fn new(format: Format) -> Self {
        let registry = match &format {
            Format::Avro(avro) => Some(RegistryClient::new(avro.registry.clone())),
            _ => None,
        };
        Decoder { format, registry }
    }

    /// The message's datums, one per column of `desc`.
    pub fn decode(&self, bytes: &[u8], desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
        match &self.format {
            Format::Avro(_) => decode_json_columns(&self.document(bytes)?, desc),
            other => decode(bytes, other, desc),
        }
    }

    /// The message as a document (for envelopes that read fields, like Debezium's):
    /// JSON parsed, Avro decoded with the writer schema its framing names.
    pub fn document(&self, bytes: &[u8]) -> Result<Jsonb, DecodeError> {
        let Some(registry) = &self.registry else { return parse_json(bytes) };
        let (id, body) = split_framing(bytes).map_err(DecodeError::new)?;
        let schema = registry.schema(id).map_err(|e| match e {
            RegistryError::Unavailable { .. } => DecodeError { reason: e.to_string(), transient: true },
            other => DecodeError::new(format!("writer schema {id}: {other}")),
        })?;
        schema.decode(body).map_err(|e| DecodeError::new(format!("Avro (schema {id}): {e}")))
    }
}

/// Decodes `bytes` in a stateless `format` into one datum per column of `desc` (Avro
/// needs a [`Decoder`]).
pub fn decode(bytes: &[u8], format: &Format, desc: &RelationDesc) -> Result<Vec<Datum>, DecodeError> {
    match format {
        Format::Json => {
            let doc = parse_json(bytes)?;
            decode_json_columns(&doc, desc)
        }
        Format::Csv { delimiter } => decode_csv(utf8(bytes)?, *delimiter, desc),
        Format::Text => single_column(Datum::Text(utf8(bytes)?.to_string()), desc),
        Format::Bytes => single_column(Datum::Bytes(bytes.to_vec()), desc),
        Format::Avro(_) => Err(DecodeError::new("Avro is decoded with its schema registry (a Decoder)")),
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
            Some(v) => json_to_datum(v, &ty.scalar_type).map_err(|e| e.context(format_args!("column \"{name}\"")))?,
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
            Some(text) => convert_text(text, &ty.scalar_type).map_err(|e| e.context(format_args!("column \"{name}\""))),
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
        assert!(decode(b"{not json", &Format::Json, &d).unwrap_err().reason.starts_with("invalid JSON"));
        assert_eq!(decode(b"{}", &Format::Json, &d).unwrap_err().reason, "required column \"id\" is missing");
        let err = decode(br#"{"id": "x"}"#, &Format::Json, &d).unwrap_err().reason;
        assert_eq!(err, "column \"id\": invalid input syntax for type bigint: \"x\"");
        assert_eq!(decode(b"[1]", &Format::Json, &d).unwrap_err().reason, "expected a JSON object, got array");
    }

    #[test]
    fn json_arrays_fill_array_columns() {
        let d = desc(&[("tags", ScalarType::Array(Box::new(ScalarType::Text)), true)]);
        let row = decode(br#"{"tags": ["a", null, "b"]}"#, &Format::Json, &d).expect("decodes");
        assert_eq!(row[0], Datum::Array(vec![Datum::Text("a".into()), Datum::Null, Datum::Text("b".into())]));
        let ints = desc(&[("n", ScalarType::Array(Box::new(ScalarType::Int32)), true)]);
        let err = decode(br#"{"n": [1, "x"]}"#, &Format::Json, &ints).unwrap_err().reason;
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
        assert_eq!(
            decode(b"1", &Format::Csv { delimiter: ',' }, &d).unwrap_err().reason,
            "expected 2 CSV fields, got 1"
        );
        let t = desc(&[("text", ScalarType::Text, true)]);
        assert_eq!(decode(b"hi", &Format::Text, &t).expect("text"), vec![Datum::Text("hi".into())]);
        assert!(decode(&[0xff], &Format::Text, &t).is_err());
        let b = desc(&[("data", ScalarType::Bytea, true)]);
        assert_eq!(decode(&[0xff], &Format::Bytes, &b).expect("bytes"), vec![Datum::Bytes(vec![0xff])]);
    }
}
