//! v1 lines: the spec's examples, the length limit, strict syntax.

use std::net::SocketAddr;

use super::super::*;
use super::*;

#[test]
fn v1_spec_examples() {
    let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
    let (h, n) = whole(line);
    assert_eq!(n, 47);
    assert_eq!((h.version, h.command), (Version::V1, Command::Proxy));
    assert_eq!(
        h.addresses,
        Addresses::Inet(sa("192.168.0.1:56324"), sa("192.168.0.11:443"))
    );
    assert_eq!(h.tlvs().count(), 0);
    let (h, n) = whole(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
    assert_eq!(n, 36);
    assert_eq!(
        h.addresses,
        Addresses::Inet(sa("[2001:db8::1]:1"), sa("[::1]:65535"))
    );
    assert_eq!(whole(b"PROXY UNKNOWN\r\n").0.addresses, Addresses::Unknown);
}

/// The spec's worst case is exactly 107 bytes; one more is too long.
#[test]
fn v1_longest_line() {
    let f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let line = format!("PROXY UNKNOWN {f} {f} 65535 65535\r\n");
    assert_eq!(line.len(), V1_MAX_LEN);
    prefixes_incomplete(line.as_bytes());
    assert_eq!(whole(line.as_bytes()), (whole(b"PROXY UNKNOWN\r\n").0, 107));
    let line = format!("PROXY TCP6 {f} {f} 65535 65535\r\n");
    let (h, n) = whole(line.as_bytes());
    assert_eq!(n, 104);
    assert!(matches!(h.addresses, Addresses::Inet(..)));
    let long = format!("PROXY UNKNOWN {f} {f} 65535 655350\r\n");
    assert_eq!(
        refused_at_last_byte(&long.as_bytes()[..106]),
        "v1 line longer than 107 bytes"
    );
}

#[test]
fn v1_bad_lines_refused_at_the_first_bad_byte() {
    for (line, why) in [
        (&b"G"[..], "not a PROXY protocol header"),
        (b"PROXX", "not a PROXY protocol header"),
        (b"PROXY  ", "v1 line: protocol is not TCP4, TCP6 or UNKNOWN"),
        (
            b"PROXY TCP5",
            "v1 line: protocol is not TCP4, TCP6 or UNKNOWN",
        ),
        (b"PROXY t", "v1 line: protocol is not TCP4, TCP6 or UNKNOWN"),
        (b"PROXY TCP4  ", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 1.2.3.256", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 01", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 1..", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 1.2.3.4.", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 1.2.3 ", "v1 line: bad IPv4 address"),
        (b"PROXY TCP4 :", "v1 line: bad IPv4 address"),
        (b"PROXY TCP6 1.2.3.4 ", "v1 line: bad IPv6 address"),
        (b"PROXY TCP6 ::g", "v1 line: bad IPv6 address"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536", "v1 line: bad port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01", "v1 line: bad port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1  ", "v1 line: bad port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 -", "v1 line: bad port"),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
            "v1 line: more than four fields after the protocol",
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1 line: bad port"),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
            "v1 line: CR not followed by LF",
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r", "v1 line: bad port"),
        (b"PROXY TCP4 1.2.3.4\r", "v1 line: bad IPv4 address"),
        (
            b"PROXY \r",
            "v1 line: protocol is not TCP4, TCP6 or UNKNOWN",
        ),
        (
            b"PROXY UNKNOWNX",
            "v1 line: protocol is not TCP4, TCP6 or UNKNOWN",
        ),
    ] {
        assert_eq!(
            refused_at_last_byte(line),
            why,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn v1_unknown_ignores_the_rest_of_its_line() {
    let (h, n) = whole(b"PROXY UNKNOWN whatever\tgoes 1 2\r\nrest");
    assert_eq!((h.addresses, n), (Addresses::Unknown, 33));
}

#[test]
fn v1_round_trips_and_mixed_families_as_haproxy() {
    for (src, dst, text) in [
        (
            "10.0.0.1:1234",
            "10.0.0.2:80",
            "PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n",
        ),
        (
            "[2001:db8::1]:0",
            "[::1]:443",
            "PROXY TCP6 2001:db8::1 ::1 0 443\r\n",
        ),
        (
            "10.0.0.1:5",
            "[::1]:6",
            "PROXY TCP6 ::ffff:10.0.0.1 ::1 5 6\r\n",
        ),
    ] {
        let mut out = b"old".to_vec();
        write_v1(sa(src), sa(dst), &mut out);
        assert_eq!(&out[3..], text.as_bytes());
        prefixes_incomplete(&out[3..]);
        let (h, n) = whole(&out[3..]);
        assert_eq!(n, text.len());
        let mapped = |a: SocketAddr| match a {
            SocketAddr::V4(v4) if text.contains("TCP6") => {
                SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
            }
            a => a,
        };
        assert_eq!(
            h.addresses,
            Addresses::Inet(mapped(sa(src)), mapped(sa(dst)))
        );
    }
    let mut out = Vec::new();
    write_v1_unknown(&mut out);
    assert_eq!(out, b"PROXY UNKNOWN\r\n");
}
