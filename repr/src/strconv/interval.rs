//! `interval`: PostgreSQL's `EncodeInterval` for `IntervalStyle=postgres`, and
//! `interval_in` (`ParseDateTime` + `DecodeInterval`, then `DecodeISO8601Interval`).

use super::{is_pg_space, ParseError};
use crate::Interval;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
const DAYS_PER_MONTH: i32 = 30;
const MONTHS_PER_YEAR: i32 = 12;

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// `AddPostgresIntPart`: ` -1 days`, ` +2 mons`; each non-zero field decides whether the
/// next one gets an explicit `+`.
fn add_int_part(out: &mut String, value: i64, unit: &str, is_zero: &mut bool, is_before: &mut bool) {
    if value == 0 {
        return;
    }
    if !*is_zero {
        out.push(' ');
    }
    if *is_before && value > 0 {
        out.push('+');
    }
    out.push_str(&value.to_string());
    out.push(' ');
    out.push_str(unit);
    if value != 1 {
        out.push('s');
    }
    *is_before = value < 0;
    *is_zero = false;
}

/// `interval` output in PostgreSQL style: `1 year 2 mons 3 days 04:05:06.5`,
/// `-1 days +02:00:00`, `00:00:00`, `-00:00:01`.
pub fn format_interval(iv: &Interval, out: &mut String) {
    let year = i64::from(iv.months / MONTHS_PER_YEAR);
    let mon = i64::from(iv.months % MONTHS_PER_YEAR);
    let mday = i64::from(iv.days);
    let time = iv.micros;
    let hour = time / USECS_PER_HOUR;
    let rest = time - hour * USECS_PER_HOUR;
    let min = rest / USECS_PER_MINUTE;
    let rest = rest - min * USECS_PER_MINUTE;
    let sec = rest / USECS_PER_SEC;
    let fsec = rest - sec * USECS_PER_SEC;

    let mut is_zero = true;
    let mut is_before = false;
    add_int_part(out, year, "year", &mut is_zero, &mut is_before);
    add_int_part(out, mon, "mon", &mut is_zero, &mut is_before);
    add_int_part(out, mday, "day", &mut is_zero, &mut is_before);
    if is_zero || hour != 0 || min != 0 || sec != 0 || fsec != 0 {
        let minus = hour < 0 || min < 0 || sec < 0 || fsec < 0;
        if !is_zero {
            out.push(' ');
        }
        if minus {
            out.push('-');
        } else if is_before {
            out.push('+');
        }
        let two = |out: &mut String, v: u64| {
            if v < 10 {
                out.push('0');
            }
            out.push_str(&v.to_string());
        };
        two(out, hour.unsigned_abs());
        out.push(':');
        two(out, min.unsigned_abs());
        out.push(':');
        two(out, sec.unsigned_abs());
        super::datetime::push_fraction(out, fsec.unsigned_abs() as u32);
    }
}

// ---------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------

/// Why interval input was rejected: PostgreSQL's `DTERR_BAD_FORMAT` (try ISO 8601, then
/// `invalid input syntax`) or `DTERR_FIELD_OVERFLOW` / `interval out of range`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Err {
    BadFormat,
    Overflow,
}

/// PostgreSQL's `pg_itm_in`: the fields accumulated while decoding.
#[derive(Debug, Default)]
struct ItmIn {
    usec: i64,
    mday: i32,
    mon: i32,
    year: i32,
}

