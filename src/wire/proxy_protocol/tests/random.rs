//! Random headers written and read back; random bytes read.

use std::net::SocketAddr;

use super::super::*;
use super::*;

/// A small xorshift, so the loop below is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max + 1))
            .map(|_| self.next() as u8)
            .collect()
    }
    fn addr(&mut self) -> SocketAddr {
        let port = self.next() as u16;
        match self.below(2) {
            0 => SocketAddr::new(std::net::Ipv4Addr::from(self.next() as u32).into(), port),
            _ => SocketAddr::new(
                std::net::Ipv6Addr::from(u128::from(self.next()) << 64 | u128::from(self.next()))
                    .into(),
                port,
            ),
        }
    }
}

/// Random headers of every kind, written then read back: the same header,
/// every prefix Incomplete, and with data after it, the same length taken.
#[test]
fn random_headers_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let (src, dst) = (rng.addr(), rng.addr());
        let mut out = Vec::new();
        let v1 = rng.below(3) == 0;
        let paths = (rng.bytes(108), rng.bytes(108));
        let values: Vec<(u8, Vec<u8>)> = (0..rng.below(5))
            .map(|_| ([1, 4, 0x20, 0x30, 0xe5][rng.below(5)], rng.bytes(100)))
            .collect();
        let tlvs: Vec<(u8, &[u8])> = values.iter().map(|(k, v)| (*k, &v[..])).collect();
        let (cmd, a) = match rng.below(4) {
            0 => (Command::Local, Addresses::Unknown),
            1 => (Command::Proxy, Addresses::Unix(&paths.0, &paths.1)),
            _ => (Command::Proxy, Addresses::Inet(src, dst)),
        };
        if v1 {
            write_v1(src, dst, &mut out);
        } else {
            write_v2(cmd, a, &tlvs, rng.below(2) == 0, &mut out).unwrap();
        }
        prefixes_incomplete(&out);
        let len = out.len();
        out.extend_from_slice(&rng.bytes(20));
        let (h, n) = whole(&out);
        assert_eq!(n, len);
        if v1 {
            let (s, d) = match h.addresses {
                Addresses::Inet(s, d) => (s, d),
                other => panic!("{other:?}"),
            };
            assert_eq!((s.port(), d.port()), (src.port(), dst.port()));
            continue;
        }
        assert_eq!(h.command, cmd);
        match (a, h.addresses) {
            (Addresses::Unix(s, d), Addresses::Unix(hs, hd)) => {
                assert!(s.starts_with(hs) && d.starts_with(hd));
            }
            (Addresses::Inet(s, d), got) if s.is_ipv4() != d.is_ipv4() => {
                let v6 = |a: SocketAddr| match a {
                    SocketAddr::V4(v4) => {
                        SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
                    }
                    a => a,
                };
                assert_eq!(Addresses::Inet(v6(s), v6(d)), got);
            }
            (a, got) => assert_eq!(a, got),
        }
        let got: Vec<_> = h.tlvs().filter(|&(k, _)| k != tlv::CRC32C).collect();
        assert_eq!(got, tlvs);
    }
}

/// Random bytes after a valid start: never a panic, never more taken than
/// given.
#[test]
fn random_garbage_never_overruns() {
    let mut rng = Rng(7);
    let starts: [&[u8]; 3] = [b"PROXY ", b"PROXY TCP4 ", &V2_SIGNATURE];
    for _ in 0..20_000 {
        let mut buf = starts[rng.below(3)].to_vec();
        if buf.len() == 12 {
            buf.extend_from_slice(&[
                0x21,
                [0x00, 0x11, 0x21, 0x31][rng.below(4)],
                0,
                rng.below(60) as u8,
            ]);
        }
        buf.extend_from_slice(&rng.bytes(120));
        if let Parsed::Header(_, n) = parse(&buf) {
            assert!(n <= buf.len());
        }
    }
}

/// A wrong byte anywhere in `PROXY ` or the v2 signature is refused there.
#[test]
fn wrong_prefix_byte_refused_at_once() {
    for prefix in [&b"PROXY "[..], &V2_SIGNATURE] {
        for i in 0..prefix.len() {
            let mut buf = prefix[..=i].to_vec();
            buf[i] ^= 0x40;
            assert_eq!(
                refused_at_last_byte(&buf),
                "not a PROXY protocol header",
                "{buf:?}"
            );
        }
    }
}
