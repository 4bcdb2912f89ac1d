//! The runtime API: HAProxy's text protocol on unix stream sockets
//! (`stats socket`), served by the supervisor thread, off the data path.
//!
//! A client sends a line of commands separated by `;`. Without `prompt`,
//! l4lb answers them (each answer followed by an empty line, as HAProxy)
//! and closes; so `echo "show stat" | socat stdio /run/l4lb.sock` works.
//! `prompt` makes the connection interactive: a `> ` prompt after each
//! answer, until `quit` or `stats timeout` of silence (`set timeout cli`
//! sets a connection's own, as HAProxy). A line longer than
//! [`MAX_LINE`] gets an error and is skipped; the connection stays usable.
//! What the commands do is in [`commands`]. A command that makes a new
//! snapshot (`reload`, `add server`, `del server`) parks its connection
//! until the workers have switched to it: its answer says the change is in
//! force, and the rest of the line runs after it; other connections are
//! served meanwhile. The sockets, connections and
//! idle deadlines are an [admin service](crate::admin::service): out of
//! fds, a socket rests and retries, so a client queued meanwhile is
//! answered once fds are back.

pub(crate) mod commands;
mod show_stat;

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::Registry;
use mio::net::{UnixListener, UnixStream};

use crate::admin::service::{Listening, Next, Protocol, Service, Tokens};
use crate::config::{ApiLevel, Config, StatsSocket};
use crate::process::reload;
use crate::process::upgrade;
use commands::Answer;
pub(crate) use commands::Runtime;

/// The longest command line accepted.
pub(crate) const MAX_LINE: usize = 16 * 1024;
/// Answers a slow reader has not taken yet, at most; past it the
/// connection is closed.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// The runtime API: the admin service that speaks [`Cli`].
pub(crate) type Api = Service<Cli>;

/// HAProxy's command-line protocol, as the runtime API serves it.
pub(crate) struct Cli {
    /// `stats timeout`: how long a connection may stay silent.
    timeout: Duration,
}

/// One `stats socket`: the level its connections get, and its file.
pub(crate) struct Socket {
    path: PathBuf,
    /// Device and inode of the socket file we made: when the socket goes,
    /// the file is removed only if it is still ours (after an upgrade it is
    /// the new process's).
    file_id: Option<(u64, u64)>,
    level: ApiLevel,
}

pub(crate) struct Conn {
    stream: UnixStream,
    level: ApiLevel,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Interactive (`prompt`): answer line after line until `quit`.
    prompt: bool,
    /// `set timeout cli`: this connection's own idle timeout.
    timeout: Option<Duration>,
    /// The rest of an over-long line is being skipped.
    skipping: bool,
    /// Close once the output is written.
    closing: bool,
    seen: Instant,
    /// Parked until a switch to a new snapshot is over: nothing more is
    /// run until then.
    wait: Option<Wait>,
}

/// What a parked connection waits for, and does then.
enum Wait {
    /// Switch number `after` to be over ([`Runtime::switched`]): it is the
    /// one its command started; then gives `text`, as the change is in
    /// force.
    Answer { text: String, after: u64 },
    /// No switch pending: runs its command again (it came during another
    /// one's switch).
    Rerun,
}

impl Wait {
    fn over(&self, rt: &dyn Runtime) -> bool {
        match self {
            Wait::Answer { after, .. } => rt.switched() >= *after,
            Wait::Rerun => !rt.switching(),
        }
    }
}

impl Protocol for Cli {
    type Listener = UnixListener;
    type Origin = Socket;
    type Conn = Conn;
    type Ctx<'a> = &'a mut dyn Runtime;
    const NAME: &'static str = "runtime API";

    fn open(&self, stream: UnixStream, socket: &Socket, now: Instant) -> Conn {
        Conn {
            stream,
            level: socket.level,
            input: Vec::new(),
            output: Vec::new(),
            prompt: false,
            timeout: None,
            skipping: false,
            closing: false,
            seen: now,
            wait: None,
        }
    }

    fn stream(c: &mut Conn) -> &mut UnixStream {
        &mut c.stream
    }

    /// `stats timeout` of silence; a parked connection has the longest a
    /// switch takes on top.
    fn deadline(&self, c: &Conn) -> Instant {
        let idle = c.seen + c.timeout.unwrap_or(self.timeout);
        if c.wait.is_some() {
            idle + reload::SWITCH_WAIT
        } else {
            idle
        }
    }

    fn ready(&self, c: &mut Conn, rt: &mut dyn Runtime) -> Next {
        serve(c, rt)
    }

    fn parked(&self, c: &Conn) -> bool {
        c.wait.is_some()
    }
}

