//! l4lb-testkit: tiny named TCP servers and a client that counts which one it reached.
//!
//! `serve NAME=ADDR...` runs one server per pair; each accepted connection gets
//! `NAME\n`, then an echo of everything the client sends, then a close once the
//! client has closed. `clients ADDR COUNT [PARALLEL]` makes COUNT connections
//! through ADDR (a balancer in front of such servers), checks each one greets with
//! a name and echoes `ping\n`, and prints how the connections spread over names.
//! `stream ADDR SECONDS RATE` holds one connection to such a server for SECONDS,
//! sending RATE bytes a second of a deterministic pattern and checking every
//! echoed byte against it; it prints `ok ...` or `broken: REASON` (exit 1).
//! Used by `scripts/demo.sh` and `scripts/reload.sh`; std only, so it builds
//! with nothing but cargo.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage:
  l4lb-testkit serve NAME=ADDR [NAME=ADDR ...]
  l4lb-testkit clients ADDR COUNT [PARALLEL]   (PARALLEL defaults to 8)
  l4lb-testkit stream ADDR SECONDS RATE        (RATE in bytes per second)";

/// The whole `clients` run stops starting connections after this long.
const CLIENTS_DEADLINE: Duration = Duration::from_secs(60);
/// Upper bound on any single connect, read or write of a client.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_PARALLEL: usize = 8;
const PING: &str = "ping\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("l4lb-testkit: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    match args.split_first() {
        Some((cmd, rest)) if cmd == "serve" && !rest.is_empty() => serve(rest),
        Some((cmd, [addr, count])) if cmd == "clients" => clients(addr, count, None),
        Some((cmd, [addr, count, par])) if cmd == "clients" => clients(addr, count, Some(par)),
        Some((cmd, [addr, secs, rate])) if cmd == "stream" => stream(addr, secs, rate),
        _ => Err(USAGE.to_string()),
    }
}

// ---- serve ----

fn serve(pairs: &[String]) -> Result<ExitCode, String> {
    let mut listeners = Vec::new();
    for pair in pairs {
        let (name, addr) = pair
            .split_once('=')
            .filter(|(n, a)| !n.is_empty() && !a.is_empty())
            .ok_or_else(|| format!("expected NAME=ADDR, got {pair:?}\n{USAGE}"))?;
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        listeners.push((name.to_string(), listener));
    }
    // Announce only once every port is bound, so a reader of this line can connect.
    for (name, l) in &listeners {
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        println!("listening {name} {addr}");
    }
    io::stdout().flush().ok();
    let handles: Vec<_> = listeners
        .into_iter()
        .map(|(name, l)| thread::spawn(move || accept_loop(&name, &l)))
        .collect();
    for h in handles {
        h.join().ok();
    }
    Ok(ExitCode::SUCCESS)
}

fn accept_loop(name: &str, listener: &TcpListener) {
    let greeting = format!("{name}\n");
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let greeting = greeting.clone();
                thread::spawn(move || {
                    // A client that vanishes mid-echo is its own problem, not the server's.
                    let _ = greet_and_echo(stream, greeting.as_bytes());
                });
            }
            // Out of fds, or the like: back off briefly instead of spinning.
            Err(e) => {
                eprintln!("l4lb-testkit: {name}: accept: {e}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Greets, echoes until the client's EOF, then drops (closes) the socket: all input
/// has been read by then, so the close is a clean FIN, not a reset.
fn greet_and_echo(mut stream: TcpStream, greeting: &[u8]) -> io::Result<()> {
    stream.write_all(greeting)?;
    let mut reader = stream.try_clone()?;
    io::copy(&mut reader, &mut stream)?;
    Ok(())
}

// ---- clients ----

fn resolve(addr: &str) -> Result<SocketAddr, String> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("bad address {addr:?}"))
}

fn clients(addr: &str, count: &str, parallel: Option<&String>) -> Result<ExitCode, String> {
    let addr = resolve(addr)?;
    let count: usize = parse_positive(count, "COUNT")?;
    let parallel = match parallel {
        Some(p) => parse_positive(p, "PARALLEL")?,
        None => DEFAULT_PARALLEL,
    };

    let deadline = Instant::now() + CLIENTS_DEADLINE;
    let next = AtomicUsize::new(0);
    let tally = thread::scope(|s| {
        let workers: Vec<_> = (0..parallel.min(count))
            .map(|_| s.spawn(|| client_worker(addr, count, &next, deadline)))
            .collect();
        let mut total = Tally::default();
        for w in workers {
            total.merge(w.join().expect("client worker panicked"));
        }
        total
    });
    tally.print(count);
    Ok(if tally.ok() == count {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_positive(s: &str, what: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{what} must be a positive integer, got {s:?}\n{USAGE}"
        )),
    }
}

