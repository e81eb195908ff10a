//! `date`, `time`, `timestamp` and `timestamptz`: ISO output (DateStyle=ISO, session time
//! zone UTC) and the common subset of PostgreSQL's date/time input.
//!
//! Input is tokenized as PostgreSQL's `ParseDateTime` does (date fields, time fields,
//! signed zone offsets, numbers, words) and decoded with DateStyle's MDY order. Accepted:
//! ISO `2024-01-31`, `2024-01-31T13:04:05.5Z`, `20240131`, `01/31/2024`, `1/31/24`,
//! `January 31, 2024`, `31 Jan 2024`, `2024-01-31 1:04 pm`, `BC`/`AD`, zone offsets
//! (`+02`, `-0530`, `+05:30`, `Z`, `UTC`, common abbreviations like `PST` or `CET`), and
//! the specials `epoch`, `now`, `today`, `tomorrow`, `yesterday`, `allballs`, `infinity`,
//! `-infinity` (see [`date_infinity`]). Named zones (`Europe/Paris`) are rejected.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};

use super::ParseError;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;

// ---------------------------------------------------------------------------------------
// infinity and -infinity
// ---------------------------------------------------------------------------------------

/// `infinity` (`positive`) or `-infinity` as a date: chrono's last or first date, far
/// outside the dates PostgreSQL users store (chrono ends at year 262143).
pub fn infinite_date(positive: bool) -> NaiveDate {
    if positive {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    }
}

/// `infinity` or `-infinity` as a timestamp: chrono's last or first instant.
pub fn infinite_timestamp(positive: bool) -> NaiveDateTime {
    if positive {
        NaiveDateTime::MAX
    } else {
        NaiveDateTime::MIN
    }
}

/// Microseconds in one unit of the last of `p` fractional digits.
fn fraction_unit(p: u8) -> i64 {
    10i64.pow(6 - u32::from(p.min(6)))
}

/// `ts` with its fractional seconds rounded to `p` digits as PostgreSQL's `timestamp(p)`
/// does: half away from zero, counting from PostgreSQL's epoch (2000-01-01), so a half
/// second before 2000 rounds down. Infinities stay as they are.
pub fn round_timestamp(ts: NaiveDateTime, p: u8) -> NaiveDateTime {
    const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
    let unit = fraction_unit(p);
    if unit == 1 || timestamp_infinity(&ts).is_some() {
        return ts;
    }
    let micros = ts.and_utc().timestamp_micros() - PG_EPOCH_MICROS;
    let rounded = if micros >= 0 { (micros + unit / 2) / unit * unit } else { -((-micros + unit / 2) / unit * unit) };
    DateTime::from_timestamp_micros(rounded + PG_EPOCH_MICROS).map_or(ts, |t| t.naive_utc())
}

/// `t` with its fractional seconds rounded half up to `p` digits, as `time(p)` does
/// (a value that would round up to 24:00:00, which Eddy cannot hold, is cut instead).
pub fn round_time(t: NaiveTime, p: u8) -> NaiveTime {
    let unit = fraction_unit(p);
    let micros = i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000);
    let rounded = (micros + unit / 2) / unit * unit;
    let rounded = if rounded >= 86_400_000_000 { micros / unit * unit } else { rounded };
    let (secs, sub) = (rounded / 1_000_000, rounded % 1_000_000);
    NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, (sub * 1000) as u32).unwrap_or(t)
}

/// `Some(true)` for `infinity`, `Some(false)` for `-infinity`, `None` for a finite date.
pub fn date_infinity(d: &NaiveDate) -> Option<bool> {
    if *d == NaiveDate::MAX {
        Some(true)
    } else if *d == NaiveDate::MIN {
        Some(false)
    } else {
        None
    }
}

/// [`date_infinity`] of a timestamp: any instant on those dates is infinite.
pub fn timestamp_infinity(ts: &NaiveDateTime) -> Option<bool> {
    date_infinity(&ts.date())
}

