//! `jsonb`: PostgreSQL's JSON input (RFC 8259 grammar, numbers kept exactly as
//! `numeric`) and `JsonbToCString` output (`{"a": 1, "b": [1, 2]}`).
//!
//! The parser is hand-written rather than serde_json so that numbers keep every digit and
//! their PostgreSQL scale (`1.50` stays `1.50`, `1e2` is `100`), `\u0000` is rejected as
//! jsonb rejects it, and nesting depth is bounded instead of overflowing the stack.

use super::numeric::BigDecimal;
use super::ParseError;
use crate::jsonb::{JsonNumber, Jsonb};

/// Deepest nesting of arrays and objects accepted (PostgreSQL's bound is its stack depth).
pub const MAX_JSONB_DEPTH: usize = 1000;

/// PostgreSQL reports JSON syntax errors against type `json` even for jsonb input.
const TY: &str = "json";

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// `jsonb` output: `{"a": 1, "b": [1, 2]}`, keys in jsonb order, strings escaped as
/// PostgreSQL's `escape_json`, numbers as `numeric` text.
pub fn format_jsonb(j: &Jsonb, out: &mut String) {
    match j {
        Jsonb::Null => out.push_str("null"),
        Jsonb::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Jsonb::Number(JsonNumber::Decimal(d)) => super::format_numeric(d, out),
        Jsonb::Number(JsonNumber::Text(t)) => out.push_str(t),
        Jsonb::String(s) => escape_json(s, out),
        Jsonb::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_jsonb(item, out);
            }
            out.push(']');
        }
        Jsonb::Object(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                escape_json(&k.0, out);
                out.push_str(": ");
                format_jsonb(v, out);
            }
            out.push('}');
        }
    }
}

/// `jsonb_pretty`: PostgreSQL's indented form, four spaces a level, one element or
/// member a line (an empty array or object too has its closing bracket on a line of its own).
pub fn format_jsonb_pretty(j: &Jsonb, level: usize, out: &mut String) {
    let indent = |out: &mut String, level: usize| out.extend(std::iter::repeat_n("    ", level));
    match j {
        Jsonb::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                indent(out, level + 1);
                format_jsonb_pretty(item, level + 1, out);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Jsonb::Object(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "\n" });
                indent(out, level + 1);
                escape_json(&k.0, out);
                out.push_str(": ");
                format_jsonb_pretty(v, level + 1, out);
            }
            out.push('\n');
            indent(out, level);
            out.push('}');
        }
        other => format_jsonb(other, out),
    }
}

/// The text form of a jsonb value (as `format_jsonb` into a new string).
pub fn jsonb_to_string(j: &Jsonb) -> String {
    let mut s = String::new();
    format_jsonb(j, &mut s);
    s
}

/// PostgreSQL's `escape_json`: a quoted string with `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
/// `\t`, and `\u00xx` for other control characters.
pub fn escape_json(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self) -> ParseError {
        ParseError::syntax(TY, self.text)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            // `truex` is one invalid token, not `true` followed by junk.
            if self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                return Err(self.err());
            }
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Jsonb, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_JSONB_DEPTH {
                    return Err(self.err());
                }
                self.pos += 1;
                let mut pairs = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Jsonb::object(pairs));
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err());
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.err());
                    }
                    self.pos += 1;
                    let value = self.value(depth + 1)?;
                    pairs.push((key, value));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Jsonb::object(pairs));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_JSONB_DEPTH {
                    return Err(self.err());
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Jsonb::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Jsonb::Array(items));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'"') => Ok(Jsonb::String(self.string()?)),
            Some(b't') => self.expect_word("true").map(|_| Jsonb::Bool(true)),
            Some(b'f') => self.expect_word("false").map(|_| Jsonb::Bool(false)),
            Some(b'n') => self.expect_word("null").map(|_| Jsonb::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn number(&mut self) -> Result<Jsonb, ParseError> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(self.err()),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(self.err());
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(self.err());
            }
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        // `01`, `1x`, `1.5.2` are single invalid tokens.
        if b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.') {
            return Err(self.err());
        }
        self.pos = i;
        let text = &self.text[start..i];
        // The value becomes a numeric, as jsonb stores it (exponents beyond numeric's
        // range are rejected as PostgreSQL's numeric_in rejects them).
        let value = BigDecimal::parse(text).ok_or_else(|| ParseError::syntax("numeric", text))?;
        Ok(Jsonb::Number(match value.to_decimal() {
            Some(d) => JsonNumber::Decimal(d),
            None => JsonNumber::Text(value.to_plain_string()),
        }))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or_else(|| self.err())?;
        let mut v = 0u32;
        for d in digits {
            let h = (*d as char).to_digit(16).ok_or_else(|| self.err())?;
            v = v * 16 + h;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        // Opening quote.
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.err())?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                // A high surrogate must be followed by a low one.
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.err());
                                }
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.err());
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&cp) || cp == 0 {
                                // A lone low surrogate; `\u0000` cannot be stored in text.
                                return Err(self.err());
                            }
                            out.push(char::from_u32(cp).ok_or_else(|| self.err())?);
                        }
                        _ => return Err(self.err()),
                    }
                }
                // End of input or a raw control character.
                _ => return Err(self.err()),
            }
        }
    }
}