/// Takes connection numbers from `next` until all are taken or time is up.
fn client_worker(addr: SocketAddr, count: usize, next: &AtomicUsize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while next.fetch_add(1, Ordering::Relaxed) < count {
        if Instant::now() >= deadline {
            // Counted as failures by `Tally::print`: attempted < count.
            break;
        }
        match one_connection(addr) {
            Ok(name) => *tally.by_server.entry(name).or_default() += 1,
            Err(e) => tally.fail(e),
        }
    }
    tally
}

/// One full exchange: read the server's name, send a ping, expect it echoed.
fn one_connection(addr: SocketAddr) -> Result<String, String> {
    let stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&stream);
    let name = read_line(&mut reader, "name")?;
    if name.is_empty() {
        return Err("empty server name".into());
    }
    (&stream)
        .write_all(PING.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let echo = read_line(&mut reader, "echo")?;
    if echo != PING.trim_end() {
        return Err(format!("bad echo {echo:?}"));
    }
    Ok(name)
}

fn read_line(reader: &mut impl BufRead, what: &str) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err(format!("EOF before {what}")),
        Ok(_) if line.ends_with('\n') => Ok(line.trim_end().to_string()),
        Ok(_) => Err(format!("EOF inside {what}")),
        Err(e) => Err(format!("read {what}: {e}")),
    }
}

/// Connections per server name, and failures grouped by message.
#[derive(Default)]
struct Tally {
    by_server: BTreeMap<String, usize>,
    errors: BTreeMap<String, usize>,
}

