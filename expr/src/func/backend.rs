//! `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`: they act on the server's
//! connections, which this crate knows nothing of, so the server installs what carries
//! them out once at startup ([`install_backend_signals`]). Without it (unit tests) no
//! process id names a connection and both return false, as PostgreSQL does for a pid that
//! is not one of its backends.
//!
//! `pg_sleep(seconds)` waits on the evaluating thread; it stops with a cancel error as soon
//! as the check the server put in place for the statement ([`with_interrupt`]) says so,
//! which is how a cancel request or `statement_timeout` ends it.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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

thread_local! {
    static INTERRUPT: RefCell<Option<InterruptCheck>> = const { RefCell::new(None) };
}

/// Runs `f` with `check` as the statement's interrupt on this thread (restoring the one
/// before, also when `f` panics), so that waits inside functions can end early.
pub fn with_interrupt<R>(check: InterruptCheck, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<InterruptCheck>);
    impl Drop for Restore {
        fn drop(&mut self) {
            INTERRUPT.with(|i| *i.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(INTERRUPT.with(|i| i.borrow_mut().replace(check)));
    f()
}

fn interrupted() -> bool {
    INTERRUPT.with(|i| i.borrow().as_ref().is_some_and(|check| check()))
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
