//! The keyword tables and their dispatch: which keyword is accepted in
//! which section role (defaults, frontend, backend, listen), the handler
//! that parses each one into the section's settings, and the `Bad` errors
//! they return. The handlers are in `proxy` and `server`, the global
//! section's in `global`, the refused HAProxy keywords in `refused`.

use super::log::LOG_USAGE;
use super::raw::{ALL, BE, DEF, FE, Settings, accepted_in, role_name};
use crate::config::text::Line;

use global::GLOBAL_KEYWORDS;
use proxy::{
    TCP_CHECK_USAGE, balance, bind, default_backend, description, hash_type, log, maxconn, mode,
    no_option, option, retries, retry_on, tcp_check, timeout,
};
use refused::{HTTP_ONLY, NOT_YET, not_yet};
use server::{SERVER_USAGE, default_server, server};
use sockopts::{
    BACKLOG_MASK, FULLCONN_MASK, ID_MASK, SOURCE_MASK, backlog, fullconn, proxy_id, source,
};

/// The global section: its keywords, `stats` and logging lines.
mod global;
/// Keywords of proxy sections but servers.
mod proxy;
/// The refused HAProxy keywords and their messages.
mod refused;
/// `server` and `default-server` lines and their options.
mod server;
/// Socket options and limits of binds, servers and proxies.
mod sockopts;

pub(super) use global::global_line;
pub(super) use refused::{HTTP_SECTIONS, http_only};
pub(super) use server::server_line;
pub(super) use sockopts::{
    backend_servers, default_fullconn, maxqueue_refused, numbered, proxy_ids,
};

/// A keyword's complaint about its line. `keyword` is None when it is the
/// line's first word; otherwise it names the part at fault (`option httplog`,
/// a server's `weight`).
#[derive(Debug)]
pub(super) struct Bad {
    pub(super) keyword: Option<String>,
    pub(super) msg: String,
}

fn bad(msg: impl Into<String>) -> Bad {
    Bad {
        keyword: None,
        msg: msg.into(),
    }
}

fn bad_kw(keyword: &str, msg: impl Into<String>) -> Bad {
    Bad {
        keyword: Some(keyword.to_string()),
        msg: msg.into(),
    }
}

/// A value parser's message, about the keyword or option being read.
impl From<String> for Bad {
    fn from(msg: String) -> Bad {
        bad(msg)
    }
}

/// What a keyword's parser sees.
struct Ctx<'a> {
    /// The words after the keyword.
    args: &'a [String],
    line: usize,
    role: u8,
    usage: &'static str,
}

impl<'a> Ctx<'a> {
    fn one(&self) -> Result<&'a str, Bad> {
        match self.args {
            [one] => Ok(one),
            _ => Err(bad(format!("expects: {}", self.usage))),
        }
    }
}

struct Keyword {
    name: &'static str,
    mask: u8,
    usage: &'static str,
    parse: fn(&mut Settings, &Ctx) -> Result<(), Bad>,
}

const KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "mode",
        mask: ALL,
        usage: "mode tcp",
        parse: mode,
    },
    Keyword {
        name: "bind",
        mask: FE,
        usage: "bind ADDR:PORT[,ADDR:PORT...] [name NAME] [OPTIONS]",
        parse: bind,
    },
    Keyword {
        name: "default_backend",
        mask: DEF | FE,
        usage: "default_backend NAME",
        parse: default_backend,
    },
    Keyword {
        name: "balance",
        mask: DEF | BE,
        usage: "balance ALGORITHM",
        parse: balance,
    },
    Keyword {
        name: "hash-type",
        mask: DEF | BE,
        usage: "hash-type map-based|consistent",
        parse: hash_type,
    },
    Keyword {
        name: "server",
        mask: BE,
        usage: SERVER_USAGE,
        parse: server,
    },
    Keyword {
        name: "timeout",
        mask: ALL,
        usage: "timeout NAME TIME",
        parse: timeout,
    },
    Keyword {
        name: "retries",
        mask: DEF | BE,
        usage: "retries N",
        parse: retries,
    },
    Keyword {
        name: "retry-on",
        mask: DEF | BE,
        usage: "retry-on none|conn-failure|empty-response ...",
        parse: retry_on,
    },
    Keyword {
        name: "option",
        mask: ALL,
        usage: "option NAME",
        parse: option,
    },
    Keyword {
        name: "no",
        mask: ALL,
        usage: "no option NAME | no log",
        parse: no_option,
    },
    Keyword {
        name: "log",
        mask: ALL,
        usage: LOG_USAGE,
        parse: log,
    },
    Keyword {
        name: "maxconn",
        mask: DEF | FE,
        usage: "maxconn N",
        parse: maxconn,
    },
    Keyword {
        name: "default-server",
        mask: DEF | BE,
        usage: "default-server [weight N] [maxconn N] [check] [inter T] [rise N] [fall N] ...",
        parse: default_server,
    },
    Keyword {
        name: "tcp-check",
        mask: BE,
        usage: TCP_CHECK_USAGE,
        parse: tcp_check,
    },
    Keyword {
        name: "description",
        mask: FE | BE,
        usage: "description TEXT",
        parse: description,
    },
    Keyword {
        name: "source",
        mask: SOURCE_MASK,
        usage: "source ADDR[:PORT] [interface NAME]",
        parse: source,
    },
    Keyword {
        name: "fullconn",
        mask: FULLCONN_MASK,
        usage: "fullconn N",
        parse: fullconn,
    },
    Keyword {
        name: "backlog",
        mask: BACKLOG_MASK,
        usage: "backlog N",
        parse: backlog,
    },
    Keyword {
        name: "id",
        mask: ID_MASK,
        usage: "id N",
        parse: proxy_id,
    },
];

/// Parses one line of a defaults, frontend, backend or listen section.
pub(super) fn settings_line(s: &mut Settings, role: u8, l: &Line) -> Result<(), Bad> {
    let kw = l.words[0].as_str();
    if kw == "stats" {
        // In a proxy, `stats` configures the HTTP statistics page.
        let sub = l.words.get(1).map_or(String::new(), |w| format!(" {w}"));
        return Err(http_only(&format!("stats{sub}")));
    }
    if HTTP_ONLY.contains(&kw) {
        return Err(http_only(kw));
    }
    if NOT_YET.contains(&kw) {
        return Err(not_yet(kw));
    }
    let Some(k) = KEYWORDS.iter().find(|k| k.name == kw) else {
        return Err(unknown_proxy_keyword(kw, role));
    };
    if k.mask & role == 0 {
        return Err(misplaced(kw, k.mask, role));
    }
    let ctx = Ctx {
        args: &l.words[1..],
        line: l.line,
        role,
        usage: k.usage,
    };
    (k.parse)(s, &ctx)
}

fn unknown_proxy_keyword(kw: &str, role: u8) -> Bad {
    if GLOBAL_KEYWORDS.iter().any(|g| g.name == kw) {
        return bad(format!(
            "accepted only in the global section, not in {}",
            role_name(role)
        ));
    }
    let known: Vec<&str> = KEYWORDS
        .iter()
        .filter(|k| k.mask & role != 0)
        .map(|k| k.name)
        .collect();
    bad(format!(
        "unknown keyword; accepted in {}: {}",
        role_name(role),
        known.join(", ")
    ))
}

fn misplaced(kw: &str, mask: u8, role: u8) -> Bad {
    let msg = format!(
        "not accepted in a {} section; accepted in {}",
        role_name(role),
        accepted_in(mask)
    );
    bad_kw(kw, msg)
}
