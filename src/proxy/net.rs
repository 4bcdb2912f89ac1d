//! Sockets to servers: the one non-blocking connect, for sessions and for
//! the prober's checks, and the line between a server's failure and our own.
//!
//! mio's recipe for a non-blocking connect: `connect` returns EINPROGRESS,
//! the socket becomes writable, then `take_error` tells a failure and
//! `peer_addr` a success (ENOTCONN: not yet). A unix server's connect
//! ends at once (the kernel answers it in the call), and is read the same.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use crate::backend::SockOpts;
use crate::config::{SourceAddr, UnixAddr};
use crate::proxy::stream::Stream;
use crate::sys;

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

/// Opens a non-blocking socket to `addr` and starts connecting.
pub(crate) fn connect(addr: SocketAddr, opts: Options<'_>) -> io::Result<TcpStream> {
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
        if let Some(source) = &server.source {
            bind_source(&sock, source)?;
        }
        if server.tcp_ut.is_some() {
            sock.set_tcp_user_timeout(server.tcp_ut)?;
        }
        if opts.fast_open && server.tfo {
            let fd = sock.as_fd();
            sys::set_int_sockopt(fd, libc::IPPROTO_TCP, libc::TCP_FASTOPEN_CONNECT, 1)?;
        }
    }
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
    if let Some(dev) = &source.interface {
        sock.bind_device(Some(dev.as_bytes()))?;
    }
    if source.addr.port() == 0 {
        let fd = sock.as_fd();
        sys::set_int_sockopt(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)?;
    } else {
        // One port for every connection: each differs by its server side.
        sock.set_reuse_address(true)?;
    }
    sock.bind(&source.addr.into())
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
    matches!(
        err.raw_os_error(),
        Some(
            libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EADDRNOTAVAIL
                | libc::EADDRINUSE
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
