//! Many connections with random behaviour (issue 9, S8): 50 connections at
//! once, each following its own seeded script of steps (one side writes,
//! half-closes or resets), with an oracle of what the other side must see.
//! Client and server of a connection walk the script in lockstep, so every
//! outcome is determined: the reader gets exactly the bytes written; a
//! half-close is a clean EOF; a reset is a reset: at the next read, or, if
//! the resetting side had half-closed before, once the peer writes (l4lb
//! reads no more from a side that sent its FIN, so it learns of the reset
//! when it next writes there). A failure names the seed, the connection and
//! its script; `FAULT_SEED=N` replays another seed.

mod common;
#[path = "common/fault.rs"]
mod fault;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use common::*;
use fault::*;

const CONNECTIONS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Client,
    Server,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// That side writes this many bytes; the other reads exactly them.
    Write(Who, usize),
    /// That side shuts its writing side; the other reads a clean EOF.
    HalfClose(Who),
    /// That side closes with an RST; the other sees a reset. Last step.
    Reset(Who),
}

/// xorshift64: a seeded, reproducible source of choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A script of 3 to 20 steps; both sides half-closed at the end unless a
/// reset ended it. Writes are mostly small (copied), one in five large
/// enough to be spliced.
fn script(rng: &mut Rng) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut open = [true, true]; // client, server may still write
    let side = |i: usize| if i == 0 { Who::Client } else { Who::Server };
    for _ in 0..3 + rng.below(18) {
        let who = rng.below(2) as usize;
        let roll = rng.below(16);
        if roll == 0 && (open[0] || open[1]) {
            steps.push(Step::Reset(side(who)));
            return steps;
        }
        if !open[who] {
            continue;
        }
        if roll < 3 {
            steps.push(Step::HalfClose(side(who)));
            open[who] = false;
        } else {
            let len = if rng.below(5) == 0 {
                64 * 1024 + rng.below(448 * 1024)
            } else {
                1 + rng.below(16 * 1024)
            };
            steps.push(Step::Write(side(who), len as usize));
        }
    }
    let first = rng.below(2) as usize;
    for who in [first, 1 - first] {
        if open[who] {
            steps.push(Step::HalfClose(side(who)));
        }
    }
    steps
}

/// A two-party barrier with a bound, which either party can break.
#[derive(Default)]
struct Lockstep {
    /// (generation, arrived in this one, broken)
    state: Mutex<(u64, u8, bool)>,
    turn: Condvar,
}

impl Lockstep {
    /// Waits for the other side to finish this step too; false if it gave
    /// up or never came.
    fn wait(&self) -> bool {
        let mut g = self.state.lock().unwrap();
        if g.2 {
            return false;
        }
        let generation = g.0;
        g.1 += 1;
        if g.1 == 2 {
            (g.0, g.1) = (g.0 + 1, 0);
            self.turn.notify_all();
            return true;
        }
        let (g, _) = self
            .turn
            .wait_timeout_while(g, LIMIT, |g| g.0 == generation && !g.2)
            .unwrap();
        g.0 != generation
    }

    fn give_up(&self) {
        self.state.lock().unwrap().2 = true;
        self.turn.notify_all();
    }
}

/// One connection's script and the lockstep its two sides share.
struct Conn {
    steps: Vec<Step>,
    sync: Lockstep,
}

/// Pattern seed of step `k` of connection `id`.
fn seed(id: usize, k: usize) -> u64 {
    (id as u64) << 32 | k as u64
}

/// Plays side `me` of connection `id` on `s`; the first thing that went
/// other than the oracle says, if anything.
fn play(me: Who, id: usize, conn: &Conn, mut s: TcpStream) -> Result<(), String> {
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    // Both ends are connected (the server has read its header) before
    // the first step: a step that resets cannot overtake the connect.
    if !conn.sync.wait() {
        return Err(format!("{me:?}: the other side never came"));
    }
    // The peer's FIN came: nothing more can be read, not even a reset.
    let mut peer_closed = false;
    for (k, &step) in conn.steps.iter().enumerate() {
        let outcome = match step {
            Step::Write(who, n) if who == me => {
                send(&mut s, seed(id, k), n).map_err(|e| format!("write failed: {e:?}"))
            }
            Step::Write(_, n) => {
                let got = receive_up_to(&mut s, n);
                if got.is_pattern(seed(id, k), n) {
                    Ok(())
                } else {
                    Err(format!(
                        "read {} of {n} bytes (intact: {}), then {:?}",
                        got.len,
                        got.is_pattern_prefix(seed(id, k)),
                        got.end
                    ))
                }
            }
            Step::HalfClose(who) if who == me => s
                .shutdown(Shutdown::Write)
                .map_err(|e| format!("shutdown: {e}")),
            Step::HalfClose(_) => {
                let got = receive_up_to(&mut s, 1);
                peer_closed = true;
                match (got.len, got.end) {
                    (0, End::Eof) => Ok(()),
                    _ => Err(format!("a clean EOF, not {got:?}")),
                }
            }
            // The last step. The resetting side resets (at once, though a
            // backend's handler holds a dup of its socket), meets the other
            // in lockstep, and is done; the other looks only then.
            Step::Reset(who) if who == me => {
                abort(&s);
                conn.sync.wait();
                return Ok(());
            }
            Step::Reset(_) => {
                if !conn.sync.wait() {
                    return Err(format!("{me:?} at step {k}: the other side never reset"));
                }
                let seen = see_reset(&mut s, peer_closed);
                return seen.map_err(|e| format!("{me:?} at step {k} ({step:?}): {e}"));
            }
        };
        if let Err(e) = outcome {
            conn.sync.give_up();
            return Err(format!("{me:?} at step {k} ({step:?}): {e}"));
        }
        if !conn.sync.wait() {
            return Err(format!("{me:?} at step {k}: the other side gave up"));
        }
    }
    Ok(())
}

