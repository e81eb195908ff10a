//! `to_char(number, template)`: PostgreSQL's numeric template patterns (`9`, `0`, `.`/`D`,
//! `,`/`G`, signs `S`/`MI`/`PL`/`SG`/`PR`, `FM`, `TH`, `V`, `EEEE`, `RN`).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::to_char::ordinal_suffix;

/// One element of a numeric template.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Part {
    /// `9`: a digit, blank when it is a leading zero.
    Digit,
    /// `0`: a digit, printed even when it is a leading zero.
    Zero,
    Point,
    Comma,
    Literal(char),
    /// Where `SG`, `S`, `MI` or `PL` print the sign (an explicit sign position).
    Sign(SignStyle),
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum SignStyle {
    /// `S`, `SG`: `+` or `-`.
    Both,
    /// `MI`: `-` or a blank.
    Minus,
    /// `PL`: `+` or a blank.
    Plus,
}

struct Template {
    parts: Vec<Part>,
    fill: bool,
    /// `S` before the digits: the sign floats next to the first digit, `+` or `-`.
    leading_s: bool,
    /// `PR`: negative values in angle brackets.
    brackets: bool,
    ordinal: Option<bool>,
    /// Digits written after `V`: the value is multiplied by 10 to that power.
    shift: u32,
    exponent: bool,
    roman: bool,
}

fn parse_template(template: &str) -> Template {
    let mut t = Template {
        parts: Vec::new(),
        fill: false,
        leading_s: false,
        brackets: false,
        ordinal: None,
        shift: 0,
        exponent: false,
        roman: false,
    };
    let chars: Vec<char> = template.chars().collect();
    let mut after_v = false;
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(4).collect::<String>().to_ascii_uppercase();
        if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                t.parts.push(Part::Literal(chars[i]));
                i += 1;
            }
            i += 1;
            continue;
        }
        let digits_before = t.parts.iter().any(|p| matches!(p, Part::Digit | Part::Zero));
        let (width, part) = match chars[i] {
            '9' | '0' => {
                t.shift += u32::from(after_v);
                (1, Some(if chars[i] == '9' { Part::Digit } else { Part::Zero }))
            }
            '.' | 'D' | 'd' => (1, Some(Part::Point)),
            ',' | 'G' | 'g' => (1, Some(Part::Comma)),
            _ if rest.starts_with("FM") => {
                t.fill = true;
                (2, None)
            }
            _ if rest.starts_with("EEEE") => {
                t.exponent = true;
                (4, None)
            }
            _ if rest.starts_with("RN") => {
                t.roman = true;
                (2, None)
            }
            _ if rest.starts_with("TH") => {
                t.ordinal = Some(chars[i] == 'T');
                (2, None)
            }
            _ if rest.starts_with("SG") => (2, Some(Part::Sign(SignStyle::Both))),
            _ if rest.starts_with("MI") => (2, Some(Part::Sign(SignStyle::Minus))),
            _ if rest.starts_with("PL") => (2, Some(Part::Sign(SignStyle::Plus))),
            _ if rest.starts_with("PR") => {
                t.brackets = true;
                (2, None)
            }
            'S' | 's' if !digits_before => {
                t.leading_s = true;
                (1, None)
            }
            'S' | 's' => (1, Some(Part::Sign(SignStyle::Both))),
            'V' | 'v' => {
                after_v = true;
                (1, None)
            }
            // The currency symbol of the C locale is a blank.
            'L' | 'l' => (1, Some(Part::Literal(' '))),
            c => (1, Some(Part::Literal(c))),
        };
        t.parts.extend(part);
        i += width;
    }
    t
}

