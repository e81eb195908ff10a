//! Avro: schemas as a schema registry serves them (JSON text), the binary encoding of one
//! value, and the SQL columns of a record schema.
//!
//! A decoded value becomes a JSON document ([`Jsonb`]) whose logical types are rendered
//! as the text PostgreSQL reads (dates, timestamps, decimals, bytes as `\x..`), so that
//! Avro sources share JSON's column matching, envelopes and errors. Written here rather
//! than taken from `apache-avro` because only decoding into our own values is needed and
//! that crate's procedural-macro dependencies cost more build time than this file.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime};
use eddy_repr::jsonb::JsonNumber;
use eddy_repr::scalar::NUMERIC_MAX_PRECISION;
use eddy_repr::{ColumnType, Jsonb, ScalarType};
use rust_decimal::Decimal;
use serde_json::Value;

/// A parsed schema: its root and the named types (records, enums, fixed) it defines,
/// which the root and each other refer to by index (so recursive records work).
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    root: Node,
    named: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record {
        fields: Vec<(String, Node)>,
    },
    Enum {
        symbols: Vec<String>,
    },
    Array(Box<Node>),
    Map(Box<Node>),
    Union(Vec<Node>),
    Fixed {
        size: usize,
    },
    /// `bytes` or `fixed` (`size`) holding a two's-complement unscaled integer.
    Decimal {
        precision: u32,
        scale: u32,
        size: Option<usize>,
    },
    Uuid,
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    LocalTimestampMillis,
    LocalTimestampMicros,
    /// `fixed(12)`: months, days and milliseconds, each a little-endian u32.
    Duration,
    /// A named type, by index into [`Schema::named`].
    Named(usize),
}

/// Why a schema or a value could not be read. The text names what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AvroError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, AvroError> {
    Err(AvroError(message.into()))
}

impl Schema {
    /// Parses a schema from its JSON text.
    pub fn parse(text: &str) -> Result<Schema, AvroError> {
        let json: Value =
            serde_json::from_str(text).map_err(|e| AvroError(format!("invalid Avro schema JSON: {e}")))?;
        let mut parser = SchemaParser::default();
        let root = parser.node(&json, "")?;
        Ok(Schema { root, named: parser.named.into_iter().map(|n| n.unwrap_or(Node::Null)).collect() })
    }

    /// Decodes one value written with this schema from `bytes`, which it must use up.
    pub fn decode(&self, bytes: &[u8]) -> Result<Jsonb, AvroError> {
        let mut reader = Reader { bytes, pos: 0 };
        let value = self.value(&self.root, &mut reader, 0)?;
        if reader.pos != bytes.len() {
            return err(format!("{} bytes left over after the Avro value", bytes.len() - reader.pos));
        }
        Ok(value)
    }

    /// The columns of a record schema: one per field, typed as the field's Avro type maps
    /// to SQL (nullable exactly when the field is a union with `null`).
    pub fn columns(&self) -> Result<Vec<(String, ColumnType)>, AvroError> {
        self.record_columns(&self.root)
            .ok_or_else(|| AvroError("the schema is not a record: declare the source's columns".into()))
    }

    /// The columns of a Debezium change event's row: those of its `after` record.
    pub fn debezium_columns(&self) -> Result<Vec<(String, ColumnType)>, AvroError> {
        let after = match self.resolve(&self.root) {
            Node::Record { fields } => fields.iter().find(|(name, _)| name == "after").map(|(_, node)| node),
            _ => None,
        };
        let row = after.map(|node| match self.resolve(node) {
            Node::Union(branches) => branches.iter().find(|b| **b != Node::Null).unwrap_or(node),
            _ => node,
        });
        row.and_then(|node| self.record_columns(node))
            .ok_or_else(|| AvroError("not a Debezium change event schema (a record with an \"after\" record)".into()))
    }

    fn record_columns(&self, node: &Node) -> Option<Vec<(String, ColumnType)>> {
        let Node::Record { fields } = self.resolve(node) else { return None };
        Some(fields.iter().map(|(name, node)| (name.clone(), self.column_type(node))).collect())
    }