impl Tally {
    fn fail(&mut self, error: String) {
        *self.errors.entry(error).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        for (k, v) in other.by_server {
            *self.by_server.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn ok(&self) -> usize {
        self.by_server.values().sum()
    }

    fn print(&self, count: usize) {
        let width = self
            .by_server
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(6);
        println!("  {:<width$}  {:>7}  {:>6}", "server", "conns", "share");
        for (name, n) in &self.by_server {
            let share = 100.0 * *n as f64 / count as f64;
            println!("  {name:<width$}  {n:>7}  {share:>5.1}%");
        }
        let failed = count - self.ok();
        let not_tried = failed - self.errors.values().sum::<usize>();
        println!("  {:<width$}  {:>7}", "failed", failed);
        for (e, n) in &self.errors {
            println!("    {n} x {e}");
        }
        if not_tried > 0 {
            println!(
                "    {not_tried} x not attempted: {}s deadline",
                CLIENTS_DEADLINE.as_secs()
            );
        }
    }
}

// ---- stream ----

/// A stream is broken if its echo, or room to write, is awaited this long.
const STREAM_STALL: Duration = Duration::from_secs(2);
/// The sender writes one chunk per tick, RATE / TICKS_PER_SEC bytes each.
const STREAM_TICK: Duration = Duration::from_millis(10);
const TICKS_PER_SEC: usize = 100;

/// What an intact stream reports.
struct StreamReport {
    server: String,
    bytes: u64,
    /// The longest wait between two reads of the echo.
    longest_gap: Duration,
}

fn stream(addr: &str, seconds: &str, rate: &str) -> Result<ExitCode, String> {
    let addr = resolve(addr)?;
    let seconds = parse_positive(seconds, "SECONDS")?;
    let rate = parse_positive(rate, "RATE")?;
    let started = Instant::now();
    match run_stream(addr, Duration::from_secs(seconds as u64), rate) {
        Ok(r) => {
            println!(
                "ok {} bytes echoed intact, longest wait for echo {} ms, server {}",
                r.bytes,
                r.longest_gap.as_millis(),
                r.server
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("broken: {e} (at +{:.3}s)", started.elapsed().as_secs_f64());
            Ok(ExitCode::from(1))
        }
    }
}

/// Connects, reads the server's name, then sends the pattern for `length`
/// while a second thread checks the echo; closes its side and waits for the
/// echo of every byte, then the server's EOF.
fn run_stream(addr: SocketAddr, length: Duration, rate: usize) -> Result<StreamReport, String> {
    let stream =
        TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(STREAM_STALL))
        .and_then(|()| stream.set_write_timeout(Some(STREAM_STALL)))
        .map_err(|e| e.to_string())?;
    // The local port seeds the pattern: concurrent streams differ, so bytes
    // crossed between two of them would not match.
    let seed = u64::from(stream.local_addr().map_err(|e| e.to_string())?.port());
    let server = read_name(&stream)?;
    let reader = stream.try_clone().map_err(|e| e.to_string())?;
    let sent = AtomicU64::new(0);
    thread::scope(|s| {
        let echo = s.spawn(|| check_echo(reader, seed, &sent));
        let wrote = send_pattern(&stream, seed, length, rate, &sent);
        // Either way the reader ends: at EOF after our FIN, or at once.
        let how = if wrote.is_ok() {
            Shutdown::Write
        } else {
            Shutdown::Both
        };
        let _ = stream.shutdown(how);
        let echoed = echo.join().expect("echo checker panicked");
        let (bytes, longest_gap) = match (wrote, echoed) {
            (Err(w), _) => return Err(w),
            (Ok(()), r) => r?,
        };
        Ok(StreamReport {
            server,
            bytes,
            longest_gap,
        })
    })
}

/// The server's greeting line, read a byte at a time so nothing after it is
/// taken from the socket.
fn read_name(mut stream: &TcpStream) -> Result<String, String> {
    let mut name = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return Err("EOF before the server's name".into()),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if name.len() < 256 => name.push(byte[0]),
            Ok(_) => return Err("server name line too long".into()),
            Err(e) => return Err(format!("reading the server's name: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&name).into_owned())
}

/// Writes the pattern at `rate` bytes a second for `length`; `sent` counts
/// what is written.
fn send_pattern(
    mut stream: &TcpStream,
    seed: u64,
    length: Duration,
    rate: usize,
    sent: &AtomicU64,
) -> Result<(), String> {
    let mut chunk = vec![0u8; (rate / TICKS_PER_SEC).max(1)];
    let start = Instant::now();
    let mut offset = 0u64;
    let mut due = start;
    while due < start + length {
        thread::sleep(due.saturating_duration_since(Instant::now()));
        fill_pattern(seed, offset, &mut chunk);
        stream.write_all(&chunk).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
                "stalled: could not write for {}s after {offset} bytes",
                STREAM_STALL.as_secs()
            ),
            _ => format!("write after {offset} bytes: {e}"),
        })?;
        offset += chunk.len() as u64;
        sent.store(offset, Ordering::SeqCst);
        due += STREAM_TICK;
    }
    Ok(())
}

/// Reads the echo until EOF, comparing each byte with the pattern. Returns
/// the byte count and the longest wait between reads.
fn check_echo(
    mut stream: TcpStream,
    seed: u64,
    sent: &AtomicU64,
) -> Result<(u64, Duration), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut want = vec![0u8; buf.len()];
    let mut got = 0u64;
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "stalled: no echo for {}s after {got} bytes",
                    STREAM_STALL.as_secs()
                ));
            }
            Err(e) => return Err(format!("read after {got} bytes: {e}")),
        };
        longest = longest.max(last.elapsed());
        last = Instant::now();
        if n == 0 {
            let total = sent.load(Ordering::SeqCst);
            return if got == total {
                Ok((got, longest))
            } else {
                Err(format!("EOF after {got} of {total} bytes echoed"))
            };
        }
        fill_pattern(seed, got, &mut want[..n]);
        if let Some(i) = buf[..n].iter().zip(&want[..n]).position(|(a, b)| a != b) {
            return Err(format!("byte {} differs from the pattern", got + i as u64));
        }
        got += n as u64;
    }
}

/// The pattern's bytes from `offset` on: byte i is byte i % 8 of a hash of
/// i / 8, so a lost, repeated or moved chunk never lines up.
fn fill_pattern(seed: u64, offset: u64, out: &mut [u8]) {
    for (i, b) in (offset..).zip(out.iter_mut()) {
        *b = splitmix64(seed << 48 ^ (i / 8)).to_le_bytes()[(i % 8) as usize];
    }
}

/// SplitMix64's output function: a cheap, well-mixed hash of a counter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
