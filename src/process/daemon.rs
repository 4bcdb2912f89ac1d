//! `daemon` (`-D`): fork to the background, and tell the terminal how the
//! start went.
//!
//! The fork comes first, while the process has one thread (fork copies
//! only the calling thread; locks held by others would stay locked in the
//! child). The child starts a session of its own (setsid) and does the
//! whole start-up: it binds, drops privileges, starts its threads. The
//! parent waits on a pipe: the child writes `ready` once it serves, or its
//! start-up error, which the parent prints before exiting non-zero. The
//! child's stdio goes to /dev/null once it is ready, so errors until then
//! still reach the terminal, through the parent.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use crate::sys::{self, Forked};

const READY: &[u8] = b"ready\n";

/// What `fork` leaves this process to do.
pub(crate) enum Role {
    /// The parent: wait for the child's word, then exit with it.
    Parent(Parent),
    /// The daemon: carry on with the start-up, then report.
    Child(Notice),
}

/// The parent's end of the pipe.
pub(crate) struct Parent {
    pid: i32,
    from_child: io::PipeReader,
}

/// The daemon's end: report once, ready or failed.
pub(crate) struct Notice {
    to_parent: io::PipeWriter,
}

/// Forks; in the child, also starts a new session. Only while no other
/// thread runs.
pub(crate) fn fork() -> io::Result<Role> {
    let (from_child, to_parent) = io::pipe()?;
    match sys::fork()? {
        Forked::Parent(pid) => {
            drop(to_parent);
            Ok(Role::Parent(Parent { pid, from_child }))
        }
        Forked::Child => {
            drop(from_child);
            sys::setsid()?;
            Ok(Role::Child(Notice { to_parent }))
        }
    }
}

impl Parent {
    /// Waits for the child's word: exit 0 once it is ready; else prints
    /// its error (or that it died without one) and exits 1.
    pub(crate) fn wait(mut self) -> ExitCode {
        let mut said = Vec::new();
        let read = self.from_child.read_to_end(&mut said);
        if read.is_ok() && said == READY {
            return ExitCode::SUCCESS;
        }
        // The daemon failed and is exiting (the pipe closed with it): reap
        // it, so it leaves no zombie behind.
        let _ = sys::wait_for(self.pid);
        let text = String::from_utf8_lossy(&said);
        if text.trim().is_empty() {
            eprintln!(
                "l4lb: the daemon (pid {}) exited before it was ready",
                self.pid
            );
        } else {
            eprint!("{text}");
        }
        ExitCode::from(1)
    }
}

impl Notice {
    /// The start-up failed: the parent prints `text` and exits 1.
    pub(crate) fn failed(mut self, text: &str) {
        let _ = self.to_parent.write_all(text.as_bytes());
    }

    /// Ready: stdio to /dev/null (the terminal may go away with the
    /// parent), then the word to the parent, which exits 0.
    pub(crate) fn ready(mut self) -> io::Result<()> {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        sys::stdio_to(std::os::fd::AsFd::as_fd(&null))?;
        self.to_parent.write_all(READY)
    }
}
