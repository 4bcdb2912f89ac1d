//! Every `unsafe` call of l4lb: splice, pipes, rlimits and signals.
//!
//! Each function wraps one syscall and returns `io::Result`, errors taken
//! from errno, so the rest of the crate stays safe code.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Calls a libc function and turns `-1` into the errno as `io::Error`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each call site passes valid fds and pointers to live memory.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err(io::Error::last_os_error()) } else { Ok(res) }
    }};
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC))?;
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// Sets a pipe's capacity (F_SETPIPE_SZ) and returns what the kernel granted.
pub fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    let size = libc::c_int::try_from(size).map_err(|_| io::ErrorKind::InvalidInput)?;
    syscall!(fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size)).map(|n| n as usize)
}

/// A pipe's capacity (F_GETPIPE_SZ).
pub fn pipe_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    syscall!(fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ)).map(|n| n as usize)
}

/// Moves up to `len` bytes from `from` to `to`, one of which is a pipe, without
/// copying through user space. `Ok(0)` means end of file on `from`.
/// `WouldBlock` is ambiguous when `from` is a socket: its queue is empty OR the
/// pipe is full; the caller tells which from how much the pipe holds.
#[inline]
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    let (null_in, null_out) = (std::ptr::null_mut(), std::ptr::null_mut());
    syscall!(splice(
        from.as_raw_fd(),
        null_in,
        to.as_raw_fd(),
        null_out,
        len,
        flags
    ))
    .map(|n| n as usize)
}

/// RLIMIT_NOFILE as (soft, hard).
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets RLIMIT_NOFILE; raising `hard` needs CAP_SYS_RESOURCE.
pub fn set_nofile_limit(soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim)).map(drop)
}

/// A set of signals blocked in the calling thread (and every thread it
/// spawns afterwards), to be received synchronously with [`SignalSet::wait`].
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    pub fn block(signals: &[libc::c_int]) -> io::Result<SignalSet> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        syscall!(sigemptyset(&mut set))?;
        for &sig in signals {
            syscall!(sigaddset(&mut set, sig))?;
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(SignalSet(set))
    }

    /// Blocks until one of the signals arrives and returns its number.
    pub fn wait(&self) -> io::Result<libc::c_int> {
        let mut sig: libc::c_int = 0;
        // SAFETY: both pointers refer to live, initialised values.
        let rc = unsafe { libc::sigwait(&self.0, &mut sig) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(sig)
    }
}
