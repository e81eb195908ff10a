//! `real` and `double precision`: PostgreSQL's shortest round-trip output
//! (`extra_float_digits > 0`, src/common/d2s.c and f2s.c) and `strtod`-like input.

use super::{trim_pg_space, ParseError};

/// `double precision` output: the shortest digits that round-trip, in fixed notation when
/// the decimal exponent is in `-4..15`, else as `1.5e-05` / `1e+20`; `NaN`, `Infinity`,
/// `-Infinity`, `-0`.
pub fn format_float64(f: f64, out: &mut String) {
    if special(f, out) {
        return;
    }
    let bits = f.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let field = bits & ((1 << 52) - 1);
    let float = Binary {
        m: if biased == 0 { field } else { field | (1 << 52) },
        e: if biased == 0 { -1074 } else { biased - 1075 },
        mm_shift: field != 0 || biased <= 1,
    };
    let round_trips = |s: &str| s.parse::<f64>().is_ok_and(|g| g.to_bits() == bits);
    // Rust's `{:e}` prints a shortest round-trip form; PostgreSQL's Ryū differs only on
    // exact ties and on interval bounds, which `pg_shortest` fixes up.
    let (digits, exp) =
        pg_shortest(&format!("{:e}", f.abs()), &float, 17, round_trips, || format!("{:.1100e}", f.abs()));
    layout(&digits, exp, f.is_sign_negative(), 15, out)
}

/// `real` output: as [`format_float64`] with float4's shortest digits, and fixed notation
/// only for decimal exponents in `-4..6`.
pub fn format_float32(f: f32, out: &mut String) {
    if special(f64::from(f), out) {
        return;
    }
    let bits = f.abs().to_bits();
    let biased = ((bits >> 23) & 0xff) as i32;
    let field = u64::from(bits & ((1 << 23) - 1));
    let float = Binary {
        m: if biased == 0 { field } else { field | (1 << 23) },
        e: if biased == 0 { -149 } else { biased - 150 },
        mm_shift: field != 0 || biased <= 1,
    };
    let round_trips = |s: &str| s.parse::<f32>().is_ok_and(|g| g.to_bits() == bits);
    let (digits, exp) =
        pg_shortest(&format!("{:e}", f.abs()), &float, 9, round_trips, || format!("{:.200e}", f64::from(f.abs())));
    layout(&digits, exp, f.is_sign_negative(), 6, out)
}

/// A positive finite float as `m * 2^e`, with Ryū's `mmShift` (false when the gap below
/// is half the gap above, at a power of two).
struct Binary {
    m: u64,
    e: i32,
    mm_shift: bool,
}

impl Binary {
    /// Whether `d * 10^k` lies strictly between the float's rounding bounds, as Ryū with
    /// `acceptBounds = false` (PostgreSQL's setting) requires: it reads back as the float
    /// and is not exactly a bound.
    fn strictly_inside(&self, d: u128, k: i32, round_trips: &impl Fn(&str) -> bool) -> bool {
        let text = format!("{d}e{k}");
        if !round_trips(&text) {
            return false;
        }
        let mv = u128::from(self.m) * 4;
        let mp = mv + 2;
        let mm = mv - 1 - u128::from(self.mm_shift);
        !(float_equals_decimal(mp, self.e - 2, d, k) || float_equals_decimal(mm, self.e - 2, d, k))
    }
}

/// Whether `a * 2^ea == b * 2^eb` for non-zero `a`, `b`.
fn eq_scaled_pow2(a: u128, ea: i64, b: u128, eb: i64) -> bool {
    let (ta, tb) = (a.trailing_zeros(), b.trailing_zeros());
    (a >> ta) == (b >> tb) && ea + i64::from(ta) == eb + i64::from(tb)
}

