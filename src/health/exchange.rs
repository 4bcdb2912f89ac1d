//! A check in progress: walks its [`Step`]s over the connection as far as
//! the socket allows. Connects are the prober's (it owns the registry);
//! sends, the TLS handshake and expects are here.

use std::io::{self, Read, Write};
use std::time::Instant;

use super::conn::CheckConn;
use super::rules::{Step, Verdict};
use crate::backend::{CheckStatus, PortLease};
use crate::config::ConnectRule;
use crate::proxy::net::{self, Progress};

/// The check buffer: an expect that has not decided within this much data
/// decides on what it has (HAProxy's `tune.bufsize`).
pub(super) const CHECK_BUFFER: usize = 16 * 1024;

/// A check in progress.
pub(super) struct Pending {
    pub(super) started: Instant,
    /// The connection of the last connect step, once the prober made it.
    pub(super) conn: Option<CheckConn>,
    /// The connect finished (and its TLS handshake, if any).
    pub(super) ready: bool,
    pub(super) connected: bool,
    /// Index of the current step, and bytes of it sent so far.
    pub(super) step: usize,
    pub(super) sent: usize,
    /// What the server sent since the last send or connect.
    pub(super) received: Vec<u8>,
    /// The server closed its side.
    pub(super) closed: bool,
    /// What the last passed expect said (the check's status if it ends there).
    pub(super) passed: Option<(CheckStatus, String)>,
    /// A port of the server's source range, back when the check (its
    /// socket, dropped first) ends: HAProxy's checks take one too.
    pub(super) _port: Option<PortLease>,
}

/// Where a check stands after [`advance`].
#[derive(Debug)]
pub(super) enum Advance {
    /// Waiting for the socket.
    Wait,
    /// The prober must open the connection of this connect step.
    Connect(ConnectRule),
    Done(CheckStatus, String),
    Failed(CheckStatus, String),
}

impl Pending {
    pub(super) fn new(started: Instant) -> Pending {
        Pending {
            started,
            conn: None,
            ready: false,
            connected: false,
            step: 0,
            sent: 0,
            received: Vec::new(),
            closed: false,
            passed: None,
            _port: None,
        }
    }

    /// The connection of the step in progress is open: its connect (and
    /// handshake) come next.
    pub(super) fn opened(&mut self, conn: CheckConn, port: Option<PortLease>) {
        self.conn = Some(conn);
        self._port = port;
        (self.ready, self.connected, self.closed) = (false, false, false);
        self.received.clear();
    }

    /// What a timeout now means: HAProxy's status for the stage it hit.
    pub(super) fn timed_out(&self, steps: &[Step], ms: u128) -> (CheckStatus, String) {
        match (&self.conn, steps.get(self.step)) {
            (Some(c), Some(Step::Connect(_))) if self.connected && c.is_tls() => (
                CheckStatus::L6Tout,
                format!("TLS handshake timeout after {ms}ms"),
            ),
            (Some(_), Some(Step::Expect(judge))) => (
                judge.timeout_status(),
                format!(
                    "no {} within {ms}ms, got {:?}",
                    judge.describe(),
                    String::from_utf8_lossy(&self.received[..self.received.len().min(64)])
                ),
            ),
            (Some(_), Some(Step::Send(_))) if self.connected => {
                (CheckStatus::L7Tout, format!("send timeout after {ms}ms"))
            }
            _ => (CheckStatus::L4Tout, format!("timeout after {ms}ms")),
        }
    }
}

/// Walks the steps as far as the socket allows.
pub(super) fn advance(p: &mut Pending, steps: &[Step]) -> Advance {
    while let Some(step) = steps.get(p.step) {
        let progress = match step {
            Step::Connect(rule) => connect(p, rule),
            Step::Send(bytes) => send(p, bytes),
            Step::Expect(judge) => expect(p, &**judge),
        };
        match progress {
            Ok(true) => p.step += 1,
            Ok(false) => return Advance::Wait,
            Err(end) => return end,
        }
    }
    match p.passed.take() {
        Some((status, why)) => Advance::Done(status, why),
        None if p.conn.as_ref().is_some_and(CheckConn::is_tls) => {
            Advance::Done(CheckStatus::L6Ok, "Layer6 check passed".into())
        }
        None => Advance::Done(CheckStatus::L4Ok, "Layer4 check passed".into()),
    }
}

/// A connect step: Ok(true) once connected and any handshake done.
fn connect(p: &mut Pending, rule: &ConnectRule) -> Result<bool, Advance> {
    let Some(conn) = &mut p.conn else {
        return Err(Advance::Connect(rule.clone()));
    };
    if p.ready {
        // Open from an earlier pass over this step: ask for the next one.
        return Err(Advance::Connect(rule.clone()));
    }
    if !p.connected {
        match net::connect_outcome(conn.socket()) {
            Progress::Connected => p.connected = true,
            Progress::Waiting => return Ok(false),
            Progress::Failed(e) => return Err(Advance::Failed(CheckStatus::L4Con, describe(&e))),
        }
    }
    match conn.handshake() {
        Ok(true) => {
            p.ready = true;
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(e) => Err(Advance::Failed(
            CheckStatus::L6Rsp,
            format!("TLS handshake failed: {e}"),
        )),
    }
}

fn send(p: &mut Pending, bytes: &[u8]) -> Result<bool, Advance> {
    let Some(conn) = &mut p.conn else {
        return Err(Advance::Failed(
            CheckStatus::SockErr,
            "send before connect".into(),
        ));
    };
    while p.sent < bytes.len() {
        match conn.write(&bytes[p.sent..]) {
            Ok(n) => p.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => {
                let why = format!("send failed: {}", describe(&e));
                return Err(Advance::Failed(CheckStatus::L7Rsp, why));
            }
        }
    }
    p.sent = 0;
    p.received.clear();
    Ok(true)
}

fn expect(p: &mut Pending, judge: &dyn super::rules::Judge) -> Result<bool, Advance> {
    loop {
        let last = p.closed || p.received.len() >= CHECK_BUFFER;
        match judge.judge(&p.received, last) {
            Verdict::Pass(status, why) => {
                p.passed = Some((status, why));
                return Ok(true);
            }
            Verdict::Fail(status, why) => return Err(Advance::Failed(status, why)),
            Verdict::More if last => {
                let why = format!("{} gave no verdict", judge.describe());
                return Err(Advance::Failed(CheckStatus::L7Rsp, why));
            }
            Verdict::More => {}
        }
        let Some(conn) = &mut p.conn else {
            return Err(Advance::Failed(
                CheckStatus::SockErr,
                "expect before connect".into(),
            ));
        };
        let mut buf = [0u8; 4096];
        let room = CHECK_BUFFER - p.received.len();
        match conn.read(&mut buf[..room.min(4096)]) {
            Ok(0) => p.closed = true,
            Ok(n) => p.received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => p.closed = true,
            Err(e) => {
                let why = format!("read failed: {}", describe(&e));
                return Err(Advance::Failed(CheckStatus::L7Rsp, why));
            }
        }
    }
}

/// The error as HAProxy words it: the system's text (`Connection
/// refused`), without Rust's `(os error N)`.
pub(super) fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if e.raw_os_error().is_some() => text[..at].to_string(),
        _ => text,
    }
}
