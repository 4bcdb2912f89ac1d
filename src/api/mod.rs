//! The runtime API: HAProxy's text protocol on unix stream sockets
//! (`stats socket`), served by the supervisor thread, off the data path.
//!
//! A client sends a line of commands separated by `;`. Without `prompt`,
//! l4lb answers them (each answer followed by an empty line, as HAProxy)
//! and closes; so `echo "show stat" | socat stdio /run/l4lb.sock` works.
//! `prompt` makes the connection interactive: a `> ` prompt after each
//! answer, until `quit` or `stats timeout` of silence. A line longer than
//! [`MAX_LINE`] gets an error and is skipped; the connection stays usable.
//! What the commands do is in [`commands`]. Out of fds, a socket rests
//! and retries (a [`listener::Pause`]), so a client queued meanwhile is
//! answered once fds are back.

pub mod commands;

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::config::{ApiLevel, Config};
use crate::listener::{self, Pause};
use crate::upgrade;
pub use commands::Runtime;
use std::os::fd::AsFd;

/// The longest command line accepted.
pub const MAX_LINE: usize = 16 * 1024;
/// Answers a slow reader has not taken yet, at most; past it the
/// connection is closed.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// Token ranges of the runtime API in the supervisor's `Poll`.
const LISTENER_BASE: usize = 1 << 20;
const CONN_BASE: usize = LISTENER_BASE + 64;
const CONN_END: usize = CONN_BASE + (1 << 16);

struct Listener {
    sock: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file we made: at exit, the file is
    /// removed only if it is still ours (after an upgrade it is the new
    /// process's).
    file_id: Option<(u64, u64)>,
    level: ApiLevel,
    /// Set while the socket rests after running out of fds.
    pause: Pause,
}

struct Conn {
    stream: UnixStream,
    level: ApiLevel,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Interactive (`prompt`): answer line after line until `quit`.
    prompt: bool,
    /// The rest of an over-long line is being skipped.
    skipping: bool,
    /// Close once the output is written.
    closing: bool,
    seen: Instant,
}

pub struct Api {
    registry: Registry,
    listeners: Vec<Listener>,
    conns: Vec<Option<Conn>>,
    timeout: Duration,
    maxconn: usize,
}

impl Api {
    /// Opens every `stats socket` of `cfg`. A stale socket file left by a
    /// previous run is replaced; a live one (something answers on it) is an
    /// error, so two l4lb never share a socket by mistake.
    /// With `takeover` (an upgrade), a live socket is replaced too: the old
    /// process keeps its connections, new ones come here.
    pub fn bind(cfg: &Config, registry: &Registry, takeover: bool) -> io::Result<Api> {
        let mut listeners = Vec::new();
        for (i, s) in cfg.stats_sockets.iter().enumerate() {
            let mut sock = bind_socket(&s.path, s.mode, takeover)?;
            registry.register(&mut sock, Token(LISTENER_BASE + i), Interest::READABLE)?;
            listeners.push(Listener {
                sock,
                file_id: file_id(&s.path),
                path: s.path.clone(),
                level: s.level,
                pause: Pause::default(),
            });
        }
        Ok(Api {
            registry: registry.try_clone()?,
            listeners,
            conns: Vec::new(),
            timeout: cfg.stats_timeout,
            maxconn: cfg.stats_maxconn,
        })
    }

    /// Follows the `stats` lines of a reloaded configuration: a socket
    /// whose path is kept stays open (with the new line's level and mode),
    /// new paths are bound, removed ones close and their files go. Open
    /// connections carry on at the level they were accepted with. Returns
    /// one error per socket that could not be bound (it stays closed).
    pub fn rebind(&mut self, cfg: &Config) -> Vec<String> {
        self.timeout = cfg.stats_timeout;
        self.maxconn = cfg.stats_maxconn;
        let mut old: Vec<Option<Listener>> = std::mem::take(&mut self.listeners)
            .into_iter()
            .map(Some)
            .collect();
        for l in old.iter_mut().flatten() {
            let _ = self.registry.deregister(&mut l.sock);
        }
        let mut errors = Vec::new();
        for s in &cfg.stats_sockets {
            let kept = old
                .iter_mut()
                .find(|l| l.as_ref().is_some_and(|l| l.path == s.path))
                .and_then(Option::take);
            let listener = match kept {
                Some(mut l) => {
                    l.level = s.level;
                    let mode = std::fs::Permissions::from_mode(s.mode);
                    if let Err(e) = std::fs::set_permissions(&l.path, mode) {
                        errors.push(format!("stats socket {}: mode: {e}", l.path.display()));
                    }
                    l
                }
                None => match bind_socket(&s.path, s.mode, false) {
                    Ok(sock) => Listener {
                        sock,
                        file_id: file_id(&s.path),
                        path: s.path.clone(),
                        level: s.level,
                        pause: Pause::default(),
                    },
                    Err(e) => {
                        errors.push(e.to_string());
                        continue;
                    }
                },
            };
            self.listeners.push(listener);
        }
        for l in old.into_iter().flatten() {
            l.remove_file();
        }
        for (i, l) in self.listeners.iter_mut().enumerate() {
            let token = Token(LISTENER_BASE + i);
            if let Err(e) = self
                .registry
                .register(&mut l.sock, token, Interest::READABLE)
            {
                errors.push(format!("stats socket {}: {e}", l.path.display()));
            }
        }
        errors
    }

