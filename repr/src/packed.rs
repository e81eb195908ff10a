//! `PackedRow`: a row as one run of bytes, the form rows take inside dataflows.
//!
//! Arrangements sort, merge and clone rows all the time. A [`Row`] is a vector of
//! 32-byte [`Datum`]s compared through a pointer; a packed row is its datums encoded one
//! after the other, compared with `memcmp`, and kept inline (no heap allocation) up to
//! [`INLINE_BYTES`], which holds a narrow row of a few integers.
//!
//! Every datum's encoding starts with a tag byte and ends where its own bytes say, so a
//! row's encoding is the concatenation of its datums' encodings: projecting, concatenating
//! and testing for a prefix of datums are byte operations. The byte order of packed rows
//! is the order of the rows (`Ord` of `Row`; for jsonb values, whose `Datum` order is
//! identity only, just a consistent order), so a seek by a prefix of datums, or to a
//! lower bound, works on packed rows too; equal rows pack to equal bytes.
//!
//! The encoding is also a storage format: append-only sources' rows are stored packed
//! (`eddy_storage::durable`), so changing it needs a new data format version.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::jsonb::{JsonKey, JsonNumber};
use crate::{Datum, Diff, Interval, Jsonb, Row};

/// Bytes a packed row holds without a heap allocation.
pub const INLINE_BYTES: usize = 24;

/// A row in packed form (see the module documentation).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackedRow(SmallVec<[u8; INLINE_BYTES]>);

// Tags, in the order of `Datum`'s variants so that datums of different kinds sort as
// `Datum` sorts them. Each integer kind takes a range of 17 tags (see `put_int`).
const BOOL_FALSE: u8 = 0x01;
const BOOL_TRUE: u8 = 0x02;
const INT16: u8 = 0x03;
const INT32: u8 = INT16 + INT_TAGS;
const INT64: u8 = INT32 + INT_TAGS;
const INT_TAGS: u8 = 17;
const FLOAT32: u8 = INT64 + INT_TAGS;
const FLOAT64: u8 = FLOAT32 + 1;
const NUMERIC: u8 = FLOAT64 + 1;
const TEXT: u8 = NUMERIC + 1;
const BYTES: u8 = TEXT + 1;
const DATE: u8 = BYTES + 1;
const TIME: u8 = DATE + 1;
const TIMESTAMP: u8 = TIME + 1;
const TIMESTAMPTZ: u8 = TIMESTAMP + 1;
const INTERVAL: u8 = TIMESTAMPTZ + 1;
const JSONB: u8 = INTERVAL + 1;
const UUID: u8 = JSONB + 1;
const ARRAY: u8 = UUID + 1;
const NULL: u8 = 0xFF;
/// Ends an array's elements; lower than every tag, so a shorter array sorts first.
const ARRAY_END: u8 = 0x00;

impl PackedRow {
    pub fn pack(datums: &[Datum]) -> PackedRow {
        let mut row = PackedRow::default();
        for d in datums {
            row.push(d);
        }
        row
    }

    pub fn push(&mut self, datum: &Datum) {
        put_datum(&mut self.0, datum)
    }

    pub fn unpack(&self) -> Row {
        self.as_ref().unpack()
    }

