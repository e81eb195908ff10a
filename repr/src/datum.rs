//! `Datum`: one SQL value.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::{Interval, Jsonb};

/// One SQL value. `Null` is a value of every type.
///
/// Equality and hashing are identity: two datums are equal when PostgreSQL prints them the
/// same, so `1.0` and `1.00`, `'1 mon'` and `'30 days'`, `-0` and `0` are different values
/// (differential dataflow consolidates by this equality; an update from one to the other
/// must not cancel out). SQL's `=` between such "twins" is [`Datum::sql_cmp`], and where
/// PostgreSQL groups or matches by SQL equality the key is [`Datum::sql_normalized`].
///
/// `Ord` is SQL's order refined by identity, so sorted datums are in SQL order: `NULL`
/// sorts after every other value (and equals itself, as in GROUP BY); `NaN` equals `NaN` and
/// sorts above every number; `-0.0` sorts just before `0.0`; a numeric sorts by value, then
/// by scale.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Datum {
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Numeric(Decimal),
    /// `text`, `varchar` and `char` values (a `char(n)` value is stored blank-padded).
    Text(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Interval(Interval),
    Jsonb(Jsonb),
    Uuid(u128),
    /// A one-dimensional array (lower bound 1) of values of one type, NULLs allowed.
    Array(Vec<Datum>),
    /// Sorts last, as PostgreSQL's default `NULLS LAST` for ascending order.
    Null,
}

impl Datum {
    /// Bytes this value holds on the heap (beyond its own size).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Datum::Text(s) => s.capacity(),
            Datum::Bytes(b) => b.capacity(),
            Datum::Jsonb(j) => j.heap_bytes(),
            Datum::Array(a) => {
                a.capacity() * std::mem::size_of::<Datum>() + a.iter().map(Datum::heap_bytes).sum::<usize>()
            }
            _ => 0,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    pub fn from_bool_opt(b: Option<bool>) -> Datum {
        b.map_or(Datum::Null, Datum::Bool)
    }