/// Whether `m * 2^e` equals the decimal `d * 10^k` exactly. Only short decimals with small
/// `k` can equal a binary fraction exactly; larger ones overflow here and are not equal.
fn float_equals_decimal(m: u128, e: i32, d: u128, k: i32) -> bool {
    if m == 0 || d == 0 {
        return false;
    }
    let Some(p) = 5u128.checked_pow(k.unsigned_abs()) else {
        return false;
    };
    if k >= 0 {
        // m·2^e == d·5^k·2^k
        d.checked_mul(p).is_some_and(|rhs| eq_scaled_pow2(m, e.into(), rhs, k.into()))
    } else {
        // m·5^|k|·2^(e+|k|) == d
        m.checked_mul(p).is_some_and(|lhs| eq_scaled_pow2(lhs, i64::from(e) - i64::from(k), d, 0))
    }
}

/// PostgreSQL's shortest digits (Ryū, `acceptBounds = false`, exact ties to even) as
/// (digits, decimal exponent of the first digit). `sci` is Rust's shortest `{:e}` form,
/// which is PostgreSQL's unless it lies on a rounding bound or an exact tie; then the
/// digits are searched exactly from `exact()`, the float's full decimal expansion.
fn pg_shortest(
    sci: &str,
    float: &Binary,
    max_digits: usize,
    round_trips: impl Fn(&str) -> bool,
    exact: impl Fn() -> String,
) -> (String, i32) {
    let (digits, exp) = split_sci(sci);
    let Ok(r) = digits.parse::<u128>() else {
        return (digits, exp);
    };
    let n = digits.len() as i32;
    let k = exp - n + 1; // r * 10^k is the candidate
    let halfway = |d: Option<u128>| d.is_some_and(|d| float_equals_decimal(float.m.into(), float.e, d, k - 1));
    let tie = halfway(r.checked_mul(10).and_then(|v| v.checked_sub(5)))
        || halfway(r.checked_mul(10).and_then(|v| v.checked_add(5)));
    if !tie && float.strictly_inside(r, k, &round_trips) {
        return (digits, exp);
    }
    let (all, exp) = split_sci(&exact());
    let all = all.as_bytes();
    for n in digits.len()..=max_digits {
        let head = &all[..n.min(all.len())];
        let rest = &all[n.min(all.len())..];
        let Ok(down) = std::str::from_utf8(head).unwrap_or("0").parse::<u128>() else {
            break;
        };
        let down = down * 10u128.pow((n - head.len()) as u32);
        let k = exp - n as i32 + 1;
        if rest.iter().all(|c| *c == b'0') {
            return trimmed(down, k);
        }
        let round_up = match rest.first() {
            Some(b'5') if rest[1..].iter().all(|c| *c == b'0') => down % 2 == 1,
            Some(c) => *c >= b'5',
            None => false,
        };
        let (nearest, other) = if round_up { (down + 1, down) } else { (down, down + 1) };
        for c in [nearest, other] {
            if float.strictly_inside(c, k, &round_trips) {
                return trimmed(c, k);
            }
        }
    }
    (digits, exp)
}

/// `d * 10^k` as (digits without trailing zeros, decimal exponent of the first digit).
fn trimmed(mut d: u128, mut k: i32) -> (String, i32) {
    while d != 0 && d.is_multiple_of(10) {
        d /= 10;
        k += 1;
    }
    let s = d.to_string();
    let exp = k + s.len() as i32 - 1;
    (s, exp)
}

/// Rust's `{:e}` output as (digits, decimal exponent of the first digit).
fn split_sci(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0".to_string() } else { digits.to_string() };
    (digits, exp.parse().unwrap_or(0))
}

/// Float output with `extra_float_digits` of 0 or less, as PostgreSQL then prints it:
/// C's `%.*g` with `significant` digits (15 + extra for double precision, 6 + extra for
/// real): rounded, trailing zeros dropped, exponent form below 1e-4 or from 10^digits up.
pub fn format_float_rounded(f: f64, significant: usize, out: &mut String) {
    if special(f, out) {
        return;
    }
    let precision = significant.max(1);
    let scientific = format!("{:.*e}", precision - 1, f);
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("{}e{sign}{:02}", trim(mantissa), exp.abs()));
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        out.push_str(&trim(&format!("{f:.decimals$}")));
    }
}