impl ItmIn {
    /// `int64_multiply_add` into the microseconds.
    fn add_usec(&mut self, val: i64, scale: i64) -> Result<(), Err> {
        let product = val.checked_mul(scale).ok_or(Err::Overflow)?;
        self.usec = self.usec.checked_add(product).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `AdjustFractMicroseconds`.
    fn adjust_fract_microseconds(&mut self, frac: f64, scale: i64) -> Result<(), Err> {
        if frac == 0.0 {
            return Ok(());
        }
        let frac = frac * scale as f64;
        if !frac.is_finite() || frac.abs() >= 9.2e18 {
            return Err(Err::Overflow);
        }
        let mut usec = frac.trunc() as i64;
        let rest = frac - usec as f64;
        usec += rest.round_ties_even() as i64;
        self.usec = self.usec.checked_add(usec).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `AdjustFractDays`.
    fn adjust_fract_days(&mut self, frac: f64, scale: i32) -> Result<(), Err> {
        if frac == 0.0 {
            return Ok(());
        }
        let frac = frac * f64::from(scale);
        let extra_days = frac.trunc() as i32;
        self.mday = self.mday.checked_add(extra_days).ok_or(Err::Overflow)?;
        self.adjust_fract_microseconds(frac - f64::from(extra_days), USECS_PER_DAY)
    }

    /// `AdjustFractYears`.
    fn adjust_fract_years(&mut self, frac: f64, scale: i32) -> Result<(), Err> {
        let extra = (frac * f64::from(scale) * f64::from(MONTHS_PER_YEAR)).round_ties_even();
        if !extra.is_finite() || extra.abs() > f64::from(i32::MAX) {
            return Err(Err::Overflow);
        }
        self.mon = self.mon.checked_add(extra as i32).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `AdjustMicroseconds`.
    fn adjust_microseconds(&mut self, val: i64, fval: f64, scale: i64) -> Result<(), Err> {
        self.add_usec(val, scale)?;
        self.adjust_fract_microseconds(fval, scale)
    }

    /// `AdjustDays`.
    fn adjust_days(&mut self, val: i64, scale: i64) -> Result<(), Err> {
        let days = val.checked_mul(scale).and_then(|d| i32::try_from(d).ok()).ok_or(Err::Overflow)?;
        self.mday = self.mday.checked_add(days).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `AdjustMonths`.
    fn adjust_months(&mut self, val: i64) -> Result<(), Err> {
        let months = i32::try_from(val).map_err(|_| Err::Overflow)?;
        self.mon = self.mon.checked_add(months).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `AdjustYears`.
    fn adjust_years(&mut self, val: i64, scale: i64) -> Result<(), Err> {
        let years = val.checked_mul(scale).and_then(|y| i32::try_from(y).ok()).ok_or(Err::Overflow)?;
        self.year = self.year.checked_add(years).ok_or(Err::Overflow)?;
        Ok(())
    }

    /// `itmin2interval`.
    fn into_interval(self) -> Result<Interval, Err> {
        let months = i64::from(self.year) * i64::from(MONTHS_PER_YEAR) + i64::from(self.mon);
        let months = i32::try_from(months).map_err(|_| Err::Overflow)?;
        Ok(Interval::new(months, self.mday, self.usec))
    }
}

/// A field of interval input as `ParseDateTime` classifies it.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// `5`, `1.5`, `.5`, `-1.5`, `1-2` (years-months).
    Number(String),
    /// `01:02:03.5`, unsigned.
    Time(String),
    /// A signed field: `-01:02:03`, `-1.5`, `+1-2`.
    Signed(String),
    /// A lower-cased word: a unit or `ago`.
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Field>, Err> {
    let b = s.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_pg_space(c as char) {
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
                fields.push(Field::Time(s[start..i].to_string()));
                continue;
            }
            if i < b.len() && matches!(b[i], b'-' | b'/' | b'.') {
                let delim = b[i];
                i += 1;
                if i < b.len() && b[i].is_ascii_digit() {
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    if i < b.len() && b[i] == delim {
                        while i < b.len() && (b[i].is_ascii_digit() || b[i] == delim) {
                            i += 1;
                        }
                    }
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == delim) {
                        i += 1;
                    }
                }
            }
            fields.push(Field::Number(s[start..i].to_string()));
        } else if c == b'.' {
            let start = i;
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            fields.push(Field::Number(s[start..i].to_string()));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            fields.push(Field::Word(s[start..i].to_ascii_lowercase()));
        } else if c == b'+' || c == b'-' {
            let sign = c as char;
            i += 1;
            while i < b.len() && is_pg_space(b[i] as char) {
                i += 1;
            }
            if i < b.len() && b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b':' | b'.' | b'-')) {
                    i += 1;
                }
                fields.push(Field::Signed(format!("{sign}{}", &s[start..i])));
            } else {
                return Err(Err::BadFormat);
            }
        } else if c.is_ascii_punctuation() {
            // `@` and other punctuation only delimit fields.
            i += 1;
        } else {
            return Err(Err::BadFormat);
        }
    }
    Ok(fields)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
    /// What follows `ago`: a number there is an error.
    Invalid,
}

impl Unit {
    fn mask(self) -> u32 {
        1 << (self as u32)
    }
}

const ALL_SECS_MASK: u32 =
    (1 << Unit::Second as u32) | (1 << Unit::Millisecond as u32) | (1 << Unit::Microsecond as u32);
const TIME_MASK: u32 = ALL_SECS_MASK | (1 << Unit::Minute as u32) | (1 << Unit::Hour as u32);

enum Word {
    Unit(Unit),
    Ago,
}

