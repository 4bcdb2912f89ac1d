//! The listening sockets as the main thread deals them out, one way for
//! start-up and reload: a conf's bind list ([`list`]); a set of SO_REUSEPORT
//! sockets per worker, bound at start for every bind or on a reload for the
//! binds it adds, and taken first from an old l4lb's sockets on an upgrade
//! ([`for_workers`]); and the duplicates the supervisor keeps to hand them
//! over to the next upgrade ([`Kept`]).
//!
//! `listener` is the other side, the workers': one socket bound, accepted
//! on until `WouldBlock`. This file is apart from it because it is about
//! which sockets exist and who holds them, which only the main thread knows.
//!
//! A unix bind is one socket: bound once (or inherited once), and each
//! worker's set holds a duplicate of it.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use mio::net::{TcpListener, UnixListener};

use crate::config::{Config, SockAddr, UnixAddr};
pub use crate::proxy::listener::Listener;
use crate::proxy::listener::{self, ListenOpts};
use crate::proxy::unix_listener;

/// A bind: its address and the index of its frontend.
pub type Bind = (SockAddr, usize);

/// One worker's listening sockets, each with its frontend index.
pub type Set = Vec<(Listener, usize)>;

/// A socket an old l4lb handed over (`--upgrade-from`), with its address.
pub type Inherited = (OwnedFd, SockAddr);

/// A listener on `addr` from an inherited socket.
fn adopt(fd: OwnedFd, addr: &SockAddr) -> Listener {
    match addr {
        SockAddr::Inet(_) => Listener::Tcp(TcpListener::from_std(fd.into())),
        SockAddr::Unix(u) => Listener::Unix(UnixListener::from_std(fd.into()), u.clone()),
    }
}

/// The binds of `config`, in frontend order.
pub fn list(config: &Config) -> Vec<Bind> {
    config.binds()
}

/// A bind that failed, with what the message names.
#[derive(Debug)]
pub struct BindError {
    pub addr: SockAddr,
    pub frontend: String,
    pub err: io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BindError {
            addr,
            frontend,
            err,
        } = self;
        write!(f, "cannot bind {addr} (frontend {frontend}): {err}")
    }
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> io::Error {
        io::Error::new(e.err.kind(), e.to_string())
    }
}

/// A set for each of `workers` workers, with a socket for each of `binds`
/// (frontends of `config`): one of `inherited` of that address while there
/// is one left, else a new one. Inherited sockets left over (the old l4lb
/// ran more workers) still hold queued clients, so they are dealt out too;
/// those of an address not in `binds` close. The first bind that fails
/// fails it all, and what was bound closes.
pub fn for_workers(
    config: &Config,
    binds: &[Bind],
    workers: usize,
    mut inherited: Vec<Inherited>,
) -> Result<Vec<Set>, BindError> {
    let mut unix = Vec::new();
    let mut sets = (0..workers)
        .map(|_| bind_set(config, binds, &mut inherited, &mut unix))
        .collect::<Result<Vec<_>, _>>()?;
    // Left-over duplicates of a unix socket are the same socket: dropped.
    let left = inherited.into_iter().filter_map(|(sock, addr)| {
        let (_, f) = binds.iter().find(|(a, _)| *a == addr)?;
        matches!(addr, SockAddr::Inet(_)).then(|| (adopt(sock, &addr), *f))
    });
    for (i, sock) in left.enumerate() {
        if let Some(set) = sets.get_mut(i % workers.max(1)) {
            set.push(sock);
        }
    }
    Ok(sets)
}

