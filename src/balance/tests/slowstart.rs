use super::testutil::*;
use crate::balance::*;

/// Share of `n` picks (distinct clients, each connection held) that go
/// to server 0.
fn share_of_first(kind: Balance, servers: &[Arc<Server>], n: u32) -> f64 {
    let mut b = Balancer::new(kind, servers, 3);
    let mut held = Vec::new();
    let mut hits = 0;
    for c in clients(n) {
        let i = b.pick(servers, c, None).expect("a server");
        hits += u32::from(i == 0);
        held.extend(hold(&servers[i], 1));
    }
    f64::from(hits) / f64::from(n)
}

#[test]
fn every_algorithm_gives_a_ramping_server_its_ramped_share() {
    for kind in ALL {
        let servers = weighted(&[1, 1, 1]);
        let full = share_of_first(kind, &servers, 3000);
        servers[0].set_ramp(RAMP_FULL / 4);
        let quarter = share_of_first(kind, &servers, 3000);
        servers[0].set_ramp(1);
        let least = share_of_first(kind, &servers, 3000);
        // `first` fills server 0 (no maxconn): all of it, then a quarter,
        // then almost nothing. Weighted ones: a third, then 0.25 / 2.25.
        let (want_full, want_quarter) = match kind {
            Balance::First => (1.0, 0.25),
            _ => (1.0 / 3.0, 0.25 / 2.25),
        };
        assert!((full - want_full).abs() < 0.04, "{kind:?}: full {full}");
        assert!(
            (quarter - want_quarter).abs() < 0.04,
            "{kind:?}: quarter ramp {quarter}, want {want_quarter}"
        );
        assert!(least < 0.02, "{kind:?}: minimal ramp {least}");
    }
}

#[test]
fn a_ramping_server_alone_still_takes_every_pick() {
    for kind in ALL {
        let servers = weighted(&[1, 1]);
        servers[0].set_ramp(1);
        servers[1].set_up(false);
        let mut b = Balancer::new(kind, &servers, 3);
        for c in clients(50) {
            assert_eq!(b.pick(&servers, c, None), Some(0), "{kind:?}");
        }
    }
}

#[test]
fn hashing_ramp_admits_a_growing_set_and_leaves_other_clients_alone() {
    for kind in [
        Balance::Source { consistent: true },
        Balance::Source { consistent: false },
    ] {
        let servers = weighted(&[1, 1, 1]);
        let clients = clients(3000);
        let map = |servers: &[Arc<Server>]| -> Vec<usize> {
            let mut b = Balancer::new(kind, servers, 3);
            clients
                .iter()
                .map(|&c| b.pick(servers, c, None).unwrap())
                .collect()
        };
        let settled = map(&servers);
        let mut admitted_before = vec![false; clients.len()];
        for ramp in [1, 16, 64, 128, 200, RAMP_FULL] {
            servers[0].set_ramp(ramp);
            let now = map(&servers);
            for (c, (&was, &is)) in settled.iter().zip(&now).enumerate() {
                if was != 0 {
                    assert_eq!(is, was, "{kind:?}: client {c} of another server moved");
                } else {
                    assert!(
                        !admitted_before[c] || is == 0,
                        "{kind:?}: client {c} left the recovering server at ramp {ramp}"
                    );
                    admitted_before[c] = is == 0;
                }
            }
        }
        assert_eq!(map(&servers), settled, "{kind:?}: full ramp, old mapping");
    }
}
