//! Booleans, integers, bytea and uuid.

use super::{is_pg_space, trim_pg_space, ParseError};

/// PostgreSQL's `boolin`: `t`/`true`/`y`/`yes`/`on`/`1` and `f`/`false`/`n`/`no`/`off`/`0`,
/// any unique prefix of the words, case-insensitive, surrounding blanks ignored.
pub fn parse_bool(text: &str) -> Result<bool, ParseError> {
    let s = trim_pg_space(text).to_ascii_lowercase();
    let is_prefix_of = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    let result = match s.as_bytes().first() {
        Some(b't') if is_prefix_of("true", 1) => Some(true),
        Some(b'y') if is_prefix_of("yes", 1) => Some(true),
        Some(b'f') if is_prefix_of("false", 1) => Some(false),
        Some(b'n') if is_prefix_of("no", 1) => Some(false),
        Some(b'o') if s == "on" => Some(true),
        Some(b'o') if is_prefix_of("off", 2) => Some(false),
        Some(b'1') if s.len() == 1 => Some(true),
        Some(b'0') if s.len() == 1 => Some(false),
        _ => None,
    };
    result.ok_or_else(|| ParseError::syntax("boolean", text))
}

/// PostgreSQL 15's `pg_strtoint*`: blanks, optional sign, decimal digits, blanks.
fn parse_int(text: &str, min: i64, max: i64, type_name: &str) -> Result<i64, ParseError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() && is_pg_space(bytes[i] as char) {
        i += 1;
    }
    let mut neg = false;
    if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
        neg = bytes[i] == b'-';
        i += 1;
    }
    if i >= bytes.len() || !bytes[i].is_ascii_digit() {
        return Err(ParseError::syntax(type_name, text));
    }
    // Accumulate negatively so that the minimum value fits.
    let mut acc: i64 = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        let digit = i64::from(bytes[i] - b'0');
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_sub(digit))
            .filter(|a| *a >= if neg { min } else { -max })
            .ok_or_else(|| ParseError::out_of_range(type_name, text))?;
        i += 1;
    }
    while i < bytes.len() && is_pg_space(bytes[i] as char) {
        i += 1;
    }
    if i != bytes.len() {
        return Err(ParseError::syntax(type_name, text));
    }
    if neg {
        Ok(acc)
    } else {
        Ok(-acc)
    }
}

/// `smallint` input.
pub fn parse_int16(text: &str) -> Result<i16, ParseError> {
    parse_int(text, i16::MIN.into(), i16::MAX.into(), "smallint").map(|v| v as i16)
}

/// `integer` input.
pub fn parse_int32(text: &str) -> Result<i32, ParseError> {
    parse_int(text, i32::MIN.into(), i32::MAX.into(), "integer").map(|v| v as i32)
}

