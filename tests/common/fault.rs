//! Fault-suite helpers (issue 9): an l4lb whose counters a scenario reads
//! through its runtime API, how a stream ended as one peer saw it (clean
//! EOF or reset), a backend whose connections name their behaviour, innocent
//! clients streaming checked bytes beside a fault, and the audit that ends
//! every scenario (fds, CLOSE_WAIT, session counters back to zero).
//!
//! Included next to `mod common;` with `#[path = "common/fault.rs"] mod fault;`.
#![allow(dead_code)]
// connect to AF_UNSPEC (an RST on demand) and poll: libc calls.
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::common::*;

/// How long a scenario waits for something l4lb must do: far above any
/// timeout the suite configures, so hitting it means "never".
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// A running l4lb with a runtime API socket and connection logs on stdout.
pub(crate) struct Lb {
    pub l4: L4lb,
    /// The first `listen` section's port.
    pub port: u16,
    /// Every port l4lb listens on (for the CLOSE_WAIT audit).
    ports: Vec<u16>,
    sock: PathBuf,
    /// Non-pipe fds right after start: sockets, epolls, the stdio pipes.
    baseline: usize,
}

/// A `listen NAME` section on `port` over `servers` (named s0, s1, ...),
/// with `extra` lines (balance, timeouts, options) before the servers.
pub(crate) fn listen(name: &str, port: u16, servers: &[SocketAddr], extra: &str) -> String {
    let mut s = format!("listen {name}\n    bind 127.0.0.1:{port}\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str(&format!("    {}\n", line.trim()));
    }
    for (i, a) in servers.iter().enumerate() {
        s.push_str(&format!("    server s{i} {a}\n"));
    }
    s
}

impl Lb {
    /// l4lb with one `listen px` over `servers`; `extra` as in [`listen`].
    pub(crate) fn start(servers: &[SocketAddr], extra: &str) -> Lb {
        let port = free_port();
        Lb::start_sections("", &[(port, listen("px", port, servers, extra))])
    }

    /// l4lb with `global_extra` lines and the given `listen` sections,
    /// each with the port it binds.
    pub(crate) fn start_sections(global_extra: &str, sections: &[(u16, String)]) -> Lb {
        let dir = TempDir::new("fault");
        let sock = dir.0.join("api.sock");
        // Two workers unless the scenario says otherwise.
        let threads = if global_extra.contains("nbthread") {
            ""
        } else {
            "    nbthread 2\n"
        };
        let mut text = format!(
            "global\n{threads}    stats socket {} mode 600 level admin\n",
            sock.display()
        );
        for line in global_extra.lines().filter(|l| !l.trim().is_empty()) {
            text.push_str(&format!("    {}\n", line.trim()));
        }
        text.push_str(
            "\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    \
             timeout server 30s\n    log stdout format raw local0\n    option tcplog\n\n",
        );
        for (_, s) in sections {
            text.push_str(s);
            text.push('\n');
        }
        let path = dir.0.join("l4lb.conf");
        std::fs::write(&path, &text).unwrap();
        let l4 = L4lb::spawn(&["-f", path.to_str().unwrap()], dir);
        let baseline = l4.fd_count() - l4.pipe_fd_count();
        Lb {
            l4,
            port: sections[0].0,
            ports: sections.iter().map(|(p, _)| *p).collect(),
            sock,
            baseline,
        }
    }

    /// One runtime API command's whole answer.
    pub(crate) fn api(&self, line: &str) -> String {
        api_command(&self.sock, line)
    }

    /// Column `col` of `show stat`'s row (`px`, `sv`), as a number.
    pub(crate) fn stat(&self, px: &str, sv: &str, col: &str) -> u64 {
        let rows = self.stat_rows(col);
        rows.iter()
            .find(|(p, s, _)| p == px && s == sv)
            .map(|r| r.2)
            .unwrap_or_else(|| panic!("no row {px}/{sv} in {rows:?}"))
    }

    /// Column `col` of every `show stat` row: (pxname, svname, value).
    pub(crate) fn stat_rows(&self, col: &str) -> Vec<(String, String, u64)> {
        stat_column(&self.api("show stat"), col)
            .into_iter()
            .map(|(p, s, v)| (p, s, v.parse().unwrap_or(0)))
            .collect()
    }

