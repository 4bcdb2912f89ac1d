//! The global section's process keywords: `daemon`, `quiet`, `pidfile`,
//! `user`/`uid`, `group`/`gid`, `chroot`, `ulimit-n`, `nbproc`,
//! `master-worker`, `unix-bind`, `node`, `description`, `spread-checks`,
//! `max-spread-checks`, and the TLS defaults (`ssl-default-bind-*`,
//! `ssl-default-server-*`, `ca-base`, `crt-base`), accepted with no effect
//! while no listener of l4lb terminates TLS.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use super::super::raw::Global;
use super::super::values::{number, parse_time};
use super::{Bad, bad};
use crate::sys;

/// The keywords of this file, for the list of those accepted in global.
pub(super) const PROCESS_KEYWORDS: &[&str] = &[
    "daemon",
    "quiet",
    "pidfile",
    "user",
    "uid",
    "group",
    "gid",
    "chroot",
    "ulimit-n",
    "nbproc",
    "master-worker",
    "unix-bind",
    "node",
    "description",
    "spread-checks",
    "max-spread-checks",
    "ca-base",
    "crt-base",
    "ssl-server-verify",
];

/// Parses `kw` if it is a process keyword; None when it is not one.
pub(super) fn process_line(g: &mut Global, kw: &str, args: &[String]) -> Option<Result<(), Bad>> {
    if is_tls_default(kw) {
        return Some(tls_default(g, kw, args));
    }
    let done = match (kw, args) {
        ("daemon", []) => {
            g.process.daemon = true;
            Ok(())
        }
        ("quiet", []) => {
            g.process.quiet = true;
            Ok(())
        }
        ("master-worker", [] | [_]) => master_worker(g, args),
        ("pidfile", [path]) => {
            g.process.pidfile = Some(PathBuf::from(path));
            Ok(())
        }
        ("user" | "uid", [who]) => user(g, kw, who),
        ("group" | "gid", [who]) => group(g, kw, who),
        ("chroot", [dir]) => chroot(g, dir),
        ("ulimit-n", [n]) => number(n, 1..=usize::MAX)
            .map(|n| g.process.ulimit_n = Some(n as u64))
            .map_err(bad),
        ("nbproc", [n]) => match number(n, 1..=usize::MAX) {
            Ok(1) => Ok(()),
            Ok(n) => Err(bad(format!(
                "nbproc {n}: l4lb is one process; use nbthread for more workers"
            ))),
            Err(e) => Err(bad(e)),
        },
        ("unix-bind", [_, ..]) => unix_bind(g, args),
        ("node", [name]) => node(g, name),
        ("description", [_, ..]) => {
            g.description = Some(args.join(" "));
            Ok(())
        }
        ("spread-checks", [pct]) => number(pct, 0u32..=50)
            .map(|p| g.spread.percent = p)
            .map_err(bad),
        ("max-spread-checks", [t]) => parse_time(t).map(|t| g.spread.max = Some(t)).map_err(bad),
        _ if PROCESS_KEYWORDS.contains(&kw) => Err(bad(format!("expects: {}", usage(kw)))),
        _ => return None,
    };
    Some(done)
}

fn usage(kw: &str) -> &'static str {
    match kw {
        "daemon" => "daemon",
        "quiet" => "quiet",
        "master-worker" => "master-worker [no-exit-on-failure]",
        "pidfile" => "pidfile FILE",
        "user" => "user NAME",
        "uid" => "uid N",
        "group" => "group NAME",
        "gid" => "gid N",
        "chroot" => "chroot DIR",
        "ulimit-n" => "ulimit-n N",
        "nbproc" => "nbproc 1",
        "unix-bind" => "unix-bind [prefix DIR] [mode OCTAL] [user NAME|uid N] [group NAME|gid N]",
        "node" => "node NAME",
        "description" => "description TEXT",
        "spread-checks" => "spread-checks PERCENT (0..50)",
        "max-spread-checks" => "max-spread-checks TIME",
        _ => "ca-base DIR / crt-base DIR",
    }
}

fn master_worker(g: &mut Global, args: &[String]) -> Result<(), Bad> {
    match args {
        [] => {}
        // The supervisor never lets a thread's failure go unnoticed: it
        // stops the process, for the service manager to restart.
        [opt] if opt == "no-exit-on-failure" => {
            return Err(bad(
                "no-exit-on-failure: l4lb is one process; a failing worker thread stops it \
                 (let the service manager restart it)",
            ));
        }
        [opt] => {
            return Err(bad(format!(
                "unknown option '{opt}'; expects: master-worker"
            )));
        }
        _ => return Err(bad("expects: master-worker")),
    }
    g.process.master_worker = true;
    Ok(())
}

/// `user NAME` / `uid N`.
fn user(g: &mut Global, kw: &str, who: &str) -> Result<(), Bad> {
    if g.process.uid.is_some() {
        return Err(bad("user/uid is already given; give one"));
    }
    let uid = uid_of(kw, who).map_err(bad)?;
    g.process.uid = Some(uid);
    Ok(())
}

