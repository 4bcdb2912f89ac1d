//! v2 headers: every family, TLVs, CRC32C, lengths, the size cap.

use super::super::*;
use super::*;

#[test]
fn v2_every_family() {
    let (s4, d4) = (sa("192.0.2.1:40000"), sa("198.51.100.2:443"));
    let (s6, d6) = (sa("[2001:db8::7]:1"), sa("[2001:db8::8]:2"));
    for (cmd, a, len) in [
        (Command::Proxy, Addresses::Inet(s4, d4), 16 + 12),
        (Command::Proxy, Addresses::Inet(s6, d6), 16 + 36),
        (
            Command::Proxy,
            Addresses::Unix(b"/run/a.sock", b"\0abstract"),
            16 + 216,
        ),
        (Command::Proxy, Addresses::Unknown, 16),
        (Command::Local, Addresses::Unknown, 16),
    ] {
        let mut buf = v2(cmd, a, &[], false);
        assert_eq!(buf.len(), len);
        buf.extend_from_slice(b"payload");
        prefixes_incomplete(&buf[..len]);
        let (h, n) = whole(&buf);
        assert_eq!(
            (h.version, h.command, h.addresses, n),
            (Version::V2, cmd, a, len)
        );
    }
}

/// The spec's layout, byte by byte: a TCP4 PROXY header.
#[test]
fn v2_bytes_on_the_wire() {
    let buf = v2(
        Command::Proxy,
        Addresses::Inet(sa("1.2.3.4:258"), sa("5.6.7.8:772")),
        &[(tlv::NOOP, b"")],
        false,
    );
    let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    want.extend_from_slice(&[
        0x21, 0x11, 0, 15, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 4, 0, 0,
    ]);
    assert_eq!(buf, want);
}

#[test]
fn v2_mixed_families_written_v4_mapped() {
    let buf = v2(
        Command::Proxy,
        Addresses::Inet(sa("1.2.3.4:1"), sa("[::1]:2")),
        &[],
        false,
    );
    assert_eq!(buf[13], 0x21);
    assert_eq!(
        whole(&buf).0.addresses,
        Addresses::Inet(sa("[::ffff:1.2.3.4]:1"), sa("[::1]:2"))
    );
}

#[test]
fn v2_local_keeps_the_real_addresses() {
    let real = (sa("10.1.1.1:5000"), sa("10.2.2.2:80"));
    let buf = v2(
        Command::Local,
        Addresses::Inet(sa("1.1.1.1:1"), sa("2.2.2.2:2")),
        &[],
        false,
    );
    let (h, n) = whole(&buf);
    assert_eq!(
        (h.command, h.addresses, n),
        (Command::Local, Addresses::Unknown, 28)
    );
    assert_eq!(h.effective(real), real);
    let buf = v2(
        Command::Proxy,
        Addresses::Inet(sa("1.1.1.1:1"), sa("2.2.2.2:2")),
        &[],
        false,
    );
    assert_eq!(
        whole(&buf).0.effective(real),
        (sa("1.1.1.1:1"), sa("2.2.2.2:2"))
    );
    let (h, _) = whole(b"PROXY UNKNOWN\r\n");
    assert_eq!(h.effective(real), real);
}

/// LOCAL ignores the family, a datagram one too, and a block too short.
#[test]
fn v2_local_ignores_its_family() {
    let mut buf = v2(Command::Local, Addresses::Unknown, &[], false);
    buf[13] = 0x12;
    buf[15] = 3;
    buf.extend_from_slice(&[9, 9, 9]);
    let (h, n) = whole(&buf);
    assert_eq!(
        (h.addresses, n, h.tlvs().count()),
        (Addresses::Unknown, 19, 0)
    );
}

