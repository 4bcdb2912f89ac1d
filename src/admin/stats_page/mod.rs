//! HAProxy's stats page (and monitor-only sections: a `monitor-uri`, no
//! page), served from the supervisor's `Poll` like the
//! metrics endpoint: every `bind` of every stats page section
//! ([`StatsPage`]) is a listener of one [admin service](crate::admin::service),
//! and each connection is one [HTTP exchange](crate::admin::http), off the
//! workers' path. What a request gets ([`respond`]), in HAProxy's order:
//! `monitor-uri` (200, no authentication; 503 under `monitor fail`), the
//! Prometheus path, then, if the section has `stats` lines, any target
//! starting with `stats uri`: authentication (`stats auth`, HTTP
//! Basic), then the HTML page ([`html`]), its `;csv` (the `show stat`
//! text), or with `stats admin` a POST of the admin form ([`admin`]).
//! Anything else gets HAProxy's 503: the section has no server.

mod admin;
mod auth;
mod html;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Registry;
use mio::net::{TcpListener, TcpStream};

use crate::admin::api::{Runtime, commands};
use crate::admin::http::{self, Conn, Request, TEXT, response};
use crate::admin::metrics::prometheus;
use crate::admin::service::{Listening, Next, Protocol, Service, Tokens};
use crate::admin::stats;
use crate::config::{Config, StatsPage};
use crate::proxy::listener;

/// Every stats page: the admin service that speaks [`Pages`].
pub(crate) type StatsPages = Service<Pages>;

/// The HTTP server of the stats pages.
pub(crate) struct Pages;

/// What a listener serves: its page (by name: a reload may reorder them)
/// and the address its `bind` line said.
pub(crate) struct Bound {
    page: String,
    /// `stats page`, or `monitor` for a section without `stats` lines.
    kind: &'static str,
    configured: SocketAddr,
    timeout: Duration,
}

pub(crate) struct PageConn {
    http: Conn,
    page: String,
}

impl Protocol for Pages {
    type Listener = TcpListener;
    type Origin = Bound;
    type Conn = PageConn;
    type Ctx<'a> = &'a mut dyn Runtime;
    const NAME: &'static str = "stats page";

    fn open(&self, stream: TcpStream, b: &Bound, now: Instant) -> PageConn {
        PageConn {
            http: Conn::new(stream, now, b.timeout),
            page: b.page.clone(),
        }
    }

    fn stream(c: &mut PageConn) -> &mut TcpStream {
        c.http.stream()
    }

    fn deadline(&self, c: &PageConn) -> Instant {
        c.http.deadline()
    }

    fn expired(&self, c: &mut PageConn) -> Next {
        c.http.expired()
    }

    fn ready(&self, c: &mut PageConn, rt: &mut dyn Runtime) -> Next {
        let page = &c.page;
        c.http.advance(|req, peer| match req {
            Ok(req) => respond(page, &req, peer, rt),
            Err(r) => http::refusal(r),
        })
    }
}

/// The service's connection cap: the pages' `maxconn`s together.
fn max_conns(cfg: &Config) -> usize {
    cfg.stats_pages
        .iter()
        .map(|p| p.maxconn)
        .sum::<usize>()
        .max(1)
}

impl StatsPages {
    /// Binds every stats page's binds. None without a stats page.
    pub(crate) fn bind(
        cfg: &Config,
        registry: &Registry,
        tokens: Tokens,
    ) -> io::Result<Option<StatsPages>> {
        if cfg.stats_pages.is_empty() {
            return Ok(None);
        }
        let mut pages = Service::new(Pages, registry, tokens, max_conns(cfg))?;
        for p in &cfg.stats_pages {
            for b in &p.binds {
                pages.listen(listening(p, b.addr)?)?;
            }
        }
        pages.log_urls();
        Ok(Some(pages))
    }

