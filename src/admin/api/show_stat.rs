//! `show stat [{<px>|<iid>} <type> <sid>] [no-maint] [up]`: the CSV rows,
//! bound to one proxy, kinds of row and server as HAProxy binds them.
//!
//! The proxy is a name or an id (`iid`, -1 for all); `type` is a bit field
//! (1 frontends, 2 backends, 4 servers, -1 all); `sid` (-1 for all) picks
//! one server and leaves the frontend and backend rows alone. `no-maint`
//! hides servers in maintenance, `up` those neither UP nor coming up.

use crate::admin::stats::{self, Kind, Rates, Row};
use crate::shared::Shared;

/// Which rows a `show stat` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    /// Proxy id; -1: every proxy.
    iid: i64,
    /// Bits 1 (frontend), 2 (backend), 4 (server); -1: all.
    kinds: i64,
    /// Server id; -1: every server.
    sid: i64,
}

/// HAProxy's `atoi`: the leading number, 0 if none.
fn atoi(s: &str) -> i64 {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().unwrap_or(0)
}

/// The answer to `show stat` with `args`.
pub(crate) fn answer(shared: &Shared, rates: &Rates, args: &[&str]) -> String {
    let rows = stats::rows(shared, rates);
    let ids = stats::row_ids(&rows, shared);
    let (bound, opts) = match args {
        [px, kinds, sid, rest @ ..] => {
            // A name first (as HAProxy), then an id.
            let named = ids
                .iter()
                .zip(&rows)
                .find(|(_, r)| r.pxname == *px)
                .map(|(&(iid, _), _)| iid as i64);
            let iid = named.unwrap_or_else(|| atoi(px));
            if iid == 0 {
                return "No such proxy.\n".into();
            }
            let b = Bound {
                iid,
                kinds: atoi(kinds),
                sid: atoi(sid),
            };
            (Some((b, named.map(|_| *px))), rest)
        }
        _ => (None, args),
    };
    let (mut hide_maint, mut hide_down) = (false, false);
    for &o in opts {
        match o {
            "no-maint" => hide_maint = true,
            "up" => hide_down = true,
            // Field descriptions go with typed output only.
            "desc" => {}
            "typed" | "json" => {
                return format!("l4lb prints 'show stat' as CSV only ('{o}' is not supported).\n");
            }
            _ => {
                return "Require 'show stat [{<px>|-1} {<type>|-1} {<sid>|-1}] [no-maint] [up]'.\n"
                    .into();
            }
        }
    }
    let keep: Vec<bool> = ids
        .iter()
        .zip(&rows)
        .map(|(&(iid, sid), r)| {
            let bound_ok = bound.is_none_or(|(b, name)| wanted(&b, name, r, iid, sid));
            let server = r.kind == Some(Kind::Server);
            let maint = server && r.status == "MAINT";
            let down = server && (maint || r.status == "DOWN");
            bound_ok && !(hide_maint && maint) && !(hide_down && down)
        })
        .collect();
    let rows: Vec<Row> = rows
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
    stats::csv(&rows, shared)
}

/// Whether row `r` (proxy id `iid`, server id `sid`) is within `b`; the
/// proxy was given by `name`, if so (a listen's two halves share it).
fn wanted(b: &Bound, name: Option<&str>, r: &Row, iid: usize, sid: usize) -> bool {
    let proxy = match name {
        Some(n) => r.pxname == n,
        None => b.iid == -1 || b.iid == iid as i64,
    };
    let bit = match r.kind {
        Some(Kind::Frontend) => 1,
        Some(Kind::Backend) => 2,
        _ => 4,
    };
    let server_ok = bit != 4 || b.sid == -1 || b.sid == sid as i64;
    proxy && b.kinds & bit != 0 && server_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_the_leading_number() {
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
    }

    #[test]
    fn a_sid_picks_a_server_and_keeps_the_proxy_rows() {
        let b = Bound {
            iid: 2,
            kinds: -1,
            sid: 1,
        };
        let row = |kind| Row {
            kind: Some(kind),
            pxname: "be".into(),
            ..Row::default()
        };
        assert!(wanted(&b, None, &row(Kind::Server), 2, 1));
        assert!(!wanted(&b, None, &row(Kind::Server), 2, 2));
        assert!(wanted(&b, None, &row(Kind::Backend), 2, 0));
        assert!(!wanted(&b, None, &row(Kind::Backend), 3, 0));
        let servers_only = Bound { kinds: 4, ..b };
        assert!(!wanted(&servers_only, None, &row(Kind::Backend), 2, 0));
        assert!(wanted(&servers_only, Some("be"), &row(Kind::Server), 9, 1));
    }
}