    fn resolve<'a>(&'a self, node: &'a Node) -> &'a Node {
        match node {
            Node::Named(i) => self.named.get(*i).map_or(&Node::Null, |n| self.resolve(n)),
            other => other,
        }
    }

    fn column_type(&self, node: &Node) -> ColumnType {
        match self.resolve(node) {
            Node::Union(branches) => {
                let not_null: Vec<&Node> = branches.iter().filter(|b| **b != Node::Null).collect();
                match not_null.as_slice() {
                    [one] => ColumnType::new(self.scalar_type(one), true),
                    _ => ColumnType::new(ScalarType::Jsonb, true),
                }
            }
            Node::Null => ColumnType::new(ScalarType::Jsonb, true),
            other => ColumnType::new(self.scalar_type(other), false),
        }
    }

    fn scalar_type(&self, node: &Node) -> ScalarType {
        match self.resolve(node) {
            Node::Boolean => ScalarType::Bool,
            Node::Int => ScalarType::Int32,
            Node::Long => ScalarType::Int64,
            Node::Float => ScalarType::Float32,
            Node::Double => ScalarType::Float64,
            Node::String | Node::Enum { .. } => ScalarType::Text,
            Node::Bytes | Node::Fixed { .. } => ScalarType::Bytea,
            // Eddy's numeric holds 28 digits: a wider decimal is an unconstrained numeric
            // (its values keep their scale; those past 28 digits do not decode).
            Node::Decimal { precision, scale, .. } if *precision <= NUMERIC_MAX_PRECISION => {
                ScalarType::Numeric { precision: Some(*precision), scale: Some(*scale) }
            }
            Node::Decimal { .. } => ScalarType::numeric(),
            Node::Uuid => ScalarType::Uuid,
            Node::Date => ScalarType::Date,
            Node::TimeMillis | Node::TimeMicros => ScalarType::time(),
            Node::TimestampMillis | Node::TimestampMicros => ScalarType::timestamptz(),
            Node::LocalTimestampMillis | Node::LocalTimestampMicros => ScalarType::timestamp(),
            Node::Duration => ScalarType::Interval,
            // SQL arrays are of scalars; arrays of documents or arrays stay documents.
            Node::Array(items) => match self.scalar_type(items) {
                ScalarType::Jsonb | ScalarType::Array(_) => ScalarType::Jsonb,
                element => ScalarType::Array(Box::new(element)),
            },
            Node::Null | Node::Record { .. } | Node::Map(_) | Node::Union(_) | Node::Named(_) => ScalarType::Jsonb,
        }
    }

