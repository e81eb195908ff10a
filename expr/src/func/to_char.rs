//! `to_char(timestamp, format)` and `to_char(interval, format)`: PostgreSQL's template
//! patterns for dates and times.

use chrono::{Datelike, NaiveDateTime, Timelike};
use eddy_repr::Interval;

use crate::EvalError;

/// One template pattern: what it prints for a timestamp, and whether it is a number (so
/// `FM` drops its padding and `TH` adds an ordinal suffix).
enum Field {
    Number { value: i64, width: usize },
    Text(String),
}

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(super) const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const ROMAN: [&str; 12] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"];

/// The patterns, longest first where one is a prefix of another (as PostgreSQL matches).
const PATTERNS: &[&str] = &[
    "HH24", "HH12", "HH", "MI", "SSSSS", "SSSS", "SS", "MS", "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "A.M.",
    "P.M.", "AM", "PM", "Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IYY", "IY", "IDDD", "ID", "IW", "I", "B.C.",
    "A.D.", "BC", "AD", "MONTH", "MON", "MM", "DAY", "DY", "DDD", "DD", "D", "WW", "W", "CC", "J", "Q", "RM", "TZH",
    "TZM", "TZ", "OF",
];

/// Formats `ts` (UTC for timestamptz) with PostgreSQL's `to_char` template.
pub(super) fn to_char(ts: &NaiveDateTime, template: &str) -> String {
    let Ok(formatted) =
        render::<std::convert::Infallible>(template, |pattern, written| Ok(field(ts, pattern, written)));
    formatted
}

/// Formats `iv` with a `to_char` template, as PostgreSQL does: its fields as they are
/// (hours beyond 24, months within the year, days as written), negative ones with a
/// sign; patterns tied to calendar dates (BC, month and day names) are errors.
pub(super) fn interval_to_char(iv: &Interval, template: &str) -> Result<String, EvalError> {
    render(template, |pattern, written| interval_field(iv, pattern, written))
}

/// Walks a template, printing what `field` gives for each pattern and the rest as is.
fn render<E>(template: &str, mut field: impl FnMut(&str, &str) -> Result<Field, E>) -> Result<String, E> {
    let mut out = String::new();
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // Modifiers before a pattern: FM (no padding), TM (translation: English here).
        let mut fill = false;
        loop {
            let rest: String = chars[i..].iter().take(2).collect();
            match rest.to_ascii_uppercase().as_str() {
                "FM" => fill = true,
                "TM" => {}
                _ => break,
            }
            i += 2;
        }
        if chars.get(i) == Some(&'"') {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        // Outside quotes a backslash only escapes a double quote.
        if chars.get(i) == Some(&'\\') && chars.get(i + 1) == Some(&'"') {
            out.push('"');
            i += 2;
            continue;
        }
        let rest: String = chars[i..].iter().collect();
        let Some(pattern) = PATTERNS.iter().find(|p| starts_with_ignore_case(&rest, p)) else {
            if let Some(c) = chars.get(i) {
                out.push(*c);
            }
            i += 1;
            continue;
        };
        let written = &rest[..pattern.len()];
        i += pattern.chars().count();
        let suffix: String = chars[i..].iter().take(2).collect();
        let ordinal = match suffix.as_str() {
            "TH" => Some(true),
            "th" => Some(false),
            _ => None,
        };
        if ordinal.is_some() {
            i += 2;
        }
        match field(pattern, written)? {
            Field::Number { value, width } => {
                let digits = if fill { value.to_string() } else { format!("{value:0width$}") };
                out.push_str(&digits);
                if let Some(upper) = ordinal {
                    let th = ordinal_suffix(value);
                    out.push_str(&if upper { th.to_uppercase() } else { th.to_string() });
                }
            }
            Field::Text(text) if fill => out.push_str(text.trim_end()),
            Field::Text(text) => out.push_str(&text),
        }
    }
    Ok(out)
}

