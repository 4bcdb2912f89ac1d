//! Cost of one `Balancer::pick` per algorithm, with 3 and 100 servers.
//!
//! Servers, balancers and client addresses are built before timing; the
//! timed closure only advances through the prepared clients and picks. No
//! connection is held, so least-connections and random compare idle loads
//! and the hashing algorithms never walk: this is the common-case cost.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use l4lb::backend::Server;
use l4lb::balance::Balancer;
use l4lb::config::{Balance, ServerConf};

const ALGORITHMS: [(&str, Balance); 6] = [
    ("roundrobin", Balance::RoundRobin),
    ("leastconn", Balance::LeastConn),
    ("source-consistent", Balance::Source { consistent: true }),
    ("source-map-based", Balance::Source { consistent: false }),
    ("random2", Balance::Random { draws: 2 }),
    ("first", Balance::First),
];
const SERVER_COUNTS: [usize; 2] = [3, 100];
/// Distinct clients cycled through, so hashing sees varied keys; a power of
/// two so that wrapping is a mask.
const CLIENTS: usize = 1024;

/// Servers with weights 1..=4 in turn.
fn servers(n: usize) -> Vec<Arc<Server>> {
    (0..n)
        .map(|i| {
            Arc::new(Server::new(&ServerConf {
                weight: (i % 4) as u32 + 1,
                ..ServerConf::new(format!("srv{i}"), "127.0.0.1:1".parse().unwrap())
            }))
        })
        .collect()
}

fn clients() -> Vec<IpAddr> {
    (0..CLIENTS as u32)
        .map(|i| {
            IpAddr::V4(Ipv4Addr::from_bits(
                0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8,
            ))
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let clients = clients();
    for (name, kind) in ALGORITHMS {
        let mut group = c.benchmark_group(name);
        for n in SERVER_COUNTS {
            let servers = servers(n);
            let mut balancer = Balancer::new(kind, &servers, 1);
            let mut next = 0;
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| {
                    next = (next + 1) & (CLIENTS - 1);
                    black_box(balancer.pick(&servers, black_box(clients[next]), None))
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Short runs: the machine is shared, and picks are nanoseconds.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = pick
}
criterion_main!(benches);
