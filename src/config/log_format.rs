//! `log-format` and `log-format-sd`: HAProxy's custom log format strings,
//! compiled once at load time into a [`LineFormat`], a compact list of
//! parts (text, merged spaces, variables with their flags) that the logger
//! thread walks for each line (`logs::format` writes them). Pure: errors
//! are messages; the keyword handler adds file, line and keyword.
//!
//! The syntax is HAProxy's (configuration.txt 8.2.6): `%var` aliases,
//! `%{+Q,-M}var` flags, `%(name)` item names, `%[fetch]` sample fetches,
//! `%%` for a `%`, spaces as separators that merge, and `%o` to set the
//! flags of every later item.

/// `option tcplog`: HAProxy's TCP log format, exactly.
pub const TCP_LOG_FORMAT: &str =
    "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq";

/// `option tcplog clf`: HAProxy's TCP log format in the common log format.
pub const TCP_CLF_LOG_FORMAT: &str = "%{+Q}o %{-Q}ci - - [%T] \"TCP \" 000 %B \"\" \"\" %cp %ms \
%ft %b %s %Th %Tw %Tc %Tt %U %ts-- %ac %fc %bc %sc %rc %sq %bq \"\" \"\" ";

/// The item flags l4lb honours (HAProxy's `Q`, `X`, `E`, `M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// `Q`: put strings between double quotes.
    pub const QUOTE: Flags = Flags(1);
    /// `X`: addresses, ports and some numbers in hexadecimal.
    pub const HEX: Flags = Flags(2);
    /// `E`: escape `"`, `\` and `]` with a backslash (RFC 5424 SD values).
    pub const ESCAPE: Flags = Flags(4);
    /// `M`: an empty string is written `-` (on by default in log lines).
    pub const MANDATORY: Flags = Flags(8);

    pub fn has(self, f: Flags) -> bool {
        self.0 & f.0 != 0
    }

    fn with(self, f: Flags, on: bool) -> Flags {
        if on {
            Flags(self.0 | f.0)
        } else {
            Flags(self.0 & !f.0)
        }
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// A sample fetch l4lb can evaluate in `%[...]`: the layer-4 ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// `src`, `fc_src`; `src_port`, `fc_src_port`.
    Src,
    SrcPort,
    /// `dst`, `fc_dst`; `dst_port`, `fc_dst_port`.
    Dst,
    DstPort,
    /// `bc_src`, `bc_src_port`: the local end of the server connection.
    BcSrc,
    BcSrcPort,
    /// `bc_dst`, `bc_dst_port`: the server's address.
    BcDst,
    BcDstPort,
    FeName,
    BeName,
    SrvName,
    Hostname,
    Pid,
}

const FETCHES: &[(&str, Fetch)] = &[
    ("src", Fetch::Src),
    ("src_port", Fetch::SrcPort),
    ("dst", Fetch::Dst),
    ("dst_port", Fetch::DstPort),
    ("fc_src", Fetch::Src),
    ("fc_src_port", Fetch::SrcPort),
    ("fc_dst", Fetch::Dst),
    ("fc_dst_port", Fetch::DstPort),
    ("bc_src", Fetch::BcSrc),
    ("bc_src_port", Fetch::BcSrcPort),
    ("bc_dst", Fetch::BcDst),
    ("bc_dst_port", Fetch::BcDstPort),
    ("fe_name", Fetch::FeName),
    ("be_name", Fetch::BeName),
    ("srv_name", Fetch::SrvName),
    ("hostname", Fetch::Hostname),
    ("pid", Fetch::Pid),
];

