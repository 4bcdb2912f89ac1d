//! Listening sockets: one `SO_REUSEPORT` socket per bind per worker, so the
//! kernel spreads new connections over the workers with no shared accept
//! lock. A unix socket cannot be shared that way: it is bound once and each
//! worker accepts on a duplicate of it (mio has no EPOLLEXCLUSIVE: workers
//! may wake together, and those that lose the race get `WouldBlock`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Bind, BindOpts, Frontend, SockAddr, UnixAddr};
use crate::proxy::stream::Stream;
use crate::sys;

/// What a unix client's address is taken as (it has no IP): HAProxy logs
/// such a client as `unix`; l4lb's logs show this address.
pub(crate) const UNIX_PEER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// One listening socket of a worker.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    /// With the bind's address: getsockname would give the temporary name
    /// the socket was bound at before its rename.
    Unix(UnixListener, UnixAddr),
}

impl Listener {
    /// The bind address it listens on.
    pub(crate) fn addr(&self) -> io::Result<SockAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(SockAddr::Inet),
            Listener::Unix(_, addr) => Ok(SockAddr::Unix(addr.clone())),
        }
    }

    /// Another handle on the same socket (a unix listener's, for the next
    /// worker), by `dup`.
    pub(crate) fn try_clone(&self) -> io::Result<Listener> {
        let fd = self.as_fd().try_clone_to_owned()?;
        Ok(match self {
            Listener::Tcp(_) => Listener::Tcp(TcpListener::from_std(fd.into())),
            Listener::Unix(_, addr) => {
                Listener::Unix(UnixListener::from_std(fd.into()), addr.clone())
            }
        })
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl Source for Listener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.register(r, t, i),
            Listener::Unix(l, _) => l.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.reregister(r, t, i),
            Listener::Unix(l, _) => l.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.deregister(r),
            Listener::Unix(l, _) => l.deregister(r),
        }
    }
}

/// The socket options of one bind, as set on each of its listeners: the
/// bind line's, with what its frontend adds (`backlog`, `option clitcpka`,
/// `option nolinger`, `option tcp-smart-accept`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListenOpts {
    pub backlog: i32,
    pub keepalive: bool,
    pub nolinger: bool,
    /// TCP_QUICKACK off (`option tcp-smart-accept`).
    pub smart_accept: bool,
    pub bind: BindOpts,
}

impl ListenOpts {
    /// The options of `bind` in `fe`. The backlog is the bind's, else the
    /// frontend's, else the bind's maxconn, else the frontend's, as
    /// HAProxy's.
    pub(crate) fn of(fe: &Frontend, bind: &Bind) -> ListenOpts {
        let backlog = bind
            .opts
            .backlog
            .or(fe.backlog)
            .or(bind.opts.maxconn)
            .map_or(fe.maxconn, |b| b as usize);
        ListenOpts {
            backlog: i32::try_from(backlog).unwrap_or(i32::MAX),
            keepalive: fe.tcp_keepalive,
            nolinger: fe.nolinger,
            smart_accept: fe.smart_accept,
            bind: bind.opts.clone(),
        }
    }

    /// Just a backlog and SO_KEEPALIVE (the quick start and the tests).
    pub(crate) fn plain(backlog: i32, keepalive: bool) -> ListenOpts {
        ListenOpts {
            backlog,
            keepalive,
            ..ListenOpts::default()
        }
    }
}

/// Opens a non-blocking listening socket on `addr` with SO_REUSEPORT, so
/// each worker can open its own on the same address (and the stats pages).
pub(crate) fn bind_reuseport(
    addr: SocketAddr,
    backlog: i32,
    keepalive: bool,
) -> io::Result<TcpListener> {
    bind_with(addr, &ListenOpts::plain(backlog, keepalive))
}

/// As [`bind_reuseport`], with every option of `opts`: IPV6_V6ONLY before
/// the bind (it cannot change after), the others by [`configure`].
pub(crate) fn bind_with(addr: SocketAddr, opts: &ListenOpts) -> io::Result<TcpListener> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if let (true, Some(v6only)) = (addr.is_ipv6(), opts.bind.v6only) {
        sock.set_only_v6(v6only)?;
    }
    configure(&sock, opts)?;
    sock.bind(&addr.into())?;
    sock.listen(opts.backlog)?;
    // `listen` resets the delayed-ACK state: TCP_QUICKACK goes after it.
    sock.set_tcp_quickack(!opts.smart_accept)?;
    Ok(TcpListener::from_std(sock.into()))
}

