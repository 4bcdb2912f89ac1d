//! The keyword tables and their dispatch: which keyword is accepted in
//! which section role (defaults, frontend, backend, listen), the handler
//! that parses each one into the section's settings, and the `Bad` errors
//! they return. The handlers are in `proxy` and `server`, the global
//! section's in `global`, the refused HAProxy keywords in `refused`, the
//! HTTP-only ones HAProxy accepts and ignores in mode tcp in `http`.

use super::log::LOG_USAGE;
use super::raw::{ALL, BE, DEF, FE, Ignored, Settings, Why, accepted_in, role_name};
use crate::config::text::Line;

use checks::{HTTP_CHECK_USAGE, TCP_CHECK_USAGE, http_check, tcp_check};
use global::GLOBAL_KEYWORDS;
use http::ignored_keyword;
use log_format::{log_format, log_format_sd, unique_id_format};
use proxy::{
    balance, bind, default_backend, description, hash_type, log, maxconn, mode, no_option, option,
    retries, retry_on, timeout,
};
use refused::{HTTP_ONLY, NOT_YET, not_yet};
use routing::{
    ACL_USAGE, TCP_REQUEST_USAGE, USE_BACKEND_USAGE, USE_SERVER_USAGE, acl, persist, tcp_request,
    use_backend, use_server,
};
use server::{SERVER_USAGE, default_server, server};
use sockopts::{
    BACKLOG_MASK, FULLCONN_MASK, ID_MASK, SOURCE_MASK, backlog, fullconn, proxy_id, source,
};

/// Check options and `tcp-check` / `http-check` rules.
mod checks;
/// The global section: its keywords, `stats` and logging lines.
mod global;
/// HTTP-only settings HAProxy accepts and ignores in mode tcp.
mod http;
/// `log-format` and `log-format-sd`.
mod log_format;
/// The global section's process keywords (`daemon`, `user`, `chroot`...).
mod process;
/// Keywords of proxy sections but servers.
mod proxy;
/// The refused HAProxy keywords and their messages.
mod refused;
/// `acl`, `tcp-request`, `use_backend`, `use-server`, kept for `build`.
mod routing;
mod server;
/// Server options of the checks: TLS (`check-ssl`...) and the agent.
mod server_checks;
/// The draft a server line's options write, and the option table's shape.
mod server_draft;
/// Socket options and limits of binds, servers and proxies.
mod sockopts;
/// `mode http` sections that serve the stats page, and `stats` lines.
mod stats_page;

pub(super) use global::{global_line, master_socket};
pub(super) use http::ANONYMOUS_DEFAULTS_REFUSED;
pub(super) use refused::{HTTP_SECTIONS, http_only};
pub(super) use server::server_line;
pub(super) use sockopts::{
    backend_servers, default_fullconn, maxqueue_refused, numbered, proxy_ids,
};
pub(super) use stats_page::{RawPage, page as stats_page, serves_page};

/// A keyword's complaint about its line. `keyword` is None when it is the
/// line's first word; otherwise it names the part at fault (`option httplog`,
/// a server's `weight`). A line with several bad parts (a server line's
/// options) gives one `Bad` with the others in `also`, so that one run
/// reports them all.
#[derive(Debug)]
pub(super) struct Bad {
    pub(super) keyword: Option<String>,
    pub(super) msg: String,
    pub(super) also: Vec<Bad>,
}

impl Bad {
    /// The complaints of one line as one `Bad`; None when there are none.
    fn all(bads: Vec<Bad>) -> Option<Bad> {
        let mut it = bads.into_iter();
        let mut first = it.next()?;
        first.also.extend(it);
        Some(first)
    }

    /// One complaint per message, about the line's keyword; `msgs` is
    /// never empty.
    fn each(msgs: Vec<String>) -> Bad {
        let bads = msgs.into_iter().map(bad).collect();
        Bad::all(bads).unwrap_or_else(|| bad("invalid line"))
    }