/// One worker's set (see [`for_workers`]).
/// `unix` holds the unix sockets bound (or inherited) for a first worker,
/// which the next ones duplicate.
fn bind_set(
    config: &Config,
    binds: &[Bind],
    inherited: &mut Vec<Inherited>,
    unix: &mut Vec<(SockAddr, Listener)>,
) -> Result<Set, BindError> {
    let mut set = Vec::with_capacity(binds.len());
    for (addr, f) in binds {
        let fe = &config.frontends[*f];
        let opts = listen_opts(config, addr, *f);
        let failed = |err| BindError {
            addr: addr.clone(),
            frontend: fe.name.clone(),
            err,
        };
        if let Some((_, first)) = unix.iter().find(|(a, _)| a == addr) {
            set.push((first.try_clone().map_err(failed)?, *f));
            continue;
        }
        let sock = match inherited.iter().position(|(_, a)| a == addr) {
            Some(pos) => {
                let sock = inherited.swap_remove(pos).0;
                reconfigure(sock.as_fd(), &opts).map_err(failed)?;
                adopt(sock, addr)
            }
            None => match addr {
                SockAddr::Inet(a) => Listener::Tcp(listener::bind_with(*a, &opts).map_err(failed)?),
                SockAddr::Unix(u) => Listener::Unix(
                    unix_listener::bind_unix(u, &opts).map_err(failed)?,
                    u.clone(),
                ),
            },
        };
        if let Listener::Unix(..) = sock {
            unix.push((addr.clone(), sock.try_clone().map_err(failed)?));
        }
        set.push((sock, *f));
    }
    Ok(set)
}

/// The socket options of the bind on `addr` of frontend `f`.
fn listen_opts(config: &Config, addr: &SockAddr, f: usize) -> ListenOpts {
    let fe = &config.frontends[f];
    match fe.binds.iter().find(|b| b.addr == *addr) {
        Some(bind) => ListenOpts::of(fe, bind),
        None => ListenOpts::plain(i32::try_from(fe.maxconn).unwrap_or(i32::MAX), false),
    }
}

/// Applies a bind's options to a socket that was bound before (by an old
/// l4lb, or before a reload), warning of those it cannot change.
fn reconfigure(fd: BorrowedFd<'_>, opts: &ListenOpts) -> io::Result<()> {
    let sock = socket2::SockRef::from(&fd);
    if let Some(warning) = listener::reconfigure(&sock, opts)? {
        log::warn!("{warning}");
    }
    Ok(())
}

/// A duplicate of every worker's listening socket, with its address, for
/// a new l4lb taking over (`_getsocks`). Cleared at the stop, so that the
/// workers closing theirs really closes the sockets.
#[derive(Debug, Default)]
pub struct Kept(Vec<(OwnedFd, SockAddr)>);

impl Kept {
    /// Keeps a duplicate of every socket of `sets` (one of a unix socket,
    /// which every worker shares). A socket that cannot be duplicated is
    /// not handed over (the new l4lb binds its own).
    pub fn keep(&mut self, sets: &[Set]) {
        for (sock, _) in sets.iter().flatten() {
            match (sock.as_fd().try_clone_to_owned(), sock.addr()) {
                (_, Ok(addr @ SockAddr::Unix(_))) if self.0.iter().any(|(_, a)| *a == addr) => {}
                (Ok(fd), Ok(addr)) => self.0.push((fd, addr)),
                (Err(e), _) | (_, Err(e)) => log::warn!("keeping a listener for upgrades: {e}"),
            }
        }
    }

    /// Applies the options `config` gives each kept bind to its sockets
    /// (the duplicates share them with the workers): a reload changes the
    /// options of the binds it keeps, as HAProxy does to the sockets it
    /// inherits. A socket that refuses is left as it was, with a warning.
    pub fn apply(&self, config: &Config) {
        let binds = config.binds();
        for (fd, addr) in &self.0 {
            let Some(&(_, f)) = binds.iter().find(|(a, _)| a == addr) else {
                continue;
            };
            let opts = listen_opts(config, addr, f);
            let mut applied = reconfigure(fd.as_fd(), &opts);
            // A kept socket file takes the reloaded mode and owner (a new
            // one would have them).
            if let (Ok(()), SockAddr::Unix(UnixAddr::Path(path))) = (&applied, addr) {
                applied = unix_listener::set_owner_and_mode(path, &opts);
            }
            if let Err(e) = applied {
                log::warn!("bind {addr}: cannot apply its new options: {e}");
            }
        }
    }