/// PostgreSQL's `deltatktbl`, looked up by the first 10 characters as `DecodeUnits` does.
fn decode_unit(word: &str) -> Option<Word> {
    let key = &word[..word.len().min(10)];
    let unit = match key {
        "ago" => return Some(Word::Ago),
        "us" | "usec" | "usecs" | "usecond" | "useconds" | "microsecon" => Unit::Microsecond,
        "ms" | "msec" | "msecs" | "msecond" | "mseconds" | "millisecon" => Unit::Millisecond,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "week" | "weeks" => Unit::Week,
        "mon" | "mons" | "month" | "months" => Unit::Month,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        "dec" | "decs" | "decade" | "decades" => Unit::Decade,
        "c" | "cent" | "century" | "centuries" => Unit::Century,
        "mil" | "mils" | "millennium" | "millennia" => Unit::Millennium,
        _ => return None,
    };
    Some(Word::Unit(unit))
}

/// C's `strtod` on a whole string of the form `.digits` (PostgreSQL's `ParseFraction`).
fn parse_fraction(s: &str) -> Result<f64, Err> {
    if s == "." {
        return Ok(0.0);
    }
    let digits = s.strip_prefix('.').ok_or(Err::BadFormat)?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Err::BadFormat);
    }
    s.parse::<f64>().map_err(|_| Err::BadFormat)
}

/// `strtoi64(s, &end, 10)`: optional sign, digits (possibly none); the value and the rest.
fn strtoi64(s: &str) -> Result<(i64, &str), Err> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = matches!(b.first(), Some(b'-'));
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        let d = i64::from(b[i] - b'0');
        v = v
            .checked_mul(10)
            .and_then(|v| if neg { v.checked_sub(d) } else { v.checked_add(d) })
            .ok_or(Err::Overflow)?;
        i += 1;
    }
    if i == start {
        // No digits: nothing converted, the whole string remains.
        return Ok((0, s));
    }
    Ok((v, &s[i..]))
}

/// PostgreSQL's `DecodeTimeCommon` for intervals: `h:m`, `h:m:s[.f]`, `m:s.f`, as
/// microseconds.
fn decode_time(s: &str) -> Result<i64, Err> {
    let (hour, rest) = strtoi64(s)?;
    let rest = rest.strip_prefix(':').ok_or(Err::BadFormat)?;
    let (min, rest) = strtoi64(rest)?;
    let (hour, min, sec, fsec) = if rest.is_empty() {
        (hour, min, 0, 0.0)
    } else if rest.starts_with('.') {
        // mm:ss.fff
        (0, hour, min, parse_fraction(rest)?)
    } else if let Some(rest) = rest.strip_prefix(':') {
        let (sec, rest) = strtoi64(rest)?;
        let fsec = if rest.is_empty() { 0.0 } else { parse_fraction(rest)? };
        (hour, min, sec, fsec)
    } else {
        return Err(Err::BadFormat);
    };
    let fsec = (fsec * 1e6).round_ties_even() as i64;
    if hour < 0 || !(0..=59).contains(&min) || !(0..=60).contains(&sec) || !(0..=USECS_PER_SEC).contains(&fsec) {
        return Err(Err::Overflow);
    }
    let mut usec = fsec;
    for (v, scale) in [(hour, USECS_PER_HOUR), (min, USECS_PER_MINUTE), (sec, USECS_PER_SEC)] {
        usec = v.checked_mul(scale).and_then(|p| p.checked_add(usec)).ok_or(Err::Overflow)?;
    }
    Ok(usec)
}

