//! Binary upgrade without losing the listen queue: a new l4lb started with
//! `--upgrade-from PID` asks the running one, over its runtime API socket,
//! for its listening sockets (`_getsocks`, HAProxy's name), receives them
//! with SCM_RIGHTS, listens on the very same sockets (so connections
//! waiting in their accept queues are not reset), and, once ready, sends
//! the old process SIGUSR1: it stops accepting and finishes its
//! connections (a soft stop).
//!
//! The answer to `_getsocks` is one line per socket, `ADDR\n`, with the
//! sockets attached in the same order, then `end\n`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::sys;

/// Old side: sends `fds` (listening sockets, with their addresses) on the
/// API connection `sock`. Returns the text left to write normally.
pub fn send_listeners(sock: BorrowedFd<'_>, fds: &[(OwnedFd, SocketAddr)]) -> io::Result<String> {
    for chunk in fds.chunks(sys::MAX_FDS_PER_MSG) {
        let text: String = chunk.iter().map(|(_, a)| format!("{a}\n")).collect();
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
pub fn take_listeners(path: &Path) -> io::Result<Vec<(std::net::TcpListener, SocketAddr)>> {
    let mut sock = UnixStream::connect(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "--upgrade-from: cannot reach the stats socket {}: {e}",
                path.display()
            ),
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
            "--upgrade-from: unexpected answer to _getsocks ({} socket(s) for {} address(es)): {}",
            fds.len(),
            addrs.len(),
            text.trim()
        )));
    }
    let mut out = Vec::with_capacity(fds.len());
    for (fd, addr) in fds.into_iter().zip(addrs) {
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| io::Error::other(format!("--upgrade-from: bad address '{addr}'")))?;
        let listener = std::net::TcpListener::from(fd);
        listener.set_nonblocking(true)?;
        out.push((listener, addr));
    }
    Ok(out)
}
