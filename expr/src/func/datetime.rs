//! Date, time, timestamp and interval arithmetic and functions (timestamp.c, date.c),
//! with the session time zone fixed at UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use eddy_repr::strconv::{date_infinity, infinite_date, infinite_timestamp, timestamp_infinity};
use eddy_repr::{Datum, Interval};
use rust_decimal::Decimal;

use super::numeric::{as_f64, num_add, numeric_div};
use super::string::lower;
use super::{arity_error, type_error, Func, TimeType};
use crate::EvalError;

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
const SECS_PER_DAY: i64 = 86_400;
const DAYS_PER_MONTH: i32 = 30;
/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JDATE: i64 = 2_440_588;

fn ts_out_of_range() -> EvalError {
    EvalError::DatetimeOverflow("timestamp out of range".into())
}

fn date_out_of_range() -> EvalError {
    EvalError::DatetimeOverflow("date out of range".into())
}

fn interval_out_of_range() -> EvalError {
    EvalError::DatetimeOverflow("interval out of range".into())
}

/// The earliest date PostgreSQL supports: 4714-11-24 BC (Julian day 0).
fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(-4713, 11, 24).unwrap_or(NaiveDate::MIN)
}

/// A computed timestamp within range (chrono's last and first dates mean the infinities,
/// which arithmetic never makes: see [`infinite_argument`]).
fn check_ts(ts: NaiveDateTime) -> Result<NaiveDateTime, EvalError> {
    if ts.date() < min_date() || timestamp_infinity(&ts).is_some() {
        Err(ts_out_of_range())
    } else {
        Ok(ts)
    }
}

fn check_date(d: NaiveDate) -> Result<NaiveDate, EvalError> {
    if d < min_date() || date_infinity(&d).is_some() {
        Err(date_out_of_range())
    } else {
        Ok(d)
    }
}

pub(crate) fn as_timestamp(d: &Datum) -> Result<NaiveDateTime, EvalError> {
    match d {
        Datum::Timestamp(t) => Ok(*t),
        Datum::TimestampTz(t) => Ok(t.naive_utc()),
        Datum::Date(d) => Ok(d.and_time(NaiveTime::MIN)),
        other => Err(EvalError::Internal(format!("expected a timestamp, got {other:?}"))),
    }
}

fn ts_micros(ts: &NaiveDateTime) -> i64 {
    ts.and_utc().timestamp_micros()
}

fn micros_ts(us: i64) -> Result<NaiveDateTime, EvalError> {
    DateTime::from_timestamp_micros(us).map(|d| d.naive_utc()).ok_or_else(ts_out_of_range).and_then(check_ts)
}

fn time_micros(t: &NaiveTime) -> i64 {
    t.num_seconds_from_midnight() as i64 * USECS_PER_SEC + (t.nanosecond().min(999_999_999) / 1000) as i64
}

fn micros_time(us: i64) -> NaiveTime {
    let us = us.rem_euclid(USECS_PER_DAY);
    NaiveTime::from_num_seconds_from_midnight_opt((us / USECS_PER_SEC) as u32, ((us % USECS_PER_SEC) * 1000) as u32)
        .unwrap_or(NaiveTime::MIN)
}

fn julian_day(d: &NaiveDate) -> i64 {
    d.num_days_from_ce() as i64 + 1_721_425
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    match (NaiveDate::from_ymd_opt(ny, nm, 1), NaiveDate::from_ymd_opt(year, month, 1)) {
        (Some(a), Some(b)) => (a - b).num_days() as u32,
        _ => 31,
    }
}

fn add_days(d: NaiveDate, days: i64) -> Result<NaiveDate, EvalError> {
    d.checked_add_signed(chrono::Duration::try_days(days).ok_or_else(date_out_of_range)?).ok_or_else(date_out_of_range)
}

/// `timestamp + interval`: months first (clamping the day of month), then days, then
/// microseconds, as PostgreSQL's `timestamp_pl_interval`.
fn ts_add_interval(ts: NaiveDateTime, iv: &Interval) -> Result<NaiveDateTime, EvalError> {
    let mut ts = ts;
    if iv.months != 0 {
        let total = ts.year() as i64 * 12 + (ts.month0() as i64) + iv.months as i64;
        let year = i32::try_from(total.div_euclid(12)).map_err(|_| ts_out_of_range())?;
        let month = (total.rem_euclid(12) + 1) as u32;
        let day = ts.day().min(days_in_month(year, month));
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(ts_out_of_range)?;
        ts = date.and_time(ts.time());
    }
    if iv.days != 0 {
        let date = add_days(ts.date(), iv.days as i64).map_err(|_| ts_out_of_range())?;
        ts = date.and_time(ts.time());
    }
    let us = ts_micros(&ts).checked_add(iv.micros).ok_or_else(ts_out_of_range)?;
    micros_ts(us)
}

fn neg_interval(iv: &Interval) -> Result<Interval, EvalError> {
    Ok(Interval::new(
        iv.months.checked_neg().ok_or_else(interval_out_of_range)?,
        iv.days.checked_neg().ok_or_else(interval_out_of_range)?,
        iv.micros.checked_neg().ok_or_else(interval_out_of_range)?,
    ))
}

fn add_intervals(a: &Interval, b: &Interval) -> Result<Interval, EvalError> {
    Ok(Interval::new(
        a.months.checked_add(b.months).ok_or_else(interval_out_of_range)?,
        a.days.checked_add(b.days).ok_or_else(interval_out_of_range)?,
        a.micros.checked_add(b.micros).ok_or_else(interval_out_of_range)?,
    ))
}

fn justify_hours(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    let wholeday = r.micros / USECS_PER_DAY;
    r.micros -= wholeday * USECS_PER_DAY;
    r.days = i32::try_from(r.days as i64 + wholeday).map_err(|_| interval_out_of_range())?;
    if r.days > 0 && r.micros < 0 {
        r.micros += USECS_PER_DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= USECS_PER_DAY;
        r.days += 1;
    }
    Ok(r)
}

fn justify_days(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    let wholemonth = r.days / DAYS_PER_MONTH;
    r.days -= wholemonth * DAYS_PER_MONTH;
    r.months = r.months.checked_add(wholemonth).ok_or_else(interval_out_of_range)?;
    if r.months > 0 && r.days < 0 {
        r.days += DAYS_PER_MONTH;
        r.months -= 1;
    } else if r.months < 0 && r.days > 0 {
        r.days -= DAYS_PER_MONTH;
        r.months += 1;
    }
    Ok(r)
}

