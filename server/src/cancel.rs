//! Whether the statement running on a connection should stop: [`CancelSignal`], which
//! the statement checks while it waits for workers, evaluates rows or streams a
//! subscription. Cancel requests (psql's Ctrl-C, drivers' statement cancels) and
//! `pg_cancel_backend` reach it through [`crate::backends`]; the session's
//! `statement_timeout` cancels through the same signal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Why a statement was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// A cancel request from the client.
    User,
    /// The session's `statement_timeout` passed.
    Timeout,
}

/// Whether the statement running on one connection should stop.
#[derive(Debug, Default)]
pub struct CancelSignal {
    /// The running statement's number (counted up by [`CancelSignal::reset`]) times 4,
    /// plus why it was cancelled: 0 not, 1 by the client, 2 by its timeout. One word, so
    /// that a timer for an ended statement cannot cancel the next one.
    state: AtomicU64,
    notify: Notify,
}

const REASON_BITS: u64 = 3;

impl CancelSignal {
    pub fn request(&self) {
        self.set_reason(1, None);
    }

    /// Sets the reason, for statement `statement` only if given; false if not set.
    fn set_reason(&self, reason: u64, statement: Option<u64>) -> bool {
        let updated = self.state.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
            let current = state >> 2;
            let wanted = statement.is_none_or(|s| s == current) && state & REASON_BITS == 0;
            wanted.then_some(state | reason)
        });
        if updated.is_ok() {
            self.notify.notify_waiters();
        }
        updated.is_ok()
    }

    pub fn is_requested(&self) -> bool {
        self.state.load(Ordering::SeqCst) & REASON_BITS != 0
    }

    pub fn reason(&self) -> Option<CancelReason> {
        match self.state.load(Ordering::SeqCst) & REASON_BITS {
            0 => None,
            1 => Some(CancelReason::User),
            _ => Some(CancelReason::Timeout),
        }
    }

    /// A new statement starts: forgets a request that arrived while none ran (PostgreSQL
    /// ignores those), and returns the statement's number for [`CancelSignal::time_out`].
    pub fn reset(&self) -> u64 {
        let previous =
            self.state.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| Some(((state >> 2) + 1) << 2));
        (previous.unwrap_or(0) >> 2) + 1
    }

    /// Cancels statement number `statement` for its timeout, if it is still running.
    pub fn time_out(&self, statement: u64) {
        self.set_reason(2, Some(statement));
    }

    /// The check that functions waiting inside a statement (`pg_sleep`) poll.
    pub fn interrupt_check(self: &Arc<Self>) -> eddy_expr::func::InterruptCheck {
        let signal = self.clone();
        Arc::new(move || signal.is_requested())
    }

    /// Resolves once cancelling is requested.
    pub async fn requested(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a request between the two is not missed.
            notified.as_mut().enable();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_forgets_and_an_old_timer_cancels_nothing() {
        let signal = Arc::new(CancelSignal::default());
        signal.request();
        assert!(signal.is_requested());
        let first = signal.reset();
        assert!(!signal.is_requested());
        // A timer for a statement that has ended cancels nothing.
        let second = signal.reset();
        signal.time_out(first);
        assert!(!signal.is_requested());
        signal.time_out(second);
        assert_eq!(signal.reason(), Some(CancelReason::Timeout));
    }

    #[tokio::test]
    async fn a_waiter_wakes_on_request() {
        let signal = Arc::new(CancelSignal::default());
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.requested().await }
        });
        tokio::task::yield_now().await;
        signal.request();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.expect("woken").expect("no panic");
    }
}
