//! Writes a connection's log line (logger thread): walks the frontend's
//! compiled [`LineFormat`] over the session's [`Record`] into a reused
//! buffer, as HAProxy's `sess_build_logline` does: spaces merged, `-` for
//! an empty string (flag `M`), `Q` quotes, `E` escapes, `X` hex, and `+`
//! before the byte count and the total times under `option logasap`.

use std::fmt::{Display, Write};
use std::net::{IpAddr, SocketAddr};

use crate::config::{Config, Fetch, ItemFlags as Flags, LineFormat, Part, Var};
use crate::logs::date::LogDate;
use crate::logs::tcplog::Record;

/// What a line needs besides its record: the process's values and the
/// frontend's line count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    pub pid: u32,
    /// `%H`: the system's host name.
    pub hostname: &'a str,
    /// `%lc`: lines the frontend logged before this one.
    pub log_count: u64,
}

/// Appends `r`'s line in `format` to `out` (no newline).
pub(crate) fn write_line(out: &mut String, format: &LineFormat, r: &Record, env: &Env<'_>) {
    let line = Line::new(r, env);
    // No space at the start of a line, nor two in a row, as HAProxy.
    let mut last_space = true;
    for part in &format.parts {
        match part {
            Part::Space if !last_space => {
                out.push(' ');
                last_space = true;
            }
            Part::Space => {}
            Part::Text(t) => {
                out.push_str(t);
                last_space = false;
            }
            Part::Var(var, flags) => {
                let start = out.len();
                line.var(out, *var, *flags);
                last_space &= out.len() == start;
            }
        }
    }
}

/// A record with what its indexes name.
struct Line<'a> {
    r: &'a Record,
    env: &'a Env<'a>,
    frontend: &'a str,
    backend: &'a str,
    server: Option<&'a str>,
    /// `option logasap`: byte counts and total times are not final.
    partial: bool,
}

