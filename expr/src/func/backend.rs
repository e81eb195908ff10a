//! `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`: they act on the server's
//! connections, which this crate knows nothing of, so the server installs what carries
//! them out once at startup ([`install_backend_signals`]). Without it (unit tests) no
//! process id names a connection and both return false, as PostgreSQL does for a pid that
//! is not one of its backends.

use std::sync::OnceLock;

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

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
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
