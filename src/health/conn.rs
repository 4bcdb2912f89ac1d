//! A check's connection: the socket, and TLS over it for `check-ssl` and
//! `tcp-check connect ssl`. Reads and writes are the application's bytes
//! either way; the prober registers the socket underneath.
//!
//! TLS is non-blocking over the same edge-triggered registration
//! (READABLE | WRITABLE): every call first pushes what TLS has queued for
//! the socket until it is all out or the socket says `WouldBlock`, so
//! queued output is never left waiting for an event that will not come.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection};

use super::tls;
use crate::proxy::stream::Stream;

/// A plain or TLS check connection.
pub(super) enum CheckConn {
    Plain(Stream),
    Tls(Box<TlsConn>),
}

/// A TLS client over a non-blocking socket.
pub(super) struct TlsConn {
    stream: Stream,
    tls: ClientConnection,
}

impl CheckConn {
    /// TLS over `stream` (connected or still connecting) with `config`
    /// (from [`tls::client_config`], which holds `verify`, the CAs and
    /// `verifyhost`), sending `sni` as the server name if given. Nothing
    /// is sent until [`CheckConn::handshake`].
    pub(super) fn tls(
        stream: Stream,
        config: Arc<ClientConfig>,
        sni: Option<&str>,
    ) -> io::Result<CheckConn> {
        let name = tls::server_name(sni).map_err(io::Error::other)?;
        let tls = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(CheckConn::Tls(Box::new(TlsConn { stream, tls })))
    }

    /// The socket, for the poll registry and the connect's outcome.
    pub(super) fn socket(&mut self) -> &mut Stream {
        match self {
            CheckConn::Plain(s) => s,
            CheckConn::Tls(t) => &mut t.stream,
        }
    }

    /// Drives the TLS handshake: Ok(true) once done (at once for plain),
    /// Ok(false) while it waits for the socket, Err with the TLS alert or
    /// certificate error when it failed.
    pub(super) fn handshake(&mut self) -> io::Result<bool> {
        match self {
            CheckConn::Plain(_) => Ok(true),
            CheckConn::Tls(t) => t.handshake(),
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        matches!(self, CheckConn::Tls(_))
    }
}

impl TlsConn {
    fn handshake(&mut self) -> io::Result<bool> {
        loop {
            self.push()?;
            if !self.tls.is_handshaking() {
                return Ok(true);
            }
            // While handshaking, rustls wants to read unless it waits for
            // its output to go out, which `push` left to a full socket.
            if !self.tls.wants_read() {
                return Ok(false);
            }
            match self.pull()? {
                Pulled::Records => {}
                Pulled::Blocked => return Ok(false),
                Pulled::Eof if self.tls.is_handshaking() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ));
                }
                Pulled::Eof => {}
            }
        }
    }

    /// Writes queued TLS records to the socket: Ok(true) when all are out,
    /// Ok(false) when the socket is full (it will signal WRITABLE).
    fn push(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads TLS records from the socket and processes them. A TLS error
    /// is returned after its alert is pushed out if the socket takes it.
    fn pull(&mut self) -> io::Result<Pulled> {
        let pulled = loop {
            match self.tls.read_tls(&mut self.stream) {
                Ok(0) => break Pulled::Eof,
                Ok(_) => break Pulled::Records,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pulled::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        match self.tls.process_new_packets() {
            Ok(_) => {
                self.push()?;
                Ok(pulled)
            }
            Err(e) => {
                // Best effort: tell the server why with the queued alert.
                let _ = self.push();
                Err(tls_error(e))
            }
        }
    }
}

/// A TLS failure as the check's message: rustls' words, but a certificate
/// error of l4lb's own (a name mismatch) or an unknown issuer said plainly.
fn tls_error(e: rustls::Error) -> io::Error {
    use rustls::{CertificateError, Error};
    let why = match &e {
        Error::InvalidCertificate(CertificateError::Other(other)) => {
            format!("invalid peer certificate: {other}")
        }
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "invalid peer certificate: signed by no CA of ca-file (UnknownIssuer)".into()
        }
        _ => e.to_string(),
    };
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// What [`TlsConn::pull`] got from the socket.
enum Pulled {
    Records,
    /// The server closed its side.
    Eof,
    /// Nothing yet: READABLE will come.
    Blocked,
}

impl Read for TlsConn {
    /// Application bytes; Ok(0) on close_notify or on a plain EOF.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.push()?;
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Pulled::Blocked = self.pull()? {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsConn {
    /// Takes bytes only when all earlier ones are out on the socket, so
    /// what is queued stays bounded and a full socket shows as
    /// `WouldBlock` (after which WRITABLE comes).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.push()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.tls.writer().write(buf)?;
        self.push()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.push()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl Read for CheckConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            CheckConn::Plain(s) => s.read(buf),
            CheckConn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for CheckConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            CheckConn::Plain(s) => s.write(buf),
            CheckConn::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            CheckConn::Plain(s) => s.flush(),
            CheckConn::Tls(t) => t.flush(),
        }
    }
}
