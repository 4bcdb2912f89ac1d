//! Holding one thread of the l4lb child still while the others run: a
//! worker that cannot take a new snapshot keeps a reload's switch pending
//! for as long as a test needs (up to the switch's own deadline), with no
//! timing guess.
//!
//! ptrace(2) stops a single thread: PTRACE_SEIZE attaches without
//! stopping, PTRACE_INTERRUPT stops that thread alone (no group stop, so
//! the supervisor and the other workers run on), and PTRACE_DETACH lets
//! it go. The test thread that froze it must thaw it (ptrace is per tracer
//! thread); if it panics first, its exit detaches the tracee.
//!
//! Included next to `mod common;` with `#[path = "common/sup.rs"] mod sup;`.
#![allow(dead_code)]
// ptrace and waitpid on a thread of the l4lb child: libc calls.
#![allow(unsafe_code)]

use std::io;

/// The id of `pid`'s thread named `name` (its `comm`), if it has one.
pub(crate) fn thread_id(pid: u32, name: &str) -> Option<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(Result::ok)
        .find(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })?
        .file_name()
        .to_str()?
        .parse()
        .ok()
}

/// A thread of the child, stopped until this is dropped.
pub(crate) struct Frozen {
    tid: i32,
}

impl Frozen {
    /// Stops thread `name` of process `pid` (a child of this test) and
    /// returns once it is stopped.
    pub(crate) fn thread(pid: u32, name: &str) -> Frozen {
        let tid = thread_id(pid, name).unwrap_or_else(|| panic!("no thread {name} in {pid}"));
        ptrace(libc::PTRACE_SEIZE, tid).expect("PTRACE_SEIZE");
        let frozen = Frozen { tid };
        ptrace(libc::PTRACE_INTERRUPT, tid).expect("PTRACE_INTERRUPT");
        let mut status = 0;
        // SAFETY: waitpid writes only `status`, a live local.
        let got = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        assert_eq!(got, tid, "waitpid: {}", io::Error::last_os_error());
        assert!(
            libc::WIFSTOPPED(status),
            "thread {name} not stopped: {status:#x}"
        );
        frozen
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Err(e) = ptrace(libc::PTRACE_DETACH, self.tid) {
            eprintln!("PTRACE_DETACH {}: {e}", self.tid);
        }
    }
}

/// One ptrace request with no address and no data.
fn ptrace(request: libc::c_uint, tid: i32) -> io::Result<()> {
    // SAFETY: these requests take no pointer (address and data are 0).
    let r = unsafe { libc::ptrace(request, tid, 0usize, 0usize) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
