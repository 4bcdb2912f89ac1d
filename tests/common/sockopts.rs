//! Reading socket options off l4lb's own sockets: each socket of the
//! process is copied into the test with pidfd_getfd (the test is root, or
//! l4lb's parent), then asked with getsockopt, so a test checks what the
//! kernel really holds, on every worker's listener.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Copies of every socket of process `pid`, each once (l4lb's supervisor
/// keeps duplicates of the workers' listeners: one socket, two fds).
pub(crate) fn sockets_of(pid: u32) -> Vec<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    assert!(pidfd >= 0, "pidfd_open: {}", io::Error::last_os_error());
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let mut socks = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let entry = entry.unwrap();
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let link = link.to_string_lossy().into_owned();
        let Ok(target) = entry.file_name().to_string_lossy().parse::<libc::c_int>() else {
            continue;
        };
        if !link.starts_with("socket:") || !seen.insert(link) {
            continue;
        }
        // SAFETY: pidfd_getfd takes a pidfd, an fd number and flags, and
        // returns a new fd (a duplicate in this process) or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
        if fd >= 0 {
            // SAFETY: a new fd, ours alone.
            socks.push(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
    }
    socks
}

/// l4lb's listening sockets on `port`: one per worker.
pub(crate) fn listeners_on(pid: u32, port: u16) -> Vec<OwnedFd> {
    sockets_of(pid)
        .into_iter()
        .filter(|fd| {
            let sock = socket2::SockRef::from(fd);
            let local = sock.local_addr().ok().and_then(|a| a.as_socket());
            local.is_some_and(|a| a.port() == port) && sock.is_listener().unwrap_or(false)
        })
        .collect()
}

/// l4lb's connected sockets whose peer is `peer`.
pub(crate) fn connections_to(pid: u32, peer: SocketAddr) -> Vec<OwnedFd> {
    sockets_of(pid)
        .into_iter()
        .filter(|fd| {
            let sock = socket2::SockRef::from(fd);
            sock.peer_addr().ok().and_then(|a| a.as_socket()) == Some(peer)
        })
        .collect()
}

/// An int socket option of `fd`.
pub(crate) fn int_opt(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> libc::c_int {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live locals of the sizes given.
    let rc =
        unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&raw mut v).cast(), &mut len) };
    assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
    v
}

/// The Send-Q `ss` shows for the listener on `port`: its backlog.
pub(crate) fn ss_backlog(port: u16) -> Vec<u32> {
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("run ss");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
        .collect()
}
