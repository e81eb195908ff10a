//! Hashes and binary-to-text encodings: `md5`, `sha224`..`sha512`, `encode`, `decode`
//! (PostgreSQL's encode.c and cryptohashfuncs.c).

use base64::Engine as _;
use eddy_repr::Datum;
use sha2::Digest as _;

use super::{arity_error, type_error, Func};
use crate::EvalError;

/// PostgreSQL's base64 output breaks lines after 76 characters.
const BASE64_LINE: usize = 76;

fn bytes<'a>(func: &Func, args: &'a [Datum], i: usize) -> Result<&'a [u8], EvalError> {
    match args.get(i) {
        Some(Datum::Bytes(b)) => Ok(b),
        Some(Datum::Text(s)) => Ok(s.as_bytes()),
        _ => Err(type_error(func, args)),
    }
}

fn format_name<'a>(func: &Func, args: &'a [Datum]) -> Result<&'a str, EvalError> {
    match args.get(1) {
        Some(Datum::Text(s)) => Ok(s),
        _ => Err(type_error(func, args)),
    }
}

fn unknown_encoding(name: &str) -> EvalError {
    EvalError::invalid_argument(format!("unrecognized encoding: \"{name}\""))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    match (func, args.len()) {
        (Func::Md5, 1) => Ok(Datum::Text(format!("{:x}", md5::compute(bytes(func, args, 0)?)))),
        (Func::Sha { bits }, 1) => {
            let input = bytes(func, args, 0)?;
            let digest = match bits {
                224 => sha2::Sha224::digest(input).to_vec(),
                384 => sha2::Sha384::digest(input).to_vec(),
                512 => sha2::Sha512::digest(input).to_vec(),
                _ => sha2::Sha256::digest(input).to_vec(),
            };
            Ok(Datum::Bytes(digest))
        }
        (Func::Encode, 2) => {
            let input = bytes(func, args, 0)?;
            let name = format_name(func, args)?;
            Ok(Datum::Text(match name.to_ascii_lowercase().as_str() {
                "hex" => hex(input),
                "base64" => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(input);
                    let lines: Vec<&str> = encoded
                        .as_bytes()
                        .chunks(BASE64_LINE)
                        .map(|c| std::str::from_utf8(c).unwrap_or_default())
                        .collect();
                    lines.join("\n")
                }
                "escape" => escape(input),
                _ => return Err(unknown_encoding(name)),
            }))
        }
        (Func::Decode, 2) => {
            let input = match &args[0] {
                Datum::Text(s) => s.as_str(),
                _ => return Err(type_error(func, args)),
            };
            let name = format_name(func, args)?;
            Ok(Datum::Bytes(match name.to_ascii_lowercase().as_str() {
                "hex" => bytea_input(input, true)?,
                "base64" => {
                    let compact: String = input.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .map_err(|e| EvalError::invalid_argument(format!("invalid base64 input: {e}")))?
                }
                "escape" => bytea_input(input, false)?,
                _ => return Err(unknown_encoding(name)),
            }))
        }
        _ => Err(arity_error(func, args)),
    }
}

/// `escape` encoding: `\` doubled, bytes 0 and 0x80.. as `\ooo`.
fn escape(input: &[u8]) -> String {
    let mut out = String::new();
    for &b in input {
        match b {
            b'\\' => out.push_str("\\\\"),
            0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
            other => out.push(char::from(other)),
        }
    }
    out
}

/// The `escape` and `hex` encodings are bytea's own text input forms.
fn bytea_input(text: &str, hex: bool) -> Result<Vec<u8>, EvalError> {
    let invalid = |what: &str| EvalError::invalid_argument(format!("invalid {what} data"));
    if hex {
        let text = format!("\\x{text}");
        return eddy_repr::strconv::parse_bytea(&text).map_err(|_| invalid("hexadecimal"));
    }
    if text.starts_with("\\x") {
        return Err(invalid("escape"));
    }
    eddy_repr::strconv::parse_bytea(text).map_err(|_| invalid("escape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    #[test]
    fn digests_and_encodings_match_postgresql() {
        assert_eq!(eval(&Func::Md5, &[text("a")]).unwrap(), text("0cc175b9c0f1b6a831c399e269772661"));
        let sha = eval(&Func::Sha { bits: 256 }, &[Datum::Bytes(b"a".to_vec())]).unwrap();
        let Datum::Bytes(sha) = sha else { panic!("bytes") };
        assert_eq!(hex(&sha), "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
        let abc = Datum::Bytes(b"abc".to_vec());
        assert_eq!(eval(&Func::Encode, &[abc.clone(), text("base64")]).unwrap(), text("YWJj"));
        assert_eq!(eval(&Func::Encode, &[abc.clone(), text("hex")]).unwrap(), text("616263"));
        assert_eq!(eval(&Func::Decode, &[text("YW\nJj"), text("base64")]).unwrap(), abc);
        assert_eq!(eval(&Func::Decode, &[text("616263"), text("HEX")]).unwrap(), abc);
        let odd = Datum::Bytes(vec![0, b'\\', b'a', 0xff]);
        let escaped = eval(&Func::Encode, &[odd.clone(), text("escape")]).unwrap();
        assert_eq!(escaped, text("\\000\\\\a\\377"));
        assert_eq!(eval(&Func::Decode, &[escaped, text("escape")]).unwrap(), odd);
        let long = eval(&Func::Encode, &[Datum::Bytes(vec![7; 100]), text("base64")]).unwrap();
        let Datum::Text(long) = long else { panic!("text") };
        assert_eq!(long.lines().map(str::len).collect::<Vec<_>>(), vec![76, 60]);
        assert!(eval(&Func::Decode, &[text("abc"), text("hex")]).is_err());
        assert!(eval(&Func::Encode, &[abc, text("rot13")]).is_err());
    }
}
