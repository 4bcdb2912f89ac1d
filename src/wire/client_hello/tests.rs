//! `inspect` on real ClientHellos (openssl s_client, rustls), hellos built
//! here to put each length wrong, split over records, fed a byte at a time.

use super::*;

#[path = "fixtures.rs"]
mod fixtures;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn info(buf: &[u8]) -> Info<'_> {
    match inspect(buf) {
        Hello::ClientHello(info) => info,
        other => panic!("not a ClientHello: {other:?}"),
    }
}

fn alpn(info: &Info<'_>) -> Vec<String> {
    info.alpn
        .into_iter()
        .flatten()
        .map(|p| String::from_utf8(p.bytes().to_vec()).unwrap())
        .collect()
}

/// Every strict prefix of a hello is `Incomplete`; the whole is the hello.
fn assert_prefixes_incomplete(buf: &[u8]) {
    for n in 0..buf.len() {
        assert_eq!(
            inspect(&buf[..n]),
            Hello::Incomplete,
            "prefix {n} of {}",
            buf.len()
        );
    }
}

/// The handshake message (4-byte header and body) of a ClientHello with
/// these extensions.
fn hello_msg(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.push(0); // session id
    body.extend([0, 4, 0x13, 0x01, 0x13, 0x02]);
    body.extend([1, 0]);
    let mut block = Vec::new();
    for (kind, data) in exts {
        block.extend(kind.to_be_bytes());
        block.extend((data.len() as u16).to_be_bytes());
        block.extend(data);
    }
    body.extend((block.len() as u16).to_be_bytes());
    body.extend(block);
    let mut msg = vec![1];
    msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend(body);
    msg
}

/// `msg` in handshake records of at most `size` bytes each.
fn records(msg: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in msg.chunks(size) {
        out.extend([0x16, 3, 1]);
        out.extend((chunk.len() as u16).to_be_bytes());
        out.extend(chunk);
    }
    out
}

/// A server_name extension's data holding these (type, name) entries.
fn sni_ext(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, name) in entries {
        list.push(*kind);
        list.extend((name.len() as u16).to_be_bytes());
        list.extend(*name);
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend(list);
    data
}

