//! Fake servers for the health check tests: each speaks just enough of one
//! protocol's bytes (Redis, PostgreSQL, MySQL, LDAP, SMTP, HTTP with a
//! Patroni-like REST API, an SSL hello responder, an agent) to give the
//! prober the answers the real server gives: right, wrong, slow, closed at
//! once, closed mid-answer, garbage. The [`Mode`] and the protocol's knob
//! (the Redis role, the HTTP reply, the agent's line...) can be switched
//! while the server runs, and every byte each client sent is recorded.
//!
//! Each fake listens on 127.0.0.1 on a reserved port (see `free_port`), in
//! a thread per connection; drop stops it: its sockets are shut down and
//! every thread joined.
//!
//! `watch` runs l4lb in front of them and waits on `show stat`; with
//! `CHECKS_WITH_HAPROXY=/usr/sbin/haproxy` the same tests run HAProxy
//! instead, which is how their expectations were taken from HAProxy 2.6.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{addr, free_port};

/// How a fake answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// What a healthy server says.
    Right,
    /// A well-formed answer of a sick server (`-LOADING`, an `E` message, a
    /// MySQL error packet, LDAP resultCode 49, a 5xx, an HTTP 503...).
    Wrong,
    /// The right answer, after this delay.
    Slow(Duration),
    /// Accept, then close at once without a word.
    Close,
    /// The first half of the right answer, then close.
    CloseMid,
    /// Bytes no such server would send (the connection stays open).
    Garbage,
}

/// What [`Mode::Garbage`] sends.
pub(crate) const GARBAGE: &[u8] = b"\x00\x01\x02 garbage \xfe\xff\r\n";

type Handler<K> = dyn Fn(&mut Conn<K>) + Send + Sync;

/// A running fake server; `K` is its protocol's knob.
pub(crate) struct Fake<K> {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    knob: Arc<Mutex<K>>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<HashMap<usize, TcpStream>>>,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl<K: Clone + Send + 'static> Fake<K> {
    /// Serves `handler` on a reserved port, one thread per connection.
    fn serve(knob: K, handler: impl Fn(&mut Conn<K>) + Send + Sync + 'static) -> Fake<K> {
        let port = free_port();
        let listener = TcpListener::bind(addr(port)).expect("bind a fake server");
        let handler: Arc<Handler<K>> = Arc::new(handler);
        let mut fake = Fake {
            port,
            mode: Arc::new(Mutex::new(Mode::Right)),
            knob: Arc::new(Mutex::new(knob)),
            seen: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
            open: Arc::new(Mutex::new(HashMap::new())),
            accept: None,
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        let parts = fake.parts();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if parts.stop.load(SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                parts.spawn_conn(stream, &handler);
            }
        });
        fake.accept = Some(accept);
        fake
    }

    fn parts(&self) -> Parts<K> {
        Parts {
            mode: Arc::clone(&self.mode),
            knob: Arc::clone(&self.knob),
            seen: Arc::clone(&self.seen),
            stop: Arc::clone(&self.stop),
            open: Arc::clone(&self.open),
            conns: Arc::clone(&self.conns),
        }
    }

    /// Switches how it answers from the next exchange on.
    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Switches its protocol's knob (role, reply, agent line...).
    pub(crate) fn set(&self, knob: K) {
        *self.knob.lock().unwrap() = knob;
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// What each connection sent so far, in accept order.
    pub(crate) fn requests(&self) -> Vec<Vec<u8>> {
        self.seen.lock().unwrap().clone()
    }

    /// Whether some connection's bytes contain `marker`.
    pub(crate) fn got(&self, marker: &str) -> bool {
        let m = marker.as_bytes();
        let seen = self.seen.lock().unwrap();
        seen.iter().any(|r| r.windows(m.len()).any(|w| w == m))
    }

    /// What the last connection that sent anything sent.
    pub(crate) fn last_request(&self) -> Option<Vec<u8>> {
        let seen = self.seen.lock().unwrap();
        seen.iter().rev().find(|r| !r.is_empty()).cloned()
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        addr(self.port)
    }
}

