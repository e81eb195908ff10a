//! A client session: its variables, transaction state and in-progress COPY.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_expr::eval::Collection;
use eddy_repr::GlobalId;
use eddy_storage::durable::SharedRows;

use crate::cancel::CancelSignal;
use crate::copy::CopyState;
use crate::error::AdapterError;
use crate::subscribe::Cursor;

/// Session variables clients commonly set or read, with PostgreSQL's defaults.
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "serializable"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", "15.0"),
    ("server_version_num", "150000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "serializable"),
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
];

/// Variables whose value changes results; Eddy supports only the default for them.
const FIXED: &[&str] = &["timezone", "datestyle", "intervalstyle", "client_encoding"];

#[derive(Default)]
pub struct Session {
    pub user: String,
    pub database: String,
    variables: BTreeMap<String, String>,
    pub in_transaction: bool,
    /// A statement of the transaction block failed: everything but COMMIT, ROLLBACK and
    /// ROLLBACK TO SAVEPOINT is refused, and COMMIT rolls back (as PostgreSQL).
    pub transaction_failed: bool,
    /// Writes made inside BEGIN ... COMMIT, applied together at COMMIT.
    pub pending_writes: Vec<(GlobalId, Collection)>,
    /// The block's savepoints, oldest first, each with how many of `pending_writes` came
    /// before it.
    pub savepoints: Vec<(String, usize)>,
    /// Writes applied by the statement running now that are not yet known durable:
    /// undone if the data directory cannot take them. Packed, as compute takes them.
    pub unsynced: Vec<(GlobalId, SharedRows)>,
    pub copy_in: Option<CopyState>,
    /// Cursors over subscriptions, by name.
    pub cursors: BTreeMap<String, Cursor>,
    /// Statements kept by SQL `PREPARE`, by name.
    pub prepared: BTreeMap<String, eddy_planner::prepared::PreparedStatement>,
    /// Set by a cancel request for the statement running now.
    pub cancel: Arc<CancelSignal>,
    /// NOTICEs and WARNINGs the statement running now raised, sent before its result.
    pub notices: Vec<Notice>,
}

