//! TLS for health checks (`check-ssl`, `tcp-check connect ssl`): the
//! client configuration a server's `verify`, `ca-file`, `verifyhost` and
//! `check-alpn` ask for, with HAProxy's certificate checks. The data path
//! never speaks TLS; only checks do, through rustls with the ring provider.
//!
//! What `verify required` checks, as HAProxy's `ssl_sock_srv_verifycbk`:
//! the chain must lead to a CA of `ca-file` (and be valid now); the leaf's
//! names must match the SNI sent, or, when none is sent, `verifyhost`; with
//! neither, the names are not looked at (chain only). `verify none` takes
//! any certificate, but the handshake's signatures are still checked, so a
//! server that cannot sign with its certificate's key still fails.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore};

use crate::config::{CaFile, CheckTls};

mod names;
#[cfg(test)]
mod tests;

/// `@system-ca` without `SSL_CERT_DIR`: Debian's bundle of the system's
/// trusted CAs (package ca-certificates).
pub(crate) const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The rustls configuration for a server's TLS checks, offering `alpn`
/// (the server's `check-alpn`, or a `tcp-check connect alpn` list).
///
/// Errors (for `l4lb -c` at load time): `verify required` with no
/// `ca-file`, a CA file or directory that is missing, unreadable, not PEM
/// or holds no certificate, a `check-sni` that is no host name.
pub(crate) fn client_config(tls: &CheckTls, alpn: &[String]) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match (tls.verify, &tls.ca_file) {
        (false, _) => None,
        (true, Some(ca)) => Some(load_roots(ca)?),
        (true, None) => {
            return Err(
                "verify is required (HAProxy's default) but no ca-file is set: \
                 give 'ca-file FILE' (or '@system-ca'), or 'verify none' to accept \
                 any certificate"
                    .into(),
            );
        }
    };
    server_name(tls.sni.as_deref())?;
    let verifier = Verifier {
        roots,
        verifyhost: tls.verifyhost.clone(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // Every check does a full handshake, so every check verifies the
    // certificate the server shows now (a resumed session would not).
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// What rustls is told it connects to: the SNI, or without one an IP
/// address (rustls then sends no SNI, and [`Verifier`] knows no name was
/// sent). An IP address given as `check-sni` is sent as no SNI too: RFC
/// 6066 has no place for one.
pub(crate) fn server_name(sni: Option<&str>) -> Result<ServerName<'static>, String> {
    match sni {
        None => Ok(ServerName::IpAddress(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED).into(),
        )),
        Some(name) => ServerName::try_from(name.to_string())
            .map_err(|_| format!("check-sni {name:?} is not a host name")),
    }
}

/// The trusted CAs: a PEM file of one or more, a directory of them
/// (HAProxy: its `.pem`, `.crt` and `.cer` files, dot files left out), or
/// the system's (`SSL_CERT_DIR` if set, as HAProxy, else [`SYSTEM_BUNDLE`]).
fn load_roots(ca: &CaFile) -> Result<Roots, String> {
    let path = match ca {
        CaFile::Path(p) => p.clone(),
        CaFile::System => match std::env::var_os("SSL_CERT_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(SYSTEM_BUNDLE),
        },
    };
    let files = if path.is_dir() {
        ca_dir_files(&path)?
    } else {
        vec![path.clone()]
    };
    let mut roots = RootCertStore::empty();
    let mut certs = Vec::new();
    for file in &files {
        for der in CertificateDer::pem_file_iter(file).map_err(|e| ca_error(file, &e))? {
            let der = der.map_err(|e| ca_error(file, &e))?;
            certs.push(der.clone());
            roots
                .add(der)
                .map_err(|e| format!("ca-file {}: bad CA certificate: {e}", file.display()))?;
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "ca-file {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(Roots {
        store: Arc::new(roots),
        certs,
    })
}

/// The trusted certificates of a `ca-file`: as trust anchors, and as they
/// are, since a server showing one of them itself (a self-signed
/// certificate put in `ca-file`) is trusted too, as OpenSSL (so HAProxy)
/// does.
struct Roots {
    store: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
}

fn ca_dir_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("ca-file {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            !name.starts_with('.') && ["pem", "crt", "cer"].contains(&ext) && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

fn ca_error(file: &Path, e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match e {
        Pem::Io(e) => format!("ca-file {}: {e}", file.display()),
        e => format!("ca-file {}: bad PEM: {e:?}", file.display()),
    }
}

/// HAProxy's server certificate checks (see the module doc).
struct Verifier {
    /// The trusted CAs; None for `verify none`.
    roots: Option<Roots>,
    verifyhost: Option<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("verify", &self.roots.is_some())
            .field("verifyhost", &self.verifyhost)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        if !roots.certs.iter().any(|c| c == end_entity) {
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                &roots.store,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        let (expected, from) = match server_name {
            ServerName::DnsName(sni) => (Some(sni.as_ref()), "the SNI"),
            _ => (self.verifyhost.as_deref(), "verifyhost"),
        };
        match expected {
            Some(host) if !names::cert_matches(end_entity, host) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(NameMismatch {
                        expected: format!("{host} ({from})"),
                        presented: names::cert_names(end_entity),
                    })),
                )))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The certificate's names do not include the expected one. Debug too
/// reads as the message: rustls shows its `Other` errors with Debug.
struct NameMismatch {
    expected: String,
    presented: Vec<Vec<u8>>,
}

impl fmt::Display for NameMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self
            .presented
            .iter()
            .map(|n| String::from_utf8_lossy(n))
            .collect();
        names.dedup();
        write!(
            f,
            "the certificate's names {names:?} do not match {}",
            self.expected
        )
    }
}

impl fmt::Debug for NameMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for NameMismatch {}