impl<'a> Line<'a> {
    fn new(r: &'a Record, env: &'a Env<'a>) -> Line<'a> {
        let config: &'a Config = &r.config;
        let fe = config.frontends.get(r.frontend);
        let be = config.backends.get(r.backend);
        Line {
            r,
            env,
            frontend: fe.map_or("-", |f| &f.name),
            // Not routed yet (rejected before): the frontend, as HAProxy.
            backend: be.map_or_else(|| fe.map_or("-", |f| &f.name), |b| &b.name),
            server: r
                .server
                .and_then(|i| be?.servers.get(i))
                .map(|s| s.name.as_str()),
            partial: fe.is_some_and(|f| f.log_line.logasap),
        }
    }

    fn var(&self, out: &mut String, var: Var, f: Flags) {
        let r = self.r;
        match var {
            Var::ClientIp | Var::FrontendIp if r.client_unix.is_some() => {
                text(out, Some("unix"), f)
            }
            Var::ClientPort | Var::FrontendPort if r.client_unix.is_some() => {
                shown(out, r.client_unix, f)
            }
            Var::ClientIp => ip(out, Some(r.client), f),
            Var::ClientPort => port(out, Some(r.client), f),
            Var::FrontendIp => ip(out, r.frontend_addr, f),
            Var::FrontendPort => port(out, r.frontend_addr, f),
            Var::BackendIp | Var::ServerIp if r.server_unix => text(out, Some("unix"), f),
            Var::BackendPort | Var::ServerPort if r.server_unix => shown(out, Some(0), f),
            Var::BackendIp => ip(out, r.backend_addr, f),
            Var::BackendPort => port(out, r.backend_addr, f),
            Var::ServerIp => ip(out, r.server_addr, f),
            Var::ServerPort => port(out, r.server_addr, f),
            Var::Date | Var::RequestDate => {
                let _ = LogDate::local(r.accepted).write_log_date(out);
            }
            Var::DateGmt | Var::RequestDateGmt => {
                let _ = LogDate::with_offset(r.accepted, 0).write_clf(out);
            }
            Var::DateLocal | Var::RequestDateLocal => {
                let _ = LogDate::local(r.accepted).write_clf(out);
            }
            Var::Timestamp => {
                let secs = LogDate::unix_secs(r.accepted);
                number(out, secs, f.has(Flags::HEX), 4);
            }
            Var::Millis => {
                let ms = LogDate::with_offset(r.accepted, 0).micros / 1000;
                if f.has(Flags::HEX) {
                    let _ = write!(out, "{ms:02X}");
                } else {
                    let _ = write!(out, "{ms:03}");
                }
            }
            Var::RequestCounter => number(out, r.request_id, f.has(Flags::HEX), 4),
            Var::LogCounter => number(out, self.env.log_count, f.has(Flags::HEX), 4),
            Var::Pid => number(out, self.env.pid.into(), f.has(Flags::HEX), 4),
            Var::Sample(fetch) => self.sample(out, fetch, f),
            var => self.string(out, var, f),
        }
    }

    /// Names and the strings fixed in TCP.
    fn string(&self, out: &mut String, var: Var, f: Flags) {
        match var {
            Var::Frontend => text(out, Some(self.frontend), f),
            // `%ft`'s `~` marks TLS frontends, which l4lb has not.
            Var::FrontendXprt => quoted(out, self.frontend, f),
            Var::Backend => text(out, Some(self.backend), f),
            Var::Server => text(out, Some(self.server.unwrap_or("<NOSRV>")), f),
            Var::Hostname => text(out, Some(self.env.hostname), f),
            Var::Origin => {
                let origin = if self.r.asap {
                    "txn_connect"
                } else {
                    "txn_close"
                };
                text(out, Some(origin), f);
            }
            Var::Absent => text(out, None, f),
            Var::UniqueId => text(out, self.r.unique_id.as_deref(), f),
            Var::BadReq => quoted(out, "<BADREQ>", f),
            Var::Captures => {} // no header is ever captured
            var => self.other(out, var),
        }
    }

    /// Timers and counters.
    fn other(&self, out: &mut String, var: Var) {
        let r = self.r;
        let plus = if self.partial { "+" } else { "" };
        let _ = match var {
            Var::Th | Var::Status => write!(out, "0"),
            Var::HttpTimer => write!(out, "-1"),
            Var::Tw => write!(out, "{}", r.queue_ms),
            Var::Tc => write!(out, "{}", r.connect_ms),
            Var::Td if r.connect_ms < 0 => write!(out, "-1"),
            Var::Td => write!(out, "{}", r.total_ms - r.queue_ms - r.connect_ms),
            Var::Tt | Var::Ta | Var::Tu => write!(out, "{plus}{}", r.total_ms),
            Var::BytesRead => write!(out, "{plus}{}", r.bytes_read),
            Var::BytesUploaded => write!(out, "{}", r.bytes_uploaded),
            Var::ActConn => write!(out, "{}", r.actconn),
            Var::FeConn => write!(out, "{}", r.feconn),
            Var::BeConn => write!(out, "{}", r.beconn),
            Var::SrvConn => write!(out, "{}", r.srv_conn),
            Var::Retries if r.redispatched => write!(out, "+{}", r.retries),
            Var::Retries => write!(out, "{}", r.retries),
            // l4lb's queues are per worker: no position to report.
            Var::SrvQueue | Var::BeQueue => write!(out, "0"),
            Var::Termination => write!(out, "{}", r.termination),
            Var::TerminationCookie => write!(out, "{}--", r.termination),
            _ => Ok(()), // every other variable is written by `var` or `string`
        };
    }

    /// `%[fetch]`: every sample is written as text (so `Q` quotes numbers
    /// too), `-` when it has no value.
    fn sample(&self, out: &mut String, fetch: Fetch, f: Flags) {
        let r = self.r;
        let ip = |a: Option<SocketAddr>| a.map(|a| a.ip());
        let port = |a: Option<SocketAddr>| a.map(|a| a.port());
        match fetch {
            // A unix client has no IP: the fetches have no value.
            Fetch::Src => shown(out, r.client_unix.is_none().then(|| r.client.ip()), f),
            Fetch::SrcPort => shown(out, r.client_unix.is_none().then(|| r.client.port()), f),
            Fetch::Dst => shown(out, ip(r.frontend_addr), f),
            Fetch::DstPort => shown(out, port(r.frontend_addr), f),
            Fetch::BcSrc => shown(out, ip(r.backend_addr), f),
            Fetch::BcSrcPort => shown(out, port(r.backend_addr), f),
            Fetch::BcDst => shown(out, ip(r.server_addr.filter(|_| !r.server_unix)), f),
            Fetch::BcDstPort => shown(out, port(r.server_addr.filter(|_| !r.server_unix)), f),
            Fetch::FeName => text(out, Some(self.frontend), f),
            Fetch::BeName => text(out, Some(self.backend), f),
            Fetch::SrvName => text(out, self.server, f),
            Fetch::Hostname => text(out, Some(self.env.hostname), f),
            Fetch::Pid => shown(out, Some(self.env.pid), f),
        }
    }
}

/// A string item: quoted with `Q`, escaped with `E`, `-` when empty with `M`.
fn text(out: &mut String, s: Option<&str>, f: Flags) {
    match s {
        _ if f.has(Flags::QUOTE) => quoted(out, s.unwrap_or(""), f),
        Some(s) if !s.is_empty() => escaped(out, s, f),
        _ if f.has(Flags::MANDATORY) => out.push('-'),
        _ => {}
    }
}

/// A string that is always there (`%ft`, `%r`): quoted with `Q`.
fn quoted(out: &mut String, s: &str, f: Flags) {
    let q = f.has(Flags::QUOTE);
    if q {
        out.push('"');
    }
    escaped(out, s, f);
    if q {
        out.push('"');
    }
}

fn escaped(out: &mut String, s: &str, f: Flags) {
    if !f.has(Flags::ESCAPE) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A value written as text (an address, a number from a fetch): nothing
/// in it to escape.
fn shown(out: &mut String, v: Option<impl Display>, f: Flags) {
    let Some(v) = v else {
        return text(out, None, f);
    };
    let q = f.has(Flags::QUOTE);
    if q {
        out.push('"');
    }
    let _ = write!(out, "{v}");
    if q {
        out.push('"');
    }
}

/// `%ci`-like: the bare address (IPv6 without brackets), or with `X` its
/// bytes in hex, most significant first.
fn ip(out: &mut String, addr: Option<SocketAddr>, f: Flags) {
    match addr.map(|a| a.ip()) {
        Some(IpAddr::V4(a)) if f.has(Flags::HEX) => {
            let _ = write!(out, "{:08X}", u32::from(a));
        }
        Some(IpAddr::V6(a)) if f.has(Flags::HEX) => {
            let _ = write!(out, "{:032X}", u128::from(a));
        }
        ip => shown(out, ip, f),
    }
}

/// `%cp`-like: a number (never quoted), or with `X` four hex digits.
fn port(out: &mut String, addr: Option<SocketAddr>, f: Flags) {
    match addr.map(|a| a.port()) {
        Some(p) if f.has(Flags::HEX) => {
            let _ = write!(out, "{p:04X}");
        }
        Some(p) => {
            let _ = write!(out, "{p}");
        }
        None => text(out, None, f),
    }
}

/// A counter, in decimal or (`X`) in hex of at least `width` digits.
fn number(out: &mut String, n: u64, hex: bool, width: usize) {
    let _ = if hex {
        write!(out, "{n:0width$X}")
    } else {
        write!(out, "{n}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TCP_CLF_LOG_FORMAT;
    use crate::logs::tcplog::{Cause, Phase, Termination};
    use std::sync::Arc;

    /// The quick-start proxy (frontend and backend `quick`, servers s1,
    /// s2), its frontend with `tweak` applied.
    fn config(tweak: impl Fn(&mut crate::config::Frontend)) -> Arc<Config> {
        let args = crate::cli::Args {
            bind: vec!["127.0.0.1:1".into()],
            server: vec!["127.0.0.1:2".into(), "127.0.0.1:3".into()],
            ..Default::default()
        };
        let mut c = Config::from_args(&args).unwrap();
        tweak(&mut c.frontends[0]);
        Arc::new(c)
    }

    const ENV: Env<'static> = Env {
        pid: 4660,
        hostname: "box",
        log_count: 7,
    };

    fn line_in(format: &str, r: &Record) -> String {
        let format = LineFormat::compile(format).unwrap();
        let mut out = String::new();
        write_line(&mut out, &format, r, &ENV);
        out
    }

    fn line(format: &str) -> String {
        line_in(format, &Record::example(config(|_| {})))
    }

    #[test]
    fn option_tcplog_is_haproxy_tcp_log_line() {
        let r = Record::example(config(|_| {}));
        assert_eq!(
            line_in(crate::config::TCP_LOG_FORMAT, &r),
            "127.0.0.1:50114 [24/Nov/2026:12:01:02.123] quick quick/s1 0/1/5003 1234 -- 1/1/1/1/0 0/0"
        );
    }

    #[test]
    fn refused_with_retries_redispatched_and_no_server() {
        let mut r = Record::example(config(|_| {}));
        r.server = Some(1);
        (r.connect_ms, r.bytes_read, r.retries, r.redispatched) = (-1, 0, 3, true);
        r.termination = Termination::new(Cause::ServerAbort, Phase::Connect);
        let tcplog = crate::config::TCP_LOG_FORMAT;
        let l = line_in(tcplog, &r);
        assert!(
            l.ends_with("quick quick/s2 0/-1/5003 0 SC 1/1/1/1/+3 0/0"),
            "{l}"
        );
        r.server = None;
        assert!(line_in(tcplog, &r).contains(" quick/<NOSRV> "));
        r.client = "[::1]:4000".parse().unwrap();
        assert!(line_in(tcplog, &r).starts_with("::1:4000 ["));
    }

    #[test]
    fn addresses_ports_and_their_hex_form() {
        let mut r = Record::example(config(|_| {}));
        r.frontend_addr = Some("10.0.0.1:80".parse().unwrap());
        r.backend_addr = Some("127.0.0.1:40000".parse().unwrap());
        let f = "%ci:%cp %fi:%fp %bi:%bp %si:%sp %{+X}ci:%{+X}cp %{+X}si:%{+X}sp";
        assert_eq!(
            line_in(f, &r),
            "127.0.0.1:50114 10.0.0.1:80 127.0.0.1:40000 127.0.0.1:2 7F000001:C3C2 7F000001:0002"
        );
        (r.frontend_addr, r.backend_addr, r.server_addr) = (None, None, None);
        assert_eq!(line_in("%fi:%fp %bi %sp", &r), "-:- - -");
        r.client = "[::1]:1".parse().unwrap();
        assert_eq!(
            line_in("%{+X}ci %{+Q}ci", &r),
            "00000000000000000000000000000001 \"::1\""
        );
    }

    #[test]
    fn a_unix_client_is_unix_and_its_bind_id_as_haproxy_logs_it() {
        let mut r = Record::example(config(|_| {}));
        (r.client, r.client_unix) = ("0.0.0.0:0".parse().unwrap(), Some(2));
        assert_eq!(
            line_in("%ci:%cp %fi:%fp %{+Q}ci", &r),
            "unix:2 unix:2 \"unix\""
        );
        assert_eq!(line_in("%[src] %[src_port]", &r), "- -");
        r.server_unix = true;
        assert_eq!(line_in("%bi:%bp %si:%sp", &r), "unix:0 unix:0");
        assert_eq!(line_in("%[bc_dst] %[bc_dst_port]", &r), "- -");
    }

    #[test]
    fn dates_and_timestamps() {
        // The local zone of the test machine may not be UTC: only %T is fixed.
        assert_eq!(line("%T"), "24/Nov/2026:12:01:02 +0000");
        assert_eq!(
            line("%Ts %{+X}Ts %ms %{+X}ms"),
            "1795521662 6B057C7E 123 7B"
        );
        let t = line("%t|%tr");
        let (a, b) = t.split_once('|').unwrap();
        assert_eq!((a.len(), a, &a[20..]), (24, b, ".123"));
        assert!(line("%Tl").starts_with(&line("%T")[..2]));
    }

    #[test]
    fn timers_counters_and_names() {
        assert_eq!(
            line("%Th %Tw %Tc %Td %Tt %Ta %Tu %Ti %TR %Tq %Tr"),
            "0 0 1 5002 5003 5003 5003 -1 -1 -1 -1"
        );
        assert_eq!(
            line("%B %U %ac %fc %bc %sc %rc %sq %bq %ts %tsc"),
            "1234 56 1 1 1 1 0 0 0 -- ----"
        );
        assert_eq!(
            line("%f %ft %b %s %H %pid %{+X}pid %lc %rt %OG"),
            "quick quick quick s1 box 4660 1234 7 0 txn_close"
        );
        let mut r = Record::example(config(|_| {}));
        r.connect_ms = -1;
        assert_eq!(line_in("%Td", &r), "-1");
    }

    #[test]
    fn http_and_tls_variables_print_what_haproxy_prints_in_tcp() {
        assert_eq!(
            line("%ST %CC %CS %ID %sslc %sslv [%hr] %r %HM %HV"),
            "0 - - - - - [] <BADREQ> <BADREQ> <BADREQ>"
        );
        assert_eq!(line("%{+Q}r %{+Q}ID %{-M}ID."), "\"<BADREQ>\" \"\" .");
    }

    #[test]
    fn flags_quote_strings_only_and_o_sets_them_for_what_follows() {
        assert_eq!(
            line("%{+Q}ft %{+Q}b %{+Q}ts %{+Q}B %{+Q}cp %{+Q}[src_port]"),
            "\"quick\" \"quick\" -- 1234 50114 \"50114\""
        );
        assert_eq!(
            line("%b %{+Q}o %b %s %{-Q}s %{-Q}o %b"),
            "quick \"quick\" \"s1\" s1 quick"
        );
    }

    #[test]
    fn escape_flag_escapes_quotes_backslashes_and_brackets() {
        let mut out = String::new();
        text(&mut out, Some(r#"a"b\c]d"#), Flags::ESCAPE);
        assert_eq!(out, r#"a\"b\\c\]d"#);
    }

    #[test]
    fn spaces_merge_and_an_empty_item_takes_none() {
        assert_eq!(line("  %b   %s  "), "quick s1 ");
        assert_eq!(line("a %hr %hs b"), "a b");
        assert_eq!(line("100%% %b"), "100% quick");
    }

    #[test]
    fn samples() {
        let mut r = Record::example(config(|_| {}));
        r.frontend_addr = Some("10.0.0.1:80".parse().unwrap());
        assert_eq!(
            line_in(
                "%[src]:%[src_port] %[dst]:%[dst_port] %[bc_dst]:%[bc_dst_port] %[bc_src] %[fe_name] %[be_name] %[srv_name] %[hostname] %[pid]",
                &r
            ),
            "127.0.0.1:50114 10.0.0.1:80 127.0.0.1:2 - quick quick s1 box 4660"
        );
        r.server = None;
        assert_eq!(line_in("%[srv_name] %{+Q}[srv_name]", &r), "- \"\"");
    }

    #[test]
    fn logasap_marks_bytes_and_totals_as_partial() {
        let mut r = Record::example(config(|fe| fe.log_line.logasap = true));
        r.asap = true;
        assert_eq!(
            line_in("%Tw/%Tc/%Tt %B %U %Ta %Tu %OG", &r),
            "0/1/+5003 +1234 56 +5003 +5003 txn_connect"
        );
    }

    #[test]
    fn clf_tcplog() {
        let r = Record::example(config(|_| {}));
        let l = line_in(TCP_CLF_LOG_FORMAT, &r);
        assert!(
            l.starts_with("127.0.0.1 - - [24/Nov/2026:12:01:02 +0000] \"TCP \" 000 1234 \"\" \"\" 50114 123 \"quick\" \"quick\" \"s1\" 0 0 1 5003 56 ---- 1 1 1 1 0 0 0 \"\" \"\" "),
            "{l}"
        );
    }
}
