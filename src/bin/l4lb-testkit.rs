//! l4lb-testkit: tiny named TCP servers and a client that counts which one it reached.
//!
//! `serve NAME=ADDR...` runs one server per pair; each accepted connection gets
//! `NAME\n`, then an echo of everything the client sends, then a close once the
//! client has closed. `clients ADDR COUNT [PARALLEL]` makes COUNT connections
//! through ADDR (a balancer in front of such servers), checks each one greets with
//! a name and echoes `ping\n`, and prints how the connections spread over names.
//! Used by `scripts/demo.sh`; std only, so it builds with nothing but cargo.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage:
  l4lb-testkit serve NAME=ADDR [NAME=ADDR ...]
  l4lb-testkit clients ADDR COUNT [PARALLEL]   (PARALLEL defaults to 8)";

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

fn clients(addr: &str, count: &str, parallel: Option<&String>) -> Result<ExitCode, String> {
    let addr: SocketAddr = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("bad address {addr:?}"))?;
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