#[test]
fn v2_tlvs_kept_in_order() {
    let tlvs: [(u8, &[u8]); 6] = [
        (tlv::ALPN, b"h2"),
        (tlv::AUTHORITY, b"example.com"),
        (tlv::UNIQUE_ID, b"abc-123"),
        (
            tlv::SSL,
            &[
                1, 0, 0, 0, 0, 0x21, 0, 7, b'T', b'L', b'S', b'v', b'1', b'.', b'3',
            ],
        ),
        (tlv::NETNS, b"blue"),
        (0xe0, b""),
    ];
    let a = Addresses::Inet(sa("1.2.3.4:1"), sa("5.6.7.8:2"));
    for crc in [false, true] {
        let buf = v2(Command::Proxy, a, &tlvs, crc);
        prefixes_incomplete(&buf);
        let (h, n) = whole(&buf);
        assert_eq!(n, buf.len());
        let got: Vec<_> = h.tlvs().filter(|&(k, _)| k != tlv::CRC32C).collect();
        assert_eq!(got, tlvs);
        assert_eq!(h.tlv(tlv::AUTHORITY), Some(&b"example.com"[..]));
        assert_eq!(h.tlv(tlv::CRC32C).is_some(), crc);
    }
}

#[test]
fn v2_crc32c_verified() {
    let a = Addresses::Inet(sa("1.2.3.4:1"), sa("5.6.7.8:2"));
    let buf = v2(Command::Proxy, a, &[(tlv::AUTHORITY, b"x.example")], true);
    // The checksum is over the whole header, its own field as zeros.
    let at = 16 + 12 + 3;
    let mut zeroed = buf.clone();
    zeroed[at..at + 4].fill(0);
    assert_eq!(
        u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()),
        crc32c(&zeroed)
    );
    // Every flip but of the CRC TLV's own type (which leaves no checksum).
    for i in (16..buf.len()).filter(|&i| i != at - 3) {
        let mut bad = buf.clone();
        bad[i] ^= 0x01;
        // A flip may make another error first (a TLV's length); never a header.
        assert!(matches!(parse(&bad), Parsed::Invalid(_)), "flip at {i}");
    }
    let mut bad = buf.clone();
    bad[at] ^= 0xff;
    assert_eq!(invalid(&bad), "v2 header: CRC32C mismatch");
    let short = v2(
        Command::Local,
        Addresses::Unknown,
        &[(tlv::CRC32C, &[0, 0, 0])],
        false,
    );
    assert_eq!(invalid(&short), "v2 header: a CRC32C TLV not of 4 bytes");
}

fn with_body(fam: u8, body: &[u8]) -> Vec<u8> {
    let mut buf = V2_SIGNATURE.to_vec();
    buf.push(0x21);
    buf.push(fam);
    buf.extend_from_slice(&(body.len() as u16).to_be_bytes());
    buf.extend_from_slice(body);
    buf
}

#[test]
fn v2_bad_headers_refused_at_the_first_bad_byte() {
    let sig = V2_SIGNATURE;
    let mut wrong_sig = sig[..6].to_vec();
    wrong_sig[5] = b'X';
    assert_eq!(
        refused_at_last_byte(&wrong_sig),
        "not a PROXY protocol header"
    );
    for (tail, why) in [
        (&[0x11][..], "v2 header: version is not 2"),
        (&[0x22], "v2 header: command is neither LOCAL nor PROXY"),
        (
            &[0x21, 0x41],
            "v2 header: unknown address family or transport",
        ),
        (
            &[0x21, 0x13],
            "v2 header: unknown address family or transport",
        ),
        (
            &[0x21, 0x10],
            "v2 header: unknown address family or transport",
        ),
        (
            &[0x21, 0x01],
            "v2 header: unknown address family or transport",
        ),
        (
            &[0x21, 0x12],
            "v2 header: a datagram (UDP) connection, and l4lb is TCP only",
        ),
        (
            &[0x21, 0x22],
            "v2 header: a datagram (UDP) connection, and l4lb is TCP only",
        ),
        (
            &[0x21, 0x32],
            "v2 header: a datagram (UDP) connection, and l4lb is TCP only",
        ),
        (
            &[0x21, 0x11, 0x0f, 0xf1],
            "v2 header longer than l4lb's 4096 bytes",
        ),
        (
            &[0x21, 0x11, 0, 11],
            "v2 header: length shorter than its addresses",
        ),
        (
            &[0x21, 0x21, 0, 35],
            "v2 header: length shorter than its addresses",
        ),
        (
            &[0x21, 0x31, 0, 215],
            "v2 header: length shorter than its addresses",
        ),
    ] {
        let mut buf = sig.to_vec();
        buf.extend_from_slice(tail);
        assert_eq!(refused_at_last_byte(&buf), why, "{tail:?}");
    }
}

