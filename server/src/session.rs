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
    ("search_path", "public"),
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
    /// Writes made inside BEGIN ... COMMIT, applied together at COMMIT.
    pub pending_writes: Vec<(GlobalId, Collection)>,
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
}

impl Session {
    pub fn new(user: String, database: String) -> Self {
        let mut s = Session { user, database, ..Default::default() };
        s.reset_all();
        s
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
