//! `to_date(text, template)` and `to_timestamp(text, template)`: reading a date or
//! timestamp by PostgreSQL's template patterns (the inverse of `to_char`).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::to_char::{DAYS, MONTHS};
use crate::EvalError;

/// The patterns read, longest first where one is a prefix of another.
const PATTERNS: &[&str] = &[
    "HH24", "HH12", "HH", "MI", "SSSSS", "SSSS", "SS", "MS", "US", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "A.M.",
    "P.M.", "AM", "PM", "Y,YYY", "YYYY", "YYY", "YY", "Y", "B.C.", "A.D.", "BC", "AD", "MONTH", "MON", "MM", "DAY",
    "DY", "DDD", "DD", "D", "J", "Q", "TZH", "TZM", "TZ", "OF",
];

/// The fields a template set; the rest take PostgreSQL's defaults (year 1 BC, January 1,
/// midnight).
#[derive(Default)]
struct Fields {
    year: Option<i64>,
    /// `YY`/`YYY`/`Y`: a year given by its last digits.
    short_year: Option<(i64, usize)>,
    bc: bool,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    julian: Option<i64>,
    hour: Option<i64>,
    twelve_hour: bool,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    seconds_of_day: Option<i64>,
    micros: i64,
    /// `TZH`/`TZM`: the input's offset from UTC, and whether it is west of UTC.
    offset_minutes: i64,
    offset_negative: bool,
}

/// Reads `input` by `template` into a timestamp (UTC for `to_timestamp`).
pub(super) fn parse(input: &str, template: &str) -> Result<NaiveDateTime, EvalError> {
    let fields = read_fields(input, template)?;
    assemble(&fields, input)
}

fn read_fields(text: &str, template: &str) -> Result<Fields, EvalError> {
    let template: Vec<char> = template.chars().collect();
    let input: Vec<char> = text.chars().collect();
    let mut f = Fields::default();
    let (mut t, mut i) = (0, 0);
    while t < template.len() {
        // FM (no padding) and TM (translated names) change nothing when reading.
        while t + 1 < template.len() && matches!(upper(&template[t..t + 2]).as_str(), "FM" | "TM") {
            t += 2;
        }
        if t >= template.len() {
            break;
        }
        if template[t] == '"' {
            // Quoted text skips as many input characters as it holds.
            t += 1;
            while t < template.len() && template[t] != '"' {
                if template[t] == '\\' {
                    t += 1;
                }
                t += 1;
                i = (i + 1).min(input.len());
            }
            t += 1;
            continue;
        }
        let rest: String = template[t..].iter().collect();
        let Some(pattern) = PATTERNS.iter().find(|p| rest.get(..p.len()).is_some_and(|r| r.eq_ignore_ascii_case(p)))
        else {
            // A separator or other literal in the template matches one separator in the
            // input (or nothing when the input has a letter or digit there).
            if input.get(i).is_some_and(|c| !c.is_alphanumeric()) {
                i += 1;
            }
            t += 1;
            continue;
        };
        // Errors name the pattern as the template spells it (`Mon`, `MM`).
        let written: String = template[t..t + pattern.len()].iter().collect();
        t += pattern.len();
        if template.get(t..t + 2).is_some_and(|s| upper(s) == "TH") {
            t += 2;
        }
        while input.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        // Fields past the end of the input keep their defaults.
        if i >= input.len() {
            break;
        }
        // A number runs to its pattern's width when a number pattern follows at once
        // (`YYYYMMDD`); otherwise to the last digit.
        let next_is_number = next_pattern_is_number(&template[t..]);
        let number = |i: &mut usize, width: usize| -> Result<(i64, usize), EvalError> {
            let start = *i;
            if input.get(*i) == Some(&'-') || input.get(*i) == Some(&'+') {
                *i += 1;
            }
            while input.get(*i).is_some_and(|c| c.is_ascii_digit()) && (!next_is_number || *i - start < width) {
                *i += 1;
            }
            let text: String = input[start..*i].iter().collect();
            let digits = text.trim_start_matches(['-', '+']).len();
            match text.parse::<i64>() {
                Ok(v) if digits > 0 => Ok((v, digits)),
                _ => {
                    let shown: String = input[start..].iter().take(width.max(1)).collect();
                    Err(EvalError::InvalidArgument {
                        sqlstate: "22007".into(),
                        message: format!("invalid value \"{shown}\" for \"{written}\""),
                    })
                }
            }
        };
        match *pattern {
            "YYYY" => f.year = Some(number(&mut i, 4)?.0),
            "Y,YYY" => {
                let (thousands, _) = number(&mut i, 1)?;
                if input.get(i) == Some(&',') {
                    i += 1;
                }
                let (rest, _) = number(&mut i, 3)?;
                f.year = Some(thousands * 1000 + rest);
            }
            "YYY" => f.short_year = Some(number(&mut i, 3)?),
            "YY" => f.short_year = Some(number(&mut i, 2)?),
            "Y" => f.short_year = Some(number(&mut i, 1)?),
            "MM" => f.month = Some(number(&mut i, 2)?.0),
            "DD" => f.day = Some(number(&mut i, 2)?.0),
            "DDD" => f.day_of_year = Some(number(&mut i, 3)?.0),
            "J" => f.julian = Some(number(&mut i, 7)?.0),
            "HH" | "HH12" => {
                f.hour = Some(number(&mut i, 2)?.0);
                f.twelve_hour = true;
            }
            "HH24" => f.hour = Some(number(&mut i, 2)?.0),
            "MI" => f.minute = number(&mut i, 2)?.0,
            "SS" => f.second = number(&mut i, 2)?.0,
            "SSSS" | "SSSSS" => f.seconds_of_day = Some(number(&mut i, 5)?.0),
            "MS" => f.micros = fraction(number(&mut i, 3)?, 3, text)? * 1000,
            "US" => f.micros = fraction(number(&mut i, 6)?, 6, text)?,
            "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                let width = pattern[2..].parse().unwrap_or(6);
                f.micros = fraction(number(&mut i, width)?, 6, text)?;
            }
            "TZH" => {
                f.offset_negative = input.get(i) == Some(&'-');
                f.offset_minutes += number(&mut i, 2)?.0.abs() * 60;
            }
            "TZM" => f.offset_minutes += number(&mut i, 2)?.0.abs(),
            "D" | "Q" => {
                number(&mut i, 1)?;
            }
            "AM" | "PM" | "A.M." | "P.M." => {
                let word = match_word(&input, &mut i, &written, &["am", "pm", "a.m.", "p.m."])?;
                f.pm = Some(word % 2 == 1);
            }
            "BC" | "AD" | "B.C." | "A.D." => {
                let word = match_word(&input, &mut i, &written, &["bc", "ad", "b.c.", "a.d."])?;
                f.bc = word % 2 == 0;
            }
            "MONTH" => f.month = Some(match_word(&input, &mut i, &written, &MONTHS)? as i64 + 1),
            "MON" => {
                let short: Vec<&str> = MONTHS.iter().map(|m| &m[..3]).collect();
                f.month = Some(match_word(&input, &mut i, &written, &short)? as i64 + 1);
            }
            "DAY" => {
                match_word(&input, &mut i, &written, &DAYS)?;
            }
            "DY" => {
                let short: Vec<&str> = DAYS.iter().map(|d| &d[..3]).collect();
                match_word(&input, &mut i, &written, &short)?;
            }
            other => {
                return Err(EvalError::InvalidArgument {
                    sqlstate: "0A000".into(),
                    message: format!("formatting field \"{other}\" is only supported in to_char"),
                })
            }
        }
    }
    Ok(f)
}