fn alpn_ext(names: &[&str]) -> Vec<u8> {
    let mut list = Vec::new();
    for n in names {
        list.push(n.len() as u8);
        list.extend(n.as_bytes());
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend(list);
    data
}

#[test]
fn openssl_tls13_hello_with_sni() {
    let buf = unhex(fixtures::TLS13_SNI);
    let info = info(&buf);
    assert_eq!(info.hello_type, 1);
    assert_eq!(info.version, 0x30003);
    assert_eq!(info.record_version, 0x30001);
    assert_eq!(info.sni_str(), Some("www.example.com"));
    assert!(info.ec_ext);
    assert!(info.alpn.is_none());
    assert!(!info.sslv2);
    assert_prefixes_incomplete(&buf);
}

#[test]
fn openssl_hello_without_sni() {
    let buf = unhex(fixtures::NO_SNI);
    let info = info(&buf);
    assert_eq!(info.sni, None);
    assert!(info.ec_ext);
    assert_prefixes_incomplete(&buf);
}

#[test]
fn openssl_hello_with_alpn() {
    let buf = unhex(fixtures::ALPN);
    let info = info(&buf);
    assert_eq!(info.sni_str(), Some("api.example.org"));
    assert_eq!(alpn(&info), ["h2", "http/1.1"]);
    assert_prefixes_incomplete(&buf);
}

#[test]
fn openssl_tls12_hello() {
    let buf = unhex(fixtures::TLS12);
    let info = info(&buf);
    assert_eq!(info.version, 0x30003);
    assert_eq!(info.sni_str(), Some("legacy.example.net"));
    assert_prefixes_incomplete(&buf);
}

/// What rustls (l4lb's own TLS client, for checks) sends first.
fn rustls_hello(name: &str, alpn: &[&str]) -> Vec<u8> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

#[test]
fn rustls_hello_with_sni_and_alpn() {
    let buf = rustls_hello("Rustls.Example.com", &["h2", "http/1.1"]);
    let info = info(&buf);
    assert_eq!(
        info.sni_str().map(str::to_ascii_lowercase).as_deref(),
        Some("rustls.example.com")
    );
    assert_eq!(alpn(&info), ["h2", "http/1.1"]);
    assert!(info.ec_ext);
    assert_prefixes_incomplete(&buf);
}

#[test]
fn rustls_hello_to_an_ip_address_has_no_sni() {
    let buf = rustls_hello("192.0.2.7", &[]);
    let info = info(&buf);
    assert_eq!(info.sni, None);
    assert!(info.alpn.is_none());
}

#[test]
fn bytes_after_the_hello_change_nothing() {
    let mut buf = unhex(fixtures::ALPN);
    buf.extend(b"\x17\x03\x03garbage that follows");
    assert_eq!(info(&buf).sni_str(), Some("api.example.org"));
}

/// The openssl hello's handshake message, out of its record.
fn fixture_msg(hex: &str) -> Vec<u8> {
    unhex(hex)[5..].to_vec()
}

#[test]
fn a_hello_split_over_records_of_every_small_size() {
    let msg = fixture_msg(fixtures::ALPN);
    for size in 1..=64 {
        let buf = records(&msg, size);
        let info = info(&buf);
        assert_eq!(info.sni_str(), Some("api.example.org"), "records of {size}");
        assert_eq!(alpn(&info), ["h2", "http/1.1"], "records of {size}");
        assert!(info.ec_ext);
    }
    assert_prefixes_incomplete(&records(&msg, 7));
}

/// A ClientHello over 16 KiB, as post-quantum key shares make them: a padding
/// extension (21) makes it 17 KiB, over two records.
fn large_hello() -> Vec<u8> {
    let msg = hello_msg(&[
        (21, vec![0; 17 * 1024]),
        (0, sni_ext(&[(0, b"pq.example.com")])),
        (16, alpn_ext(&["h2"])),
    ]);
    records(&msg, 1 << 14)
}

#[test]
fn a_hello_over_16k_in_two_records() {
    let buf = large_hello();
    assert!(buf.len() > 16 * 1024 + 10);
    // The second record's header, after the first's 2^14 bytes.
    assert_eq!(buf[5 + (1 << 14)..][..3], [0x16, 3, 1]);
    let info = info(&buf);
    assert_eq!(info.sni_str(), Some("pq.example.com"));
    assert_eq!(alpn(&info), ["h2"]);
    assert!(!info.ec_ext);
}

#[test]
fn a_hello_over_16k_fed_a_byte_at_a_time() {
    let buf = large_hello();
    assert_prefixes_incomplete(&buf);
    assert_eq!(info(&buf).sni_str(), Some("pq.example.com"));
}

#[test]
fn an_sni_split_by_a_record_boundary_is_copied() {
    let msg = hello_msg(&[(0, sni_ext(&[(0, b"split.example.com")]))]);
    // The name starts 9 bytes before the message's end... plus the 4 bytes
    // of its own header: cut in its middle.
    let cut = msg.len() - 8;
    let mut buf = records(&msg[..cut], cut);
    buf.extend(records(&msg[cut..], 64));
    let info = info(&buf);
    assert!(matches!(info.sni, Some(Piece::Inline(..))));
    assert_eq!(info.sni_str(), Some("split.example.com"));
}

#[test]
fn plain_text_is_not_tls_early() {
    assert_eq!(inspect(b""), Hello::Incomplete);
    assert_eq!(inspect(b"SSH"), Hello::Incomplete);
    assert_eq!(inspect(b"SSH-"), Hello::NotTls);
    assert_eq!(inspect(b"SSH-2.0-OpenSSH_9.2p1\r\n"), Hello::NotTls);
    assert_eq!(inspect(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Hello::NotTls);
    assert_eq!(inspect(b"\x15\x03\x03\x00\x02\x02\x28"), Hello::NotTls);
    assert_eq!(inspect(b"\x17"), Hello::NotTls);
    assert_eq!(inspect(&[0xff; 40]), Hello::NotTls);
}

#[test]
fn a_bad_record_header_is_not_tls() {
    let good = unhex(fixtures::TLS13_SNI);
    let mut v2 = good.clone();
    v2[1] = 2;
    assert_eq!(inspect(&v2[..2]), Hello::NotTls);
    let mut empty = good.clone();
    empty[3..5].copy_from_slice(&[0, 0]);
    assert_eq!(inspect(&empty), Hello::NotTls);
    let mut huge = good.clone();
    huge[3..5].copy_from_slice(&[0x48, 0x01]);
    assert_eq!(inspect(&huge), Hello::NotTls);
    // A second record that is not a handshake record.
    let msg = fixture_msg(fixtures::TLS13_SNI);
    let mut split = records(&msg, 100);
    split[105] = 0x17;
    assert_eq!(inspect(&split[..106]), Hello::NotTls);
}

#[test]
fn other_handshake_messages_are_told_apart() {
    // A ServerHello (type 2) in the request: req.ssl_hello_type is 2.
    let mut msg = fixture_msg(fixtures::TLS12);
    msg[0] = 2;
    let buf = records(&msg, 1 << 14);
    assert_eq!(
        inspect(&buf),
        Hello::Handshake {
            msg_type: 2,
            version: 0x30003
        }
    );
    assert_eq!(inspect(&buf[..10]), Hello::Incomplete);
}

/// `msg` with the byte at `at` set to `value`, in one record.
fn patched(msg: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    m[at..at + value.len()].copy_from_slice(value);
    records(&m, 1 << 14)
}

#[test]
fn a_wrong_length_at_each_level_is_not_tls() {
    let msg = hello_msg(&[(0, sni_ext(&[(0, b"a.example")])), (10, vec![0, 2, 0, 29])]);
    assert_eq!(info(&records(&msg, 1 << 14)).sni_str(), Some("a.example"));
    // Offsets: 0 type, 1..4 length, 4..6 version, 6..38 random, 38 session
    // id length, 39..41 suites length, 45 methods length, 47..49 extensions.
    let bad = [
        (4, vec![2, 0]),        // version 2.0 in a TLS record
        (38, vec![33]),         // session id over 32
        (39, vec![0, 3]),       // odd cipher suites length
        (39, vec![0, 0]),       // no cipher suite
        (45, vec![0]),          // no compression method
        (47, vec![0x00, 0xff]), // extension block past the hello
        (51, vec![0x00, 0xff]), // first extension past its block
    ];
    for (at, value) in bad {
        assert_eq!(
            inspect(&patched(&msg, at, &value)),
            Hello::NotTls,
            "byte {at} = {value:?}"
        );
    }
    // A handshake length shorter than its content cuts the extensions.
    assert_eq!(inspect(&patched(&msg, 1, &[0, 0, 60])), Hello::NotTls);
    // So does a longer one: the extension block must end the hello.
    assert_eq!(inspect(&patched(&msg, 1, &[0, 1, 0])), Hello::NotTls);
    // An extension block shorter than the rest of the hello.
    assert_eq!(inspect(&patched(&msg, 47, &[0, 4])), Hello::NotTls);
}

fn sni_of(data: Vec<u8>) -> Option<String> {
    let buf = records(&hello_msg(&[(0, data)]), 1 << 14);
    info(&buf).sni_str().map(str::to_string)
}

#[test]
fn sni_cases() {
    assert_eq!(sni_of(sni_ext(&[(0, b"")])), None);
    assert_eq!(
        sni_of(sni_ext(&[(0, b"one.example"), (0, b"two.example")])).as_deref(),
        Some("one.example")
    );
    assert_eq!(
        sni_of(sni_ext(&[(1, b"xx"), (0, b"host.example")])).as_deref(),
        Some("host.example")
    );
    assert_eq!(sni_of(sni_ext(&[(1, b"host.example")])), None);
    assert_eq!(sni_of(sni_ext(&[(0, b"bad name.example")])), None);
    assert_eq!(sni_of(sni_ext(&[(0, b"trailing.dot.")])), None);
    assert_eq!(sni_of(sni_ext(&[(0, b"a..b")])), None);
    assert_eq!(sni_of(sni_ext(&[(0, &[b'a'; 64])])), None);
    assert_eq!(
        sni_of(sni_ext(&[(0, b"xn--bcher-kva.example_internal")])).as_deref(),
        Some("xn--bcher-kva.example_internal")
    );
    let long = [b"a".repeat(63).as_slice(); 4].join(&b'.');
    assert_eq!(sni_of(sni_ext(&[(0, &long)])), None); // 255 bytes
    // Malformed server_name data: only the SNI is lost.
    assert_eq!(sni_of(vec![]), None);
    assert_eq!(sni_of(vec![0, 9, 0, 0, 1, b'a']), None);
    assert_eq!(sni_of(vec![0, 4, 0, 0, 9, b'a']), None);
    assert_eq!(sni_of(vec![0, 0]), None);
}

#[test]
fn the_first_server_name_extension_counts() {
    let msg = hello_msg(&[
        (0, sni_ext(&[(0, b"first.example")])),
        (0, sni_ext(&[(0, b"second.example")])),
    ]);
    assert_eq!(
        info(&records(&msg, 1 << 14)).sni_str(),
        Some("first.example")
    );
}

#[test]
fn malformed_alpn_is_left_out() {
    for data in [
        vec![],
        vec![0, 0],
        vec![0, 3, 0, b'a', b'b'],
        vec![0, 3, 5, b'a', b'b'],
        vec![0, 9, 1, b'a'],
    ] {
        let buf = records(
            &hello_msg(&[(16, data.clone()), (0, sni_ext(&[(0, b"x.example")]))]),
            1 << 14,
        );
        let info = info(&buf);
        assert!(info.alpn.is_none(), "{data:?}");
        assert_eq!(info.sni_str(), Some("x.example"));
    }
}

#[test]
fn a_hello_without_extensions() {
    let mut msg = hello_msg(&[]);
    msg.truncate(msg.len() - 2);
    msg[3] -= 2;
    let buf = records(&msg, 1 << 14);
    let info = info(&buf);
    assert_eq!(info.sni, None);
    assert!(!info.ec_ext);
}

/// An SSLv2-compatible CLIENT-HELLO offering TLS 1.0 (RFC 5246 E.2).
fn sslv2_hello() -> Vec<u8> {
    let mut body = vec![1, 3, 1, 0, 9, 0, 0, 0, 16];
    body.extend([0, 0, 0x2f, 0, 0, 0x35, 0, 0, 0xff]);
    body.extend([0x5a; 16]);
    let mut buf = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
    buf.extend(body);
    buf
}

#[test]
fn an_sslv2_compatible_hello() {
    let buf = sslv2_hello();
    let info = info(&buf);
    assert!(info.sslv2);
    assert_eq!(info.version, 0x30001);
    assert_eq!(info.sni, None);
    assert_prefixes_incomplete(&buf);
    let mut bad = buf.clone();
    bad[2] = 4; // not a CLIENT-HELLO
    assert_eq!(inspect(&bad[..3]), Hello::NotTls);
    let mut bad = buf.clone();
    bad[1] += 1; // record length off by one
    assert_eq!(inspect(&bad), Hello::NotTls);
}

/// Garbage and mutations: no panic, and a prefix never decides otherwise
/// than the whole (a decision, once made, stands).
#[test]
fn mutations_are_monotonic() {
    let bases = [
        unhex(fixtures::ALPN),
        records(&fixture_msg(fixtures::TLS13_SNI), 50),
        sslv2_hello(),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in &bases {
        for _ in 0..300 {
            let mut buf = base.clone();
            for _ in 0..=next() % 3 {
                let at = (next() as usize) % buf.len();
                buf[at] = next() as u8;
            }
            let whole = inspect(&buf);
            let mut decided = None;
            for n in 0..=buf.len() {
                let h = inspect(&buf[..n]);
                if let Some(d) = &decided {
                    assert_eq!(&h, d, "prefix {n} of {buf:02x?}");
                } else if h != Hello::Incomplete {
                    decided = Some(h);
                }
            }
            if let Some(d) = decided {
                assert_eq!(d, whole);
            }
        }
    }
}
