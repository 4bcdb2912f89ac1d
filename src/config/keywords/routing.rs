//! `acl`, `tcp-request`, `use_backend` and `use-server`: the lines are
//! kept in order with their numbers, and checked here only for their
//! shape; `build::routing` parses them whole once every backend and
//! server name is known.

use super::super::raw::{FE, RuleLine, Settings};
use super::{Ctx, bad};
use crate::config::keywords::Bad;

pub(super) const ACL_USAGE: &str = "acl NAME FETCH[,CONVERTER...] [FLAGS] [OPERATOR] [VALUE...]";
pub(super) const TCP_REQUEST_USAGE: &str = "tcp-request connection|session|content ACTION \
     [if|unless COND] | tcp-request inspect-delay TIME";
pub(super) const USE_BACKEND_USAGE: &str = "use_backend NAME|%[EXPR] [if|unless COND]";
pub(super) const USE_SERVER_USAGE: &str = "use-server NAME [if|unless COND]";

fn keep(s: &mut Settings, c: &Ctx, keyword: &str) {
    let mut words = Vec::with_capacity(c.args.len() + 1);
    words.push(keyword.to_string());
    words.extend(c.args.iter().cloned());
    s.rule_lines.push(RuleLine {
        line: c.line,
        words,
    });
}

pub(super) fn acl(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if c.args.len() < 2 {
        return Err(bad(format!("expects: {}", c.usage)));
    }
    keep(s, c, "acl");
    Ok(())
}

pub(super) fn tcp_request(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    match c.args.first().map(String::as_str) {
        Some("connection" | "session") if c.role & FE == 0 => {
            return Err(bad(format!(
                "'tcp-request {}' is only for frontends and listen sections: a backend gets \
                 its connections from them",
                c.args[0]
            )));
        }
        Some("connection" | "session" | "content") if c.args.len() >= 2 => {}
        Some("inspect-delay") if c.args.len() == 2 => {}
        _ => return Err(bad(format!("expects: {}", c.usage))),
    }
    keep(s, c, "tcp-request");
    Ok(())
}

pub(super) fn use_backend(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if c.args.is_empty() {
        return Err(bad(format!("expects: {}", c.usage)));
    }
    keep(s, c, "use_backend");
    Ok(())
}

pub(super) fn use_server(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    if c.args.is_empty() {
        return Err(bad(format!("expects: {}", c.usage)));
    }
    keep(s, c, "use-server");
    Ok(())
}

/// `persist rdp-cookie[(NAME)]` (HAProxy's default cookie: `msts`).
pub(super) fn persist(s: &mut Settings, c: &Ctx) -> Result<(), Bad> {
    let [what] = c.args else {
        return Err(bad(format!("expects: {}", c.usage)));
    };
    let Some(name) = what.strip_prefix("rdp-cookie") else {
        return Err(bad(format!(
            "'persist {what}': l4lb knows persist rdp-cookie[(NAME)] only"
        )));
    };
    let name = match name {
        "" => "msts",
        n => n
            .strip_prefix('(')
            .and_then(|n| n.strip_suffix(')'))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad(format!("expects: {}", c.usage)))?,
    };
    s.persist_rdp = Some((format!("req.rdp_cookie({name})"), c.line));
    Ok(())
}