fn justify_interval(iv: Interval) -> Result<Interval, EvalError> {
    let mut r = iv;
    if (r.days > 0 && r.micros > 0) || (r.days < 0 && r.micros < 0) {
        let wholemonth = r.days / DAYS_PER_MONTH;
        r.days -= wholemonth * DAYS_PER_MONTH;
        r.months = r.months.checked_add(wholemonth).ok_or_else(interval_out_of_range)?;
    }
    let wholeday = r.micros / USECS_PER_DAY;
    r.micros -= wholeday * USECS_PER_DAY;
    let days = r.days as i64 + wholeday;
    let wholemonth = days / DAYS_PER_MONTH as i64;
    r.days = (days - wholemonth * DAYS_PER_MONTH as i64) as i32;
    r.months = i32::try_from(r.months as i64 + wholemonth).map_err(|_| interval_out_of_range())?;
    if r.months > 0 && (r.days < 0 || (r.days == 0 && r.micros < 0)) {
        r.days += DAYS_PER_MONTH;
        r.months -= 1;
    } else if r.months < 0 && (r.days > 0 || (r.days == 0 && r.micros > 0)) {
        r.days -= DAYS_PER_MONTH;
        r.months += 1;
    }
    if r.days > 0 && r.micros < 0 {
        r.micros += USECS_PER_DAY;
        r.days -= 1;
    } else if r.days < 0 && r.micros > 0 {
        r.micros -= USECS_PER_DAY;
        r.days += 1;
    }
    Ok(r)
}

fn ts_sub(a: &NaiveDateTime, b: &NaiveDateTime) -> Result<Interval, EvalError> {
    let diff = ts_micros(a).checked_sub(ts_micros(b)).ok_or_else(interval_out_of_range)?;
    justify_hours(Interval::new(0, 0, diff))
}

fn tsround(x: f64) -> f64 {
    (x * 1_000_000.0).round_ties_even() / 1_000_000.0
}

fn to_i32_checked(v: f64) -> Result<i32, EvalError> {
    if v.is_nan() || v > i32::MAX as f64 || v < i32::MIN as f64 {
        Err(interval_out_of_range())
    } else {
        Ok(v as i32)
    }
}

/// `interval * factor` (or `/ factor` with `divide`), as PostgreSQL 15's `interval_mul`
/// and `interval_div`: fractional months and days cascade down to days and seconds.
fn interval_scale(iv: &Interval, factor: f64, divide: bool) -> Result<Interval, EvalError> {
    if divide && factor == 0.0 {
        return Err(EvalError::DivisionByZero);
    }
    let apply = |x: f64| if divide { x / factor } else { x * factor };
    let months = to_i32_checked(apply(iv.months as f64))?;
    let mut days = to_i32_checked(apply(iv.days as f64))?;
    let month_remainder_days = tsround((apply(iv.months as f64) - months as f64) * DAYS_PER_MONTH as f64);
    let mut sec_remainder = tsround(
        (apply(iv.days as f64) - days as f64 + month_remainder_days - (month_remainder_days as i32) as f64)
            * SECS_PER_DAY as f64,
    );
    if sec_remainder.abs() >= SECS_PER_DAY as f64 {
        let whole = (sec_remainder / SECS_PER_DAY as f64) as i32;
        days = days.checked_add(whole).ok_or_else(interval_out_of_range)?;
        sec_remainder -= whole as f64 * SECS_PER_DAY as f64;
    }
    days = days.checked_add(month_remainder_days as i32).ok_or_else(interval_out_of_range)?;
    let micros = (apply(iv.micros as f64) + sec_remainder * USECS_PER_SEC as f64).round_ties_even();
    if micros.is_nan() || micros < i64::MIN as f64 || micros >= -(i64::MIN as f64) {
        return Err(interval_out_of_range());
    }
    Ok(Interval::new(months, days, micros as i64))
}

// ---- units ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Epoch,
    Dow,
    Doy,
    IsoDow,
    IsoYear,
    Julian,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

/// PostgreSQL's `DecodeUnits`/`DecodeSpecial` spellings (compared on 10 characters).
fn parse_unit(lowunits: &str) -> Option<Unit> {
    use Unit::*;
    let key: String = lowunits.chars().take(10).collect();
    Some(match key.as_str() {
        "microsecon" | "us" | "usec" | "usecond" | "useconds" | "usecs" => Microseconds,
        "millisecon" | "ms" | "msec" | "msecond" | "mseconds" | "msecs" => Milliseconds,
        "s" | "sec" | "second" | "seconds" | "secs" => Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Minute,
        "h" | "hour" | "hours" | "hr" | "hrs" => Hour,
        "d" | "day" | "days" => Day,
        "w" | "week" | "weeks" => Week,
        "mon" | "mons" | "month" | "months" => Month,
        "qtr" | "quarter" => Quarter,
        "y" | "year" | "years" | "yr" | "yrs" => Year,
        "dec" | "decade" | "decades" | "decs" => Decade,
        "c" | "cent" | "centuries" | "century" => Century,
        "mil" | "millennia" | "millennium" | "mils" => Millennium,
        "epoch" => Epoch,
        "dow" => Dow,
        "doy" => Doy,
        "isodow" => IsoDow,
        "isoyear" => IsoYear,
        "j" | "jd" | "julian" => Julian,
        "timezone" => Timezone,
        "timezone_h" => TimezoneHour,
        "timezone_m" => TimezoneMinute,
        _ => return None,
    })
}

fn type_name(t: TimeType) -> &'static str {
    match t {
        TimeType::Date => "date",
        TimeType::Time => "time without time zone",
        TimeType::Timestamp => "timestamp without time zone",
        TimeType::TimestampTz => "timestamp with time zone",
        TimeType::Interval => "interval",
    }
}

fn unit_of(units: &str, t: TimeType) -> Result<(Unit, String), EvalError> {
    let low = lower(units);
    match parse_unit(&low) {
        Some(u) => Ok((u, low)),
        None => Err(EvalError::invalid_argument(format!("unit \"{low}\" not recognized for type {}", type_name(t)))),
    }
}

fn unsupported(low: &str, t: TimeType) -> EvalError {
    EvalError::InvalidArgument {
        sqlstate: "0A000".into(),
        message: format!("unit \"{low}\" not supported for type {}", type_name(t)),
    }
}

// ---- date_trunc ----

fn trunc_timestamp(units: &str, ts: NaiveDateTime, t: TimeType) -> Result<NaiveDateTime, EvalError> {
    use Unit::*;
    let (unit, low) = unit_of(units, t)?;
    let (mut year, mut mon, mut mday) = (ts.year(), ts.month() as i32, ts.day() as i32);
    let (mut hour, mut min, mut sec) = (ts.hour() as i32, ts.minute() as i32, ts.second() as i32);
    let mut fsec = (ts.nanosecond().min(999_999_999) / 1000) as i64;
    if unit == Week {
        let monday = ts.date() - chrono::Duration::days(ts.weekday().num_days_from_monday() as i64);
        return check_ts(monday.and_time(NaiveTime::MIN));
    }
    let level = match unit {
        Millennium => 0,
        Century => 1,
        Decade => 2,
        Year => 3,
        Quarter => 4,
        Month => 5,
        Day => 6,
        Hour => 7,
        Minute => 8,
        Second => 9,
        Milliseconds => 10,
        Microseconds => 11,
        _ => return Err(unsupported(&low, t)),
    };
    if unit == Millennium {
        year = if year > 0 { ((year + 999) / 1000) * 1000 - 999 } else { -((999 - (year - 1)) / 1000) * 1000 + 1 };
    }
    if level <= 1 {
        year = if year > 0 { ((year + 99) / 100) * 100 - 99 } else { -((99 - (year - 1)) / 100) * 100 + 1 };
    }
    if level == 2 {
        year = if year > 0 { (year / 10) * 10 } else { -((8 - (year - 1)) / 10) * 10 };
    }
    if level <= 3 {
        mon = 1;
    }
    if level <= 4 {
        mon = 3 * ((mon - 1) / 3) + 1;
    }
    if level <= 5 {
        mday = 1;
    }
    if level <= 6 {
        hour = 0;
    }
    if level <= 7 {
        min = 0;
    }
    if level <= 8 {
        sec = 0;
    }
    if level <= 9 {
        fsec = 0;
    }
    if level == 10 {
        fsec = (fsec / 1000) * 1000;
    }
    let date = NaiveDate::from_ymd_opt(year, mon as u32, mday as u32).ok_or_else(ts_out_of_range)?;
    let time =
        NaiveTime::from_hms_micro_opt(hour as u32, min as u32, sec as u32, fsec as u32).ok_or_else(ts_out_of_range)?;
    check_ts(date.and_time(time))
}

