//! SNI routing end to end (issue 13): one frontend in front of backends
//! that write their name then echo, fed real ClientHellos (rustls's, with
//! and without SNI, with ALPN; hand-built 20 KiB ones) with HAProxy's
//! rules: `use_backend` on `req.ssl_sni`, `req.ssl_alpn`, `map_dom`, SSH
//! and TLS on one port, inspect-delay expiry, `tcp-request content reject`,
//! a hello in pieces, a hello bigger than `tune.bufsize`. Every client
//! reads back the echo of all it sent (hello and the bytes after it), so
//! the chosen backend got them byte for byte.

mod common;
#[path = "common/sni.rs"]
mod sni;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use common::*;
use sni::*;

/// HAProxy's idiom: wait (up to 5 s) for a whole ClientHello, then route.
const WAIT_FOR_HELLO: &str = "tcp-request inspect-delay 5s\n\
     tcp-request content accept if { req.ssl_hello_type 1 }";

/// One `Backend::named` server per name (it writes its name, then echoes),
/// and the (backend name, address) list for `routing_conf`.
struct Named {
    servers: Vec<Backend>,
    list: Vec<(&'static str, SocketAddr)>,
}

fn named(names: &[&'static str]) -> Named {
    let servers: Vec<Backend> = names.iter().map(|n| Backend::named(n)).collect();
    let list = names
        .iter()
        .zip(&servers)
        .map(|(n, s)| (*n, s.addr()))
        .collect();
    Named { servers, list }
}

/// Waits for the hello, then a.example to `a`, b.example to `b`, anything
/// else to `default`.
fn by_sni() -> String {
    format!(
        "{WAIT_FOR_HELLO}\n\
         use_backend a if {{ req.ssl_sni -i a.example }}\n\
         use_backend b if {{ req.ssl_sni -i b.example }}\n\
         default_backend default"
    )
}

fn start(global: &str, frontend: &str, backends: &Named) -> (L4lb, u16) {
    let port = free_port();
    let l4 = L4lb::start(&routing_conf(port, global, frontend, &backends.list));
    (l4, port)
}

#[test]
fn use_backend_on_req_ssl_sni_routes_two_names_to_two_backends() {
    let be = named(&["a", "b", "default"]);
    let (_l4, port) = start("", &by_sni(), &be);
    let after = after_hello(1, 3000);
    for (name, want) in [("a.example", "a"), ("b.example", "b"), ("a.example", "a")] {
        let hello = rustls_hello(Some(name), &["h2", "http/1.1"]);
        assert_eq!(route(port, &hello, &after), want, "{name}");
    }
}

#[test]
fn a_hello_without_sni_goes_to_default_backend() {
    let be = named(&["a", "default"]);
    let (_l4, port) = start(
        "",
        &format!(
            "{WAIT_FOR_HELLO}\n\
             use_backend a if {{ req.ssl_sni -m found }}\n\
             default_backend default"
        ),
        &be,
    );
    let hello = rustls_hello(None, &["h2"]);
    assert_eq!(route(port, &hello, b"after the hello"), "default");
    let hello = rustls_hello(Some("a.example"), &["h2"]);
    assert_eq!(route(port, &hello, b"after the hello"), "a");
}

/// The ACME TLS-ALPN-01 challenge (cert-manager, Traefik): hellos offering
/// `acme-tls/1` go to the ACME solver, the rest of the same name to the site.
#[test]
fn use_backend_on_req_ssl_alpn_sends_acme_challenges_aside() {
    let be = named(&["acme", "a", "default"]);
    let (_l4, port) = start(
        "",
        &format!(
            "{WAIT_FOR_HELLO}\n\
             use_backend acme if {{ req.ssl_alpn acme-tls/1 }}\n\
             use_backend a if {{ req.ssl_sni -i a.example }}\n\
             default_backend default"
        ),
        &be,
    );
    let acme = rustls_hello(Some("a.example"), &["acme-tls/1"]);
    assert_eq!(route(port, &acme, b""), "acme");
    let site = rustls_hello(Some("a.example"), &["h2", "http/1.1"]);
    assert_eq!(route(port, &site, b""), "a");
}

#[test]
fn use_backend_from_a_map_dom_of_the_lowered_sni() {
    let be = named(&["be_a", "be_b", "be_default"]);
    let dir = TempDir::new("sni-map");
    let map = dir.0.join("sni.map");
    std::fs::write(
        &map,
        "# name          backend\na.example      be_a\nb.example be_b\n",
    )
    .unwrap();
    let (_l4, port) = start(
        "",
        &format!(
            "{WAIT_FOR_HELLO}\n\
             use_backend %[req.ssl_sni,lower,map_dom({},be_default)]\n\
             default_backend be_default",
            map.display()
        ),
        &be,
    );
    let cases = [
        ("a.example", "be_a"),
        ("B.Example", "be_b"),        // lower first
        ("www.a.example", "be_a"),    // map_dom: a domain and its subdomains
        ("c.example", "be_default"),  // the map's default
        ("xa.example", "be_default"), // not a subdomain of a.example
    ];
    for (name, want) in cases {
        let hello = big_hello(Some(name), 600);
        assert_eq!(route(port, &hello, b"rest"), want, "{name}");
    }
    // No SNI: the expression has no value, so the rule does not apply.
    let hello = rustls_hello(None, &[]);
    assert_eq!(route(port, &hello, b"rest"), "be_default");
}

/// The hello dribbles in: 7-byte TCP segments with pauses, then the same
/// hello cut into three records, each arriving in two pieces. (HAProxy
/// passes the first half only: it finds the SNI only in the first record;
/// l4lb reads a hello over several records, see README.)
#[test]
fn a_hello_in_small_pieces_is_still_routed_by_sni() {
    let be = named(&["a", "b", "default"]);
    let (_l4, port) = start("", &by_sni(), &be);
    let pause = Duration::from_millis(15);
    let hello = rustls_hello(Some("b.example"), &["h2"]);
    let name = route_in_pieces(port, &hello, 7, pause, &after_hello(2, 500));
    assert_eq!(name, "b");

    let handshake = handshake_bytes(&rustls_hello(Some("a.example"), &["h2"]));
    let split = records(&handshake, handshake.len().div_ceil(3));
    let name = route_in_pieces(
        port,
        &split,
        split.len().div_ceil(6),
        pause,
        &after_hello(3, 500),
    );
    assert_eq!(name, "a");
}

/// "SSH and HTTPS on port 443": an SSH client speaks first with its
/// identification line, matched by its bytes; a TLS client on the same
/// port still goes by its SNI.
#[test]
fn an_ssh_client_on_the_tls_port_is_routed_by_req_payload() {
    let be = named(&["ssh", "a", "default"]);
    let (_l4, port) = start(
        "",
        &format!(
            "{WAIT_FOR_HELLO}\n\
             use_backend ssh if {{ req.payload(0,7) -m bin 5353482d322e30 }}\n\
             use_backend a if {{ req.ssl_sni -i a.example }}\n\
             default_backend default"
        ),
        &be,
    );
    let banner = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    assert_eq!(route(port, banner, b"\0\0\x05\xdc\x06\x14kexinit"), "ssh");
    let hello = rustls_hello(Some("a.example"), &["h2"]);
    assert_eq!(route(port, &hello, b"tls"), "a");
}

/// The same with the other usual rule: whatever is not a TLS hello is SSH.
#[test]
fn an_ssh_client_is_routed_by_req_ssl_hello_type_absent() {
    let be = named(&["ssh", "tls"]);
    let (_l4, port) = start(
        "",
        &format!(
            "{WAIT_FOR_HELLO}\n\
             use_backend tls if {{ req.ssl_hello_type 1 }}\n\
             default_backend ssh"
        ),
        &be,
    );
    assert_eq!(route(port, b"SSH-2.0-PuTTY_Release_0.78\r\n", b"x"), "ssh");
    let hello = rustls_hello(None, &[]);
    assert_eq!(route(port, &hello, b"y"), "tls");
}

/// No content rule (only an L4 one, and an inspect-delay that nothing
/// waits for, as in HAProxy): the session does not wait for client bytes,
/// so an SMTP server's banner reaches a client that says nothing, well
/// before the 30 s delay could end.
#[test]
fn a_server_that_speaks_first_gets_its_banner_through_without_content_rules() {
    let smtp = Backend::start(|mut s| {
        if s.write_all(b"220 mx.example ESMTP\r\n").is_ok() {
            let mut buf = [0u8; 512];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let other = Backend::named("other");
    let port = free_port();
    let conf = routing_conf(
        port,
        "",
        "tcp-request inspect-delay 30s\n\
         use_backend smtp if { src 127.0.0.0/8 }\n\
         default_backend other",
        &[("smtp", smtp.addr()), ("other", other.addr())],
    );
    let _l4 = L4lb::start(&conf);
    let mut c = connect(port);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut banner = [0u8; 22];
    c.read_exact(&mut banner)
        .expect("the banner, without the client sending a byte");
    assert_eq!(&banner, b"220 mx.example ESMTP\r\n");
    c.write_all(b"EHLO client\r\n").unwrap();
    let mut echo = [0u8; 13];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"EHLO client\r\n");
}

/// A client that sends nothing waits the inspect delay, then the rules run
/// with what is there (nothing: no SNI) and it goes to the default; one
/// that sent half a hello likewise, and the default gets that half.
#[test]
fn when_the_inspect_delay_ends_the_rules_run_with_what_is_there() {
    let be = named(&["a", "default"]);
    let (_l4, port) = start(
        "",
        "tcp-request inspect-delay 600ms\n\
         tcp-request content accept if { req.ssl_hello_type 1 }\n\
         use_backend a if { req.ssl_sni -i a.example }\n\
         default_backend default",
        &be,
    );
    let began = Instant::now();
    let mut silent = connect(port);
    assert_eq!(read_line(&mut silent).unwrap(), "default");
    assert!(
        began.elapsed() >= Duration::from_millis(600),
        "routed after {:?}, before the delay ended",
        began.elapsed()
    );
    let hello = rustls_hello(Some("a.example"), &[]);
    let half = &hello[..hello.len() / 2];
    let mut c = connect(port);
    c.write_all(half).unwrap();
    assert_eq!(read_back(&mut c, half), "default");
}

/// `tcp-request content reject` closes the client, connects no server,
/// and counts in the frontend's `dreq`; other clients are served.
#[test]
fn tcp_request_content_reject_closes_the_client_and_counts_dreq() {
    let be = named(&["a", "default"]);
    let dir = TempDir::new("sni-reject");
    let sock = dir.0.join("admin.sock");
    let (_l4, port) = start(
        &format!("stats socket {} level admin", sock.display()),
        "tcp-request inspect-delay 5s\n\
         tcp-request content reject if { req.ssl_sni -i evil.example }\n\
         tcp-request content accept if { req.ssl_hello_type 1 }\n\
         use_backend a if { req.ssl_sni -i a.example }\n\
         default_backend default",
        &be,
    );
    let mut c = connect(port);
    c.write_all(&rustls_hello(Some("evil.example"), &["h2"]))
        .unwrap();
    assert!(closed_by_peer(&mut c), "the rejected client got an answer");
    let hello = rustls_hello(Some("a.example"), &["h2"]);
    assert_eq!(route(port, &hello, b"fine"), "a");
    let total: usize = be.servers.iter().map(|s| s.counts.total.load(SeqCst)).sum();
    assert_eq!(total, 1, "only the accepted client reached a server");
    assert!(
        wait_until(Duration::from_secs(5), || show_stat(
            &sock, "fe", "FRONTEND", "dreq"
        ) == "1"),
        "{}",
        api_command(&sock, "show stat")
    );
}

/// A 20 KiB ClientHello (two records: a post-quantum key share and
/// padding) is routed by its SNI when `tune.bufsize` holds it; when it
/// does not, the full buffer ends the wait (as HAProxy: the rules run on
/// what fits) and the client goes to the default, hello and all, instead
/// of hanging until the inspect delay.
#[test]
fn a_20k_hello_is_routed_when_tune_bufsize_holds_it_and_defaulted_when_not() {
    let hello = big_hello(Some("b.example"), 20 * 1024);
    assert!(hello.len() > MAX_RECORD + 5, "two records");
    let after = after_hello(4, 5000);
    let frontend = "tcp-request inspect-delay 30s\n\
         tcp-request content accept if { req.ssl_hello_type 1 }\n\
         use_backend b if { req.ssl_sni -i b.example }\n\
         default_backend default";
    let be = named(&["b", "default"]);
    let (_big, port) = start("tune.bufsize 32768", frontend, &be);
    assert_eq!(route(port, &hello, &after), "b");

    let (_small, port) = start("tune.bufsize 16384", frontend, &be);
    let mut c = connect(port);
    // Shorter than the inspect delay: the full buffer must decide.
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    c.write_all(&hello).unwrap();
    c.write_all(&after).unwrap();
    assert_eq!(read_back(&mut c, &[&hello[..], &after].concat()), "default");
}

/// The test's own hellos are what they claim to be (read with l4lb's
/// ClientHello reader): so a misrouting above is the router's fault.
#[test]
fn the_test_hellos_are_whole_client_hellos_with_their_sni() {
    use l4lb::wire::client_hello::{Hello, inspect};
    let handshake = handshake_bytes(&rustls_hello(Some("a.example"), &["h2"]));
    let cases = [
        (rustls_hello(Some("a.example"), &["h2"]), Some("a.example")),
        (rustls_hello(None, &["h2"]), None),
        (
            records(&handshake, handshake.len().div_ceil(3)),
            Some("a.example"),
        ),
        (big_hello(Some("B.Example"), 600), Some("B.Example")),
        (big_hello(Some("b.example"), 20 * 1024), Some("b.example")),
    ];
    for (bytes, sni) in &cases {
        let Hello::ClientHello(info) = inspect(bytes) else {
            panic!("not a whole ClientHello: {:?}", inspect(bytes))
        };
        assert_eq!(info.sni_str(), *sni);
        let Hello::Incomplete = inspect(&bytes[..bytes.len() - 1]) else {
            panic!("a hello one byte short is not Incomplete")
        };
    }
    assert_eq!(inspect(b"SSH-2.0-x\r\n"), Hello::NotTls);
}

/// A ClientHello in two records, its last bytes late: `req.ssl_hello_type`
/// (HAProxy reads it from the first record's header) must not accept it
/// before the hello is whole, or the SNI rule right after finds nothing.
#[test]
fn a_hello_in_two_records_is_not_accepted_before_its_last_bytes() {
    let be = named(&["a", "b", "default"]);
    let (_l4, port) = start("", &by_sni(), &be);
    let handshake = handshake_bytes(&rustls_hello(Some("a.example"), &["h2"]));
    let split = records(&handshake, handshake.len().div_ceil(2));
    let mut c = connect(port);
    let (head, tail) = split.split_at(split.len() - 4);
    c.write_all(head).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    c.write_all(tail).unwrap();
    assert_eq!(read_back(&mut c, &split), "a");
}