    /// The datums, decoded one by one.
    pub fn iter(&self) -> impl Iterator<Item = Datum> + '_ {
        self.as_ref().iter()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The row borrowed, as arrangements hand out the rows they store.
    pub fn as_ref(&self) -> PackedRef<'_> {
        PackedRef(&self.0)
    }

    /// Where each datum's bytes lie, in order.
    fn spans(&self) -> SmallVec<[std::ops::Range<usize>; 8]> {
        let mut spans = SmallVec::new();
        let mut at = 0;
        while at < self.0.len() {
            let len = datum_len(&self.0[at..]);
            spans.push(at..at + len);
            at += len;
        }
        spans
    }

    /// A new row holding the datums at `columns`, in that order.
    pub fn project(&self, columns: &[usize]) -> PackedRow {
        let spans = self.spans();
        let mut out = PackedRow::default();
        for &c in columns {
            out.0.extend_from_slice(&self.0[spans[c].clone()]);
        }
        out
    }

    /// A new row with `other`'s datums after this row's.
    pub fn concat(&self, other: &PackedRow) -> PackedRow {
        self.as_ref().concat(other.as_ref())
    }

    /// True if this row's first datums are `prefix`'s.
    pub fn starts_with(&self, prefix: &PackedRow) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// Bytes the row takes in memory: itself, and its heap allocation if it has one.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<PackedRow>() + if self.0.spilled() { self.0.capacity() } else { 0 }
    }

    /// A hash of the row, the same on every worker (for spreading rows over buckets).
    pub fn hashed(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }

    /// [`Row::has_twins`] without decoding the row's plain values.
    pub fn has_twins(&self) -> bool {
        self.spans().into_iter().any(|span| match self.0[span.start] {
            FLOAT32 | FLOAT64 | NUMERIC | INTERVAL => true,
            ARRAY => get_datum(&self.0[span]).0.has_twins(),
            _ => false,
        })
    }
}

/// A packed row borrowed from where it is stored: an arrangement keeps the bytes of many
/// rows in one buffer and lends them out as `PackedRef`s. Its order is [`PackedRow`]'s.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackedRef<'a>(&'a [u8]);

impl<'a> PackedRef<'a> {
    /// Bytes that [`PackedRow::as_bytes`] or [`PackedRef::as_bytes`] returned (anything
    /// else decodes to garbage or panics).
    pub fn from_packed_bytes(bytes: &'a [u8]) -> PackedRef<'a> {
        PackedRef(bytes)
    }

    pub fn as_bytes(self) -> &'a [u8] {
        self.0
    }

    pub fn to_owned(self) -> PackedRow {
        PackedRow(SmallVec::from_slice(self.0))
    }

    pub fn unpack(self) -> Row {
        self.iter().collect()
    }

    /// The datums, decoded one by one.
    pub fn iter(self) -> impl Iterator<Item = Datum> + 'a {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (datum, used) = get_datum(rest);
            rest = &rest[used..];
            Some(datum)
        })
    }

    /// A new row with `other`'s datums after this row's.
    pub fn concat(self, other: PackedRef<'_>) -> PackedRow {
        let mut out = SmallVec::with_capacity(self.0.len() + other.0.len());
        out.extend_from_slice(self.0);
        out.extend_from_slice(other.0);
        PackedRow(out)
    }
}

impl<'a> PartialEq<&'a PackedRow> for PackedRef<'a> {
    fn eq(&self, other: &&'a PackedRow) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for PackedRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<&Row> for PackedRow {
    fn from(row: &Row) -> Self {
        PackedRow::pack(row)
    }
}

impl From<Row> for PackedRow {
    fn from(row: Row) -> Self {
        PackedRow::pack(&row)
    }
}