    /// Follows a reloaded configuration: a bind whose address stays keeps
    /// its socket (and open connections carry on), new ones are bound,
    /// removed ones closed. Returns one error per address that could not
    /// be bound (it stays closed; the rest of the reload holds).
    pub(crate) fn rebind(&mut self, cfg: &Config) -> Vec<String> {
        self.set_max_conns(max_conns(cfg));
        let mut old: Vec<Option<Listening<Pages>>> =
            self.take_listeners().into_iter().map(Some).collect();
        let mut kept = Vec::new();
        let mut wanted = Vec::new();
        for p in &cfg.stats_pages {
            for b in &p.binds {
                let same = old
                    .iter_mut()
                    .find(|l| l.as_ref().is_some_and(|l| l.origin().configured == b.addr))
                    .and_then(Option::take);
                match same {
                    Some(mut l) => {
                        *l.origin_mut() = origin(p, b.addr);
                        kept.push(l);
                    }
                    None => wanted.push((p, b.addr)),
                }
            }
        }
        // Closed before binding, so that 0.0.0.0:P can become 127.0.0.1:P.
        drop(old);
        let mut errors = Vec::new();
        for l in kept {
            if let Err(e) = self.listen(l) {
                errors.push(format!("stats page: {e}"));
            }
        }
        for (p, addr) in wanted {
            match listening(p, addr).and_then(|l| self.listen(l)) {
                Ok(()) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        errors
    }

    fn log_urls(&self) {
        for b in self.origins() {
            log::info!("{} {} on {}", b.kind, b.page, b.configured);
        }
    }
}

/// After a reload changed the stats pages: binds them if there were none,
/// else keeps the binds that stayed and follows the others. An address
/// that cannot be bound is logged and stays closed.
pub(crate) fn follow(
    pages: &mut Option<StatsPages>,
    cfg: &Config,
    registry: &Registry,
    tokens: Tokens,
) {
    let errors = match pages {
        Some(p) => {
            let errors = p.rebind(cfg);
            p.log_urls();
            errors
        }
        None => match StatsPages::bind(cfg, registry, tokens) {
            Ok(bound) => {
                *pages = bound;
                Vec::new()
            }
            Err(e) => vec![e.to_string()],
        },
    };
    for e in errors {
        log::error!("reload: {e}");
    }
}

fn origin(p: &StatsPage, configured: SocketAddr) -> Bound {
    Bound {
        page: p.name.clone(),
        kind: if p.stats { "stats page" } else { "monitor" },
        configured,
        timeout: p.timeout_request,
    }
}

/// The accept queue of a page's listener.
const BACKLOG: i32 = 1024;

/// A page's listener. SO_REUSEPORT, as the frontends' listeners: during a
/// binary upgrade the new l4lb binds the page while the old one still
/// serves it.
fn listening(p: &StatsPage, addr: SocketAddr) -> io::Result<Listening<Pages>> {
    let sock = listener::bind_reuseport(addr, BACKLOG, false)
        .map_err(|e| io::Error::new(e.kind(), format!("stats page {} {addr}: {e}", p.name)))?;
    let label = format!("stats page {} {addr}", p.name);
    Ok(Listening::new(sock, origin(p, addr), Some(label)))
}

/// The whole response to a request on page `name`.
fn respond(
    name: &str,
    req: &Request<'_>,
    peer: Option<SocketAddr>,
    rt: &mut dyn Runtime,
) -> Vec<u8> {
    let shared = rt.shared();
    let Some(page) = shared.config.stats_pages.iter().find(|p| p.name == name) else {
        return unavailable();
    };
    let path = req.path();
    if page
        .monitor_uri
        .as_deref()
        .is_some_and(|m| m == path || m == req.target)
    {
        if page.monitor_fail {
            return unavailable();
        }
        let body = b"<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n";
        return response("200 OK", HTML, body, req.method != "HEAD", "");
    }
    if page.prometheus_path.as_deref() == Some(path) {
        let text = prometheus::render(&shared, rt.rates());
        return response(
            "200 OK",
            prometheus::CONTENT_TYPE,
            text.as_bytes(),
            req.method != "HEAD",
            "",
        );
    }
    let Some(rest) = req
        .target
        .strip_prefix(page.uri.as_str())
        .filter(|_| page.stats)
    else {
        return unavailable();
    };
    if !auth::allowed(page, req.header("authorization")) {
        let realm = page.realm.replace(['"', '\\'], "");
        let extra = format!("WWW-Authenticate: Basic realm=\"{realm}\"\r\n");
        let body = b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n";
        return response("401 Unauthorized", HTML, body, true, &extra);
    }
    let view = View::parse(rest, admin::allowed(page, peer));
    match req.method {
        "GET" | "HEAD" if view.csv => {
            let rows = scoped_rows(page, &shared, rt.rates(), false);
            let text = stats::csv(&rows, &shared);
            response("200 OK", TEXT, text.as_bytes(), req.method == "GET", "")
        }
        "GET" | "HEAD" => {
            let rows = scoped_rows(page, &shared, rt.rates(), view.up_only);
            let info = commands::info_fields(rt);
            let body = html::render(page, &shared, &rows, &view, &info);
            let extra = match page.refresh.filter(|_| !view.norefresh) {
                Some(r) => format!("Refresh: {}\r\n", r.as_secs()),
                None => String::new(),
            };
            response("200 OK", HTML, body.as_bytes(), req.method == "GET", &extra)
        }
        "POST" => admin::post(page, req, &view, rt),
        _ => http::method_not_allowed("GET, HEAD, POST"),
    }
}

const HTML: &str = "text/html; charset=utf-8";

/// HAProxy's answer when no server can take the request.
fn unavailable() -> Vec<u8> {
    let body = b"<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
    response("503 Service Unavailable", HTML, body, true, "")
}

/// The rows the page may show: those of the proxies in `stats scope` (all
/// without one), and with `;up` only the servers that are UP.
fn scoped_rows(
    page: &StatsPage,
    shared: &crate::shared::Shared,
    rates: &stats::Rates,
    up_only: bool,
) -> Vec<stats::Row> {
    let mut rows = stats::rows(shared, rates);
    rows.retain(|r| page.scope.is_empty() || page.scope.contains(&r.pxname));
    if up_only {
        rows.retain(|r| {
            r.kind != Some(stats::Kind::Server)
                || r.status.starts_with("UP")
                || r.status == "no check"
        });
    }
    rows
}

/// What the `;` options after the stats URI ask for (HAProxy's `;csv`,
/// `;norefresh`, `;up`, and `;st=` after an admin action).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct View {
    csv: bool,
    norefresh: bool,
    up_only: bool,
    /// The outcome of the last admin action (`DONE`, `PART`, ...).
    status: Option<String>,
    /// Whether this client gets the admin form.
    admin: bool,
}

impl View {
    fn parse(rest: &str, admin: bool) -> View {
        let mut v = View {
            admin,
            ..View::default()
        };
        for opt in rest.split(';').skip(1) {
            match opt {
                "csv" => v.csv = true,
                "norefresh" => v.norefresh = true,
                "up" => v.up_only = true,
                st if st.starts_with("st=") => v.status = Some(st[3..].to_string()),
                _ => {}
            }
        }
        v
    }

    /// The `;` options that carry over to links and redirects.
    fn suffix(&self) -> String {
        let mut s = String::new();
        if self.up_only {
            s.push_str(";up");
        }
        if self.norefresh {
            s.push_str(";norefresh");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_after_the_uri_are_read() {
        let v = View::parse(";csv;norefresh", false);
        assert!(v.csv && v.norefresh && !v.up_only);
        let v = View::parse(";up;st=DONE", true);
        assert_eq!((v.up_only, v.status.as_deref()), (true, Some("DONE")));
        assert_eq!(v.suffix(), ";up");
        assert_eq!(View::parse("", false), View::default());
    }
}
