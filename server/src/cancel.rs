//! Cancel requests (psql's Ctrl-C, drivers' statement cancels): each connection's
//! (process id, secret key), sent to the client at startup, maps to its [`CancelSignal`],
//! which the statement running on it checks while it waits for workers, evaluates rows or
//! streams a subscription. A wrong key cancels nothing, as in PostgreSQL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use tokio::sync::Notify;
use tracing::info;

/// Whether the statement running on one connection should stop.
#[derive(Debug, Default)]
pub struct CancelSignal {
    requested: AtomicBool,
    notify: Notify,
}

impl CancelSignal {
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Forgets a request that arrived while no statement ran (PostgreSQL ignores those).
    pub fn reset(&self) {
        self.requested.store(false, Ordering::SeqCst);
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
        signal.reset();
        assert!(!signal.is_requested());
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
