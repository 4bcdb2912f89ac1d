//! Shared test helpers: start l4lb with a conf, start backends in threads,
//! stream and hash, count the proxy's file descriptors.
//!
//! Everything a test starts is stopped by `Drop`: the l4lb child is killed
//! and reaped, backend threads are told to stop and joined. Ports stay
//! reserved until the test process exits (see `free_port`).
#![allow(dead_code)]
// kill and prlimit on the l4lb child, setrlimit in pre_exec: libc calls.
#![allow(unsafe_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub(crate) mod fakes;

/// A port reserved for this test process: for l4lb to listen on, for a
/// backend (which can be stopped and brought back on it), or as "a refused
/// port" (nothing listening there).
///
/// The reservation is a socket bound, never listening, with SO_REUSEADDR and
/// SO_REUSEPORT on 127.0.0.1 and, when the machine has IPv6, on [::1] too,
/// held until the process exits. While it is held:
/// - l4lb (same uid, SO_REUSEADDR + SO_REUSEPORT) and a std `TcpListener`
///   (SO_REUSEADDR) can still bind and listen on the port, and get every
///   connection: a socket that is not listening never takes one;
/// - connects to the port while nothing listens are refused;
/// - the kernel never hands the port to another port-0 bind or as a client's
///   automatic source port, in this process or any other, and a bind without
///   SO_REUSEADDR fails: no other test can take it between `free_port()` and
///   the bind, nor between a backend's stop and its restart. (Only an
///   explicit SO_REUSEADDR bind to this very port could still share it.)
///
/// The kernel picks the port (bind to port 0), so there is no check-then-bind
/// race, also against other test processes on the machine. Such ports come
/// from the ephemeral range, which clients use too; that is harmless: a
/// port-0 bind skips every port that has any socket, TIME_WAIT ones
/// included, and from then on no client can take it as its source port, so
/// the only TIME_WAIT sockets it will ever have are those of our own
/// listeners, which SO_REUSEADDR binds past.
pub(crate) fn free_port() -> u16 {
    static RESERVED: Mutex<Vec<socket2::Socket>> = Mutex::new(Vec::new());
    for _ in 0..100 {
        let v4 = reserve(addr(0)).expect("reserve a port on 127.0.0.1");
        let port = v4.local_addr().unwrap().as_socket().unwrap().port();
        let v6 = match reserve(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
            Ok(v6) => Some(v6),
            // Someone holds [::1] on this port: take another.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(_) => None, // No IPv6 loopback.
        };
        let mut reserved = RESERVED.lock().unwrap();
        reserved.push(v4);
        reserved.extend(v6);
        return port;
    }
    panic!("no port free on both 127.0.0.1 and [::1]");
}

fn reserve(at: SocketAddr) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(at),
        socket2::Type::STREAM,
        None,
    )?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&at.into())?;
    Ok(sock)
}

pub(crate) fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A private temporary directory, removed on drop.
pub(crate) struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "l4lb-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running l4lb process.
pub(crate) struct L4lb {
    child: Child,
    /// Its stderr (the daemon's own messages), line by line.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Its stdout (connection logs sent to `log stdout`), line by line.
    pub out: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
    readers: Vec<JoinHandle<()>>,
}

impl L4lb {
    /// Starts `l4lb -f <conf>` and waits (bounded) for its ready line.
    pub(crate) fn start(conf: &str) -> L4lb {
        Self::start_with_env(conf, &[])
    }

    /// `start`, with extra environment variables (NOTIFY_SOCKET, ...).
    pub(crate) fn start_with_env(conf: &str, env: &[(&str, &str)]) -> L4lb {
        let dir = TempDir::new("conf");
        let path = dir.0.join("l4lb.conf");
        std::fs::write(&path, conf).unwrap();
        Self::spawn_with_env(&["-f", path.to_str().unwrap()], dir, env)
    }

    /// Starts l4lb with the given flags and waits for its ready line.
    pub(crate) fn spawn(args: &[&str], dir: TempDir) -> L4lb {
        Self::spawn_with_env(args, dir, &[])
    }

