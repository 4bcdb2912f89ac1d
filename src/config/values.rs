//! Pure value parsers, with no section context: numbers in a range, HAProxy
//! times, `balance` algorithm names, bind and server addresses. Each returns
//! a message saying what is accepted when the text is wrong.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use std::path::PathBuf;

use super::{Balance, DEFAULT_RANDOM_DRAWS, Host, ServerAddr, SockAddr, UnixAddr};

/// HAProxy's limit: its timers are signed 32-bit milliseconds.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

pub(super) const BALANCE_ACCEPTED: &str =
    "roundrobin, leastconn, source, random, random(N), first, hash EXPR, rdp-cookie[(NAME)]";
/// HAProxy algorithms that read the HTTP request.
const BALANCE_L7: &[&str] = &["uri", "url_param", "hdr"];
/// HAProxy algorithms valid in TCP mode that l4lb does not have yet
/// (`rdp-cookie` reads the RDP cookie of a TCP stream).
const BALANCE_NOT_YET: &[&str] = &["static-rr"];

/// Whether `algo` is an HTTP algorithm (`uri`, `url_param`, `hdr(NAME)`),
/// which HAProxy replaces by round robin in mode tcp.
pub(super) fn is_l7_balance(algo: &str) -> bool {
    BALANCE_L7.contains(&algo.split('(').next().unwrap_or(algo))
}

/// A `balance` algorithm, from the file or `--balance`. `source` comes back
/// map-based: `hash-type` is applied when the backend is built.
pub(super) fn parse_balance(algo: &str) -> Result<Balance, String> {
    let base = algo.split('(').next().unwrap_or(algo);
    let b = match algo {
        "roundrobin" => Balance::RoundRobin,
        "leastconn" => Balance::LeastConn,
        // `hash EXPR` and `rdp-cookie` hash what their expression yields
        // instead of the address (`Backend::hash_on`).
        "source" | "hash" | "rdp-cookie" => Balance::Source { consistent: false },
        _ if base == "rdp-cookie" => {
            let name = algo
                .strip_prefix("rdp-cookie(")
                .and_then(|n| n.strip_suffix(')'));
            if name.is_none_or(|n| n.is_empty() || n.contains(['(', ')'])) {
                return Err(format!("'{algo}': expected rdp-cookie or rdp-cookie(NAME)"));
            }
            Balance::Source { consistent: false }
        }
        "first" => Balance::First,
        "random" => Balance::Random {
            draws: DEFAULT_RANDOM_DRAWS,
        },
        _ if base == "random" => Balance::Random {
            draws: random_draws(algo)?,
        },
        _ if BALANCE_L7.contains(&base) => {
            let msg = "is an HTTP/L7 algorithm, l4lb is a TCP (L4) balancer";
            return Err(format!("'{algo}' {msg}; accepted: {BALANCE_ACCEPTED}"));
        }
        _ if BALANCE_NOT_YET.contains(&base) => {
            return Err(format!(
                "'{algo}' is not implemented yet in l4lb; accepted: {BALANCE_ACCEPTED}"
            ));
        }
        _ => {
            return Err(format!(
                "unknown algorithm '{algo}'; accepted: {BALANCE_ACCEPTED}"
            ));
        }
    };
    Ok(b)
}

/// The N of `random(N)`.
fn random_draws(algo: &str) -> Result<u32, String> {
    let n = algo
        .strip_prefix("random(")
        .and_then(|r| r.strip_suffix(')'));
    match n.map(str::parse::<u32>) {
        Some(Ok(n)) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{algo}': expected random or random(N) with N >= 1"
        )),
    }
}

pub(super) const TIME_UNITS: &str = "units us, ms, s, m, h, d; no unit = ms";

/// A HAProxy time: digits then an optional unit, milliseconds by default.
pub(super) fn parse_time(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a time ({TIME_UNITS})"))?;
    let us_per_unit: u64 = match unit {
        "us" => 1,
        "" | "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return Err(format!("unknown time unit '{unit}' ({TIME_UNITS})")),
    };
    let us = n
        .checked_mul(us_per_unit)
        .filter(|us| *us <= MAX_TIMEOUT_MS * 1000);
    let us = us.ok_or_else(|| {
        format!("'{text}' is too long: at most {MAX_TIMEOUT_MS}ms (about 24.8 days)")
    })?;
    Ok(Duration::from_micros(us))
}

/// A whole number in `range`, or a message saying which range.
pub(super) fn number<T>(text: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Bounded,
{
    match text.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ if *range.end() == T::MAX => Err(format!(
            "'{text}' is not a whole number >= {}",
            range.start()
        )),
        _ => Err(format!(
            "'{text}' is not a whole number in {}..={}",
            range.start(),
            range.end()
        )),
    }
}

/// Lets [`number`] leave an unbounded maximum out of its message.
pub(super) trait Bounded {
    const MAX: Self;
}

impl Bounded for u32 {
    const MAX: u32 = u32::MAX;
}

impl Bounded for usize {
    const MAX: usize = usize::MAX;
}

/// Splits `HOST:PORT`, `[IPV6]:PORT` or `IPV6:PORT`: the last colon starts
/// the port, as in HAProxy. The port is required and never 0.
fn host_port(text: &str) -> Result<(&str, u16), String> {
    if let Some(family) = socket_family(text) {
        return Err(format!(
            "'{text}': {family} addresses are not implemented yet in l4lb; give IP:PORT"
        ));
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .ok_or_else(|| format!("'{text}': expected [IPV6]:PORT"))?,
        None => text
            .rsplit_once(':')
            .ok_or_else(|| format!("'{text}' has no port: expected ADDR:PORT"))?,
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(format!(
            "'{text}': port '{port}' is not a number in 1..=65535"
        )),
    }
}

