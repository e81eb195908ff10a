//! `Jsonb`: a JSON document in PostgreSQL's jsonb normal form.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A jsonb value. Objects keep one value per key (the last one given, as PostgreSQL) in
/// PostgreSQL's key order: shorter keys first, then bytewise.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Jsonb {
    Null,
    Bool(bool),
    Number(JsonNumber),
    String(String),
    Array(Vec<Jsonb>),
    Object(Vec<(JsonKey, Jsonb)>),
}

impl Jsonb {
    /// Bytes this value holds on the heap (beyond its own size).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Jsonb::Null | Jsonb::Bool(_) | Jsonb::Number(JsonNumber::Decimal(_)) => 0,
            Jsonb::Number(JsonNumber::Text(s)) | Jsonb::String(s) => s.capacity(),
            Jsonb::Array(items) => {
                items.capacity() * std::mem::size_of::<Jsonb>() + items.iter().map(Jsonb::heap_bytes).sum::<usize>()
            }
            Jsonb::Object(fields) => {
                fields.capacity() * std::mem::size_of::<(JsonKey, Jsonb)>()
                    + fields.iter().map(|(k, v)| k.0.capacity() + v.heap_bytes()).sum::<usize>()
            }
        }
    }
}

/// A JSON number as jsonb keeps it: an exact decimal when it fits, otherwise its text
/// (normalized), so that no digit is ever lost. Identity, as for `Datum`: `1.0` and `1`
/// are different numbers (they print differently); SQL's jsonb order lives in `expr`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum JsonNumber {
    Decimal(Decimal),
    Text(String),
}

impl JsonNumber {
    fn identity(&self) -> (Option<(Decimal, u32)>, Option<&str>) {
        match self {
            JsonNumber::Decimal(d) => (Some((*d, d.scale())), None),
            JsonNumber::Text(t) => (None, Some(t)),
        }
    }
}

impl Ord for JsonNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl PartialOrd for JsonNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for JsonNumber {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for JsonNumber {}

impl std::hash::Hash for JsonNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            JsonNumber::Decimal(d) => (d.mantissa(), d.scale()).hash(state),
            JsonNumber::Text(t) => t.hash(state),
        }
    }
}

/// An object key, ordered as jsonb orders keys: by length, then bytewise.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JsonKey(pub String);

impl Ord for JsonKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.as_bytes().cmp(other.0.as_bytes()))
    }
}

impl PartialOrd for JsonKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Jsonb {
    /// A float as a JSON number written from its shortest round-trip text (`f32`'s own
    /// for a `real`); NaN and infinities, which JSON numbers cannot hold, as the strings
    /// PostgreSQL's float input reads. A negative zero stays negative.
    pub fn from_float<F: Into<f64> + std::fmt::Display + Copy>(value: F) -> Jsonb {
        let v: f64 = value.into();
        if v.is_nan() {
            return Jsonb::String("NaN".into());
        }
        if v.is_infinite() {
            return Jsonb::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into());
        }
        let text = value.to_string();
        match text.parse::<Decimal>() {
            Ok(d) => Jsonb::Number(JsonNumber::Decimal(d)),
            Err(_) => Jsonb::Number(JsonNumber::Text(text)),
        }
    }

    /// Builds an object from key/value pairs: sorts keys, later duplicates win.
    pub fn object(pairs: Vec<(String, Jsonb)>) -> Jsonb {
        let mut out: Vec<(JsonKey, Jsonb)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = JsonKey(k);
            match out.binary_search_by(|(existing, _)| existing.cmp(&key)) {
                Ok(pos) => out[pos].1 = v,
                Err(pos) => out.insert(pos, (key, v)),
            }
        }
        Jsonb::Object(out)
    }

    /// The value of `key` if this is an object holding it.
    pub fn get_key(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(pairs) => pairs.iter().find(|(k, _)| k.0 == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Element `index` of an array; negative indexes count from the end, as in PostgreSQL.
    pub fn get_index(&self, index: i64) -> Option<&Jsonb> {
        match self {
            Jsonb::Array(items) => {
                let len = items.len() as i64;
                let i = if index < 0 { len + index } else { index };
                if i < 0 || i >= len {
                    None
                } else {
                    items.get(i as usize)
                }
            }
            _ => None,
        }
    }

    /// `jsonb_typeof`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }
}