/// PostgreSQL's `DecodeInterval` (IntervalStyle postgres), reading fields right to left so
/// that units apply to the numbers before them.
fn decode_interval(fields: &[Field]) -> Result<Interval, Err> {
    let mut itm = ItmIn::default();
    let mut fmask: u32 = 0;
    let mut is_before = false;
    let mut unit: Option<Unit> = None;
    for field in fields.iter().rev() {
        let tmask: u32;
        match field {
            Field::Time(s) => {
                itm.usec = decode_time(s)?;
                tmask = TIME_MASK;
                unit = Some(Unit::Day);
            }
            Field::Signed(s) if s[1..].contains(':') && decode_time(&s[1..]).is_ok() => {
                let usec = decode_time(&s[1..])?;
                itm.usec = if s.starts_with('-') { -usec } else { usec };
                tmask = TIME_MASK;
                unit = Some(Unit::Day);
            }
            Field::Signed(s) | Field::Number(s) => {
                let mut ty = unit.unwrap_or(Unit::Second);
                let (mut val, rest) = strtoi64(s)?;
                let fval;
                if let Some(months) = rest.strip_prefix('-') {
                    // SQL "years-months" syntax.
                    let (m, end) = strtoi64(months)?;
                    if months.starts_with(['-', '+']) || !(0..MONTHS_PER_YEAR as i64).contains(&m) {
                        return Err(Err::Overflow);
                    }
                    if !end.is_empty() {
                        return Err(Err::BadFormat);
                    }
                    ty = Unit::Month;
                    let m = if s.starts_with('-') { -m } else { m };
                    val =
                        val.checked_mul(MONTHS_PER_YEAR.into()).and_then(|v| v.checked_add(m)).ok_or(Err::Overflow)?;
                    fval = 0.0;
                } else if rest.starts_with('.') {
                    let f = parse_fraction(rest)?;
                    fval = if s.starts_with('-') { -f } else { f };
                } else if rest.is_empty() {
                    fval = 0.0;
                } else {
                    return Err(Err::BadFormat);
                }
                match ty {
                    Unit::Microsecond => itm.adjust_microseconds(val, fval, 1)?,
                    Unit::Millisecond => itm.adjust_microseconds(val, fval, 1000)?,
                    Unit::Second => itm.adjust_microseconds(val, fval, USECS_PER_SEC)?,
                    Unit::Minute => itm.adjust_microseconds(val, fval, USECS_PER_MINUTE)?,
                    Unit::Hour => itm.adjust_microseconds(val, fval, USECS_PER_HOUR)?,
                    Unit::Day => {
                        itm.adjust_days(val, 1)?;
                        itm.adjust_fract_microseconds(fval, USECS_PER_DAY)?;
                    }
                    Unit::Week => {
                        itm.adjust_days(val, 7)?;
                        itm.adjust_fract_days(fval, 7)?;
                    }
                    Unit::Month => {
                        itm.adjust_months(val)?;
                        itm.adjust_fract_days(fval, DAYS_PER_MONTH)?;
                    }
                    Unit::Year => {
                        itm.adjust_years(val, 1)?;
                        itm.adjust_fract_years(fval, 1)?;
                    }
                    Unit::Decade => {
                        itm.adjust_years(val, 10)?;
                        itm.adjust_fract_years(fval, 10)?;
                    }
                    Unit::Century => {
                        itm.adjust_years(val, 100)?;
                        itm.adjust_fract_years(fval, 100)?;
                    }
                    Unit::Millennium => {
                        itm.adjust_years(val, 1000)?;
                        itm.adjust_fract_years(fval, 1000)?;
                    }
                    Unit::Invalid => return Err(Err::BadFormat),
                }
                tmask = match ty {
                    Unit::Second if fval != 0.0 => ALL_SECS_MASK,
                    t => t.mask(),
                };
                if ty == Unit::Hour {
                    unit = Some(Unit::Day);
                }
            }
            Field::Word(w) => {
                match decode_unit(w).ok_or(Err::BadFormat)? {
                    Word::Unit(u) => unit = Some(u),
                    Word::Ago => {
                        is_before = true;
                        unit = Some(Unit::Invalid);
                    }
                }
                tmask = 0;
            }
        }
        if tmask & fmask != 0 {
            return Err(Err::BadFormat);
        }
        fmask |= tmask;
    }
    if fmask == 0 {
        return Err(Err::BadFormat);
    }
    if is_before {
        itm.usec = itm.usec.checked_neg().ok_or(Err::Overflow)?;
        itm.mday = itm.mday.checked_neg().ok_or(Err::Overflow)?;
        itm.mon = itm.mon.checked_neg().ok_or(Err::Overflow)?;
        itm.year = itm.year.checked_neg().ok_or(Err::Overflow)?;
    }
    itm.into_interval()
}

/// `ParseISO8601Number`: a `strtod` prefix of `s` (must start with a digit, `-` or `.`),
/// split into integer and fractional parts; the value and the rest of the string.
fn parse_iso_number(s: &str) -> Result<(i64, f64, &str), Err> {
    let b = s.as_bytes();
    if !matches!(b.first(), Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'.') {
        return Err(Err::BadFormat);
    }
    let mut i = usize::from(b[0] == b'-');
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return Err(Err::BadFormat);
    }
    // An exponent only counts if digits follow it.
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    let val: f64 = s[..i].parse().map_err(|_| Err::BadFormat)?;
    if val.is_nan() || !(-1.0e15..=1.0e15).contains(&val) {
        return Err(Err::Overflow);
    }
    let ipart = val.trunc();
    Ok((ipart as i64, val - ipart, &s[i..]))
}