    /// `show info`'s numeric `field`.
    pub(crate) fn info(&self, field: &str) -> u64 {
        let info = self.api("show info");
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}: ")))
            .unwrap_or_else(|| panic!("no {field} in {info}"))
            .parse()
            .unwrap()
    }

    /// The termination states (`--`, `cD`, `SD`, ...) of the connections
    /// logged so far, in the order they ended.
    pub(crate) fn states(&self) -> Vec<String> {
        self.l4
            .out_lines()
            .iter()
            .map(|l| l.split(' ').nth(6).unwrap_or("?").to_string())
            .collect()
    }

    /// Waits for `n` connection logs and returns their states.
    pub(crate) fn wait_states(&self, n: usize) -> Vec<String> {
        let logged = wait_until(LIMIT, || self.l4.out_lines().len() >= n);
        assert!(logged, "{n} connection logs, got {:?}", self.l4.out_lines());
        self.states()
    }

    /// Non-pipe fds now (pooled splice pipes are l4lb's to keep).
    fn socket_fds(&self) -> usize {
        self.l4.fd_count() - self.l4.pipe_fd_count()
    }

    /// Ends a scenario: within [`LIMIT`], every session counter (`scur` of
    /// each frontend, backend and server row, `CurrConns`) is back to zero,
    /// no pipe is lent, l4lb's fds are back at their count after start, and
    /// no socket on l4lb's ports or `backend_ports` sits in CLOSE_WAIT.
    pub(crate) fn audit(&self, backend_ports: &[u16]) {
        let mut ports = self.ports.clone();
        ports.extend_from_slice(backend_ports);
        let busy = || -> Vec<String> {
            let mut busy: Vec<String> = self
                .stat_rows("scur")
                .into_iter()
                .filter(|r| r.2 != 0)
                .map(|(p, s, n)| format!("{p}/{s} scur {n}"))
                .collect();
            for field in ["CurrConns", "PipesUsed"] {
                let n = self.info(field);
                if n != 0 {
                    busy.push(format!("{field} {n}"));
                }
            }
            let fds = self.socket_fds();
            if fds != self.baseline {
                busy.push(format!("fds {fds}, {} after start", self.baseline));
            }
            let waiting = close_wait_count(&ports);
            if waiting != 0 {
                busy.push(format!("{waiting} sockets in CLOSE_WAIT on {ports:?}"));
            }
            busy
        };
        let settled = wait_until(LIMIT, || busy().is_empty());
        assert!(settled, "not back to idle: {:?}", busy());
    }
}

/// How a stream ended, as the peer reading (or writing) it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// `read()` returned 0: a FIN after every byte.
    Eof,
    /// ECONNRESET, or EPIPE (the tests never write after their own
    /// shutdown, so it means the kernel dropped the connection on an RST;
    /// ECONNRESET itself is reported once, to whichever call comes first).
    Reset,
    /// Nothing came within the socket's timeout.
    Silent,
    /// Not ended: `receive_up_to` got all it asked for.
    Open,
    /// Any other error.
    Failed(io::ErrorKind),
}

impl End {
    pub(crate) fn of(e: &io::Error) -> End {
        match e.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => End::Reset,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => End::Silent,
            kind => End::Failed(kind),
        }
    }
}

/// What one peer received: how many bytes, their sha256, the first few
/// of them (for messages) and how the stream ended.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub len: usize,
    pub hash: [u8; 32],
    pub head: Vec<u8>,
    pub end: End,
}

impl Received {
    /// Whether the bytes are exactly the `len` pattern bytes of `seed`.
    pub(crate) fn is_pattern(&self, seed: u64, len: usize) -> bool {
        self.len == len && self.hash == pattern_hash(seed, len)
    }

    /// Whether the bytes are the first `self.len` pattern bytes of `seed`.
    pub(crate) fn is_pattern_prefix(&self, seed: u64) -> bool {
        self.hash == pattern_hash(seed, self.len)
    }

    /// Whether the bytes are the first `self.len` bytes of what `send`
    /// writes `each` bytes at a time with seeds `first`, `first + 1`, ...:
    /// an upload of several sends, however much of it got through.
    pub(crate) fn is_sends_prefix(&self, first: u64, each: usize) -> bool {
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; each];
        let (mut left, mut seed) = (self.len, first);
        while left > 0 {
            Pattern::new(seed).fill(&mut buf);
            let n = left.min(each);
            hash.update(&buf[..n]);
            left -= n;
            seed += 1;
        }
        self.hash == <[u8; 32]>::from(hash.finalize())
    }
}