/// Formats `value` by `template` as PostgreSQL's `to_char` for numbers does. A value that
/// was a float rounds as C's `printf` rounds the float's exact value (ties to even).
pub(super) fn to_char_number(value: Decimal, template: &str, from_float: bool) -> String {
    let t = parse_template(template);
    let rounding = match from_float {
        true => RoundingStrategy::MidpointNearestEven,
        false => RoundingStrategy::MidpointAwayFromZero,
    };
    if t.roman {
        return roman(value.round_dp_with_strategy(0, rounding), t.fill);
    }
    let point = t.parts.iter().position(|p| *p == Part::Point);
    let is_digit = |p: &&Part| matches!(p, Part::Digit | Part::Zero);
    let int_positions = t.parts[..point.unwrap_or(t.parts.len())].iter().filter(is_digit).count();
    let frac_positions = point.map_or(0, |p| t.parts[p..].iter().filter(is_digit).count());
    if t.exponent {
        return exponent(value, frac_positions, t.fill);
    }
    let value = value * Decimal::from(10u64.pow(t.shift.min(18)));
    let rounded = value.round_dp_with_strategy(frac_positions as u32, rounding);
    // A float keeps its sign when it rounds to zero (`-0`), as `printf` prints it.
    let negative = match from_float {
        true => value.is_sign_negative() && !value.is_zero(),
        false => rounded.is_sign_negative() && !rounded.is_zero(),
    };
    let text = rounded.abs().to_string();
    let (int_text, frac_text) = text.split_once('.').unwrap_or((&text, ""));
    let mut int_digits: Vec<char> = int_text.trim_start_matches('0').chars().collect();
    if int_digits.is_empty() && frac_positions == 0 {
        int_digits.push('0');
    }
    let overflow = int_digits.len() > int_positions;
    let mut frac_digits: Vec<char> = frac_text.chars().collect();
    frac_digits.resize(frac_positions, '0');
    let first_zero = t.parts[..point.unwrap_or(t.parts.len())]
        .iter()
        .filter(is_digit)
        .position(|p| *p == Part::Zero)
        .unwrap_or(int_positions);
    let last_kept_fraction = match t.fill && !overflow {
        // FM drops trailing zeros written with `9`, not those written with `0`.
        true => point.map_or(0, |p| {
            let frac_parts: Vec<&Part> = t.parts[p..].iter().filter(is_digit).collect();
            (0..frac_positions)
                .rev()
                .find(|&k| frac_digits[k] != '0' || *frac_parts[k] == Part::Zero)
                .map_or(0, |k| k + 1)
        }),
        false => frac_positions,
    };

    // FM with nothing left of the fraction still shows the integer zero (`0.`).
    if t.fill && int_digits.is_empty() && last_kept_fraction == 0 && !overflow {
        int_digits.push('0');
    }

    let mut body = String::new();
    let (mut int_seen, mut frac_seen, mut started) = (0, 0, false);
    let mut trailing_sign = String::new();
    for part in &t.parts {
        match part {
            Part::Digit | Part::Zero if int_seen < int_positions => {
                let lead = int_positions - int_digits.len().min(int_positions);
                let c = if overflow {
                    Some('#')
                } else if int_seen >= lead {
                    Some(int_digits[int_seen - lead])
                } else if int_seen >= first_zero {
                    Some('0')
                } else {
                    None
                };
                int_seen += 1;
                match c {
                    Some(c) => {
                        started = true;
                        body.push(c);
                    }
                    None if !t.fill => body.push(' '),
                    None => {}
                }
            }
            Part::Digit | Part::Zero => {
                if frac_seen < last_kept_fraction {
                    body.push(if overflow { '#' } else { frac_digits[frac_seen] });
                }
                frac_seen += 1;
            }
            Part::Point => {
                if frac_positions > 0 {
                    started = true;
                    body.push('.');
                }
            }
            Part::Comma => match (started, t.fill) {
                (true, _) => body.push(','),
                (false, false) => body.push(' '),
                (false, true) => {}
            },
            Part::Literal(c) => body.push(*c),
            Part::Sign(style) => {
                let c = match (style, negative) {
                    (SignStyle::Both, true) | (SignStyle::Minus, true) => Some('-'),
                    (SignStyle::Both, false) | (SignStyle::Plus, false) => Some('+'),
                    _ => None,
                };
                let at_end = int_seen == int_positions && frac_seen == frac_positions;
                let c = c.or((!t.fill).then_some(' '));
                match (at_end, c) {
                    (true, Some(c)) => trailing_sign.push(c),
                    (false, Some(c)) => body.push(c),
                    (_, None) => {}
                }
            }
        }
    }
    body.push_str(&trailing_sign);
    if let Some(upper) = t.ordinal {
        if !negative && !overflow {
            let n = rounded.trunc().to_i64().unwrap_or(0);
            let th = ordinal_suffix(n);
            body.push_str(&if upper { th.to_uppercase() } else { th.to_string() });
        }
    }
    // The floating sign goes right before the number's first character; with an explicit
    // sign position (`SG`, `MI`, trailing `S`) there is none.
    let explicit = t.parts.iter().any(|p| matches!(p, Part::Sign(SignStyle::Both | SignStyle::Minus)));
    let floating = match (explicit, t.brackets, t.leading_s, negative) {
        (true, _, _, _) => None,
        (false, true, _, true) => Some('<'),
        (false, _, true, true) | (false, false, false, true) => Some('-'),
        (false, _, true, false) => Some('+'),
        (false, _, false, false) => (!t.fill).then_some(' '),
    };
    let at = body.find(|c: char| c.is_ascii_digit() || c == '.' || c == '#').unwrap_or(body.len());
    let mut out = String::with_capacity(body.len() + 2);
    out.push_str(&body[..at]);
    out.extend(floating);
    out.push_str(&body[at..]);
    match (t.brackets, negative) {
        (true, true) => out.push('>'),
        (true, false) if !t.fill => out.push(' '),
        _ => {}
    }
    out
}

