//! Servers and clients shared by the algorithms' tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::backend::{ConnGuard, Server};
use crate::config::{Balance, ServerConf};
use crate::testutil::{server_conf, server_from};

pub(in crate::balance) fn server(
    name: &str,
    weight: u32,
    maxconn: u32,
    disabled: bool,
) -> Arc<Server> {
    server_from(&ServerConf {
        weight,
        maxconn,
        disabled,
        ..server_conf(name)
    })
}

/// Unlimited, enabled servers with these weights, named `s0`, `s1`, ...
pub(in crate::balance) fn weighted(weights: &[u32]) -> Vec<Arc<Server>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| server(&format!("s{i}"), w, 0, false))
        .collect()
}

/// `n` distinct clients: four in five are 10.x.y.z, one in five IPv6.
pub(in crate::balance) fn clients(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| {
            let [_, b, c, d] = i.to_be_bytes();
            if i % 5 == 4 {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                ))
            } else {
                IpAddr::V4(Ipv4Addr::new(10, b, c, d))
            }
        })
        .collect()
}

/// Every algorithm, with both hash types and draw counts.
pub(in crate::balance) const ALL: [Balance; 7] = [
    Balance::RoundRobin,
    Balance::LeastConn,
    Balance::Source { consistent: true },
    Balance::Source { consistent: false },
    Balance::Random { draws: 2 },
    Balance::Random { draws: 1 },
    Balance::First,
];

pub(in crate::balance) fn any_client() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

/// Takes `n` slots on `server`; they are released when the guards drop.
pub(in crate::balance) fn hold(server: &Arc<Server>, n: u32) -> Vec<ConnGuard> {
    (0..n)
        .map(|_| ConnGuard::acquire(server).expect("slot below maxconn"))
        .collect()
}

/// Asserts that `counts` (picks per server) follow `weights` within
/// `tolerance` (a share, 0.02 = 2 percentage points).
pub(in crate::balance) fn assert_ratio(counts: &[u32], weights: &[u32], tolerance: f64) {
    let picks: u32 = counts.iter().sum();
    let total_weight: u32 = weights.iter().sum();
    for (i, (&c, &w)) in counts.iter().zip(weights).enumerate() {
        let got = f64::from(c) / f64::from(picks);
        let want = f64::from(w) / f64::from(total_weight);
        assert!(
            (got - want).abs() <= tolerance,
            "server {i}: share {got:.4}, weight share {want:.4} (counts {counts:?})"
        );
    }
}