/// `jsonb` input: JSON text to a [`Jsonb`]. Objects are built with [`Jsonb::object`] (keys
/// sorted, later duplicates win); numbers are `numeric`s, a `Decimal` when they fit
/// exactly (`1e2` is `100`, `1.50` keeps its scale) and otherwise their plain `numeric`
/// text. Errors read `invalid input syntax for type json`, as PostgreSQL's.
pub fn parse_jsonb(text: &str) -> Result<Jsonb, ParseError> {
    let mut p = Parser { text, bytes: text.as_bytes(), pos: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.err());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn rt(input: &str) -> String {
        jsonb_to_string(&parse_jsonb(input).unwrap_or_else(|e| panic!("{input}: {e}")))
    }

    #[test]
    fn output_format_and_key_order() {
        assert_eq!(rt(r#"{"b": [1, 2], "a": 1}"#), r#"{"a": 1, "b": [1, 2]}"#);
        assert_eq!(rt(r#"{"bb":1,"a":2,"c":3,"aaa":4}"#), r#"{"a": 2, "c": 3, "bb": 1, "aaa": 4}"#);
        assert_eq!(rt(r#"{"a":1,"a":2}"#), r#"{"a": 2}"#);
        assert_eq!(rt(r#"{"a":{"x":1},"a":null}"#), r#"{"a": null}"#);
        assert_eq!(rt("[]"), "[]");
        assert_eq!(rt("{}"), "{}");
        assert_eq!(rt(" [ [ ] , { } ] "), "[[], {}]");
        assert_eq!(rt("null"), "null");
        assert_eq!(rt("true"), "true");
        assert_eq!(rt(" false "), "false");
        assert_eq!(rt(r#""x""#), r#""x""#);
        assert_eq!(rt(r#"{"B":1,"a":2}"#), r#"{"B": 1, "a": 2}"#);
    }

    #[test]
    fn numbers_are_numerics() {
        assert_eq!(
            rt("[1, 2.50, 1e2, -0, 1.5e-3, 1e30, 1e-40, -1.0, 0.1, 1E+2]"),
            "[1, 2.50, 100, 0, 0.0015, 1000000000000000000000000000000, \
             0.0000000000000000000000000000000000000001, -1.0, 0.1, 100]"
        );
        assert_eq!(parse_jsonb("1.50"), Ok(Jsonb::Number(JsonNumber::Decimal(Decimal::new(150, 2)))));
        assert_eq!(
            parse_jsonb("123456789012345678901234567890"),
            Ok(Jsonb::Number(JsonNumber::Text("123456789012345678901234567890".into())))
        );
        assert_eq!(rt("1e1001").len(), 1002);
        assert!(parse_jsonb("1e200000").is_err());
    }

    #[test]
    fn string_escapes() {
        let input = r#""q\" b\\ s\/ \b\f\n\r\t \u0001\u001F é \u00e9 \ud83d\ude00 😀 \u007f""#;
        assert_eq!(rt(input), "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t \\u0001\\u001f é é 😀 😀 \u{7f}\"");
        assert_eq!(parse_jsonb(r#""\u00e9""#), Ok(Jsonb::String("é".into())));
        let mut s = String::new();
        escape_json("\u{1}\u{1f}\u{7f}/", &mut s);
        assert_eq!(s, "\"\\u0001\\u001f\u{7f}/\"");
    }

    #[test]
    fn invalid_input() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "[1 2]",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "tru",
            "truex",
            "nul",
            "NaN",
            "Infinity",
            "'a'",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u0000\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83d\\u0041\"",
            "\"a\nb\"",
            "[1]x",
            "1 2",
            "{\"a\":1}}",
            "[",
            "]",
            "\"\\",
            "\"\\u\"",
        ] {
            let e = parse_jsonb(bad).unwrap_err();
            assert!(matches!(e, ParseError::InvalidSyntax { .. }), "{bad:?}: {e:?}");
        }
        assert_eq!(parse_jsonb("{").unwrap_err().to_string(), r#"invalid input syntax for type json: "{""#);
    }

    #[test]
    fn depth_is_bounded() {
        let ok = "[".repeat(MAX_JSONB_DEPTH) + &"]".repeat(MAX_JSONB_DEPTH);
        assert!(parse_jsonb(&ok).is_ok());
        let deep = "[".repeat(MAX_JSONB_DEPTH + 1) + &"]".repeat(MAX_JSONB_DEPTH + 1);
        assert!(parse_jsonb(&deep).is_err());
        let unterminated = "{\"a\":".repeat(100_000);
        assert!(parse_jsonb(&unterminated).is_err());
    }
}