fn push_infinity(positive: bool, out: &mut String) {
    out.push_str(if positive { "infinity" } else { "-infinity" });
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// PostgreSQL's year for a proleptic ISO year: (display year, is BC). Year 0 is 1 BC.
fn pg_year(year: i32) -> (i64, bool) {
    if year <= 0 {
        (1 - i64::from(year), true)
    } else {
        (i64::from(year), false)
    }
}

fn push_num(out: &mut String, v: i64, width: usize) {
    let s = v.to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

fn push_date_part(d: &NaiveDate, out: &mut String) -> bool {
    let (year, bc) = pg_year(d.year());
    push_num(out, year, 4);
    out.push('-');
    push_num(out, i64::from(d.month()), 2);
    out.push('-');
    push_num(out, i64::from(d.day()), 2);
    bc
}

/// Appends `.ffffff` without trailing zeros, or nothing for whole seconds.
pub(crate) fn push_fraction(out: &mut String, micros: u32) {
    if micros == 0 {
        return;
    }
    let s = format!("{micros:06}");
    out.push('.');
    out.push_str(s.trim_end_matches('0'));
}

fn push_time_part(t: &NaiveTime, out: &mut String) {
    push_num(out, i64::from(t.hour()), 2);
    out.push(':');
    push_num(out, i64::from(t.minute()), 2);
    out.push(':');
    push_num(out, i64::from(t.second()), 2);
    // A leap second's nanoseconds exceed 1e9; PostgreSQL has no leap seconds.
    push_fraction(out, t.nanosecond().min(999_999_999) / 1000);
}

/// `date` output: `2024-01-31`, `0044-03-15 BC`.
pub fn format_date(d: &NaiveDate, out: &mut String) {
    if let Some(positive) = date_infinity(d) {
        return push_infinity(positive, out);
    }
    if push_date_part(d, out) {
        out.push_str(" BC");
    }
}

/// `time` output: `13:04:05`, `13:04:05.123` (fraction to microseconds, trailing zeros
/// trimmed).
pub fn format_time(t: &NaiveTime, out: &mut String) {
    push_time_part(t, out)
}

/// `timestamp` output: `2024-01-31 13:04:05.5`, `0044-03-15 12:00:00 BC`.
pub fn format_timestamp(ts: &NaiveDateTime, out: &mut String) {
    if let Some(positive) = timestamp_infinity(ts) {
        return push_infinity(positive, out);
    }
    let bc = push_date_part(&ts.date(), out);
    out.push(' ');
    push_time_part(&ts.time(), out);
    if bc {
        out.push_str(" BC");
    }
}

/// `timestamptz` output in the session time zone UTC: `2024-01-31 13:04:05.5+00`,
/// `0044-03-15 12:00:00+00 BC`.
pub fn format_timestamptz(ts: &DateTime<Utc>, out: &mut String) {
    let ts = ts.naive_utc();
    if let Some(positive) = timestamp_infinity(&ts) {
        return push_infinity(positive, out);
    }
    let bc = push_date_part(&ts.date(), out);
    out.push(' ');
    push_time_part(&ts.time(), out);
    out.push_str("+00");
    if bc {
        out.push_str(" BC");
    }
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

/// One field of a date/time string, as PostgreSQL's `ParseDateTime` splits it.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// `2024-01-31`, `01/31/2024`, `31-jan-2024`.
    Date(String),
    /// `13:04:05.5`.
    Time(String),
    /// `2024`, `20240131`, `130405.5`.
    Number(String),
    /// A signed zone offset: `+02`, `-05:30`, `+0530`.
    Tz(String),
    /// A lower-cased word: month, weekday, `bc`, `pm`, `t`, zone abbreviation, special.
    Word(String),
}

/// Words that keep their meaning when directly followed by a digit (`t13:00`).
fn is_keyword(word: &str) -> bool {
    matches!(word, "t" | "z" | "utc" | "gmt" | "ut" | "zulu" | "am" | "pm" | "ad" | "bc")
        || month_number(word).is_some()
        || zone_abbreviation(word).is_some()
}

fn tokenize(s: &str) -> Option<Vec<Token>> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let lower = |from: usize, to: usize| s[from..to].to_ascii_lowercase();
    while i < b.len() {
        let c = b[i];
        if super::is_pg_space(c as char) {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i < b.len() && b[i] == b':' {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':' || b[i] == b'.') {
                    i += 1;
                }
                toks.push(Token::Time(s[start..i].to_string()));
            } else if i < b.len() && matches!(b[i], b'-' | b'/' | b'.') {
                let delim = b[i];
                i += 1;
                if i < b.len() && b[i].is_ascii_digit() {
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    let mut is_date = delim != b'.';
                    if i < b.len() && b[i] == delim {
                        is_date = true;
                        while i < b.len() && (b[i].is_ascii_digit() || b[i] == delim) {
                            i += 1;
                        }
                    }
                    let field = s[start..i].to_string();
                    toks.push(if is_date { Token::Date(field) } else { Token::Number(field) });
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == delim) {
                        i += 1;
                    }
                    toks.push(Token::Date(lower(start, i)));
                }
            } else {
                toks.push(Token::Number(s[start..i].to_string()));
            }
        } else if c == b'.' {
            let start = i;
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Token::Number(s[start..i].to_string()));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = lower(start, i);
            let next = b.get(i).copied();
            let is_date = match next {
                Some(b'-' | b'/' | b'.') => true,
                Some(n) if n == b'+' || n.is_ascii_digit() => !is_keyword(&word),
                _ => false,
            };
            if is_date {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'/' | b'_' | b'.' | b':'))
                {
                    i += 1;
                }
                toks.push(Token::Date(lower(start, i)));
            } else {
                toks.push(Token::Word(word));
            }
        } else if c == b'+' || c == b'-' {
            let sign = c as char;
            i += 1;
            while i < b.len() && super::is_pg_space(b[i] as char) {
                i += 1;
            }
            let start = i;
            if i < b.len() && b[i].is_ascii_digit() {
                while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b':' | b'.' | b'-')) {
                    i += 1;
                }
                toks.push(Token::Tz(format!("{sign}{}", &s[start..i])));
            } else if i < b.len() && b[i].is_ascii_alphabetic() {
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                toks.push(Token::Word(format!("{sign}{}", lower(start, i))));
            } else {
                return None;
            }
        } else if c.is_ascii_punctuation() {
            // Other punctuation only delimits fields.
            i += 1;
        } else {
            return None;
        }
    }
    Some(toks)
}

fn month_number(word: &str) -> Option<i64> {
    Some(match word {
        "jan" | "january" => 1,
        "feb" | "february" => 2,
        "mar" | "march" => 3,
        "apr" | "april" => 4,
        "may" => 5,
        "jun" | "june" => 6,
        "jul" | "july" => 7,
        "aug" | "august" => 8,
        "sep" | "sept" | "september" => 9,
        "oct" | "october" => 10,
        "nov" | "november" => 11,
        "dec" | "december" => 12,
        _ => return None,
    })
}

