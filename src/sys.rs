//! Every `unsafe` call of l4lb: splice, pipes, rlimits, signals, clocks and
//! the local time zone.
//!
//! Each function wraps one syscall and returns `io::Result`, errors taken
//! from errno, so the rest of the crate stays safe code.

// The one file of the crate allowed `unsafe` (Cargo.toml denies it).
#![allow(unsafe_code)]

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
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC))?;
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    unsafe { Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

/// Sets a pipe's capacity (F_SETPIPE_SZ) and returns what the kernel granted.
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<usize> {
    let size = libc::c_int::try_from(size).map_err(|_| io::ErrorKind::InvalidInput)?;
    syscall!(fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size)).map(|n| n as usize)
}

/// A pipe's capacity (F_GETPIPE_SZ).
pub(crate) fn pipe_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    syscall!(fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ)).map(|n| n as usize)
}

/// Moves up to `len` bytes from `from` to `to`, one of which is a pipe, without
/// copying through user space. `Ok(0)` means end of file on `from`.
/// `WouldBlock` is ambiguous when `from` is a socket: its queue is empty OR the
/// pipe is full; the caller tells which from how much the pipe holds.
#[inline]
pub(crate) fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
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
pub(crate) fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets RLIMIT_NOFILE; raising `hard` needs CAP_SYS_RESOURCE.
pub(crate) fn set_nofile_limit(soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    syscall!(setrlimit(libc::RLIMIT_NOFILE, &lim)).map(drop)
}

/// Signals blocked in every thread and read from a file descriptor, so an
/// event loop can wait for them with its other sources.
///
/// Block before spawning any thread: threads inherit the mask, and a signal
/// unblocked in some thread would be delivered there, not to this fd.
pub struct SignalFd(OwnedFd);

impl SignalFd {
    /// Blocks `signals` in the calling thread and opens a non-blocking,
    /// close-on-exec signalfd for them.
    pub fn block(signals: &[libc::c_int]) -> io::Result<SignalFd> {
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
        let fd = syscall!(signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC))?;
        // SAFETY: signalfd succeeded, so `fd` is open and owned by nobody else.
        Ok(SignalFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The next pending signal, or `None` when there is none (`WouldBlock`).
    pub fn read(&self) -> io::Result<Option<libc::c_int>> {
        // SAFETY: signalfd_siginfo is plain data; all zeroes is a valid value.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let ptr = (&mut info as *mut libc::signalfd_siginfo).cast::<libc::c_void>();
        match syscall!(read(self.0.as_raw_fd(), ptr, size)) {
            // The kernel hands out whole structures only.
            Ok(n) if n as usize == size => Ok(Some(info.ssi_signo as libc::c_int)),
            Ok(n) => Err(io::Error::other(format!(
                "short read of {n} bytes from signalfd"
            ))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// CLOCK_MONOTONIC in microseconds: the clock systemd's `MONOTONIC_USEC=`
/// is read against.
pub(crate) fn monotonic_usec() -> io::Result<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    syscall!(clock_gettime(libc::CLOCK_MONOTONIC, &mut ts))?;
    Ok(ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000)
}

/// The most fds one SCM_RIGHTS message may carry (the kernel's SCM_MAX_FD).
pub(crate) const MAX_FDS_PER_MSG: usize = 253;

/// Sends `data` with `fds` attached (SCM_RIGHTS) on a unix stream socket;
/// the receiver gets its own duplicates. `fds.len()` <= MAX_FDS_PER_MSG.
pub(crate) fn send_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    assert!(fds.len() <= MAX_FDS_PER_MSG && !data.is_empty());
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let fds_bytes = std::mem::size_of_val(raw.as_slice()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fds_bytes) } as usize;
    let mut control = vec![0u8; space.max(1)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !raw.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is CMSG_SPACE(fds_bytes) long, so the
        // first header and its data fit in it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fds_bytes) as _;
            std::ptr::copy_nonoverlapping(
                raw.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<RawFd>(),
                raw.len(),
            );
        }
    }
    let n = syscall!(sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL))?;
    Ok(n as usize)
}

/// Receives into `buf` and takes the fds attached (SCM_RIGHTS), as owned
/// close-on-exec fds. Returns (bytes, fds).
pub(crate) fn recv_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let fds_bytes = (MAX_FDS_PER_MSG * std::mem::size_of::<RawFd>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fds_bytes) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = syscall!(recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC))? as usize;
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` up to msg_controllen with valid
    // headers; CMSG_NXTHDR stays within it. Each fd in an SCM_RIGHTS
    // header is a new fd of this process, owned by nobody else yet.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other(
            "file descriptors were truncated (MSG_CTRUNC)",
        ));
    }
    Ok((n, fds))
}

/// Sends `sig` to process `pid`.
pub(crate) fn kill(pid: i32, sig: libc::c_int) -> io::Result<()> {
    syscall!(kill(pid, sig)).map(drop)
}

/// Seconds east of UTC of the local time zone at `secs` since the epoch
/// (`TZ`, else `/etc/localtime`); 0 if the C library cannot tell.
pub(crate) fn utc_offset(secs: i64) -> i32 {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain data; all zeroes is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r writes `tm` or
    // returns null.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok { tm.tm_gmtoff as i32 } else { 0 }
}

/// Sets an int socket option socket2 has no setter for (TCP_DEFER_ACCEPT,
/// TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, IP_BIND_ADDRESS_NO_PORT).
pub(crate) fn set_int_sockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = (&raw const value).cast::<libc::c_void>();
    syscall!(setsockopt(fd.as_raw_fd(), level, name, ptr, len)).map(drop)
}

/// Reads an int socket option (see [`set_int_sockopt`]).
pub(crate) fn int_sockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = (&raw mut value).cast::<libc::c_void>();
    syscall!(getsockopt(fd.as_raw_fd(), level, name, ptr, &mut len))?;
    Ok(value)
}