fn upper(chars: &[char]) -> String {
    chars.iter().collect::<String>().to_ascii_uppercase()
}

/// True if the template's next element, after modifiers, is a pattern that reads a number.
fn next_pattern_is_number(template: &[char]) -> bool {
    let rest: String = template.iter().collect::<String>().to_ascii_uppercase();
    let rest = rest.trim_start_matches("FM");
    const NUMBERS: &[&str] =
        &["HH", "MI", "SS", "MS", "US", "FF", "YYYY", "YY", "Y", "MM", "DD", "D", "J", "Q", "CC", "IW", "WW"];
    NUMBERS.iter().any(|p| rest.starts_with(p))
}

/// A fraction of a second read as `digits` digits, in units of 10^-`scale` seconds.
fn fraction((value, digits): (i64, usize), scale: usize, input: &str) -> Result<i64, EvalError> {
    if value < 0 || digits > scale {
        return Err(out_of_range(input));
    }
    Ok(value * 10i64.pow((scale - digits) as u32))
}

/// Reads one of `words` (longest match wins), ignoring case; its index.
fn match_word(input: &[char], i: &mut usize, written: &str, words: &[&str]) -> Result<usize, EvalError> {
    let rest: String = input[*i..].iter().collect::<String>().to_lowercase();
    let found =
        words.iter().enumerate().filter(|(_, w)| rest.starts_with(&w.to_lowercase())).max_by_key(|(_, w)| w.len());
    match found {
        Some((index, word)) => {
            *i += word.chars().count();
            Ok(index)
        }
        None => {
            let shown: String = input[*i..].iter().take_while(|c| c.is_alphanumeric() || **c == '.').collect();
            Err(EvalError::InvalidArgument {
                sqlstate: "22007".into(),
                message: format!("invalid value \"{shown}\" for \"{written}\""),
            })
        }
    }
}

fn out_of_range(input: &str) -> EvalError {
    EvalError::DatetimeOverflow(format!("date/time field value out of range: \"{input}\""))
}

