//! Arrays' text form (`{1,2,NULL}`, `{"a b","x\"y"}`) and binary layout, as PostgreSQL's
//! `array_out`, `array_in`, `array_send` and `array_recv` write and read them, for
//! one-dimensional arrays.

use super::{format_datum, is_pg_space, parse_datum, ParseError};
use crate::{Datum, ScalarType};

/// Appends `{e1,e2,...}`: NULL elements as `NULL`, elements quoted when they are empty,
/// spell NULL, or hold a delimiter, brace, quote, backslash or blank.
pub fn format_array(elements: &[Datum], element_type: &ScalarType, out: &mut String) {
    out.push('{');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if e.is_null() {
            out.push_str("NULL");
            continue;
        }
        let mut text = String::new();
        format_datum(e, element_type, &mut text);
        let needs_quotes = text.is_empty()
            || text.eq_ignore_ascii_case("NULL")
            || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || is_pg_space(c));
        if needs_quotes {
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push('}');
}

/// Parses `{...}` into elements of `element_type`.
pub fn parse_array(text: &str, element_type: &ScalarType) -> Result<Datum, ParseError> {
    let malformed = || ParseError::MalformedArray(text.to_string());
    let body = text.trim_matches(is_pg_space);
    let inner = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or_else(malformed)?;
    let mut elements = Vec::new();
    let mut chars = inner.chars().peekable();
    if inner.trim_matches(is_pg_space).is_empty() {
        return Ok(Datum::Array(elements));
    }
    loop {
        while chars.next_if(|c| is_pg_space(*c)).is_some() {}
        let mut value = String::new();
        let mut quoted = false;
        match chars.peek() {
            Some('"') => {
                quoted = true;
                chars.next();
                loop {
                    match chars.next().ok_or_else(malformed)? {
                        '"' => break,
                        '\\' => value.push(chars.next().ok_or_else(malformed)?),
                        c => value.push(c),
                    }
                }
                while chars.next_if(|c| is_pg_space(*c)).is_some() {}
            }
            // Nested braces: a multidimensional array, which Eddy does not have.
            Some('{') => return Err(malformed()),
            _ => {
                // Bytes up to the last escaped character stay, blanks after it go.
                let mut kept = 0;
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    match c {
                        '{' | '}' | '"' => return Err(malformed()),
                        '\\' => {
                            value.push(chars.next().ok_or_else(malformed)?);
                            kept = value.len();
                            quoted = true;
                        }
                        c => value.push(c),
                    }
                }
                let trimmed = value.trim_end_matches(is_pg_space).len().max(kept);
                value.truncate(trimmed);
                if value.is_empty() {
                    return Err(malformed());
                }
            }
        }
        // A NULL only when written bare: `"NULL"` and `\NULL` are the text NULL.
        if !quoted && value.eq_ignore_ascii_case("NULL") {
            elements.push(Datum::Null);
        } else {
            elements.push(parse_datum(&value, element_type)?);
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(_) => return Err(malformed()),
        }
    }
    Ok(Datum::Array(elements))
}

/// `array_send`: dimensions, a NULL flag, the element type, then each element with its
/// length (-1 for NULL).
pub(super) fn encode_array(elements: &[Datum], element_type: &ScalarType, lower_bound: i32, out: &mut Vec<u8>) {
    let has_nulls = elements.iter().any(Datum::is_null);
    let dimensions: i32 = if elements.is_empty() { 0 } else { 1 };
    out.extend_from_slice(&dimensions.to_be_bytes());
    out.extend_from_slice(&i32::from(has_nulls).to_be_bytes());
    out.extend_from_slice(&element_type.oid().to_be_bytes());
    if dimensions == 1 {
        out.extend_from_slice(&(elements.len() as i32).to_be_bytes());
        out.extend_from_slice(&lower_bound.to_be_bytes());
    }
    for e in elements {
        if e.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        super::binary::encode(e, element_type, out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// `array_recv` for one-dimensional arrays.
pub(super) fn decode_array(bytes: &[u8], element_type: &ScalarType) -> Result<Datum, ParseError> {
    let bad = || ParseError::BadBinary(format!("{element_type}[]"));
    let mut at = 0usize;
    let int = |at: &mut usize| -> Result<i32, ParseError> {
        let v = bytes.get(*at..*at + 4).ok_or_else(bad)?;
        *at += 4;
        Ok(i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    };
    let dimensions = int(&mut at)?;
    let _has_nulls = int(&mut at)?;
    let _element_oid = int(&mut at)?;
    let len = match dimensions {
        0 => 0,
        1 => {
            let len = int(&mut at)?;
            let _lower_bound = int(&mut at)?;
            usize::try_from(len).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    let mut elements = Vec::with_capacity(len.min(1 << 16));
    for _ in 0..len {
        let n = int(&mut at)?;
        if n < 0 {
            elements.push(Datum::Null);
            continue;
        }
        let start = at;
        let end = start.checked_add(n as usize).filter(|e| *e <= bytes.len()).ok_or_else(bad)?;
        elements.push(super::binary::decode(&bytes[start..end], element_type)?);
        at = end;
    }
    if at != bytes.len() {
        return Err(bad());
    }
    Ok(Datum::Array(elements))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    #[test]
    fn text_form_quotes_what_postgres_quotes() {
        let mut out = String::new();
        let elements = [text("a"), text(""), text("NULL"), text("x y"), text("q\"b\\"), Datum::Null, text("{}")];
        format_array(&elements, &ScalarType::Text, &mut out);
        assert_eq!(out, r#"{a,"","NULL","x y","q\"b\\",NULL,"{}"}"#);
        assert_eq!(parse_array(&out, &ScalarType::Text).unwrap(), Datum::Array(elements.to_vec()));
    }

    #[test]
    fn input_is_typed_and_checked() {
        let parsed = parse_array(" { 1 , NULL,3 } ", &ScalarType::Int32).unwrap();
        assert_eq!(parsed, Datum::Array(vec![Datum::Int32(1), Datum::Null, Datum::Int32(3)]));
        assert_eq!(parse_array("{}", &ScalarType::Int32).unwrap(), Datum::Array(vec![]));
        let escaped = parse_array(r"{\NULL,a\ ,b }", &ScalarType::Text).unwrap();
        assert_eq!(
            escaped,
            Datum::Array(vec![Datum::Text("NULL".into()), Datum::Text("a ".into()), Datum::Text("b".into())])
        );
        for bad in ["1,2", "{1,2", "{{1},{2}}", "{1,,2}", "{a}"] {
            assert!(parse_array(bad, &ScalarType::Int32).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn binary_round_trips() {
        let a = vec![Datum::Int64(7), Datum::Null, Datum::Int64(-1)];
        let mut out = Vec::new();
        encode_array(&a, &ScalarType::Int64, 1, &mut out);
        assert_eq!(&out[..4], &1i32.to_be_bytes());
        assert_eq!(decode_array(&out, &ScalarType::Int64).unwrap(), Datum::Array(a));
        let mut empty = Vec::new();
        encode_array(&[], &ScalarType::Text, 1, &mut empty);
        assert_eq!(decode_array(&empty, &ScalarType::Text).unwrap(), Datum::Array(vec![]));
    }
}
