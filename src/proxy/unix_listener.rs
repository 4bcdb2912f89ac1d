//! Binding a unix listening socket as HAProxy does, so that a restart or
//! an upgrade never leaves the path without a listener: the socket is
//! bound at `PATH.PID.tmp`, given its mode and owner there, set listening,
//! then renamed over `PATH` (rename is atomic: a client finds the old
//! socket or the new one, never none). The old file is kept as
//! `PATH.PID.bak` (a hard link) until the rename succeeded, and put back if
//! it failed. A stale socket file (no process behind it) is so replaced
//! too. An abstract name is bound as it is: the kernel frees it with the
//! last socket, and it has no mode or owner.

use std::ffi::OsString;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::{Path, PathBuf};

use mio::net::UnixListener;

use super::listener::ListenOpts;
use crate::config::UnixAddr;

/// Binds and listens on `addr` with the backlog, mode and owner of `opts`.
pub(crate) fn bind_unix(addr: &UnixAddr, opts: &ListenOpts) -> io::Result<UnixListener> {
    let listener = match addr {
        UnixAddr::Abstract(name) => {
            let l = std::os::unix::net::UnixListener::bind_addr(
                &UnixSocketAddr::from_abstract_name(name)?,
            )?;
            socket2::SockRef::from(&l).listen(opts.backlog)?;
            l
        }
        UnixAddr::Path(path) => bind_path(path, opts)?,
    };
    listener.set_nonblocking(true)?;
    Ok(UnixListener::from_std(listener))
}

/// `PATH.PID.SUFFIX`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{}.{suffix}", std::process::id()));
    PathBuf::from(name)
}

fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn bind_path(path: &Path, opts: &ListenOpts) -> io::Result<std::os::unix::net::UnixListener> {
    let context = |what: &str| {
        let path = path.display().to_string();
        let what = what.to_string();
        move |e: io::Error| io::Error::new(e.kind(), format!("{what} of {path}: {e}"))
    };
    let temp = sibling(path, "tmp");
    let back = sibling(path, "bak");
    remove(&temp).map_err(context("removing an orphan temporary socket"))?;
    remove(&back).map_err(context("removing an orphan backup socket"))?;
    match std::fs::hard_link(path, &back) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(context("keeping the previous socket")(e));
        }
        _ => {}
    }
    let bound = bind_temp(&temp, opts).and_then(|l| {
        std::fs::rename(&temp, path).map_err(context("renaming the new socket"))?;
        Ok(l)
    });
    match bound {
        Ok(l) => {
            let _ = std::fs::remove_file(&back);
            Ok(l)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            if std::fs::rename(&back, path).is_err() {
                let _ = std::fs::remove_file(&back);
            }
            Err(e)
        }
    }
}

/// The socket at its temporary name, owned, with its mode, listening.
fn bind_temp(temp: &Path, opts: &ListenOpts) -> io::Result<std::os::unix::net::UnixListener> {
    let l = std::os::unix::net::UnixListener::bind(temp)?;
    set_owner_and_mode(temp, opts)?;
    socket2::SockRef::from(&l).listen(opts.backlog)?;
    Ok(l)
}

/// Gives the socket file at `path` the owner and mode of `opts` (those it
/// sets): at the bind, and on a reload that keeps the socket.
pub(crate) fn set_owner_and_mode(path: &Path, opts: &ListenOpts) -> io::Result<()> {
    let b = &opts.bind;
    if b.uid.is_some() || b.gid.is_some() {
        std::os::unix::fs::chown(path, b.uid, b.gid).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot change the socket's owner: {e}"))
        })?;
    }
    if let Some(mode) = b.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BindOpts;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    fn opts(mode: Option<u32>) -> ListenOpts {
        ListenOpts {
            bind: BindOpts {
                mode,
                ..BindOpts::default()
            },
            ..ListenOpts::plain(8, false)
        }
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_the_mode_set() {
        let dir = crate::testutil::temp_dir("unix-bind");
        let path = dir.join("s.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let _l = bind_unix(&UnixAddr::Path(path.clone()), &opts(Some(0o640))).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o7777, 0o640);
        std::os::unix::net::UnixStream::connect(&path).expect("the new socket answers");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no .tmp or .bak left: {left:?}");
    }
}
