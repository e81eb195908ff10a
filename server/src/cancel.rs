//! Cancel requests (psql's Ctrl-C, drivers' statement cancels): each connection's
//! (process id, secret key), sent to the client at startup, maps to its [`CancelSignal`],
//! which the statement running on it checks while it waits for workers, evaluates rows or
//! streams a subscription. A wrong key cancels nothing, as in PostgreSQL. The session's
//! `statement_timeout` cancels through the same signal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use tokio::sync::Notify;
use tracing::info;

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
    /// 0: not requested; otherwise a [`CancelReason`] (1 user, 2 timeout).
    requested: AtomicU8,
    /// Counts statements, so that a timer set for one cannot cancel the next.
    statement: AtomicU64,
    notify: Notify,
}

impl CancelSignal {
    pub fn request(&self) {
        self.request_for(CancelReason::User);
    }

    fn request_for(&self, reason: CancelReason) {
        let code = match reason {
            CancelReason::User => 1,
            CancelReason::Timeout => 2,
        };
        self.requested.store(code, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst) != 0
    }

    pub fn reason(&self) -> Option<CancelReason> {
        match self.requested.load(Ordering::SeqCst) {
            0 => None,
            1 => Some(CancelReason::User),
            _ => Some(CancelReason::Timeout),
        }
    }

    /// A new statement starts: forgets a request that arrived while none ran (PostgreSQL
    /// ignores those), and returns the statement's number for [`CancelSignal::time_out`].
    pub fn reset(&self) -> u64 {
        self.requested.store(0, Ordering::SeqCst);
        self.statement.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Cancels statement number `statement` for its timeout, if it is still running.
    pub fn time_out(&self, statement: u64) {
        if self.statement.load(Ordering::SeqCst) == statement {
            self.request_for(CancelReason::Timeout);
        }
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

type ConnectionKey = (i32, Vec<u8>);

/// The signals of the connections open now, by (process id, secret key).
#[derive(Debug, Default)]
pub struct CancelRegistry {
    connections: Mutex<HashMap<ConnectionKey, Arc<CancelSignal>>>,
}

impl CancelRegistry {
    pub fn register(&self, pid: i32, secret: Vec<u8>, signal: Arc<CancelSignal>) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.insert((pid, secret), signal);
        }
    }

    pub fn unregister(&self, pid: i32, secret: Vec<u8>) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.remove(&(pid, secret));
        }
    }

    /// Signals the connection `pid` if `secret` is its key; true if it did.
    pub fn cancel(&self, pid: i32, secret: Vec<u8>) -> bool {
        let signal = self.connections.lock().ok().and_then(|c| c.get(&(pid, secret)).cloned());
        match signal {
            Some(signal) => {
                signal.request();
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: CancelRequest) {
        if self.cancel(request.pid, request.secret_key.to_bytes().to_vec()) {
            info!(pid = request.pid, "cancel request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_key_cancels_and_a_reset_forgets() {
        let registry = CancelRegistry::default();
        let signal = Arc::new(CancelSignal::default());
        registry.register(7, vec![1, 2], signal.clone());
        assert!(!registry.cancel(7, vec![9, 9]));
        assert!(!registry.cancel(8, vec![1, 2]));
        assert!(!signal.is_requested());
        assert!(registry.cancel(7, vec![1, 2]));
        assert!(signal.is_requested());
        let first = signal.reset();
        assert!(!signal.is_requested());
        // A timer for a statement that has ended cancels nothing.
        let second = signal.reset();
        signal.time_out(first);
        assert!(!signal.is_requested());
        signal.time_out(second);
        assert_eq!(signal.reason(), Some(CancelReason::Timeout));
        registry.unregister(7, vec![1, 2]);
        assert!(!registry.cancel(7, vec![1, 2]));
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