fn special(f: f64, out: &mut String) -> bool {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    } else {
        return false;
    }
    true
}

/// Lays out shortest `digits` with decimal exponent `exp` as PostgreSQL's `to_chars`
/// does: fixed notation for exponents in `-4..fixed_limit`, else `d.ddde+XX`.
fn layout(digits: &str, exp: i32, negative: bool, fixed_limit: i32, out: &mut String) {
    if negative {
        out.push('-');
    }
    if (-4..fixed_limit).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(digits);
        } else {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                out.push_str(digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    }
}

/// What a float input string holds, once blanks are trimmed.
enum FloatText<'a> {
    Nan,
    Infinity(bool),
    /// A decimal number, with whether any of its mantissa digits is non-zero.
    Number(&'a str, bool),
}

/// Classifies `s` as `strtod` would accept it (whole string, decimal only).
fn classify(s: &str) -> Option<FloatText<'_>> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Some(FloatText::Nan),
        "inf" | "infinity" => return Some(FloatText::Infinity(negative)),
        _ => {}
    }
    let b = body.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while i < b.len() && b[i].is_ascii_digit() {
        nonzero |= b[i] != b'0';
        digits += 1;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            nonzero |= b[i] != b'0';
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    Some(FloatText::Number(s, nonzero))
}

/// `double precision` input: decimal numbers with optional exponent, `NaN`, `Infinity`,
/// `inf` (any case, optionally signed), surrounded by optional blanks. Values that
/// overflow, or underflow to zero, are out of range as in PostgreSQL.
pub fn parse_float64(text: &str) -> Result<f64, ParseError> {
    const TY: &str = "double precision";
    match classify(trim_pg_space(text)) {
        None => Err(ParseError::syntax(TY, text)),
        Some(FloatText::Nan) => Ok(f64::NAN),
        Some(FloatText::Infinity(neg)) => Ok(if neg { f64::NEG_INFINITY } else { f64::INFINITY }),
        Some(FloatText::Number(s, nonzero)) => {
            let v: f64 = s.parse().map_err(|_| ParseError::syntax(TY, text))?;
            if v.is_infinite() || (v == 0.0 && nonzero) {
                Err(ParseError::out_of_range(TY, text))
            } else {
                Ok(v)
            }
        }
    }
}

