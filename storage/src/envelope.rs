//! Envelopes: how one decoded Kafka message changes a source's rows.
//!
//! `NONE` appends; `UPSERT` keeps the latest row per key (so it can retract it); `DEBEZIUM`
//! applies change events, keyed by the message key when there is one so that a repeated
//! event (Debezium delivers at least once) replaces rather than duplicates.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use eddy_repr::source::{Envelope, Format, Include, IncludeKind};
use eddy_repr::{Datum, Diff, Jsonb, RelationDesc, Row};

use crate::decode::{decode_json_columns, DecodeError, Decoder};

/// A key's UPSERT state after a message: its partition and current row, or `None` once
/// deleted.
pub type KeyState = Option<(i32, Row)>;

/// One Kafka message as the envelope sees it.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, if the broker or producer set one.
    pub timestamp_ms: Option<i64>,
}

/// Turns messages into row changes for one source. Rows are `[key columns (UPSERT)] ++
/// value columns ++ INCLUDE columns`.
pub struct EnvelopeState {
    envelope: Envelope,
    key_decoder: Option<Decoder>,
    value_decoder: Decoder,
    key_desc: Option<RelationDesc>,
    value_desc: RelationDesc,
    include: Vec<Include>,
    /// UPSERT and keyed DEBEZIUM: the current row of every live key.
    current: HashMap<Vec<u8>, Row>,
    /// Changes to `current` since [`EnvelopeState::take_state_changes`], for the durable
    /// store: key, and its new (partition, row) or `None` once deleted.
    state_changes: Vec<(Vec<u8>, KeyState)>,
}

impl EnvelopeState {
    pub fn new(
        envelope: Envelope,
        key_format: Option<Format>,
        value_format: Format,
        key_desc: Option<RelationDesc>,
        value_desc: RelationDesc,
        include: Vec<Include>,
    ) -> Self {
        EnvelopeState {
            envelope,
            key_decoder: key_format.map(Decoder::new),
            value_decoder: Decoder::new(value_format),
            key_desc,
            value_desc,
            include,
            current: HashMap::new(),
            state_changes: Vec::new(),
        }
    }

    /// Restores a key's current row from the durable store (after a restart).
    pub fn seed(&mut self, key: Vec<u8>, row: Row) {
        self.current.insert(key, row);
    }

    /// The changes to the per-key state since the last call, to persist with the batch.
    pub fn take_state_changes(&mut self) -> Vec<(Vec<u8>, KeyState)> {
        std::mem::take(&mut self.state_changes)
    }

    /// Number of keys with a current row (UPSERT and keyed DEBEZIUM).
    pub fn live_keys(&self) -> usize {
        self.current.len()
    }

    /// Appends the changes `msg` makes to `out`, or says why it could not be applied (and
    /// then changes nothing).
    pub fn apply(&mut self, msg: &Message, out: &mut Vec<(Row, Diff)>) -> Result<(), DecodeError> {
        match self.envelope {
            Envelope::None => {
                let value = msg.value.ok_or_else(|| DecodeError::new("message has no value (a tombstone)"))?;
                let mut datums = self.value_decoder.decode(value, &self.value_desc)?;
                self.append_metadata(msg, &mut datums)?;
                out.push((Row::new(datums), 1));
            }
            Envelope::Upsert => {
                let key = msg
                    .key
                    .ok_or_else(|| DecodeError::new("ENVELOPE UPSERT needs a message key; this one has none"))?;
                let new_row = match msg.value {
                    None => None,
                    Some(value) => {
                        let mut datums = self.decode_key(key)?;
                        datums.extend(self.value_decoder.decode(value, &self.value_desc)?);
                        self.append_metadata(msg, &mut datums)?;
                        Some(Row::new(datums))
                    }
                };
                self.replace(key, msg.partition, new_row, out);
            }
            Envelope::Debezium => self.apply_debezium(msg, out)?,
        }
        Ok(())
    }

