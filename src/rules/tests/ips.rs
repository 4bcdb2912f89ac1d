//! Network sets and maps: merging, families, v4-mapped addresses, and a
//! large random allowlist checked against a naive scan.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use crate::rules::ip::{IpMap, IpSet, Net, parse_net, v6_to_v4};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn set(nets: &[&str]) -> IpSet {
    IpSet::build(
        &nets
            .iter()
            .map(|n| parse_net(n).unwrap())
            .collect::<Vec<_>>(),
    )
}

#[test]
fn ranges_merge_and_bounds() {
    let s = set(&[
        "10.0.0.0/24",
        "10.0.1.0/24",
        "10.0.0.128/25",
        "0.0.0.0/32",
        "255.255.255.255",
    ]);
    assert!(s.contains(ip("10.0.0.0")));
    assert!(s.contains(ip("10.0.1.255")));
    assert!(!s.contains(ip("10.0.2.0")));
    assert!(!s.contains(ip("9.255.255.255")));
    assert!(s.contains(ip("0.0.0.0")));
    assert!(s.contains(ip("255.255.255.255")));
    assert!(!s.contains(ip("0.0.0.1")));
    let all = set(&["0.0.0.0/0", "::/0"]);
    assert!(all.contains(ip("1.2.3.4")) && all.contains(ip("2001:db8::1")));
    assert!(!set(&[]).contains(ip("1.2.3.4")));
}

#[test]
fn families_cross_as_haproxy() {
    let v6 = set(&["::1", "2001:db8::/32"]);
    assert!(v6.contains(ip("::1")));
    assert!(v6.contains(ip("2001:db8:ffff::1")));
    assert!(!v6.contains(ip("127.0.0.1")));
    let v4 = set(&["192.0.2.0/24"]);
    assert!(v4.contains(ip("::ffff:192.0.2.7")), "v4-mapped");
    assert!(v4.contains(ip("::192.0.2.7")), "v4-compatible");
    assert!(v4.contains(ip("2002:c000:0207::1")), "6to4");
    assert!(!v4.contains(ip("2001:c000:0207::1")));
    let mapped = set(&["::ffff:192.0.2.0/120"]);
    assert!(mapped.contains(ip("192.0.2.9")));
    assert_eq!(
        v6_to_v4(Ipv6Addr::LOCALHOST),
        Some(1),
        "::1 is v4-compatible 0.0.0.1, as HAProxy"
    );
}

#[test]
fn map_longest_prefix_first_entry_wins() {
    let entries = [
        ("10.0.0.0/8", 1),
        ("10.1.0.0/16", 2),
        ("10.1.2.0/24", 3),
        ("10.1.0.0/16", 4),
        ("::/0", 5),
    ];
    let m = IpMap::build(entries.iter().map(|(n, v)| (parse_net(n).unwrap(), *v)));
    assert_eq!(m.get(ip("10.1.2.3")), Some(&3));
    assert_eq!(m.get(ip("10.1.3.3")), Some(&2));
    assert_eq!(m.get(ip("10.2.3.3")), Some(&1));
    assert_eq!(
        m.get(ip("11.0.0.1")),
        Some(&5),
        "IPv4 falls back to the IPv6 tree as mapped"
    );
    assert_eq!(m.get(ip("2001:db8::1")), Some(&5));
}

/// xorshift64*: deterministic pseudo-random numbers without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn naive(nets: &[Net], a: IpAddr) -> bool {
    nets.iter().any(|n| match (*n, a) {
        (Net::V4(net, len), IpAddr::V4(a)) => {
            len == 0 || (u32::from(a) ^ net) >> (32 - u32::from(len)) == 0
        }
        (Net::V6(net, len), IpAddr::V6(a)) => {
            len == 0 || (u128::from(a) ^ net) >> (128 - u32::from(len)) == 0
        }
        _ => false,
    })
}

#[test]
fn ten_thousand_random_networks_match_a_naive_scan() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut nets = Vec::new();
    for i in 0..10_000 {
        // Clustered in 10.0.0.0/12 and 2001:db8::/40 so that lookups hit.
        let text = if i % 4 == 3 {
            let a = 0x2001_0db8_u128 << 96 | u128::from(rng.next()) << 32;
            format!("{}/{}", Ipv6Addr::from(a), 40 + rng.next() % 89)
        } else {
            let a = 0x0a00_0000 | (rng.next() as u32 & 0x000f_ffff);
            format!("{}/{}", Ipv4Addr::from(a), 12 + rng.next() % 21)
        };
        nets.push(parse_net(&text).unwrap());
    }
    let s = IpSet::build(&nets);
    let addrs: Vec<IpAddr> = (0..10_000)
        .map(|i| {
            if i % 4 == 3 {
                IpAddr::V6(Ipv6Addr::from(
                    0x2001_0db8_u128 << 96 | u128::from(rng.next()) << 32 | u128::from(rng.next()),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(
                    0x0a00_0000 | (rng.next() as u32 & 0x001f_ffff),
                ))
            }
        })
        .collect();
    let start = Instant::now();
    let got: Vec<bool> = addrs.iter().map(|a| s.contains(*a)).collect();
    let took = start.elapsed();
    let mut hits = 0;
    for (a, g) in addrs.iter().zip(&got) {
        assert_eq!(*g, naive(&nets, *a), "{a}");
        hits += usize::from(*g);
    }
    assert!(
        hits > 100 && hits < 9_900,
        "the test exercises both answers ({hits} hits)"
    );
    eprintln!("10000 lookups in an allowlist of 10000 networks: {took:?} ({hits} hits)");
}
