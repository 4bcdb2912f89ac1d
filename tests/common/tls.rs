//! A fake TLS server for check tests: a fresh CA and a leaf certificate
//! for the names asked for, the CA written as PEM to a file (for
//! `ca-file`), a listener on 127.0.0.1 that completes each handshake and
//! answers; it records the SNI and ALPN list each client offered.
//!
//! Included next to `mod common;` with `#[path = "common/tls.rs"] mod tls;`
//! (and by l4lb's own unit tests in src/health/tls/tests.rs): it uses
//! nothing but std, rustls and rcgen. Dropping it stops the listener and
//! joins its threads.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};

/// What a client offered in its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hello {
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Vec<String>,
}

/// Decides the answer from what the client sent so far (called first with
/// nothing, right after the handshake, then after each read): None to
/// wait for more.
pub(crate) type Respond = dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync;

/// A running fake TLS server.
pub(crate) struct TlsServer {
    pub(crate) port: u16,
    /// The CA's certificate, PEM: trust it with `ca-file`.
    pub(crate) ca_file: PathBuf,
    hellos: Arc<Mutex<Vec<Hello>>>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    dir: PathBuf,
}

impl TlsServer {
    /// Answers `answer` once the client has sent anything (a request).
    pub(crate) fn answering(port: u16, names: &[&str], answer: &[u8]) -> TlsServer {
        let answer = answer.to_vec();
        TlsServer::start(port, names, move |got| {
            (!got.is_empty()).then(|| answer.clone())
        })
    }

    /// Sends `banner` right after the handshake (a server that speaks first).
    pub(crate) fn banner(port: u16, names: &[&str], banner: &[u8]) -> TlsServer {
        let banner = banner.to_vec();
        TlsServer::start(port, names, move |_| Some(banner.clone()))
    }

    /// Listens on 127.0.0.1:`port` (0: any free port), with a certificate
    /// for `names` (DNS names; the first is also the subject's CN) signed
    /// by a CA of its own. Each connection: handshake, `respond` until it
    /// answers, the answer, close_notify, then the client's rest is read
    /// (so closing never resets the answer away).
    pub(crate) fn start(
        port: u16,
        names: &[&str],
        respond: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> TlsServer {
        let dir = temp_dir();
        let (ca_pem, certified) = certificates(names);
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write the CA file");
        let hellos = Arc::new(Mutex::new(Vec::new()));
        let resolver = Arc::new(Recorder {
            key: Arc::new(certified),
            hellos: hellos.clone(),
        });
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_cert_resolver(resolver);
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the TLS server");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let (stop, conns) = (stop.clone(), conns.clone());
            let (config, respond) = (Arc::new(config), Arc::new(respond) as Arc<Respond>);
            std::thread::spawn(move || {
                for sock in listener.incoming() {
                    if stop.load(SeqCst) {
                        break;
                    }
                    let Ok(sock) = sock else { continue };
                    let (config, respond) = (config.clone(), respond.clone());
                    let t = std::thread::spawn(move || {
                        let _ = serve(sock, config, &*respond);
                    });
                    conns.lock().unwrap().push(t);
                }
            })
        };
        TlsServer {
            port,
            ca_file,
            hellos,
            stop,
            accept_thread: Some(accept_thread),
            conns,
            dir,
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What each client offered, in the order they came.
    pub(crate) fn hellos(&self) -> Vec<Hello> {
        self.hellos.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = TcpStream::connect(self.addr());
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        for t in self.conns.lock().unwrap().drain(..) {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One connection, blocking with timeouts so its thread always ends.
fn serve(mut sock: TcpStream, config: Arc<ServerConfig>, respond: &Respond) -> io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    sock.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut conn = ServerConnection::new(config).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let mut got = Vec::new();
    let answer = loop {
        if let Some(answer) = respond(&got) {
            break answer;
        }
        let mut buf = [0u8; 4096];
        match tls.read(&mut buf)? {
            0 => return Ok(()),
            n => got.extend_from_slice(&buf[..n]),
        }
    };
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()?;
    sock.shutdown(Shutdown::Write)?;
    // Read what the client still sends until it closes.
    let mut sink = [0u8; 4096];
    while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// A CA (its PEM) and a leaf for `names` signed by it, with its key.
fn certificates(names: &[&str]) -> (String, CertifiedKey) {
    // Each server's CA has a name of its own: a client given another
    // server's CA then finds no issuer (rather than a bad signature).
    static N: AtomicUsize = AtomicUsize::new(0);
    let ca_name = format!("l4lb test CA {}", N.fetch_add(1, SeqCst));
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = rcgen::CertificateParams::new(names.clone()).unwrap();
    if let Some(first) = names.first() {
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
    (ca_cert.pem(), CertifiedKey::new(chain, signer))
}

/// Serves the one certificate, noting each ClientHello's SNI and ALPN.
#[derive(Debug)]
struct Recorder {
    key: Arc<CertifiedKey>,
    hellos: Arc<Mutex<Vec<Hello>>>,
}

impl ResolvesServerCert for Recorder {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let alpn = hello
            .alpn()
            .map(|list| {
                list.map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        self.hellos.lock().unwrap().push(Hello {
            sni: hello.server_name().map(str::to_string),
            alpn,
        });
        Some(self.key.clone())
    }
}

/// A private directory for the CA file, removed on drop of the server.
fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "l4lb-tls-{}-{}",
        std::process::id(),
        N.fetch_add(1, SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("make the TLS server's directory");
    dir
}