fn is_weekday(word: &str) -> bool {
    matches!(
        word,
        "sun"
            | "sunday"
            | "mon"
            | "monday"
            | "tue"
            | "tues"
            | "tuesday"
            | "wed"
            | "wednesday"
            | "thu"
            | "thur"
            | "thurs"
            | "thursday"
            | "fri"
            | "friday"
            | "sat"
            | "saturday"
    )
}

/// UTC offsets in seconds east of PostgreSQL's default time zone abbreviations (a subset).
fn zone_abbreviation(word: &str) -> Option<i32> {
    const H: i32 = 3600;
    Some(match word {
        "z" | "zulu" | "utc" | "gmt" | "ut" | "wet" => 0,
        "est" => -5 * H,
        "edt" => -4 * H,
        "cst" => -6 * H,
        "cdt" => -5 * H,
        "mst" => -7 * H,
        "mdt" => -6 * H,
        "pst" => -8 * H,
        "pdt" => -7 * H,
        "akst" => -9 * H,
        "akdt" => -8 * H,
        "hst" => -10 * H,
        "ast" => -4 * H,
        "adt" => -3 * H,
        "nst" => -(3 * H + 1800),
        "ndt" => -(2 * H + 1800),
        "cet" | "met" | "west" | "bst" => H,
        "cest" | "mest" | "eet" | "ist" => 2 * H,
        "eest" | "msk" => 3 * H,
        "hkt" | "sgt" | "awst" => 8 * H,
        "jst" | "kst" => 9 * H,
        "acst" => 9 * H + 1800,
        "aest" => 10 * H,
        "acdt" => 10 * H + 1800,
        "aedt" => 11 * H,
        "nzst" => 12 * H,
        "nzdt" => 13 * H,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    Epoch,
    Now,
    Today,
    Tomorrow,
    Yesterday,
    Allballs,
    /// `infinity` (true) or `-infinity`.
    Infinity(bool),
}

/// Why a date/time string was rejected.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DtErr {
    /// Not a date/time: `invalid input syntax`.
    Syntax,
    /// A field out of range (`2024-13-01`, `2024-02-30`, `25:00`): `date/time field value
    /// out of range`, as PostgreSQL's DTERR_FIELD_OVERFLOW.
    Field,
    /// A value beyond the representable range: `out of range`.
    Range,
}

/// The fields found in a date/time string.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    /// Microseconds since midnight (may reach 24:00:00 or a 60th second).
    time: Option<i64>,
    hour_for_meridian: Option<i64>,
    /// Offset in seconds east of UTC.
    tz: Option<i32>,
    bc: bool,
    ad: bool,
    pm: Option<bool>,
    special: Option<Special>,
}

impl Fields {
    fn has_date_field(&self) -> bool {
        self.year.is_some() || self.month.is_some() || self.day.is_some()
    }

    fn has_full_date(&self) -> bool {
        self.year.is_some() && self.month.is_some() && self.day.is_some()
    }

    fn set_year(&mut self, text: &str) -> Result<(), DtErr> {
        if self.year.is_some() {
            return Err(DtErr::Syntax);
        }
        let mut y = parse_digits(text)?;
        // Two-digit years are 1970..2069, as PostgreSQL's AdjustYear.
        if text.len() <= 2 {
            y += if y < 70 { 2000 } else { 1900 };
        }
        self.year = Some(y);
        Ok(())
    }

    fn set_month(&mut self, m: i64) -> Result<(), DtErr> {
        if self.month.replace(m).is_some() {
            return Err(DtErr::Syntax);
        }
        Ok(())
    }

    fn set_day(&mut self, text: &str) -> Result<(), DtErr> {
        if self.day.replace(parse_digits(text)?).is_some() {
            return Err(DtErr::Syntax);
        }
        Ok(())
    }

    /// A lone number among date fields: a year if long or large, else the day, else a
    /// two-digit year.
    fn set_number(&mut self, text: &str) -> Result<(), DtErr> {
        let v = parse_digits(text)?;
        if text.len() > 2 || v > 31 {
            self.set_year(text)
        } else if self.day.is_none() {
            self.set_day(text)
        } else {
            self.set_year(text)
        }
    }

    fn set_time(&mut self, micros: i64, hour: i64) -> Result<(), DtErr> {
        if self.time.replace(micros).is_some() {
            return Err(DtErr::Syntax);
        }
        self.hour_for_meridian = Some(hour);
        Ok(())
    }

    fn set_tz(&mut self, offset: i32) -> Result<(), DtErr> {
        if self.tz.replace(offset).is_some() {
            return Err(DtErr::Syntax);
        }
        Ok(())
    }

    fn set_special(&mut self, special: Special) -> Result<(), DtErr> {
        if self.special.replace(special).is_some() {
            return Err(DtErr::Syntax);
        }
        Ok(())
    }
}

fn parse_digits(text: &str) -> Result<i64, DtErr> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(DtErr::Syntax);
    }
    // Absurdly long fields are out of range rather than overflowing.
    text.parse::<i64>().map_err(|_| DtErr::Field)
}

/// Microseconds of a fraction given as its digits after the point, as PostgreSQL's
/// `ParseFractionalSecond` computes them: `rint(strtod(".digits") * 1e6)`.
fn fraction_micros(digits: &str) -> Result<i64, DtErr> {
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(DtErr::Syntax);
    }
    if digits.is_empty() {
        return Ok(0);
    }
    let frac: f64 = format!("0.{digits}").parse().map_err(|_| DtErr::Syntax)?;
    Ok((frac * 1e6).round_ties_even() as i64)
}

