//! Binary upgrade without losing the listen queue: a new l4lb started with
//! `--upgrade-from PID` asks the running one, over its runtime API socket,
//! for its listening sockets (`_getsocks`, HAProxy's name), receives them
//! with SCM_RIGHTS, listens on the very same sockets (so connections
//! waiting in their accept queues are not reset), and, once ready, sends
//! the old process SIGUSR1: it stops accepting and finishes its
//! connections (a soft stop).
//!
//! The answer to `_getsocks` is one line per socket, `ADDR\n`, with the
//! sockets attached in the same order, then `end\n`. ADDR is `IP:PORT`,
//! `unix@PATH`, or `abns-hex@HEX` (an abstract name's exact bytes).
//!
//! HAProxy's `-sf PID...` / `-st PID...` ([`Upgrade`]) map onto it: the
//! listeners are taken over the conf's first stats socket if it answers
//! (else, with a warning, bound anew: SO_REUSEPORT shares the ports with
//! the old processes until they close theirs, as HAProxy without `-x`);
//! once ready, each pid gets SIGUSR1 (`-sf`: finish its connections) or
//! SIGINT (`-st`: l4lb's immediate stop; HAProxy sends SIGTERM, which is
//! l4lb's graceful stop). As HAProxy, a pid that is not running is passed
//! over (with a warning here), and `-sf` with no pid is allowed.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, SockAddr, Takeover, UnixAddr};
use crate::process::binds;
use crate::sys;

/// How this l4lb replaces running ones: `--upgrade-from PID` (strict: no
/// listeners taken is an error), or HAProxy's `-sf` / `-st` pids, with
/// `-x SOCKET` saying where to ask for the listeners: the command line's
/// [`Takeover`], checked.
#[derive(Debug, Default)]
pub(crate) struct Upgrade(Takeover);

impl Upgrade {
    pub(crate) fn new(t: Takeover) -> Result<Upgrade, String> {
        if t.upgrade_from.is_some() && !(t.finish.is_empty() && t.terminate.is_empty()) {
            return Err("give --upgrade-from or -sf/-st, not both".to_string());
        }
        let up = Upgrade(t);
        if let Some(pid) = up.pids().find(|p| *p <= 0) {
            return Err(format!("-sf/-st: '{pid}' is not a pid"));
        }
        Ok(up)
    }

    fn pids(&self) -> impl Iterator<Item = i32> + '_ {
        self.0
            .upgrade_from
            .iter()
            .chain(&self.0.finish)
            .chain(&self.0.terminate)
            .copied()
    }

    /// Whether running processes are replaced: their stats sockets are
    /// then taken over rather than refused as in use.
    pub(crate) fn takes_over(&self) -> bool {
        self.pids().next().is_some()
    }

    /// The old process's listening sockets, asked for over the conf's
    /// first stats socket.
    pub(crate) fn inherit(&self, cfg: &Config) -> io::Result<Vec<binds::Inherited>> {
        if !self.takes_over() {
            return Ok(Vec::new());
        }
        let api = self
            .0
            .socket
            .as_deref()
            .or(cfg.stats_sockets.first().map(|s| s.path.as_path()));
        let taken = match (self.0.upgrade_from, api) {
            (Some(_), None) => {
                return Err(io::Error::other(
                    "--upgrade-from needs a `stats socket` (level admin) in the conf",
                ));
            }
            (Some(_), Some(api)) => take_listeners(api)?,
            (None, None) => {
                log::info!("upgrade: no stats socket to take the listeners over; binding anew");
                return Ok(Vec::new());
            }
            (None, Some(api)) => match take_listeners(api) {
                Ok(taken) => taken,
                Err(e) => {
                    log::warn!(
                        "upgrade: {e}; binding anew (the old process shares the ports until it stops)"
                    );
                    return Ok(Vec::new());
                }
            },
        };
        log::info!("upgrade: took {} listening socket(s)", taken.len());
        Ok(taken)
    }

    /// Once ready: tells the old processes to stop.
    pub(crate) fn stop_old(&self) {
        let graceful = self.0.upgrade_from.iter().chain(&self.0.finish);
        let signals = graceful
            .map(|p| (*p, libc::SIGUSR1, "stop gracefully (SIGUSR1)"))
            .chain(
                self.0
                    .terminate
                    .iter()
                    .map(|p| (*p, libc::SIGINT, "stop now (SIGINT)")),
            );
        for (pid, sig, what) in signals {
            match sys::kill(pid, sig) {
                Ok(()) => log::info!("upgrade: told pid {pid} to {what}"),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    log::warn!("upgrade: pid {pid} is not running")
                }
                Err(e) => log::warn!("upgrade: cannot signal pid {pid}: {e}"),
            }
        }
    }
}