#[test]
fn v2_tlv_bounds() {
    let addr = [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2];
    for (tlvs, why) in [
        (
            &[4u8][..],
            "v2 header: a TLV's type and length run past the end",
        ),
        (
            &[4, 0],
            "v2 header: a TLV's type and length run past the end",
        ),
        (&[4, 0, 1], "v2 header: a TLV runs past the end"),
        (&[4, 0, 0, 5, 0, 2, 1], "v2 header: a TLV runs past the end"),
        (&[4, 0xff, 0xff], "v2 header: a TLV runs past the end"),
    ] {
        let mut body = addr.to_vec();
        body.extend_from_slice(tlvs);
        assert_eq!(invalid(&with_body(0x11, &body)), why, "{tlvs:?}");
    }
}

/// HAProxy's limits on reading: authority 255, unique id 128, any TLV 1024.
#[test]
fn v2_tlv_lengths_as_haproxy() {
    let ok = |kind: u8, len: usize| {
        let value = vec![b'a'; len];
        let buf = v2(Command::Local, Addresses::Unknown, &[(kind, &value)], false);
        matches!(parse(&buf), Parsed::Header(..))
    };
    assert!(ok(tlv::AUTHORITY, 255) && !ok(tlv::AUTHORITY, 256));
    assert!(ok(tlv::UNIQUE_ID, 128) && !ok(tlv::UNIQUE_ID, 129));
    assert!(ok(0xe0, 1024) && !ok(0xe0, 1025));
}

#[test]
fn v2_size_cap() {
    let big = vec![0u8; 1024];
    let header = |pad: usize| {
        let pad = vec![0u8; pad];
        let tlvs = [
            (tlv::NOOP, &big[..]),
            (tlv::NOOP, &big),
            (tlv::NOOP, &big),
            (tlv::NOOP, &pad),
        ];
        v2(Command::Local, Addresses::Unknown, &tlvs, false)
    };
    let fits = 4096 - 16 - 4 * 3 - 3 * 1024;
    let buf = header(fits);
    assert_eq!(buf.len(), V2_MAX_LEN);
    assert_eq!(whole(&buf).1, V2_MAX_LEN);
    let buf = header(fits + 1);
    assert_eq!(
        refused_at_last_byte(&buf[..16]),
        "v2 header longer than l4lb's 4096 bytes"
    );
}

#[test]
fn v2_write_errors_leave_the_buffer() {
    let mut out = b"keep".to_vec();
    let long = [b'p'; 109];
    let e = write_v2(
        Command::Proxy,
        Addresses::Unix(&long, b"/x"),
        &[],
        false,
        &mut out,
    );
    assert_eq!(e, Err("a Unix socket path longer than 108 bytes"));
    let huge = vec![0u8; 65536];
    let e = write_v2(
        Command::Local,
        Addresses::Unknown,
        &[(1, &huge)],
        false,
        &mut out,
    );
    assert_eq!(e, Err("a PROXY v2 TLV value longer than 65535 bytes"));
    let half = vec![0u8; 40000];
    let e = write_v2(
        Command::Local,
        Addresses::Unknown,
        &[(1, &half), (1, &half)],
        true,
        &mut out,
    );
    assert_eq!(e, Err("a PROXY v2 header longer than 16 + 65535 bytes"));
    assert_eq!(out, b"keep");
}

#[test]
fn unix_paths_lose_their_padding() {
    let mut body = vec![0u8; 216];
    body[..3].copy_from_slice(b"/ab");
    body[4] = b'z'; // after the terminating NUL: not part of the path
    body[108..111].copy_from_slice(b"\0ns");
    let buf = with_body(0x31, &body);
    let (h, _) = whole(&buf);
    assert_eq!(h.addresses, Addresses::Unix(b"/ab", b"\0ns"));
}