impl Api {
    /// Opens every `stats socket` of `cfg`. A stale socket file left by a
    /// previous run is replaced; a live one (something answers on it) is an
    /// error, so two l4lb never share a socket by mistake.
    /// With `takeover` (an upgrade), a live socket is replaced too: the old
    /// process keeps its connections, new ones come here.
    pub(crate) fn bind(
        cfg: &Config,
        registry: &Registry,
        tokens: Tokens,
        takeover: bool,
    ) -> io::Result<Api> {
        let cli = Cli {
            timeout: cfg.stats_timeout,
        };
        let mut api = Service::new(cli, registry, tokens, cfg.stats_maxconn)?;
        for s in &cfg.stats_sockets {
            let sock = bind_socket(s, takeover)?;
            api.listen(Socket::listening(sock, s))?;
        }
        Ok(api)
    }

    /// Follows the `stats` lines of a reloaded configuration: a socket
    /// whose path is kept stays open (with the new line's level and mode),
    /// new paths are bound, removed ones close and their files go. Open
    /// connections carry on at the level they were accepted with. Returns
    /// one error per socket that could not be bound (it stays closed).
    pub(crate) fn rebind(&mut self, cfg: &Config) -> Vec<String> {
        self.protocol_mut().timeout = cfg.stats_timeout;
        self.set_max_conns(cfg.stats_maxconn);
        let mut old: Vec<Option<Listening<Cli>>> =
            self.take_listeners().into_iter().map(Some).collect();
        let mut errors = Vec::new();
        for s in &cfg.stats_sockets {
            let kept = old
                .iter_mut()
                .find(|l| l.as_ref().is_some_and(|l| l.origin().path == s.path))
                .and_then(Option::take);
            let listening = match kept {
                Some(mut l) => {
                    l.origin_mut().level = s.level;
                    if let Err(e) = set_access(s) {
                        errors.push(e.to_string());
                    }
                    l
                }
                None => match bind_socket(s, false) {
                    Ok(sock) => Socket::listening(sock, s),
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                },
            };
            if let Err(e) = self.listen(listening) {
                errors.push(format!("stats socket {}: {e}", s.path.display()));
            }
        }
        // Dropping the sockets of removed lines removes their files.
        drop(old);
        errors
    }

    /// The socket paths, for the ready message.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.origins().map(|s| s.path.as_path())
    }
}

impl Socket {
    /// `sock`, just bound for `line`, as a listener of the API.
    fn listening(sock: UnixListener, line: &StatsSocket) -> Listening<Cli> {
        let socket = Socket {
            file_id: file_id(&line.path),
            path: line.path.clone(),
            level: line.level,
        };
        let label = line.path.display().to_string();
        Listening::new(sock, socket, Some(label))
    }
}

