//! The client's first bytes -> `wire::client_hello::inspect` (and
//! `wire::rdp::rdp_cookie`), never a panic. Checks that an SNI found is a
//! host name lying inside the input (or a copy of one split by a record
//! boundary), and that the answers are monotonic: a prefix of the input gives
//! `Incomplete` or the very answer the whole input gives.

#![no_main]

use l4lb::wire::client_hello::{Hello, Piece, inspect};
use l4lb::wire::rdp::{Cookie, rdp_cookie};
use libfuzzer_sys::fuzz_target;

fn host_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split(|&b| b == b'.').all(|l| {
            (1..=63).contains(&l.len()) && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_hello(data: &[u8]) {
    let whole = inspect(data);
    if let Hello::ClientHello(info) = &whole {
        if let Some(sni) = &info.sni {
            assert!(host_name(sni.bytes()), "{sni:?}");
            if let Piece::Borrowed(b) = sni {
                let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
                assert!(b.as_ptr() as usize >= start && b.as_ptr() as usize + b.len() <= end);
            }
            assert_eq!(info.sni_str().map(str::len), Some(sni.bytes().len()));
        }
        for name in info.alpn.into_iter().flatten() {
            assert!(!name.bytes().is_empty());
        }
    }
    // About 64 prefixes, the last few bytes' each: every one is Incomplete
    // or the same answer.
    let step = data.len() / 64 + 1;
    let prefixes = (0..data.len()).step_by(step).chain(data.len().saturating_sub(8)..data.len());
    for n in prefixes {
        let h = inspect(&data[..n]);
        assert!(h == Hello::Incomplete || h == whole, "prefix {n}: {h:?} but whole: {whole:?}");
    }
}

fn check_rdp(data: &[u8]) {
    for name in [None, Some(&b"mstshash"[..])] {
        let whole = rdp_cookie(data, name);
        if let Cookie::Found { name: n, value } = &whole {
            assert!(!n.contains(&b'\r') && !value.contains(&b'\r'));
        }
        let step = data.len() / 16 + 1;
        for n in (0..data.len()).step_by(step) {
            let c = rdp_cookie(&data[..n], name);
            assert!(c == Cookie::Incomplete || c == whole, "prefix {n}: {c:?} but whole: {whole:?}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_hello(data);
    check_rdp(data);
});
