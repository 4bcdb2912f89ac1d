//! Properties every algorithm shares, checked on all of them.

use super::testutil::*;
use crate::balance::*;

/// Picks for many distinct clients (so hashing algorithms try every server).
fn picks(kind: Balance, servers: &[Arc<Server>], avoid: Option<usize>) -> Vec<Option<usize>> {
    let mut b = Balancer::new(kind, servers, 7);
    clients(300)
        .into_iter()
        .map(|c| b.pick(servers, c, avoid))
        .collect()
}

#[test]
fn weight_zero_never_picked() {
    let servers = weighted(&[1, 0, 1]);
    for kind in ALL {
        let got = picks(kind, &servers, None);
        assert!(
            got.iter().all(|p| matches!(p, Some(0 | 2))),
            "{kind:?}: {got:?}"
        );
    }
}

#[test]
fn disabled_never_picked() {
    let servers = vec![
        server("a", 1, 0, true),
        server("b", 1, 0, false),
        server("c", 1, 0, true),
    ];
    for kind in ALL {
        let got = picks(kind, &servers, None);
        assert!(got.iter().all(|&p| p == Some(1)), "{kind:?}: {got:?}");
    }
}

#[test]
fn server_at_maxconn_skipped() {
    let servers = vec![
        server("a", 1, 2, false),
        server("b", 1, 0, false),
        server("c", 1, 3, false),
    ];
    let _a = hold(&servers[0], 2);
    let _c = hold(&servers[2], 3);
    for kind in ALL {
        let got = picks(kind, &servers, None);
        assert!(got.iter().all(|&p| p == Some(1)), "{kind:?}: {got:?}");
    }
}

#[test]
fn avoid_never_returned_when_another_server_available() {
    let servers = weighted(&[1, 3, 1]);
    for kind in ALL {
        for avoid in 0..servers.len() {
            let got = picks(kind, &servers, Some(avoid));
            assert!(
                got.iter().all(|&p| p.is_some() && p != Some(avoid)),
                "{kind:?} avoid {avoid}: {got:?}"
            );
        }
    }
}

#[test]
fn avoid_of_the_only_available_server_gives_none() {
    let servers = vec![
        server("a", 1, 0, true),
        server("b", 1, 0, false),
        server("c", 0, 0, false),
    ];
    for kind in ALL {
        let got = picks(kind, &servers, Some(1));
        assert!(got.iter().all(Option::is_none), "{kind:?}: {got:?}");
    }
}

#[test]
fn all_unavailable_gives_none() {
    let servers = vec![
        server("a", 1, 0, true),
        server("b", 0, 0, false),
        server("c", 1, 1, false),
    ];
    let _c = hold(&servers[2], 1);
    for kind in ALL {
        let got = picks(kind, &servers, None);
        assert!(got.iter().all(Option::is_none), "{kind:?}: {got:?}");
    }
}

#[test]
fn no_servers_gives_none() {
    for kind in ALL {
        assert_eq!(picks(kind, &[], None)[0], None, "{kind:?}");
    }
}

#[test]
fn a_hash_key_picks_as_the_address_it_was_made_from() {
    let servers = weighted(&[1, 2, 3]);
    for kind in [
        Balance::Source { consistent: true },
        Balance::Source { consistent: false },
    ] {
        let mut b = Balancer::new(kind, &servers, 1);
        for c in clients(500) {
            let by_addr = b.pick(&servers, c, None);
            assert!(by_addr.is_some());
            assert_eq!(b.pick(&servers, HashKey::from(c), None), by_addr);
            assert_eq!(b.pick(&servers, HashKey(hash::hash_ip(c)), None), by_addr);
            if let std::net::IpAddr::V4(v4) = c {
                let mapped = std::net::IpAddr::V6(v4.to_ipv6_mapped());
                assert_eq!(b.pick(&servers, mapped, None), by_addr, "{kind:?}: {c}");
            }
        }
    }
}

#[test]
fn server_freed_from_maxconn_is_picked_again() {
    let servers = vec![server("a", 1, 1, false)];
    for kind in ALL {
        let mut b = Balancer::new(kind, &servers, 1);
        let held = hold(&servers[0], 1);
        assert_eq!(b.pick(&servers, any_client(), None), None, "{kind:?}");
        drop(held);
        assert_eq!(b.pick(&servers, any_client(), None), Some(0), "{kind:?}");
    }
}