impl fmt::Debug for PackedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn put_datum(out: &mut SmallVec<[u8; INLINE_BYTES]>, datum: &Datum) {
    match datum {
        Datum::Bool(b) => out.push(if *b { BOOL_TRUE } else { BOOL_FALSE }),
        Datum::Int16(i) => put_int(out, INT16, *i as i64),
        Datum::Int32(i) => put_int(out, INT32, *i as i64),
        Datum::Int64(i) => put_int(out, INT64, *i),
        Datum::Float32(f) => {
            // Every f32 is exactly an f64, and comes back from it unchanged.
            out.push(FLOAT32);
            out.extend_from_slice(&ordered_f64(*f as f64).to_be_bytes());
        }
        Datum::Float64(f) => {
            out.push(FLOAT64);
            out.extend_from_slice(&ordered_f64(*f).to_be_bytes());
        }
        Datum::Numeric(d) => {
            out.push(NUMERIC);
            put_decimal(out, d);
        }
        Datum::Text(s) => {
            out.push(TEXT);
            put_escaped(out, s.as_bytes());
        }
        Datum::Bytes(b) => {
            out.push(BYTES);
            put_escaped(out, b);
        }
        Datum::Date(d) => {
            out.push(DATE);
            out.extend_from_slice(&flip_i32(d.num_days_from_ce()));
        }
        Datum::Time(t) => {
            out.push(TIME);
            out.extend_from_slice(&t.num_seconds_from_midnight().to_be_bytes());
            out.extend_from_slice(&t.nanosecond().to_be_bytes());
        }
        Datum::Timestamp(ts) => {
            out.push(TIMESTAMP);
            put_instant(out, ts.and_utc().timestamp(), ts.and_utc().timestamp_subsec_nanos());
        }
        Datum::TimestampTz(ts) => {
            out.push(TIMESTAMPTZ);
            put_instant(out, ts.timestamp(), ts.timestamp_subsec_nanos());
        }
        Datum::Interval(i) => {
            // `Interval`'s order: SQL length, then the normal form first, then the fields.
            out.push(INTERVAL);
            out.extend_from_slice(&((i.as_total_micros() as u128) ^ (1 << 127)).to_be_bytes());
            out.push((*i != i.sql_normalized()) as u8);
            out.extend_from_slice(&flip_i32(i.months));
            out.extend_from_slice(&flip_i32(i.days));
            out.extend_from_slice(&flip_i64(i.micros));
        }
        Datum::Jsonb(j) => {
            out.push(JSONB);
            put_json(out, j);
        }
        Datum::Uuid(u) => {
            out.push(UUID);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Datum::Array(items) => {
            out.push(ARRAY);
            for item in items {
                put_datum(out, item);
            }
            out.push(ARRAY_END);
        }
        Datum::Null => out.push(NULL),
    }
}

/// Decodes the datum at the start of `bytes`: it and the bytes it took.
fn get_datum(bytes: &[u8]) -> (Datum, usize) {
    let tag = bytes[0];
    let body = &bytes[1..];
    match tag {
        BOOL_FALSE => (Datum::Bool(false), 1),
        BOOL_TRUE => (Datum::Bool(true), 1),
        t if (INT16..INT32).contains(&t) => {
            let (v, n) = get_int(INT16, t, body);
            (Datum::Int16(v as i16), 1 + n)
        }
        t if (INT32..INT64).contains(&t) => {
            let (v, n) = get_int(INT32, t, body);
            (Datum::Int32(v as i32), 1 + n)
        }
        t if (INT64..FLOAT32).contains(&t) => {
            let (v, n) = get_int(INT64, t, body);
            (Datum::Int64(v), 1 + n)
        }
        FLOAT32 => (Datum::Float32(unordered_f64(u64::from_be_bytes(array(body))) as f32), 9),
        FLOAT64 => (Datum::Float64(unordered_f64(u64::from_be_bytes(array(body)))), 9),
        NUMERIC => {
            let (d, n) = get_decimal(body);
            (Datum::Numeric(d), 1 + n)
        }
        TEXT => {
            let (b, n) = get_escaped(body);
            (Datum::Text(String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())), 1 + n)
        }
        BYTES => {
            let (b, n) = get_escaped(body);
            (Datum::Bytes(b), 1 + n)
        }
        DATE => {
            let days = unflip_i32(array(body));
            (Datum::Date(NaiveDate::from_num_days_from_ce_opt(days).unwrap_or_default()), 5)
        }
        TIME => {
            let secs = u32::from_be_bytes(array(body));
            let nanos = u32::from_be_bytes(array(&body[4..]));
            (Datum::Time(NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).unwrap_or_default()), 9)
        }
        TIMESTAMP => (Datum::Timestamp(get_instant(body).naive_utc()), 13),
        TIMESTAMPTZ => (Datum::TimestampTz(get_instant(body)), 13),
        INTERVAL => {
            let fields = &body[17..];
            let months = unflip_i32(array(fields));
            let days = unflip_i32(array(&fields[4..]));
            let micros = unflip_i64(array(&fields[8..]));
            (Datum::Interval(Interval::new(months, days, micros)), 34)
        }
        JSONB => {
            let (j, n) = get_json(body);
            (Datum::Jsonb(j), 1 + n)
        }
        UUID => (Datum::Uuid(u128::from_be_bytes(array(body))), 17),
        ARRAY => {
            let mut items = Vec::new();
            let mut at = 0;
            while body[at] != ARRAY_END {
                let (item, n) = get_datum(&body[at..]);
                items.push(item);
                at += n;
            }
            (Datum::Array(items), 2 + at)
        }
        NULL => (Datum::Null, 1),
        other => panic!("corrupt packed row: unknown tag {other:#x}"),
    }
}