/// PostgreSQL's `interval2tm` fields.
struct IntervalTm {
    year: i32,
    mon: i32,
    mday: i32,
    hour: i64,
    min: i64,
    sec: i64,
    fsec: i64,
}

fn interval2tm(iv: &Interval) -> IntervalTm {
    let mut time = iv.micros;
    let hour = time / USECS_PER_HOUR;
    time -= hour * USECS_PER_HOUR;
    let min = time / USECS_PER_MINUTE;
    time -= min * USECS_PER_MINUTE;
    let sec = time / USECS_PER_SEC;
    let fsec = time - sec * USECS_PER_SEC;
    IntervalTm { year: iv.months / 12, mon: iv.months % 12, mday: iv.days, hour, min, sec, fsec }
}

fn tm2interval(tm: &IntervalTm) -> Result<Interval, EvalError> {
    let months = (tm.year as i64) * 12 + tm.mon as i64;
    let months = i32::try_from(months).map_err(|_| interval_out_of_range())?;
    let micros = ((tm.hour * 60 + tm.min) * 60 + tm.sec)
        .checked_mul(USECS_PER_SEC)
        .and_then(|v| v.checked_add(tm.fsec))
        .ok_or_else(interval_out_of_range)?;
    Ok(Interval::new(months, tm.mday, micros))
}

fn trunc_interval(units: &str, iv: &Interval) -> Result<Interval, EvalError> {
    use Unit::*;
    let t = TimeType::Interval;
    let (unit, low) = unit_of(units, t)?;
    let mut tm = interval2tm(iv);
    let level = match unit {
        Millennium => 0,
        Century => 1,
        Decade => 2,
        Year => 3,
        Quarter => 4,
        Month => 5,
        Day => 6,
        Hour => 7,
        Minute => 8,
        Second => 9,
        Milliseconds => 10,
        Microseconds => 11,
        _ => return Err(unsupported(&low, t)),
    };
    if level == 0 {
        tm.year = (tm.year / 1000) * 1000;
    }
    if level <= 1 {
        tm.year = (tm.year / 100) * 100;
    }
    if level <= 2 {
        tm.year = (tm.year / 10) * 10;
    }
    if level <= 3 {
        tm.mon = 0;
    }
    if level <= 4 {
        tm.mon = 3 * (tm.mon / 3);
    }
    if level <= 5 {
        tm.mday = 0;
    }
    if level <= 6 {
        tm.hour = 0;
    }
    if level <= 7 {
        tm.min = 0;
    }
    if level <= 8 {
        tm.sec = 0;
    }
    if level <= 9 {
        tm.fsec = 0;
    }
    if level == 10 {
        tm.fsec = (tm.fsec / 1000) * 1000;
    }
    tm2interval(&tm)
}

// ---- extract / date_part ----

/// An extracted field: an integer, or an integer count of 10^-scale units.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Int(i64),
    Scaled(i64, u32),
    /// Julian date: integral day plus a fraction of micros-of-day / USECS_PER_DAY.
    Julian(i64, i64),
}

fn year_field(y: i32) -> i64 {
    if y > 0 {
        y as i64
    } else {
        y as i64 - 1
    }
}

fn decade(y: i32) -> i64 {
    (if y >= 0 { y / 10 } else { -((8 - (y - 1)) / 10) }) as i64
}

fn century(y: i32) -> i64 {
    (if y > 0 { (y + 99) / 100 } else { -((99 - (y - 1)) / 100) }) as i64
}

fn millennium(y: i32) -> i64 {
    (if y > 0 { (y + 999) / 1000 } else { -((999 - (y - 1)) / 1000) }) as i64
}

fn date_fields(unit: Unit, d: &NaiveDate) -> Option<i64> {
    use Unit::*;
    Some(match unit {
        Day => d.day() as i64,
        Month => d.month() as i64,
        Quarter => ((d.month() - 1) / 3 + 1) as i64,
        Week => d.iso_week().week() as i64,
        Year => year_field(d.year()),
        Decade => decade(d.year()),
        Century => century(d.year()),
        Millennium => millennium(d.year()),
        IsoYear => {
            let y = d.iso_week().year() as i64;
            if y <= 0 {
                y - 1
            } else {
                y
            }
        }
        Dow => d.weekday().num_days_from_sunday() as i64,
        IsoDow => d.weekday().number_from_monday() as i64,
        Doy => d.ordinal() as i64,
        Julian => julian_day(d),
        _ => return None,
    })
}

