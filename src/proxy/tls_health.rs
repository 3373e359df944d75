//! Whether the upstream's certificate verifies, for `/readyz` to say (as
//! degraded, without failing): a certificate problem is a configuration
//! problem (a missing CA, an expired or misnamed certificate) that no retry
//! fixes. It clears with the next request the upstream answers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub(super) struct TlsHealth {
    failing: AtomicBool,
    reason: Mutex<String>,
}

impl TlsHealth {
    /// After an answer: one atomic load on the hot path.
    pub fn answered(&self) {
        if self.failing.load(Ordering::Relaxed) {
            self.failing.store(false, Ordering::Relaxed);
        }
    }

    /// After a failure whose cause chain is `chain`.
    pub fn failed(&self, upstream: &str, chain: &str) {
        if !chain.to_ascii_lowercase().contains("certificate") {
            return;
        }
        let mut reason = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        *reason = format!("upstream {upstream}: TLS failed: {chain}");
        self.failing.store(true, Ordering::Relaxed);
    }

    pub fn readiness(&self) -> Result<(), String> {
        if !self.failing.load(Ordering::Relaxed) {
            return Ok(());
        }
        Err(self
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }
}