/// One variable of a log line: HAProxy's aliases, and `%[fetch]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `%ci %cp`: the client; `%fi %fp`: the address it connected to.
    ClientIp,
    ClientPort,
    FrontendIp,
    FrontendPort,
    /// `%bi %bp`: the local end of the server connection; `%si %sp`: the server.
    BackendIp,
    BackendPort,
    ServerIp,
    ServerPort,
    /// `%t`: the accept date, local, to the millisecond.
    Date,
    /// `%T`: the accept date in UTC, `%Tl`: local, with their offset.
    DateGmt,
    DateLocal,
    /// `%Ts`: the accept date as a UNIX timestamp; `%ms`: its milliseconds.
    Timestamp,
    Millis,
    /// `%Th %Tw %Tc %Td %Tt`: the TCP timers.
    Th,
    Tw,
    Tc,
    Td,
    Tt,
    /// `%Ta %Tu`: HTTP's active and user times; `Tt` in TCP.
    Ta,
    Tu,
    /// `%Ti %TR %Tq %Tr`: HTTP-only timers, always -1 in TCP.
    HttpTimer,
    /// `%tr %trg %trl`: the request date; the accept date in TCP.
    RequestDate,
    RequestDateGmt,
    RequestDateLocal,
    /// `%f`, `%ft` (no `~`: l4lb terminates no TLS), `%b`, `%s`.
    Frontend,
    FrontendXprt,
    Backend,
    Server,
    /// `%H`: the host name; `%pid`.
    Hostname,
    Pid,
    /// `%B`: bytes from the server to the client; `%U`: the other way.
    BytesRead,
    BytesUploaded,
    /// `%ac %fc %bc %sc %rc %sq %bq`.
    ActConn,
    FeConn,
    BeConn,
    SrvConn,
    Retries,
    SrvQueue,
    BeQueue,
    /// `%rt`: the connection's number; `%lc`: lines logged by the frontend.
    RequestCounter,
    LogCounter,
    /// `%ts`, and `%tsc` (with the cookie letters, `--` in TCP).
    Termination,
    TerminationCookie,
    /// `%OG`: where the line was made (`txn_connect` with logasap).
    Origin,
    /// `%ID`: the connection's `unique-id-format` ID (`-` without one).
    UniqueId,
    /// `%CC %CS`, `%sslc %sslv`: strings l4lb never has, so `-`.
    Absent,
    /// `%ST`: the HTTP status, 0 in TCP.
    Status,
    /// `%hr %hrl %hs %hsl`: captured headers; empty.
    Captures,
    /// `%r %HM %HP %HPO %HQ %HU %HV`: HTTP request parts, `<BADREQ>` in TCP.
    BadReq,
    Sample(Fetch),
}

/// How an alias fares in a TCP proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Tcp,
    /// HTTP-only: accepted, as HAProxy does, with a warning.
    Http,
    /// TLS: l4lb terminates none, so always `-` (with a warning).
    Tls,
}