/// `real` input, as [`parse_float64`] with float4's range.
pub fn parse_float32(text: &str) -> Result<f32, ParseError> {
    const TY: &str = "real";
    match classify(trim_pg_space(text)) {
        None => Err(ParseError::syntax(TY, text)),
        Some(FloatText::Nan) => Ok(f32::NAN),
        Some(FloatText::Infinity(neg)) => Ok(if neg { f32::NEG_INFINITY } else { f32::INFINITY }),
        Some(FloatText::Number(s, nonzero)) => {
            let v: f32 = s.parse().map_err(|_| ParseError::syntax(TY, text))?;
            if v.is_infinite() || (v == 0.0 && nonzero) {
                Err(ParseError::out_of_range(TY, text))
            } else {
                Ok(v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounded_output_matches_printf_g() {
        let g = |f: f64, digits: usize| {
            let mut s = String::new();
            format_float_rounded(f, digits, &mut s);
            s
        };
        // PostgreSQL 15 with extra_float_digits = 0.
        assert_eq!(g(0.1 + 0.2, 15), "0.3");
        assert_eq!(g(std::f64::consts::PI, 15), "3.14159265358979");
        assert_eq!(g(1e100, 15), "1e+100");
        assert_eq!(g(1.5e-5, 15), "1.5e-05");
        assert_eq!(g(123456789012345678.0, 15), "1.23456789012346e+17");
        assert_eq!(g(100.0, 15), "100");
        assert_eq!(g(-0.0001, 15), "-0.0001");
        assert_eq!(g(f64::from(1.1f32), 6), "1.1");
        assert_eq!(g(f64::NAN, 15), "NaN");
    }

    fn f8(f: f64) -> String {
        let mut s = String::new();
        format_float64(f, &mut s);
        s
    }

    fn f4(f: f32) -> String {
        let mut s = String::new();
        format_float32(f, &mut s);
        s
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the exact digits PostgreSQL prints are the point
    fn float8_output_matches_postgres() {
        // Expected strings from PostgreSQL 15 with extra_float_digits = 1.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e15, "1e+15"),
            (1e14, "100000000000000"),
            (123456789012345.0, "123456789012345"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (1e20, "1e+20"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (123.456, "123.456"),
            (2.3578965778633008e16, "2.3578965778633008e+16"),
            (1.0795843562392781e17, "1.0795843562392781e+17"),
            (100.0, "100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(f8(*f), *want, "{f:e}");
        }
    }

    #[test]
    #[allow(clippy::excessive_precision)]
    fn float4_output_matches_postgres() {
        let cases: &[(f32, &str)] = &[
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.1, "0.1"),
            (3.4e38, "3.4e+38"),
            (1.1754944e-38, "1.1754944e-38"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            // Exact ties between two shortest candidates go to the even digit, as in Ryū.
            (-1331874.25, "-1.3318742e+06"),
            (1331874.75, "1.3318748e+06"),
            (16777215.0, "1.6777215e+07"),
            // On a rounding bound Rust's shortest differs; PostgreSQL excludes bounds.
            (57802752.0, "5.7802752e+07"),
            (51314688.0, "5.1314688e+07"),
            (f32::NAN, "NaN"),
            (f32::NEG_INFINITY, "-Infinity"),
        ];
        for (f, want) in cases {
            assert_eq!(f4(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn float_input() {
        assert_eq!(parse_float64(" 1.5 "), Ok(1.5));
        assert_eq!(parse_float64("1e2"), Ok(100.0));
        assert_eq!(parse_float64("-1E-2"), Ok(-0.01));
        assert_eq!(parse_float64(".5"), Ok(0.5));
        assert_eq!(parse_float64("5."), Ok(5.0));
        assert_eq!(parse_float64("+3"), Ok(3.0));
        assert_eq!(parse_float64("Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_float64("-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float64("+INFINITY"), Ok(f64::INFINITY));
        assert!(parse_float64("NaN").is_ok_and(|f| f.is_nan()));
        assert!(parse_float64("-0").is_ok_and(|f| f == 0.0 && f.is_sign_negative()));
        assert_eq!(parse_float64("0e999"), Ok(0.0));
        assert_eq!(parse_float64("4.9e-324"), Ok(5e-324));
        assert_eq!(
            parse_float64("1e400").unwrap_err().to_string(),
            r#"value "1e400" is out of range for type double precision"#
        );
        assert!(matches!(parse_float64("1e-400"), Err(ParseError::OutOfRange { .. })));
        for bad in ["", " ", "abc", "1e", "1e+", "1.2.3", "--1", "in", "nan1", "1 2", "e5", "."] {
            assert_eq!(
                parse_float64(bad).unwrap_err().to_string(),
                format!("invalid input syntax for type double precision: \"{bad}\""),
            );
        }
        assert_eq!(parse_float32("0.1"), Ok(0.1f32));
        assert_eq!(parse_float32("3.4e38"), Ok(3.4e38f32));
        assert!(matches!(parse_float32("1e39"), Err(ParseError::OutOfRange { .. })));
        assert!(matches!(parse_float32("1e-50"), Err(ParseError::OutOfRange { .. })));
        assert!(matches!(parse_float32("x"), Err(ParseError::InvalidSyntax { .. })));
    }

    #[test]
    fn shortest_round_trip() {
        for f in [0.1, 1.0 / 3.0, 2.0f64.powi(60), 1e-7, 123456.789e10, f64::MIN_POSITIVE, f64::MAX] {
            assert_eq!(parse_float64(&f8(f)), Ok(f));
            assert_eq!(parse_float64(&f8(-f)), Ok(-f));
        }
        for f in [0.1f32, 1.0 / 3.0, 16777216.0, 1e-7, f32::MIN_POSITIVE, f32::MAX] {
            assert_eq!(parse_float32(&f4(f)), Ok(f));
        }
    }
}
