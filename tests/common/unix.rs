//! Unix socket helpers for tests/unix_sockets.rs: a backend server on a
//! socket file or an abstract name, and clients of one.

use std::io::{self, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where a [`UnixBackend`] listens.
#[derive(Clone, Debug)]
pub(crate) enum Where {
    Path(PathBuf),
    /// An abstract name as `abnsz@` means it (the bytes alone).
    Abstract(String),
}

impl Where {
    fn addr(&self) -> SocketAddr {
        match self {
            Where::Path(p) => SocketAddr::from_pathname(p).unwrap(),
            Where::Abstract(n) => SocketAddr::from_abstract_name(n.as_bytes()).unwrap(),
        }
    }
}

/// A server on a unix socket: writes `name\n` on accept, then echoes until
/// EOF. Stopped and joined on drop (the socket file is removed).
pub(crate) struct UnixBackend {
    pub at: Where,
    /// Connections accepted so far.
    #[allow(dead_code)]
    pub total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl UnixBackend {
    pub(crate) fn named(name: &'static str, at: Where) -> UnixBackend {
        let listener = UnixListener::bind_addr(&at.addr()).expect("bind a unix backend");
        let stop = Arc::new(AtomicBool::new(false));
        let total = Arc::new(AtomicUsize::new(0));
        let (stop2, total2) = (Arc::clone(&stop), Arc::clone(&total));
        let accept = std::thread::spawn(move || {
            let mut conns = Vec::new();
            for s in listener.incoming() {
                if stop2.load(SeqCst) {
                    break;
                }
                let Ok(s) = s else { continue };
                total2.fetch_add(1, SeqCst);
                conns.push(std::thread::spawn(move || echo_named(s, name)));
            }
            for c in conns {
                let _ = c.join();
            }
        });
        UnixBackend {
            at,
            total,
            stop,
            accept: Some(accept),
        }
    }
}

fn echo_named(mut s: UnixStream, name: &str) {
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

impl Drop for UnixBackend {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        let _ = UnixStream::connect_addr(&self.at.addr());
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        if let Where::Path(p) = &self.at {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Connects to a socket file, with a read timeout.
pub(crate) fn unix_connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).expect("connect to the unix socket");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// One `\n`-terminated line.
pub(crate) fn line(r: &mut impl Read) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if r.read(&mut b)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if b[0] == b'\n' {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.push(b[0]);
    }
}

/// Sends a line and reads it back, after the backend's name: the name.
pub(crate) fn unix_round_trip(path: &Path) -> String {
    let mut c = unix_connect(path);
    let name = line(&mut c).unwrap();
    c.write_all(b"ping\n").unwrap();
    assert_eq!(line(&mut c).unwrap(), "ping");
    name
}

/// The inode of the file at `path`: the same while the same socket is
/// there.
pub(crate) fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// The head of a conf: two threads, a stats socket at `api`, tcp mode and
/// short timeouts.
pub(crate) fn head(api: &Path) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n\ndefaults\n    mode tcp\n    \
         timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\n",
        api.display()
    )
}