    /// `spawn`, with extra environment variables.
    pub(crate) fn spawn_with_env(args: &[&str], dir: TempDir, env: &[(&str, &str)]) -> L4lb {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_l4lb"));
        cmd.args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied());
        Self::spawn_command(cmd, dir)
    }

    /// `spawn`, in a process whose fd limit is `limit` and cannot be
    /// raised (see [`limit_fds`]).
    pub(crate) fn spawn_with_fd_limit(args: &[&str], dir: TempDir, limit: u64) -> L4lb {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_l4lb"));
        cmd.args(args).env("RUST_LOG", "info");
        limit_fds(&mut cmd, limit);
        Self::spawn_command(cmd, dir)
    }

    /// Runs `cmd` (l4lb with its arguments) and waits for its ready line.
    pub(crate) fn spawn_command(mut cmd: Command, dir: TempDir) -> L4lb {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn l4lb");
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let out_lines = Arc::clone(&out);
        let out_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                out_lines.lock().unwrap().push(line);
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let lines = Arc::clone(&log);
        // Drains stderr for the life of the process so logging never blocks it.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("l4lb ready") {
                    let _ = ready_tx.send(());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut l = L4lb {
            child,
            log,
            out,
            _dir: dir,
            readers: vec![reader, out_reader],
        };
        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let status = l.child.try_wait();
            panic!(
                "l4lb did not become ready ({status:?}); log:\n{}",
                l.log_text()
            );
        }
        l
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Writes `text` to `path` (the conf it runs), sends SIGHUP, and waits
    /// until its log says one more reload was applied.
    pub(crate) fn reload_with(&self, path: &std::path::Path, text: &str) {
        let applied = || self.log_text().matches("reload: applied").count();
        let before = applied();
        std::fs::write(path, text).unwrap();
        self.signal(libc::SIGHUP);
        assert!(
            wait_until(Duration::from_secs(10), || applied() > before),
            "{}",
            self.log_text()
        );
    }

    /// The lines written to stdout so far.
    pub(crate) fn out_lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    /// Open file descriptors of the l4lb process.
    pub(crate) fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// Open pipe fds of the l4lb process, not counting stdin/out/err (its
    /// stderr is a pipe to this test).
    pub(crate) fn pipe_fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|fd| fd > 2)
            })
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|p| p.to_string_lossy().starts_with("pipe:"))
            .count()
    }

    /// Sends SIGTERM and waits for the exit status (bounded). SIGTERM is a
    /// soft stop: call it with no connection open, or it waits for them.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        signal(self.pid(), libc::SIGTERM);
        let status = wait_bounded(&mut self.child, Duration::from_secs(10));
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        status
    }

    /// Sends `sig` to the l4lb process.
    pub(crate) fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Waits up to `limit` for the process to exit and reaps it; None if it
    /// still runs (then `Drop` kills it). Once it has exited, the whole log
    /// is in `log` (and `out`).
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        if status.is_some() {
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
        }
        status
    }

    /// Whether the process is still running (without waiting).
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// Sends `sig` to our own child process.
pub(crate) fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) touches no memory of ours; the pid is a live child.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("l4lb did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for L4lb {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

/// Polls `cond` every few ms until it holds or `limit` passes; returns
/// whether it held. For conditions another process makes true eventually.
pub(crate) fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Connection counts a backend keeps.
#[derive(Default)]
pub(crate) struct Counts {
    pub total: AtomicUsize,
    pub active: AtomicUsize,
    pub max_active: AtomicUsize,
}

/// A backend server in threads: one thread accepts, one thread per connection
/// runs `handler`. Stopped and joined on drop.
pub(crate) struct Backend {
    pub port: u16,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend {
    pub(crate) fn start<F>(handler: F) -> Backend
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        // A reserved port, so that no one can take it while the backend is
        // stopped and `start_at` can bring it back there.
        let port = free_port();
        Backend::serve(
            TcpListener::bind(addr(port)).expect("bind a backend"),
            handler,
        )
    }

    /// Like `start`, on a given port (to bring a killed backend back): one
    /// from `free_port()` or a `Backend`'s, so it is still reserved.
    pub(crate) fn start_at<F>(port: u16, handler: F) -> Backend
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        Backend::serve(
            TcpListener::bind(addr(port)).expect("rebind a backend"),
            handler,
        )
    }

    fn serve<F>(listener: TcpListener, handler: F) -> Backend
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let (stop2, counts2, conns2) = (Arc::clone(&stop), Arc::clone(&counts), Arc::clone(&conns));
        let accept_thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                counts2.total.fetch_add(1, SeqCst);
                let now = counts2.active.fetch_add(1, SeqCst) + 1;
                counts2.max_active.fetch_max(now, SeqCst);
                let (h, c) = (Arc::clone(&handler), Arc::clone(&counts2));
                let t = std::thread::spawn(move || {
                    // Uncount before the socket really closes (when `keep`
                    // goes), so the proxy can never see the close first and
                    // hand this server a new connection while still counted.
                    let keep = stream.try_clone();
                    h(stream);
                    c.active.fetch_sub(1, SeqCst);
                    drop(keep);
                });
                let mut list = conns2.lock().unwrap();
                list.retain(|t| !t.is_finished());
                list.push(t);
            }
        });
        Backend {
            port,
            counts,
            stop,
            accept_thread: Some(accept_thread),
            conns,
        }
    }

    /// Replies to each connection by echoing until EOF, then closes.
    pub(crate) fn echo() -> Backend {
        Backend::start(|mut s| {
            let mut buf = [0u8; 65536];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Writes `name\n` on accept, then echoes until EOF.
    pub(crate) fn named(name: &'static str) -> Backend {
        Backend::start(named_handler(name))
    }

    /// `named`, on a given port.
    pub(crate) fn named_at(name: &'static str, port: u16) -> Backend {
        Backend::start_at(port, named_handler(name))
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        addr(self.port)
    }
}

fn named_handler(name: &'static str) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        if s.write_all(format!("{name}\n").as_bytes()).is_err() {
            return;
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 || s.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = TcpStream::connect(addr(self.port));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        for t in self.conns.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }
}

/// A deterministic byte stream (xorshift), cheap to make and to check.
pub(crate) struct Pattern(u64);

impl Pattern {
    pub(crate) fn new(seed: u64) -> Pattern {
        Pattern(seed | 1)
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Writes `len` pattern bytes to `w` and returns their sha256.
pub(crate) fn send_pattern(w: &mut impl Write, seed: u64, len: usize) -> io::Result<[u8; 32]> {
    let mut pat = Pattern::new(seed);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len());
        pat.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n;
    }
    Ok(hash.finalize().into())
}

/// Reads `r` to EOF; returns (bytes, sha256).
pub(crate) fn recv_all(r: &mut impl Read) -> io::Result<(usize, [u8; 32])> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((total, hash.finalize().into()));
        }
        hash.update(&buf[..n]);
        total += n;
    }
}