impl<K> Drop for Fake<K> {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = TcpStream::connect(addr(self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for (_, s) in self.open.lock().unwrap().drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.conns.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }
}

/// What the accept thread shares with the fake and its connections.
struct Parts<K> {
    mode: Arc<Mutex<Mode>>,
    knob: Arc<Mutex<K>>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<HashMap<usize, TcpStream>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl<K: Clone + Send + 'static> Parts<K> {
    fn spawn_conn(&self, stream: TcpStream, handler: &Arc<Handler<K>>) {
        let idx = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Vec::new());
            seen.len() - 1
        };
        // A clone to shut down if the fake stops first; removed when the
        // handler is done so that the connection really closes then.
        if let Ok(clone) = stream.try_clone() {
            self.open.lock().unwrap().insert(idx, clone);
        }
        let mut conn = Conn {
            s: stream,
            buf: Vec::new(),
            idx,
            mode: Arc::clone(&self.mode),
            knob: Arc::clone(&self.knob),
            seen: Arc::clone(&self.seen),
            stop: Arc::clone(&self.stop),
        };
        let handler = Arc::clone(handler);
        let open = Arc::clone(&self.open);
        let t = std::thread::spawn(move || {
            if conn.mode() != Mode::Close {
                handler(&mut conn);
            }
            open.lock().unwrap().remove(&idx);
        });
        let mut conns = self.conns.lock().unwrap();
        conns.retain(|t| !t.is_finished());
        conns.push(t);
    }
}

/// One accepted connection, as a handler sees it.
pub(crate) struct Conn<K> {
    s: TcpStream,
    /// Received and not yet consumed by a `take`.
    buf: Vec<u8>,
    idx: usize,
    mode: Arc<Mutex<Mode>>,
    knob: Arc<Mutex<K>>,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
}

impl<K: Clone> Conn<K> {
    pub(crate) fn mode(&self) -> Mode {
        self.mode.lock().unwrap().clone()
    }

    pub(crate) fn knob(&self) -> K {
        self.knob.lock().unwrap().clone()
    }

    /// Reads until `complete` finds a whole message at the start of what
    /// came, and takes it; None at EOF (or when the fake stops) first.
    pub(crate) fn take(&mut self, complete: impl Fn(&[u8]) -> Option<usize>) -> Option<Vec<u8>> {
        loop {
            if let Some(n) = complete(&self.buf) {
                return Some(self.buf.drain(..n.min(self.buf.len())).collect());
            }
            if !self.read_more() {
                return None;
            }
        }
    }

    /// Reads (and records) until the client closes.
    pub(crate) fn drain(&mut self) {
        while self.read_more() {}
    }

    fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.s.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.seen.lock().unwrap()[self.idx].extend_from_slice(&chunk[..n]);
                !self.stop.load(SeqCst)
            }
        }
    }

    /// Writes `bytes`; false if the client is gone.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> bool {
        self.s.write_all(bytes).is_ok()
    }

    /// Sleeps `d`, or less if the fake stops; false if it stopped.
    fn pause(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.stop.load(SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Answers one exchange as the mode says: `right`, `wrong`, `right`
    /// late, half of `right` then close, or garbage. False when the
    /// connection is to end (the handler then returns).
    pub(crate) fn answer(&mut self, right: &[u8], wrong: &[u8]) -> bool {
        match self.mode() {
            Mode::Right => self.write(right),
            Mode::Wrong => self.write(wrong),
            Mode::Slow(d) => self.pause(d) && self.write(right),
            Mode::Close => false,
            Mode::CloseMid => {
                self.write(&right[..right.len() / 2]);
                false
            }
            Mode::Garbage => {
                self.write(GARBAGE);
                self.drain();
                false
            }
        }
    }
}

/// Where a line ends (after its `\n`), for `take`.
pub(crate) fn line(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n').map(|i| i + 1)
}

mod binary;
mod http;
mod text;
mod watch;

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub(crate) use binary::{MysqlAuth, PgAuth, mysql_user, pg_user};
#[allow(unused_imports)]
pub(crate) use http::{Framing, HttpReply, Role, request_line, request_path};
#[allow(unused_imports)]
pub(crate) use text::Smtp;
#[allow(unused_imports)]
pub(crate) use watch::{
    Cases, Checked, Row, SLOW, Shows, assert_cases, check_conf, listen, only, shows, six, through,
    without,
};