/// `EEEE`: scientific notation with `digits` digits after the point.
fn exponent(value: Decimal, digits: usize, fill: bool) -> String {
    let f = value.to_f64().unwrap_or(0.0);
    let text = format!("{f:.digits$e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let formatted = format!("{mantissa}e{sign}{:02}", exp.abs());
    match (f < 0.0, fill) {
        (true, _) => formatted,
        (false, false) => format!(" {formatted}"),
        (false, true) => formatted,
    }
}

/// `RN`: a Roman numeral of the value (rounded to an integer: 1 to 3999), right-aligned in
/// 15 characters unless `FM`.
fn roman(value: Decimal, fill: bool) -> String {
    let n = value.to_i64().unwrap_or(0);
    if !(1..=3999).contains(&n) {
        return "#".repeat(15);
    }
    const NUMERALS: [(i64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut rest = n;
    let mut out = String::new();
    for (size, numeral) in NUMERALS {
        while rest >= size {
            out.push_str(numeral);
            rest -= size;
        }
    }
    if fill {
        out
    } else {
        format!("{out:>15}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn f(v: &str, template: &str) -> String {
        to_char_number(Decimal::from_str(v).unwrap(), template, false)
    }

    #[test]
    fn prints_as_postgres() {
        for (v, template, expected) in [
            ("1234.567", "9999.99", " 1234.57"),
            ("1234.567", "99,999.9", "  1,234.6"),
            ("-1234.567", "9999.99", "-1234.57"),
            ("0.5", "9.99", "  .50"),
            ("0.5", "0.99", " 0.50"),
            ("-0.5", "9.99", " -.50"),
            ("5", "000", " 005"),
            ("5", "FM999", "5"),
            ("5.10", "FM999.99", "5.1"),
            ("12345", "999", " ###"),
            ("-5", "S999", "  -5"),
            ("5", "S999", "  +5"),
            ("-5", "999MI", "  5-"),
            ("5", "999MI", "  5 "),
            ("-5", "999PR", "  <5>"),
            ("1234567.891", "9G999G999D99", " 1,234,567.89"),
            ("0", "9999", "    0"),
            ("0", "FM9999", "0"),
            ("-0.004", "9.99", "  .00"),
            ("12", "SG99", "+12"),
            ("-5", "SG99", "- 5"),
            ("42", "99th", " 42nd"),
            ("1", "FM9th", "1st"),
            ("12.3", "99V9", " 123"),
            ("42", "RN", "           XLII"),
            ("-123", "99", "-##"),
            ("12", "9,999", "    12"),
            ("5.1", "FM999.00", "5.10"),
            ("-5", "FM999MI", "5-"),
            ("1234", "9.99EEEE", " 1.23e+03"),
            ("-5", "$999", "$  -5"),
            ("5", "999PR", "   5 "),
            ("5", "L999", "    5"),
        ] {
            assert_eq!(f(v, template), expected, "to_char({v}, '{template}')");
        }
    }
}