    /// The boolean, or `None` for NULL. Panics on a non-boolean: plans are type-checked.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Datum::Bool(b) => Some(*b),
            Datum::Null => None,
            other => panic!("expected boolean datum, got {other:?}"),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Datum::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Integers of any width as `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Datum::Int16(i) => Some(*i as i64),
            Datum::Int32(i) => Some(*i as i64),
            Datum::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// True for the kinds of value that can be SQL-equal to a value written differently
    /// (numeric scale, float `-0`, interval fields): their "twins".
    pub fn has_twins(&self) -> bool {
        match self {
            Datum::Numeric(_) | Datum::Float32(_) | Datum::Float64(_) | Datum::Interval(_) => true,
            Datum::Array(a) => a.iter().any(Datum::has_twins),
            _ => false,
        }
    }

    /// The one representative of the values SQL-equal to this one (`1.00` → `1`,
    /// `-0` → `0`, `'24 hours'` → `'1 day'`'s normal form): the key to group or match by.
    pub fn sql_normalized(&self) -> Datum {
        match self {
            Datum::Numeric(d) if d.is_zero() => Datum::Numeric(Decimal::ZERO),
            Datum::Numeric(d) => Datum::Numeric(d.normalize()),
            Datum::Float32(f) if *f == 0.0 => Datum::Float32(0.0),
            Datum::Float64(f) if *f == 0.0 => Datum::Float64(0.0),
            Datum::Interval(i) => Datum::Interval(i.sql_normalized()),
            Datum::Array(a) => Datum::Array(a.iter().map(Datum::sql_normalized).collect()),
            other => other.clone(),
        }
    }

    /// SQL's comparison of two values of one kind (twins compare equal); values of
    /// different kinds compare by kind, as `Ord` does.
    pub fn sql_cmp(&self, other: &Datum) -> Ordering {
        use Datum::*;
        match (self, other) {
            (Float32(a), Float32(b)) => cmp_f64(*a as f64, *b as f64),
            (Float64(a), Float64(b)) => cmp_f64(*a, *b),
            (Numeric(a), Numeric(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.sql_cmp(b),
            (Array(a), Array(b)) => {
                a.iter().zip(b).map(|(x, y)| x.sql_cmp(y)).find(|o| o.is_ne()).unwrap_or_else(|| a.len().cmp(&b.len()))
            }
            (a, b) => a.cmp(b),
        }
    }

    fn variant_rank(&self) -> u8 {
        match self {
            Datum::Bool(_) => 0,
            Datum::Int16(_) => 1,
            Datum::Int32(_) => 2,
            Datum::Int64(_) => 3,
            Datum::Float32(_) => 4,
            Datum::Float64(_) => 5,
            Datum::Numeric(_) => 6,
            Datum::Text(_) => 7,
            Datum::Bytes(_) => 8,
            Datum::Date(_) => 9,
            Datum::Time(_) => 10,
            Datum::Timestamp(_) => 11,
            Datum::TimestampTz(_) => 12,
            Datum::Interval(_) => 13,
            Datum::Jsonb(_) => 14,
            Datum::Uuid(_) => 15,
            Datum::Array(_) => 16,
            Datum::Null => 255,
        }
    }
}

/// PostgreSQL's float ordering: NaN equals NaN and is larger than everything; -0 = 0.
#[inline]
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// [`cmp_f64`] with `-0` just before `0`: they are equal in SQL but print differently.
#[inline]
fn cmp_f64_identity(a: f64, b: f64) -> Ordering {
    cmp_f64(a, b).then_with(|| if a == 0.0 { b.is_sign_negative().cmp(&a.is_sign_negative()) } else { Ordering::Equal })
}

fn hash_f64<H: Hasher>(f: f64, state: &mut H) {
    let canonical = if f.is_nan() { f64::NAN.to_bits() } else { f.to_bits() };
    canonical.hash(state)
}

impl Ord for Datum {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        use Datum::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int16(a), Int16(b)) => a.cmp(b),
            (Int32(a), Int32(b)) => a.cmp(b),
            (Int64(a), Int64(b)) => a.cmp(b),
            (Float32(a), Float32(b)) => cmp_f64_identity(*a as f64, *b as f64),
            (Float64(a), Float64(b)) => cmp_f64_identity(*a, *b),
            (Numeric(a), Numeric(b)) => a.cmp(b).then_with(|| a.scale().cmp(&b.scale())),
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Time(a), Time(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.cmp(b),
            (Jsonb(a), Jsonb(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Array(a), Array(b)) => a.cmp(b),
            (a, b) => a.variant_rank().cmp(&b.variant_rank()),
        }
    }
}

impl PartialOrd for Datum {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Datum {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Datum {}

impl Hash for Datum {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.variant_rank().hash(state);
        match self {
            Datum::Bool(b) => b.hash(state),
            Datum::Int16(i) => i.hash(state),
            Datum::Int32(i) => i.hash(state),
            Datum::Int64(i) => i.hash(state),
            Datum::Float32(f) => hash_f64(*f as f64, state),
            Datum::Float64(f) => hash_f64(*f, state),
            Datum::Numeric(d) => (d.mantissa(), d.scale()).hash(state),
            Datum::Text(s) => s.hash(state),
            Datum::Bytes(b) => b.hash(state),
            Datum::Date(d) => d.hash(state),
            Datum::Time(t) => t.hash(state),
            Datum::Timestamp(t) => t.hash(state),
            Datum::TimestampTz(t) => t.hash(state),
            Datum::Interval(i) => i.hash(state),
            Datum::Jsonb(j) => j.hash(state),
            Datum::Uuid(u) => u.hash(state),
            Datum::Array(a) => a.hash(state),
            Datum::Null => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_sorts_last_and_equals_itself() {
        assert!(Datum::Null > Datum::Int64(i64::MAX));
        assert_eq!(Datum::Null, Datum::Null);
    }

    fn hash(d: &Datum) -> u64 {
        use std::collections::hash_map::DefaultHasher;
        let mut s = DefaultHasher::new();
        d.hash(&mut s);
        s.finish()
    }

    #[test]
    fn float_nan_and_negative_zero() {
        assert_eq!(Datum::Float64(f64::NAN), Datum::Float64(-f64::NAN));
        assert_eq!(hash(&Datum::Float64(f64::NAN)), hash(&Datum::Float64(-f64::NAN)));
        assert!(Datum::Float64(f64::NAN) > Datum::Float64(f64::INFINITY));
        let (neg, pos) = (Datum::Float64(-0.0), Datum::Float64(0.0));
        assert!(neg < pos && pos < Datum::Float64(f64::MIN_POSITIVE));
        assert_eq!(neg.sql_cmp(&pos), Ordering::Equal);
        assert_eq!(neg.sql_normalized(), pos);
    }

    #[test]
    fn numerics_are_equal_in_sql_but_distinct_values_when_scales_differ() {
        let a = Datum::Numeric(Decimal::new(10, 1));
        let b = Datum::Numeric(Decimal::new(100, 2));
        assert_ne!(a, b);
        assert!(a < b, "same value: the smaller scale first");
        assert!(b < Datum::Numeric(Decimal::new(11, 1)), "SQL order first");
        assert_eq!(a.sql_cmp(&b), Ordering::Equal);
        assert_eq!(a.sql_normalized(), b.sql_normalized());
        assert_eq!(hash(&a.sql_normalized()), hash(&b.sql_normalized()));
        assert_eq!(Datum::Numeric(-Decimal::new(0, 2)).sql_normalized(), Datum::Numeric(Decimal::ZERO));
        assert_eq!(hash(&Datum::Numeric(-Decimal::new(0, 2))), hash(&Datum::Numeric(Decimal::new(0, 2))));
    }
}