/// Reads `r` until EOF, an error or its read timeout.
pub(crate) fn receive(r: &mut TcpStream) -> Received {
    receive_up_to(r, usize::MAX)
}

/// Reads `r` until `limit` bytes, EOF, an error or its read timeout; `end`
/// is `Open` when the limit was reached first.
pub(crate) fn receive_up_to(r: &mut TcpStream, limit: usize) -> Received {
    let mut hash = Sha256::new();
    let mut head = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0;
    let end = loop {
        if len == limit {
            break End::Open;
        }
        let want = buf.len().min(limit - len);
        match r.read(&mut buf[..want]) {
            Ok(0) => break End::Eof,
            Ok(n) => {
                hash.update(&buf[..n]);
                let keep = n.min(64usize.saturating_sub(head.len()));
                head.extend_from_slice(&buf[..keep]);
                len += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break End::of(&e),
        }
    };
    Received {
        len,
        hash: hash.finalize().into(),
        head,
        end,
    }
}

/// Writes `len` pattern bytes of `seed`; on an error, how the stream ended.
pub(crate) fn send(w: &mut TcpStream, seed: u64, len: usize) -> Result<(), End> {
    send_pattern(w, seed, len)
        .map(drop)
        .map_err(|e| End::of(&e))
}

/// Closes `s` with an RST rather than a FIN. In a `Backend` handler the
/// RST goes out when the handler returns (the helper keeps a dup of the
/// socket until then); see [`abort`] for at once.
pub(crate) fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// Sends an RST on `s` now, even while another fd keeps the socket open
/// (a `Backend` handler's stream has a dup until the handler returns):
/// connect(2) to AF_UNSPEC is Linux's `tcp_disconnect`, which resets an
/// open connection without closing the fd.
pub(crate) fn abort(s: &TcpStream) {
    // SAFETY: zeroed sockaddr_storage is a valid sockaddr; only its family is read.
    let mut unspec: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    unspec.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
    let len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `unspec`, alive for the call.
    let rc = unsafe { libc::connect(s.as_raw_fd(), (&raw const unspec).cast(), len) };
    assert_eq!(rc, 0, "disconnect: {}", io::Error::last_os_error());
}

/// Waits (up to `limit`) until the kernel has dropped `s`'s connection
/// (POLLHUP: both ways shut, or an RST) and says which: `Reset` if an RST
/// did it, `Eof` if both FINs did. For a peer that can no longer read the
/// reset (it already read its EOF). `Silent` if neither came.
pub(crate) fn wait_hangup(s: &TcpStream, limit: Duration) -> End {
    let mut p = libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLHUP,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd for the call's duration.
    let n = unsafe { libc::poll(&mut p, 1, limit.as_millis() as i32) };
    if n <= 0 {
        return End::Silent;
    }
    match s.take_error() {
        Ok(Some(e)) => End::of(&e),
        Ok(None) => End::Eof,
        Err(e) => End::of(&e),
    }
}

/// Whether a socket listens on `port` (without connecting to it, which
/// would make a connection of its own).
pub(crate) fn listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|file| {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines().skip(1).any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = f.get(1).and_then(|a| a.rsplit(':').next());
            f.get(3) == Some(&"0A") && local == Some(format!("{port:04X}").as_str())
        })
    })
}

/// Connects to `port` with a small receive buffer (set before connecting,
/// so the kernel never grows it): a reader that holds little.
pub(crate) fn connect_small(port: u16, rcvbuf: usize) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(rcvbuf).unwrap();
    s.connect_timeout(&addr(port).into(), Duration::from_secs(5))
        .expect("connect to l4lb");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// A backend whose handler `f` gets a sender for what it saw; returns it
/// with the receiving end.
pub(crate) fn reporting<T, F>(f: F) -> (Backend, mpsc::Receiver<T>)
where
    T: Send + 'static,
    F: Fn(TcpStream, &mpsc::Sender<T>) + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let be = Backend::start(move |s| {
        let tx = tx.lock().unwrap().clone();
        f(s, &tx);
    });
    (be, rx)
}

/// [`reporting`] for a [`scripted`] backend: `f` gets the word too.
pub(crate) fn scripted_reporting<T, F>(f: F) -> (Backend, mpsc::Receiver<T>)
where
    T: Send + 'static,
    F: Fn(&str, TcpStream, &mpsc::Sender<T>) + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let be = scripted(move |word, s| {
        let tx = tx.lock().unwrap().clone();
        f(word, s, &tx);
    });
    (be, rx)
}