/// `h:m`, `h:m:s`, `h:m:s.f` or `m:s.f` (PostgreSQL's `DecodeTimeCommon`), as
/// (microseconds, hour); hours above 24 are left to the caller.
fn decode_time(text: &str) -> Result<(i64, i64), DtErr> {
    let parts: Vec<&str> = text.split(':').collect();
    let split_frac = |s: &str| -> Result<(i64, i64), DtErr> {
        match s.split_once('.') {
            Some((int, frac)) => Ok((parse_digits(int)?, fraction_micros(frac)?)),
            None => Ok((parse_digits(s)?, 0)),
        }
    };
    let (hour, min, sec, usec) = match parts.as_slice() {
        [h, m] if m.contains('.') => {
            let (s, f) = split_frac(m)?;
            (0, parse_digits(h)?, s, f)
        }
        [h, m] => (parse_digits(h)?, parse_digits(m)?, 0, 0),
        [h, m, s] => {
            let (s, f) = split_frac(s)?;
            (parse_digits(h)?, parse_digits(m)?, s, f)
        }
        _ => return Err(DtErr::Syntax),
    };
    if min > 59 || sec > 60 || usec > USECS_PER_SEC {
        return Err(DtErr::Field);
    }
    if hour > 24 || (hour == 24 && (min > 0 || sec > 0 || usec > 0)) {
        return Err(DtErr::Field);
    }
    Ok((hour * USECS_PER_HOUR + min * USECS_PER_MINUTE + sec * USECS_PER_SEC + usec, hour))
}

/// A run-together time after a date: `hhmm`, `hhmmss`, `hhmmss.ffffff`.
fn decode_run_together_time(text: &str) -> Result<(i64, i64), DtErr> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let formatted = match int.len() {
        4 if frac.is_empty() => format!("{}:{}", &int[..2], &int[2..]),
        6 if frac.is_empty() => format!("{}:{}:{}", &int[..2], &int[2..4], &int[4..]),
        6 => format!("{}:{}:{}.{}", &int[..2], &int[2..4], &int[4..], frac),
        _ => return Err(DtErr::Syntax),
    };
    if !int.bytes().all(|c| c.is_ascii_digit()) {
        return Err(DtErr::Syntax);
    }
    decode_time(&formatted)
}

/// PostgreSQL's `DecodeTimezone`: `+h`, `+hh`, `+hhmm`, `+hh:mm`, `+hh:mm:ss`.
fn decode_tz(text: &str) -> Result<i32, DtErr> {
    let negative = text.starts_with('-');
    let body = text.get(1..).ok_or(DtErr::Syntax)?;
    let parts: Vec<&str> = body.split(':').collect();
    let (hour, min, sec) = match parts.as_slice() {
        [hm] if hm.len() > 2 => {
            let v = parse_digits(hm)?;
            (v / 100, v % 100, 0)
        }
        [h] => (parse_digits(h)?, 0, 0),
        [h, m] => (parse_digits(h)?, parse_digits(m)?, 0),
        [h, m, s] => (parse_digits(h)?, parse_digits(m)?, parse_digits(s)?),
        _ => return Err(DtErr::Syntax),
    };
    if hour > 15 || min >= 60 || sec >= 60 {
        return Err(DtErr::Range);
    }
    let offset = (hour * 3600 + min * 60 + sec) as i32;
    Ok(if negative { -offset } else { offset })
}

/// A date field: three parts separated by `-`, `/` or `.`, one of which may be a month name.
fn decode_date_field(f: &mut Fields, text: &str) -> Result<(), DtErr> {
    if f.has_date_field() {
        return Err(DtErr::Syntax);
    }
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    if parts.len() != 3 {
        return Err(DtErr::Syntax);
    }
    if parts.iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())) {
        if parts[0].len() > 2 {
            // Year first: ISO order.
            f.set_year(parts[0])?;
            f.set_month(parse_digits(parts[1])?)?;
            f.set_day(parts[2])?;
        } else {
            // DateStyle MDY.
            f.set_month(parse_digits(parts[0])?)?;
            f.set_day(parts[1])?;
            f.set_year(parts[2])?;
        }
        return Ok(());
    }
    // One part is a month name; the numbers are day and year by their shape.
    for part in parts {
        if let Some(m) = month_number(part) {
            f.set_month(m)?;
        } else {
            f.set_number(part)?;
        }
    }
    Ok(())
}

/// A number field, as PostgreSQL's `DecodeNumberField` treats run-together digits:
/// `yyyymmdd`/`yymmdd` before a date is complete, then `hhmmss[.f]`/`hhmm` (or at once for
/// `time` input, which has no date).
fn decode_number(f: &mut Fields, text: &str, time_only: bool) -> Result<(), DtErr> {
    let time_allowed = (time_only || f.has_full_date()) && f.time.is_none();
    if text.contains('.') {
        if time_allowed {
            let (micros, hour) = decode_run_together_time(text)?;
            return f.set_time(micros, hour);
        }
        return Err(DtErr::Syntax);
    }
    if time_allowed && matches!(text.len(), 4 | 6) {
        let (micros, hour) = decode_run_together_time(text)?;
        return f.set_time(micros, hour);
    }
    if !f.has_date_field() && text.len() >= 6 && text.is_ascii() {
        let len = text.len();
        f.set_year(&text[..len - 4])?;
        f.set_month(parse_digits(&text[len - 4..len - 2])?)?;
        return f.set_day(&text[len - 2..]);
    }
    f.set_number(text)
}

