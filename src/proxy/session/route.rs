//! The route and pick stages. Route: the backend the session goes to (the
//! frontend's `default_backend`, or what the rule stages chose) counts it
//! there. Pick: the key hashing algorithms place the session by.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Session;
use crate::balance::HashKey;
use crate::shared::{BackendSeat, Shared};

impl Session {
    /// The route stage: the session goes to `backend`, and counts there.
    pub(super) fn routed(&mut self, shared: &Shared, backend: usize) {
        let fe = &shared.config.frontends[self.frontend];
        self.splice = fe.splice_auto && shared.config.backends[backend].splice_auto;
        self.backend = backend;
        self.seat = Some(BackendSeat::take(shared, backend));
    }

    /// The pick stage's key: the client's address (`balance source`). A
    /// unix client has none: as HAProxy falls back to round robin then,
    /// each one gets the next of a counter, spread by a multiplicative hash.
    pub(super) fn hash_key(&self) -> HashKey {
        match self.hash {
            Some(Some(key)) => return key,
            // No value to hash: round robin, as HAProxy.
            Some(None) => return spread(),
            None => {}
        }
        if self.unix_bind.is_some() {
            return spread();
        }
        HashKey::from(self.peer.ip())
    }
}

/// The next of a counter, spread by a multiplicative hash: round robin
/// through a hashing balancer.
fn spread() -> HashKey {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Relaxed);
    HashKey(n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
