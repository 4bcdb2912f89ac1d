//! Server selection: one file per algorithm behind one `pick`.
// STUB: helper B replaces this file and adds one file per algorithm.

use std::net::IpAddr;
use std::sync::Arc;

use crate::backend::Server;
use crate::config::Balance;

/// A worker's balancer for one backend. Per worker, so mutable state (round
/// robin positions, RNG) needs no lock; shared load comes from the servers'
/// atomics.
pub struct Balancer {}

impl Balancer {
    /// Built once per backend per worker from the backend's servers.
    pub fn new(_kind: Balance, _servers: &[Arc<Server>], _worker_seed: u64) -> Balancer {
        Balancer {}
    }

    /// Picks a server index for a client, never `avoid`, only among
    /// [`Server::available`] servers. None when no server can take it.
    pub fn pick(&mut self, servers: &[Arc<Server>], _client: IpAddr, avoid: Option<usize>) -> Option<usize> {
        (0..servers.len()).find(|&i| Some(i) != avoid && servers[i].available())
    }
}
