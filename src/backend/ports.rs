//! A server's source port range (`server ... source ADDR:LOW-HIGH`): the
//! local ports its connections and its checks leave from, one pool per
//! server shared by every worker and the prober.
//!
//! As HAProxy's `port_range`, the pool is a ring of free ports: a port is
//! taken from the front and given back at the tail, so a port just released
//! (its 4-tuple maybe still in TIME_WAIT) is reused as late as possible.
//! A [`PortLease`] holds one port and gives it back when dropped, so every
//! exit path of a connection returns its port. The lock is held for a pop
//! or a push, never across a syscall.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// The free ports of one server's source range.
#[derive(Debug)]
pub struct PortPool {
    /// The server's name, for the log.
    server: String,
    range: RangeInclusive<u16>,
    /// Free ports, next to take first. Never grows past the range's size:
    /// a port is pushed back only by the lease that popped it.
    free: Mutex<VecDeque<u16>>,
    /// Every port is taken, and that was logged; cleared (and logged) when
    /// a port is taken again.
    dry: AtomicBool,
}

impl PortPool {
    /// A pool holding every port of `range`, lowest first.
    pub fn new(server: &str, range: RangeInclusive<u16>) -> Arc<PortPool> {
        Arc::new(PortPool {
            server: server.to_string(),
            free: Mutex::new(range.clone().collect()),
            range,
            dry: AtomicBool::new(false),
        })
    }

    /// The range this pool hands out.
    pub fn range(&self) -> &RangeInclusive<u16> {
        &self.range
    }

    /// Ports free now.
    pub fn free(&self) -> usize {
        self.lock().len()
    }

    /// Takes the next free port, or None when every one is in use (logged
    /// once until a port is taken again).
    pub fn take(self: &Arc<PortPool>) -> Option<PortLease> {
        let port = self.lock().pop_front();
        let Some(port) = port else {
            if !self.dry.swap(true, Relaxed) {
                log::warn!(
                    "server {}: every port of its source range {}-{} is in use; its new \
                     connections and checks wait for one",
                    self.server,
                    self.range.start(),
                    self.range.end()
                );
            }
            return None;
        };
        if self.dry.load(Relaxed) && self.dry.swap(false, Relaxed) {
            log::info!(
                "server {}: a port of its source range is free again",
                self.server
            );
        }
        Some(PortLease {
            pool: Arc::clone(self),
            port,
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<u16>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One port of a [`PortPool`], held by one connection (or check) to the
/// server from its bind to its close; back at the pool's tail when dropped.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PortPool>,
    port: u16,
}

impl PortLease {
    #[inline]
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.lock().push_back(self.port);
    }
}

/// The pool a server's `source` range needs after a reload: `was` if it
/// hands out the same range (the ports its connections hold stay taken),
/// else a new one (ports of the old range go back to the old pool, which
/// goes when its last lease does).
pub(super) fn carry(
    server: &str,
    was: Option<&Arc<PortPool>>,
    range: Option<&RangeInclusive<u16>>,
) -> Option<Arc<PortPool>> {
    let range = range?;
    match was {
        Some(pool) if pool.range() == range => Some(Arc::clone(pool)),
        _ => Some(PortPool::new(server, range.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_taken_in_order_and_given_back_at_the_tail() {
        let pool = PortPool::new("s", 1025..=1027);
        let a = pool.take().unwrap();
        let b = pool.take().unwrap();
        assert_eq!((a.port(), b.port()), (1025, 1026));
        drop(a);
        // 1027 was free before 1025 came back: it goes first.
        let c = pool.take().unwrap();
        let d = pool.take().unwrap();
        assert_eq!((c.port(), d.port()), (1027, 1025));
        assert!(pool.take().is_none(), "all three in use");
        assert_eq!(pool.free(), 0);
        drop((b, c, d));
        assert_eq!(pool.free(), 3, "every lease gave its port back");
        assert!(pool.take().is_some(), "and they can be taken again");
    }

    #[test]
    fn threads_never_hold_the_same_port() {
        let pool = PortPool::new("s", 2000..=2009);
        let held = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let Some(lease) = pool.take() else { continue };
                        let mut h = held.lock().unwrap();
                        assert!(!h.contains(&lease.port()), "port {} twice", lease.port());
                        h.push(lease.port());
                        drop(h);
                        held.lock().unwrap().retain(|&p| p != lease.port());
                    }
                });
            }
        });
        assert_eq!(pool.free(), 10);
    }

    #[test]
    fn a_reload_keeps_the_pool_of_an_unchanged_range_only() {
        let pool = PortPool::new("s", 10..=20);
        let _held = pool.take().unwrap();
        let kept = carry("s", Some(&pool), Some(&(10..=20))).unwrap();
        assert!(Arc::ptr_eq(&kept, &pool), "same range: same pool");
        assert_eq!(kept.free(), 10, "the port held stays taken");
        let other = carry("s", Some(&pool), Some(&(10..=30))).unwrap();
        assert!(!Arc::ptr_eq(&other, &pool));
        assert_eq!(other.free(), 21);
        assert!(carry("s", Some(&pool), None).is_none(), "no range: none");
    }
}