fn extract_part(units: &str, t: TimeType, v: &Datum) -> Result<Part, EvalError> {
    use Unit::*;
    let (unit, low) = unit_of(units, t)?;
    let unsup = || unsupported(&low, t);
    match (t, v) {
        (TimeType::Date, Datum::Date(d)) => match unit {
            Epoch => Ok(Part::Int((julian_day(d) - UNIX_EPOCH_JDATE) * SECS_PER_DAY)),
            _ => date_fields(unit, d).map(Part::Int).ok_or_else(unsup),
        },
        (TimeType::Timestamp | TimeType::TimestampTz, _) => {
            let ts = as_timestamp(v)?;
            let secs_us = ts.second() as i64 * USECS_PER_SEC + (ts.nanosecond().min(999_999_999) / 1000) as i64;
            match unit {
                Microseconds => Ok(Part::Int(secs_us)),
                Milliseconds => Ok(Part::Scaled(secs_us, 3)),
                Second => Ok(Part::Scaled(secs_us, 6)),
                Minute => Ok(Part::Int(ts.minute() as i64)),
                Hour => Ok(Part::Int(ts.hour() as i64)),
                Epoch => Ok(Part::Scaled(ts_micros(&ts), 6)),
                Julian => Ok(Part::Julian(julian_day(&ts.date()), time_micros(&ts.time()))),
                Timezone | TimezoneHour | TimezoneMinute if t == TimeType::TimestampTz => Ok(Part::Int(0)),
                Timezone | TimezoneHour | TimezoneMinute => Err(unsup()),
                _ => date_fields(unit, &ts.date()).map(Part::Int).ok_or_else(unsup),
            }
        }
        (TimeType::Time, Datum::Time(tm)) => {
            let us = time_micros(tm);
            let secs_us = tm.second() as i64 * USECS_PER_SEC + (tm.nanosecond().min(999_999_999) / 1000) as i64;
            match unit {
                Microseconds => Ok(Part::Int(secs_us)),
                Milliseconds => Ok(Part::Scaled(secs_us, 3)),
                Second => Ok(Part::Scaled(secs_us, 6)),
                Minute => Ok(Part::Int(tm.minute() as i64)),
                Hour => Ok(Part::Int(tm.hour() as i64)),
                Epoch => Ok(Part::Scaled(us, 6)),
                _ => Err(unsup()),
            }
        }
        (TimeType::Interval, Datum::Interval(iv)) => {
            let tm = interval2tm(iv);
            let secs_us = tm.sec * USECS_PER_SEC + tm.fsec;
            match unit {
                Microseconds => Ok(Part::Int(secs_us)),
                Milliseconds => Ok(Part::Scaled(secs_us, 3)),
                Second => Ok(Part::Scaled(secs_us, 6)),
                Minute => Ok(Part::Int(tm.min)),
                Hour => Ok(Part::Int(tm.hour)),
                Day => Ok(Part::Int(tm.mday as i64)),
                Month => Ok(Part::Int(tm.mon as i64)),
                Quarter => Ok(Part::Int((tm.mon / 3 + 1) as i64)),
                Year => Ok(Part::Int(tm.year as i64)),
                Decade => Ok(Part::Int((tm.year / 10) as i64)),
                Century => Ok(Part::Int((tm.year / 100) as i64)),
                Millennium => Ok(Part::Int((tm.year / 1000) as i64)),
                Epoch => {
                    // Exactly (365.25 * years + 30 * months + days) days, in quarter days.
                    let quarter_days =
                        1461 * (iv.months / 12) as i64 + 120 * (iv.months % 12) as i64 + 4 * iv.days as i64;
                    let secs = quarter_days * (SECS_PER_DAY / 4);
                    let total = secs
                        .checked_mul(USECS_PER_SEC)
                        .and_then(|v| v.checked_add(iv.micros))
                        .ok_or_else(interval_out_of_range)?;
                    Ok(Part::Scaled(total, 6))
                }
                _ => Err(unsup()),
            }
        }
        _ => Err(EvalError::Internal(format!("extract from {v:?} as {t:?}"))),
    }
}

fn part_numeric(p: Part) -> Result<Decimal, EvalError> {
    match p {
        Part::Int(v) => Ok(Decimal::from(v)),
        Part::Scaled(v, s) => Ok(Decimal::from_i128_with_scale(v as i128, s)),
        Part::Julian(day, us) => {
            let frac = numeric_div(Decimal::from(us), Decimal::from(USECS_PER_DAY))?;
            num_add(Decimal::from(day), frac)
        }
    }
}

/// `date_part`: PostgreSQL computes fractional fields in double precision directly.
fn date_part(units: &str, t: TimeType, v: &Datum) -> Result<f64, EvalError> {
    // date_part(text, date) is date_part(text, date::timestamp).
    let (t, v) = match (t, v) {
        (TimeType::Date, Datum::Date(d)) => (TimeType::Timestamp, Datum::Timestamp(d.and_time(NaiveTime::MIN))),
        _ => (t, v.clone()),
    };
    let (unit, _) = unit_of(units, t)?;
    let p = extract_part(units, t, &v)?;
    Ok(match (p, unit) {
        (Part::Int(i), _) => i as f64,
        (Part::Scaled(us, _), Unit::Second) => (us / USECS_PER_SEC) as f64 + (us % USECS_PER_SEC) as f64 / 1_000_000.0,
        (Part::Scaled(us, _), Unit::Milliseconds) => {
            (us / USECS_PER_SEC) as f64 * 1000.0 + (us % USECS_PER_SEC) as f64 / 1000.0
        }
        (Part::Scaled(_, _), Unit::Epoch) if t == TimeType::Interval => {
            if let Datum::Interval(iv) = &v {
                iv.micros as f64 / 1_000_000.0
                    + (365.25 * SECS_PER_DAY as f64) * (iv.months / 12) as f64
                    + (DAYS_PER_MONTH as f64 * SECS_PER_DAY as f64) * (iv.months % 12) as f64
                    + SECS_PER_DAY as f64 * iv.days as f64
            } else {
                0.0
            }
        }
        (Part::Scaled(v, s), _) => v as f64 / 10f64.powi(s as i32),
        (Part::Julian(day, us), _) => day as f64 + (us as f64 / 1_000_000.0) / SECS_PER_DAY as f64,
    })
}

// ---- age, make_*, date_bin ----

