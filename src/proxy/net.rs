//! Sockets to servers: the one non-blocking connect, for sessions and for
//! the prober's checks, and the line between a server's failure and our own.
//!
//! mio's recipe for a non-blocking connect: `connect` returns EINPROGRESS,
//! the socket becomes writable, then `take_error` tells a failure and
//! `peer_addr` a success (ENOTCONN: not yet).

use std::io;
use std::net::SocketAddr;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

/// Socket options set before connecting.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    pub nodelay: bool,
    pub keepalive: bool,
}

/// Opens a non-blocking socket to `addr` and starts connecting.
pub(crate) fn connect(addr: SocketAddr, opts: Options) -> io::Result<TcpStream> {
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
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(sock.into()))
}

/// Where a connect in progress stands, once its socket reported readiness.
pub(crate) fn connect_outcome(stream: &TcpStream) -> Progress {
    let result = match stream.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        Ok(None) => stream.peer_addr().map(drop),
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
/// local ports), not the server's fault. Such an error never counts against
/// a server, never feeds `observe layer4` or a health check, and is never
/// retried at once (it would only fail again).
pub(crate) fn local_shortage(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL)
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
        ] {
            assert!(local_shortage(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNREFUSED, libc::ETIMEDOUT, libc::ENETUNREACH] {
            assert!(!local_shortage(&io::Error::from_raw_os_error(errno)));
        }
    }
}
