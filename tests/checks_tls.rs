//! Health checks over TLS (`check-ssl` with `verify`, `ca-file`,
//! `check-sni`, `verifyhost`, `check-alpn`; `tcp-check connect ssl`)
//! against fake TLS servers with certificates of their own CA: what passes,
//! what is refused and with which status (L6RSP for a handshake or
//! certificate failure, as HAProxy), and what the ClientHello carried.

mod common;
#[path = "common/tls.rs"]
mod tls;

use common::fakes::*;
use tls::TlsServer;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n";

/// One listen section `name` checking `server` with `extra` on its line.
fn one(name: &str, lines: &str, server: std::net::SocketAddr, extra: &str) -> String {
    listen(name, lines, &[("s", server, extra)]).1
}

#[test]
fn check_ssl_verifies_the_certificate_as_haproxy() {
    let api = TlsServer::answering(0, &["api.example"], OK);
    let other = TlsServer::answering(0, &["api.example"], OK); // another CA
    let ca = api.ca_file.display().to_string();
    let http = "option httpchk GET /readyz";
    let sections = [
        one("none", http, api.addr(), "check-ssl verify none"),
        one(
            "ca",
            http,
            api.addr(),
            &format!("check-ssl ca-file {ca} check-sni api.example"),
        ),
        one(
            "chain",
            http,
            api.addr(),
            &format!("check-ssl ca-file {ca}"),
        ),
        one(
            "host",
            http,
            api.addr(),
            &format!("check-ssl ca-file {ca} verifyhost api.example"),
        ),
        one(
            "name",
            http,
            api.addr(),
            &format!("check-ssl ca-file {ca} check-sni db.example"),
        ),
        one(
            "vhost",
            http,
            api.addr(),
            &format!("check-ssl ca-file {ca} verifyhost db.example"),
        ),
        one(
            "ca2",
            http,
            other.addr(),
            &format!("check-ssl ca-file {ca} check-sni api.example"),
        ),
    ]
    .concat();
    let c = Checked::start(&sections);
    for px in ["none", "ca", "chain", "host"] {
        c.wait_for(px, "s", "UP", &["L7OK"]);
    }
    for px in ["name", "vhost", "ca2"] {
        let row = c.wait_for(px, "s", "DOWN", &["L6RSP"]);
        assert!(
            row.check_desc.starts_with("Layer6 invalid response"),
            "{px}: {row:?}"
        );
    }
    let name = c.row("name", "s");
    assert!(
        name.check_desc.contains("db.example"),
        "the name asked for is said: {name:?}"
    );
    let sni: Vec<Option<String>> = api.hellos().into_iter().map(|h| h.sni).collect();
    assert!(
        sni.contains(&Some("api.example".into())),
        "check-sni is sent: {sni:?}"
    );
    assert!(sni.contains(&None), "no check-sni, no SNI: {sni:?}");
}

#[test]
fn check_alpn_and_the_http_host_reach_the_client_hello() {
    let api = TlsServer::answering(0, &["kubernetes"], OK);
    let sections = [
        one(
            "alpn",
            "option httpchk GET /healthz",
            api.addr(),
            "check-ssl verify none check-alpn h2,http/1.1",
        ),
        one(
            "host",
            "option httpchk GET /readyz HTTP/1.1\nhttp-check send hdr Host kubernetes:6443",
            api.addr(),
            "check-ssl verify none",
        ),
    ]
    .concat();
    let c = Checked::start(&sections);
    c.wait_for("alpn", "s", "UP", &["L7OK"]);
    c.wait_for("host", "s", "UP", &["L7OK"]);
    let hellos = api.hellos();
    assert!(
        hellos.iter().any(|h| h.alpn == ["h2", "http/1.1"]),
        "check-alpn offered: {hellos:?}"
    );
    assert!(
        hellos
            .iter()
            .any(|h| h.sni.as_deref() == Some("kubernetes")),
        "an HTTP check without check-sni sends its Host (port removed) as SNI: {hellos:?}"
    );
}

#[test]
fn a_plain_server_fails_a_tls_check_and_tcp_check_connect_ssl_speaks_tls() {
    let plain = common::Backend::echo();
    let redis = TlsServer::start(0, &["cache.example"], |got| {
        got.starts_with(b"PING").then(|| b"+PONG\r\n".to_vec())
    });
    let sections = [
        one(
            "plain",
            "option httpchk",
            plain.addr(),
            "check-ssl verify none",
        ),
        one(
            "rules",
            "option tcp-check\ntcp-check connect ssl sni cache.example\n\
             tcp-check send PING\\r\\n\ntcp-check expect string +PONG",
            redis.addr(),
            &format!("ca-file {}", redis.ca_file.display()),
        ),
    ]
    .concat();
    let c = Checked::start(&sections);
    c.wait_for("plain", "s", "DOWN", &["L6RSP"]);
    c.wait_for("rules", "s", "UP", &["L7OK"]);
    assert!(
        redis
            .hellos()
            .iter()
            .any(|h| h.sni.as_deref() == Some("cache.example")),
        "the rule's sni: {:?}",
        redis.hellos()
    );
}

/// A check that needs a CA file it cannot read is a conf error, as HAProxy
/// refuses to start; `-c` says so.
#[test]
fn a_verified_check_without_a_usable_ca_file_is_refused_at_load() {
    let dir = common::TempDir::new("tls-conf");
    let empty = dir.0.join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    for (extra, want) in [
        ("check-ssl", "no ca-file is given"),
        (
            &*format!("check-ssl ca-file {}", empty.display()),
            "no PEM certificate",
        ),
    ] {
        let text = format!(
            "defaults\n mode tcp\n timeout client 1s\n timeout server 1s\nlisten l\n bind 127.0.0.1:1\n \
             server s 127.0.0.1:2 check {extra}\n"
        );
        let path = dir.0.join("l4lb.conf");
        std::fs::write(&path, &text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_l4lb"))
            .args(["-c", "-f", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra}: {err}");
        assert!(err.contains(want), "{extra}: {err}");
    }
}
