//! `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`: they act on the server's
//! connections, which this crate knows nothing of, so the server installs what carries
//! them out once at startup ([`install_backend_signals`]). Without it (unit tests) no
//! process id names a connection and both return false, as PostgreSQL does for a pid that
//! is not one of its backends.
//!
//! `pg_sleep(seconds)` waits on the evaluating thread; it stops with a cancel error as soon
//! as the check the server put in place for the statement ([`with_statement`]) says so,
//! which is how a cancel request or `statement_timeout` ends it. The same
//! statement context gives `now()` its one value per statement ([`statement_now`]), and
//! sequence functions their session and the server's sequences ([`SequenceHost`]).

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use eddy_repr::Datum;

use super::Func;
use crate::EvalError;

/// Signals a connection by its process id (the one the client got at startup).
pub trait BackendSignals: Send + Sync {
    /// Cancels the statement running on connection `pid`; false if there is none.
    fn cancel(&self, pid: i32) -> bool;
    /// Closes connection `pid` (cancelling its statement); false if there is none.
    fn terminate(&self, pid: i32) -> bool;
}

static SIGNALS: OnceLock<Box<dyn BackendSignals>> = OnceLock::new();

/// Installs the server's connections; later calls are ignored (one server per process).
pub fn install_backend_signals(signals: Box<dyn BackendSignals>) {
    let _ = SIGNALS.set(signals);
}

/// Says whether the running statement should stop.
pub type InterruptCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// The server's sequences, as `nextval` and friends reach them. `session` is the
/// calling connection's process id: `currval` and `lastval` are per session.
pub trait SequenceHost: Send + Sync {
    fn nextval(&self, session: i32, name: &str) -> Result<i64, EvalError>;
    fn currval(&self, session: i32, name: &str) -> Result<i64, EvalError>;
    fn setval(&self, session: i32, name: &str, value: i64, is_called: bool) -> Result<i64, EvalError>;
    fn lastval(&self, session: i32) -> Result<i64, EvalError>;
}

/// What evaluation inside one statement needs to know of it.
pub struct StatementEnv {
    pub interrupt: InterruptCheck,
    /// The statement's `now()`: one value for the whole statement, as in PostgreSQL.
    pub now: DateTime<Utc>,
    /// The connection's process id.
    pub session: i32,
    pub sequences: Option<Arc<dyn SequenceHost>>,
}

thread_local! {
    static STATEMENT: RefCell<Option<StatementEnv>> = const { RefCell::new(None) };
}

/// Runs `f` as the statement `env` describes (restoring what was set before, also when
/// `f` panics).
pub fn with_statement<R>(env: StatementEnv, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<StatementEnv>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATEMENT.with(|s| *s.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(STATEMENT.with(|s| s.borrow_mut().replace(env)));
    f()
}

/// The running statement's start time; the wall clock outside a statement.
pub fn statement_now() -> DateTime<Utc> {
    STATEMENT.with(|s| s.borrow().as_ref().map(|env| env.now)).unwrap_or_else(Utc::now)
}

/// The running statement's connection (its process id); 0 outside a statement.
pub fn statement_session() -> i32 {
    STATEMENT.with(|s| s.borrow().as_ref().map_or(0, |env| env.session))
}

fn interrupted() -> bool {
    STATEMENT.with(|s| s.borrow().as_ref().is_some_and(|env| (env.interrupt)()))
}

/// The longest `pg_sleep` accepted: PostgreSQL's own limit is about 68 years of
/// milliseconds; a day is far beyond any statement a user means to wait for.
const LONGEST_SLEEP_SECONDS: f64 = 86_400.0;

/// How often a sleep looks at its interrupt.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

fn sleep(seconds: f64) -> Result<Datum, EvalError> {
    if seconds.is_nan() || seconds > LONGEST_SLEEP_SECONDS {
        return Err(EvalError::invalid_argument(format!(
            "pg_sleep({seconds}) is longer than Eddy waits (at most {LONGEST_SLEEP_SECONDS} seconds)"
        )));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    loop {
        if interrupted() {
            return Err(EvalError::Canceled);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Datum::Text(String::new()));
        }
        std::thread::sleep(left.min(INTERRUPT_POLL));
    }
}

/// `nextval`, `currval`, `setval`, `lastval` (arguments already checked by type).
pub(super) fn sequence_call(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    let env = STATEMENT.with(|s| s.borrow().as_ref().map(|env| (env.session, env.sequences.clone())));
    let Some((session, Some(host))) = env else {
        return Err(EvalError::Internal(format!("{}() ran outside a statement", func.name())));
    };
    let name = || match args.first() {
        Some(Datum::Text(name)) => Ok(name.as_str()),
        _ => Err(EvalError::Internal(format!("{} expects a sequence name", func.name()))),
    };
    let value = match func {
        Func::NextVal => host.nextval(session, name()?)?,
        Func::CurrVal => host.currval(session, name()?)?,
        Func::SetVal => match args {
            [_, Datum::Int64(value), Datum::Bool(is_called)] => host.setval(session, name()?, *value, *is_called)?,
            _ => return Err(EvalError::Internal("setval expects a name, a bigint and a boolean".into())),
        },
        _ => host.lastval(session)?,
    };
    Ok(Datum::Int64(value))
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    if let Func::PgSleep = func {
        return match args.first() {
            Some(Datum::Float64(seconds)) => sleep(*seconds),
            _ => Err(EvalError::Internal("pg_sleep expects a double precision argument".into())),
        };
    }
    let pid = match args.first() {
        Some(Datum::Int32(pid)) => *pid,
        _ => return Err(EvalError::Internal(format!("{} expects an integer process id", func.name()))),
    };
    let signalled = SIGNALS.get().is_some_and(|s| match func {
        Func::PgCancelBackend => s.cancel(pid),
        _ => s.terminate(pid),
    });
    Ok(Datum::Bool(signalled))
}
