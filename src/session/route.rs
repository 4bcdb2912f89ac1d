//! The route and pick stages. Route: which backend the session goes to;
//! today the frontend's `default_backend`, later `use_backend` rules,
//! evaluated once the pre-forward stages have read what they need. Taking
//! the route counts the session in its backend. Pick: the key hashing
//! algorithms place the session by.

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
    /// The pick stage's key: the client's address (`balance source`).
    pub(super) fn hash_key(&self) -> HashKey {
        HashKey::from(self.peer.ip())
    }
}