/// Digits at the start of an ISO 8601 field, after an optional `-`
/// (`ISO8601IntegerWidth`).
fn iso_integer_width(field: &str) -> usize {
    let field = field.strip_prefix('-').unwrap_or(field);
    field.bytes().take_while(u8::is_ascii_digit).count()
}

/// What follows one field of the alternative format.
enum Next<'a> {
    Done,
    Time(&'a str),
}

/// The date part of the ISO 8601 alternative format after its first number:
/// `Y[-M[-D]]`, each optionally followed by `T` and a time part.
fn iso_alternative_date<'a>(
    itm: &mut ItmIn,
    val: i64,
    fval: f64,
    unit: Option<u8>,
    rest: &'a str,
) -> Result<Next<'a>, Err> {
    itm.adjust_years(val, 1)?;
    itm.adjust_fract_years(fval, 1)?;
    match unit {
        None => return Ok(Next::Done),
        Some(b'T') => return Ok(Next::Time(rest)),
        _ => {}
    }
    let (val, fval, rest) = parse_iso_number(rest)?;
    itm.adjust_months(val)?;
    itm.adjust_fract_days(fval, DAYS_PER_MONTH)?;
    let rest = match rest.as_bytes().first() {
        None => return Ok(Next::Done),
        Some(b'T') => return Ok(Next::Time(&rest[1..])),
        Some(b'-') => &rest[1..],
        _ => return Err(Err::BadFormat),
    };
    let (val, fval, rest) = parse_iso_number(rest)?;
    itm.adjust_days(val, 1)?;
    itm.adjust_fract_microseconds(fval, USECS_PER_DAY)?;
    match rest.as_bytes().first() {
        None => Ok(Next::Done),
        Some(b'T') => Ok(Next::Time(&rest[1..])),
        _ => Err(Err::BadFormat),
    }
}

/// The time part of the ISO 8601 alternative format after its first number: `H[:M[:S]]`.
fn iso_alternative_time(itm: &mut ItmIn, val: i64, fval: f64, unit: Option<u8>, rest: &str) -> Result<(), Err> {
    itm.adjust_microseconds(val, fval, USECS_PER_HOUR)?;
    if unit.is_none() {
        return Ok(());
    }
    let (val, fval, rest) = parse_iso_number(rest)?;
    itm.adjust_microseconds(val, fval, USECS_PER_MINUTE)?;
    let rest = match rest.as_bytes().first() {
        None => return Ok(()),
        Some(b':') => &rest[1..],
        _ => return Err(Err::BadFormat),
    };
    let (val, fval, rest) = parse_iso_number(rest)?;
    itm.adjust_microseconds(val, fval, USECS_PER_SEC)?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Err::BadFormat)
    }
}

