//! Listening sockets: one `SO_REUSEPORT` socket per bind per worker, so the
//! kernel spreads new connections over the workers with no shared accept lock.

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use socket2::{Domain, Protocol, Socket, Type};

/// Opens a non-blocking listening socket on `addr` with SO_REUSEPORT, so each
/// worker can open its own on the same address. TCP_NODELAY (and
/// SO_KEEPALIVE with `keepalive`) are set here once: accepted sockets
/// inherit them, which saves a setsockopt per connection.
pub fn bind_reuseport(addr: SocketAddr, backlog: i32, keepalive: bool) -> io::Result<TcpListener> {
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
pub enum Accepted {
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
pub fn accept(listener: &TcpListener) -> Accepted {
    match listener.accept() {
        Ok((stream, addr)) => Accepted::Conn(stream, addr),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Accepted::Drained,
        Err(e) => match e.raw_os_error() {
            // The connection died in the queue, or a signal: the next may be fine.
            Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM | libc::EINTR) => {
                Accepted::Skipped
            }
            // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected: retrying
            // at once would spin, so the worker pauses this listener.
            _ => Accepted::Exhausted(e),
        },
    }
}
