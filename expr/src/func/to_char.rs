//! `to_char(timestamp, format)`: PostgreSQL's template patterns for dates and times.

use chrono::{Datelike, NaiveDateTime, Timelike};

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
        match field(ts, pattern, written) {
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
    out
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
}
