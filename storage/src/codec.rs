//! The byte encoding of rows in the durable store: a tag byte per datum and a fixed or
//! length-prefixed payload. Explicit rather than derived so that the stored format does
//! not change when a type's serde representation does (it is part of the data format).

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};
use eddy_repr::{Datum, Interval, Jsonb, Row};
use rust_decimal::Decimal;

/// Why stored bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

pub fn encode_row(row: &Row, out: &mut Vec<u8>) {
    out.extend_from_slice(&(row.len() as u32).to_le_bytes());
    for datum in row.iter() {
        encode_datum(datum, out);
    }
}

pub fn decode_row(bytes: &[u8]) -> Result<Row, CodecError> {
    let mut reader = Reader { bytes, at: 0 };
    let n = reader.u32()? as usize;
    let mut datums = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        datums.push(reader.datum()?);
    }
    if reader.at != bytes.len() {
        return Err(CodecError(format!("{} bytes left after a row", bytes.len() - reader.at)));
    }
    Ok(Row::new(datums))
}

fn encode_datum(datum: &Datum, out: &mut Vec<u8>) {
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    match datum {
        Datum::Null => out.push(0),
        Datum::Bool(b) => out.extend_from_slice(&[1, *b as u8]),
        Datum::Int16(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Datum::Int32(i) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Datum::Int64(i) => {
            out.push(4);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Datum::Float32(f) => {
            out.push(5);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Datum::Float64(f) => {
            out.push(6);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Datum::Numeric(d) => {
            out.push(7);
            out.extend_from_slice(&d.serialize());
        }
        Datum::Text(s) => {
            out.push(8);
            bytes(out, s.as_bytes());
        }
        Datum::Bytes(b) => {
            out.push(9);
            bytes(out, b);
        }
        Datum::Date(d) => {
            out.push(10);
            out.extend_from_slice(&d.num_days_from_ce_i32().to_le_bytes());
        }
        Datum::Time(t) => {
            out.push(11);
            out.extend_from_slice(&t.num_seconds_from_midnight().to_le_bytes());
            out.extend_from_slice(&t.nanosecond().to_le_bytes());
        }
        Datum::Timestamp(ts) => {
            out.push(12);
            let utc = ts.and_utc();
            out.extend_from_slice(&utc.timestamp().to_le_bytes());
            out.extend_from_slice(&utc.timestamp_subsec_nanos().to_le_bytes());
        }
        Datum::TimestampTz(ts) => {
            out.push(13);
            out.extend_from_slice(&ts.timestamp().to_le_bytes());
            out.extend_from_slice(&ts.timestamp_subsec_nanos().to_le_bytes());
        }
        Datum::Interval(i) => {
            out.push(14);
            out.extend_from_slice(&i.months.to_le_bytes());
            out.extend_from_slice(&i.days.to_le_bytes());
            out.extend_from_slice(&i.micros.to_le_bytes());
        }
        Datum::Jsonb(j) => {
            out.push(15);
            // Jsonb's own serde form (a tagged tree) round-trips through JSON exactly.
            bytes(out, &serde_json::to_vec(j).unwrap_or_default());
        }
        Datum::Uuid(u) => {
            out.push(16);
            out.extend_from_slice(&u.to_le_bytes());
        }
        Datum::Array(elements) => {
            out.push(17);
            out.extend_from_slice(&(elements.len() as u32).to_le_bytes());
            for e in elements {
                encode_datum(e, out);
            }
        }
    }
}

/// Days from 0001-01-01 (CE day 1) as chrono counts them.
trait DaysFromCe {
    fn num_days_from_ce_i32(&self) -> i32;
}

impl DaysFromCe for NaiveDate {
    fn num_days_from_ce_i32(&self) -> i32 {
        chrono::Datelike::num_days_from_ce(self)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let slice = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or_else(|| CodecError(format!("row ends early at byte {}", self.at)))?;
        self.at += N;
        Ok(slice.try_into().expect("length checked"))
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        self.take::<4>().map(u32::from_le_bytes)
    }

    fn i32(&mut self) -> Result<i32, CodecError> {
        self.take::<4>().map(i32::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64, CodecError> {
        self.take::<8>().map(i64::from_le_bytes)
    }

    fn slice(&mut self) -> Result<&[u8], CodecError> {
        let n = self.u32()? as usize;
        let slice = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| CodecError(format!("a {n}-byte value runs past the row's end at byte {}", self.at)))?;
        self.at += n;
        Ok(slice)
    }

    fn datum(&mut self) -> Result<Datum, CodecError> {
        let [tag] = self.take::<1>()?;
        let bad = |what: &str| CodecError(format!("invalid stored {what}"));
        Ok(match tag {
            0 => Datum::Null,
            1 => Datum::Bool(self.take::<1>()?[0] != 0),
            2 => Datum::Int16(i16::from_le_bytes(self.take::<2>()?)),
            3 => Datum::Int32(self.i32()?),
            4 => Datum::Int64(self.i64()?),
            5 => Datum::Float32(f32::from_bits(self.u32()?)),
            6 => Datum::Float64(f64::from_bits(self.take::<8>().map(u64::from_le_bytes)?)),
            7 => Datum::Numeric(Decimal::deserialize(self.take::<16>()?)),
            8 => Datum::Text(String::from_utf8(self.slice()?.to_vec()).map_err(|_| bad("text"))?),
            9 => Datum::Bytes(self.slice()?.to_vec()),
            10 => Datum::Date(NaiveDate::from_num_days_from_ce_opt(self.i32()?).ok_or_else(|| bad("date"))?),
            11 => {
                let (secs, nanos) = (self.u32()?, self.u32()?);
                Datum::Time(NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).ok_or_else(|| bad("time"))?)
            }
            12 => {
                let (secs, nanos) = (self.i64()?, self.u32()?);
                let ts = DateTime::from_timestamp(secs, nanos).ok_or_else(|| bad("timestamp"))?;
                Datum::Timestamp(ts.naive_utc())
            }
            13 => {
                let (secs, nanos) = (self.i64()?, self.u32()?);
                Datum::TimestampTz(DateTime::from_timestamp(secs, nanos).ok_or_else(|| bad("timestamptz"))?)
            }
            14 => {
                let (months, days, micros) = (self.i32()?, self.i32()?, self.i64()?);
                Datum::Interval(Interval::new(months, days, micros))
            }
            15 => {
                let j: Jsonb = serde_json::from_slice(self.slice()?).map_err(|e| bad(&format!("jsonb ({e})")))?;
                Datum::Jsonb(j)
            }
            16 => Datum::Uuid(u128::from_le_bytes(self.take::<16>()?)),
            17 => {
                let n = self.u32()? as usize;
                let mut elements = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    elements.push(self.datum()?);
                }
                Datum::Array(elements)
            }
            other => return Err(CodecError(format!("unknown datum tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_kind_of_datum_round_trips() {
        let json = Jsonb::Array(vec![Jsonb::Null, Jsonb::String("x".into()), Jsonb::Bool(false)]);
        let row = Row::new(vec![
            Datum::Null,
            Datum::Bool(true),
            Datum::Int16(-7),
            Datum::Int32(i32::MIN),
            Datum::Int64(i64::MAX),
            Datum::Float32(1.5),
            Datum::Float64(f64::NAN),
            Datum::Numeric("-12345.678900".parse().unwrap()),
            Datum::Text("héllo, 世界".into()),
            Datum::Bytes(vec![0, 255, 7]),
            Datum::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()),
            Datum::Time(NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()),
            Datum::Timestamp(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap().and_hms_micro_opt(1, 2, 3, 4).unwrap()),
            Datum::TimestampTz(chrono::Utc.timestamp_opt(-1, 500).unwrap()),
            Datum::Interval(Interval::new(-1, 40, 123_456)),
            Datum::Array(vec![Datum::Int32(1), Datum::Null, Datum::Int32(3)]),
            Datum::Array(vec![]),
            Datum::Jsonb(json),
            Datum::Uuid(u128::MAX - 3),
        ]);
        let mut bytes = Vec::new();
        encode_row(&row, &mut bytes);
        let back = decode_row(&bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{row:?}"), "NaN compares unequal, so compare the debug forms");
        // Numeric keeps its scale (12345.678900 is stored as written).
        assert!(format!("{back:?}").contains("-12345.678900"));
    }

    #[test]
    fn truncated_and_garbage_bytes_are_errors_not_panics() {
        let mut bytes = Vec::new();
        encode_row(&Row::new(vec![Datum::Text("abcdef".into()), Datum::Int64(1)]), &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode_row(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_row(&[1, 0, 0, 0, 99]).is_err());
        assert!(decode_row(&[255, 255, 255, 255]).is_err());
    }
}