/// PostgreSQL's `DecodeISO8601Interval`: the designator format `P1Y2M3W4DT5H6M7.5S`
/// (fractions allowed on every field, cascading down as PostgreSQL does) and the
/// alternative formats `P0001-02-03T04:05:06` and `P00010203T040506`.
fn decode_iso8601(s: &str) -> Result<Interval, Err> {
    if s.len() < 2 {
        return Err(Err::BadFormat);
    }
    let mut rest = s.strip_prefix('P').ok_or(Err::BadFormat)?;
    let mut itm = ItmIn::default();
    let mut datepart = true;
    let mut havefield = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('T') {
            datepart = false;
            havefield = false;
            rest = r;
            continue;
        }
        let fieldstart = rest;
        let (val, fval, r) = parse_iso_number(rest)?;
        let unit = r.as_bytes().first().copied();
        rest = r.get(1..).unwrap_or("");
        match (datepart, unit) {
            (true, Some(b'Y')) => {
                itm.adjust_years(val, 1)?;
                itm.adjust_fract_years(fval, 1)?;
            }
            (true, Some(b'M')) => {
                itm.adjust_months(val)?;
                itm.adjust_fract_days(fval, DAYS_PER_MONTH)?;
            }
            (true, Some(b'W')) => {
                itm.adjust_days(val, 7)?;
                itm.adjust_fract_days(fval, 7)?;
            }
            (true, Some(b'D')) => {
                itm.adjust_days(val, 1)?;
                itm.adjust_fract_microseconds(fval, USECS_PER_DAY)?;
            }
            (true, None | Some(b'T')) if iso_integer_width(fieldstart) == 8 && !havefield => {
                // Basic alternative format: YYYYMMDD.
                itm.adjust_years(val / 10000, 1)?;
                itm.adjust_months((val / 100) % 100)?;
                itm.adjust_days(val % 100, 1)?;
                itm.adjust_fract_microseconds(fval, USECS_PER_DAY)?;
                if unit.is_none() {
                    break;
                }
                datepart = false;
                havefield = false;
                continue;
            }
            (true, None | Some(b'T' | b'-')) => {
                if havefield {
                    return Err(Err::BadFormat);
                }
                match iso_alternative_date(&mut itm, val, fval, unit, rest)? {
                    Next::Done => break,
                    Next::Time(r) => {
                        rest = r;
                        datepart = false;
                        havefield = false;
                        continue;
                    }
                }
            }
            (false, Some(b'H')) => itm.adjust_microseconds(val, fval, USECS_PER_HOUR)?,
            (false, Some(b'M')) => itm.adjust_microseconds(val, fval, USECS_PER_MINUTE)?,
            (false, Some(b'S')) => itm.adjust_microseconds(val, fval, USECS_PER_SEC)?,
            (false, None) if iso_integer_width(fieldstart) == 6 && !havefield => {
                // Basic alternative format: HHMMSS.
                itm.adjust_microseconds(val / 10000, 0.0, USECS_PER_HOUR)?;
                itm.adjust_microseconds((val / 100) % 100, 0.0, USECS_PER_MINUTE)?;
                itm.adjust_microseconds(val % 100, 0.0, USECS_PER_SEC)?;
                itm.adjust_fract_microseconds(fval, 1)?;
                break;
            }
            (false, None | Some(b':')) => {
                if havefield {
                    return Err(Err::BadFormat);
                }
                iso_alternative_time(&mut itm, val, fval, unit, rest)?;
                break;
            }
            _ => return Err(Err::BadFormat),
        }
        havefield = true;
    }
    itm.into_interval()
}