    /// Drops the duplicates of addresses no longer in `binds` (a reload
    /// removed them).
    pub fn retain(&mut self, binds: &[Bind]) {
        self.0
            .retain(|(_, addr)| binds.iter().any(|(a, _)| a == addr));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Copies of the duplicates, to send: each `_getsocks` sends its own.
    pub fn copies(&self) -> Vec<(OwnedFd, SockAddr)> {
        self.0
            .iter()
            .filter_map(|(fd, addr)| fd.try_clone().ok().map(|fd| (fd, addr.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// Frontend `fe` on `binds`, frontend `other` on 127.0.0.1:9.
    fn config(binds: &[SocketAddr]) -> Config {
        let mut text = "defaults\n mode tcp\n timeout client 1s\n timeout server 1s\n\
                        frontend fe\n default_backend be\n"
            .to_string();
        for b in binds {
            text += &format!(" bind {b}\n");
        }
        text += "frontend other\n bind 127.0.0.1:9\n default_backend be\n\
                 backend be\n server a 127.0.0.1:3\n";
        Config::from_text("t.conf", text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A SO_REUSEPORT listener on a port the kernel picked: held, it keeps
    /// the port from any other test while l4lb's binds may share it.
    fn held() -> (std::net::TcpListener, SocketAddr) {
        let l = listener::bind_reuseport("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let addr = l.local_addr().unwrap();
        (l.into(), addr)
    }

    #[test]
    fn the_list_names_each_bind_with_its_frontend() {
        let ((_a, a), (_b, b)) = (held(), held());
        let nine: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            list(&config(&[a, b])),
            vec![(a.into(), 0), (b.into(), 0), (nine.into(), 1)]
        );
    }

    #[test]
    fn each_worker_gets_a_socket_per_bind_inherited_first() {
        let (first, a) = held();
        let (_hold, b) = held();
        let (gone, gone_addr) = held();
        let cfg = config(&[a, b]);
        let wanted = &list(&cfg)[..2];
        // An upgrade from an l4lb with three workers: three of `a`, and
        // one of an address this conf no longer has.
        let another = || {
            let l = listener::bind_reuseport(a, 16, false).unwrap();
            (OwnedFd::from(std::net::TcpListener::from(l)), a.into())
        };
        let inherited = vec![
            (first.into(), a.into()),
            another(),
            another(),
            (gone.into(), gone_addr.into()),
        ];
        let ids: Vec<_> = inherited.iter().map(|(l, _)| fd_id(l)).collect();
        let sets = for_workers(&cfg, wanted, 2, inherited).unwrap();
        let addrs = |set: &Set| -> Vec<_> {
            set.iter()
                .map(|(l, f)| (l.addr().unwrap().inet().unwrap(), *f))
                .collect()
        };
        assert_eq!(addrs(&sets[0]), vec![(a, 0), (b, 0), (a, 0)]);
        assert_eq!(addrs(&sets[1]), vec![(a, 0), (b, 0)]);
        let taken = [&sets[0][0].0, &sets[1][0].0, &sets[0][2].0].map(fd_id);
        assert!(
            taken.iter().all(|t| ids[..3].contains(t)),
            "the old sockets themselves, not new ones"
        );
        let mut kept = Kept::default();
        kept.keep(&sets);
        assert_eq!(kept.copies().len(), 5);
        kept.retain(&[(b.into(), 0)]);
        let left: Vec<_> = kept.copies().into_iter().map(|(_, a)| a).collect();
        assert_eq!(left, vec![b.into(), b.into()]);
    }

    #[test]
    fn a_bind_that_fails_names_its_address_and_frontend() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let cfg = config(&[addr]);
        let err = for_workers(&cfg, &list(&cfg)[..1], 1, Vec::new()).unwrap_err();
        assert_eq!(err.err.kind(), io::ErrorKind::AddrInUse);
        let msg = io::Error::from(err).to_string();
        assert!(
            msg.starts_with(&format!("cannot bind {addr} (frontend fe): ")),
            "{msg}"
        );
    }

    /// The socket's inode, which survives `dup` and `from_std`.
    fn fd_id(l: &impl AsFd) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let fd = l.as_fd().try_clone_to_owned().unwrap();
        std::fs::File::from(fd).metadata().unwrap().ino()
    }
}
