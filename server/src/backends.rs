//! The connections open now, by process id (the one each client got at startup): what each
//! is doing, for `pg_stat_activity`, and cancelling or closing one, for cancel requests
//! (which must also give the connection's secret key), `pg_cancel_backend` and
//! `pg_terminate_backend`. Its lock is never held while taking another, so a session
//! reading `pg_stat_activity` with the coordinator locked cannot wait on anyone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use tokio::sync::Notify;
use tracing::info;

use crate::cancel::CancelSignal;

/// How much of a statement's text `pg_stat_activity` keeps (PostgreSQL's default
/// `track_activity_query_size`): a bulk INSERT is not copied whole on every statement.
const QUERY_TEXT_BYTES: usize = 1024;

/// One connection, as registered at startup.
pub struct Backend {
    pub secret: Vec<u8>,
    pub cancel: Arc<CancelSignal>,
    /// Notified to close the connection.
    pub terminate: Arc<Notify>,
    pub activity: Arc<Activity>,
}

/// Who a connection is and what it is doing.
pub struct Activity {
    pub pid: i32,
    pub user: String,
    pub database: String,
    pub client: SocketAddr,
    pub backend_start: DateTime<Utc>,
    now: Mutex<Doing>,
}

/// What a connection is doing now (or did last, when idle).
#[derive(Clone, Debug)]
pub struct Doing {
    pub state: State,
    /// The current or last statement's text, cut to [`QUERY_TEXT_BYTES`].
    pub query: String,
    pub query_start: Option<DateTime<Utc>>,
    pub xact_start: Option<DateTime<Utc>>,
    pub state_change: DateTime<Utc>,
    pub application_name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Idle,
    Active,
    IdleInTransaction,
}

impl State {
    /// `pg_stat_activity.state`.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Active => "active",
            State::IdleInTransaction => "idle in transaction",
        }
    }
}

impl Activity {
    pub fn new(pid: i32, user: String, database: String, client: SocketAddr, application_name: String) -> Self {
        let now = Utc::now();
        let doing = Doing {
            state: State::Idle,
            query: String::new(),
            query_start: None,
            xact_start: None,
            state_change: now,
            application_name,
        };
        Activity { pid, user, database, client, backend_start: now, now: Mutex::new(doing) }
    }

    /// A statement (or a simple query's statements) starts.
    pub fn begin(&self, query: &str) {
        let now = Utc::now();
        if let Ok(mut doing) = self.now.lock() {
            doing.state = State::Active;
            doing.query = shown_query(query);
            doing.query_start = Some(now);
            doing.xact_start.get_or_insert(now);
            doing.state_change = now;
        }
    }

    /// The statement ended; the session is inside a transaction block or not.
    pub fn end(&self, in_transaction: bool, application_name: &str) {
        if let Ok(mut doing) = self.now.lock() {
            doing.state = if in_transaction { State::IdleInTransaction } else { State::Idle };
            if !in_transaction {
                doing.xact_start = None;
            }
            doing.state_change = Utc::now();
            if doing.application_name != application_name {
                doing.application_name = application_name.to_string();
            }
        }
    }

    pub fn doing(&self) -> Option<Doing> {
        self.now.lock().ok().map(|d| d.clone())
    }
}

/// `query` as `pg_stat_activity` shows it: at most [`QUERY_TEXT_BYTES`], and with string
/// literals blanked in any statement that may carry a secret or password.
fn shown_query(query: &str) -> String {
    let mut end = query.len().min(QUERY_TEXT_BYTES);
    while !query.is_char_boundary(end) {
        end -= 1;
    }
    let query = &query[..end];
    let lower = query.to_ascii_lowercase();
    if lower.contains("secret") || lower.contains("password") {
        blank_string_literals(query)
    } else {
        query.to_string()
    }
}

/// `'...'` literals (also `E'...'`) replaced by `'***'`; an unterminated one to the end.
fn blank_string_literals(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_literal, c) {
            (false, '\'') => {
                in_literal = true;
                out.push_str("'***");
            }
            // A doubled quote stays inside the literal.
            (true, '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
            }
            (true, '\'') => {
                in_literal = false;
                out.push('\'');
            }
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    if in_literal {
        out.push('\'');
    }
    out
}

/// The connections open now.
#[derive(Default)]
pub struct Backends {
    connections: Mutex<HashMap<i32, Backend>>,
}