/// `interval` input: PostgreSQL's verbose forms (`1 year 2 months 3 days 4 hours 5
/// minutes 6.5 seconds`, `1 day 02:03:04`, `-1 day +02:00`, `@ 1 hour ago`, `1-2` for
/// years-months, a bare number as seconds; units singular, plural or abbreviated: `us`,
/// `ms`, `secs`, `mins`, `hrs`, `d`, `weeks`, `mons`, `yrs`, `decades`, `centuries`,
/// `millennia`) and ISO 8601 designators (`P1Y2M3DT4H5M6S`).
pub fn parse_interval(text: &str) -> Result<Interval, ParseError> {
    const TY: &str = "interval";
    let result = tokenize(text).and_then(|fields| decode_interval(&fields));
    let result = match result {
        Err(Err::BadFormat) => decode_iso8601(text),
        other => other,
    };
    result.map_err(|e| match e {
        Err::BadFormat => ParseError::syntax(TY, text),
        Err::Overflow => ParseError::out_of_range(TY, text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(months: i32, days: i32, micros: i64) -> String {
        let mut s = String::new();
        format_interval(&Interval::new(months, days, micros), &mut s);
        s
    }

    fn parsed(text: &str) -> String {
        let iv = parse_interval(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let mut s = String::new();
        format_interval(&iv, &mut s);
        s
    }

    #[test]
    fn output_matches_postgres() {
        assert_eq!(fmt(0, 0, 0), "00:00:00");
        assert_eq!(fmt(0, 1, 0), "1 day");
        assert_eq!(fmt(0, -1, 0), "-1 days");
        assert_eq!(fmt(0, 2, 0), "2 days");
        assert_eq!(fmt(1, 0, 0), "1 mon");
        assert_eq!(fmt(12, 0, 0), "1 year");
        assert_eq!(fmt(-14, 0, 0), "-1 years -2 mons");
        assert_eq!(
            fmt(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6_500_000),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(fmt(0, -1, 2 * USECS_PER_HOUR), "-1 days +02:00:00");
        assert_eq!(fmt(0, 1, -USECS_PER_HOUR), "1 day -01:00:00");
        assert_eq!(fmt(-1, 1, 0), "-1 mons +1 day");
        assert_eq!(fmt(1, -1, 0), "1 mon -1 days");
        assert_eq!(fmt(10, 3, -4 * USECS_PER_HOUR), "10 mons 3 days -04:00:00");
        assert_eq!(fmt(0, 0, -USECS_PER_SEC), "-00:00:01");
        assert_eq!(fmt(0, 0, -1), "-00:00:00.000001");
        assert_eq!(fmt(0, 0, 100_000), "00:00:00.1");
        assert_eq!(fmt(0, 0, 123_456), "00:00:00.123456");
        assert_eq!(fmt(0, 0, 100 * USECS_PER_HOUR), "100:00:00");
        assert_eq!(fmt(-13, -1, -1), "-1 years -1 mons -1 days -00:00:00.000001");
        assert_eq!(fmt(0, -1, -USECS_PER_HOUR), "-1 days -01:00:00");
        assert_eq!(fmt(1, 0, USECS_PER_SEC), "1 mon 00:00:01");
        assert_eq!(fmt(-1, 0, USECS_PER_SEC), "-1 mons +00:00:01");
        assert_eq!(
            fmt(i32::MIN, i32::MIN, i64::MIN),
            "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808"
        );
        assert_eq!(fmt(i32::MAX, i32::MAX, i64::MAX), "178956970 years 7 mons 2147483647 days 2562047788:00:54.775807");
    }

    #[test]
    fn verbose_input() {
        assert_eq!(parsed("1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds"), "1 year 2 mons 3 days 04:05:06.5");
        assert_eq!(parsed("-1 day 2 hours"), "-1 days +02:00:00");
        assert_eq!(parsed("0"), "00:00:00");
        assert_eq!(parsed("-1 second"), "-00:00:01");
        assert_eq!(parsed("1 day"), "1 day");
        assert_eq!(parsed("-1 day"), "-1 days");
        assert_eq!(parsed("-1 year -2 mons"), "-1 years -2 mons");
        assert_eq!(parsed("1 year -2 mons 3 days -04:00:00"), "10 mons 3 days -04:00:00");
        assert_eq!(parsed("@ 1 hour ago"), "-01:00:00");
        assert_eq!(parsed("@ 1 year 2 mons ago"), "-1 years -2 mons");
        assert_eq!(parsed("1.5 years"), "1 year 6 mons");
        assert_eq!(parsed("1.5 months"), "1 mon 15 days");
        assert_eq!(parsed("1.5 weeks"), "10 days 12:00:00");
        assert_eq!(parsed("1.5 days"), "1 day 12:00:00");
        assert_eq!(parsed("0.1 seconds"), "00:00:00.1");
        assert_eq!(parsed("-0.000001 s"), "-00:00:00.000001");
        assert_eq!(parsed("1-2"), "1 year 2 mons");
        assert_eq!(parsed("-1-2"), "-1 years -2 mons");
        assert_eq!(parsed("5"), "00:00:05");
        assert_eq!(parsed("1 2:03"), "1 day 02:03:00");
        assert_eq!(parsed("2:03.5"), "00:02:03.5");
        assert_eq!(parsed("1 day 02:03:04"), "1 day 02:03:04");
        assert_eq!(parsed("1 day -02:03:04"), "1 day -02:03:04");
        assert_eq!(parsed("-02:03:04"), "-02:03:04");
        assert_eq!(parsed("1 day -1 hours"), "1 day -01:00:00");
        assert_eq!(parsed("-1 month 1 day"), "-1 mons +1 day");
        assert_eq!(parsed("1 mon -1 day"), "1 mon -1 days");
        assert_eq!(parsed("10 mins"), "00:10:00");
        assert_eq!(parsed("3 hrs 2 secs"), "03:00:02");
        assert_eq!(parsed("5 ms"), "00:00:00.005");
        assert_eq!(parsed("5 us"), "00:00:00.000005");
        assert_eq!(parsed("7 microseconds"), "00:00:00.000007");
        assert_eq!(parsed("7 milliseconds"), "00:00:00.007");
        assert_eq!(parsed("1.5 ms"), "00:00:00.0015");
        assert_eq!(parsed("2 weeks"), "14 days");
        assert_eq!(parsed("2 decades"), "20 years");
        assert_eq!(parsed("2 centuries"), "200 years");
        assert_eq!(parsed("1 millennium"), "1000 years");
        assert_eq!(parsed("1.5 centuries"), "150 years");
        assert_eq!(parsed("1day"), "1 day");
        assert_eq!(parsed("  1 DAY  "), "1 day");
        assert_eq!(parsed("1 d 2 h 3 m 4 s"), "1 day 02:03:04");
        assert_eq!(parsed("1 y 2 mon"), "1 year 2 mons");
        assert_eq!(parsed("-1.5 hours"), "-01:30:00");
        assert_eq!(parsed(".5 hours"), "00:30:00");
        assert_eq!(parsed("1 hour 30"), "01:00:30");
        assert_eq!(parsed("1 day, 2 hours"), "1 day 02:00:00");
        assert_eq!(parsed("100:00:00"), "100:00:00");
        assert_eq!(parsed("0.0000005 seconds"), "00:00:00");
        // PostgreSQL: 1.5 microseconds -> 1 + rint(0.5) = 1, but rint(1.5) = 2 in a time field.
        assert_eq!(parsed("0.0000015 seconds"), "00:00:00.000001");
        assert_eq!(parsed("0.0000025 seconds"), "00:00:00.000002");
        assert_eq!(parsed("00:00:00.0000015"), "00:00:00.000002");
        assert_eq!(parsed("1.0000015 s"), "00:00:01.000001");
        assert_eq!(parsed("1 day 1.5 hours"), "1 day 01:30:00");
    }

    #[test]
    fn iso8601_input() {
        assert_eq!(parsed("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(parsed("P1W"), "7 days");
        assert_eq!(parsed("PT1.5S"), "00:00:01.5");
        assert_eq!(parsed("P0.5Y"), "6 mons");
        assert_eq!(parsed("P1.5M"), "1 mon 15 days");
        assert_eq!(parsed("PT36H"), "36:00:00");
        assert_eq!(parsed("P-1Y-2M"), "-1 years -2 mons");
        assert_eq!(parsed("PT-1H30M"), "-00:30:00");
        assert_eq!(parsed("P1DT"), "1 day");
        assert_eq!(parsed("PT"), "00:00:00");
        assert_eq!(parsed("P1"), "1 year");
        assert_eq!(parsed("P1-2"), "1 year 2 mons");
        assert_eq!(parsed("P1-2-3"), "1 year 2 mons 3 days");
        assert_eq!(parsed("P1-2-3T4:5:6"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(parsed("P0001-02-03T04:05:06.5"), "1 year 2 mons 3 days 04:05:06.5");
        assert_eq!(parsed("P00010203"), "1 year 2 mons 3 days");
        assert_eq!(parsed("P00010203T040506"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(parsed("PT040506"), "04:05:06");
        assert_eq!(parsed("PT04:05"), "04:05:00");
        assert_eq!(parsed("P1T2"), "1 year 02:00:00");
        assert_eq!(parsed("P1Y2MT"), "1 year 2 mons");
        for bad in ["P", "P1H", "PT1D", "P1Y2", "PX", " P1Y", "P1Y ", "p1y", "PT1H2", "P1Y-2", "P1-2-3-4", "PT1:2:3:4"]
        {
            assert_eq!(parse_interval(bad), Err(ParseError::syntax("interval", bad)), "{bad:?}");
        }
    }

    #[test]
    fn input_errors() {
        for bad in [
            "",
            " ",
            "abc",
            "1 fortnight",
            "1 day 2 days",
            "1 2",
            "ago",
            "@",
            "1 ago",
            "1 hour 01:00:00",
            "1.2.3 days",
            "1-2-3",
            "1:2:3:4",
            "1 day é",
            "-",
            "+ day",
            "1 sec 1.5 sec",
            "01:00:00 5 ms",
        ] {
            assert_eq!(parse_interval(bad), Err(ParseError::syntax("interval", bad)), "{bad:?}");
        }
        for range in [
            "2147483648 days",
            "2147483647 years",
            "178956971 years",
            "9223372036854775807 hours",
            "99999999999999999999 seconds",
            "1-12",
            "01:60:00",
            "P1e20Y",
        ] {
            assert_eq!(parse_interval(range), Err(ParseError::out_of_range("interval", range)), "{range:?}");
        }
        assert_eq!(parsed("2147483647 days"), "2147483647 days");
        assert_eq!(parsed("-2147483648 days"), "-2147483648 days");
        assert_eq!(parsed("178956970 years 7 months"), "178956970 years 7 mons");
    }

    #[test]
    fn round_trips() {
        for (m, d, us) in [
            (0, 0, 0),
            (14, 3, 14_706_500_000),
            (-14, -3, -14_706_500_000),
            (0, -1, 7_200_000_000),
            (1, -1, 1),
            (-1, 1, -1),
            (i32::MAX, i32::MAX, i64::MAX),
            (i32::MIN + 1, i32::MIN + 1, i64::MIN + 1),
        ] {
            let text = fmt(m, d, us);
            let iv = parse_interval(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((iv.months, iv.days, iv.micros), (m, d, us), "{text}");
        }
    }
}