    /// Whether `token` belongs to the runtime API.
    pub fn owns(token: Token) -> bool {
        (LISTENER_BASE..CONN_END).contains(&token.0)
    }

    /// The socket paths, for the ready message.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.listeners.iter().map(|l| l.path.as_path())
    }

    /// A readiness event on one of the API's sockets.
    pub fn on_event(&mut self, token: Token, rt: &mut dyn Runtime) {
        if token.0 < CONN_BASE {
            self.accept(token.0 - LISTENER_BASE);
        } else {
            self.serve(token.0 - CONN_BASE, rt);
        }
    }

    /// When the next idle connection times out, or a resting socket is
    /// retried.
    pub fn next_deadline(&self) -> Option<Instant> {
        let idle = self.conns.iter().flatten().map(|c| c.seen + self.timeout);
        let rests = self.listeners.iter().filter_map(|l| l.pause.until());
        idle.chain(rests).min()
    }

    /// Closes connections idle for `stats timeout`, then retries the
    /// sockets whose rest is over.
    pub fn expire(&mut self, now: Instant) {
        for slot in 0..self.conns.len() {
            if self.conns[slot]
                .as_ref()
                .is_some_and(|c| now >= c.seen + self.timeout)
            {
                self.close(slot);
            }
        }
        for i in 0..self.listeners.len() {
            if self.listeners[i].pause.due(now) {
                self.accept(i);
            }
        }
    }

    /// Accepts on socket `i` until `WouldBlock`, or until fds run out
    /// (then it rests).
    fn accept(&mut self, i: usize) {
        let Some(l) = self.listeners.get_mut(i) else {
            return;
        };
        if l.pause.resting() {
            return;
        }
        loop {
            let (mut stream, _) = match l.sock.accept() {
                Ok(s) => s,
                Err(e) if listener::is_exhausted(&e) => {
                    if l.pause.failed(Instant::now()) {
                        log::warn!(
                            "runtime API: accept on {}: {e}; pausing it, retried every {}ms",
                            l.path.display(),
                            listener::EXHAUSTED_PAUSE.as_millis()
                        );
                    }
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    l.recovered();
                    return;
                }
                // A signal.
                Err(_) => continue,
            };
            l.recovered();
            let open = self.conns.iter().flatten().count();
            if open >= self.maxconn {
                // Dropping it closes it: `stats maxconn` is reached.
                log::warn!("runtime API: stats maxconn {} reached", self.maxconn);
                continue;
            }
            let slot = match self.conns.iter().position(Option::is_none) {
                Some(s) => s,
                None => {
                    self.conns.push(None);
                    self.conns.len() - 1
                }
            };
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self
                .registry
                .register(&mut stream, Token(CONN_BASE + slot), interest)
            {
                log::warn!("runtime API: register: {e}");
                continue;
            }
            self.conns[slot] = Some(Conn {
                stream,
                level: l.level,
                input: Vec::new(),
                output: Vec::new(),
                prompt: false,
                skipping: false,
                closing: false,
                seen: Instant::now(),
            });
        }
    }

    /// Reads what the client sent, runs each complete line, writes answers.
    fn serve(&mut self, slot: usize, rt: &mut dyn Runtime) {
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return;
        };
        let mut eof = false;
        let mut buf = [0u8; 4096];
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    c.seen = Instant::now();
                    c.input.extend_from_slice(&buf[..n]);
                    run_lines(c, rt);
                    if c.closing {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(slot);
                    return;
                }
            }
        }
        if eof && !c.closing {
            // A last command without its newline still runs (`echo -n`).
            if !c.input.is_empty() && !c.skipping {
                c.input.push(b'\n');
                run_lines(c, rt);
            }
            c.closing = true;
        }
        match flush(c) {
            Ok(true) if c.closing => self.close(slot),
            Ok(_) if c.output.len() > MAX_OUTPUT => self.close(slot),
            Ok(_) => {}
            Err(_) => self.close(slot),
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut c) = self.conns[slot].take() {
            let _ = self.registry.deregister(&mut c.stream);
        }
    }
}

impl Listener {
    fn recovered(&mut self) {
        if let Some(n) = self.pause.recovered() {
            log::info!(
                "runtime API: accepting again on {} after {n} failed accept(s)",
                self.path.display()
            );
        }
    }

    /// Removes the socket file if it is still the one we made.
    fn remove_file(&self) {
        if self.file_id.is_some() && file_id(&self.path) == self.file_id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for Api {
    /// The socket files go with the process.
    fn drop(&mut self) {
        for l in &self.listeners {
            l.remove_file();
        }
    }
}

/// Runs every complete line in `c.input`; in prompt mode, prompts after.
fn run_lines(c: &mut Conn, rt: &mut dyn Runtime) {
    while !c.closing {
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
        for cmd in text.split(';').map(str::trim) {
            match cmd {
                "" if c.prompt => {}
                "" => {}
                "prompt" => c.prompt = !c.prompt,
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
                _ => {
                    let answer = commands::execute(cmd, c.level, rt);
                    c.output.extend_from_slice(answer.as_bytes());
                    if !answer.is_empty() && !answer.ends_with('\n') {
                        c.output.push(b'\n');
                    }
                    c.output.push(b'\n');
                }
            }
        }
        end_of_answer(c);
    }
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
fn bind_socket(path: &Path, mode: u32, takeover: bool) -> io::Result<UnixListener> {
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
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(sock)
}