impl Drop for Socket {
    /// The socket file goes with the socket, if it is still the one we made.
    fn drop(&mut self) {
        if self.file_id.is_some() && file_id(&self.path) == self.file_id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads what the client sent, runs each complete line, writes answers.
/// A parked connection runs nothing until what it waits for is over.
fn serve(c: &mut Conn, rt: &mut dyn Runtime) -> Next {
    if c.wait.as_ref().is_some_and(|w| w.over(rt)) {
        if let Some(Wait::Answer { text, .. }) = c.wait.take() {
            push_answer(c, &text);
        }
        c.seen = Instant::now();
        run_lines(c, rt);
    }
    let mut eof = false;
    let mut buf = [0u8; 4096];
    // Parked, it still takes a line's worth of input: closed with input
    // unread in the kernel, the socket would reset the client's answer.
    while !c.closing && (c.wait.is_none() || c.input.len() <= MAX_LINE) {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => {
                c.seen = Instant::now();
                c.input.extend_from_slice(&buf[..n]);
                run_lines(c, rt);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
    // Parked, it closes after its answer: reading again then sees EOF.
    if eof && !c.closing && c.wait.is_none() {
        // A last command without its newline still runs (`echo -n`).
        if !c.input.is_empty() && !c.skipping {
            c.input.push(b'\n');
            run_lines(c, rt);
        }
        c.closing = c.wait.is_none();
    }
    match flush(c) {
        Ok(true) if c.closing => Next::Close,
        Ok(_) if c.output.len() > MAX_OUTPUT => Next::Close,
        Ok(_) => Next::Keep,
        Err(_) => Next::Close,
    }
}

/// Runs every complete line in `c.input`; in prompt mode, prompts after.
/// Stops at a command that parks the connection.
fn run_lines(c: &mut Conn, rt: &mut dyn Runtime) {
    while !c.closing && c.wait.is_none() {
        let Some(end) = c.input.iter().position(|&b| b == b'\n') else {
            if c.input.len() > MAX_LINE {
                if !c.skipping {
                    let msg = format!("Command line too long (over {MAX_LINE} bytes).\n\n");
                    c.output.extend_from_slice(msg.as_bytes());
                }
                c.skipping = true;
                c.input.clear();
            }
            return;
        };
        let line: Vec<u8> = c.input.drain(..=end).collect();
        if std::mem::take(&mut c.skipping) {
            // The tail of the over-long line.
            end_of_answer(c);
            continue;
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 1]);
        let text = text.trim_end_matches('\r');
        let cmds: Vec<&str> = text.split(';').map(str::trim).collect();
        for (i, &cmd) in cmds.iter().enumerate() {
            match cmd {
                "" if c.prompt => {}
                "" => {}
                // As HAProxy: the prompt comes after an empty answer.
                "prompt" => {
                    c.prompt = !c.prompt;
                    push_answer(c, "");
                }
                "quit" => {
                    c.closing = true;
                    return;
                }
                // A new l4lb taking over (`--upgrade-from`): the listening
                // sockets go with the answer.
                "_getsocks" if c.level == ApiLevel::Admin => {
                    let fds = rt.listener_fds();
                    let count = fds.len();
                    match upgrade::send_listeners(c.stream.as_fd(), &fds) {
                        Ok(rest) => {
                            c.output.extend_from_slice(rest.as_bytes());
                            log::info!("runtime API: handed {count} listening socket(s) over");
                        }
                        Err(e) => {
                            log::warn!("runtime API: _getsocks: {e}");
                            c.closing = true;
                            return;
                        }
                    }
                }
                "_getsocks" => c.output.extend_from_slice(b"Permission denied\n\n"),
                _ if cmd.split_whitespace().take(2).eq(["set", "timeout"]) => {
                    match set_timeout(cmd) {
                        Ok(t) => {
                            c.timeout = Some(t);
                            push_answer(c, "");
                        }
                        Err(e) => push_answer(c, e),
                    }
                }
                _ => match commands::execute(cmd, c.level, rt) {
                    Answer::Now(text) => push_answer(c, &text),
                    Answer::AfterSwitch(text) => {
                        // One switch at a time: this one ends next.
                        let after = rt.switched() + 1;
                        park(c, Wait::Answer { text, after }, &cmds[i + 1..]);
                        return;
                    }
                    Answer::Retry => {
                        park(c, Wait::Rerun, &cmds[i..]);
                        return;
                    }
                },
            }
        }
        end_of_answer(c);
    }
}

/// `set timeout cli <delay>` (seconds, or with a unit: `ms`, `s`, `m`,
/// `h`, `d`), at any level: this connection's idle timeout, as HAProxy.
fn set_timeout(cmd: &str) -> Result<Duration, &'static str> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let delay = match words.as_slice() {
        ["set", "timeout", "cli", delay, ..] => *delay,
        ["set", "timeout", "cli"] => return Err("Expects an integer value.\n"),
        _ => return Err("'set timeout' only supports 'cli'.\n"),
    };
    let split = delay
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(delay.len());
    let (n, unit) = delay.split_at(split);
    let per_unit_ms: u64 = match unit {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err("Invalid timeout value.\n"),
    };
    let secs = n
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(per_unit_ms))
        // HAProxy's timers hold up to 2^31 - 1 ms.
        .filter(|&ms| ms <= i32::MAX as u64)
        .map(|ms| ms / 1000)
        .filter(|&s| s >= 1)
        .ok_or("Invalid timeout value.\n")?;
    Ok(Duration::from_secs(secs))
}

/// An answer, ended by an empty line.
fn push_answer(c: &mut Conn, text: &str) {
    c.output.extend_from_slice(text.as_bytes());
    if !text.is_empty() && !text.ends_with('\n') {
        c.output.push(b'\n');
    }
    c.output.push(b'\n');
}

/// Parks `c` until the switch is over; the commands `rest` of the line go
/// back in front of the input, as a line of their own, to run then (and
/// the prompt, or the close, to come after them).
fn park(c: &mut Conn, wait: Wait, rest: &[&str]) {
    let line = format!("{}\n", rest.join(";"));
    c.input.splice(0..0, line.into_bytes());
    c.wait = Some(wait);
}

/// After a line: the prompt, or the end of a one-shot connection.
fn end_of_answer(c: &mut Conn) {
    if c.prompt {
        c.output.extend_from_slice(b"> ");
    } else {
        c.closing = true;
    }
}

/// Writes what it can; Ok(true) once everything is written.
fn flush(c: &mut Conn) -> io::Result<bool> {
    while !c.output.is_empty() {
        match c.stream.write(&c.output) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Device and inode of the file at `path`.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Binds a unix stream socket at `path` with file mode `mode`.
fn bind_socket(s: &StatsSocket, takeover: bool) -> io::Result<UnixListener> {
    let path = s.path.as_path();
    if path.exists() {
        if !takeover && std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "stats socket {}: another process answers on it",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let sock = UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("stats socket {}: {e}", path.display())))?;
    set_access(s)?;
    Ok(sock)
}

/// The socket file's mode and owner, as its `stats socket` line says.
fn set_access(s: &StatsSocket) -> io::Result<()> {
    let say = |what: &str, e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("stats socket {}: {what}: {e}", s.path.display()),
        )
    };
    if s.uid.is_some() || s.gid.is_some() {
        std::os::unix::fs::chown(&s.path, s.uid, s.gid).map_err(|e| say("owner", e))?;
    }
    std::fs::set_permissions(&s.path, std::fs::Permissions::from_mode(s.mode))
        .map_err(|e| say("mode", e))
}