/// HAProxy's aliases (`logformat_aliases` in its log.c), all of them.
const ALIASES: &[(&str, Var, Scope)] = &[
    ("ci", Var::ClientIp, Scope::Tcp),
    ("cp", Var::ClientPort, Scope::Tcp),
    ("fi", Var::FrontendIp, Scope::Tcp),
    ("fp", Var::FrontendPort, Scope::Tcp),
    ("bi", Var::BackendIp, Scope::Tcp),
    ("bp", Var::BackendPort, Scope::Tcp),
    ("si", Var::ServerIp, Scope::Tcp),
    ("sp", Var::ServerPort, Scope::Tcp),
    ("t", Var::Date, Scope::Tcp),
    ("T", Var::DateGmt, Scope::Tcp),
    ("Tl", Var::DateLocal, Scope::Tcp),
    ("Ts", Var::Timestamp, Scope::Tcp),
    ("ms", Var::Millis, Scope::Tcp),
    ("Th", Var::Th, Scope::Tcp),
    ("Tw", Var::Tw, Scope::Tcp),
    ("Tc", Var::Tc, Scope::Tcp),
    ("Td", Var::Td, Scope::Tcp),
    ("Tt", Var::Tt, Scope::Tcp),
    ("Tu", Var::Tu, Scope::Tcp),
    ("Ta", Var::Ta, Scope::Http),
    ("Ti", Var::HttpTimer, Scope::Http),
    ("TR", Var::HttpTimer, Scope::Http),
    ("Tq", Var::HttpTimer, Scope::Http),
    ("Tr", Var::HttpTimer, Scope::Http),
    ("tr", Var::RequestDate, Scope::Http),
    ("trg", Var::RequestDateGmt, Scope::Http),
    ("trl", Var::RequestDateLocal, Scope::Http),
    ("f", Var::Frontend, Scope::Tcp),
    ("ft", Var::FrontendXprt, Scope::Tcp),
    ("b", Var::Backend, Scope::Tcp),
    ("s", Var::Server, Scope::Tcp),
    ("H", Var::Hostname, Scope::Tcp),
    ("pid", Var::Pid, Scope::Tcp),
    ("B", Var::BytesRead, Scope::Tcp),
    ("U", Var::BytesUploaded, Scope::Tcp),
    ("ac", Var::ActConn, Scope::Tcp),
    ("fc", Var::FeConn, Scope::Tcp),
    ("bc", Var::BeConn, Scope::Tcp),
    ("sc", Var::SrvConn, Scope::Tcp),
    ("rc", Var::Retries, Scope::Tcp),
    ("sq", Var::SrvQueue, Scope::Tcp),
    ("bq", Var::BeQueue, Scope::Tcp),
    ("rt", Var::RequestCounter, Scope::Tcp),
    ("lc", Var::LogCounter, Scope::Tcp),
    ("ts", Var::Termination, Scope::Tcp),
    ("tsc", Var::TerminationCookie, Scope::Tcp),
    ("OG", Var::Origin, Scope::Tcp),
    ("ID", Var::UniqueId, Scope::Tcp),
    ("CC", Var::Absent, Scope::Http),
    ("CS", Var::Absent, Scope::Http),
    ("sslc", Var::Absent, Scope::Tls),
    ("sslv", Var::Absent, Scope::Tls),
    ("ST", Var::Status, Scope::Http),
    ("hr", Var::Captures, Scope::Http),
    ("hrl", Var::Captures, Scope::Http),
    ("hs", Var::Captures, Scope::Http),
    ("hsl", Var::Captures, Scope::Http),
    ("r", Var::BadReq, Scope::Http),
    ("HM", Var::BadReq, Scope::Http),
    ("HP", Var::BadReq, Scope::Http),
    ("HPO", Var::BadReq, Scope::Http),
    ("HQ", Var::BadReq, Scope::Http),
    ("HU", Var::BadReq, Scope::Http),
    ("HV", Var::BadReq, Scope::Http),
];

/// One piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Written as is.
    Text(Box<str>),
    /// One space, unless the line is empty or already ends with a separator
    /// (HAProxy merges spaces in log formats).
    Space,
    Var(Var, Flags),
}

/// A compiled `log-format` string.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineFormat {
    pub parts: Vec<Part>,
    /// Variables whose value is fixed in a TCP proxy (`%ST`, `%sslc`...),
    /// as written, for a warning.
    pub fixed: Vec<String>,
    /// What the workers must note for it, found once here rather than on
    /// every connection: the address the client connected to (%fi %fp),
    /// the local end of server connections (%bi %bp), a number (%rt).
    pub needs_frontend_addr: bool,
    pub needs_backend_addr: bool,
    pub needs_request_id: bool,
}

impl LineFormat {
    /// `option tcplog`'s format.
    pub fn tcplog() -> LineFormat {
        LineFormat::compile(TCP_LOG_FORMAT).expect("HAProxy's TCP log format compiles")
    }

