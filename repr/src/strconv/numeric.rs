//! `numeric`: PostgreSQL's `numeric_in` / `numeric_out` on top of `rust_decimal`, whose
//! 96-bit mantissa holds up to 28 digits after the point.
//!
//! Input is first read exactly into a [`BigDecimal`] (any number of digits) so that
//! rounding to a typmod's scale happens on the exact input, as in PostgreSQL; only the
//! rounded result must fit a `Decimal`.

use rust_decimal::Decimal;

use super::{trim_pg_space, ParseError};
use crate::scalar::NUMERIC_MAX_PRECISION;

/// Bound on the magnitude of an input exponent: PostgreSQL's numeric holds up to 131072
/// digits before the point (and 16383 after), so larger exponents can never be valid.
const MAX_INPUT_EXPONENT: i64 = 131_072;

/// An exact decimal of any size: `(-1)^negative * digits * 10^exponent`, shown with
/// `dscale` digits after the point (PostgreSQL's display scale).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BigDecimal {
    pub negative: bool,
    /// Decimal digits (0..=9), most significant first, without leading zeros; empty for 0.
    pub digits: Vec<u8>,
    pub exponent: i64,
    /// Digits after the point to display; always `>= -exponent` when digits is non-empty.
    pub dscale: i64,
}

impl BigDecimal {
    /// Reads PostgreSQL's numeric syntax: optional sign, digits with an optional point,
    /// optional `e[+-]digits`. No blanks, no NaN/Infinity (callers handle those).
    pub fn parse(s: &str) -> Option<BigDecimal> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(c @ (b'+' | b'-')) = b.first() {
            negative = *c == b'-';
            i += 1;
        }
        let mut digits = Vec::new();
        let mut any_digit = false;
        let mut frac_digits: i64 = 0;
        let mut seen_point = false;
        while i < b.len() {
            match b[i] {
                c @ b'0'..=b'9' => {
                    any_digit = true;
                    if !(digits.is_empty() && c == b'0') {
                        digits.push(c - b'0');
                    }
                    if seen_point {
                        frac_digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if !any_digit {
            return None;
        }
        let mut exp: i64 = 0;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut exp_neg = false;
            if let Some(c @ (b'+' | b'-')) = b.get(i) {
                exp_neg = *c == b'-';
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp = exp.saturating_mul(10).saturating_add(i64::from(b[i] - b'0'));
                i += 1;
            }
            if i == start || exp > MAX_INPUT_EXPONENT {
                return None;
            }
            if exp_neg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return None;
        }
        let mut value =
            BigDecimal { negative, digits, exponent: exp - frac_digits, dscale: (frac_digits - exp).max(0) };
        value.normalize();
        Some(value)
    }

    /// Strips trailing zero digits into the exponent; clears the sign of zero.
    fn normalize(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
            self.exponent += 1;
        }
        if self.digits.is_empty() {
            self.negative = false;
            self.exponent = 0;
        }
    }

    /// Rounds half away from zero to `scale` digits after the point and displays that many.
    pub fn round_to_scale(&mut self, scale: i64) {
        let drop = -self.exponent - scale;
        if !self.digits.is_empty() && drop > 0 {
            let drop = drop as usize;
            if drop > self.digits.len() {
                self.digits.clear();
            } else {
                let keep = self.digits.len() - drop;
                let round_up = self.digits[keep] >= 5;
                self.digits.truncate(keep);
                self.exponent += drop as i64;
                if round_up {
                    let mut i = self.digits.len();
                    loop {
                        if i == 0 {
                            self.digits.insert(0, 1);
                            break;
                        }
                        i -= 1;
                        if self.digits[i] == 9 {
                            self.digits[i] = 0;
                        } else {
                            self.digits[i] += 1;
                            break;
                        }
                    }
                }
            }
            self.normalize();
        }
        self.dscale = scale;
    }

    /// PostgreSQL's `numeric_out`: plain notation with exactly `dscale` fractional digits.
    pub fn to_plain_string(&self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let n = self.digits.len() as i64;
        let int_digits = n + self.exponent; // digits before the point
        if int_digits <= 0 {
            out.push('0');
        } else {
            for i in 0..int_digits {
                out.push(self.digit_char(i));
            }
        }
        if self.dscale > 0 {
            out.push('.');
            for i in int_digits..int_digits + self.dscale {
                out.push(self.digit_char(i));
            }
        }
        out
    }

    fn digit_char(&self, index: i64) -> char {
        if index < 0 {
            return '0';
        }
        match self.digits.get(index as usize) {
            Some(d) => (b'0' + d) as char,
            None => '0',
        }
    }

    /// The value as a `Decimal` with scale `dscale`, or `None` if it does not fit.
    pub fn to_decimal(&self) -> Option<Decimal> {
        if self.dscale > i64::from(NUMERIC_MAX_PRECISION) {
            return None;
        }
        // mantissa = digits * 10^(exponent + dscale), with exponent + dscale >= 0.
        let shift = self.exponent + self.dscale;
        if shift < 0 {
            return None;
        }
        let mut mantissa: i128 = 0;
        for d in &self.digits {
            mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(*d))?;
        }
        if mantissa != 0 {
            for _ in 0..shift {
                mantissa = mantissa.checked_mul(10)?;
            }
        }
        if self.negative {
            mantissa = -mantissa;
        }
        Decimal::try_from_i128_with_scale(mantissa, self.dscale as u32).ok()
    }
}

