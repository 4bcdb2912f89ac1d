//! Listening sockets: one `SO_REUSEPORT` socket per bind per worker, so the
//! kernel spreads new connections over the workers with no shared accept lock.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};

/// Opens a non-blocking listening socket on `addr` with SO_REUSEPORT, so each
/// worker can open its own on the same address. TCP_NODELAY (and
/// SO_KEEPALIVE with `keepalive`) are set here once: accepted sockets
/// inherit them, which saves a setsockopt per connection.
pub(crate) fn bind_reuseport(
    addr: SocketAddr,
    backlog: i32,
    keepalive: bool,
) -> io::Result<TcpListener> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.set_tcp_nodelay(true)?;
    if keepalive {
        sock.set_keepalive(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    Ok(TcpListener::from_std(sock.into()))
}

/// What one accept call produced.
pub(crate) enum Accepted {
    Conn(TcpStream, SocketAddr),
    /// The accept queue is empty: wait for the next readiness event.
    Drained,
    /// Out of file descriptors or kernel memory (or an unexpected error):
    /// pause this listener.
    Exhausted(io::Error),
    /// The client went away before we took it (ECONNABORTED, ...): go on.
    Skipped,
}

/// Accepts one connection; mio uses accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC.
pub(crate) fn accept(listener: &TcpListener) -> Accepted {
    match listener.accept() {
        Ok((stream, addr)) => Accepted::Conn(stream, addr),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Accepted::Drained,
        Err(e) if is_exhausted(&e) => Accepted::Exhausted(e),
        Err(_) => Accepted::Skipped,
    }
}

/// Whether a failed accept means the listener must rest:
/// EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected, where retrying
/// at once would spin. Otherwise the connection died in the queue or a
/// signal came (ECONNABORTED, EPROTO, EPERM, EINTR): the next may be fine.
pub(crate) fn is_exhausted(e: &io::Error) -> bool {
    e.kind() != io::ErrorKind::WouldBlock
        && !matches!(
            e.raw_os_error(),
            Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM | libc::EINTR)
        )
}

/// How long the runtime API's and the metrics endpoint's listeners rest
/// after running out of fds or memory (the workers use the same pause).
pub(crate) const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);

/// The rest of a listener whose accept ran out of fds or memory (see
/// [`is_exhausted`]). Its loop does not accept while it rests, wakes at
/// [`Pause::until`] (a deadline in its poll timeout, so no spin) and then
/// accepts until `WouldBlock` again: clients queued meanwhile are taken as
/// soon as fds are back, with no new connection needed to wake the
/// listener (its readiness is edge-triggered). A run of failures is logged
/// once at its start and once at its end, not per retry.
#[derive(Debug, Default)]
pub(crate) struct Pause {
    until: Option<Instant>,
    /// Failed accepts since the last one that worked.
    failures: u64,
}

impl Pause {
    /// Whether the listener rests: do not accept.
    pub(crate) fn resting(&self) -> bool {
        self.until.is_some()
    }

    /// When the rest ends.
    pub(crate) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// Ends the rest if it is over at `now`; true if the listener is to be
    /// retried now.
    pub(crate) fn due(&mut self, now: Instant) -> bool {
        let due = self.until.is_some_and(|t| t <= now);
        if due {
            self.until = None;
        }
        due
    }

    /// An accept failed and the listener must rest (`is_exhausted`); true
    /// on the first failure of a run: the one to log.
    pub(crate) fn failed(&mut self, now: Instant) -> bool {
        self.until = Some(now + EXHAUSTED_PAUSE);
        self.failures += 1;
        self.failures == 1
    }

    /// An accept did not fail for want of fds or memory: the failures of
    /// the run it ends, if there was one (to log the recovery once).
    pub(crate) fn recovered(&mut self) -> Option<u64> {
        (self.failures > 0).then(|| std::mem::take(&mut self.failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_rests_the_listener_and_reports_its_start_and_end_once() {
        let t0 = Instant::now();
        let mut p = Pause::default();
        assert!(!p.resting() && !p.due(t0) && p.recovered().is_none());
        assert!(p.failed(t0), "the first failure is reported");
        assert_eq!(p.until(), Some(t0 + EXHAUSTED_PAUSE));
        assert!(!p.due(t0 + EXHAUSTED_PAUSE / 2) && p.resting());
        assert!(p.due(t0 + EXHAUSTED_PAUSE) && !p.resting());
        assert!(!p.failed(t0 + EXHAUSTED_PAUSE), "a retry's failure is not");
        assert!(p.due(t0 + 2 * EXHAUSTED_PAUSE));
        assert_eq!(p.recovered(), Some(2));
        assert_eq!(p.recovered(), None);
        assert!(p.failed(t0), "a new run is reported again");
    }
}