fn assemble(f: &Fields, input: &str) -> Result<NaiveDateTime, EvalError> {
    let out_of_range = || out_of_range(input);
    let date = if let Some(julian) = f.julian {
        NaiveDate::from_num_days_from_ce_opt(i32::try_from(julian - 1_721_425).map_err(|_| out_of_range())?)
            .ok_or_else(out_of_range)?
    } else {
        let mut year = match (f.year, f.short_year) {
            // A negative year is BC: -44 is 44 BC (chrono's -43).
            (Some(y), _) if y < 0 => y + 1,
            (Some(y), _) => y,
            // A year by its last digits, to the one nearest 2020 as PostgreSQL reads it.
            (None, Some((y, _))) => match y {
                0..70 => y + 2000,
                70..100 => y + 1900,
                100..520 => y + 2000,
                520..1000 => y + 1000,
                _ => y,
            },
            // No year: 1 BC, as in PostgreSQL (chrono counts it as year 0).
            (None, None) => 0,
        };
        if f.bc && year > 0 {
            year = 1 - year;
        }
        let year = i32::try_from(year).map_err(|_| out_of_range())?;
        match (f.day_of_year, f.month, f.day) {
            (Some(doy), None, None) => NaiveDate::from_yo_opt(year, u32::try_from(doy).map_err(|_| out_of_range())?),
            _ => NaiveDate::from_ymd_opt(
                year,
                u32::try_from(f.month.unwrap_or(1)).map_err(|_| out_of_range())?,
                u32::try_from(f.day.unwrap_or(1)).map_err(|_| out_of_range())?,
            ),
        }
        .ok_or_else(out_of_range)?
    };
    let mut hour = f.hour.unwrap_or(0);
    if f.twelve_hour && !(1..=12).contains(&hour) {
        return Err(EvalError::InvalidArgument {
            sqlstate: "22008".into(),
            message: format!("hour \"{hour}\" is invalid for the 12-hour clock"),
        });
    }
    match f.pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let seconds = match f.seconds_of_day {
        Some(s) => s,
        None => {
            if !(0..24).contains(&hour) || !(0..60).contains(&f.minute) || !(0..60).contains(&f.second) {
                return Err(out_of_range());
            }
            hour * 3600 + f.minute * 60 + f.second
        }
    };
    if !(0..86_400).contains(&seconds) {
        return Err(out_of_range());
    }
    Ok(date.and_time(NaiveTime::MIN) + Duration::seconds(seconds) + Duration::microseconds(f.micros)
        - Duration::minutes(if f.offset_negative { -f.offset_minutes } else { f.offset_minutes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn reads_what_postgres_reads() {
        assert_eq!(parse("2024-1-5", "YYYY-MM-DD").unwrap(), ts("2024-01-05 00:00:00"));
        assert_eq!(parse("20240105", "YYYYMMDD").unwrap(), ts("2024-01-05 00:00:00"));
        assert_eq!(parse("05 Mar 2024 2:07 PM", "DD Mon YYYY HH:MI AM").unwrap(), ts("2024-03-05 14:07:00"));
        assert_eq!(parse("2024/03/05", "YYYY-MM-DD").unwrap(), ts("2024-03-05 00:00:00"));
        assert_eq!(parse("  2024-03-05 extra", "YYYY-MM-DD").unwrap(), ts("2024-03-05 00:00:00"));
        assert_eq!(parse("24-03-05", "YY-MM-DD").unwrap(), ts("2024-03-05 00:00:00"));
        assert_eq!(parse("70-03-05", "YY-MM-DD").unwrap(), ts("1970-03-05 00:00:00"));
        assert_eq!(parse("2024-03", "YYYY-MM-DD").unwrap(), ts("2024-03-01 00:00:00"));
        assert_eq!(parse("2024-060", "YYYY-DDD").unwrap(), ts("2024-02-29 00:00:00"));
        assert_eq!(parse("March 5, 2024", "Month DD, YYYY").unwrap(), ts("2024-03-05 00:00:00"));
        assert_eq!(parse("14:07:09.12", "HH24:MI:SS.MS").unwrap().time(), ts("2000-01-01 14:07:09.12").time());
        assert_eq!(
            parse("10:30", "HH24:MI").unwrap(),
            NaiveDate::from_ymd_opt(0, 1, 1).unwrap().and_hms_opt(10, 30, 0).unwrap()
        );
    }

    #[test]
    fn bad_input_says_which_field() {
        let e = parse("2024-ab-01", "YYYY-MM-DD").unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().as_str()), ("22007", "invalid value \"ab\" for \"MM\""));
        assert_eq!(parse("2024-13-01", "YYYY-MM-DD").unwrap_err().sqlstate(), "22008");
        assert_eq!(parse("2024-02-30", "YYYY-MM-DD").unwrap_err().sqlstate(), "22008");
        assert_eq!(
            parse("13:00 PM", "HH:MI PM").unwrap_err().to_string(),
            "hour \"13\" is invalid for the 12-hour clock"
        );
    }
}