/// `numeric` output: the value with exactly its scale's digits after the point (`11.00`);
/// zero never prints a sign.
pub fn format_numeric(d: &Decimal, out: &mut String) {
    let mantissa = d.mantissa().unsigned_abs();
    let scale = d.scale() as usize;
    let digits = mantissa.to_string();
    if mantissa != 0 && d.is_sign_negative() {
        out.push('-');
    }
    if digits.len() <= scale {
        out.push_str("0.");
        for _ in digits.len()..scale {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        if scale > 0 {
            out.push('.');
            out.push_str(frac);
        }
    }
}

/// `numeric` input: `[+-]digits[.digits][e[+-]digits]` with surrounding blanks. The scale is
/// PostgreSQL's: digits after the point minus the exponent, at least 0 (`1.50` keeps two,
/// `1.5e2` is `150`). Values needing more than 28 digits after the point, or a mantissa
/// beyond 96 bits, are out of range. `NaN` and `Infinity` are not supported.
pub fn parse_numeric(text: &str) -> Result<Decimal, ParseError> {
    parse_numeric_with_scale(text, None)
}

/// [`parse_numeric`], first rounding the exact input half away from zero to `scale` digits
/// after the point (and padding to that scale), as input to `numeric(p, scale)` does.
pub fn parse_numeric_with_scale(text: &str, scale: Option<u32>) -> Result<Decimal, ParseError> {
    let mut value = BigDecimal::parse(trim_pg_space(text)).ok_or_else(|| ParseError::syntax("numeric", text))?;
    if let Some(scale) = scale {
        value.round_to_scale(i64::from(scale.min(NUMERIC_MAX_PRECISION)));
    } else if value.dscale > i64::from(NUMERIC_MAX_PRECISION) && value.dscale > -value.exponent {
        // Trailing zeros beyond what the decimal can hold carry no value: drop them.
        value.dscale = (-value.exponent).max(i64::from(NUMERIC_MAX_PRECISION));
    }
    value.to_decimal().ok_or_else(|| ParseError::out_of_range("numeric", text))
}

fn overflow() -> ParseError {
    ParseError::FieldOverflow("numeric field overflow".to_string())
}

/// Applies `numeric(precision, scale)`: rounds half away from zero to `scale` (capped at
/// 28), sets the scale to exactly that, and checks that at most `precision - scale` digits
/// precede the point (`numeric field overflow` otherwise). `precision` `None` skips the check.
pub fn round_numeric(d: Decimal, precision: Option<u32>, scale: u32) -> Result<Decimal, ParseError> {
    let target = scale.min(NUMERIC_MAX_PRECISION);
    let mut mantissa = d.mantissa();
    let mut current = d.scale();
    if current > target {
        let divisor = 10i128.pow(current - target);
        let quotient = mantissa / divisor;
        let remainder = mantissa % divisor;
        mantissa = quotient;
        if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() {
            mantissa += remainder.signum();
        }
        current = target;
    }
    while current < target {
        mantissa = mantissa.checked_mul(10).ok_or_else(overflow)?;
        current += 1;
    }
    if let Some(p) = precision {
        if mantissa != 0 {
            let digits = mantissa.unsigned_abs().ilog10() as i64 + 1;
            let int_digits = digits - i64::from(current);
            if int_digits > i64::from(p) - i64::from(scale) {
                return Err(overflow());
            }
        }
    }
    Decimal::try_from_i128_with_scale(mantissa, current).map_err(|_| overflow())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn fmt(d: Decimal) -> String {
        let mut s = String::new();
        format_numeric(&d, &mut s);
        s
    }

    fn parsed(text: &str) -> String {
        fmt(parse_numeric(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn output_keeps_scale() {
        assert_eq!(fmt(Decimal::new(1100, 2)), "11.00");
        assert_eq!(fmt(Decimal::new(-5, 3)), "-0.005");
        assert_eq!(fmt(Decimal::new(0, 2)), "0.00");
        assert_eq!(fmt(Decimal::new(-0, 0)), "0");
        let mut negative_zero = Decimal::new(0, 1);
        negative_zero.set_sign_negative(true);
        assert_eq!(fmt(negative_zero), "0.0");
        assert_eq!(fmt(Decimal::MAX), "79228162514264337593543950335");
        assert_eq!(fmt(Decimal::new(1, 28)), "0.0000000000000000000000000001");
    }

    #[test]
    fn input_matches_postgres() {
        assert_eq!(parsed("11.00"), "11.00");
        assert_eq!(parsed("  -1.5  "), "-1.5");
        assert_eq!(parsed("+.5"), "0.5");
        assert_eq!(parsed("5."), "5");
        assert_eq!(parsed("007.10"), "7.10");
        assert_eq!(parsed("1e2"), "100");
        assert_eq!(parsed("1.5e2"), "150");
        assert_eq!(parsed("1.50e1"), "15.0");
        assert_eq!(parsed("1.5e-3"), "0.0015");
        assert_eq!(parsed("1E+3"), "1000");
        assert_eq!(parsed("-0.00"), "0.00");
        assert_eq!(parsed("0e-5"), "0.00000");
        assert_eq!(parsed("79228162514264337593543950335"), "79228162514264337593543950335");
        assert_eq!(parsed("1.0000000000000000000000000000000000"), "1.0000000000000000000000000000");
        for bad in ["", " ", "abc", "1.2.3", "1e", "e1", "--1", "1 2", ".", "+", "1e131073", "NaN", "Infinity"] {
            assert_eq!(parse_numeric(bad).unwrap_err(), ParseError::syntax("numeric", bad), "{bad:?}");
        }
        for big in ["79228162514264337593543950336", "1e30", "0.00000000000000000000000000001"] {
            assert!(matches!(parse_numeric(big), Err(ParseError::OutOfRange { .. })), "{big}");
        }
    }

    #[test]
    fn input_rounding_to_scale() {
        let r = |t: &str, s: u32| fmt(parse_numeric_with_scale(t, Some(s)).unwrap());
        assert_eq!(r("9.9", 2), "9.90");
        assert_eq!(r("2.345", 2), "2.35");
        assert_eq!(r("-2.345", 2), "-2.35");
        assert_eq!(r("2.3449", 2), "2.34");
        assert_eq!(r("9.995", 2), "10.00");
        assert_eq!(r("0.004", 2), "0.00");
        assert_eq!(r("-0.004", 2), "0.00");
        assert_eq!(r("0.005", 2), "0.01");
        assert_eq!(r("15", 0), "15");
        assert_eq!(r("1.5e1", 1), "15.0");
        assert_eq!(r("0.5", 0), "1");
        assert_eq!(r("0.00000000000000000000000000000000000000001", 2), "0.00");
    }

    #[test]
    fn typmod_rounding_and_overflow() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(fmt(round_numeric(d("9.9"), Some(10), 2).unwrap()), "9.90");
        assert_eq!(fmt(round_numeric(d("1.005"), Some(10), 2).unwrap()), "1.01");
        assert_eq!(fmt(round_numeric(d("-1.005"), Some(10), 2).unwrap()), "-1.01");
        assert_eq!(fmt(round_numeric(d("99.5"), Some(2), 0).unwrap_or_default()), "0");
        assert!(round_numeric(d("99.5"), Some(2), 0).is_err());
        assert_eq!(fmt(round_numeric(d("99.4"), Some(2), 0).unwrap()), "99");
        assert_eq!(fmt(round_numeric(d("0"), Some(1), 1).unwrap()), "0.0");
        assert!(round_numeric(d("1"), Some(1), 1).is_err());
        assert_eq!(fmt(round_numeric(d("12345"), None, 2).unwrap()), "12345.00");
        assert!(round_numeric(Decimal::MAX, Some(40), 2).is_err());
        assert_eq!(round_numeric(d("1000"), Some(3), 0).unwrap_err().to_string(), "numeric field overflow");
    }

    #[test]
    fn plain_string_of_big_values() {
        let p = |s: &str| BigDecimal::parse(s).unwrap().to_plain_string();
        assert_eq!(p("1e30"), "1000000000000000000000000000000");
        assert_eq!(p("1e-40"), "0.0000000000000000000000000000000000000001");
        assert_eq!(p("-123.4500e1"), "-1234.500");
        assert_eq!(p("-0"), "0");
        assert_eq!(p("-0.0"), "0.0");
        assert_eq!(p("12345678901234567890123456789012345"), "12345678901234567890123456789012345");
    }
}
