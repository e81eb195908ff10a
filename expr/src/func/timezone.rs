//! `ts AT TIME ZONE zone` (PostgreSQL's `timezone(zone, ts)`): a `timestamptz` seen on
//! the wall clock of `zone` (a `timestamp`), or a wall-clock `timestamp` in `zone` as the
//! instant it was (a `timestamptz`). `zone` is one of PostgreSQL's fixed abbreviations
//! (`'EST'`, `'CET'`, ...), a POSIX-style offset (`'+02'`, `'UTC-5'`, `'-05:30'`: hours
//! *west* of Greenwich, as PostgreSQL reads them) or a name from the IANA time zone
//! database (`'Europe/Paris'`, any case), whose offset follows daylight-saving time.

use chrono::{Duration, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use eddy_repr::strconv::timestamp_infinity;
use eddy_repr::Datum;

use super::{type_error, Func, TimeType};
use crate::EvalError;

/// Abbreviations from PostgreSQL's default set, with their offsets east of UTC in minutes.
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("utc", 0),
    ("gmt", 0),
    ("z", 0),
    ("zulu", 0),
    ("ut", 0),
    ("wet", 0),
    ("west", 60),
    ("bst", 60),
    ("cet", 60),
    ("cest", 120),
    ("met", 60),
    ("mest", 120),
    ("eet", 120),
    ("eest", 180),
    ("msk", 180),
    ("ist", 120),
    ("hkt", 480),
    ("jst", 540),
    ("kst", 540),
    ("aest", 600),
    ("aedt", 660),
    ("acst", 570),
    ("awst", 480),
    ("nzst", 720),
    ("nzdt", 780),
    ("ast", -240),
    ("adt", -180),
    ("est", -300),
    ("edt", -240),
    ("cst", -360),
    ("cdt", -300),
    ("mst", -420),
    ("mdt", -360),
    ("pst", -480),
    ("pdt", -420),
    ("akst", -540),
    ("akdt", -480),
    ("hst", -600),
];

/// A zone `AT TIME ZONE` can name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Zone {
    /// A fixed offset east of UTC, in seconds.
    Fixed(i64),
    Region(Tz),
}

impl Zone {
    /// Reads `zone` as PostgreSQL does: an abbreviation first, then a POSIX offset, then a
    /// region of the time zone database.
    pub(crate) fn parse(zone: &str) -> Result<Zone, EvalError> {
        let name = zone.trim().to_ascii_lowercase();
        let short = name.strip_prefix("etc/").unwrap_or(&name);
        if let Some(&(_, minutes)) = ABBREVIATIONS.iter().find(|(a, _)| *a == short) {
            return Ok(Zone::Fixed(i64::from(minutes) * 60));
        }
        // POSIX: an optional alphabetic name (only UTC/GMT make sense without DST rules)
        // then an offset west of Greenwich.
        let digits_at = short.find(|c: char| c == '+' || c == '-' || c.is_ascii_digit()).unwrap_or(short.len());
        let (prefix, offset) = short.split_at(digits_at);
        if !offset.is_empty() && matches!(prefix, "" | "utc" | "gmt") {
            if let Some(west) = posix_offset_seconds(offset) {
                return Ok(Zone::Fixed(-west));
            }
        }
        Tz::from_str_insensitive(zone.trim())
            .map(Zone::Region)
            .map_err(|_| EvalError::invalid_argument(format!("time zone \"{zone}\" not recognized")))
    }

    /// The offset east of UTC, in seconds, at the instant `utc`.
    fn offset_at_instant(self, utc: NaiveDateTime) -> i64 {
        match self {
            Zone::Fixed(east) => east,
            Zone::Region(tz) => i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()),
        }
    }

    /// The offset east of UTC, in seconds, of the wall-clock time `local`. A time the
    /// clocks skipped takes the offset from before the jump, a time they passed twice the
    /// one from after it (PostgreSQL's rule).
    fn offset_at_wall_time(self, local: NaiveDateTime) -> i64 {
        let Zone::Region(tz) = self else { return self.offset_at_instant(local) };
        let offset = |o: <Tz as TimeZone>::Offset| i64::from(o.fix().local_minus_utc());
        match tz.offset_from_local_datetime(&local) {
            chrono::LocalResult::Single(o) => offset(o),
            chrono::LocalResult::Ambiguous(a, b) => offset(a).min(offset(b)),
            chrono::LocalResult::None => {
                // Transitions are months apart: a day earlier is before this one.
                self.offset_at_instant(local - Duration::days(1))
            }
        }
    }
}