    /// This complaint and those in `also`, in line order.
    pub(super) fn flatten(mut self) -> Vec<Bad> {
        let also = std::mem::take(&mut self.also);
        let mut v = vec![self];
        v.extend(also.into_iter().flat_map(Bad::flatten));
        v
    }

    /// Names the part at fault, unless the complaint already does.
    fn about(self, keyword: &str) -> Bad {
        Bad {
            keyword: self.keyword.or_else(|| Some(keyword.to_string())),
            ..self
        }
    }
}

fn bad(msg: impl Into<String>) -> Bad {
    Bad {
        keyword: None,
        msg: msg.into(),
        also: Vec::new(),
    }
}

fn bad_kw(keyword: &str, msg: impl Into<String>) -> Bad {
    Bad {
        keyword: Some(keyword.to_string()),
        msg: msg.into(),
        also: Vec::new(),
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
        name: "log-format",
        mask: DEF | FE,
        usage: "log-format \"FORMAT\"",
        parse: log_format,
    },
    Keyword {
        name: "log-format-sd",
        mask: DEF | FE,
        usage: "log-format-sd \"FORMAT\"",
        parse: log_format_sd,
    },
    Keyword {
        name: "unique-id-format",
        mask: DEF | FE,
        usage: "unique-id-format \"FORMAT\"",
        parse: unique_id_format,
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
        mask: DEF | BE,
        usage: TCP_CHECK_USAGE,
        parse: tcp_check,
    },
    Keyword {
        name: "http-check",
        mask: DEF | BE,
        usage: HTTP_CHECK_USAGE,
        parse: http_check,
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
        name: "persist",
        mask: DEF | BE,
        usage: "persist rdp-cookie[(NAME)]",
        parse: persist,
    },
    Keyword {
        name: "acl",
        mask: FE | BE,
        usage: ACL_USAGE,
        parse: acl,
    },
    Keyword {
        name: "tcp-request",
        mask: FE | BE,
        usage: TCP_REQUEST_USAGE,
        parse: tcp_request,
    },
    Keyword {
        name: "use_backend",
        mask: FE,
        usage: USE_BACKEND_USAGE,
        parse: use_backend,
    },
    Keyword {
        name: "use-server",
        mask: BE,
        usage: USE_SERVER_USAGE,
        parse: use_server,
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
    if role == DEF && ["stats", "monitor-uri", "monitor"].contains(&kw) {
        // Inherited by the stats pages of the defaults' proxies.
        return stats_page::defaults_line(s, l);
    }
    if let Some(done) = ignored_keyword(s, l) {
        return done;
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
    if role == DEF && ["acl", "tcp-request"].contains(&kw) {
        return Err(bad(
            "rules in a defaults section (which HAProxy's named defaults pass on to their \
             proxies) are not supported by l4lb: write them in each frontend, backend or listen",
        ));
    }
    if k.mask & role == 0 {
        return misplaced_keyword(s, kw, k.mask, role, l.line);
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

/// Keywords HAProxy refuses where they cannot act; it warns about the
/// others and ignores them.
const MISPLACED_REFUSED: &[&str] = &["server", "default-server"];

/// A keyword (or timeout) written in a section that cannot use it: in a
/// frontend or backend, ignored with a warning as HAProxy does (but a
/// server line); in a defaults section, an error, as in HAProxy.
fn misplaced_keyword(
    s: &mut Settings,
    kw: &str,
    mask: u8,
    role: u8,
    line: usize,
) -> Result<(), Bad> {
    if role == DEF || MISPLACED_REFUSED.contains(&kw) {
        return Err(misplaced(kw, mask, role));
    }
    s.ignore(Ignored {
        name: kw.to_string(),
        slot: None,
        line,
        roles: mask & (FE | BE),
        why: Why::Misplaced,
    });
    Ok(())
}

fn misplaced(kw: &str, mask: u8, role: u8) -> Bad {
    let msg = format!(
        "not accepted in a {} section; accepted in {}",
        role_name(role),
        accepted_in(mask)
    );
    bad_kw(kw, msg)
}