    /// Compiles HAProxy's custom log format `text`.
    pub fn compile(text: &str) -> Result<LineFormat, String> {
        let text = expand_variables(text)?;
        let mut c = Compiler {
            out: LineFormat::default(),
            defaults: Flags::MANDATORY,
            literal: String::new(),
        };
        let mut rest = text.as_str();
        while let Some(ch) = rest.chars().next() {
            rest = match ch {
                ' ' => {
                    c.flush();
                    if !matches!(c.out.parts.last(), Some(Part::Space)) {
                        c.out.parts.push(Part::Space);
                    }
                    &rest[1..]
                }
                '%' if rest[1..].starts_with('%') => {
                    c.literal.push('%');
                    &rest[2..]
                }
                '%' => {
                    c.flush();
                    c.item(&rest[1..])?
                }
                ch => {
                    c.literal.push(ch);
                    &rest[ch.len_utf8()..]
                }
            };
        }
        c.flush();
        let mut out = c.out;
        out.needs_frontend_addr = out.uses(|v| {
            matches!(
                v,
                Var::FrontendIp | Var::FrontendPort | Var::Sample(Fetch::Dst | Fetch::DstPort)
            )
        });
        out.needs_backend_addr = out.uses(|v| {
            matches!(
                v,
                Var::BackendIp | Var::BackendPort | Var::Sample(Fetch::BcSrc | Fetch::BcSrcPort)
            )
        });
        out.needs_request_id = out.uses(|v| v == Var::RequestCounter);
        Ok(out)
    }

    /// Whether some variable of the format is one `want` accepts.
    pub fn uses(&self, want: impl Fn(Var) -> bool) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v, _) if want(*v)))
    }
}

/// HAProxy's environment variables holding its formats, in `${NAME}`
/// form (l4lb expands no other variable).
fn expand_variables(text: &str) -> Result<String, String> {
    const KNOWN: [(&str, &str); 2] = [
        ("${HAPROXY_TCP_LOG_FMT}", TCP_LOG_FORMAT),
        ("${HAPROXY_TCP_CLF_LOG_FMT}", TCP_CLF_LOG_FORMAT),
    ];
    let mut out = text.to_string();
    for (name, value) in KNOWN {
        out = out.replace(name, value);
    }
    if let Some(at) = out.find("${") {
        let name = out[at..].split('}').next().unwrap_or(&out[at..]);
        let msg = if name.contains("HTTP") {
            format!("{name}}} is an HTTP log format: l4lb is a TCP (L4) balancer")
        } else {
            format!(
                "{name}}}: l4lb expands only ${{HAPROXY_TCP_LOG_FMT}} and \
                 ${{HAPROXY_TCP_CLF_LOG_FMT}} in log formats"
            )
        };
        return Err(msg);
    }
    Ok(out)
}

/// The compiler's state: parts so far, `%o`'s flags, pending text.
struct Compiler {
    out: LineFormat,
    defaults: Flags,
    literal: String,
}

impl Compiler {
    fn flush(&mut self) {
        if !self.literal.is_empty() {
            let text = std::mem::take(&mut self.literal);
            self.out.parts.push(Part::Text(text.into_boxed_str()));
        }
    }

    /// One item, `rest` just past its `%`; returns what follows it.
    fn item<'a>(&mut self, rest: &'a str) -> Result<&'a str, String> {
        let mut rest = rest;
        if let Some(after) = rest.strip_prefix('(') {
            rest = item_name(after)?;
        }
        let mut flags = self.defaults;
        let mut args = None;
        if let Some(after) = rest.strip_prefix('{') {
            let end = after
                .find('}')
                .ok_or_else(|| format!("missing '}}' after '%{{{after}'"))?;
            flags = parse_flags(&after[..end], flags)?;
            args = Some(&after[..end]);
            rest = &after[end + 1..];
        }
        if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("missing ']' after '%[{after}'"))?;
            let fetch = parse_fetch(&after[..end])?;
            self.out.parts.push(Part::Var(Var::Sample(fetch), flags));
            return Ok(&after[end + 1..]);
        }
        let len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if name.is_empty() {
            return Err(lone_percent(rest, args));
        }
        if name == "o" {
            // `%o`: its flags become every later item's.
            self.defaults = flags;
            return Ok(&rest[len..]);
        }
        let Some(&(_, var, scope)) = ALIASES.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!(
                "no such format alias '%{name}' (for a literal '%', write '%%')"
            ));
        };
        if scope != Scope::Tcp {
            self.out.fixed.push(format!("%{name}"));
        }
        self.out.parts.push(Part::Var(var, flags));
        Ok(&rest[len..])
    }
}

