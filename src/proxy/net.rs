//! Sockets to servers: the one non-blocking connect, for sessions and for
//! the prober's checks, from a server's source port range when it has one,
//! and the line between a server's failure and our own.
//!
//! mio's recipe for a non-blocking connect: `connect` returns EINPROGRESS,
//! the socket becomes writable, then `take_error` tells a failure and
//! `peer_addr` a success (ENOTCONN: not yet). A unix server's connect
//! ends at once (the kernel answers it in the call), and is read the same.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::backend::{PortLease, PortPool, SockOpts};
use crate::config::{SourceAddr, UnixAddr};
use crate::proxy::stream::Stream;
use crate::sys;

/// Ports of a source range tried for one connect before giving up, when
/// the port is in use elsewhere: HAProxy's bound.
const PORT_ATTEMPTS: usize = 10;

/// Socket options set before connecting.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options<'a> {
    pub nodelay: bool,
    pub keepalive: bool,
    /// `option nolinger`: close() sends a reset.
    pub nolinger: bool,
    /// `option tcp-smart-connect`: TCP_QUICKACK off, so the first bytes
    /// leave with the handshake's last ACK.
    pub smart_connect: bool,
    /// `tfo` on the server, on a first attempt (TCP_FASTOPEN_CONNECT).
    pub fast_open: bool,
    /// The server's `source`, `tcp-ut` (and `tfo`, which `fast_open` says
    /// whether to use).
    pub server: Option<&'a SockOpts>,
}

/// Opens a non-blocking socket to `addr` and starts connecting; with a
/// source port range, from a port of its pool, held by the lease returned
/// (see [`connect_ranged`]).
pub(crate) fn connect_server(
    addr: SocketAddr,
    opts: Options<'_>,
) -> io::Result<(TcpStream, Option<PortLease>)> {
    let ranged = opts
        .server
        .and_then(|s| Some((s.source.as_ref()?, s.ports.as_ref()?)));
    match ranged {
        Some((source, pool)) => connect_ranged(addr, opts, source, pool),
        None => connect(addr, opts).map(|stream| (stream, None)),
    }
}

/// Opens a non-blocking socket to `addr` and starts connecting.
fn connect(addr: SocketAddr, opts: Options<'_>) -> io::Result<TcpStream> {
    let sock = socket_for(addr, opts)?;
    if let Some(source) = opts.server.and_then(|s| s.source.as_ref()) {
        bind_source(&sock, source)?;
    }
    start_connect(sock, addr)
}

/// As HAProxy: a port is taken from the pool and bound with SO_REUSEADDR
/// (a port whose last connection is in TIME_WAIT binds). A port in use
/// elsewhere (the bind's EADDRINUSE, or the connect's EADDRNOTAVAIL: that
/// 4-tuple is still taken) is set aside for the next one, up to
/// [`PORT_ATTEMPTS`]; the ports set aside go back after, at the tail. An
/// empty pool is l4lb's own shortage ([`local_shortage`]).
fn connect_ranged(
    addr: SocketAddr,
    opts: Options<'_>,
    source: &SourceAddr,
    pool: &Arc<PortPool>,
) -> io::Result<(TcpStream, Option<PortLease>)> {
    let mut busy = Vec::new();
    loop {
        let lease = pool.take().ok_or_else(|| {
            let (low, high) = (pool.range().start(), pool.range().end());
            let msg = format!("every port of the source range {low}-{high} is in use");
            io::Error::new(io::ErrorKind::AddrNotAvailable, msg)
        })?;
        let sock = socket_for(addr, opts)?;
        let at = SocketAddr::new(source.addr.ip(), lease.port());
        let err = match bind_device(&sock, source).and_then(|()| bind_reused(&sock, at)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => e,
            Err(e) => return Err(e),
            Ok(()) => match start_connect(sock, addr) {
                Ok(stream) => return Ok((stream, Some(lease))),
                Err(e) if port_taken(&e) => e,
                Err(e) => return Err(e),
            },
        };
        busy.push(lease);
        if busy.len() == PORT_ATTEMPTS {
            return Err(err);
        }
    }
}

/// The connect's answer when the 4-tuple from this port is still taken.
fn port_taken(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EADDRNOTAVAIL | libc::EADDRINUSE)
    )
}

/// A non-blocking TCP socket for `addr` with every option of `opts` but
/// the source.
fn socket_for(addr: SocketAddr, opts: Options<'_>) -> io::Result<Socket> {
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    if opts.nodelay {
        sock.set_tcp_nodelay(true)?;
    }
    if opts.keepalive {
        sock.set_tcp_keepalive(&TcpKeepalive::new())?;
    }
    if opts.nolinger {
        sock.set_linger(Some(Duration::ZERO))?;
    }
    if opts.smart_connect {
        sock.set_tcp_quickack(false)?;
    }
    if let Some(server) = opts.server {
        if server.tcp_ut.is_some() {
            sock.set_tcp_user_timeout(server.tcp_ut)?;
        }
        if opts.fast_open && server.tfo {
            let fd = sock.as_fd();
            sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)?;
        }
    }
    Ok(sock)
}