/// The peer reset its socket. If its bytes could still come, the next read
/// says reset; if it had half-closed, l4lb learns of the reset when it next
/// writes to it: write, then the connection must drop with an RST.
fn see_reset(sock: &mut TcpStream, peer_closed: bool) -> Result<(), String> {
    if !peer_closed {
        let got = receive(sock);
        return match (got.len, got.end) {
            (0, End::Reset) => Ok(()),
            _ => Err(format!("a reset, not {got:?}")),
        };
    }
    if let Err(e) = sock.write_all(&[0u8; 1024]) {
        return match End::of(&e) {
            End::Reset => Ok(()),
            end => Err(format!("a reset, not {end:?} on the probe write")),
        };
    }
    match wait_hangup(sock, LIMIT) {
        End::Reset => Ok(()),
        end => Err(format!("a reset after the probe write, not {end:?}")),
    }
}

fn many_random_connections(extra: &str, default_seed: u64) {
    let base = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    let mut rng = Rng(base | 1);
    let conns: Arc<Vec<Conn>> = Arc::new(
        (0..CONNECTIONS)
            .map(|_| Conn {
                steps: script(&mut rng),
                sync: Lockstep::default(),
            })
            .collect(),
    );
    let server_fails = Arc::new(Mutex::new(Vec::new()));
    let backend = || {
        let (conns, fails) = (Arc::clone(&conns), Arc::clone(&server_fails));
        scripted(move |word, s| {
            let id: usize = word.strip_prefix("conn ").unwrap().parse().unwrap();
            let conn = &conns[id];
            if let Err(e) = play(Who::Server, id, conn, s) {
                let steps = &conn.steps;
                fails
                    .lock()
                    .unwrap()
                    .push(format!("conn {id} {steps:?}: {e}"));
            }
        })
    };
    let (a, b) = (backend(), backend());
    let lb = Lb::start(
        &[a.addr(), b.addr()],
        &format!("balance roundrobin\n{extra}"),
    );
    let port = lb.port;
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|id| {
            let conns = Arc::clone(&conns);
            thread::spawn(move || -> Result<(), String> {
                let conn = &conns[id];
                let steps = &conn.steps;
                let mut c = connect(port);
                c.write_all(format!("conn {id}\n").as_bytes())
                    .map_err(|e| format!("conn {id}: header: {e}"))?;
                play(Who::Client, id, conn, c).map_err(|e| format!("conn {id} {steps:?}: {e}"))
            })
        })
        .collect();
    let mut fails: Vec<String> = clients
        .into_iter()
        .filter_map(|t| t.join().unwrap().err())
        .collect();
    // The server sides end with their connections.
    let idle = || a.counts.active.load(SeqCst) + b.counts.active.load(SeqCst) == 0;
    assert!(wait_until(LIMIT, idle), "every server side finished");
    fails.extend(server_fails.lock().unwrap().drain(..));
    fails.sort();
    assert!(
        fails.is_empty(),
        "seed {base}: {} failures:\n{}",
        fails.len(),
        fails.join("\n")
    );
    // One log line each: CD for a client's reset, SD for a server's, --
    // for the connections both sides closed.
    let ended_by = |who: Who| {
        let reset = |c: &&Conn| matches!(c.steps.last(), Some(Step::Reset(w)) if *w == who);
        conns.iter().filter(reset).count()
    };
    let (cd, sd) = (ended_by(Who::Client), ended_by(Who::Server));
    let states = lb.wait_states(CONNECTIONS);
    let count = |s: &str| states.iter().filter(|t| *t == s).count();
    assert_eq!(
        (count("CD"), count("SD"), count("--")),
        (cd, sd, CONNECTIONS - cd - sd),
        "seed {base}: {states:?}"
    );
    lb.audit(&[a.port, b.port]);
}

#[test]
fn fifty_connections_with_random_steps_with_splice() {
    many_random_connections("option splice-auto", 0x5eed_0009);
}

#[test]
fn fifty_connections_with_random_steps_with_copy() {
    many_random_connections("no option splice-auto", 0x5eed_0010);
}
