//! Any bytes -> `wire::proxy_protocol::parse`: never a panic, never more
//! bytes taken than given; a valid prefix of a header stays valid (each
//! shorter prefix is Incomplete); a header read, written back as v2 (and as
//! v1 for TCP addresses), reads back to the same command, addresses and TLVs.

#![no_main]

use l4lb::wire::proxy_protocol::{
    Addresses, Command, Header, Parsed, V2_MAX_LEN, parse, tlv, write_v1, write_v2,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (h, n) = match parse(data) {
        Parsed::Header(h, n) => (h, n),
        Parsed::Invalid(why) => {
            assert!(!why.is_empty());
            return;
        }
        Parsed::Incomplete => return,
    };
    assert!(n <= data.len(), "took {n} of {}", data.len());
    assert!(matches!(parse(&data[..n]), Parsed::Header(h2, n2) if h2 == h && n2 == n));
    // Every shorter prefix (all of them for short headers, else a sample).
    let step = n / 128 + 1;
    for cut in (0..n).step_by(step).chain(n.checked_sub(1)) {
        assert_eq!(parse(&data[..cut]), Parsed::Incomplete, "{cut} of {n}");
    }
    rewritten_v2(&h);
    if let Addresses::Inet(src, dst) = h.addresses {
        let mut out = Vec::new();
        write_v1(src, dst, &mut out);
        let Parsed::Header(back, m) = parse(&out) else { panic!("{out:?}") };
        assert_eq!(m, out.len());
        let Addresses::Inet(s, d) = back.addresses else { panic!("{back:?}") };
        assert_eq!((s.port(), d.port()), (src.port(), dst.port()));
    }
});

/// `h` written as v2, with a CRC32C when it fits, reads back the same.
fn rewritten_v2(h: &Header<'_>) {
    let tlvs: Vec<(u8, &[u8])> = h.tlvs().filter(|&(k, _)| k != tlv::CRC32C).collect();
    let mut out = Vec::new();
    // With a CRC when the header had one, and for every other TLV count.
    let crc = h.tlvs().count() > tlvs.len() || tlvs.len() % 2 == 0;
    write_v2(h.command, h.addresses, &tlvs, crc, &mut out).expect("a header read is writable");
    if out.len() > V2_MAX_LEN {
        return; // a v1 header's or a dropped CRC's room, taken by the added CRC
    }
    let Parsed::Header(back, m) = parse(&out) else { panic!("{h:?} -> {out:?}") };
    assert_eq!(m, out.len());
    assert_eq!(back.command, h.command);
    let want = match (h.command, h.addresses) {
        (Command::Local, _) => Addresses::Unknown,
        (_, a) => a,
    };
    assert_eq!(back.addresses, want, "{h:?}");
    let got: Vec<(u8, &[u8])> = back.tlvs().filter(|&(k, _)| k != tlv::CRC32C).collect();
    assert_eq!(got, tlvs);
}