impl Backends {
    pub fn register(&self, backend: Backend) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.insert(backend.activity.pid, backend);
        }
    }

    pub fn unregister(&self, pid: i32) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.remove(&pid);
        }
    }

    /// What every connection is doing, by process id.
    pub fn activities(&self) -> Vec<Arc<Activity>> {
        let mut all: Vec<Arc<Activity>> =
            self.connections.lock().map(|c| c.values().map(|b| b.activity.clone()).collect()).unwrap_or_default();
        all.sort_by_key(|a| a.pid);
        all
    }

    /// Cancels the statement on connection `pid` if `secret` is its key (a cancel request:
    /// a wrong key cancels nothing, as in PostgreSQL); true if it did.
    pub fn cancel_with_key(&self, pid: i32, secret: &[u8]) -> bool {
        self.with(pid, |b| b.secret == secret && signal(&b.cancel))
    }

    /// `pg_cancel_backend(pid)`.
    pub fn cancel(&self, pid: i32) -> bool {
        self.with(pid, |b| signal(&b.cancel))
    }

    /// `pg_terminate_backend(pid)`: cancels its statement and closes the connection.
    pub fn terminate(&self, pid: i32) -> bool {
        self.with(pid, |b| {
            b.terminate.notify_one();
            signal(&b.cancel)
        })
    }

    fn with(&self, pid: i32, f: impl FnOnce(&Backend) -> bool) -> bool {
        self.connections.lock().ok().and_then(|c| c.get(&pid).map(f)).unwrap_or(false)
    }
}

fn signal(cancel: &CancelSignal) -> bool {
    cancel.request();
    true
}

#[async_trait]
impl CancelHandler for Backends {
    async fn on_cancel_request(&self, request: CancelRequest) {
        if self.cancel_with_key(request.pid, &request.secret_key.to_bytes()) {
            info!(pid = request.pid, "cancel request");
        }
    }
}

/// What `pg_cancel_backend` and `pg_terminate_backend` act on.
pub struct Signals(pub Arc<Backends>);

impl eddy_expr::func::BackendSignals for Signals {
    fn cancel(&self, pid: i32) -> bool {
        let done = self.0.cancel(pid);
        if done {
            info!(pid, "pg_cancel_backend");
        }
        done
    }

    fn terminate(&self, pid: i32) -> bool {
        let done = self.0.terminate(pid);
        if done {
            info!(pid, "pg_terminate_backend");
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(pid: i32, secret: &[u8]) -> (Backend, Arc<CancelSignal>) {
        let cancel = Arc::new(CancelSignal::default());
        let client = "127.0.0.1:5000".parse().expect("address");
        let activity = Arc::new(Activity::new(pid, "u".into(), "d".into(), client, String::new()));
        let terminate = Arc::new(Notify::new());
        (Backend { secret: secret.to_vec(), cancel: cancel.clone(), terminate, activity }, cancel)
    }

    #[test]
    fn only_the_right_key_cancels_by_request_and_any_pid_by_function() {
        let backends = Backends::default();
        let (b, signal) = backend(7, &[1, 2]);
        backends.register(b);
        assert!(!backends.cancel_with_key(7, &[9, 9]));
        assert!(!backends.cancel_with_key(8, &[1, 2]));
        assert!(!signal.is_requested());
        assert!(backends.cancel_with_key(7, &[1, 2]));
        assert!(signal.is_requested());
        signal.reset();
        assert!(!backends.cancel(8));
        assert!(backends.cancel(7));
        assert!(signal.is_requested());
        backends.unregister(7);
        assert!(!backends.cancel(7));
        assert!(!backends.terminate(7));
    }

    #[test]
    fn activity_follows_statements_and_transactions() {
        let (b, _) = backend(3, &[]);
        let activity = b.activity.clone();
        activity.begin("BEGIN");
        assert_eq!(activity.doing().map(|d| d.state), Some(State::Active));
        activity.end(true, "app");
        let d = activity.doing().expect("doing");
        assert_eq!(
            (d.state, d.query.as_str(), d.application_name.as_str()),
            (State::IdleInTransaction, "BEGIN", "app")
        );
        let started = d.xact_start.expect("in a transaction");
        activity.begin("COMMIT");
        assert_eq!(activity.doing().and_then(|d| d.xact_start), Some(started));
        activity.end(false, "app");
        assert_eq!(activity.doing().and_then(|d| d.xact_start), None);
    }

    #[test]
    fn shown_text_is_cut_and_hides_literals_near_secrets() {
        assert_eq!(shown_query("CREATE SECRET s AS 'p''w'; SELECT 'x'"), "CREATE SECRET s AS '***'; SELECT '***'");
        assert_eq!(shown_query("SELECT 'x'"), "SELECT 'x'");
        let long = format!("SELECT '{}'", "é".repeat(2000));
        let shown = shown_query(&long);
        assert!(shown.len() <= QUERY_TEXT_BYTES && shown.starts_with("SELECT 'é"));
    }
}
