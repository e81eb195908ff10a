//! `ts AT TIME ZONE zone` (PostgreSQL's `timezone(zone, ts)`): a `timestamptz` seen on
//! the wall clock of `zone` (a `timestamp`), or a wall-clock `timestamp` in `zone` as the
//! instant it was (a `timestamptz`). Eddy carries no time zone database, so `zone` is UTC
//! and its aliases, a POSIX-style offset (`'+02'`, `'UTC-5'`, `'-05:30'`: hours *west* of
//! Greenwich, as PostgreSQL reads them) or one of PostgreSQL's fixed abbreviations
//! (`'EST'`, `'CET'`, ...); a region name (`'Europe/Paris'`) is refused, as it would need
//! daylight-saving rules.

use chrono::{Duration, NaiveDateTime};
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

/// The offset east of UTC, in seconds, of the zone named `zone`.
pub(crate) fn zone_offset_seconds(zone: &str) -> Result<i64, EvalError> {
    let name = zone.trim().to_ascii_lowercase();
    let name = name.strip_prefix("etc/").unwrap_or(&name);
    if let Some(&(_, minutes)) = ABBREVIATIONS.iter().find(|(a, _)| *a == name) {
        return Ok(i64::from(minutes) * 60);
    }
    // POSIX: an optional alphabetic name (only UTC/GMT make sense without DST rules)
    // then an offset west of Greenwich.
    let digits_at = name.find(|c: char| c == '+' || c == '-' || c.is_ascii_digit()).unwrap_or(name.len());
    let (prefix, offset) = name.split_at(digits_at);
    if !offset.is_empty() && matches!(prefix, "" | "utc" | "gmt") {
        if let Some(west) = posix_offset_seconds(offset) {
            return Ok(-west);
        }
    }
    if zone.contains('/') {
        return Err(EvalError::InvalidArgument {
            sqlstate: "0A000".into(),
            message: format!(
                "time zone \"{zone}\" is not supported yet (Eddy has no time zone database: use UTC, an offset \
                 such as '+02' or an abbreviation such as 'CET')"
            ),
        });
    }
    Err(EvalError::invalid_argument(format!("time zone \"{zone}\" not recognized")))
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
    let offset = Duration::seconds(zone_offset_seconds(zone)?);
    let shift = |ts: NaiveDateTime, by: Duration| -> Result<NaiveDateTime, EvalError> {
        if timestamp_infinity(&ts).is_some() {
            return Ok(ts);
        }
        ts.checked_add_signed(by).ok_or_else(|| EvalError::DatetimeOverflow("timestamp out of range".into()))
    };
    match (input, value) {
        (TimeType::TimestampTz, Datum::TimestampTz(instant)) => {
            Ok(Datum::Timestamp(shift(instant.naive_utc(), offset)?))
        }
        (TimeType::Timestamp, Datum::Timestamp(wall)) => Ok(Datum::TimestampTz(shift(*wall, -offset)?.and_utc())),
        _ => Err(type_error(func, args)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_read_as_postgresql_reads_them() {
        assert_eq!(zone_offset_seconds("UTC").ok(), Some(0));
        assert_eq!(zone_offset_seconds("Etc/UTC").ok(), Some(0));
        assert_eq!(zone_offset_seconds("est").ok(), Some(-5 * 3600));
        // POSIX offsets are hours west of Greenwich.
        assert_eq!(zone_offset_seconds("+02").ok(), Some(-2 * 3600));
        assert_eq!(zone_offset_seconds("-05:30").ok(), Some(5 * 3600 + 1800));
        assert_eq!(zone_offset_seconds("UTC+3").ok(), Some(-3 * 3600));
        assert!(zone_offset_seconds("nowhere").is_err());
        assert!(zone_offset_seconds("+02:99").is_err());
        let region = zone_offset_seconds("Europe/Paris").unwrap_err();
        assert_eq!(region.sqlstate(), "0A000");
    }
}