/// The kind of a HAProxy address that is not an IP socket (`unix@`, a
/// path, `abns@`, `fd@`, `sockpair@`), for a message better than "no port".
fn socket_family(text: &str) -> Option<&'static str> {
    let families = [
        ("fd@", "file descriptor"),
        ("sockpair@", "socket pair"),
        ("quic4@", "QUIC"),
        ("quic6@", "QUIC"),
        ("udp@", "UDP"),
        ("udp4@", "UDP"),
        ("udp6@", "UDP"),
    ];
    families
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|(_, family)| *family)
}

/// The longest `sun_path`, its NUL left out.
pub(super) const SUN_PATH_MAX: usize = 107;

/// A unix socket address as HAProxy writes one: `/path` or `unix@path` (a
/// socket file), `abns@name` (an abstract name padded with NULs to the
/// whole `sun_path`, as HAProxy's) or `abnsz@name` (the name alone). None
/// when `text` is none of them.
pub(super) fn unix_addr(text: &str) -> Option<Result<UnixAddr, String>> {
    let (path, padded) = if text.starts_with('/') {
        return Some(unix_path(text));
    } else if let Some(path) = text.strip_prefix("unix@") {
        return Some(unix_path(path));
    } else if let Some(name) = text.strip_prefix("abns@") {
        (name, true)
    } else {
        (text.strip_prefix("abnsz@")?, false)
    };
    if path.is_empty() || path.len() > SUN_PATH_MAX - 1 {
        return Some(Err(format!(
            "'{text}': an abstract socket name is 1 to {} bytes",
            SUN_PATH_MAX - 1
        )));
    }
    let mut name = path.as_bytes().to_vec();
    if padded {
        name.resize(SUN_PATH_MAX - 1, 0);
    }
    Some(Ok(UnixAddr::Abstract(name)))
}

fn unix_path(path: &str) -> Result<UnixAddr, String> {
    if path.is_empty() {
        return Err("a unix socket address needs a path".to_string());
    }
    if path.len() > SUN_PATH_MAX {
        return Err(format!(
            "unix socket path '{path}' is too long (at most {SUN_PATH_MAX} bytes)"
        ));
    }
    Ok(UnixAddr::Path(PathBuf::from(path)))
}

/// A listening address: a unix socket (see [`unix_addr`]), an IP literal,
/// or `*` / empty for all IPv4, `::` for all IPv6. Host names are refused:
/// one name may map to several addresses, and which one is bound should
/// not depend on the resolver.
pub(super) fn bind_addr(text: &str) -> Result<SockAddr, String> {
    if let Some(unix) = unix_addr(text) {
        return unix.map(SockAddr::Unix);
    }
    let (host, port) = host_port(text)?;
    let ip = match host {
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        h => h.parse().map_err(|_| {
            format!("'{h}' is not an IP address; accepted: IPV4:PORT, [IPV6]:PORT, *:PORT (all IPv4), :::PORT (all IPv6)")
        })?,
    };
    Ok(SockAddr::Inet(SocketAddr::new(ip, port)))
}

/// A server address as written: an IP literal or a host name, and its
/// port. Nothing is resolved here.
pub(super) fn parse_server_addr(text: &str) -> Result<ServerAddr, String> {
    let (host, port) = host_port(text)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_unspecified() {
            return Err(format!(
                "'{text}': {ip} is not a server address; give the server's IP or host name"
            ));
        }
        return Ok(ServerAddr {
            host: Host::Ip(ip),
            port,
        });
    }
    if host.is_empty() || host == "*" {
        return Err(format!(
            "'{text}' has no host; expected IP:PORT or HOSTNAME:PORT"
        ));
    }
    Ok(ServerAddr {
        host: Host::Name(host.to_string()),
        port,
    })
}

/// Where a server address points now: its IP, or its host name's first
/// address.
pub(super) fn resolve_server_addr(configured: &ServerAddr) -> Result<SocketAddr, String> {
    let (host, port) = match &configured.host {
        Host::Ip(ip) => return Ok(SocketAddr::new(*ip, configured.port)),
        Host::Name(name) => (name.as_str(), configured.port),
    };
    match resolve(host, port) {
        Ok(Some(addr)) => Ok(addr),
        Ok(None) => Err(format!(
            "'{host}' resolves to no address; give an IP address or a resolvable name"
        )),
        Err(e) => Err(format!(
            "'{host}' does not resolve ({e}); give an IP address or a resolvable name"
        )),
    }
}

/// A server address as written, and where it points now: a host name is
/// resolved once, here.
pub(super) fn server_addr(text: &str) -> Result<(ServerAddr, SocketAddr), String> {
    let configured = parse_server_addr(text)?;
    let addr = resolve_server_addr(&configured)?;
    Ok((configured, addr))
}

/// A host name's first address, from the system resolver. Fuzz builds
/// (`--cfg fuzzing`, tests/fuzz/) never ask it: each name a fuzzer makes up
/// would be a DNS query, slow and sent off the machine. There every name
/// stands for 192.0.2.1 (TEST-NET-1), so the options after it are still read.
// `fuzzing` is set by cargo-fuzz only, so the lint does not know it.
#[allow(unexpected_cfgs)]
fn resolve(host: &str, port: u16) -> std::io::Result<Option<SocketAddr>> {
    if cfg!(fuzzing) {
        return Ok(Some(SocketAddr::new(
            Ipv4Addr::new(192, 0, 2, 1).into(),
            port,
        )));
    }
    (host, port).to_socket_addrs().map(|mut addrs| addrs.next())
}