/// `%(name)` or `%(name:type)`: names only matter to json/cbor encoding,
/// which l4lb does not do, so they are checked and dropped.
fn item_name(after: &str) -> Result<&str, String> {
    let end = after
        .find(')')
        .ok_or_else(|| format!("missing ')' after '%({after}'"))?;
    let (name, kind) = after[..end].split_once(':').unwrap_or((&after[..end], ""));
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '_' && *c != '-')
    {
        return Err(format!("invalid character '{c}' in item name '{name}'"));
    }
    if !kind.is_empty() && !["str", "sint", "bool", "raw"].contains(&kind) {
        return Err(format!(
            "unknown item type '{kind}'; accepted: str, sint, bool, raw"
        ));
    }
    Ok(&after[end + 1..])
}

/// What follows a `%` that starts no item.
fn lone_percent(rest: &str, args: Option<&str>) -> String {
    match (rest.chars().next(), args) {
        (_, Some(a)) => format!("'%{{{a}}}' is not followed by a variable or a [fetch]"),
        (None, None) => "the format ends with a lone '%' (write '%%' for a literal '%')".into(),
        (Some(c), None) => {
            format!("'%' followed by '{c}' starts no variable (write '%%' for a literal '%')")
        }
    }
}

/// `+Q,-M,...` over `flags`.
fn parse_flags(args: &str, mut flags: Flags) -> Result<Flags, String> {
    for arg in args.split(',').filter(|a| !a.is_empty()) {
        let (on, name) = if let Some(name) = arg.strip_prefix('+') {
            (true, name)
        } else if let Some(name) = arg.strip_prefix('-') {
            (false, name)
        } else {
            return Err(format!(
                "flag '{arg}' needs a sign: +{arg} or -{arg} (HAProxy would ignore it)"
            ));
        };
        let flag = match name {
            "Q" => Flags::QUOTE,
            "X" => Flags::HEX,
            "E" => Flags::ESCAPE,
            "M" => Flags::MANDATORY,
            "json" | "cbor" | "bin" => {
                return Err(format!(
                    "the '{name}' encoding is not implemented yet in l4lb; accepted flags: Q, X, E, M"
                ));
            }
            _ => return Err(format!("unknown flag '{name}'; accepted: Q, X, E, M")),
        };
        flags = flags.with(flag, on);
    }
    Ok(flags)
}

/// A sample expression: one of the layer-4 fetches, without arguments or
/// converters (l4lb's sample machinery is minimal until ACLs come).
fn parse_fetch(expr: &str) -> Result<Fetch, String> {
    let accepted = || {
        let names: Vec<&str> = FETCHES.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    };
    if let Some(i) = expr.find([',', '(']) {
        let what = if expr.as_bytes()[i] == b',' {
            "converters"
        } else {
            "fetch arguments"
        };
        return Err(format!(
            "%[{expr}]: {what} are not implemented yet in l4lb; accepted fetches: {}",
            accepted()
        ));
    }
    FETCHES
        .iter()
        .find(|(n, _)| *n == expr)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            format!(
                "%[{expr}]: unknown or not layer-4 sample fetch in l4lb; accepted: {}",
                accepted()
            )
        })
}

/// What a frontend's log lines look like and when they are written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogLine {
    /// `option tcplog` or `log-format`.
    pub format: LineFormat,
    /// `log-format-sd`: RFC 5424 structured data, for `format rfc5424` targets.
    pub sd: Option<LineFormat>,
    /// `option logasap`: log once connected to the server, not at the end.
    pub logasap: bool,
    /// `option dontlog-normal`: only connections with an error, a retry or
    /// a redispatch are logged.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: those go out at `err` instead of `info`.
    pub separate_errors: bool,
}