/// `group NAME` / `gid N`.
fn group(g: &mut Global, kw: &str, who: &str) -> Result<(), Bad> {
    if g.process.gid.is_some() {
        return Err(bad("group/gid is already given; give one"));
    }
    g.process.gid = Some(gid_of(kw, who).map_err(bad)?);
    Ok(())
}

pub(super) fn uid_of(kw: &str, who: &str) -> Result<u32, String> {
    if kw == "uid" {
        return number(who, 0..=u32::MAX);
    }
    looked_up("user", who, |name| {
        sys::user_by_name(name).map(|found| found.map(|(uid, _)| uid))
    })
}

pub(super) fn gid_of(kw: &str, who: &str) -> Result<u32, String> {
    if kw == "gid" {
        return number(who, 0..=u32::MAX);
    }
    looked_up("group", who, sys::group_by_name)
}

/// A user or group name's id, looked up once per process: a reload inside
/// a chroot, where /etc/passwd is usually missing, finds the names read at
/// start; only a new name is looked up there.
fn looked_up(
    kind: &'static str,
    name: &str,
    lookup: fn(&str) -> std::io::Result<Option<u32>>,
) -> Result<u32, String> {
    type Ids = HashMap<(&'static str, String), u32>;
    static SEEN: OnceLock<Mutex<Ids>> = OnceLock::new();
    let seen = SEEN.get_or_init(Mutex::default);
    let key = (kind, name.to_string());
    if let Some(id) = seen.lock().ok().and_then(|s| s.get(&key).copied()) {
        return Ok(id);
    }
    match lookup(name) {
        Ok(Some(id)) => {
            if let Ok(mut s) = seen.lock() {
                s.insert(key, id);
            }
            Ok(id)
        }
        Ok(None) => Err(format!("no {kind} named '{name}' on this system")),
        Err(e) => Err(format!("cannot look up {kind} '{name}': {e}")),
    }
}

fn chroot(g: &mut Global, dir: &str) -> Result<(), Bad> {
    if dir == "auto" {
        return Err(bad(
            "chroot auto is not supported in l4lb: give a directory (empty, not writable)",
        ));
    }
    if !dir.starts_with('/') {
        return Err(bad(format!("'{dir}': give an absolute path")));
    }
    g.process.chroot = Some(PathBuf::from(dir));
    Ok(())
}

fn unix_bind(g: &mut Global, args: &[String]) -> Result<(), Bad> {
    let ub = &mut g.process.unix_bind;
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| bad(format!("{opt} expects a value")))?;
        match opt.as_str() {
            "prefix" => ub.prefix = Some(PathBuf::from(value)),
            "mode" => {
                let mode = u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| bad(format!("mode '{value}' is not an octal file mode")))?;
                ub.mode = Some(mode);
            }
            "user" | "uid" => ub.uid = Some(uid_of(opt, value).map_err(bad)?),
            "group" | "gid" => ub.gid = Some(gid_of(opt, value).map_err(bad)?),
            o => {
                return Err(bad(format!(
                    "unknown option '{o}'; expects: {}",
                    usage("unix-bind")
                )));
            }
        }
    }
    Ok(())
}

/// HAProxy's node names: letters, digits, '.', '-' and '_'.
fn node(g: &mut Global, name: &str) -> Result<(), Bad> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return Err(bad(format!(
            "'{name}': a node name is letters, digits, '.', '-' and '_'"
        )));
    }
    g.node = Some(name.to_string());
    Ok(())
}

fn is_tls_default(kw: &str) -> bool {
    kw.starts_with("ssl-default-bind-")
        || kw.starts_with("ssl-default-server-")
        || kw == "ca-base"
        || kw == "crt-base"
        || kw == "ssl-server-verify"
}

/// Settings for TLS that l4lb never does: accepted so that a haproxy.cfg
/// loads, and reported by `-c` (and at start) as having no effect.
fn tls_default(g: &mut Global, kw: &str, args: &[String]) -> Result<(), Bad> {
    if args.is_empty() {
        return Err(bad(format!("expects a value: {kw} ...")));
    }
    match (kw, args) {
        ("ca-base", [dir]) => {
            g.ca_base = Some(PathBuf::from(dir));
            return Ok(());
        }
        ("ssl-server-verify", [v]) => {
            g.ssl_server_verify = Some(match v.as_str() {
                "none" => false,
                "required" => true,
                _ => return Err(bad("accepted: ssl-server-verify none|required")),
            });
            return Ok(());
        }
        ("ca-base" | "ssl-server-verify", _) => {
            return Err(bad(format!("expects one value: {kw} ...")));
        }
        _ => {}
    }
    if !g.no_effect.iter().any(|k| k == kw) {
        g.no_effect.push(kw.to_string());
    }
    Ok(())
}
