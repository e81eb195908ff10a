//! PostgreSQL's binary send/recv formats.
//!
//! | type | layout |
//! | --- | --- |
//! | bool | 1 byte, non-zero is true |
//! | int2/int4/int8, float4/float8 | big-endian |
//! | numeric | int16 ndigits, int16 weight, int16 sign, int16 dscale, ndigits base-10000 int16 digits |
//! | text, varchar, char | UTF-8 bytes |
//! | jsonb | version byte 1, then the text form |
//! | bytea | raw bytes |
//! | date | int32 days since 2000-01-01 |
//! | time | int64 microseconds since midnight |
//! | timestamp, timestamptz | int64 microseconds since 2000-01-01 00:00:00 (UTC) |
//! | interval | int64 microseconds, int32 days, int32 months |
//! | uuid | 16 bytes |

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};
use rust_decimal::Decimal;

use super::ParseError;
use crate::scalar::NUMERIC_MAX_PRECISION;
use crate::{Datum, Interval, ScalarType};

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
const NBASE: u128 = 10_000;
const USECS_PER_DAY: i64 = 86_400_000_000;

fn pg_epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

fn pg_epoch() -> NaiveDateTime {
    pg_epoch_date().and_time(NaiveTime::MIN)
}

fn time_micros(t: &NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond().min(999_999_999) / 1000)
}

fn timestamp_micros(ts: &NaiveDateTime) -> i64 {
    // PostgreSQL sends the infinities as the extreme values.
    match super::datetime::timestamp_infinity(ts) {
        Some(true) => return i64::MAX,
        Some(false) => return i64::MIN,
        None => {}
    }
    let d = ts.signed_duration_since(pg_epoch());
    // chrono's range (±262143 years) fits i64 microseconds.
    d.num_microseconds().unwrap_or(if d < TimeDelta::zero() { i64::MIN } else { i64::MAX })
}

