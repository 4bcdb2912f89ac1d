//! The first bytes a route's client sends when its `l4lb-route` mark names
//! an opening (tests/confs/README.md): a real TLS ClientHello, made by
//! rustls as a TLS client would send it (with or without a server name),
//! or an SSH client's identification line. The proxy's content rules route
//! on them; the test's echo servers send them back.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::marks::Opening;

/// What the client writes first (empty for [`Opening::Nothing`]).
pub(crate) fn bytes(opening: &Opening) -> Vec<u8> {
    match opening {
        Opening::Nothing => Vec::new(),
        Opening::TlsHello(sni) => client_hello(sni.as_deref()),
        // RFC 4253 4.2: the client may send its line without waiting for
        // the server's, and OpenSSH does.
        Opening::SshBanner => b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec(),
    }
}

/// The ClientHello record(s) rustls writes to open a connection to `sni`
/// (no server_name extension for `None`: rustls sends none for an IP
/// address, as browsers do). The handshake never goes further: only the
/// bytes are wanted, so no certificate is ever verified.
fn client_hello(sni: Option<&str>) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_string()).expect("a DNS name"),
        None => ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into()),
    };
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server_name extension's host name, read the way a proxy's SNI
    /// fetch does (record, handshake, hello, extensions).
    fn sni_of(hello: &[u8]) -> Option<String> {
        assert_eq!(&hello[..2], [0x16, 0x03], "a TLS handshake record");
        assert_eq!(hello[5], 1, "a ClientHello");
        let body = &hello[9..];
        let mut at = 2 + 32; // version, random
        at += 1 + usize::from(body[at]); // session id
        at += 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]])); // suites
        at += 1 + usize::from(body[at]); // compression
        let end = at + 2 + usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
        at += 2;
        while at < end {
            let kind = u16::from_be_bytes([body[at], body[at + 1]]);
            let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
            if kind == 0 {
                let name = &body[at + 9..at + 4 + len];
                return Some(String::from_utf8(name.to_vec()).unwrap());
            }
            at += 4 + len;
        }
        None
    }

    #[test]
    fn hellos_carry_the_name_asked_for() {
        let o = |sni: Option<&str>| Opening::TlsHello(sni.map(str::to_string));
        assert_eq!(
            sni_of(&bytes(&o(Some("app1.example.net")))).as_deref(),
            Some("app1.example.net")
        );
        // Sent as written: the files' `-i` and `lower` have work to do.
        assert_eq!(
            sni_of(&bytes(&o(Some("WWW.Shop.Example.COM")))).as_deref(),
            Some("WWW.Shop.Example.COM")
        );
        assert_eq!(sni_of(&bytes(&o(None))), None);
        assert!(bytes(&Opening::SshBanner).starts_with(b"SSH-2.0-"));
        assert!(bytes(&Opening::Nothing).is_empty());
    }
}