    fn value(&self, node: &Node, r: &mut Reader, depth: usize) -> Result<Jsonb, AvroError> {
        if depth > MAX_DEPTH {
            return err(format!("Avro value nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(match node {
            Node::Null => Jsonb::Null,
            Node::Boolean => match r.byte()? {
                0 => Jsonb::Bool(false),
                1 => Jsonb::Bool(true),
                b => return err(format!("invalid Avro boolean byte {b}")),
            },
            Node::Int => {
                let v = r.long()?;
                i32::try_from(v).map_err(|_| AvroError(format!("Avro int {v} out of range")))?;
                number(Decimal::from(v))
            }
            Node::Long => number(Decimal::from(r.long()?)),
            // An f32 as an f64, as Avro's own readers widen it.
            Node::Float => Jsonb::from_float(f64::from(f32::from_le_bytes(r.array()?))),
            Node::Double => Jsonb::from_float(f64::from_le_bytes(r.array()?)),
            Node::Bytes => Jsonb::String(hex(r.bytes()?)),
            Node::String => Jsonb::String(r.string()?.to_string()),
            Node::Uuid => Jsonb::String(r.string()?.to_string()),
            Node::Fixed { size } => Jsonb::String(hex(r.take(*size)?)),
            Node::Record { fields } => {
                let mut pairs = Vec::with_capacity(fields.len());
                for (name, field) in fields {
                    pairs.push((name.clone(), self.value(field, r, depth + 1)?));
                }
                Jsonb::object(pairs)
            }
            Node::Enum { symbols } => {
                let i = r.long()?;
                let symbol = usize::try_from(i).ok().and_then(|i| symbols.get(i));
                Jsonb::String(symbol.ok_or_else(|| AvroError(format!("Avro enum index {i} out of range")))?.clone())
            }
            Node::Array(items) => {
                let mut out = Vec::new();
                r.blocks(|r| {
                    out.push(self.value(items, r, depth + 1)?);
                    Ok(())
                })?;
                Jsonb::Array(out)
            }
            Node::Map(values) => {
                let mut pairs = Vec::new();
                r.blocks(|r| {
                    let key = r.string()?.to_string();
                    pairs.push((key, self.value(values, r, depth + 1)?));
                    Ok(())
                })?;
                Jsonb::object(pairs)
            }
            Node::Union(branches) => {
                let i = r.long()?;
                let branch = usize::try_from(i).ok().and_then(|i| branches.get(i));
                let branch = branch.ok_or_else(|| AvroError(format!("Avro union branch {i} out of range")))?;
                self.value(branch, r, depth + 1)?
            }
            Node::Decimal { scale, size, .. } => {
                let bytes = match size {
                    Some(n) => r.take(*n)?,
                    None => r.bytes()?,
                };
                decimal(bytes, *scale)?
            }
            Node::Date => {
                let days = r.long()?;
                let date = NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::try_days(days)?))
                    .ok_or_else(|| AvroError(format!("Avro date {days} out of range")))?;
                Jsonb::String(date.format("%Y-%m-%d").to_string())
            }
            Node::TimeMillis => time(r.long()? * 1000)?,
            Node::TimeMicros => time(r.long()?)?,
            Node::TimestampMillis => timestamp(r.long()?.saturating_mul(1000), true)?,
            Node::TimestampMicros => timestamp(r.long()?, true)?,
            Node::LocalTimestampMillis => timestamp(r.long()?.saturating_mul(1000), false)?,
            Node::LocalTimestampMicros => timestamp(r.long()?, false)?,
            Node::Duration => {
                let b = r.take(12)?;
                let part = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                let (months, days, ms) = (part(0), part(4), part(8));
                Jsonb::String(format!("{months} mons {days} days {}.{:03} secs", ms / 1000, ms % 1000))
            }
            Node::Named(i) => {
                let named = self.named.get(*i).ok_or_else(|| AvroError("dangling Avro type reference".into()))?;
                self.value(named, r, depth + 1)?
            }
        })
    }
}

/// Deeper values are refused rather than risking the reader's stack (a recursive schema
/// makes the depth the data's choice).
const MAX_DEPTH: usize = 200;

fn number(d: Decimal) -> Jsonb {
    Jsonb::Number(JsonNumber::Decimal(d))
}

/// Bytes in PostgreSQL's `bytea` hex text form.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    eddy_repr::strconv::format_bytea(bytes, &mut out);
    out
}

/// An Avro decimal: big-endian two's-complement unscaled value, then `scale` digits.
fn decimal(bytes: &[u8], scale: u32) -> Result<Jsonb, AvroError> {
    if bytes.is_empty() {
        return err("empty Avro decimal");
    }
    let negative = bytes[0] & 0x80 != 0;
    // Magnitude as big-endian bytes (two's complement negated when negative).
    let mut magnitude: Vec<u8> = if negative { bytes.iter().map(|b| !b).collect() } else { bytes.to_vec() };
    if negative {
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Base-256 to base-10 by repeated division.
    let mut digits = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for b in magnitude.iter_mut() {
            let acc = (remainder << 8) | u32::from(*b);
            *b = (acc / 10) as u8;
            remainder = acc % 10;
        }
        digits.push(b'0' + remainder as u8);
    }
    while digits.len() <= scale as usize {
        digits.push(b'0');
    }
    digits.reverse();
    let split = digits.len() - scale as usize;
    let mut text = String::with_capacity(digits.len() + 2);
    if negative {
        text.push('-');
    }
    text.push_str(std::str::from_utf8(&digits[..split]).unwrap_or("0"));
    if scale > 0 {
        text.push('.');
        text.push_str(std::str::from_utf8(&digits[split..]).unwrap_or("0"));
    }
    Ok(match text.parse::<Decimal>() {
        Ok(d) if d.scale() == scale => number(d),
        _ => Jsonb::Number(JsonNumber::Text(text)),
    })
}