/// PostgreSQL's `numeric_send` for a decimal: base-10000 digits aligned on the point,
/// leading and trailing zero groups stripped, `dscale` = the decimal's scale.
pub fn encode_numeric_binary(d: &Decimal, out: &mut Vec<u8>) {
    let scale = d.scale();
    let mantissa = d.mantissa().unsigned_abs();
    let pow = 10u128.pow(scale);
    let mut int_part = mantissa / pow;
    let frac_part = mantissa % pow;

    // Integer groups, least significant first.
    let mut int_groups = Vec::new();
    while int_part > 0 {
        int_groups.push((int_part % NBASE) as u16);
        int_part /= NBASE;
    }
    int_groups.reverse();
    // Fraction groups: pad the fraction to a multiple of 4 digits.
    let frac_groups_n = scale.div_ceil(4);
    let padded = frac_part * 10u128.pow(frac_groups_n * 4 - scale);
    let mut frac_groups = Vec::with_capacity(frac_groups_n as usize);
    for i in (0..frac_groups_n).rev() {
        frac_groups.push(((padded / NBASE.pow(i)) % NBASE) as u16);
    }

    let mut weight = int_groups.len() as i32 - 1;
    let mut digits: Vec<u16> = int_groups.into_iter().chain(frac_groups).collect();
    let leading = digits.iter().take_while(|g| **g == 0).count();
    digits.drain(..leading);
    weight -= leading as i32;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    let sign = if digits.is_empty() {
        weight = 0;
        NUMERIC_POS
    } else if d.is_sign_negative() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    };
    out.extend_from_slice(&(digits.len() as u16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for g in digits {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// PostgreSQL's `numeric_recv`: validates the layout, truncates digits hidden by `dscale`
/// (as PostgreSQL does) and builds a decimal with scale `dscale`. NaN and infinities, and
/// values beyond the decimal's 28 digits of scale or 96-bit mantissa, are rejected.
pub fn decode_numeric_binary(bytes: &[u8]) -> Result<Decimal, ParseError> {
    let bad = || ParseError::BadBinary("numeric".to_string());
    let word = |i: usize| -> Result<u16, ParseError> {
        let b = bytes.get(i..i + 2).ok_or_else(bad)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = word(0)? as i16;
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = word(6)?;
    if ndigits < 0 || bytes.len() != 8 + 2 * ndigits as usize {
        return Err(bad());
    }
    match sign {
        NUMERIC_POS | NUMERIC_NEG => {}
        NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF => {
            return Err(ParseError::FieldOverflow("numeric NaN and infinity are not supported".to_string()))
        }
        _ => return Err(bad()),
    }
    if dscale & 0x3FFF != dscale {
        return Err(bad());
    }
    let overflow = || {
        ParseError::FieldOverflow(format!(
            "numeric value exceeds the supported precision ({NUMERIC_MAX_PRECISION} digits)"
        ))
    };
    if u32::from(dscale) > NUMERIC_MAX_PRECISION {
        return Err(overflow());
    }
    let dscale = i64::from(dscale);
    // mantissa = Σ digit_i * 10^(4 * (weight - i) + dscale), truncating below 10^0.
    let mut mantissa: i128 = 0;
    for i in 0..ndigits as usize {
        let digit = word(8 + 2 * i)?;
        if digit >= NBASE as u16 {
            return Err(bad());
        }
        if digit == 0 {
            continue;
        }
        let exp = 4 * (weight - i as i64) + dscale;
        let term = if exp >= 0 {
            let pow = u32::try_from(exp).ok().and_then(|e| 10i128.checked_pow(e)).ok_or_else(overflow)?;
            i128::from(digit).checked_mul(pow).ok_or_else(overflow)?
        } else if exp > -4 {
            i128::from(digit) / 10i128.pow((-exp) as u32)
        } else {
            0
        };
        mantissa = mantissa.checked_add(term).ok_or_else(overflow)?;
    }
    if sign == NUMERIC_NEG {
        mantissa = -mantissa;
    }
    Decimal::try_from_i128_with_scale(mantissa, dscale as u32).map_err(|_| overflow())
}

/// Converts a datum to `ty`'s binary layout where the datum is of another width.
pub(super) fn encode(datum: &Datum, ty: &ScalarType, out: &mut Vec<u8>) {
    use ScalarType as T;
    match (ty, datum) {
        (_, Datum::Null) => {}
        (T::Int16, d) if d.as_i64().is_some() => out.extend_from_slice(&(d.as_i64().unwrap_or(0) as i16).to_be_bytes()),
        (T::Int32, d) if d.as_i64().is_some() => out.extend_from_slice(&(d.as_i64().unwrap_or(0) as i32).to_be_bytes()),
        (T::Int64, d) if d.as_i64().is_some() => out.extend_from_slice(&d.as_i64().unwrap_or(0).to_be_bytes()),
        (T::Float32, Datum::Float64(f)) => out.extend_from_slice(&(*f as f32).to_be_bytes()),
        (T::Float64, Datum::Float32(f)) => out.extend_from_slice(&f64::from(*f).to_be_bytes()),
        (T::Jsonb, Datum::Text(s)) => {
            out.push(1);
            out.extend_from_slice(s.as_bytes());
        }
        (T::Jsonb, Datum::Jsonb(j)) => {
            out.push(1);
            out.extend_from_slice(super::jsonb_to_string(j).as_bytes());
        }
        (T::Char { length: Some(n) }, Datum::Text(s)) => {
            out.extend_from_slice(s.as_bytes());
            let len = s.chars().count();
            out.extend(std::iter::repeat_n(b' ', (*n as usize).saturating_sub(len)));
        }
        (T::Text | T::Varchar { .. } | T::Char { .. }, d @ (Datum::Jsonb(_) | Datum::Interval(_))) => {
            // A value shown as text: send its text form.
            let mut s = String::new();
            super::format_datum(d, ty, &mut s);
            out.extend_from_slice(s.as_bytes());
        }
        (T::Array(element), Datum::Array(elements)) => super::array::encode_array(elements, element, 1, out),
        // int2vector counts from 0.
        (T::Int2Vector, Datum::Array(elements)) => super::array::encode_array(elements, &T::Int16, 0, out),
        (T::TimestampTz { .. }, Datum::Timestamp(ts)) => out.extend_from_slice(&timestamp_micros(ts).to_be_bytes()),
        (T::Timestamp { .. }, Datum::TimestampTz(ts)) => {
            out.extend_from_slice(&timestamp_micros(&ts.naive_utc()).to_be_bytes())
        }
        (_, d) => encode_own(d, out),
    }
}

/// A datum in its own type's binary layout.
fn encode_own(datum: &Datum, out: &mut Vec<u8>) {
    match datum {
        Datum::Bool(b) => out.push(u8::from(*b)),
        Datum::Int16(i) => out.extend_from_slice(&i.to_be_bytes()),
        Datum::Int32(i) => out.extend_from_slice(&i.to_be_bytes()),
        Datum::Int64(i) => out.extend_from_slice(&i.to_be_bytes()),
        Datum::Float32(f) => out.extend_from_slice(&f.to_be_bytes()),
        Datum::Float64(f) => out.extend_from_slice(&f.to_be_bytes()),
        Datum::Numeric(d) => encode_numeric_binary(d, out),
        Datum::Text(s) => out.extend_from_slice(s.as_bytes()),
        Datum::Bytes(b) => out.extend_from_slice(b),
        Datum::Date(d) => {
            let days = match super::datetime::date_infinity(d) {
                Some(true) => i32::MAX,
                Some(false) => i32::MIN,
                None => d.signed_duration_since(pg_epoch_date()).num_days() as i32,
            };
            out.extend_from_slice(&days.to_be_bytes())
        }
        Datum::Time(t) => out.extend_from_slice(&time_micros(t).to_be_bytes()),
        Datum::Timestamp(ts) => out.extend_from_slice(&timestamp_micros(ts).to_be_bytes()),
        Datum::TimestampTz(ts) => out.extend_from_slice(&timestamp_micros(&ts.naive_utc()).to_be_bytes()),
        Datum::Interval(iv) => {
            out.extend_from_slice(&iv.micros.to_be_bytes());
            out.extend_from_slice(&iv.days.to_be_bytes());
            out.extend_from_slice(&iv.months.to_be_bytes());
        }
        Datum::Jsonb(j) => {
            out.push(1);
            out.extend_from_slice(super::jsonb_to_string(j).as_bytes());
        }
        Datum::Uuid(u) => out.extend_from_slice(&u.to_be_bytes()),
        // Arrays are written by `encode`, which knows their element type; text elements
        // are the only ones whose layout needs none.
        Datum::Array(elements) => super::array::encode_array(elements, &ScalarType::Text, 1, out),
        Datum::Null => {}
    }
}

fn fixed<const N: usize>(bytes: &[u8], ty: &ScalarType) -> Result<[u8; N], ParseError> {
    bytes.try_into().map_err(|_| ParseError::BadBinary(ty.to_string()))
}

fn utf8(bytes: &[u8], ty: &ScalarType) -> Result<String, ParseError> {
    match std::str::from_utf8(bytes) {
        // PostgreSQL text cannot hold NUL.
        Ok(s) if !s.contains('\0') => Ok(s.to_string()),
        _ => Err(ParseError::BadBinary(ty.to_string())),
    }
}

pub(super) fn decode(bytes: &[u8], ty: &ScalarType) -> Result<Datum, ParseError> {
    use ScalarType as T;
    let range = |what: &str| ParseError::FieldOverflow(format!("{what} out of range"));
    Ok(match ty {
        T::Bool => Datum::Bool(fixed::<1>(bytes, ty)?[0] != 0),
        T::Int16 => Datum::Int16(i16::from_be_bytes(fixed(bytes, ty)?)),
        T::Int32 => Datum::Int32(i32::from_be_bytes(fixed(bytes, ty)?)),
        T::Int64 => Datum::Int64(i64::from_be_bytes(fixed(bytes, ty)?)),
        T::Float32 => Datum::Float32(f32::from_be_bytes(fixed(bytes, ty)?)),
        T::Float64 => Datum::Float64(f64::from_be_bytes(fixed(bytes, ty)?)),
        T::Numeric { .. } => Datum::Numeric(decode_numeric_binary(bytes)?),
        T::Text | T::Varchar { .. } | T::Char { .. } => Datum::Text(utf8(bytes, ty)?),
        T::Bytea => Datum::Bytes(bytes.to_vec()),
        T::Array(element) => return super::array::decode_array(bytes, element),
        T::Int2Vector => return super::array::decode_array(bytes, &T::Int16),
        T::Json => {
            let text = utf8(bytes, ty)?;
            super::parse_jsonb(&text)?;
            Datum::Text(text)
        }
        T::Jsonb => match bytes.split_first() {
            Some((1, rest)) => Datum::Jsonb(super::parse_jsonb(&utf8(rest, ty)?)?),
            _ => return Err(ParseError::BadBinary(ty.to_string())),
        },
        T::Date => {
            let days = i32::from_be_bytes(fixed(bytes, ty)?);
            if days == i32::MAX || days == i32::MIN {
                return Ok(Datum::Date(super::datetime::infinite_date(days == i32::MAX)));
            }
            let d = TimeDelta::try_days(i64::from(days))
                .and_then(|delta| pg_epoch_date().checked_add_signed(delta))
                .filter(|d| *d >= super::datetime::min_date())
                .ok_or_else(|| range("date"))?;
            Datum::Date(d)
        }
        T::Time { .. } => {
            let micros = i64::from_be_bytes(fixed(bytes, ty)?);
            if !(0..USECS_PER_DAY).contains(&micros) {
                return Err(range("time"));
            }
            let t = NaiveTime::from_num_seconds_from_midnight_opt(
                (micros / 1_000_000) as u32,
                (micros % 1_000_000) as u32 * 1000,
            )
            .ok_or_else(|| range("time"))?;
            Datum::Time(t)
        }
        T::Timestamp { .. } | T::TimestampTz { .. } => {
            let micros = i64::from_be_bytes(fixed(bytes, ty)?);
            let ts = if micros == i64::MAX || micros == i64::MIN {
                super::datetime::infinite_timestamp(micros == i64::MAX)
            } else {
                pg_epoch()
                    .checked_add_signed(TimeDelta::microseconds(micros))
                    .filter(|ts| ts.date() >= super::datetime::min_date())
                    .filter(|ts| super::datetime::timestamp_infinity(ts).is_none())
                    .ok_or_else(|| range("timestamp"))?
            };
            if matches!(ty, T::Timestamp { .. }) {
                Datum::Timestamp(ts)
            } else {
                Datum::TimestampTz(DateTime::from_naive_utc_and_offset(ts, chrono::Utc))
            }
        }
        T::Interval => {
            let b: [u8; 16] = fixed(bytes, ty)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let days = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            let months = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
            Datum::Interval(Interval::new(months, days, micros))
        }
        T::Uuid => Datum::Uuid(u128::from_be_bytes(fixed(bytes, ty)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strconv::{datum_to_text, decode_binary, encode_binary, parse_datum};
    use std::str::FromStr;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn numeric_hex(s: &str) -> String {
        let mut out = Vec::new();
        encode_numeric_binary(&Decimal::from_str(s).unwrap(), &mut out);
        hex(&out)
    }

    #[test]
    fn numeric_send_matches_postgres() {
        // Expected bytes from PostgreSQL 15's numeric_send.
        let cases = [
            ("0", "0000000000000000"),
            ("0.00", "0000000000000002"),
            ("-0.000", "0000000000000003"),
            ("1", "00010000000000000001"),
            ("-1.5", "000200004000000100011388"),
            ("12345.678", "0003000100000003000109291a7c"),
            ("0.0001", "0001ffff000000040001"),
            ("10000", "00010001000000000001"),
            ("0.0000000001", "0001fffd0000000a0064"),
            ("123456789.123456789", "0006000200000009000109291a8504d2162e2328"),
            ("79228162514264337593543950335", "00080007000000000007240c0659059210f1172f112b014f"),
        ];
        for (value, want) in cases {
            assert_eq!(numeric_hex(value), want, "{value}");
            let mut bytes = Vec::new();
            for i in (0..want.len()).step_by(2) {
                bytes.push(u8::from_str_radix(&want[i..i + 2], 16).unwrap());
            }
            let back = decode_numeric_binary(&bytes).unwrap();
            let mut s = String::new();
            crate::strconv::format_numeric(&back, &mut s);
            let expected = Decimal::from_str(value).unwrap();
            let mut e = String::new();
            crate::strconv::format_numeric(&expected, &mut e);
            assert_eq!(s, e, "{value}");
        }
    }

    #[test]
    fn numeric_recv_validates() {
        let bad = |b: &[u8]| decode_numeric_binary(b).unwrap_err();
        assert!(matches!(bad(&[]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 1, 0, 0, 0, 0, 0, 0]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 0, 0, 0, 0, 0, 0, 0, 0]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 0, 0, 0, 0x12, 0x34, 0, 0]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 0, 0, 0, 0, 0, 0x40, 0]), ParseError::BadBinary(_)));
        assert!(matches!(bad(&[0, 0, 0, 0, 0xC0, 0, 0, 0]), ParseError::FieldOverflow(_)));
        // Weight far beyond 96 bits.
        assert!(matches!(bad(&[0, 1, 0x7f, 0xff, 0, 0, 0, 0, 0, 1]), ParseError::FieldOverflow(_)));
        assert!(matches!(bad(&[0, 1, 0, 0, 0, 0, 0, 29, 0, 1]), ParseError::FieldOverflow(_)));
        // Digits hidden by dscale are truncated: 1.2345 with dscale 2 is 1.23.
        let d = decode_numeric_binary(&[0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x09, 0x29]).unwrap();
        assert_eq!(d.to_string(), "1.23");
        // Leading zero groups are tolerated.
        let d = decode_numeric_binary(&[0, 2, 0, 1, 0x40, 0, 0, 0, 0, 0, 0, 7]).unwrap();
        assert_eq!(d.to_string(), "-7");
    }

    fn round_trip(text: &str, ty: ScalarType, want_hex: &str) {
        let d = parse_datum(text, &ty).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut out = Vec::new();
        encode_binary(&d, &ty, &mut out);
        assert_eq!(hex(&out), want_hex, "{text} as {ty}");
        let back = decode_binary(&out, &ty).unwrap();
        assert_eq!(datum_to_text(&back, &ty), datum_to_text(&d, &ty));
    }

    #[test]
    fn fixed_width_formats() {
        use ScalarType::*;
        round_trip("t", Bool, "01");
        round_trip("f", Bool, "00");
        round_trip("-2", Int16, "fffe");
        round_trip("258", Int32, "00000102");
        round_trip("-1", Int64, "ffffffffffffffff");
        round_trip("1.5", Float32, "3fc00000");
        round_trip("-2.5", Float64, "c004000000000000");
        round_trip("2000-01-01", Date, "00000000");
        round_trip("1999-12-31", Date, "ffffffff");
        round_trip("2024-01-31", Date, "0000225c");
        round_trip("0044-03-15 BC", Date, "fff49d7b");
        round_trip("00:00:01.5", Time { precision: None }, "000000000016e360");
        round_trip("2000-01-01 00:00:00.000001", Timestamp { precision: None }, "0000000000000001");
        round_trip("1999-12-31 23:59:59", Timestamp { precision: None }, "fffffffffff0bdc0");
        round_trip("2000-01-01 01:00:00+01", TimestampTz { precision: None }, "0000000000000000");
        round_trip("1 mon 2 days 00:00:01", Interval, "00000000000f42400000000200000001");
        round_trip("-1 years", Interval, "000000000000000000000000fffffff4");
        round_trip("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", Uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11");
        round_trip("\\x00ff", Bytea, "00ff");
        round_trip("hé", Text, "68c3a9");
        round_trip("ab", Char { length: Some(3) }, "616220");
        round_trip(r#"{"a": 1}"#, Jsonb, "017b2261223a20317d");
        round_trip("-1.5", ScalarType::numeric(), "000200004000000100011388");
    }

    #[test]
    fn conversions_to_the_announced_width() {
        let mut out = Vec::new();
        encode_binary(&Datum::Int32(5), &ScalarType::Int64, &mut out);
        assert_eq!(hex(&out), "0000000000000005");
        out.clear();
        encode_binary(&Datum::Int64(5), &ScalarType::Int16, &mut out);
        assert_eq!(hex(&out), "0005");
        out.clear();
        encode_binary(&Datum::Float32(1.5), &ScalarType::Float64, &mut out);
        assert_eq!(hex(&out), "3ff8000000000000");
        out.clear();
        encode_binary(&Datum::Text("{}".into()), &ScalarType::Jsonb, &mut out);
        assert_eq!(hex(&out), "017b7d");
        out.clear();
        encode_binary(&Datum::Null, &ScalarType::Int32, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn decode_rejects_bad_input() {
        use ScalarType::*;
        let types = [
            Bool,
            Int16,
            Int32,
            Int64,
            Float32,
            Float64,
            ScalarType::numeric(),
            Text,
            Bytea,
            Date,
            Time { precision: None },
            Timestamp { precision: None },
            TimestampTz { precision: None },
            Interval,
            Jsonb,
            Uuid,
        ];
        // Wrong lengths.
        for ty in &types {
            if matches!(ty, Text | Bytea) {
                continue;
            }
            for len in [0usize, 3, 5, 17] {
                let r = decode_binary(&vec![0u8; len], ty);
                assert!(r.is_err() || matches!(ty, Jsonb), "{ty} len {len}");
            }
        }
        assert!(matches!(decode_binary(&[0xff, 0xfe], &Text), Err(ParseError::BadBinary(_))));
        assert!(matches!(decode_binary(b"a\0b", &Text), Err(ParseError::BadBinary(_))));
        assert!(matches!(decode_binary(b"{}", &Jsonb), Err(ParseError::BadBinary(_))));
        assert!(matches!(decode_binary(b"\x02{}", &Jsonb), Err(ParseError::BadBinary(_))));
        assert!(matches!(decode_binary(b"\x01{", &Jsonb), Err(ParseError::InvalidSyntax { .. })));
        round_trip("infinity", Timestamp { precision: None }, "7fffffffffffffff");
        round_trip("-infinity", TimestampTz { precision: None }, "8000000000000000");
        round_trip("infinity", Date, "7fffffff");
        round_trip("-infinity", Date, "80000000");
        assert!(decode_binary(&(i64::MAX - 1).to_be_bytes(), &Timestamp { precision: None }).is_err());
        assert!(decode_binary(&(i32::MAX - 1).to_be_bytes(), &Date).is_err());
        assert!(decode_binary(&USECS_PER_DAY.to_be_bytes(), &Time { precision: None }).is_err());
        assert!(decode_binary(&(-1i64).to_be_bytes(), &Time { precision: None }).is_err());
        assert_eq!(decode_binary(&[7], &Bool), Ok(Datum::Bool(true)));
        // Modifiers apply to decoded values.
        let ty = Varchar { max_length: Some(2) };
        assert!(matches!(decode_binary(b"abc", &ty), Err(ParseError::StringTooLong(_))));
        let ty = ScalarType::Numeric { precision: Some(5), scale: Some(1) };
        let mut out = Vec::new();
        encode_numeric_binary(&Decimal::from_str("1.25").unwrap(), &mut out);
        assert_eq!(datum_to_text(&decode_binary(&out, &ty).unwrap(), &ty).unwrap(), "1.3");
    }

    #[test]
    fn decode_never_panics() {
        use ScalarType::*;
        let types = [
            Bool,
            Int16,
            Int32,
            Int64,
            Float32,
            Float64,
            ScalarType::numeric(),
            Text,
            Bytea,
            Date,
            Time { precision: None },
            Timestamp { precision: None },
            TimestampTz { precision: None },
            Interval,
            Jsonb,
            Uuid,
            Char { length: Some(2) },
        ];
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8 ^ i as u8).collect();
            for ty in &types {
                let _ = decode_binary(&bytes, ty);
            }
        }
    }
}
