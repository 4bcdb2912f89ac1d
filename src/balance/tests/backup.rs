use std::collections::BTreeSet;

use crate::backend::ConnGuard;
use crate::balance::*;
use crate::config::ServerConf;
use crate::testutil::{server_conf, server_from};

fn servers(backups: &[bool], maxconn: u32) -> Vec<Arc<Server>> {
    backups
        .iter()
        .enumerate()
        .map(|(i, &backup)| {
            server_from(&ServerConf {
                maxconn,
                backup,
                ..server_conf(&format!("s{i}"))
            })
        })
        .collect()
}

fn picks(b: &mut Balancer, s: &[Arc<Server>]) -> BTreeSet<usize> {
    let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    (0..20).filter_map(|_| b.pick(s, ip, None)).collect()
}

#[test]
fn backups_only_while_no_regular_server_is_up() {
    let s = servers(&[false, false, true, true], 0);
    let mut b = Balancer::with_backups(Balance::RoundRobin, &s, 1, false);
    assert_eq!(picks(&mut b, &s), BTreeSet::from([0, 1]));
    s[0].set_up(false);
    assert_eq!(
        picks(&mut b, &s),
        BTreeSet::from([1]),
        "one regular server is enough"
    );
    s[1].set_up(false);
    assert_eq!(
        picks(&mut b, &s),
        BTreeSet::from([2]),
        "the first backup takes over"
    );
    let mut all = Balancer::with_backups(Balance::RoundRobin, &s, 1, true);
    assert_eq!(
        picks(&mut all, &s),
        BTreeSet::from([2, 3]),
        "allbackups: all of them"
    );
    s[1].set_up(true);
    assert_eq!(picks(&mut b, &s), BTreeSet::from([1]), "handed back");
}

#[test]
fn full_regular_servers_do_not_spill_to_backups() {
    let s = servers(&[false, true], 1);
    let mut b = Balancer::with_backups(Balance::LeastConn, &s, 1, false);
    let _held = ConnGuard::acquire(&s[0]).unwrap();
    let ip: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    assert_eq!(
        b.pick(&s, ip, None),
        None,
        "UP but full: wait, do not use the backup"
    );
}