fn time(micros: i64) -> Result<Jsonb, AvroError> {
    let secs = u32::try_from(micros.div_euclid(1_000_000)).ok();
    let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
    let t = secs
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, nanos))
        .ok_or_else(|| AvroError(format!("Avro time of {micros} microseconds is out of range")))?;
    Ok(Jsonb::String(t.format("%H:%M:%S%.6f").to_string()))
}

fn timestamp(micros: i64, utc: bool) -> Result<Jsonb, AvroError> {
    let t = DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| AvroError(format!("Avro timestamp of {micros} microseconds is out of range")))?;
    let text = t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    Ok(Jsonb::String(if utc { text + "+00" } else { text }))
}

/// The bytes of one value, read front to back.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AvroError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| AvroError(format!("Avro value truncated at byte {}", self.pos)))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, AvroError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AvroError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A zig-zag variable-length long (Avro's `int` and `long`).
    fn long(&mut self) -> Result<i64, AvroError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        err(format!("Avro varint longer than 10 bytes at byte {}", self.pos))
    }

    fn len(&mut self) -> Result<usize, AvroError> {
        let n = self.long()?;
        usize::try_from(n).map_err(|_| AvroError(format!("negative Avro length {n}")))
    }

    fn bytes(&mut self) -> Result<&'a [u8], AvroError> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<&'a str, AvroError> {
        let at = self.pos;
        std::str::from_utf8(self.bytes()?).map_err(|_| AvroError(format!("Avro string at byte {at} is not UTF-8")))
    }

    /// Array and map items: blocks of a count (negative: followed by the block's size in
    /// bytes) until a zero count.
    fn blocks(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), AvroError>) -> Result<(), AvroError> {
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                self.long()?;
            }
            for _ in 0..count.unsigned_abs() {
                item(self)?;
            }
        }
    }
}

/// Turns schema JSON into [`Node`]s, registering named types by full name.
#[derive(Default)]
struct SchemaParser {
    names: HashMap<String, usize>,
    /// `None` while a record's fields are being parsed (it may refer to itself).
    named: Vec<Option<Node>>,
}