/// The sha256 of `len` pattern bytes, computed without a socket.
pub(crate) fn pattern_hash(seed: u64, len: usize) -> [u8; 32] {
    send_pattern(&mut io::sink(), seed, len).unwrap()
}

/// Connects to the proxy with a bounded timeout.
pub(crate) fn connect(port: u16) -> TcpStream {
    let s =
        TcpStream::connect_timeout(&addr(port), Duration::from_secs(5)).expect("connect to l4lb");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Connects to `port` from the source address `ip` (any 127.x.y.z).
pub(crate) fn connect_from(ip: [u8; 4], port: u16) -> TcpStream {
    try_connect_from(ip, port).expect("connect to l4lb")
}

/// `connect_from`, with the connect's error (a client the proxy resets at
/// once may see the reset before `connect` returns).
pub(crate) fn try_connect_from(ip: [u8; 4], port: u16) -> io::Result<TcpStream> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.bind(&SocketAddr::from((ip, 0)).into())?;
    s.connect_timeout(&addr(port).into(), Duration::from_secs(5))?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(s)
}

/// True when the peer closed `c` (EOF or a reset) without sending a byte;
/// waits up to `c`'s read timeout.
pub(crate) fn closed_by_peer(c: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
    }
}

/// Connects to a `Backend::named` server through the proxy: reads its name,
/// checks that a line is echoed, and returns the name.
pub(crate) fn round_trip(port: u16) -> String {
    let mut c = connect(port);
    let name = read_line(&mut c).unwrap();
    c.write_all(b"ping\n").unwrap();
    assert_eq!(read_line(&mut c).unwrap(), "ping");
    name
}

/// Reads one `\n`-terminated line (a backend's name).
pub(crate) fn read_line(s: &mut TcpStream) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        // A signal to the test process (a child's exit) may interrupt it.
        match s.read(&mut b) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if b[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.push(b[0]);
    }
}

/// Sockets in CLOSE_WAIT whose local or remote port is one of `ports`.
pub(crate) fn close_wait_count(ports: &[u16]) -> usize {
    let mut n = 0;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "08" {
                continue;
            }
            let port =
                |a: &str| u16::from_str_radix(a.rsplit(':').next().unwrap_or(""), 16).unwrap_or(0);
            if ports.contains(&port(f[1])) || ports.contains(&port(f[2])) {
                n += 1;
            }
        }
    }
    n
}