/// A message that is not an error: PostgreSQL's NOTICE or WARNING, with its SQLSTATE.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl Session {
    pub fn new(user: String, database: String) -> Self {
        let mut s = Session { user, database, ..Default::default() };
        s.reset_all();
        s
    }

    /// Raises a NOTICE (`severity` "NOTICE") or WARNING for the client.
    pub fn notice(&mut self, severity: &'static str, code: &'static str, message: String) {
        self.notices.push(Notice { severity, code, message, detail: None });
    }

    /// `drop cascades to ...`: what a `DROP ... CASCADE` dropped besides what it named,
    /// one line each (PostgreSQL's wording: one object in the message, several counted
    /// there and listed in the DETAIL).
    pub fn notice_cascade(&mut self, dropped: &[String]) {
        let lines: Vec<String> = dropped.iter().map(|what| format!("drop cascades to {what}")).collect();
        let (message, detail) = match lines.as_slice() {
            [] => return,
            [one] => (one.clone(), None),
            many => (format!("drop cascades to {} other objects", many.len()), Some(many.join("\n"))),
        };
        self.notices.push(Notice { severity: "NOTICE", code: "00000", message, detail });
    }

    /// Ends the transaction block, forgetting its writes and savepoints.
    pub fn end_transaction(&mut self) -> Vec<(GlobalId, Collection)> {
        self.in_transaction = false;
        self.transaction_failed = false;
        self.savepoints.clear();
        std::mem::take(&mut self.pending_writes)
    }

    /// `ROLLBACK TO SAVEPOINT name`: forgets the writes made since, and the savepoints
    /// set after it (the savepoint itself stays), and ends a failure since.
    pub fn rollback_to(&mut self, name: &str) -> Result<(), AdapterError> {
        let at = self.savepoint(name, "ROLLBACK TO SAVEPOINT")?;
        self.pending_writes.truncate(self.savepoints[at].1);
        self.savepoints.truncate(at + 1);
        self.transaction_failed = false;
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`: forgets it and those set after it, keeping the writes.
    pub fn release(&mut self, name: &str) -> Result<(), AdapterError> {
        let at = self.savepoint(name, "RELEASE SAVEPOINT")?;
        self.savepoints.truncate(at);
        Ok(())
    }

    pub fn set_savepoint(&mut self, name: String) -> Result<(), AdapterError> {
        if !self.in_transaction {
            return Err(AdapterError::NoTransaction("SAVEPOINT"));
        }
        self.savepoints.push((name, self.pending_writes.len()));
        Ok(())
    }

    /// The newest savepoint called `name` (a name may be reused; the newest hides the rest).
    fn savepoint(&self, name: &str, statement: &'static str) -> Result<usize, AdapterError> {
        if !self.in_transaction {
            return Err(AdapterError::NoTransaction(statement));
        }
        self.savepoints.iter().rposition(|(n, _)| n == name).ok_or_else(|| AdapterError::UnknownSavepoint(name.into()))
    }

    pub fn reset_all(&mut self) {
        self.variables = DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    }

    pub fn get(&self, name: &str) -> Result<String, AdapterError> {
        let name = name.to_lowercase();
        match name.as_str() {
            "is_superuser" => return Ok("off".into()),
            "session_authorization" => return Ok(self.user.clone()),
            _ => {}
        }
        self.variables.get(&name).cloned().ok_or(AdapterError::UnknownVariable(name))
    }

    pub fn set(&mut self, name: &str, value: Option<String>) -> Result<(), AdapterError> {
        let name = name.to_lowercase();
        let default = DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let value = match value {
            None => default.clone().unwrap_or_default(),
            Some(v) => v,
        };
        if FIXED.contains(&name.as_str()) {
            let normalized = |s: &str| s.to_lowercase().replace(' ', "");
            let ok = match name.as_str() {
                "timezone" => {
                    matches!(normalized(&value).as_str(), "utc" | "etc/utc" | "gmt" | "z" | "+00" | "00:00" | "0")
                }
                "client_encoding" => {
                    matches!(normalized(&value).as_str(), "utf8" | "utf-8" | "unicode")
                }
                _ => {
                    default.as_deref().map(normalized) == Some(normalized(&value))
                        || normalized(&value).starts_with("iso")
                }
            };
            if !ok {
                return Err(AdapterError::InvalidParameterValue(format!(
                    "Eddy supports only {name} = '{}' for now; got '{value}'",
                    default.unwrap_or_default()
                )));
            }
            return Ok(());
        }
        if name == "statement_timeout" {
            let ms = parse_duration_ms(&value).ok_or_else(|| {
                AdapterError::InvalidParameterValue(format!(
                    "invalid value for parameter \"statement_timeout\": \"{value}\" (milliseconds, or a number \
                     with a unit: ms, s, min, h, d)"
                ))
            })?;
            self.variables.insert(name, format_duration_ms(ms));
            return Ok(());
        }
        if name == "extra_float_digits" {
            let digits: Option<i32> = value.trim().trim_matches('\'').parse().ok();
            match digits {
                Some(d) if (-15..=3).contains(&d) => {
                    self.variables.insert(name, d.to_string());
                    return Ok(());
                }
                _ => {
                    return Err(AdapterError::InvalidParameterValue(format!(
                        "invalid value for parameter \"extra_float_digits\": \"{value}\" (an integer from -15 to 3)"
                    )))
                }
            }
        }
        // Unknown variables are accepted, as PostgreSQL accepts custom "a.b" settings and
        // drivers set many that do not change Eddy's behaviour.
        self.variables.insert(name, value);
        Ok(())
    }

    /// `statement_timeout`, if one is set (0 means none).
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        let ms = self.variables.get("statement_timeout").and_then(|v| parse_duration_ms(v))?;
        (ms > 0).then(|| std::time::Duration::from_millis(ms))
    }

    pub fn all(&self) -> Vec<(String, String)> {
        self.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Milliseconds from a PostgreSQL time setting: a bare number is milliseconds; units
/// `us`, `ms`, `s`, `min`, `h`, `d` as PostgreSQL accepts them (fractions rounded).
fn parse_duration_ms(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = (number * factor).round();
    (0.0..=i32::MAX as f64).contains(&ms).then_some(ms as u64)
}

/// How PostgreSQL shows a time setting: in the largest unit that divides it exactly.
fn format_duration_ms(ms: u64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)] {
        if ms > 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    if ms == 0 {
        "0".into()
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints_cut_the_block_s_writes() {
        let mut s = Session::new("u".into(), "d".into());
        assert!(matches!(s.set_savepoint("a".into()), Err(AdapterError::NoTransaction(_))));
        s.in_transaction = true;
        let write = |n: i64| (1 as GlobalId, vec![(eddy_repr::Row::new(vec![eddy_repr::Datum::Int64(n)]), 1)]);
        s.pending_writes.push(write(1));
        s.set_savepoint("a".into()).unwrap();
        s.pending_writes.push(write(2));
        s.set_savepoint("b".into()).unwrap();
        s.set_savepoint("a".into()).unwrap();
        s.pending_writes.push(write(3));
        // The newest "a" hides the older one.
        s.transaction_failed = true;
        s.rollback_to("a").unwrap();
        assert_eq!((s.pending_writes.len(), s.savepoints.len(), s.transaction_failed), (2, 3, false));
        s.release("b").unwrap();
        assert_eq!(s.savepoints.len(), 1);
        assert!(matches!(s.rollback_to("b"), Err(AdapterError::UnknownSavepoint(_))));
        s.rollback_to("a").unwrap();
        assert_eq!(s.pending_writes.len(), 1);
        assert_eq!(s.end_transaction().len(), 1);
        assert!(!s.in_transaction && s.savepoints.is_empty());
    }

    #[test]
    fn statement_timeout_reads_and_shows_as_postgres() {
        let mut s = Session::new("u".into(), "d".into());
        assert_eq!(s.statement_timeout(), None);
        for (set, shown, ms) in
            [("5000", "5s", 5000), ("'1.5s'", "1500ms", 1500), ("2min", "2min", 120_000), ("0", "0", 0)]
        {
            s.set("statement_timeout", Some(set.into())).unwrap();
            assert_eq!(s.get("statement_timeout").unwrap(), shown, "{set}");
            assert_eq!(s.statement_timeout().map_or(0, |d| d.as_millis()), ms, "{set}");
        }
        assert!(s.set("statement_timeout", Some("soon".into())).is_err());
        assert!(s.set("statement_timeout", Some("5 parsecs".into())).is_err());
    }
}