    fn apply_debezium(&mut self, msg: &Message, out: &mut Vec<(Row, Diff)>) -> Result<(), DecodeError> {
        // Debezium follows a delete with a tombstone for log compaction: nothing to do.
        let Some(value) = msg.value else { return Ok(()) };
        let doc = self.value_decoder.document(value)?;
        let payload = match doc.get_key("payload") {
            Some(p @ Jsonb::Object(_)) if doc.get_key("op").is_none() => p,
            _ => &doc,
        };
        let op = match payload.get_key("op") {
            Some(Jsonb::String(op)) => op.as_str(),
            Some(other) => {
                return Err(DecodeError::new(format!("Debezium \"op\" must be a string, got {}", other.type_name())))
            }
            None => return Err(DecodeError::new("Debezium event has no \"op\" field")),
        };
        let image = |field: &str| -> Result<Option<Row>, DecodeError> {
            match payload.get_key(field) {
                None | Some(Jsonb::Null) => Ok(None),
                Some(img) => {
                    let mut datums = decode_json_columns(img, &self.value_desc)
                        .map_err(|e| e.context(format_args!("Debezium \"{field}\" image")))?;
                    self.append_metadata(msg, &mut datums)?;
                    Ok(Some(Row::new(datums)))
                }
            }
        };
        let needs = |img: Option<Row>, field: &str| {
            img.ok_or_else(|| DecodeError::new(format!("Debezium op \"{op}\" without an \"{field}\" image")))
        };
        let (before, after) = match op {
            "c" | "r" => (None, Some(needs(image("after")?, "after")?)),
            "u" => (image("before")?, Some(needs(image("after")?, "after")?)),
            "d" => (image("before")?, None),
            other => return Err(DecodeError::new(format!("unknown Debezium op \"{other}\" (expected c, r, u or d)"))),
        };
        match msg.key {
            Some(key) => self.replace(key, msg.partition, after, out),
            None => {
                if op != "c" && op != "r" && before.is_none() {
                    return Err(DecodeError::new(format!(
                        "Debezium op \"{op}\" without a \"before\" image and without a message key: \
                         cannot tell which row it changes (set REPLICA IDENTITY FULL or key the topic)"
                    )));
                }
                out.extend(before.map(|r| (r, -1)));
                out.extend(after.map(|r| (r, 1)));
            }
        }
        Ok(())
    }

    /// Makes `new_row` (or nothing) the row of `key`, retracting its previous row.
    fn replace(&mut self, key: &[u8], partition: i32, new_row: Option<Row>, out: &mut Vec<(Row, Diff)>) {
        let old = match new_row {
            Some(row) => {
                out.push((row.clone(), 1));
                self.state_changes.push((key.to_vec(), Some((partition, row.clone()))));
                self.current.insert(key.to_vec(), row)
            }
            None => {
                let old = self.current.remove(key);
                if old.is_some() {
                    self.state_changes.push((key.to_vec(), None));
                }
                old
            }
        };
        out.extend(old.map(|r| (r, -1)));
    }

    fn decode_key(&self, key: &[u8]) -> Result<Vec<Datum>, DecodeError> {
        match (&self.key_decoder, &self.key_desc) {
            (Some(decoder), Some(desc)) => decoder.decode(key, desc).map_err(|e| e.context("message key")),
            _ => Ok(vec![]),
        }
    }