/// Half-closes the write side, ignoring "not connected".
pub(crate) fn shutdown_write(s: &TcpStream) {
    let _ = s.shutdown(Shutdown::Write);
}

/// A conf with one frontend on `port` over `servers`, plus extra lines in
/// the backend (balance, timeouts, options).
pub(crate) fn conf(port: u16, servers: &[SocketAddr], backend_extra: &str) -> String {
    let mut c = format!(
        "global\n    nbthread 2\n    maxconn 2000\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    \
         timeout client 30s\n    timeout server 30s\n\nfrontend fe\n    bind 127.0.0.1:{port}\n    \
         default_backend be\n\nbackend be\n"
    );
    for line in backend_extra.lines() {
        c.push_str(&format!("    {}\n", line.trim()));
    }
    for (i, s) in servers.iter().enumerate() {
        c.push_str(&format!("    server s{i} {s}\n"));
    }
    c
}

/// A listener that never accepts, its one-slot accept queue already full:
/// the kernel drops further SYNs, so connects to it hang.
///
/// Bound to port 0, without SO_REUSEADDR: the kernel picks a port no socket
/// has, so the bind cannot fail (issue 9: a port vetted by a SO_REUSEADDR
/// bind may still have TIME_WAIT sockets that fail this one).
pub(crate) fn black_hole() -> (socket2::Socket, Vec<TcpStream>, std::net::SocketAddr) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&addr(0).into()).unwrap();
    sock.listen(0).unwrap();
    let port = sock.local_addr().unwrap().as_socket().unwrap().port();
    let mut fillers = Vec::new();
    // Fill the queue until a connect times out: from then on SYNs are dropped.
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr(port), Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => return (sock, fillers, addr(port)),
        }
    }
    panic!("the accept queue never filled");
}

/// Sends one line to a runtime API socket and returns the whole answer (the
/// API closes after it).
pub(crate) fn api_command(sock: &std::path::Path, line: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(sock).expect("connect to the stats socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The RLIMIT_NOFILE of process `pid`.
pub(crate) fn nofile(pid: u32) -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit only writes the rlimit we pass; a null new limit reads.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, std::ptr::null(), &mut lim) };
    assert_eq!(rc, 0, "prlimit: {}", io::Error::last_os_error());
    lim
}

/// Sets the RLIMIT_NOFILE of process `pid` (lowering it is allowed below
/// its open fds: only new fds fail, with EMFILE).
pub(crate) fn set_nofile(pid: u32, lim: libc::rlimit) {
    // SAFETY: prlimit reads the rlimit we pass; a null old limit is allowed.
    let rc = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", io::Error::last_os_error());
}

/// Makes `cmd`'s process start with RLIMIT_NOFILE `limit`, soft and hard,
/// and unable to raise it: as root, CAP_SYS_RESOURCE would let it, so that
/// capability is dropped from its bounding set (without root there is none
/// to drop, and the prctl fails harmlessly).
pub(crate) fn limit_fds(cmd: &mut Command, limit: u64) -> &mut Command {
    use std::os::unix::process::CommandExt;
    /// From linux/capability.h.
    const CAP_SYS_RESOURCE: libc::c_ulong = 24;
    // SAFETY: the closure runs in the child between fork and exec and only
    // makes two async-signal-safe syscalls on its own stack.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
            Ok(())
        })
    }
}

/// Column `column` of every row of a `show stat` answer `csv`:
/// (pxname, svname, value).
pub(crate) fn stat_column(csv: &str, column: &str) -> Vec<(String, String, String)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = header
        .iter()
        .position(|c| *c == column)
        .unwrap_or_else(|| panic!("no column {column} in:\n{csv}"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > col)
        .map(|f| (f[0].to_string(), f[1].to_string(), f[col].to_string()))
        .collect()
}

/// Column `column` of `show stat`'s row (`px`, `sv`), asked on the runtime
/// API socket `sock`.
pub(crate) fn show_stat(sock: &std::path::Path, px: &str, sv: &str, column: &str) -> String {
    let csv = api_command(sock, "show stat");
    stat_column(&csv, column)
        .into_iter()
        .find(|(p, s, _)| p == px && s == sv)
        .map(|r| r.2)
        .unwrap_or_else(|| panic!("no row {px}/{sv} in:\n{csv}"))
}
