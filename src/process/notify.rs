//! systemd's readiness protocol (`sd_notify`), without libsystemd: one
//! datagram per state change to the unix socket named by `NOTIFY_SOCKET`
//! (a path, or an abstract name when it starts with `@`).
//!
//! Every function is a no-op when the variable is unset (not started by
//! systemd with `Type=notify`). Sending never fails the caller: the first
//! error is logged at debug, later ones are not.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::sys;

/// Startup (or a reload) is complete: every listener is bound. `status` is
/// the one line `systemctl status` shows.
pub fn ready(status: &str) {
    send(&format!(
        "READY=1\nSTATUS={status}\nMAINPID={}",
        std::process::id()
    ));
}

/// A reload has started. `Type=notify-reload` needs `MONOTONIC_USEC`, the
/// moment it started, to match it with the `READY=1` that ends it.
pub fn reloading() {
    match sys::monotonic_usec() {
        Ok(usec) => send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}")),
        Err(e) => once(&e),
    }
}

/// A stop (graceful or not) has started.
pub fn stopping(status: &str) {
    send(&format!("STOPPING=1\nSTATUS={status}"));
}

/// A new status line, with no change of state.
pub fn status(status: &str) {
    send(&format!("STATUS={status}"));
}

fn send(msg: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send_to(&target.to_string_lossy(), msg) {
        once(&e);
    }
}

fn send_to(target: &str, msg: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let sent = match target.strip_prefix('@') {
        Some(name) => sock.send_to_addr(msg.as_bytes(), &SocketAddr::from_abstract_name(name)?),
        None => sock.send_to(msg.as_bytes(), target),
    }?;
    if sent < msg.len() {
        return Err(io::Error::other(format!(
            "sent {sent} of {} bytes",
            msg.len()
        )));
    }
    Ok(())
}

/// Logs the first error only: a missing notify socket would otherwise log on
/// every state change, and none of this may stop l4lb.
fn once(e: &io::Error) {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Relaxed) {
        log::debug!("sd_notify: cannot notify systemd: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("l4lb-notify-{}", std::process::id()));
        let path = dir.with_extension("sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        send_to(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_file(&path);

        let name = format!("l4lb-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn a_missing_socket_is_an_error_for_the_caller_to_log() {
        assert!(send_to("/nonexistent/l4lb/notify.sock", "READY=1").is_err());
    }
}