/// The byte length of the datum at the start of `bytes`, without decoding it.
fn datum_len(bytes: &[u8]) -> usize {
    let body = &bytes[1..];
    match bytes[0] {
        BOOL_FALSE | BOOL_TRUE | NULL => 1,
        t if (INT16..FLOAT32).contains(&t) => 1 + int_len((t - INT16) % INT_TAGS),
        FLOAT32 | FLOAT64 => 9,
        NUMERIC => 1 + decimal_len(body),
        TEXT | BYTES => 1 + escaped_len(body),
        DATE => 5,
        TIME => 9,
        TIMESTAMP | TIMESTAMPTZ => 13,
        INTERVAL => 34,
        UUID => 17,
        _ => get_datum(bytes).1,
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// An integer in as few bytes as its value needs, in order: the tag says the sign and the
/// byte count (offset 0..=7: negatives needing 8..=1 bytes, 8: zero, 9..=16: positives
/// needing 1..=8 bytes), then the value's low bytes, big-endian.
fn put_int(out: &mut SmallVec<[u8; INLINE_BYTES]>, base: u8, v: i64) {
    let bytes = v.to_be_bytes();
    let (offset, n) = match v {
        0 => (8, 0),
        v if v > 0 => {
            let n = 8 - (v.leading_zeros() / 8) as usize;
            (8 + n, n)
        }
        v => {
            let n = (8 - ((!v).leading_zeros() / 8) as usize).max(1);
            (8 - n, n)
        }
    };
    out.push(base + offset as u8);
    out.extend_from_slice(&bytes[8 - n..]);
}

fn int_len(offset: u8) -> usize {
    (offset as i32 - 8).unsigned_abs() as usize
}

fn get_int(base: u8, tag: u8, body: &[u8]) -> (i64, usize) {
    let offset = tag - base;
    let n = int_len(offset);
    let fill = if offset < 8 { 0xFF } else { 0 };
    let mut bytes = [fill; 8];
    bytes[8 - n..].copy_from_slice(&body[..n]);
    (i64::from_be_bytes(bytes), n)
}

/// Float bits that sort as `Datum` sorts floats: `-0` just before `0`, NaN (one NaN for all)
/// above everything.
fn ordered_f64(f: f64) -> u64 {
    let bits = if f.is_nan() { f64::NAN.to_bits() } else { f.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn unordered_f64(bits: u64) -> f64 {
    f64::from_bits(if bits >> 63 == 1 { bits & !(1 << 63) } else { !bits })
}

fn flip_i32(v: i32) -> [u8; 4] {
    ((v as u32) ^ (1 << 31)).to_be_bytes()
}

fn unflip_i32(b: [u8; 4]) -> i32 {
    (u32::from_be_bytes(b) ^ (1 << 31)) as i32
}

fn flip_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn unflip_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

fn put_instant(out: &mut SmallVec<[u8; INLINE_BYTES]>, secs: i64, nanos: u32) {
    out.extend_from_slice(&flip_i64(secs));
    out.extend_from_slice(&nanos.to_be_bytes());
}

fn get_instant(body: &[u8]) -> DateTime<chrono::Utc> {
    let secs = unflip_i64(array(body));
    let nanos = u32::from_be_bytes(array(&body[8..]));
    DateTime::from_timestamp(secs, nanos).unwrap_or_default()
}

/// Bytes with `0x00` escaped as `0x00 0xFF`, ended by `0x00 0x01`: in byte order, and no
/// encoding is a prefix of another.
fn put_escaped(out: &mut SmallVec<[u8; INLINE_BYTES]>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

fn escaped_len(body: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match memchr0(&body[at..]) {
            Some(i) if body[at + i + 1] == 0xFF => at += i + 2,
            Some(i) => return at + i + 2,
            None => panic!("corrupt packed row: unterminated string"),
        }
    }
}

fn memchr0(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0)
}

fn get_escaped(body: &[u8]) -> (Vec<u8>, usize) {
    let len = escaped_len(body);
    let mut out = Vec::with_capacity(len - 2);
    let mut i = 0;
    while i < len - 2 {
        out.push(body[i]);
        i += if body[i] == 0 { 2 } else { 1 };
    }
    (out, len)
}

/// A numeric in value order, then by scale (as `Datum` orders them): a sign class
/// (negative, zero, positive), for non-zero values the decimal exponent and the significant
/// digits (inverted for negatives, so larger magnitudes sort first), then the scale.
fn put_decimal(out: &mut SmallVec<[u8; INLINE_BYTES]>, d: &Decimal) {
    let scale = d.scale() as u8;
    let mantissa = d.mantissa();
    if mantissa == 0 {
        out.extend_from_slice(&[1, scale]);
        return;
    }
    let mut digits = mantissa.unsigned_abs().to_string().into_bytes();
    // value = 0.D x 10^exponent, D the digits without trailing zeros.
    let exponent = digits.len() as i32 - scale as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let negative = mantissa < 0;
    let start = out.len();
    out.push((exponent + 128) as u8);
    for pair in digits.chunks(2) {
        let first = pair[0] - b'0';
        let second = pair.get(1).map_or(0, |d| d - b'0' + 1);
        out.push(1 + first * 11 + second);
    }
    out.push(0);
    if negative {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
    out.insert(start, if negative { 0 } else { 2 });
    out.push(scale);
}

fn decimal_len(body: &[u8]) -> usize {
    match body[0] {
        1 => 2,
        class => {
            let end = if class == 0 { 0xFF } else { 0 };
            let digits = body[2..].iter().position(|&b| b == end).unwrap_or(body.len());
            2 + digits + 2
        }
    }
}

fn get_decimal(body: &[u8]) -> (Decimal, usize) {
    let len = decimal_len(body);
    let scale = body[len - 1] as u32;
    if body[0] == 1 {
        return (Decimal::from_i128_with_scale(0, scale), len);
    }
    let negative = body[0] == 0;
    let byte = |b: u8| if negative { !b } else { b };
    let exponent = byte(body[1]) as i32 - 128;
    let mut significand: i128 = 0;
    let mut count = 0i32;
    for &b in &body[2..len - 2] {
        let pair = byte(b) - 1;
        significand = significand * 10 + (pair / 11) as i128;
        count += 1;
        if pair % 11 != 0 {
            significand = significand * 10 + (pair % 11 - 1) as i128;
            count += 1;
        }
    }
    let mantissa = significand * 10i128.pow((exponent + scale as i32 - count).max(0) as u32);
    (Decimal::from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale), len)
}

// jsonb: an injective encoding (jsonb has no SQL order in `Datum`, only identity).
const JSON_NULL: u8 = 1;
const JSON_FALSE: u8 = 2;
const JSON_TRUE: u8 = 3;
const JSON_DECIMAL: u8 = 4;
const JSON_NUMBER_TEXT: u8 = 5;
const JSON_STRING: u8 = 6;
const JSON_ARRAY: u8 = 7;
const JSON_OBJECT: u8 = 8;
const JSON_END: u8 = 0;

fn put_json(out: &mut SmallVec<[u8; INLINE_BYTES]>, j: &Jsonb) {
    match j {
        Jsonb::Null => out.push(JSON_NULL),
        Jsonb::Bool(b) => out.push(if *b { JSON_TRUE } else { JSON_FALSE }),
        Jsonb::Number(JsonNumber::Decimal(d)) => {
            out.push(JSON_DECIMAL);
            put_decimal(out, d);
        }
        Jsonb::Number(JsonNumber::Text(t)) => {
            out.push(JSON_NUMBER_TEXT);
            put_escaped(out, t.as_bytes());
        }
        Jsonb::String(s) => {
            out.push(JSON_STRING);
            put_escaped(out, s.as_bytes());
        }
        Jsonb::Array(items) => {
            out.push(JSON_ARRAY);
            items.iter().for_each(|item| put_json(out, item));
            out.push(JSON_END);
        }
        Jsonb::Object(fields) => {
            out.push(JSON_OBJECT);
            for (key, value) in fields {
                put_escaped(out, key.0.as_bytes());
                put_json(out, value);
            }
            // A key's encoding never starts with this (`put_escaped` writes 0 as 0 0xFF).
            out.extend_from_slice(&[0, 0]);
        }
    }
}

fn get_json(body: &[u8]) -> (Jsonb, usize) {
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap_or_default();
    let rest = &body[1..];
    match body[0] {
        JSON_NULL => (Jsonb::Null, 1),
        JSON_FALSE => (Jsonb::Bool(false), 1),
        JSON_TRUE => (Jsonb::Bool(true), 1),
        JSON_DECIMAL => {
            let (d, n) = get_decimal(rest);
            (Jsonb::Number(JsonNumber::Decimal(d)), 1 + n)
        }
        JSON_NUMBER_TEXT => {
            let (t, n) = get_escaped(rest);
            (Jsonb::Number(JsonNumber::Text(text(t))), 1 + n)
        }
        JSON_STRING => {
            let (t, n) = get_escaped(rest);
            (Jsonb::String(text(t)), 1 + n)
        }
        JSON_ARRAY => {
            let (mut items, mut at) = (Vec::new(), 0);
            while rest[at] != JSON_END {
                let (item, n) = get_json(&rest[at..]);
                items.push(item);
                at += n;
            }
            (Jsonb::Array(items), 2 + at)
        }
        JSON_OBJECT => {
            let (mut fields, mut at) = (Vec::new(), 0);
            while !rest[at..].starts_with(&[0, 0]) {
                let (key, n) = get_escaped(&rest[at..]);
                at += n;
                let (value, n) = get_json(&rest[at..]);
                at += n;
                fields.push((JsonKey(text(key)), value));
            }
            (Jsonb::Object(fields), 3 + at)
        }
        other => panic!("corrupt packed row: unknown jsonb tag {other:#x}"),
    }
}

/// Sorts `rows`, sums the counts of equal rows and drops those that sum to zero. Packed
/// rows compare by their bytes: much cheaper than hashing or comparing unpacked rows.
pub fn consolidate(mut rows: Vec<(PackedRow, Diff)>) -> Vec<(PackedRow, Diff)> {
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(PackedRow, Diff)> = Vec::with_capacity(rows.len());
    for (row, diff) in rows {
        match out.last_mut() {
            Some((last, total)) if *last == row => *total += diff,
            _ => {
                if out.last().is_some_and(|(_, total)| *total == 0) {
                    out.pop();
                }
                out.push((row, diff));
            }
        }
    }
    if out.last().is_some_and(|(_, total)| *total == 0) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeDelta};
    use proptest::prelude::*;

    fn decimal() -> impl Strategy<Value = Decimal> {
        prop_oneof![
            (any::<u128>(), any::<bool>(), 0u32..=28).prop_map(|(m, neg, scale)| {
                let m = (m >> 32) as i128;
                Decimal::from_i128_with_scale(if neg { -m } else { m }, scale)
            }),
            (-2000i64..2000, 0u32..4).prop_map(|(m, scale)| Decimal::new(m, scale)),
        ]
    }

    fn jsonb() -> impl Strategy<Value = Jsonb> {
        let leaf = prop_oneof![
            Just(Jsonb::Null),
            any::<bool>().prop_map(Jsonb::Bool),
            decimal().prop_map(|d| Jsonb::Number(JsonNumber::Decimal(d))),
            "[0-9.e]{0,4}".prop_map(|t| Jsonb::Number(JsonNumber::Text(t))),
            any::<String>().prop_map(Jsonb::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Jsonb::Array),
                prop::collection::vec(("[a\0b]{0,3}", inner), 0..4).prop_map(Jsonb::object),
            ]
        })
    }

    /// Strategies for each kind of datum (NULL among the values of every kind).
    fn kinds() -> Vec<BoxedStrategy<Datum>> {
        let base = NaiveDateTime::default();
        let kinds = vec![
            any::<bool>().prop_map(Datum::Bool).boxed(),
            any::<i16>().prop_map(Datum::Int16).boxed(),
            prop_oneof![any::<i32>(), -300i32..300].prop_map(Datum::Int32).boxed(),
            prop_oneof![any::<i64>(), -70000i64..70000].prop_map(Datum::Int64).boxed(),
            prop_oneof![any::<f32>(), Just(-0.0f32), Just(0.0f32), Just(f32::NAN)].prop_map(Datum::Float32).boxed(),
            prop_oneof![any::<f64>(), Just(-0.0), Just(0.0), Just(f64::NAN), Just(-f64::NAN), Just(1.5)]
                .prop_map(Datum::Float64)
                .boxed(),
            decimal().prop_map(Datum::Numeric).boxed(),
            "[a\0\u{ff}é]{0,4}".prop_map(Datum::Text).boxed(),
            prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8), any::<u8>()], 0..4)
                .prop_map(Datum::Bytes)
                .boxed(),
            (-800_000i32..3_000_000)
                .prop_map(|d| Datum::Date(NaiveDate::from_num_days_from_ce_opt(d).unwrap_or_default()))
                .boxed(),
            (0u32..86_400, 0u32..1_000_000)
                .prop_map(|(s, u)| {
                    Datum::Time(NaiveTime::from_num_seconds_from_midnight_opt(s, u * 1000).unwrap_or_default())
                })
                .boxed(),
            any::<i32>()
                .prop_map(move |s| Datum::Timestamp(base + TimeDelta::microseconds(s as i64 * 977_777)))
                .boxed(),
            any::<i32>()
                .prop_map(move |s| Datum::TimestampTz((base + TimeDelta::microseconds(s as i64 * 977_777)).and_utc()))
                .boxed(),
            (-14i32..14, -40i32..40, -3i64..3)
                .prop_map(|(m, d, h)| Datum::Interval(Interval::new(m, d, h * 3_600_000_000 * 8)))
                .boxed(),
            jsonb().prop_map(Datum::Jsonb).boxed(),
            any::<u128>().prop_map(Datum::Uuid).boxed(),
            prop::collection::vec(prop_oneof![any::<i64>().prop_map(Datum::Int64), Just(Datum::Null)], 0..4)
                .prop_map(Datum::Array)
                .boxed(),
            prop::collection::vec(decimal().prop_map(Datum::Numeric), 0..3).prop_map(Datum::Array).boxed(),
        ];
        kinds.into_iter().map(|k| prop_oneof![1 => Just(Datum::Null), 8 => k].boxed()).collect()
    }

    /// Two rows of one relation: the same kind of datum in each column. jsonb is left out:
    /// `Datum` orders it by identity only, packed rows in another order.
    fn two_rows() -> impl Strategy<Value = (Row, Row)> {
        let kinds = kinds();
        let jsonb = kinds.len() - 4;
        let kinds: Vec<_> = kinds.into_iter().enumerate().filter(|(i, _)| *i != jsonb).map(|(_, k)| k).collect();
        let column = prop::sample::select((0..kinds.len()).collect::<Vec<_>>())
            .prop_flat_map(move |k| (kinds[k].clone(), kinds[k].clone()));
        prop::collection::vec(column, 0..4).prop_map(|columns| {
            let (a, b): (Vec<Datum>, Vec<Datum>) = columns.into_iter().unzip();
            (Row::new(a), Row::new(b))
        })
    }

    fn row() -> impl Strategy<Value = Row> {
        prop::collection::vec(prop::strategy::Union::new(kinds()), 0..5).prop_map(Row::new)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn unpack_gives_back_the_row(r in row()) {
            let packed = PackedRow::pack(&r);
            prop_assert_eq!(packed.unpack(), r.clone());
            prop_assert_eq!(packed.iter().count(), r.len());
            prop_assert_eq!(packed.has_twins(), r.has_twins());
        }

        #[test]
        fn packed_order_and_equality_are_the_rows((a, b) in two_rows()) {
            let (pa, pb) = (PackedRow::pack(&a), PackedRow::pack(&b));
            prop_assert_eq!(pa == pb, a == b, "{:?} {:?}", a, b);
            prop_assert_eq!(pa.cmp(&pb), a.cmp(&b), "{:?} {:?}", a, b);
            // Borrowed from an arrangement's buffer, rows keep their order.
            let (ra, rb) = (PackedRef::from_packed_bytes(pa.as_bytes()), PackedRef::from_packed_bytes(pb.as_bytes()));
            prop_assert_eq!(ra.cmp(&rb), a.cmp(&b));
            prop_assert_eq!(ra == &pb, a == b);
            prop_assert_eq!(ra.to_owned(), pa.clone());
            let (pa2, pb2) = (PackedRow::pack(&a.clone().sql_normalized()), PackedRow::pack(&b.clone().sql_normalized()));
            prop_assert_eq!(pa2 == pb2, a.iter().zip(b.iter()).all(|(x, y)| x.sql_cmp(y).is_eq()));
        }

        #[test]
        fn equal_values_pack_equal(a in row(), b in row()) {
            prop_assert_eq!(PackedRow::pack(&a) == PackedRow::pack(&b), a == b, "{:?} {:?}", a, b);
        }

        #[test]
        fn project_and_concat_work_on_bytes(a in row(), b in row(), picks in prop::collection::vec(0usize..5, 0..4)) {
            let (pa, pb) = (PackedRow::pack(&a), PackedRow::pack(&b));
            prop_assert_eq!(pa.concat(&pb).unpack(), a.concat(&b));
            let picks: Vec<usize> = picks.into_iter().filter(|&p| p < a.len()).collect();
            prop_assert_eq!(pa.project(&picks).unpack(), a.project(&picks));
            prop_assert!(pa.concat(&pb).starts_with(&pa));
        }
    }

    #[test]
    fn narrow_integer_rows_stay_inline() {
        let row = PackedRow::pack(&[Datum::Int64(2_000_000), Datum::Int64(-5), Datum::Int64(1 << 40)]);
        assert_eq!(row.as_bytes().len(), 4 + 2 + 7);
        assert_eq!(row.bytes(), std::mem::size_of::<PackedRow>());
        assert_eq!(std::mem::size_of::<PackedRow>(), 32);
    }

    #[test]
    fn integer_edges_round_trip_in_order() {
        let values = [i64::MIN, i64::MIN + 1, -65537, -65536, -257, -256, -255, -1, 0, 1, 255, 256, i64::MAX];
        let packed: Vec<PackedRow> = values.iter().map(|v| PackedRow::pack(&[Datum::Int64(*v)])).collect();
        for (v, p) in values.iter().zip(&packed) {
            assert_eq!(p.unpack()[0], Datum::Int64(*v));
        }
        assert!(packed.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn consolidate_sums_equal_rows_and_drops_zeros() {
        let p = |i: i64| PackedRow::pack(&Row::new(vec![Datum::Int64(i), Datum::Text("c".into())]));
        let rows = vec![(p(2), 1), (p(1), 1), (p(2), -1), (p(3), 2), (p(1), 1), (p(3), -1), (p(4), 0)];
        assert_eq!(consolidate(rows), vec![(p(1), 2), (p(3), 1)]);
        assert!(consolidate(vec![(p(1), 1), (p(1), -1)]).is_empty());
    }
}