impl SchemaParser {
    fn node(&mut self, json: &Value, namespace: &str) -> Result<Node, AvroError> {
        match json {
            Value::String(name) => self.named_or_primitive(name, namespace),
            Value::Array(branches) => {
                let nodes = branches.iter().map(|b| self.node(b, namespace)).collect::<Result<Vec<_>, _>>()?;
                Ok(Node::Union(nodes))
            }
            Value::Object(attrs) => {
                let type_name = match attrs.get("type") {
                    Some(Value::String(t)) => t.as_str(),
                    Some(nested @ (Value::Object(_) | Value::Array(_))) => return self.node(nested, namespace),
                    _ => return err("an Avro schema object needs a \"type\""),
                };
                let logical = attrs.get("logicalType").and_then(Value::as_str);
                let int_attr = |key: &str| attrs.get(key).and_then(Value::as_u64).map(|v| v as u32);
                match type_name {
                    "record" | "error" => {
                        let (full, inner_ns) = full_name(attrs, namespace)?;
                        let index = self.declare(&full)?;
                        let fields = attrs
                            .get("fields")
                            .and_then(Value::as_array)
                            .ok_or_else(|| AvroError(format!("record {full} needs \"fields\"")))?;
                        let mut parsed = Vec::with_capacity(fields.len());
                        for field in fields {
                            let name = field
                                .get("name")
                                .and_then(Value::as_str)
                                .ok_or_else(|| AvroError(format!("a field of record {full} has no name")))?;
                            let ty = field
                                .get("type")
                                .ok_or_else(|| AvroError(format!("field {name} of record {full} has no type")))?;
                            parsed.push((name.to_string(), self.node(ty, &inner_ns)?));
                        }
                        self.named[index] = Some(Node::Record { fields: parsed });
                        Ok(Node::Named(index))
                    }
                    "enum" => {
                        let (full, _) = full_name(attrs, namespace)?;
                        let symbols = attrs
                            .get("symbols")
                            .and_then(Value::as_array)
                            .map(|s| s.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .ok_or_else(|| AvroError(format!("enum {full} needs \"symbols\"")))?;
                        self.define(&full, Node::Enum { symbols })
                    }
                    "fixed" => {
                        let (full, _) = full_name(attrs, namespace)?;
                        let size = attrs
                            .get("size")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| AvroError(format!("fixed {full} needs \"size\"")))?
                            as usize;
                        let node = match logical {
                            Some("decimal") => Node::Decimal {
                                precision: int_attr("precision").unwrap_or(38),
                                scale: int_attr("scale").unwrap_or(0),
                                size: Some(size),
                            },
                            Some("duration") if size == 12 => Node::Duration,
                            _ => Node::Fixed { size },
                        };
                        self.define(&full, node)
                    }
                    "array" => {
                        let items = attrs.get("items").ok_or_else(|| AvroError("array needs \"items\"".into()))?;
                        Ok(Node::Array(Box::new(self.node(items, namespace)?)))
                    }
                    "map" => {
                        let values = attrs.get("values").ok_or_else(|| AvroError("map needs \"values\"".into()))?;
                        Ok(Node::Map(Box::new(self.node(values, namespace)?)))
                    }
                    primitive => {
                        let base = self.named_or_primitive(primitive, namespace)?;
                        // Unknown or mismatched logical types fall back to the underlying
                        // type, as the Avro specification asks.
                        Ok(match (logical, &base) {
                            (Some("decimal"), Node::Bytes) => Node::Decimal {
                                precision: int_attr("precision").unwrap_or(38),
                                scale: int_attr("scale").unwrap_or(0),
                                size: None,
                            },
                            (Some("uuid"), Node::String) => Node::Uuid,
                            (Some("date"), Node::Int) => Node::Date,
                            (Some("time-millis"), Node::Int) => Node::TimeMillis,
                            (Some("time-micros"), Node::Long) => Node::TimeMicros,
                            (Some("timestamp-millis"), Node::Long) => Node::TimestampMillis,
                            (Some("timestamp-micros"), Node::Long) => Node::TimestampMicros,
                            (Some("local-timestamp-millis"), Node::Long) => Node::LocalTimestampMillis,
                            (Some("local-timestamp-micros"), Node::Long) => Node::LocalTimestampMicros,
                            _ => base,
                        })
                    }
                }
            }
            other => err(format!("invalid Avro schema: {other}")),
        }
    }

    /// Registers named type `full` as `node`; what refers to it.
    fn define(&mut self, full: &str, node: Node) -> Result<Node, AvroError> {
        let index = self.declare(full)?;
        self.named[index] = Some(node);
        Ok(Node::Named(index))
    }

    fn declare(&mut self, full: &str) -> Result<usize, AvroError> {
        if self.names.contains_key(full) {
            return err(format!("Avro type {full} is defined twice"));
        }
        self.named.push(None);
        self.names.insert(full.to_string(), self.named.len() - 1);
        Ok(self.named.len() - 1)
    }

