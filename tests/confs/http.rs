//! The HTTP servers of the confs test: check targets answering
//! `option httpchk` (a status for any request, or Patroni's REST API by
//! role), and a TLS one for Kubernetes API servers, which checks reach with
//! `check-ssl` and traffic passes through in TCP mode on the same port: a
//! ClientHello gets TLS, other first bytes the name line and an echo.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::marks::HttpAnswer;
use crate::servers::drain;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Answers one request per connection, then closes (`Connection: close`).
pub(crate) fn plain(answer: HttpAnswer) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        if let Ok(Some(response)) = respond(&mut s, answer)
            && s.write_all(&response).is_ok()
        {
            let _ = s.shutdown(Shutdown::Write);
            drain(&mut s);
        }
    }
}

/// TLS with `answer` for clients that start a handshake; for the others
/// `name` and an echo, as `Backend::named` (a passed-through client).
pub(crate) fn tls_or_echo(
    name: &'static str,
    answer: HttpAnswer,
) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |s: TcpStream| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut first = [0u8; 1];
        match s.peek(&mut first) {
            Ok(1) if first[0] == TLS_HANDSHAKE => {
                let _ = serve_tls(s, answer);
            }
            Ok(1) => echo_named(s, name),
            _ => {}
        }
    }
}

fn echo_named(mut s: TcpStream, name: &str) {
    if s.write_all(format!("{name}\n").as_bytes()).is_err() {
        return;
    }
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

fn serve_tls(mut sock: TcpStream, answer: HttpAnswer) -> io::Result<()> {
    let mut conn = ServerConnection::new(config()).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    if let Some(response) = respond(&mut tls, answer)? {
        tls.write_all(&response)?;
    }
    tls.conn.send_close_notify();
    tls.flush()?;
    sock.shutdown(Shutdown::Write)?;
    drain(&mut sock);
    Ok(())
}

/// One self-signed certificate for every TLS server (checks say `verify
/// none`, as kind, kubeadm and OpenShift's files do).
fn config() -> Arc<ServerConfig> {
    static CONFIG: OnceLock<Arc<ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let cert = rcgen::generate_simple_self_signed(vec!["kubernetes".to_string()]).unwrap();
            let key =
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
            let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
            Arc::new(config)
        })
        .clone()
}

/// Reads one request head and returns the response `answer` gives it;
/// `None` if the client closed first.
fn respond(s: &mut impl Read, answer: HttpAnswer) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf)? {
            0 => return Ok(None),
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let status = status(answer, path);
    let body = if status < 300 { "ok\n" } else { "no\n" };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    Ok(Some(response.into_bytes()))
}

/// The status of a request for `path`: Patroni's REST API answers by the
/// node's role (its "health check endpoints": `/` and `/primary` are 200
/// on the leader only, `/replica` on a running replica only).
fn status(answer: HttpAnswer, path: &str) -> u16 {
    let primary = match answer {
        HttpAnswer::Status(code) => return code,
        HttpAnswer::PatroniPrimary => true,
        HttpAnswer::PatroniReplica => false,
    };
    let path = path.split('?').next().unwrap_or(path);
    let for_primary = match path {
        "/" | "/primary" | "/master" | "/leader" | "/read-write" => Some(true),
        "/replica" | "/standby" => Some(false),
        _ => None,
    };
    match for_primary {
        Some(want) if want != primary => 503,
        _ => 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patroni_answers_by_role() {
        let (p, r) = (HttpAnswer::PatroniPrimary, HttpAnswer::PatroniReplica);
        assert_eq!(status(p, "/primary"), 200);
        assert_eq!(status(r, "/primary"), 503);
        assert_eq!(status(p, "/replica"), 503);
        assert_eq!(status(r, "/replica"), 200);
        assert_eq!(status(r, "/"), 503);
        assert_eq!(status(r, "/health"), 200);
        assert_eq!(status(HttpAnswer::Status(500), "/readyz"), 500);
    }
}
