//! The loopback servers a `start` file's `@BE_name@` ports get, by the
//! behaviour its `l4lb-server` marks give them (echo by default).

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::Backend;
use crate::marks::Behaviour;

/// Starts what `behaviour` asks for on `port` (reserved by `free_port`);
/// `None` for a server that is down (nothing listens: connects are refused).
pub(crate) fn start(name: &str, port: u16, behaviour: Behaviour) -> Option<Backend> {
    // Backends keep their name for the life of the test process.
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    match behaviour {
        Behaviour::Echo => Some(Backend::named_at(name, port)),
        Behaviour::Down => None,
        Behaviour::RedisMaster => Some(Backend::start_at(port, redis(name, "master"))),
        Behaviour::RedisReplica => Some(Backend::start_at(port, redis(name, "slave"))),
    }
}

/// A Redis node as a tcp-check sees it: `PING` gets `+PONG`, `info
/// replication` gets its role (a replica then hangs up, so its check fails
/// at once rather than at `timeout check`), `QUIT` gets `+OK` and a close.
/// Anything else is echoed, after the name line `round_trip` reads.
fn redis(name: &'static str, role: &'static str) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        if s.write_all(format!("{name}\n").as_bytes()).is_err() {
            return;
        }
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let (reply, close): (&[u8], bool) = if chunk.starts_with(b"PING") {
                (b"+PONG\r\n", false)
            } else if chunk.starts_with(b"info replication") {
                let reply = format!("# Replication\r\nrole:{role}\r\n").into_bytes();
                if s.write_all(&reply).is_err() || role != "master" {
                    return;
                }
                continue;
            } else if chunk.starts_with(b"QUIT") {
                (b"+OK\r\n", true)
            } else {
                (chunk, false)
            };
            if s.write_all(reply).is_err() || close {
                return;
            }
        }
    }
}