/// A one-shot signal from a test to a backend thread (which gets the
/// receiver behind a lock: handlers are `Sync`).
pub(crate) fn one_shot() -> (mpsc::Sender<()>, Mutex<mpsc::Receiver<()>>) {
    let (tx, rx) = mpsc::channel();
    (tx, Mutex::new(rx))
}

/// A backend whose every connection starts with one line from the client
/// naming what it does: `echo` is an innocent's (echo until EOF); any
/// other word is handed to `fault` with the stream, read up to the line.
pub(crate) fn scripted<F>(fault: F) -> Backend
where
    F: Fn(&str, TcpStream) + Send + Sync + 'static,
{
    Backend::start(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let Ok(word) = read_line(&mut s) else { return };
        if word == "echo" {
            echo(s);
        } else {
            fault(&word, s);
        }
    })
}

/// Echoes until EOF, then closes; ends quietly on an error.
pub(crate) fn echo(mut s: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Bytes each innocent sends before the fault, and again after.
const INNOCENT_HALF: usize = 256 * 1024;

/// Clients streaming checked bytes through l4lb while a fault happens
/// beside them: each sends `echo`, then a pattern through a `scripted`
/// backend and reads it back. [`Innocents::start`] returns once every one
/// is half way (connected, bytes flowing both ways); [`Innocents::finish`]
/// lets them complete.
pub(crate) struct Innocents {
    go: Vec<mpsc::Sender<()>>,
    threads: Vec<JoinHandle<Result<(), String>>>,
}

impl Innocents {
    pub(crate) fn start(port: u16, n: usize) -> Innocents {
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut go = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n {
            let (go_tx, go_rx) = mpsc::channel();
            go.push(go_tx);
            let ready = ready_tx.clone();
            threads.push(thread::spawn(move || {
                innocent(port, 1000 + i as u64, ready, go_rx)
            }));
        }
        for _ in 0..n {
            ready_rx
                .recv_timeout(LIMIT)
                .expect("every innocent client gets half of its bytes back");
        }
        Innocents { go, threads }
    }

    /// Lets every innocent finish; panics unless each got exactly its
    /// bytes back, then a clean EOF, with no error on either direction.
    pub(crate) fn finish(self) {
        for g in &self.go {
            let _ = g.send(());
        }
        let failures: Vec<String> = self
            .threads
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| match t.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("innocent {i}: {e}")),
                Err(_) => Some(format!("innocent {i} panicked")),
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

/// One innocent client; tells `ready` when half its bytes came back, sends
/// the rest on `go`.
fn innocent(
    port: u16,
    seed: u64,
    ready: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
) -> Result<(), String> {
    let mut c = connect(port);
    c.write_all(b"echo\n")
        .map_err(|e| format!("request: {e}"))?;
    let mut w = c.try_clone().unwrap();
    let writer = thread::spawn(move || -> Result<(), String> {
        let mut pat = Pattern::new(seed);
        let mut buf = vec![0u8; INNOCENT_HALF];
        for half in 0..2 {
            if half == 1 && go.recv_timeout(Duration::from_secs(60)).is_err() {
                return Err("never told to finish".into());
            }
            pat.fill(&mut buf);
            w.write_all(&buf).map_err(|e| format!("write: {e}"))?;
        }
        w.shutdown(std::net::Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))
    });
    let first = receive_up_to(&mut c, INNOCENT_HALF);
    let _ = ready.send(());
    let rest = receive(&mut c);
    let wrote = writer.join().unwrap_or(Err("writer panicked".into()));
    let got = first.len + rest.len;
    let mut pat = Pattern::new(seed);
    let mut expect = vec![0u8; INNOCENT_HALF];
    let intact = [&first, &rest].map(|half| {
        pat.fill(&mut expect);
        half.len == INNOCENT_HALF && half.hash == <[u8; 32]>::from(Sha256::digest(&expect))
    });
    wrote?;
    if intact != [true, true] || rest.end != End::Eof {
        return Err(format!(
            "got {got} of {} bytes (halves intact: {intact:?}), then {:?}",
            2 * INNOCENT_HALF,
            rest.end
        ));
    }
    Ok(())
}
