//! Networks: parsing `ADDR[/MASK]`, sets of networks matched by binary
//! search over merged ranges (O(log n) for allowlists of any size), and maps
//! from networks to values matched by longest prefix (`map_ip`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One network, its address already masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

fn mask4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// Parses `1.2.3.4`, `1.2.3.0/24`, `1.2.3.0/255.255.255.0`, `::1`,
/// `2001:db8::/32`. Host names are refused: l4lb resolves nothing at load.
pub(crate) fn parse_net(text: &str) -> Result<Net, String> {
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    let bad = || format!("'{text}' is not an IP address or network (host names are not resolved)");
    match addr.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(a) => {
            let len = match mask {
                None => 32,
                Some(m) => match m.parse::<u8>() {
                    Ok(n) if n <= 32 => n,
                    Ok(_) => return Err(bad()),
                    Err(_) => dotted_mask(m).ok_or_else(bad)?,
                },
            };
            Ok(Net::V4(u32::from(a) & mask4(len), len))
        }
        IpAddr::V6(a) => {
            let len = match mask {
                None => 128,
                Some(m) => m.parse::<u8>().ok().filter(|n| *n <= 128).ok_or_else(bad)?,
            };
            Ok(Net::V6(u128::from(a) & mask6(len), len))
        }
    }
}

/// A dotted IPv4 mask, which must be contiguous (HAProxy keeps the
/// non-contiguous ones in a list; l4lb refuses them).
fn dotted_mask(text: &str) -> Option<u8> {
    let m = u32::from(text.parse::<Ipv4Addr>().ok()?);
    let len = m.leading_ones();
    (m == mask4(len as u8)).then_some(len as u8)
}

/// The IPv4 address an IPv6 one stands for, as HAProxy's `v6tov4`:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, 6to4
/// `2002:AABB:CCDD::`.
pub(crate) fn v6_to_v4(a: Ipv6Addr) -> Option<u32> {
    let n = u128::from(a);
    if n >> 64 == 0 && (n >> 32 & 0xffff_ffff == 0xffff || n >> 32 & 0xffff_ffff == 0) {
        return Some(n as u32);
    }
    if n >> 112 == 0x2002 {
        return Some((n >> 80) as u32);
    }
    None
}

/// The IPv4-mapped IPv6 address of `a`, as HAProxy's `v4tov6`.
pub(crate) fn v4_to_v6(a: u32) -> u128 {
    0xffff_u128 << 32 | u128::from(a)
}

/// Sorted, merged, disjoint inclusive ranges of one family.
#[derive(Debug, Default)]
struct Ranges<T> {
    ranges: Vec<(T, T)>,
}

impl<T: Copy + Ord + num::Step> Ranges<T> {
    fn build(mut raw: Vec<(T, T)>) -> Self {
        raw.sort_unstable();
        let mut ranges: Vec<(T, T)> = Vec::with_capacity(raw.len());
        for (lo, hi) in raw {
            match ranges.last_mut() {
                Some(last) if T::adjacent_or_overlapping(last.1, lo) => last.1 = last.1.max(hi),
                _ => ranges.push((lo, hi)),
            }
        }
        ranges.shrink_to_fit();
        Ranges { ranges }
    }

    fn contains(&self, x: T) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < x);
        self.ranges.get(i).is_some_and(|r| r.0 <= x)
    }
}

mod num {
    /// What merging needs of an address type: is `next` at most one past
    /// `end`?
    pub(super) trait Step {
        fn adjacent_or_overlapping(end: Self, next: Self) -> bool;
    }
    impl Step for u32 {
        fn adjacent_or_overlapping(end: u32, next: u32) -> bool {
            next <= end.saturating_add(1)
        }
    }
    impl Step for u128 {
        fn adjacent_or_overlapping(end: u128, next: u128) -> bool {
            next <= end.saturating_add(1)
        }
    }
}

/// A set of networks of both families.
#[derive(Debug, Default)]
pub(crate) struct IpSet {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl IpSet {
    pub(crate) fn build(nets: &[Net]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match *net {
                Net::V4(a, len) => v4.push((a, a | !mask4(len))),
                Net::V6(a, len) => v6.push((a, a | !mask6(len))),
            }
        }
        IpSet {
            v4: Ranges::build(v4),
            v6: Ranges::build(v6),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.ranges.is_empty() && self.v6.ranges.is_empty()
    }

    /// HAProxy's order: an IPv4 address is looked up among the IPv4
    /// networks, then as IPv4-mapped among the IPv6 ones; an IPv6 address
    /// among the IPv6 networks, then, if it stands for an IPv4 one, among
    /// the IPv4 networks.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.contains(a) || self.v6.contains(v4_to_v6(a))
            }
            IpAddr::V6(a) => {
                self.v6.contains(u128::from(a))
                    || v6_to_v4(a).is_some_and(|v4| self.v4.contains(v4))
            }
        }
    }
}

/// Networks to values, looked up by longest prefix: one hash table per
/// prefix length present, tried from the longest (at most 33 + 129 probes).
#[derive(Debug)]
pub(crate) struct IpMap<V> {
    v4: Vec<(u8, HashMap<u32, V>)>,
    v6: Vec<(u8, HashMap<u128, V>)>,
}

impl<V> IpMap<V> {
    /// Builds the map; of two entries for the same network the first wins,
    /// as in HAProxy's tree (the first inserted is found first).
    pub(crate) fn build(entries: impl IntoIterator<Item = (Net, V)>) -> Self {
        let mut v4: Vec<(u8, HashMap<u32, V>)> = Vec::new();
        let mut v6: Vec<(u8, HashMap<u128, V>)> = Vec::new();
        for (net, value) in entries {
            match net {
                Net::V4(a, len) => insert_first(&mut v4, len, a, value),
                Net::V6(a, len) => insert_first(&mut v6, len, a, value),
            }
        }
        v4.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
        v6.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
        IpMap { v4, v6 }
    }

    fn get4(&self, a: u32) -> Option<&V> {
        self.v4
            .iter()
            .find_map(|(len, t)| t.get(&(a & mask4(*len))))
    }

    fn get6(&self, a: u128) -> Option<&V> {
        self.v6
            .iter()
            .find_map(|(len, t)| t.get(&(a & mask6(*len))))
    }

    /// The value of the longest network holding `ip`, families crossed as
    /// `IpSet::contains` does.
    pub(crate) fn get(&self, ip: IpAddr) -> Option<&V> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.get4(a).or_else(|| self.get6(v4_to_v6(a)))
            }
            IpAddr::V6(a) => self
                .get6(u128::from(a))
                .or_else(|| v6_to_v4(a).and_then(|v4| self.get4(v4))),
        }
    }
}

fn insert_first<K: std::hash::Hash + Eq, V>(
    tables: &mut Vec<(u8, HashMap<K, V>)>,
    len: u8,
    key: K,
    value: V,
) {
    let at = match tables.iter().position(|(l, _)| *l == len) {
        Some(at) => at,
        None => {
            tables.push((len, HashMap::new()));
            tables.len() - 1
        }
    };
    tables[at].1.entry(key).or_insert(value);
}