/// Starts the connect of a socket set up for it.
fn start_connect(sock: Socket, addr: SocketAddr) -> io::Result<TcpStream> {
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(sock.into()))
}

/// Opens a non-blocking unix stream socket to `addr` and connects it.
pub(crate) fn connect_unix(addr: &UnixAddr) -> io::Result<Stream> {
    let stream = match addr {
        UnixAddr::Path(path) => mio::net::UnixStream::connect(path)?,
        UnixAddr::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            mio::net::UnixStream::connect_addr(&addr)?
        }
    };
    Ok(Stream::Unix(stream))
}

/// Binds an outgoing socket to its `source` before the connect. Without a
/// port, IP_BIND_ADDRESS_NO_PORT lets the kernel pick the port at connect,
/// by the whole 4-tuple: no ephemeral port is held by the bind alone.
fn bind_source(sock: &Socket, source: &SourceAddr) -> io::Result<()> {
    bind_device(sock, source)?;
    if source.addr.port() == 0 {
        let fd = sock.as_fd();
        sys::set_int_sockopt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)?;
        sock.bind(&source.addr.into())
    } else {
        // One port for every connection: each differs by its server side.
        bind_reused(sock, source.addr)
    }
}

/// `source ... interface NAME`: SO_BINDTODEVICE.
fn bind_device(sock: &Socket, source: &SourceAddr) -> io::Result<()> {
    match &source.interface {
        Some(dev) => sock.bind_device(Some(dev.as_bytes())),
        None => Ok(()),
    }
}

/// Binds a given source port with SO_REUSEADDR, as HAProxy: the port may be
/// shared with other connections (to other servers) and with its own last
/// connection's TIME_WAIT.
fn bind_reused(sock: &Socket, at: SocketAddr) -> io::Result<()> {
    sock.set_reuse_address(true)?;
    sock.bind(&at.into())
}

/// Where a connect in progress stands, once its socket reported readiness.
pub(crate) fn connect_outcome(stream: &Stream) -> Progress {
    let result = match stream.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        Ok(None) => stream.connected(),
    };
    match result {
        Ok(()) => Progress::Connected,
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Progress::Waiting,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Progress::Waiting,
        Err(e) => Progress::Failed(e),
    }
}

#[derive(Debug)]
pub(crate) enum Progress {
    Connected,
    /// Not yet (ENOTCONN or EINPROGRESS): wait for the next event.
    Waiting,
    Failed(io::Error),
}

/// Whether `err` is l4lb's own shortage (file descriptors, kernel memory,
/// local ports, a `source` address or port it cannot bind), not the
/// server's fault. Such an error never counts against
/// a server, never feeds `observe layer4` or a health check, and is never
/// retried at once (it would only fail again).
pub(crate) fn local_shortage(err: &io::Error) -> bool {
    let os = matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    );
    // EADDRNOTAVAIL, EADDRINUSE, and a source port range used up.
    let addr = matches!(
        err.kind(),
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::AddrInUse
    );
    os || addr
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Socket options leaving from 127.0.0.1, ports `low..=low + 1`.
    fn ranged(low: u16) -> SockOpts {
        let ports = low..=low + 1;
        SockOpts {
            source: Some(SourceAddr {
                addr: "127.0.0.1:0".parse().unwrap(),
                ports: Some(ports.clone()),
                interface: None,
            }),
            ports: Some(PortPool::new("s", ports)),
            ..SockOpts::default()
        }
    }

    #[test]
    fn a_port_of_the_range_in_use_elsewhere_is_passed_over_and_given_back() {
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        // A listener holds the range's first port; the second is free.
        let (_holder, low) = loop {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let p = l.local_addr().unwrap().port();
            if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break (l, p);
            }
        };
        let sockopts = ranged(low);
        let opts = Options {
            server: Some(&sockopts),
            ..Options::default()
        };
        let (stream, lease) = connect_server(target.local_addr().unwrap(), opts).unwrap();
        assert_eq!(lease.as_ref().map(PortLease::port), Some(low + 1));
        assert_eq!(stream.local_addr().unwrap().port(), low + 1);
        let pool = sockopts.ports.as_ref().unwrap();
        assert_eq!(pool.free(), 1, "the port in use went back to the pool");
        drop((stream, lease));
        assert_eq!(pool.free(), 2);
    }

    #[test]
    fn a_range_used_up_is_our_own_shortage() {
        let sockopts = ranged(40_000);
        let pool = sockopts.ports.as_ref().unwrap();
        let _held = (pool.take().unwrap(), pool.take().unwrap());
        let opts = Options {
            server: Some(&sockopts),
            ..Options::default()
        };
        let err = connect_server("127.0.0.1:9".parse().unwrap(), opts).unwrap_err();
        assert!(local_shortage(&err), "{err}");
        assert!(err.to_string().contains("40000-40001 is in use"), "{err}");
    }

    #[test]
    fn fd_memory_and_port_shortages_are_ours() {
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
            libc::EADDRINUSE,
        ] {
            assert!(local_shortage(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNREFUSED, libc::ETIMEDOUT, libc::ENETUNREACH] {
            assert!(!local_shortage(&io::Error::from_raw_os_error(errno)));
        }
    }
}