fn decode_word(f: &mut Fields, word: &str) -> Result<(), DtErr> {
    match word {
        "t" | "at" | "on" => {}
        "am" | "pm" => {
            if f.pm.replace(word == "pm").is_some() {
                return Err(DtErr::Syntax);
            }
        }
        "ad" => f.ad = true,
        "bc" => f.bc = true,
        "epoch" => f.set_special(Special::Epoch)?,
        "now" => f.set_special(Special::Now)?,
        "today" => f.set_special(Special::Today)?,
        "tomorrow" => f.set_special(Special::Tomorrow)?,
        "yesterday" => f.set_special(Special::Yesterday)?,
        "allballs" => f.set_special(Special::Allballs)?,
        "infinity" => f.set_special(Special::Infinity(true))?,
        "-infinity" => f.set_special(Special::Infinity(false))?,
        w if is_weekday(w) => {}
        w => {
            if let Some(m) = month_number(w) {
                f.set_month(m)?;
            } else if let Some(offset) = zone_abbreviation(w) {
                f.set_tz(offset)?;
            } else {
                return Err(DtErr::Syntax);
            }
        }
    }
    Ok(())
}

fn decode_fields(text: &str, time_only: bool) -> Result<Fields, DtErr> {
    let toks = tokenize(text).ok_or(DtErr::Syntax)?;
    if toks.is_empty() {
        return Err(DtErr::Syntax);
    }
    let mut f = Fields::default();
    for tok in &toks {
        match tok {
            Token::Date(s) => decode_date_field(&mut f, s)?,
            Token::Time(s) => {
                let (micros, hour) = decode_time(s)?;
                f.set_time(micros, hour)?;
            }
            Token::Number(s) => decode_number(&mut f, s, time_only)?,
            Token::Tz(s) => {
                // `2024-01-31 -08` style offsets; a signed number before any time is
                // not a zone.
                let offset = decode_tz(s)?;
                f.set_tz(offset)?;
            }
            Token::Word(w) => decode_word(&mut f, w)?,
        }
    }
    // Meridian.
    if let Some(pm) = f.pm {
        let (Some(time), Some(hour)) = (f.time, f.hour_for_meridian) else {
            return Err(DtErr::Syntax);
        };
        if hour > 12 {
            return Err(DtErr::Field);
        }
        let mut time = time;
        if !pm && hour == 12 {
            time -= 12 * USECS_PER_HOUR;
        } else if pm && hour != 12 {
            time += 12 * USECS_PER_HOUR;
        }
        f.time = Some(time);
    }
    if f.bc && f.ad {
        return Err(DtErr::Syntax);
    }
    if let Some(y) = f.year {
        if y == 0 {
            return Err(DtErr::Field);
        }
        if f.bc {
            f.year = Some(1 - y);
        }
    } else if f.bc || f.ad {
        return Err(DtErr::Syntax);
    }
    if f.special.is_some() && (f.has_date_field() || f.bc) {
        return Err(DtErr::Syntax);
    }
    Ok(f)
}

impl Fields {
    /// The calendar date, if the fields name one completely.
    fn date(&self) -> Result<Option<NaiveDate>, DtErr> {
        match (self.year, self.month, self.day) {
            (None, None, None) => Ok(None),
            (Some(y), Some(m), Some(d)) => {
                if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                    return Err(DtErr::Field);
                }
                let y = i32::try_from(y).map_err(|_| DtErr::Range)?;
                // A day the month does not have (February 30th) is a field out of range;
                // a year chrono cannot hold is beyond the representable range.
                let date = match NaiveDate::from_ymd_opt(y, m as u32, 1) {
                    None => return Err(DtErr::Range),
                    Some(_) => NaiveDate::from_ymd_opt(y, m as u32, d as u32).ok_or(DtErr::Field)?,
                };
                if date < min_date() {
                    return Err(DtErr::Range);
                }
                Ok(Some(date))
            }
            _ => Err(DtErr::Syntax),
        }
    }
}

/// PostgreSQL's earliest date and timestamp: 4714-11-24 BC (Julian day 0).
pub(crate) fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(-4713, 11, 24).unwrap_or(NaiveDate::MIN)
}

fn now_micros() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    let micros = now.nanosecond() / 1000 * 1000;
    now.with_nanosecond(micros).unwrap_or(now)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Date and microseconds-past-midnight as a timestamp; the time may spill into the next day
/// (`24:00:00`, a 60th second).
fn combine(date: NaiveDate, micros: i64) -> Result<NaiveDateTime, DtErr> {
    date.and_time(NaiveTime::MIN)
        .checked_add_signed(TimeDelta::microseconds(micros))
        // chrono's last and first dates stand for the infinities.
        .filter(|ts| timestamp_infinity(ts).is_none())
        .ok_or(DtErr::Range)
}

