//! The address of a bind or a server: an IP socket, or a unix stream
//! socket (a path or a Linux abstract name), and how HAProxy shows it.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a bind listens: an IP socket or a unix one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SockAddr {
    Inet(SocketAddr),
    Unix(UnixAddr),
}

/// A unix stream socket's address: a path, or a name in Linux's abstract
/// namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// `/path`, `unix@path`: a socket file.
    Path(PathBuf),
    /// `abns@name`, `abnsz@name`: the name's bytes after the leading NUL,
    /// as the kernel compares them. `abns@` pads them with NULs to the
    /// whole `sun_path` (107 bytes), as HAProxy does; `abnsz@` does not.
    Abstract(Vec<u8>),
}

impl SockAddr {
    /// The IP socket address, if it is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            SockAddr::Inet(a) => Some(*a),
            SockAddr::Unix(_) => None,
        }
    }
}

/// As HAProxy shows addresses: `IP:PORT`, the path, or `abns@NAME`.
impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet(a) => a.fmt(f),
            SockAddr::Unix(u) => u.fmt(f),
        }
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(p) => p.display().fmt(f),
            UnixAddr::Abstract(name) => {
                let end = name.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
                write!(f, "abns@{}", String::from_utf8_lossy(&name[..end]))
            }
        }
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(a: SocketAddr) -> SockAddr {
        SockAddr::Inet(a)
    }
}