/// Old side: sends `fds` (listening sockets, with their addresses) on the
/// API connection `sock`. Returns the text left to write normally.
pub fn send_listeners(sock: BorrowedFd<'_>, fds: &[(OwnedFd, SockAddr)]) -> io::Result<String> {
    for chunk in fds.chunks(sys::MAX_FDS_PER_MSG) {
        let text: String = chunk
            .iter()
            .map(|(_, a)| format!("{}\n", wire(a)))
            .collect();
        let borrowed: Vec<BorrowedFd<'_>> = chunk.iter().map(|(fd, _)| fd.as_fd()).collect();
        let sent = sys::send_fds(sock, text.as_bytes(), &borrowed)?;
        if sent < text.len() {
            // The fds went with the first byte; the rest is plain text.
            return Ok(format!("{}end\n", &text[sent..]));
        }
    }
    Ok("end\n".into())
}

/// New side: asks the process behind the API socket at `path` for its
/// listening sockets. Each comes back non-blocking, with its address.
pub fn take_listeners(path: &Path) -> io::Result<Vec<(OwnedFd, SockAddr)>> {
    let mut sock = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot reach the stats socket {}: {e}", path.display()),
        )
    })?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    sock.write_all(b"_getsocks\n")?;
    let mut text = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let (n, got) = sys::recv_fds(sock.as_fd(), &mut buf)?;
        fds.extend(got);
        text.extend_from_slice(&buf[..n]);
        if n == 0 || text.ends_with(b"end\n") {
            break;
        }
    }
    // Read to the close so the old side is not left with a reset.
    let _ = sock.read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text);
    let addrs: Vec<&str> = text.lines().take_while(|l| *l != "end").collect();
    if addrs.len() != fds.len() || !text.contains("end") {
        return Err(io::Error::other(format!(
            "unexpected answer to _getsocks ({} socket(s) for {} address(es)): {}",
            fds.len(),
            addrs.len(),
            text.trim()
        )));
    }
    let mut out = Vec::with_capacity(fds.len());
    for (fd, addr) in fds.into_iter().zip(addrs) {
        let addr = from_wire(addr)
            .ok_or_else(|| io::Error::other(format!("_getsocks: bad address '{addr}'")))?;
        socket2::SockRef::from(&fd).set_nonblocking(true)?;
        out.push((fd, addr));
    }
    Ok(out)
}

/// A listener's address as `_getsocks` writes it.
fn wire(addr: &SockAddr) -> String {
    match addr {
        SockAddr::Inet(a) => a.to_string(),
        SockAddr::Unix(UnixAddr::Path(p)) => format!("unix@{}", p.display()),
        SockAddr::Unix(UnixAddr::Abstract(name)) => {
            let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
            format!("abns-hex@{hex}")
        }
    }
}

/// The address [`wire`] wrote.
fn from_wire(text: &str) -> Option<SockAddr> {
    if let Some(path) = text.strip_prefix("unix@") {
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path.as_bytes()));
        return Some(SockAddr::Unix(UnixAddr::Path(path)));
    }
    if let Some(hex) = text.strip_prefix("abns-hex@") {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        return Some(SockAddr::Unix(UnixAddr::Abstract(bytes)));
    }
    text.parse::<SocketAddr>().ok().map(SockAddr::Inet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;

    /// The takeover of an l4lb command line (`l4lb WORDS...`).
    fn args(words: &[&str]) -> Takeover {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let refs: Vec<String> = crate::cli::translate(&words);
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        Takeover::from_args(&<Args as argh::FromArgs>::from_args(&["l4lb"], &refs).unwrap())
    }

    #[test]
    fn every_address_kind_goes_over_getsocks_and_back() {
        let addrs = [
            SockAddr::Inet("[::1]:80".parse().unwrap()),
            SockAddr::Unix(UnixAddr::Path("/run/a b.sock".into())),
            SockAddr::Unix(UnixAddr::Abstract(b"x\ny\0\0".to_vec())),
        ];
        for a in addrs {
            assert_eq!(from_wire(&wire(&a)), Some(a.clone()), "{}", wire(&a));
        }
    }

    #[test]
    fn sf_and_st_pids_are_read_and_mixing_with_upgrade_from_is_refused() {
        let up = Upgrade::new(args(&["-sf", "10", "11", "-st", "12"])).unwrap();
        assert_eq!(
            (up.0.finish.as_slice(), up.0.terminate.as_slice()),
            (&[10, 11][..], &[12][..])
        );
        assert!(up.takes_over());
        let none = Upgrade::new(args(&["-sf"])).unwrap();
        assert!(!none.takes_over(), "-sf with no pid replaces nothing");
        let both = Upgrade::new(args(&["--upgrade-from", "3", "-sf", "4"]));
        assert!(both.unwrap_err().contains("not both"));
        assert!(Upgrade::new(args(&["-sf", "0"])).is_err());
    }
}