/// The value of `pattern` for interval `iv` (PostgreSQL's `interval_to_char`: years and
/// months split from the months, days as stored, the time in hours, minutes, seconds).
fn interval_field(iv: &Interval, pattern: &str, written: &str) -> Result<Field, EvalError> {
    // Zero-padded to `width` digits, one more for a minus sign (C's `%0*d` with the sign).
    let num = |value: i64, width: usize| Field::Number { value, width: if value < 0 { width + 1 } else { width } };
    let (year, month) = (i64::from(iv.months / 12), i64::from(iv.months % 12));
    let day = i64::from(iv.days);
    let micros = iv.micros;
    let hour = micros / 3_600_000_000;
    let minute = micros / 60_000_000 % 60;
    let second = micros / 1_000_000 % 60;
    let fraction = micros % 1_000_000;
    // "Approximates the total span in days", as PostgreSQL says of it.
    let year_day = (year * 12 + month) * 30 + day;
    // December for whole years (January for negative ones); -1 month is December too.
    let roman = match month {
        0 if year == 0 => None,
        0 if year > 0 => Some(11),
        0 => Some(0),
        m if m < 0 => Some((12 + m) as usize),
        m => Some(m as usize - 1),
    };
    Ok(match pattern {
        "HH" | "HH12" => num(if hour % 12 == 0 { 12 } else { hour % 12 }, 2),
        "HH24" => num(hour, 2),
        "MI" => num(minute, 2),
        "SS" => num(second, 2),
        "SSSS" | "SSSSS" => Field::Number { value: hour * 3600 + minute * 60 + second, width: 0 },
        "MS" => num(fraction / 1000, 3),
        "US" => num(fraction, 6),
        "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
            let digits: u32 = pattern[2..].parse().unwrap_or(6);
            num(fraction / 10i64.pow(6 - digits), digits as usize)
        }
        "Y,YYY" => Field::Text(format!("{},{:03}", year / 1000, year % 1000)),
        "YYYY" => num(year, 4),
        "YYY" => num(year % 1000, 3),
        "YY" => num(year % 100, 2),
        "Y" => num(year % 10, 1),
        "CC" => num(year / 100, 2),
        "RM" => Field::Text(roman.map_or(String::new(), |m| format!("{:<4}", cased(ROMAN[m], written)))),
        "MM" => num(month, 2),
        "Q" if month == 0 => Field::Text(String::new()),
        "Q" => num((month - 1) / 3 + 1, 1),
        "DDD" => num(year_day, 3),
        // PostgreSQL pads days to two characters, the sign included.
        "DD" => Field::Number { value: day, width: 2 },
        "WW" => num((year_day - 1) / 7 + 1, 2),
        "W" => num((day - 1) / 7 + 1, 1),
        "AM" | "PM" => Field::Text(cased(if hour % 24 >= 12 { "PM" } else { "AM" }, written)),
        "A.M." | "P.M." => Field::Text(cased(if hour % 24 >= 12 { "P.M." } else { "A.M." }, written)),
        "BC" | "AD" | "B.C." | "A.D." | "MONTH" | "MON" | "DAY" | "DY" | "D" | "ID" | "TZ" | "OF" => {
            return Err(EvalError::InvalidArgument {
                sqlstate: "22007".into(),
                message: "invalid format specification for an interval value".into(),
            })
        }
        other => {
            return Err(EvalError::InvalidArgument {
                sqlstate: "0A000".into(),
                message: format!("to_char of an interval with the pattern {other} is not supported yet"),
            })
        }
    })
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The value of `pattern` (upper case) for `ts`; `written` is the pattern as the template
/// spells it, which sets the case of names (`Month`, `MONTH`, `month`).
fn field(ts: &NaiveDateTime, pattern: &str, written: &str) -> Field {
    let num = |value: i64, width: usize| Field::Number { value, width };
    let year = ts.year() as i64;
    let iso = ts.iso_week();
    let hour12 = match ts.hour() % 12 {
        0 => 12,
        h => h,
    } as i64;
    let pm = ts.hour() >= 12;
    match pattern {
        "HH" | "HH12" => num(hour12, 2),
        "HH24" => num(ts.hour() as i64, 2),
        "MI" => num(ts.minute() as i64, 2),
        "SS" => num(ts.second() as i64, 2),
        "SSSS" | "SSSSS" => num(ts.num_seconds_from_midnight() as i64, 0),
        "MS" => num((ts.nanosecond() / 1_000_000) as i64, 3),
        "US" => num((ts.nanosecond() / 1_000) as i64, 6),
        "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
            let digits: u32 = pattern[2..].parse().unwrap_or(6);
            num((ts.nanosecond() / 1_000 / 10u32.pow(6 - digits)) as i64, digits as usize)
        }
        "AM" | "PM" => Field::Text(cased(if pm { "PM" } else { "AM" }, written)),
        "A.M." | "P.M." => Field::Text(cased(if pm { "P.M." } else { "A.M." }, written)),
        "Y,YYY" => Field::Text(format!("{},{:03}", year / 1000, year % 1000)),
        "YYYY" => num(year, 4),
        "YYY" => num(year % 1000, 3),
        "YY" => num(year % 100, 2),
        "Y" => num(year % 10, 1),
        "IYYY" => num(iso.year() as i64, 4),
        "IYY" => num(iso.year() as i64 % 1000, 3),
        "IY" => num(iso.year() as i64 % 100, 2),
        "I" => num(iso.year() as i64 % 10, 1),
        "BC" | "AD" => Field::Text(cased(if year > 0 { "AD" } else { "BC" }, written)),
        "B.C." | "A.D." => Field::Text(cased(if year > 0 { "A.D." } else { "B.C." }, written)),
        "MONTH" => Field::Text(format!("{:<9}", cased(MONTHS[ts.month0() as usize], written))),
        "MON" => Field::Text(cased(&MONTHS[ts.month0() as usize][..3], written)),
        "MM" => num(ts.month() as i64, 2),
        "DAY" => Field::Text(format!("{:<9}", cased(DAYS[ts.weekday().num_days_from_sunday() as usize], written))),
        "DY" => Field::Text(cased(&DAYS[ts.weekday().num_days_from_sunday() as usize][..3], written)),
        "DDD" => num(ts.ordinal() as i64, 3),
        "DD" => num(ts.day() as i64, 2),
        "D" => num(ts.weekday().num_days_from_sunday() as i64 + 1, 1),
        "IDDD" => num((iso.week() as i64 - 1) * 7 + ts.weekday().number_from_monday() as i64, 3),
        "ID" => num(ts.weekday().number_from_monday() as i64, 1),
        "IW" => num(iso.week() as i64, 2),
        "WW" => num((ts.ordinal() as i64 - 1) / 7 + 1, 2),
        "W" => num((ts.day() as i64 - 1) / 7 + 1, 1),
        "CC" => num(if year > 0 { (year + 99) / 100 } else { -((99 - year) / 100) }, 2),
        "J" => num(ts.date().num_days_from_ce() as i64 + 1_721_425, 0),
        "Q" => num((ts.month0() / 3 + 1) as i64, 1),
        "RM" => Field::Text(format!("{:<4}", cased(ROMAN[ts.month0() as usize], written))),
        "TZ" => Field::Text(cased("UTC", written)),
        "TZH" => Field::Text("+00".into()),
        "TZM" => num(0, 2),
        "OF" => Field::Text("+00".into()),
        _ => Field::Text(String::new()),
    }
}

