//! The balancer's own fixed-seed 64-bit hash, for client addresses and ring points.
//!
//! Source hashing must map a client to the same server in every worker, in
//! every l4lb process and across l4lb upgrades, so the function is spelled
//! out here rather than borrowed from std (whose `DefaultHasher` algorithm is
//! unspecified and may change between Rust releases). It is FNV-1a over a
//! domain tag and the input bytes, started from a fixed seed, then murmur3's
//! `fmix64` finalizer so every input bit reaches every output bit (FNV alone
//! leaves the high bits weak for short inputs such as IPv4 addresses).
//!
//! Changing anything here remaps clients; the compatibility test at the end
//! pins exact outputs so such a change fails loudly.

use std::net::IpAddr;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Fixed seed ("l4lb-bal"), XORed into FNV's offset basis.
const SEED: u64 = 0x6c34_6c62_2d62_616c;

/// Domain tags: the first byte hashed, so an IPv4 address, an IPv6 address
/// and a ring point can never feed the same byte sequence.
const TAG_IPV4: u8 = 4;
const TAG_IPV6: u8 = 6;
const TAG_VNODE: u8 = b'v';
const TAG_NAME: u8 = b'n';
const TAG_BYTES: u8 = b'b';
/// Ends a server name; 0xff never occurs in UTF-8, so ("ab", n) and ("a", m)
/// cannot collide by shifting bytes between name and index.
const NAME_END: u8 = 0xff;

/// Incremental FNV-1a over the seeded basis.
struct Fnv(u64);

impl Fnv {
    fn new(tag: u8) -> Fnv {
        Fnv(FNV_OFFSET ^ SEED).write(&[tag])
    }

    fn write(mut self, bytes: &[u8]) -> Fnv {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    fn finish(self) -> u64 {
        fmix64(self.0)
    }
}

/// murmur3's 64-bit finalizer: a bijection with full avalanche.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// What a hashing algorithm (`source`, consistent or map-based) places a
/// connection by: a 64-bit hash of the session's key. Today the client's
/// address (`hash_ip`); any other key (a stick-table entry, a server
/// name from SNI) becomes one the same way, so the algorithms never see
/// what was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKey(pub u64);

impl From<IpAddr> for HashKey {
    fn from(ip: IpAddr) -> HashKey {
        HashKey(hash_ip(ip))
    }
}

impl HashKey {
    /// The key of a value a `balance hash` expression yielded (a server
    /// name, a cookie): the same bytes give the same key on every l4lb.
    pub fn of_bytes(bytes: &[u8]) -> HashKey {
        HashKey(Fnv::new(TAG_BYTES).write(bytes).finish())
    }
}

/// Hash of a client address. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
/// what a dual-stack listener reports for an IPv4 client) hashes as the IPv4
/// address, so a client maps to the same server whichever listener it used.
pub(super) fn hash_ip(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(a) => Fnv::new(TAG_IPV4).write(&a.octets()).finish(),
        IpAddr::V6(a) => Fnv::new(TAG_IPV6).write(&a.octets()).finish(),
    }
}

/// Ring position of virtual node `vnode` of the server called `name`.
pub(super) fn hash_vnode(name: &str, vnode: u32) -> u64 {
    Fnv::new(TAG_VNODE)
        .write(name.as_bytes())
        .write(&[NAME_END])
        .write(&vnode.to_le_bytes())
        .finish()
}

/// A server's own key for slow-start draws: its name, hashed.
pub(super) fn hash_name(name: &str) -> u64 {
    Fnv::new(TAG_NAME).write(name.as_bytes()).finish()
}

/// The slow-start draw of a client (by its hash) at one server (by its key):
/// uniform, fixed for the pair, and unrelated to the client's ring position
/// or to its draws at other servers.
#[inline]
pub(super) fn slowstart_draw(client: u64, server_key: u64) -> u64 {
    fmix64(client ^ server_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// These values are the contract with every deployed l4lb: if this test
    /// fails, clients of `balance source` would move to other servers.
    #[test]
    fn hash_outputs_are_locked_for_compatibility() {
        assert_eq!(hash_ip("10.0.0.1".parse().unwrap()), 0x1ca9_627d_a815_405a);
        assert_eq!(
            hash_ip("192.168.1.200".parse().unwrap()),
            0x111b_0734_9b8d_0fc2
        );
        assert_eq!(
            hash_ip("2001:db8::1".parse().unwrap()),
            0xe5b9_30ac_8a8f_01d0
        );
        assert_eq!(hash_vnode("web1", 0), 0x8c3f_8404_8ab5_96e5);
        assert_eq!(hash_vnode("web1", 1), 0x2cb4_9338_ca98_14ac);
        assert_eq!(hash_vnode("web2", 0), 0xe130_c20a_517b_a515);
    }

    #[test]
    fn ipv4_and_ipv6_with_same_bytes_hash_apart() {
        let v4 = Ipv4Addr::new(10, 0, 0, 1);
        // IPv4-compatible (not mapped): a genuine IPv6 address.
        let compat = Ipv6Addr::from_bits(u128::from(v4.to_bits()));
        assert_ne!(hash_ip(v4.into()), hash_ip(compat.into()));
        let zero_v4 = Ipv4Addr::UNSPECIFIED;
        assert_ne!(
            hash_ip(zero_v4.into()),
            hash_ip(Ipv6Addr::UNSPECIFIED.into())
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_hashes_as_ipv4() {
        let v4 = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(hash_ip(v4.into()), hash_ip(v4.to_ipv6_mapped().into()));
    }

    #[test]
    fn a_hash_key_from_an_address_is_its_locked_hash() {
        let v4 = Ipv4Addr::new(10, 0, 0, 1);
        assert_eq!(
            HashKey::from(IpAddr::V4(v4)),
            HashKey(0x1ca9_627d_a815_405a)
        );
        assert_eq!(
            HashKey::from(IpAddr::V6(v4.to_ipv6_mapped())),
            HashKey::from(IpAddr::V4(v4)),
            "a dual-stack listener's IPv4 client keys as IPv4"
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(HashKey::from(v6), HashKey(hash_ip(v6)));
    }

    #[test]
    fn name_and_vnode_index_cannot_trade_bytes() {
        assert_ne!(hash_vnode("a", 0), hash_vnode("a\u{0}", 0));
        assert_ne!(hash_vnode("web1", 0), hash_vnode("web", 1));
    }
}
