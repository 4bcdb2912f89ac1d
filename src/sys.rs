//! Every `unsafe` call of l4lb: splice, pipes, rlimits, signals, clocks,
//! the local time zone, and the process calls (fork, setsid, chroot, user
//! and group look-ups, dropping privileges while keeping one capability).
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

/// Copies what a socket has queued into `buf` without taking it
/// (recv with MSG_PEEK), without blocking.
pub(crate) fn peek(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    syscall!(recv(
        sock.as_raw_fd(),
        buf.as_mut_ptr().cast(),
        buf.len(),
        flags
    ))
    .map(|n| n as usize)
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

/// What [`fork`] returned in this process.
pub(crate) enum Forked {
    /// The parent, with the child's pid.
    Parent(i32),
    Child,
}

/// fork(2). Call it only while the process has one thread: the child gets
/// a copy of the calling thread alone, and locks other threads held stay
/// locked in it forever.
pub(crate) fn fork() -> io::Result<Forked> {
    match syscall!(fork())? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// setsid(2): a new session without a controlling terminal.
pub(crate) fn setsid() -> io::Result<()> {
    syscall!(setsid()).map(drop)
}

/// Makes `fd` the process's stdin, stdout and stderr (dup2 onto 0, 1, 2).
pub(crate) fn stdio_to(fd: BorrowedFd<'_>) -> io::Result<()> {
    for target in 0..3 {
        syscall!(dup2(fd.as_raw_fd(), target))?;
    }
    Ok(())
}

/// This process's id.
pub(crate) fn getpid() -> i32 {
    std::process::id() as i32
}

/// A user's uid and primary gid, from the system's user database
/// (getpwnam_r: /etc/passwd, or NSS). None when there is no such user.
pub(crate) fn user_by_name(name: &str) -> io::Result<Option<(u32, u32)>> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data; all zeroes is a valid value.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to a live local; the buffer's length is given.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    match rc {
        0 if found.is_null() => Ok(None),
        0 => Ok(Some((pw.pw_uid, pw.pw_gid))),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A group's gid (getgrnam_r). None when there is no such group.
pub(crate) fn group_by_name(name: &str) -> io::Result<Option<u32>> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    // SAFETY: group is plain data; all zeroes is a valid value.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is to a live local; the buffer's length is given.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    match rc {
        0 if found.is_null() => Ok(None),
        0 => Ok(Some(gr.gr_gid)),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// chroot(2) into `dir`, then chdir("/") so that no directory outside it
/// stays reachable through the working directory.
pub(crate) fn chroot(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cdir = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::ErrorKind::InvalidInput)?;
    syscall!(chroot(cdir.as_ptr()))?;
    syscall!(chdir(c"/".as_ptr())).map(drop)
}

/// The effective uid.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Linux's CAP_NET_BIND_SERVICE: bind ports below 1024.
const CAP_NET_BIND_SERVICE: u32 = 10;
/// _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drops root for `uid` / `gid`, keeping CAP_NET_BIND_SERVICE if the
/// process has it (so a later bind below port 1024 still works), and no
/// other capability. Supplementary groups are cleared (as root). Applies to the
/// calling thread, so call it before any other thread starts: threads
/// inherit credentials and capabilities from their creator.
pub(crate) fn drop_privileges(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let keep_bind = has_net_bind_service()?;
    if keep_bind {
        // Keep the permitted set across setuid, trimmed below.
        syscall!(prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0))?;
    }
    if geteuid() == 0 {
        syscall!(setgroups(0, std::ptr::null()))?;
    }
    if let Some(gid) = gid {
        syscall!(setgid(gid))?;
    }
    if let Some(uid) = uid {
        syscall!(setuid(uid))?;
    }
    let bit = if keep_bind {
        1 << CAP_NET_BIND_SERVICE
    } else {
        0
    };
    let data = [
        CapData {
            effective: bit,
            permitted: bit,
            inheritable: 0,
        },
        CapData::default(),
    ];
    set_caps(&data)?;
    if keep_bind {
        syscall!(prctl(libc::PR_SET_KEEPCAPS, 0 as libc::c_ulong, 0, 0, 0))?;
    }
    Ok(())
}

fn has_net_bind_service() -> io::Result<bool> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: the header and two data words are live locals of the sizes
    // the version 3 call reads and writes.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(data[0].permitted & (1 << CAP_NET_BIND_SERVICE) != 0)
}

fn set_caps(data: &[CapData; 2]) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    // SAFETY: the header and two data words are live locals of the sizes
    // the version 3 call reads.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits for child `pid` to end and reaps it (waitpid); returns its raw
/// wait status.
pub(crate) fn wait_for(pid: i32) -> io::Result<i32> {
    let mut status = 0;
    loop {
        match syscall!(waitpid(pid, &mut status, 0)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(|_| status),
        }
    }
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