fn age(a: &NaiveDateTime, b: &NaiveDateTime) -> Result<Interval, EvalError> {
    let fields = |t: &NaiveDateTime| {
        [
            (t.nanosecond().min(999_999_999) / 1000) as i64,
            t.second() as i64,
            t.minute() as i64,
            t.hour() as i64,
            t.day() as i64,
            t.month() as i64,
            t.year() as i64,
        ]
    };
    let (f1, f2) = (fields(a), fields(b));
    let mut d = [0i64; 7];
    for i in 0..7 {
        d[i] = f1[i] - f2[i];
    }
    let flip = a < b;
    if flip {
        d.iter_mut().for_each(|x| *x = -*x);
    }
    let [mut fsec, mut sec, mut min, mut hour, mut mday, mut mon, mut year] = d;
    while fsec < 0 {
        fsec += USECS_PER_SEC;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let r = if flip { a } else { b };
        mday += days_in_month(r.year(), r.month()) as i64;
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if flip {
        for x in [&mut fsec, &mut sec, &mut min, &mut hour, &mut mday, &mut mon, &mut year] {
            *x = -*x;
        }
    }
    let months = i32::try_from(year * 12 + mon).map_err(|_| interval_out_of_range())?;
    let days = i32::try_from(mday).map_err(|_| interval_out_of_range())?;
    Ok(Interval::new(months, days, ((hour * 60 + min) * 60 + sec) * USECS_PER_SEC + fsec))
}

fn date_field_error(y: i64, m: i64, d: i64) -> EvalError {
    EvalError::DatetimeOverflow(format!("date field value out of range: {y}-{m:02}-{d:02}"))
}

fn make_date(y: i64, m: i64, d: i64) -> Result<NaiveDate, EvalError> {
    // Negative years are BC.
    let (shown, astro) = if y < 0 { (-y, y + 1) } else { (y, y) };
    if y == 0 {
        return Err(date_field_error(0, m, d));
    }
    let date = i32::try_from(astro)
        .ok()
        .and_then(|ay| NaiveDate::from_ymd_opt(ay, u32::try_from(m).ok()?, u32::try_from(d).ok()?))
        .ok_or_else(|| date_field_error(shown, m, d))?;
    if date < min_date() {
        return Err(EvalError::DatetimeOverflow(format!("date out of range: {shown}-{m:02}-{d:02}")));
    }
    Ok(date)
}

fn make_timestamp(args: [i64; 5], sec: f64) -> Result<NaiveDateTime, EvalError> {
    let [y, m, d, hour, min] = args;
    // Negative years are BC, as in make_date.
    let date = make_date(y, m, d)?;
    if !(0..=24).contains(&hour)
        || !(0..=59).contains(&min)
        || !(0.0..=60.0).contains(&sec)
        || (hour == 24 && (min > 0 || sec > 0.0))
    {
        return Err(EvalError::DatetimeOverflow(format!(
            "time field value out of range: {hour}:{min:02}:{}",
            if sec.fract() == 0.0 { format!("{:02}", sec as i64) } else { format!("{sec}") }
        )));
    }
    let time_us = ((hour * 60 + min) * 60) * USECS_PER_SEC + (sec * USECS_PER_SEC as f64).round_ties_even() as i64;
    let us = ts_micros(&date.and_time(NaiveTime::MIN)).checked_add(time_us).ok_or_else(ts_out_of_range)?;
    micros_ts(us)
}

fn make_interval(args: &[Datum]) -> Result<Interval, EvalError> {
    let mut ints = [0i64; 6];
    for (i, slot) in ints.iter_mut().enumerate() {
        if let Some(d) = args.get(i) {
            *slot = d.as_i64().unwrap_or(0);
        }
    }
    let secs = match args.get(6) {
        Some(d) => as_f64(d)?,
        None => 0.0,
    };
    if !secs.is_finite() {
        return Err(interval_out_of_range());
    }
    let [years, months, weeks, days, hours, mins] = ints;
    let month = i32::try_from(years as i128 * 12 + months as i128).map_err(|_| interval_out_of_range())?;
    let day = i32::try_from(weeks as i128 * 7 + days as i128).map_err(|_| interval_out_of_range())?;
    let secs = (secs * USECS_PER_SEC as f64).round_ties_even();
    if secs < i64::MIN as f64 || secs >= -(i64::MIN as f64) {
        return Err(interval_out_of_range());
    }
    let micros = hours
        .checked_mul(USECS_PER_HOUR)
        .and_then(|h| mins.checked_mul(USECS_PER_MINUTE).and_then(|m| h.checked_add(m)))
        .and_then(|t| t.checked_add(secs as i64))
        .ok_or_else(interval_out_of_range)?;
    Ok(Interval::new(month, day, micros))
}

fn to_timestamp(secs: f64) -> Result<Datum, EvalError> {
    if secs.is_nan() {
        return Err(EvalError::DatetimeOverflow("timestamp cannot be NaN".into()));
    }
    let us = (secs * USECS_PER_SEC as f64).round_ties_even();
    if !us.is_finite() || us < i64::MIN as f64 || us >= -(i64::MIN as f64) {
        return Err(EvalError::DatetimeOverflow(format!("timestamp out of range: \"{secs}\"")));
    }
    let ts =
        micros_ts(us as i64).map_err(|_| EvalError::DatetimeOverflow(format!("timestamp out of range: \"{secs}\"")))?;
    Ok(Datum::TimestampTz(ts.and_utc()))
}

fn date_bin(stride: &Interval, ts: &NaiveDateTime, origin: &NaiveDateTime) -> Result<NaiveDateTime, EvalError> {
    if stride.months != 0 {
        return Err(EvalError::InvalidArgument {
            sqlstate: "0A000".into(),
            message: "timestamps cannot be binned into intervals containing months or years".into(),
        });
    }
    let stride_us = (stride.days as i64)
        .checked_mul(USECS_PER_DAY)
        .and_then(|d| d.checked_add(stride.micros))
        .ok_or_else(interval_out_of_range)?;
    if stride_us <= 0 {
        return Err(EvalError::DatetimeOverflow("stride must be greater than zero".into()));
    }
    let (t, o) = (ts_micros(ts), ts_micros(origin));
    let diff = t.checked_sub(o).ok_or_else(interval_out_of_range)?;
    let modulo = diff % stride_us;
    let mut result = o + (diff - modulo);
    if modulo < 0 {
        result = result.checked_sub(stride_us).ok_or_else(ts_out_of_range)?;
    }
    micros_ts(result)
}

// ---- dispatch ----

fn date_arg(func: &Func, args: &[Datum]) -> Result<NaiveDate, EvalError> {
    args.iter().find_map(|d| if let Datum::Date(x) = d { Some(*x) } else { None }).ok_or_else(|| type_error(func, args))
}

fn interval_arg(func: &Func, args: &[Datum]) -> Result<Interval, EvalError> {
    args.iter()
        .find_map(|d| if let Datum::Interval(x) = d { Some(*x) } else { None })
        .ok_or_else(|| type_error(func, args))
}

fn time_arg(func: &Func, args: &[Datum]) -> Result<NaiveTime, EvalError> {
    args.iter().find_map(|d| if let Datum::Time(x) = d { Some(*x) } else { None }).ok_or_else(|| type_error(func, args))
}

fn ts_arg(func: &Func, args: &[Datum]) -> Result<NaiveDateTime, EvalError> {
    args.iter()
        .find_map(|d| match d {
            Datum::Timestamp(t) => Some(*t),
            Datum::TimestampTz(t) => Some(t.naive_utc()),
            _ => None,
        })
        .ok_or_else(|| type_error(func, args))
}

fn ts_datum(ts: NaiveDateTime, tz: bool) -> Datum {
    if tz {
        Datum::TimestampTz(ts.and_utc())
    } else {
        Datum::Timestamp(ts)
    }
}

fn text_arg<'a>(func: &Func, args: &'a [Datum]) -> Result<&'a str, EvalError> {
    match args.first() {
        Some(Datum::Text(s)) => Ok(s),
        _ => Err(type_error(func, args)),
    }
}

/// Whether `d` is `infinity` (true) or `-infinity` (false) of a date/time type.
fn infinity_of(d: &Datum) -> Option<bool> {
    match d {
        Datum::Date(d) => date_infinity(d),
        Datum::Timestamp(ts) => timestamp_infinity(ts),
        Datum::TimestampTz(ts) => timestamp_infinity(&ts.naive_utc()),
        _ => None,
    }
}