/// `name` in the case the template wrote its pattern: all upper, all lower, or capitalized.
fn cased(name: &str, written: &str) -> String {
    let mut letters = written.chars().filter(|c| c.is_alphabetic());
    let first_upper = letters.next().is_some_and(|c| c.is_uppercase());
    let rest_upper = letters.clone().next().is_none_or(|c| c.is_uppercase());
    match (first_upper, rest_upper) {
        (true, true) => name.to_uppercase(),
        (false, _) => name.to_lowercase(),
        (true, false) => {
            let lower = name.to_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

pub(super) fn ordinal_suffix(n: i64) -> &'static str {
    match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_templates_print_as_postgres() {
        let ts = chrono::NaiveDate::from_ymd_opt(2024, 3, 5).unwrap().and_hms_micro_opt(14, 7, 9, 123456).unwrap();
        assert_eq!(to_char(&ts, "YYYY-MM-DD HH24:MI:SS"), "2024-03-05 14:07:09");
        assert_eq!(to_char(&ts, "Day, DDth Month YYYY"), "Tuesday  , 05th March     2024");
        assert_eq!(to_char(&ts, "FMDay, FMDDth FMMonth"), "Tuesday, 5th March");
        assert_eq!(to_char(&ts, "HH12:MI am Mon dy"), "02:07 pm Mar tue");
        assert_eq!(to_char(&ts, "\"Q\"Q IW MS US"), "Q1 10 123 123456");
        assert_eq!(to_char(&ts, r#"YYYY\MM \"DD\""#), r#"2024\03 "05""#);
    }

    #[test]
    fn intervals_print_their_fields() {
        let iv = Interval::new(14, 3, (26 * 3600 + 5 * 60 + 7) * 1_000_000 + 250_000);
        assert_eq!(interval_to_char(&iv, "YYYY-MM DD HH24:MI:SS.MS").unwrap(), "0001-02 03 26:05:07.250");
        assert_eq!(interval_to_char(&iv, "HH12 FMHH24 RM AM").unwrap(), "02 26 II   AM");
        let negative = Interval::new(-27, -4, -(3600 + 60) * 1_000_000);
        assert_eq!(interval_to_char(&negative, "HH24:MI DD MM RM").unwrap(), "-01:-01 -4 -03 X   ");
        assert!(interval_to_char(&iv, "Day").is_err());
    }
}
