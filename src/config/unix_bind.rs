//! A frontend's unix binds after the global `unix-bind`: its prefix put
//! before each socket path, its mode and owner as defaults the bind line
//! overrides (HAProxy's order), and the checks only a whole file can make:
//! the path still fits once the prefix and the temporary suffix are on,
//! and the unix-only options on an IP bind (and the TCP-only ones on a
//! unix bind) are said to be ignored.

use std::path::PathBuf;

use super::process::UnixBind;
use super::values::SUN_PATH_MAX;
use super::{Bind, BindOpts, SockAddr, UnixAddr};

/// Room the temporary name needs after the path: `.PID.tmp` with a pid
/// of up to 5 digits, as HAProxy keeps ("limit usually 97").
const TEMP_SUFFIX: usize = 1 + 5 + 1 + 3;

/// What `unix-bind` makes of `bind`; Err when the path grows too long.
/// The warning is for unix-only options on an IP bind, which HAProxy
/// ignores there.
pub(super) fn apply(ub: &UnixBind, bind: &Bind) -> Result<(Bind, Option<String>), String> {
    let mut b = bind.clone();
    let path = match &mut b.addr {
        SockAddr::Inet(addr) => {
            let o = &b.opts;
            let set: Vec<&str> = [("mode", o.mode), ("uid", o.uid), ("gid", o.gid)]
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(n, _)| *n)
                .collect();
            let warning = (!set.is_empty()).then(|| {
                format!(
                    "bind {addr}: {} applies to unix sockets only; ignored on an IP bind, as HAProxy",
                    set.join(", ")
                )
            });
            return Ok((b, warning));
        }
        SockAddr::Unix(UnixAddr::Abstract(_)) => None,
        SockAddr::Unix(UnixAddr::Path(p)) => Some(p),
    };
    if let Some(path) = path {
        if let Some(prefix) = &ub.prefix {
            // HAProxy puts the prefix before the path as it is written.
            let mut joined = prefix.clone().into_os_string();
            joined.push(path.as_os_str());
            *path = PathBuf::from(joined);
        }
        let len = path.as_os_str().len();
        if len + TEMP_SUFFIX > SUN_PATH_MAX {
            return Err(format!(
                "unix socket path '{}' is too long: at most {} bytes with the unix-bind \
                 prefix, as HAProxy (the socket is bound at PATH.PID.tmp first)",
                path.display(),
                SUN_PATH_MAX - TEMP_SUFFIX
            ));
        }
    }
    b.opts.mode = b.opts.mode.or(ub.mode);
    b.opts.uid = b.opts.uid.or(ub.uid);
    b.opts.gid = b.opts.gid.or(ub.gid);
    let warning = tcp_only(&b.opts).map(|set| {
        format!(
            "bind {}: {set} applies to TCP sockets only; ignored on a unix socket, as HAProxy",
            b.addr
        )
    });
    Ok((b, warning))
}

/// The TCP-only options `o` sets, if any.
fn tcp_only(o: &BindOpts) -> Option<String> {
    let set = [
        ("v4v6/v6only", o.v6only.is_some()),
        ("defer-accept", o.defer_accept),
        ("tfo", o.tfo),
        ("interface", o.interface.is_some()),
        ("mss", o.mss.is_some()),
        ("tcp-ut", o.tcp_ut.is_some()),
    ];
    let names: Vec<&str> = set.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    (!names.is_empty()).then(|| names.join(", "))
}