/// The local timestamp named by the fields, with the zone offset they give.
fn decode_timestamp_fields(text: &str) -> Result<(NaiveDateTime, Option<i32>), DtErr> {
    let f = decode_fields(text, false)?;
    let date = f.date()?;
    let relative_day = |days: i64| -> Result<NaiveDateTime, DtErr> {
        let base = today();
        let d = if days >= 0 {
            base.checked_add_days(Days::new(days as u64))
        } else {
            base.checked_sub_days(Days::new(days.unsigned_abs()))
        };
        combine(d.ok_or(DtErr::Range)?, f.time.unwrap_or(0))
    };
    let ts = match f.special {
        Some(Special::Epoch) if f.time.is_none() && f.tz.is_none() => {
            return Ok((DateTime::UNIX_EPOCH.naive_utc(), Some(0)));
        }
        Some(Special::Now) if f.time.is_none() && f.tz.is_none() => {
            return Ok((now_micros(), Some(0)));
        }
        Some(Special::Today) => relative_day(0)?,
        Some(Special::Tomorrow) => relative_day(1)?,
        Some(Special::Yesterday) => relative_day(-1)?,
        Some(Special::Infinity(positive)) => infinite_timestamp(positive),
        Some(_) => return Err(DtErr::Syntax),
        None => {
            let date = date.ok_or(DtErr::Syntax)?;
            combine(date, f.time.unwrap_or(0))?
        }
    };
    Ok((ts, f.tz))
}

fn to_error(e: DtErr, type_name: &str, text: &str) -> ParseError {
    match e {
        DtErr::Syntax => ParseError::syntax(type_name, text),
        DtErr::Field => ParseError::DateTimeField(text.to_string()),
        DtErr::Range => ParseError::out_of_range(type_name, text),
    }
}

/// `date` input. A time of day and zone may follow the date and are ignored.
pub fn parse_date(text: &str) -> Result<NaiveDate, ParseError> {
    const TY: &str = "date";
    let f = decode_fields(text, false).map_err(|e| to_error(e, TY, text))?;
    let date = f.date().map_err(|e| to_error(e, TY, text))?;
    match (f.special, date) {
        // chrono's last and first dates stand for the infinities.
        (None, Some(d)) if date_infinity(&d).is_some() => Err(ParseError::out_of_range(TY, text)),
        (None, Some(d)) => Ok(d),
        (Some(Special::Epoch), None) => Ok(DateTime::UNIX_EPOCH.date_naive()),
        (Some(Special::Now | Special::Today), None) => Ok(today()),
        (Some(Special::Tomorrow), None) => today().succ_opt().ok_or_else(|| ParseError::out_of_range(TY, text)),
        (Some(Special::Yesterday), None) => today().pred_opt().ok_or_else(|| ParseError::out_of_range(TY, text)),
        (Some(Special::Infinity(positive)), None) => Ok(infinite_date(positive)),
        _ => Err(ParseError::syntax(TY, text)),
    }
}

/// `time` input: `13:04`, `13:04:05.123456`, `1:04 pm`, `130405`; a leading date and a
/// zone are ignored. `24:00:00` is not representable and is out of range.
pub fn parse_time(text: &str) -> Result<NaiveTime, ParseError> {
    const TY: &str = "time without time zone";
    let f = decode_fields(text, true).map_err(|e| to_error(e, TY, text))?;
    f.date().map_err(|e| to_error(e, TY, text))?;
    let micros = match (f.special, f.time) {
        (None, Some(t)) => t,
        (Some(Special::Allballs), None) => 0,
        (Some(Special::Now), None) => {
            let t = now_micros().time();
            return Ok(t);
        }
        _ => return Err(ParseError::syntax(TY, text)),
    };
    if !(0..USECS_PER_DAY).contains(&micros) {
        return Err(ParseError::out_of_range(TY, text));
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (micros / USECS_PER_SEC) as u32,
        (micros % USECS_PER_SEC) as u32 * 1000,
    )
    .ok_or_else(|| ParseError::out_of_range(TY, text))
}

/// `timestamp` input: a date with an optional time (`2024-01-31 13:04:05.123456`,
/// `2024-01-31T13:04:05`, `2024-01-31`); a zone, if given, is ignored as in PostgreSQL.
pub fn parse_timestamp(text: &str) -> Result<NaiveDateTime, ParseError> {
    const TY: &str = "timestamp without time zone";
    decode_timestamp_fields(text)
        .and_then(|(ts, _)| match timestamp_infinity(&ts) {
            None if ts.date() < min_date() => Err(DtErr::Range),
            _ => Ok(ts),
        })
        .map_err(|e| to_error(e, TY, text))
}

