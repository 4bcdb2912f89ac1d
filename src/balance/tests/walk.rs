//! Slow start's one walk, and the three algorithms that take it.

use super::testutil::*;
use crate::balance::hash::{hash_ip, hash_name, slowstart_draw};
use crate::balance::random::XorShift64Star;
use crate::balance::*;

/// A draw every ramp admits, and one that only a full ramp admits.
const LOW: u64 = 0;
const HIGH: u64 = u64::MAX;

#[test]
fn the_first_eligible_candidate_that_admits_its_draw_takes_the_pick() {
    let servers = weighted(&[1, 1, 1, 1]);
    servers[1].set_ramp(RAMP_FULL / 2);
    servers[3].set_up(false);
    let draw = |i| if i == 1 { HIGH } else { LOW };
    // 3 is DOWN, 0 avoided, 1 ramping and not admitting: 2.
    assert_eq!(
        first_admitted([3, 0, 1, 2], &servers, Some(0), draw),
        Some(2)
    );
    assert_eq!(
        first_admitted([1, 0], &servers, None, draw),
        Some(0),
        "candidate order, not server order"
    );
    assert_eq!(
        first_admitted([1, 2], &servers, None, |_| LOW),
        Some(1),
        "a ramping server admits a draw under its ramp"
    );
}

#[test]
fn when_no_candidate_admits_the_first_eligible_one_takes_the_pick() {
    let servers = weighted(&[1, 1, 1]);
    for s in &servers {
        s.set_ramp(1);
    }
    servers[0].set_up(false);
    assert_eq!(first_admitted([0, 2, 1], &servers, None, |_| HIGH), Some(2));
    assert_eq!(
        first_admitted([0, 2, 1], &servers, Some(2), |_| HIGH),
        Some(1)
    );
    assert_eq!(first_admitted([0, 2], &servers, Some(2), |_| HIGH), None);
    assert_eq!(first_admitted([], &servers, None, |_| LOW), None);
}

#[test]
fn draws_are_asked_of_eligible_candidates_only_in_order_until_one_admits() {
    let servers = weighted(&[1, 1, 1, 1]);
    for s in &servers {
        s.set_ramp(1);
    }
    servers[2].set_up(false);
    let mut asked = Vec::new();
    let got = first_admitted(0..4, &servers, Some(0), |i| {
        asked.push(i);
        HIGH
    });
    assert_eq!((got, &asked[..]), (Some(1), &[1, 3][..]));
    asked.clear();
    let got = first_admitted(0..4, &servers, None, |i| {
        asked.push(i);
        if i == 1 { LOW } else { HIGH }
    });
    assert_eq!((got, &asked[..]), (Some(1), &[0, 1][..]));
}

/// Issue 10: first, map-based and consistent hashing take one walk. A
/// ramping server that does not admit a pick's draw is passed over
/// exactly as if the pick avoided it; one that admits it keeps it.
#[test]
fn first_and_both_source_hashes_pass_over_a_ramping_server_as_if_avoided() {
    const SEED: u64 = 5;
    for kind in [
        Balance::First,
        Balance::Source { consistent: true },
        Balance::Source { consistent: false },
    ] {
        let servers = weighted(&[1, 1, 1]);
        let clients = clients(3000);
        let mut b = Balancer::new(kind, &servers, SEED);
        let mut settled = |avoid| -> Vec<Option<usize>> {
            clients
                .iter()
                .map(|&c| b.pick(&servers, c, avoid))
                .collect()
        };
        let (full, avoiding) = (settled(None), settled(Some(0)));

        servers[0].set_ramp(RAMP_FULL / 4);
        let mut b = Balancer::new(kind, &servers, SEED);
        // First draws from its RNG for each eligible server it meets;
        // the hashes draw by client and server name.
        let mut rng = XorShift64Star::new(SEED);
        let (mut kept, mut passed) = (0, 0);
        for (i, &c) in clients.iter().enumerate() {
            let draw = match kind {
                Balance::First => rng.next(),
                _ => slowstart_draw(hash_ip(c), hash_name("s0")),
            };
            let admitted = admits(&servers[0], draw);
            let want = match full[i] {
                Some(0) if admitted => {
                    kept += 1;
                    full[i]
                }
                Some(0) => {
                    passed += 1;
                    if kind == Balance::First {
                        rng.next(); // server 1's draw: it takes the pick
                    }
                    avoiding[i]
                }
                _ => full[i],
            };
            assert_eq!(b.pick(&servers, c, None), want, "{kind:?}: client {c}");
        }
        assert!(
            kept > 0 && passed > kept,
            "{kind:?}: {kept} kept, {passed} passed"
        );
    }
}