/// `bigint` input.
pub fn parse_int64(text: &str) -> Result<i64, ParseError> {
    parse_int(text, i64::MIN, i64::MAX, "bigint")
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytea` output in hex format: `\x0102ff`.
pub fn format_bytea(bytes: &[u8], out: &mut String) {
    out.reserve(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `bytea` input: hex format (`\x0102ff`, blanks allowed between byte pairs) or the
/// traditional escape format (`\\` for a backslash, `\ooo` octal, other bytes as-is).
pub fn parse_bytea(text: &str) -> Result<Vec<u8>, ParseError> {
    let bytes = text.as_bytes();
    let err = || ParseError::syntax("bytea", text);
    if let Some(hex) = bytes.strip_prefix(b"\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut i = 0;
        while i < hex.len() {
            let c = hex[i];
            if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                i += 1;
                continue;
            }
            let hi = hex_value(c).ok_or_else(err)?;
            let lo = hex.get(i + 1).and_then(|c| hex_value(*c)).ok_or_else(err)?;
            out.push((hi << 4) | lo);
            i += 2;
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            match (bytes.get(i + 1), bytes.get(i + 2), bytes.get(i + 3)) {
                (Some(a @ b'0'..=b'3'), Some(b @ b'0'..=b'7'), Some(c @ b'0'..=b'7')) => {
                    out.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
                    i += 4;
                }
                _ => return Err(err()),
            }
        }
    }
    Ok(out)
}

/// `uuid` output: lower-case, hyphenated 8-4-4-4-12.
pub fn format_uuid(uuid: u128, out: &mut String) {
    let bytes = uuid.to_be_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

/// `uuid` input as PostgreSQL's `string_to_uuid`: 32 hex digits of either case, a hyphen
/// allowed after any group of four, optionally inside braces; no blanks.
pub fn parse_uuid(text: &str) -> Result<u128, ParseError> {
    let err = || ParseError::syntax("uuid", text);
    let mut src = text.as_bytes();
    let braces = src.first() == Some(&b'{');
    if braces {
        src = &src[1..];
    }
    let mut value: u128 = 0;
    for i in 0..16 {
        let hi = src.first().and_then(|c| hex_value(*c)).ok_or_else(err)?;
        let lo = src.get(1).and_then(|c| hex_value(*c)).ok_or_else(err)?;
        value = (value << 8) | u128::from((hi << 4) | lo);
        src = &src[2..];
        if src.first() == Some(&b'-') && i % 2 == 1 && i < 15 {
            src = &src[1..];
        }
    }
    if braces {
        if src.first() != Some(&b'}') {
            return Err(err());
        }
        src = &src[1..];
    }
    if !src.is_empty() {
        return Err(err());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["t", "true", "TRUE", "tr", "y", "yes", "ye", "on", "ON", "1", " t ", "\ttrue\n"] {
            assert_eq!(parse_bool(t), Ok(true), "{t:?}");
        }
        for f in ["f", "false", "fa", "n", "no", "off", "of", "OFF", "0", " 0 "] {
            assert_eq!(parse_bool(f), Ok(false), "{f:?}");
        }
        for bad in ["", "o", "tru e", "truex", "2", "10", "yess", "offf", "nope", " "] {
            let e = parse_bool(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid input syntax for type boolean: \"{bad}\""));
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int32("  42  "), Ok(42));
        assert_eq!(parse_int32("+42"), Ok(42));
        assert_eq!(parse_int32("-0"), Ok(0));
        assert_eq!(parse_int32("007"), Ok(7));
        assert_eq!(parse_int16("32767"), Ok(32767));
        assert_eq!(parse_int16("-32768"), Ok(-32768));
        assert_eq!(parse_int64("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int64("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int16("32768").unwrap_err().to_string(), r#"value "32768" is out of range for type smallint"#);
        assert_eq!(
            parse_int64("9223372036854775808").unwrap_err().to_string(),
            r#"value "9223372036854775808" is out of range for type bigint"#
        );
        assert!(matches!(parse_int32("-2147483649"), Err(ParseError::OutOfRange { .. })));
        for bad in ["", " ", "-", "+", "1.5", "1e3", "0x10", "1 2", "abc", "١"] {
            assert_eq!(
                parse_int32(bad).unwrap_err().to_string(),
                format!("invalid input syntax for type integer: \"{bad}\"")
            );
        }
    }

    #[test]
    fn bytea() {
        let mut s = String::new();
        format_bytea(&[1, 2, 0xff], &mut s);
        assert_eq!(s, "\\x0102ff");
        s.clear();
        format_bytea(&[], &mut s);
        assert_eq!(s, "\\x");
        assert_eq!(parse_bytea("\\x01 02ff"), Ok(vec![1, 2, 0xff]));
        assert_eq!(parse_bytea("\\xABcd"), Ok(vec![0xab, 0xcd]));
        assert_eq!(parse_bytea("\\x"), Ok(vec![]));
        assert!(parse_bytea("\\x0").is_err());
        assert!(parse_bytea("\\x0 1").is_err());
        assert!(parse_bytea("\\xzz").is_err());
        assert_eq!(parse_bytea("a\\\\b\\001"), Ok(vec![b'a', b'\\', b'b', 1]));
        assert_eq!(parse_bytea("abc"), Ok(b"abc".to_vec()));
        assert_eq!(parse_bytea("\\377"), Ok(vec![255]));
        assert_eq!(parse_bytea("é"), Ok("é".as_bytes().to_vec()));
        assert!(parse_bytea("\\400").is_err());
        assert!(parse_bytea("\\").is_err());
        assert!(parse_bytea("\\12").is_err());
        assert!(parse_bytea("\\X01").is_err());
    }

    #[test]
    fn uuids() {
        let want = 0xa0eebc999c0b4ef8bb6d6bb9bd380a11u128;
        for ok in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11}",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(parse_uuid(ok), Ok(want), "{ok}");
        }
        for bad in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert_eq!(
                parse_uuid(bad).unwrap_err().to_string(),
                format!("invalid input syntax for type uuid: \"{bad}\"")
            );
        }
        let mut s = String::new();
        format_uuid(want, &mut s);
        assert_eq!(s, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        s.clear();
        format_uuid(0, &mut s);
        assert_eq!(s, "00000000-0000-0000-0000-000000000000");
    }
}