/// PostgreSQL's answer when an argument is `infinity` or `-infinity`, where computing
/// with the extreme dates that stand for them would differ: shifting or truncating keeps
/// the infinity, differences are errors, fields are NULL or infinite. `None` when no
/// argument is infinite or the function needs nothing special.
fn infinite_argument(func: &Func, args: &[Datum]) -> Option<Result<Datum, EvalError>> {
    use Func::*;
    let positive = args.iter().find_map(infinity_of)?;
    let infinite = |tz: bool| ts_datum(infinite_timestamp(positive), tz);
    let cannot_subtract = |what: &str| Err(EvalError::DatetimeOverflow(format!("cannot subtract infinite {what}")));
    Some(match func {
        DateAddInt | DateSubInt => Ok(Datum::Date(infinite_date(positive))),
        DateAddInterval | DateSubInterval | DateAddTime => Ok(infinite(false)),
        TimestampAddInterval { tz } | TimestampSubInterval { tz } => Ok(infinite(*tz)),
        DateTrunc(TimeType::Timestamp) => Ok(infinite(false)),
        DateTrunc(TimeType::TimestampTz) => Ok(infinite(true)),
        DateBin { tz } if infinity_of(&args[1]).is_some() => Ok(infinite(*tz)),
        DateBin { .. } => Err(ts_out_of_range()),
        DateSubDate => cannot_subtract("dates"),
        TimestampSub { .. } | Age { .. } => cannot_subtract("timestamps"),
        Extract(_) | DatePart(_) => {
            let units = lower(text_arg(func, args).ok()?);
            // The fields that grow with time are infinite; PostgreSQL gives NULL for the rest.
            let grows = matches!(
                parse_unit(&units),
                Some(
                    Unit::Year
                        | Unit::Decade
                        | Unit::Century
                        | Unit::Millennium
                        | Unit::Julian
                        | Unit::IsoYear
                        | Unit::Epoch
                )
            );
            match (grows, func) {
                (false, _) => Ok(Datum::Null),
                (true, DatePart(_)) => Ok(Datum::Float64(if positive { f64::INFINITY } else { f64::NEG_INFINITY })),
                (true, _) => Err(EvalError::InvalidArgument {
                    sqlstate: "0A000".into(),
                    message: format!(
                        "extract({units} from {}infinity) is infinite, which Eddy's numeric cannot hold; use date_part",
                        if positive { "" } else { "-" }
                    ),
                }),
            }
        }
        ToChar => Ok(Datum::Null),
        _ => return None,
    })
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    use Func::*;
    if let Some(answer) = infinite_argument(func, args) {
        return answer;
    }
    let int_arg = |i: usize| args.get(i).and_then(Datum::as_i64).ok_or_else(|| type_error(func, args));
    match (func, args.len()) {
        (DateAddInt, 2) => {
            let days = args.iter().find_map(Datum::as_i64).ok_or_else(|| type_error(func, args))?;
            Ok(Datum::Date(check_date(add_days(date_arg(func, args)?, days)?)?))
        }
        (DateSubInt, 2) => Ok(Datum::Date(check_date(add_days(date_arg(func, args)?, int_arg(1)?.saturating_neg())?)?)),
        (DateSubDate, 2) => match args {
            [Datum::Date(a), Datum::Date(b)] => i32::try_from((*a - *b).num_days())
                .map(Datum::Int32)
                .map_err(|_| EvalError::OutOfRange("integer out of range".into())),
            _ => Err(type_error(func, args)),
        },
        (DateAddInterval, 2) => {
            let ts = date_arg(func, args)?.and_time(NaiveTime::MIN);
            Ok(Datum::Timestamp(ts_add_interval(ts, &interval_arg(func, args)?)?))
        }
        (DateSubInterval, 2) => {
            let ts = date_arg(func, args)?.and_time(NaiveTime::MIN);
            Ok(Datum::Timestamp(ts_add_interval(ts, &neg_interval(&interval_arg(func, args)?)?)?))
        }
        (DateAddTime, 2) => Ok(Datum::Timestamp(check_ts(date_arg(func, args)?.and_time(time_arg(func, args)?))?)),
        (TimestampAddInterval { tz }, 2) => {
            Ok(ts_datum(ts_add_interval(ts_arg(func, args)?, &interval_arg(func, args)?)?, *tz))
        }
        (TimestampSubInterval { tz }, 2) => {
            Ok(ts_datum(ts_add_interval(ts_arg(func, args)?, &neg_interval(&interval_arg(func, args)?)?)?, *tz))
        }
        (TimestampSub { .. }, 2) => Ok(Datum::Interval(ts_sub(&as_timestamp(&args[0])?, &as_timestamp(&args[1])?)?)),
        (TimeAddInterval, 2) => {
            let t = time_micros(&time_arg(func, args)?);
            let iv = interval_arg(func, args)?;
            Ok(Datum::Time(micros_time(t + iv.micros % USECS_PER_DAY)))
        }
        (TimeSubInterval, 2) => {
            let t = time_micros(&time_arg(func, args)?);
            let iv = interval_arg(func, args)?;
            Ok(Datum::Time(micros_time(t - iv.micros % USECS_PER_DAY)))
        }
        (TimeSub, 2) => match args {
            [Datum::Time(a), Datum::Time(b)] => {
                Ok(Datum::Interval(Interval::new(0, 0, time_micros(a) - time_micros(b))))
            }
            _ => Err(type_error(func, args)),
        },
        (IntervalAdd | IntervalSub, 2) => match args {
            [Datum::Interval(a), Datum::Interval(b)] => {
                let b = if matches!(func, IntervalSub) { neg_interval(b)? } else { *b };
                Ok(Datum::Interval(add_intervals(a, &b)?))
            }
            _ => Err(type_error(func, args)),
        },
        (IntervalMul, 2) => {
            let iv = interval_arg(func, args)?;
            let f = args.iter().find(|d| !matches!(d, Datum::Interval(_))).ok_or_else(|| type_error(func, args))?;
            Ok(Datum::Interval(interval_scale(&iv, as_f64(f)?, false)?))
        }
        (IntervalDiv, 2) => match args {
            [Datum::Interval(iv), f] => Ok(Datum::Interval(interval_scale(iv, as_f64(f)?, true)?)),
            _ => Err(type_error(func, args)),
        },
        (IntervalNeg, 1) => Ok(Datum::Interval(neg_interval(&interval_arg(func, args)?)?)),
        (JustifyDays, 1) => Ok(Datum::Interval(justify_days(interval_arg(func, args)?)?)),
        (JustifyHours, 1) => Ok(Datum::Interval(justify_hours(interval_arg(func, args)?)?)),
        (JustifyInterval, 1) => Ok(Datum::Interval(justify_interval(interval_arg(func, args)?)?)),
        (DateTrunc(t), 2) => {
            let units = text_arg(func, args)?;
            match (t, &args[1]) {
                (TimeType::Interval, Datum::Interval(iv)) => Ok(Datum::Interval(trunc_interval(units, iv)?)),
                (TimeType::Timestamp, Datum::Timestamp(ts)) => Ok(Datum::Timestamp(trunc_timestamp(units, *ts, *t)?)),
                (TimeType::TimestampTz, Datum::TimestampTz(ts)) => {
                    Ok(Datum::TimestampTz(trunc_timestamp(units, ts.naive_utc(), *t)?.and_utc()))
                }
                _ => Err(type_error(func, args)),
            }
        }
        (Extract(t), 2) => {
            let units = text_arg(func, args)?;
            Ok(Datum::Numeric(part_numeric(extract_part(units, *t, &args[1])?)?))
        }
        (DatePart(t), 2) => {
            let units = text_arg(func, args)?;
            Ok(Datum::Float64(date_part(units, *t, &args[1])?))
        }
        (Age { .. }, 2) => Ok(Datum::Interval(age(&as_timestamp(&args[0])?, &as_timestamp(&args[1])?)?)),
        (IsFinite, 1) => Ok(Datum::Bool(match &args[0] {
            Datum::Date(d) => date_infinity(d).is_none(),
            Datum::Timestamp(ts) => timestamp_infinity(ts).is_none(),
            Datum::TimestampTz(ts) => timestamp_infinity(&ts.naive_utc()).is_none(),
            Datum::Interval(_) => true,
            _ => return Err(type_error(func, args)),
        })),
        (MakeDate, 3) => Ok(Datum::Date(make_date(int_arg(0)?, int_arg(1)?, int_arg(2)?)?)),
        (MakeTimestamp, 6) => Ok(Datum::Timestamp(make_timestamp(
            [int_arg(0)?, int_arg(1)?, int_arg(2)?, int_arg(3)?, int_arg(4)?],
            as_f64(&args[5])?,
        )?)),
        (MakeInterval, 0..=7) => Ok(Datum::Interval(make_interval(args)?)),
        (ToTimestamp, 1) => to_timestamp(as_f64(&args[0])?),
        (ToTimestamp | ToDate, 2) => {
            let (Datum::Text(input), Datum::Text(template)) = (&args[0], &args[1]) else {
                return Err(type_error(func, args));
            };
            let read = super::from_char::parse(input, template)?;
            Ok(match func {
                ToDate => Datum::Date(read.date()),
                _ => Datum::TimestampTz(read.and_utc()),
            })
        }
        (ToChar, 2) => {
            let template = match &args[1] {
                Datum::Text(t) => t,
                _ => return Err(type_error(func, args)),
            };
            use super::to_char_number::to_char_number;
            let float = |f: f64| match Decimal::from_f64_retain(f) {
                Some(d) => to_char_number(d, template, true),
                // NaN fills the number's width; infinities and values beyond numeric's
                // range overflow, '#' in every digit position.
                None if f.is_nan() => {
                    let width = to_char_number(Decimal::MAX, template, true).chars().count();
                    format!("{:>width$}", "NaN")
                }
                None => to_char_number(if f < 0.0 { Decimal::MIN } else { Decimal::MAX }, template, true),
            };
            Ok(Datum::Text(match &args[0] {
                Datum::Numeric(d) => to_char_number(*d, template, false),
                Datum::Int16(_) | Datum::Int32(_) | Datum::Int64(_) => {
                    to_char_number(args[0].as_i64().unwrap_or(0).into(), template, false)
                }
                Datum::Float32(f) => float(*f as f64),
                Datum::Float64(f) => float(*f),
                Datum::Interval(iv) => super::to_char::interval_to_char(iv, template)?,
                other => super::to_char::to_char(&as_timestamp(other)?, template),
            }))
        }
        (DateBin { tz }, 3) => {
            let stride = match &args[0] {
                Datum::Interval(iv) => *iv,
                _ => return Err(type_error(func, args)),
            };
            let r = date_bin(&stride, &as_timestamp(&args[1])?, &as_timestamp(&args[2])?)?;
            Ok(ts_datum(r, *tz))
        }
        _ => Err(arity_error(func, args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn iv(months: i32, days: i32, micros: i64) -> Interval {
        Interval::new(months, days, micros)
    }

    fn same(a: Interval, b: Interval) {
        assert_eq!((a.months, a.days, a.micros), (b.months, b.days, b.micros));
    }

    #[test]
    fn month_arithmetic_clamps() {
        assert_eq!(ts_add_interval(ts("2001-01-31 00:00:00"), &iv(1, 0, 0)).unwrap(), ts("2001-02-28 00:00:00"));
        assert_eq!(ts_add_interval(ts("2000-01-31 00:00:00"), &iv(1, 0, 0)).unwrap(), ts("2000-02-29 00:00:00"));
        assert_eq!(ts_add_interval(ts("2001-03-31 10:00:00"), &iv(-13, 0, 0)).unwrap(), ts("2000-02-29 10:00:00"));
        assert_eq!(
            ts_add_interval(ts("2001-01-01 00:00:00"), &iv(0, 1, 3_600_000_000)).unwrap(),
            ts("2001-01-02 01:00:00")
        );
    }

    #[test]
    fn timestamp_difference_is_justified() {
        same(ts_sub(&ts("2001-01-02 01:00:00"), &ts("2001-01-01 00:00:00")).unwrap(), iv(0, 1, 3_600_000_000));
        same(ts_sub(&ts("2001-01-01 00:00:00"), &ts("2001-01-02 01:00:00")).unwrap(), iv(0, -1, -3_600_000_000));
    }

    #[test]
    fn interval_scaling() {
        same(interval_scale(&iv(1, 0, 0), 0.5, false).unwrap(), iv(0, 15, 0));
        same(interval_scale(&iv(0, 1, 0), 1.5, false).unwrap(), iv(0, 1, 12 * USECS_PER_HOUR));
        same(interval_scale(&iv(1, 1, 0), 3.0, true).unwrap(), iv(0, 10, 8 * USECS_PER_HOUR));
        same(interval_scale(&iv(0, 0, USECS_PER_HOUR), 2.0, false).unwrap(), iv(0, 0, 2 * USECS_PER_HOUR));
        assert_eq!(interval_scale(&iv(1, 0, 0), 0.0, true).unwrap_err(), EvalError::DivisionByZero);
        assert!(interval_scale(&iv(1, 0, 0), f64::NAN, false).is_err());
    }

    #[test]
    fn justify() {
        same(justify_interval(iv(1, 0, -USECS_PER_HOUR)).unwrap(), iv(0, 29, 23 * USECS_PER_HOUR));
        same(justify_days(iv(0, 35, 0)).unwrap(), iv(1, 5, 0));
        same(justify_hours(iv(0, 0, 27 * USECS_PER_HOUR)).unwrap(), iv(0, 1, 3 * USECS_PER_HOUR));
    }

    #[test]
    fn ages() {
        same(age(&ts("2001-04-10 00:00:00"), &ts("1957-06-13 00:00:00")).unwrap(), iv(43 * 12 + 9, 27, 0));
        same(age(&ts("1957-06-13 00:00:00"), &ts("2001-04-10 00:00:00")).unwrap(), iv(-(43 * 12 + 9), -27, 0));
    }

    #[test]
    fn truncation() {
        let t = ts("2001-02-16 20:38:40.123456");
        let tt = TimeType::Timestamp;
        assert_eq!(trunc_timestamp("week", t, tt).unwrap(), ts("2001-02-12 00:00:00"));
        assert_eq!(trunc_timestamp("quarter", ts("2001-05-16 20:38:40"), tt).unwrap(), ts("2001-04-01 00:00:00"));
        assert_eq!(trunc_timestamp("century", t, tt).unwrap(), ts("2001-01-01 00:00:00"));
        assert_eq!(trunc_timestamp("millennium", t, tt).unwrap(), ts("2001-01-01 00:00:00"));
        assert_eq!(trunc_timestamp("decade", ts("1999-02-16 00:00:00"), tt).unwrap(), ts("1990-01-01 00:00:00"));
        assert_eq!(trunc_timestamp("HOUR", t, tt).unwrap(), ts("2001-02-16 20:00:00"));
        assert_eq!(trunc_timestamp("milliseconds", t, tt).unwrap(), ts("2001-02-16 20:38:40.123"));
        let e = trunc_timestamp("foo", t, tt).unwrap_err();
        assert_eq!(e.to_string(), "unit \"foo\" not recognized for type timestamp without time zone");
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(trunc_timestamp("dow", t, tt).unwrap_err().sqlstate(), "0A000");
        let i = iv(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6 * USECS_PER_SEC);
        same(trunc_interval("hour", &i).unwrap(), iv(14, 3, 4 * USECS_PER_HOUR));
        same(trunc_interval("quarter", &iv(17, 3, 0)).unwrap(), iv(15, 0, 0));
        assert!(trunc_interval("week", &i).is_err());
    }

    #[test]
    fn extracts() {
        let t = Datum::Timestamp(ts("2001-02-16 20:38:40.5"));
        let tt = TimeType::Timestamp;
        let ex = |u: &str, t: TimeType, v: &Datum| part_numeric(extract_part(u, t, v).unwrap()).unwrap().to_string();
        assert_eq!(ex("second", tt, &t), "40.500000");
        assert_eq!(ex("epoch", tt, &t), "982355920.500000");
        assert_eq!(ex("year", tt, &t), "2001");
        assert_eq!(ex("julian", tt, &t), "2451957.86019097222222222222");
        assert_eq!(ex("milliseconds", tt, &t), "40500.000");
        assert_eq!(ex("dow", tt, &t), "5");
        let d = Datum::Date(date("2001-02-18"));
        assert_eq!(ex("dow", TimeType::Date, &d), "0");
        assert_eq!(ex("isodow", TimeType::Date, &d), "7");
        assert_eq!(ex("doy", TimeType::Date, &d), "49");
        assert_eq!(ex("week", TimeType::Date, &d), "7");
        assert_eq!(ex("epoch", TimeType::Date, &Datum::Date(date("2001-02-16"))), "982281600");
        assert_eq!(ex("julian", TimeType::Date, &Datum::Date(date("2001-02-16"))), "2451957");
        let e = extract_part("hour", TimeType::Date, &d).unwrap_err();
        assert_eq!(e.to_string(), "unit \"hour\" not supported for type date");
        let i = Datum::Interval(iv(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6_700_000));
        assert_eq!(ex("epoch", TimeType::Interval, &i), "37015506.700000");
        assert_eq!(date_part("epoch", TimeType::Interval, &i).unwrap(), 37015506.7);
        assert_eq!(ex("quarter", TimeType::Interval, &Datum::Interval(iv(-5, 0, 0))), "0");
        assert_eq!(date_part("second", tt, &t).unwrap(), 40.5);
        let tm = Datum::Time(NaiveTime::from_hms_milli_opt(10, 11, 12, 500).unwrap());
        assert_eq!(ex("second", TimeType::Time, &tm), "12.500000");
        assert_eq!(ex("epoch", TimeType::Time, &tm), "36672.500000");
        assert!(extract_part("day", TimeType::Time, &tm).is_err());
        assert_eq!(date_part("hour", TimeType::Date, &d).unwrap(), 0.0);
    }

    #[test]
    fn constructors() {
        assert_eq!(make_date(2001, 2, 16).unwrap(), date("2001-02-16"));
        assert_eq!(make_date(2013, 2, 30).unwrap_err().to_string(), "date field value out of range: 2013-02-30");
        assert_eq!(make_date(0, 1, 1).unwrap_err().to_string(), "date field value out of range: 0-01-01");
        assert_eq!(make_timestamp([2001, 2, 16, 20, 38], 40.5).unwrap(), ts("2001-02-16 20:38:40.5"));
        same(
            make_interval(
                &[1, 2, 3, 4, 5, 6].map(Datum::Int32).into_iter().chain([Datum::Float64(7.5)]).collect::<Vec<_>>(),
            )
            .unwrap(),
            iv(14, 25, 5 * USECS_PER_HOUR + 6 * USECS_PER_MINUTE + 7_500_000),
        );
        assert_eq!(to_timestamp(982355920.5).unwrap(), Datum::TimestampTz(ts("2001-02-16 20:38:40.5").and_utc()));
        let stride = iv(0, 0, 15 * USECS_PER_MINUTE);
        assert_eq!(
            date_bin(&stride, &ts("2020-02-11 15:44:17"), &ts("2021-01-01 00:00:00")).unwrap(),
            ts("2020-02-11 15:30:00")
        );
        assert_eq!(
            date_bin(&stride, &ts("2020-02-11 15:44:17"), &ts("2001-01-01 00:00:00")).unwrap(),
            ts("2020-02-11 15:30:00")
        );
    }

    #[test]
    fn operators() {
        let f = Func::DateSubDate;
        assert_eq!(
            f.eval(&[Datum::Date(date("2001-01-01")), Datum::Date(date("2000-01-01"))]).unwrap(),
            Datum::Int32(366)
        );
        assert_eq!(
            Func::DateAddInt.eval(&[Datum::Int32(7), Datum::Date(date("2001-01-01"))]).unwrap(),
            Datum::Date(date("2001-01-08"))
        );
        let t10 = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
        let t1130 = NaiveTime::from_hms_opt(11, 30, 0).unwrap();
        assert_eq!(
            Func::TimeSub.eval(&[Datum::Time(t10), Datum::Time(t1130)]).unwrap(),
            Datum::Interval(iv(0, 0, -90 * USECS_PER_MINUTE))
        );
        assert_eq!(
            Func::TimeAddInterval
                .eval(&[
                    Datum::Time(NaiveTime::from_hms_opt(23, 0, 0).unwrap()),
                    Datum::Interval(iv(0, 0, 2 * USECS_PER_HOUR))
                ])
                .unwrap(),
            Datum::Time(NaiveTime::from_hms_opt(1, 0, 0).unwrap())
        );
        assert_eq!(
            Func::DateAddInterval.eval(&[Datum::Date(date("2001-01-31")), Datum::Interval(iv(1, 0, 0))]).unwrap(),
            Datum::Timestamp(ts("2001-02-28 00:00:00"))
        );
        // NaiveDate::MAX stands for infinity, which shifting keeps; the day before it is
        // the last finite date, and shifting past it is out of range.
        assert_eq!(
            Func::DateAddInt.eval(&[Datum::Date(NaiveDate::MAX), Datum::Int32(1)]).unwrap(),
            Datum::Date(NaiveDate::MAX)
        );
        let last = NaiveDate::MAX.pred_opt().unwrap();
        assert!(Func::DateAddInt.eval(&[Datum::Date(last), Datum::Int32(1)]).is_err());
        assert!(Func::TimestampSub { tz: false }
            .eval(&[Datum::Timestamp(NaiveDateTime::MAX), Datum::Timestamp(ts("2001-02-28 00:00:00"))])
            .is_err());
        assert!(Func::IntervalNeg.eval(&[Datum::Interval(iv(i32::MIN, 0, 0))]).is_err());
    }
}