/// Sets every option of `opts` that a listening socket can change at any
/// time, and resets those `opts` leaves out, as HAProxy does to a socket
/// it inherits: at the bind, on an upgrade (sockets an old l4lb handed
/// over) and on a reload (the sockets it keeps). TCP_NODELAY (and
/// SO_KEEPALIVE, SO_LINGER, TCP_USER_TIMEOUT, TCP_MAXSEG) are inherited by
/// accepted sockets, which saves a setsockopt per connection.
pub(crate) fn configure(sock: &Socket, opts: &ListenOpts) -> io::Result<()> {
    let fd = sock.as_fd();
    sock.set_tcp_nodelay(true)?;
    sock.set_keepalive(opts.keepalive)?;
    // Linger 0: close() sends a reset, not a FIN (`option nolinger`).
    sock.set_linger(opts.nolinger.then_some(Duration::ZERO))?;
    let device = opts.bind.interface.as_deref().map(str::as_bytes);
    if device.is_some() || sock.device()?.is_some() {
        sock.bind_device(device)?;
    }
    // 0 is the kernel's "no user MSS".
    sock.set_tcp_mss(opts.bind.mss.unwrap_or(0))?;
    sock.set_tcp_user_timeout(opts.bind.tcp_ut)?;
    // HAProxy defers by up to one second.
    let defer = i32::from(opts.bind.defer_accept);
    sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, defer)?;
    // The fast open queue is as long as the accept queue, as HAProxy's. An
    // unset one is left alone: setting 0 would create a queue.
    if opts.bind.tfo {
        sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, opts.backlog)?;
    } else if sys::int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN)? != 0 {
        sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN, 0)?;
    }
    // Takes on a listening socket only (see `bind_with`).
    sock.set_tcp_quickack(!opts.smart_accept)?;
    Ok(())
}

/// Applies `opts` to a listening socket kept across a reload or handed
/// over by an upgrade: [`configure`], and `listen` again for a new
/// backlog. IPV6_V6ONLY cannot change on a bound socket: the message says
/// so when it differs, and the socket keeps it.
pub(crate) fn reconfigure(sock: &Socket, opts: &ListenOpts) -> io::Result<Option<String>> {
    if sock.domain()? == Domain::UNIX {
        // None of the TCP options apply; a socket file keeps its mode and
        // owner, as HAProxy leaves those of a socket it inherits.
        sock.listen(opts.backlog)?;
        return Ok(None);
    }
    configure(sock, opts)?;
    sock.listen(opts.backlog)?;
    let addr = sock.local_addr()?.as_socket();
    let Some(addr) = addr.filter(SocketAddr::is_ipv6) else {
        return Ok(None);
    };
    let now = sock.only_v6()?;
    let want = opts.bind.v6only.unwrap_or(now);
    Ok((want != now).then(|| {
        format!(
            "bind {addr}: {} cannot change on a listening socket; it stays {} until the bind \
             is removed and added back, or l4lb restarted",
            if want { "v6only" } else { "v4v6" },
            if now { "v6only" } else { "v4v6" },
        )
    }))
}

/// What one accept call produced.
pub(crate) enum Accepted {
    /// A client, and its address ([`UNIX_PEER`] on a unix socket).
    Conn(Stream, SocketAddr),
    /// The accept queue is empty: wait for the next readiness event.
    Drained,
    /// Out of file descriptors or kernel memory (or an unexpected error):
    /// pause this listener.
    Exhausted(io::Error),
    /// The client went away before we took it (ECONNABORTED, ...): go on.
    Skipped,
}

/// Accepts one connection; mio uses accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC.
pub(crate) fn accept(listener: &Listener) -> Accepted {
    let accepted = match listener {
        Listener::Tcp(l) => l.accept().map(|(s, addr)| (Stream::Tcp(s), addr)),
        Listener::Unix(l, _) => l.accept().map(|(s, _)| (Stream::Unix(s), UNIX_PEER)),
    };
    match accepted {
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
    fn a_reload_sets_and_clears_options_but_v6only_only_warns() {
        let opts = ListenOpts {
            nolinger: true,
            bind: BindOpts {
                v6only: Some(true),
                mss: Some(1300),
                ..BindOpts::default()
            },
            ..ListenOpts::plain(8, false)
        };
        let l = bind_with("[::1]:0".parse().unwrap(), &opts).unwrap();
        let sock = socket2::SockRef::from(&l);
        assert_eq!(sock.linger().unwrap(), Some(Duration::ZERO));
        assert_eq!(sock.tcp_mss().unwrap(), 1300);
        assert!(sock.only_v6().unwrap());
        let plain = ListenOpts::plain(8, false);
        assert_eq!(
            reconfigure(&sock, &plain).unwrap(),
            None,
            "no v6only said: kept"
        );
        assert_eq!(sock.linger().unwrap(), None);
        let dual = ListenOpts {
            bind: BindOpts {
                v6only: Some(false),
                ..BindOpts::default()
            },
            ..plain
        };
        let warning = reconfigure(&sock, &dual).unwrap().unwrap();
        assert!(warning.contains("v4v6 cannot change"), "{warning}");
        assert!(sock.only_v6().unwrap(), "the socket keeps it");
    }

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