    fn append_metadata(&self, msg: &Message, datums: &mut Vec<Datum>) -> Result<(), DecodeError> {
        for include in &self.include {
            datums.push(match include.kind {
                IncludeKind::Partition => Datum::Int32(msg.partition),
                IncludeKind::Offset => Datum::Int64(msg.offset),
                IncludeKind::Timestamp => msg
                    .timestamp_ms
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                    .map_or(Datum::Null, Datum::TimestampTz),
                IncludeKind::Key => match msg.key {
                    None => Datum::Null,
                    Some(key) => self.decode_key(key)?.into_iter().next().unwrap_or(Datum::Null),
                },
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::{ColumnType, ScalarType};

    fn value_desc() -> RelationDesc {
        RelationDesc::new(vec![
            ("id".into(), ColumnType::new(ScalarType::Int64, true)),
            ("name".into(), ColumnType::new(ScalarType::Text, true)),
        ])
    }

    fn msg<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>, offset: i64) -> Message<'a> {
        Message { key, value, partition: 0, offset, timestamp_ms: Some(0) }
    }

    fn row(id: i64, name: &str) -> Row {
        Row::new(vec![Datum::Int64(id), Datum::Text(name.into())])
    }

    #[test]
    fn upsert_replaces_and_tombstones_delete() {
        let key_desc = RelationDesc::new(vec![("key".into(), ColumnType::new(ScalarType::Text, true))]);
        let mut env = EnvelopeState::new(
            Envelope::Upsert,
            Some(Format::Text),
            Format::Json,
            Some(key_desc),
            value_desc(),
            vec![],
        );
        let mut out = Vec::new();
        env.apply(&msg(Some(b"k"), Some(br#"{"id":1,"name":"a"}"#), 0), &mut out).expect("first");
        env.apply(&msg(Some(b"k"), Some(br#"{"id":1,"name":"b"}"#), 1), &mut out).expect("second");
        env.apply(&msg(Some(b"k"), None, 2), &mut out).expect("tombstone");
        let keyed = |id, name: &str| Row::new(vec![Datum::Text("k".into())]).concat(&row(id, name));
        assert_eq!(out, vec![(keyed(1, "a"), 1), (keyed(1, "b"), 1), (keyed(1, "a"), -1), (keyed(1, "b"), -1)]);
        assert_eq!(env.live_keys(), 0);
        let changes = env.take_state_changes();
        assert_eq!(changes.len(), 3, "two puts and a delete: {changes:?}");
        assert_eq!(changes[2], (b"k".to_vec(), None));
        assert!(env.apply(&msg(None, Some(b"{}"), 3), &mut out).is_err());
    }

    #[test]
    fn debezium_ops_with_and_without_keys() {
        let include = vec![Include { kind: IncludeKind::Offset, name: "offset".into() }];
        let mut env = EnvelopeState::new(Envelope::Debezium, None, Format::Json, None, value_desc(), vec![]);
        let mut out = Vec::new();
        let create = br#"{"payload": {"op": "c", "before": null, "after": {"id": 1, "name": "a"}}}"#;
        let update = br#"{"op": "u", "before": {"id": 1, "name": "a"}, "after": {"id": 1, "name": "b"}}"#;
        let delete = br#"{"op": "d", "before": {"id": 1, "name": "b"}, "after": null}"#;
        for (i, m) in [&create[..], &update[..], &delete[..]].into_iter().enumerate() {
            env.apply(&msg(None, Some(m), i as i64), &mut out).expect("applies");
        }
        assert_eq!(out, vec![(row(1, "a"), 1), (row(1, "a"), -1), (row(1, "b"), 1), (row(1, "b"), -1)]);
        let bad = env.apply(&msg(None, Some(br#"{"op": "x"}"#), 9), &mut out).unwrap_err();
        assert_eq!(bad.reason, "unknown Debezium op \"x\" (expected c, r, u or d)");

        // Keyed: a redelivered create replaces instead of duplicating; metadata is appended.
        let mut keyed = EnvelopeState::new(Envelope::Debezium, None, Format::Json, None, value_desc(), include);
        let mut out = Vec::new();
        keyed.apply(&msg(Some(b"1"), Some(create), 5), &mut out).expect("create");
        keyed.apply(&msg(Some(b"1"), Some(create), 6), &mut out).expect("again");
        let with_offset = |o| row(1, "a").concat(&Row::new(vec![Datum::Int64(o)]));
        assert_eq!(out, vec![(with_offset(5), 1), (with_offset(6), 1), (with_offset(5), -1)]);
        assert_eq!(keyed.live_keys(), 1);
    }
}
