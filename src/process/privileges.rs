//! `chroot`, `user`/`uid`, `group`/`gid`: entered once every listener and
//! stats socket is bound and the pidfile is open, before any thread starts
//! (credentials and capabilities are per thread; threads inherit them).
//!
//! After the drop the process keeps CAP_NET_BIND_SERVICE, and nothing else,
//! if it had it (root has): a reload that adds a bind below port 1024 still
//! binds. The chroot is entered with no fd kept open to the real root; a
//! reload then reads the conf at the same absolute path inside the chroot.

use std::io;

use crate::config::Process;
use crate::sys;

/// Enters `p.chroot`, then drops to `p.uid` / `p.gid`, as HAProxy does
/// (the chroot first: it needs root). Nothing to do if neither is set.
pub(crate) fn enter(p: &Process) -> io::Result<()> {
    if let Some(dir) = &p.chroot {
        sys::chroot(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("chroot {}: {e}", dir.display())))?;
        log::info!("chrooted in {}", dir.display());
    }
    if p.uid.is_none() && p.gid.is_none() {
        return Ok(());
    }
    sys::drop_privileges(p.uid, p.gid).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot change to uid {} gid {}: {e}",
                shown(p.uid),
                shown(p.gid)
            ),
        )
    })?;
    log::info!("running as uid {} gid {}", shown(p.uid), shown(p.gid));
    Ok(())
}

fn shown(id: Option<u32>) -> String {
    id.map_or("(unchanged)".to_string(), |i| i.to_string())
}