    fn named_or_primitive(&mut self, name: &str, namespace: &str) -> Result<Node, AvroError> {
        Ok(match name {
            "null" => Node::Null,
            "boolean" => Node::Boolean,
            "int" => Node::Int,
            "long" => Node::Long,
            "float" => Node::Float,
            "double" => Node::Double,
            "bytes" => Node::Bytes,
            "string" => Node::String,
            _ => {
                let qualified = if name.contains('.') || namespace.is_empty() {
                    name.to_string()
                } else {
                    format!("{namespace}.{name}")
                };
                let index = self.names.get(&qualified).or_else(|| self.names.get(name));
                Node::Named(*index.ok_or_else(|| AvroError(format!("unknown Avro type {name}")))?)
            }
        })
    }
}

/// A named type's full name and the namespace its children inherit.
fn full_name(attrs: &serde_json::Map<String, Value>, enclosing: &str) -> Result<(String, String), AvroError> {
    let name = attrs
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| AvroError("a named Avro type needs \"name\"".into()))?;
    if let Some((ns, _)) = name.rsplit_once('.') {
        return Ok((name.to_string(), ns.to_string()));
    }
    let ns = attrs.get("namespace").and_then(Value::as_str).unwrap_or(enclosing);
    let full = if ns.is_empty() { name.to_string() } else { format!("{ns}.{name}") };
    Ok((full, ns.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::strconv::jsonb_to_string;

    /// Avro's zig-zag varint, written independently of [`Reader::long`].
    fn long(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return out;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    fn string(s: &str) -> Vec<u8> {
        let mut out = long(s.len() as i64);
        out.extend_from_slice(s.as_bytes());
        out
    }

    const ORDER: &str = r#"{
        "type": "record", "name": "Order", "namespace": "shop",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "user", "type": ["null", "string"]},
            {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "ratio", "type": "double"},
            {"name": "next", "type": ["null", "Order"]}
        ]
    }"#;

    fn order(id: i64, user: Option<&str>, next: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = long(id);
        match user {
            None => out.extend(long(0)),
            Some(u) => {
                out.extend(long(1));
                out.extend(string(u));
            }
        }
        // -12.34: unscaled -1234 = 0xFB2E, two's complement.
        out.extend(long(2));
        out.extend([0xFB, 0x2E]);
        out.extend(long(1_700_000_000_123_456));
        out.extend(long(19_000));
        out.extend(long(1));
        out.extend(long(2));
        out.extend(string("a"));
        out.extend(string("b"));
        out.extend(long(0));
        out.extend(0.5f64.to_le_bytes());
        match next {
            None => out.extend(long(0)),
            Some(n) => {
                out.extend(long(1));
                out.extend(n);
            }
        }
        out
    }

    #[test]
    fn records_decode_to_documents_with_logical_types_as_postgres_text() {
        let schema = Schema::parse(ORDER).expect("schema");
        let inner = order(2, None, None);
        let doc = schema.decode(&order(1, Some("ann"), Some(inner))).expect("decodes");
        let text = jsonb_to_string(&doc);
        assert!(text.contains(r#""id": 1"#), "{text}");
        assert!(text.contains(r#""user": "ann""#), "{text}");
        assert!(text.contains(r#""amount": -12.34"#), "{text}");
        assert!(text.contains(r#""at": "2023-11-14 22:13:20.123456+00""#), "{text}");
        assert!(text.contains(r#""day": "2022-01-08""#), "{text}");
        assert!(text.contains(r#""status": "PAID""#), "{text}");
        assert!(text.contains(r#""tags": ["a", "b"]"#), "{text}");
        assert!(text.contains(r#""ratio": 0.5"#), "{text}");
        assert!(text.contains(r#""next": {"#) && text.contains(r#""user": null"#), "{text}");
    }

    #[test]
    fn record_columns_follow_the_field_types() {
        let schema = Schema::parse(ORDER).expect("schema");
        let columns = schema.columns().expect("a record");
        let shown: Vec<String> = columns
            .iter()
            .map(|(n, t)| format!("{n} {}{}", t.scalar_type, if t.nullable { "" } else { " not null" }))
            .collect();
        assert_eq!(
            shown,
            [
                "id bigint not null",
                "user text",
                "amount numeric(10,2) not null",
                "at timestamp with time zone not null",
                "day date not null",
                "status text not null",
                "tags text[] not null",
                "ratio double precision not null",
                "next jsonb",
            ]
        );
        assert!(Schema::parse(r#""string""#).expect("schema").columns().is_err());
        let wide = r#"{"type": "record", "name": "w", "fields": [{"name": "d", "type":
            {"type": "bytes", "logicalType": "decimal", "precision": 38, "scale": 9}}]}"#;
        let wide = Schema::parse(wide).expect("schema").columns().expect("a record");
        assert_eq!(wide[0].1.scalar_type, ScalarType::numeric(), "wider than numeric(28) holds");
        let debezium = format!(
            r#"{{"type": "record", "name": "Envelope", "fields": [
                {{"name": "before", "type": ["null", {ORDER}]}},
                {{"name": "after", "type": ["null", "shop.Order"]}},
                {{"name": "op", "type": "string"}}]}}"#
        );
        let schema = Schema::parse(&debezium).expect("debezium schema");
        assert_eq!(schema.debezium_columns().expect("after's columns"), columns);
        assert!(Schema::parse(ORDER).expect("schema").debezium_columns().is_err());
    }

    #[test]
    fn bad_values_and_schemas_are_errors_not_panics() {
        let schema = Schema::parse(ORDER).expect("schema");
        let good = order(1, Some("ann"), None);
        for cut in 0..good.len() {
            assert!(schema.decode(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let mut extra = good.clone();
        extra.push(0);
        assert_eq!(schema.decode(&extra).unwrap_err().0, "1 bytes left over after the Avro value");
        assert!(Schema::parse("{").is_err());
        assert!(Schema::parse(r#"{"type": "record", "name": "r"}"#).unwrap_err().0.contains("fields"));
        assert!(Schema::parse(r#"["int", "Missing"]"#).unwrap_err().0.contains("unknown Avro type Missing"));
        // A union index past its branches and a varint that never ends.
        let union = Schema::parse(r#"["null", "int"]"#).expect("schema");
        assert!(union.decode(&long(5)).unwrap_err().0.contains("branch 5"));
        assert!(union.decode(&[0xff; 12]).is_err());
    }

    #[test]
    fn decimals_of_any_width_keep_every_digit() {
        assert_eq!(jsonb_to_string(&decimal(&[0x04, 0xD2], 2).expect("ok")), "12.34");
        assert_eq!(jsonb_to_string(&decimal(&[0xFF], 0).expect("ok")), "-1");
        assert_eq!(jsonb_to_string(&decimal(&[0x00], 3).expect("ok")), "0.000");
        // 2^128 - 1 with scale 5: beyond rust_decimal, kept as text.
        let mut wide = vec![0x00];
        wide.extend([0xFF; 16]);
        assert_eq!(jsonb_to_string(&decimal(&wide, 5).expect("ok")), "3402823669209384634633746074317682.11455");
    }

    #[test]
    fn floats_times_and_bytes() {
        let schema = Schema::parse(
            r#"{"type": "record", "name": "r", "fields": [
                {"name": "f", "type": "float"}, {"name": "b", "type": "bytes"},
                {"name": "t", "type": {"type": "long", "logicalType": "time-micros"}},
                {"name": "l", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
                {"name": "d", "type": {"type": "fixed", "name": "d", "size": 12, "logicalType": "duration"}}]}"#,
        )
        .expect("schema");
        let mut bytes = f32::NAN.to_le_bytes().to_vec();
        bytes.extend(long(2));
        bytes.extend([0xde, 0xad]);
        bytes.extend(long(3_600_000_001));
        bytes.extend(long(-1));
        for part in [1u32, 2, 3_004] {
            bytes.extend(part.to_le_bytes());
        }
        let text = jsonb_to_string(&schema.decode(&bytes).expect("decodes"));
        assert_eq!(
            text,
            r#"{"b": "\\xdead", "d": "1 mons 2 days 3.004 secs", "f": "NaN", "l": "1969-12-31 23:59:59.999000", "t": "01:00:00.000001"}"#
        );
    }
}