/// `[+-]h[h][:mm[:ss]]` in seconds.
fn posix_offset_seconds(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let mut parts = rest.split(':');
    let mut field = |max: i64| -> Option<i64> {
        match parts.next() {
            None => Some(0),
            Some(p) if !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok().filter(|v| *v <= max)
            }
            Some(_) => None,
        }
    };
    let (h, m, s) = (field(167)?, field(59)?, field(59)?);
    parts.next().is_none().then_some(sign * (h * 3600 + m * 60 + s))
}

pub(super) fn eval(func: &Func, input: TimeType, args: &[Datum]) -> Result<Datum, EvalError> {
    let [Datum::Text(zone), value] = args else { return Err(type_error(func, args)) };
    let zone = Zone::parse(zone)?;
    let shift = |ts: NaiveDateTime, east: fn(Zone, NaiveDateTime) -> i64, sign: i64| {
        if timestamp_infinity(&ts).is_some() {
            return Ok(ts);
        }
        let by = Duration::seconds(sign * east(zone, ts));
        ts.checked_add_signed(by).ok_or_else(|| EvalError::DatetimeOverflow("timestamp out of range".into()))
    };
    match (input, value) {
        (TimeType::TimestampTz, Datum::TimestampTz(instant)) => {
            Ok(Datum::Timestamp(shift(instant.naive_utc(), Zone::offset_at_instant, 1)?))
        }
        (TimeType::Timestamp, Datum::Timestamp(wall)) => {
            Ok(Datum::TimestampTz(shift(*wall, Zone::offset_at_wall_time, -1)?.and_utc()))
        }
        _ => Err(type_error(func, args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(zone: &str) -> Option<i64> {
        match Zone::parse(zone).ok()? {
            Zone::Fixed(east) => Some(east),
            Zone::Region(_) => None,
        }
    }

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test time")
    }

    #[test]
    fn zones_read_as_postgresql_reads_them() {
        assert_eq!(offset("UTC"), Some(0));
        assert_eq!(offset("Etc/UTC"), Some(0));
        assert_eq!(offset("est"), Some(-5 * 3600));
        // POSIX offsets are hours west of Greenwich.
        assert_eq!(offset("+02"), Some(-2 * 3600));
        assert_eq!(offset("-05:30"), Some(5 * 3600 + 1800));
        assert_eq!(offset("UTC+3"), Some(-3 * 3600));
        assert!(Zone::parse("nowhere").is_err());
        assert!(Zone::parse("+02:99").is_err());
        assert_eq!(Zone::parse("europe/paris").ok(), Some(Zone::Region(Tz::Europe__Paris)));
    }

    #[test]
    fn region_offsets_follow_daylight_saving_time() {
        let ny = Zone::Region(Tz::America__New_York);
        assert_eq!(ny.offset_at_instant(wall("2024-01-15 12:00")), -5 * 3600);
        assert_eq!(ny.offset_at_instant(wall("2024-07-15 12:00")), -4 * 3600);
        // 02:30 on 2024-03-10 never happened: the offset before the jump (EST).
        assert_eq!(ny.offset_at_wall_time(wall("2024-03-10 02:30")), -5 * 3600);
        // 01:30 on 2024-11-03 happened twice: the offset after the jump back (EST).
        assert_eq!(ny.offset_at_wall_time(wall("2024-11-03 01:30")), -5 * 3600);
        assert_eq!(ny.offset_at_wall_time(wall("2024-06-01 09:00")), -4 * 3600);
    }
}