/// `timestamptz` input: as [`parse_timestamp`], then shifted to UTC by the zone offset
/// given (`+02`, `-05:30`, `Z`, `UTC`, `PST`, ...); no zone means the session zone, UTC.
pub fn parse_timestamptz(text: &str) -> Result<DateTime<Utc>, ParseError> {
    const TY: &str = "timestamp with time zone";
    let (local, tz) = decode_timestamp_fields(text).map_err(|e| to_error(e, TY, text))?;
    if timestamp_infinity(&local).is_some() {
        return Ok(local.and_utc());
    }
    let offset = TimeDelta::seconds(i64::from(tz.unwrap_or(0)));
    local
        .checked_sub_signed(offset)
        .filter(|utc| utc.date() >= min_date())
        .map(|utc| utc.and_utc())
        .ok_or_else(|| ParseError::out_of_range(TY, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> String {
        let mut s = String::new();
        format_timestamp(&parse_timestamp(text).unwrap_or_else(|e| panic!("{text}: {e}")), &mut s);
        s
    }

    fn tstz(text: &str) -> String {
        let mut s = String::new();
        format_timestamptz(&parse_timestamptz(text).unwrap_or_else(|e| panic!("{text}: {e}")), &mut s);
        s
    }

    fn date(text: &str) -> String {
        let mut s = String::new();
        format_date(&parse_date(text).unwrap_or_else(|e| panic!("{text}: {e}")), &mut s);
        s
    }

    fn time(text: &str) -> String {
        let mut s = String::new();
        format_time(&parse_time(text).unwrap_or_else(|e| panic!("{text}: {e}")), &mut s);
        s
    }

    #[test]
    fn date_input_and_output() {
        assert_eq!(date("2024-01-31"), "2024-01-31");
        assert_eq!(date("  2024-01-31  "), "2024-01-31");
        assert_eq!(date("2024-1-5"), "2024-01-05");
        assert_eq!(date("20240131"), "2024-01-31");
        assert_eq!(date("240131"), "2024-01-31");
        assert_eq!(date("01/31/2024"), "2024-01-31");
        assert_eq!(date("1/31/24"), "2024-01-31");
        assert_eq!(date("1/31/70"), "1970-01-31");
        assert_eq!(date("2024/01/31"), "2024-01-31");
        assert_eq!(date("2024.01.31"), "2024-01-31");
        assert_eq!(date("January 31, 2024"), "2024-01-31");
        assert_eq!(date("31 Jan 2024"), "2024-01-31");
        assert_eq!(date("Wed Jan 31 2024"), "2024-01-31");
        assert_eq!(date("31-jan-2024"), "2024-01-31");
        assert_eq!(date("jan-31-2024"), "2024-01-31");
        assert_eq!(date("2024-01-31 13:04:05+02"), "2024-01-31");
        assert_eq!(date("0044-03-15 BC"), "0044-03-15 BC");
        assert_eq!(date("0001-01-01 BC"), "0001-01-01 BC");
        assert_eq!(date("4714-11-24 BC"), "4714-11-24 BC");
        assert!(matches!(parse_date("4714-11-23 BC"), Err(ParseError::OutOfRange { .. })));
        assert!(matches!(parse_timestamp("4714-11-23 23:59 BC"), Err(ParseError::OutOfRange { .. })));
        assert!(matches!(parse_timestamptz("4714-11-24 00:30+01 BC"), Err(ParseError::OutOfRange { .. })));
        assert_eq!(date("0001-01-01"), "0001-01-01");
        assert_eq!(date("12345-01-01"), "12345-01-01");
        assert_eq!(date("epoch"), "1970-01-01");
        assert_eq!(date("2024-02-29 AD"), "2024-02-29");
        assert!(parse_date("today").is_ok());
        for bad in ["", "x", "2024-01", "2024-01-31-05", "2024-01-31 foo", "13:00", "2024 01 31 1", "Europe/Paris"] {
            assert_eq!(parse_date(bad).unwrap_err(), ParseError::syntax("date", bad), "{bad:?}");
        }
        for field in ["2024-13-01", "2024-02-30", "2023-02-29", "0000-01-01", "2024-00-10"] {
            assert_eq!(parse_date(field).unwrap_err(), ParseError::DateTimeField(field.into()), "{field:?}");
        }
        for range in ["99999999-01-01", "262143-12-31"] {
            assert_eq!(parse_date(range).unwrap_err(), ParseError::out_of_range("date", range), "{range:?}");
        }
        assert_eq!(date("infinity"), "infinity");
        assert!(parse_date("+infinity").is_err(), "PostgreSQL 15 has no +infinity");
        assert_eq!(date("-infinity"), "-infinity");
        assert!(parse_date("-infinity").unwrap() < parse_date("4713-01-01 BC").unwrap());
    }

    #[test]
    fn time_input_and_output() {
        assert_eq!(time("13:04:05"), "13:04:05");
        assert_eq!(time("13:04"), "13:04:00");
        assert_eq!(time("13:04:05.123"), "13:04:05.123");
        assert_eq!(time("13:04:05.100000"), "13:04:05.1");
        assert_eq!(time("13:04:05.000001"), "13:04:05.000001");
        assert_eq!(time("13:04:05.1234567"), "13:04:05.123457");
        assert_eq!(time("1:02 pm"), "13:02:00");
        assert_eq!(time("12:30 am"), "00:30:00");
        assert_eq!(time("12:30 PM"), "12:30:00");
        assert_eq!(time("04:05.5"), "00:04:05.5");
        assert_eq!(time("2024-01-31 13:04:05"), "13:04:05");
        assert_eq!(time("13:04:05+02"), "13:04:05");
        assert_eq!(time("13:04:05 PST"), "13:04:05");
        assert_eq!(time("allballs"), "00:00:00");
        assert_eq!(time("130405"), "13:04:05");
        assert_eq!(time("1304"), "13:04:00");
        assert_eq!(time("130405.5"), "13:04:05.5");
        assert_eq!(time("23:59:59.999999"), "23:59:59.999999");
        for bad in ["", "13", "abc", "13:04:05:06", "13:04 xm", "13:0a", "13045"] {
            assert_eq!(parse_time(bad).unwrap_err(), ParseError::syntax("time without time zone", bad), "{bad:?}");
        }
        for field in ["25:00", "13:60", "13:00:61", "13:00 pm"] {
            assert_eq!(parse_time(field), Err(ParseError::DateTimeField(field.into())), "{field}");
        }
        assert!(matches!(parse_time("24:00:00"), Err(ParseError::OutOfRange { .. })), "not representable");
    }

    #[test]
    fn timestamp_input_and_output() {
        assert_eq!(ts("2024-01-31 13:04:05.123456"), "2024-01-31 13:04:05.123456");
        assert_eq!(ts("2024-01-31 13:04:05.5"), "2024-01-31 13:04:05.5");
        assert_eq!(ts("2024-01-31T13:04:05"), "2024-01-31 13:04:05");
        assert_eq!(ts("2024-01-31t13:04"), "2024-01-31 13:04:00");
        assert_eq!(ts("2024-01-31"), "2024-01-31 00:00:00");
        assert_eq!(ts("2024-01-31 13:04:05+02"), "2024-01-31 13:04:05");
        assert_eq!(ts("2024-01-31 24:00:00"), "2024-02-01 00:00:00");
        assert_eq!(ts("2024-01-31 23:59:60"), "2024-02-01 00:00:00");
        assert_eq!(ts("2024-01-31 23:59:59.9999996"), "2024-02-01 00:00:00");
        // PostgreSQL rounds rint(double(.1234565) * 1e6), which is just below .5.
        assert_eq!(ts("2024-01-31 13:04:05.1234565"), "2024-01-31 13:04:05.123456");
        assert_eq!(ts("2024-01-31 13:04:05.1234575"), "2024-01-31 13:04:05.123458");
        assert_eq!(ts("20240131T130405"), "2024-01-31 13:04:05");
        assert_eq!(ts("20240131 130405.25"), "2024-01-31 13:04:05.25");
        assert_eq!(ts("January 31, 2024 1:04:05 PM"), "2024-01-31 13:04:05");
        assert_eq!(ts("0044-03-15 12:00 BC"), "0044-03-15 12:00:00 BC");
        assert_eq!(ts("epoch"), "1970-01-01 00:00:00");
        assert!(parse_timestamp("now").is_ok());
        assert!(parse_timestamp("tomorrow 13:00").is_ok());
        for bad in ["", "13:04:05", "2024-01-31 13:04:05 nowhere", "2024-01-31 13:04:05 13:04:05", "epoch 2024-01-01"] {
            assert_eq!(
                parse_timestamp(bad).unwrap_err(),
                ParseError::syntax("timestamp without time zone", bad),
                "{bad:?}"
            );
        }
        assert!(matches!(parse_timestamp("2024-01-31 24:00:01"), Err(ParseError::DateTimeField(_))));
        assert_eq!(ts("infinity"), "infinity");
        assert_eq!(ts("-infinity"), "-infinity");
        assert_eq!(tstz(" Infinity "), "infinity");
        assert_eq!(tstz("-infinity"), "-infinity");
        assert!(parse_timestamp("infinity").unwrap() > parse_timestamp("294276-01-01").unwrap_or_default());
    }

    #[test]
    fn timestamptz_input_and_output() {
        assert_eq!(tstz("2024-01-31 13:04:05"), "2024-01-31 13:04:05+00");
        assert_eq!(tstz("2024-01-31T13:04:05Z"), "2024-01-31 13:04:05+00");
        assert_eq!(tstz("2024-01-31T13:04:05.5z"), "2024-01-31 13:04:05.5+00");
        assert_eq!(tstz("2024-01-31 13:04:05-08"), "2024-01-31 21:04:05+00");
        assert_eq!(tstz("2024-01-31 13:04:05 +05:30"), "2024-01-31 07:34:05+00");
        assert_eq!(tstz("2024-01-31 13:04:05+0530"), "2024-01-31 07:34:05+00");
        assert_eq!(tstz("2024-01-31 13:04:05+05:30:15"), "2024-01-31 07:33:50+00");
        assert_eq!(tstz("2024-01-31 00:30:00+01"), "2024-01-30 23:30:00+00");
        assert_eq!(tstz("2024-01-31 13:04:05 UTC"), "2024-01-31 13:04:05+00");
        assert_eq!(tstz("2024-01-31 13:04:05 PST"), "2024-01-31 21:04:05+00");
        assert_eq!(tstz("2024-01-31 13:04:05 cet"), "2024-01-31 12:04:05+00");
        assert_eq!(tstz("2024-01-31"), "2024-01-31 00:00:00+00");
        assert_eq!(tstz("0044-03-15 12:00 BC"), "0044-03-15 12:00:00+00 BC");
        assert_eq!(tstz("epoch"), "1970-01-01 00:00:00+00");
        assert!(matches!(parse_timestamptz("2024-01-31 13:00+16"), Err(ParseError::OutOfRange { .. })));
        assert!(matches!(parse_timestamptz("2024-01-31 13:00 Mars/Olympus"), Err(ParseError::InvalidSyntax { .. })));
        assert!(matches!(parse_timestamptz("2024-01-31 13:00+01 +02"), Err(ParseError::InvalidSyntax { .. })));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "-",
            "+",
            ".",
            ":",
            "::",
            "1:",
            ":1",
            "1::1",
            "1.2.3.4",
            "--1",
            "+-",
            "é",
            "2024-01-31 é",
            "99999999999999999999999-1-1",
            "1-1-99999999999999999999",
            "99999999999999999999:00",
            "2024-01-31 13:04:05.99999999999999999999",
            "2024-01-31 +99999999999999999999",
            "a-b-c",
            "1/2",
            "t",
            "bc",
            "am",
            "jan",
            "20240131 1",
            "0x",
            "\u{0}",
            "2024-01-31 -",
        ] {
            let _ = parse_date(s);
            let _ = parse_time(s);
            let _ = parse_timestamp(s);
            let _ = parse_timestamptz(s);
        }
    }
}
