//! The route and pick stages. Route: which backend the session goes to;
//! today the frontend's `default_backend`, later `use_backend` rules,
//! evaluated once the pre-forward stages have read what they need. Taking
//! the route counts the session in its backend. Pick: the key hashing
//! algorithms place the session by.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Session;
use crate::balance::HashKey;
use crate::shared::{BackendSeat, Shared};

/// Where a session goes, and its place in that backend's count.
#[derive(Debug)]
pub(super) struct Route {
    pub(super) backend: usize,
    pub(super) seat: BackendSeat,
}

/// The route of a client of `frontend`.
pub(super) fn route(shared: &Shared, frontend: usize) -> Route {
    let backend = shared.config.frontends[frontend].backend;
    Route {
        backend,
        seat: BackendSeat::take(shared, backend),
    }
}

impl Session {
    /// The pick stage's key: the client's address (`balance source`). A
    /// unix client has none: as HAProxy falls back to round robin then,
    /// each one gets the next of a counter, spread by a multiplicative hash.
    pub(super) fn hash_key(&self) -> HashKey {
        if self.unix_bind.is_some() {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let n = NEXT.fetch_add(1, Relaxed);
            return HashKey(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
        HashKey::from(self.peer.ip())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::route;
    use crate::config::Config;
    use crate::shared::Shared;

    #[test]
    fn a_route_is_the_default_backend_and_counts_the_session_there_until_dropped() {
        let text = "frontend fe\n    bind 127.0.0.1:1\n    default_backend b2\n\
                    backend b1\n    server s 127.0.0.1:2\n\
                    backend b2\n    server s 127.0.0.1:3\n";
        let shared = Shared::new(Config::from_text("t.conf", text.as_bytes()).unwrap(), None);
        let b2 = shared.backend_index("b2").unwrap();
        let first = route(&shared, 0);
        let second = route(&shared, 0);
        assert_eq!(first.backend, b2);
        let count = &shared.backends[b2];
        assert_eq!((count.cur.load(Relaxed), count.max.load(Relaxed)), (2, 2));
        drop((first, second));
        assert_eq!((count.cur.load(Relaxed), count.max.load(Relaxed)), (0, 2));
        assert_eq!(shared.backends[1 - b2].cur.load(Relaxed), 0);
    }
}
