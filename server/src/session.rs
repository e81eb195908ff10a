//! A client session: its variables, transaction state and in-progress COPY.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_expr::eval::Collection;
use eddy_repr::GlobalId;

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
    /// undone if the data directory cannot take them.
    pub unsynced: Vec<(GlobalId, Collection)>,
    pub copy_in: Option<CopyState>,
    /// Cursors over subscriptions, by name.
    pub cursors: BTreeMap<String, Cursor>,
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

    pub fn all(&self) -> Vec<(String, String)> {
        self.variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
