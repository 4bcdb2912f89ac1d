//! Sample fetches: the L4 ones (addresses, names, counters) and the content
//! ones (the client's first bytes, the TLS ClientHello, the RDP cookie),
//! parsed and checked at load, evaluated over `Facts` without allocating.

use super::content::{self, DataAt, HelloField};
use super::pattern::Method;
use super::value::{BackendRef, Facts, Fetched, Hello, Sample, ServerRef, Stash};
use crate::wire::rdp::{Cookie, rdp_cookie};

/// One sample fetch with its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fetch {
    Src,
    SrcPort,
    Dst,
    DstPort,
    FeName,
    FeConn,
    /// The backend arguments are empty when omitted: the rule's own proxy.
    BeConn(BackendRef),
    Nbsrv(BackendRef),
    SrvIsUp(ServerRef),
    Connslots(BackendRef),
    Queue(BackendRef),
    AlwaysTrue,
    AlwaysFalse,
    /// `env(NAME)`, read once at load (the environment does not change
    /// under a running l4lb; a reload reads it again).
    Env(Option<Box<[u8]>>),
    WaitEnd,
    ReqLen,
    Payload {
        offset: usize,
        len: usize,
    },
    PayloadLv {
        offset: usize,
        len: usize,
        data: Option<DataAt>,
    },
    SslSni,
    SslHelloType,
    SslVer,
    SslAlpn,
    SslEcExt,
    RdpCookie(Option<Box<[u8]>>),
    RdpCookieCnt(Option<Box<[u8]>>),
}

/// The fetch names l4lb knows, new and old spellings, and the HTTP-only or
/// other ones it refuses with a reason.
fn canonical(name: &str) -> &str {
    match name {
        "req_len" => "req.len",
        "payload" => "req.payload",
        "payload_lv" => "req.payload_lv",
        "req_ssl_sni" => "req.ssl_sni",
        "req_ssl_hello_type" => "req.ssl_hello_type",
        "req_ssl_ver" => "req.ssl_ver",
        "req_ssl_alpn" => "req.ssl_alpn",
        "req_ssl_ec_ext" => "req.ssl_ec_ext",
        "req_rdp_cookie" | "rdp_cookie" => "req.rdp_cookie",
        "req_rdp_cookie_cnt" | "rdp_cookie_cnt" => "req.rdp_cookie_cnt",
        other => other,
    }
}

fn args_count(name: &str, args: &[&str], min: usize, max: usize) -> Result<(), String> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "fetch '{name}' takes {want} argument(s), got {}",
            args.len()
        ));
    }
    Ok(())
}

fn uint_arg(name: &str, arg: &str) -> Result<usize, String> {
    arg.parse()
        .map_err(|_| format!("fetch '{name}': '{arg}' is not a non-negative integer"))
}

fn backend_arg(args: &[&str]) -> BackendRef {
    BackendRef {
        name: args.first().map_or_else(String::new, |a| (*a).to_owned()),
        id: 0,
    }
}

fn server_arg(name: &str, arg: &str) -> Result<ServerRef, String> {
    let (backend, server) = arg.rsplit_once('/').unwrap_or(("", arg));
    if server.is_empty() {
        return Err(format!("fetch '{name}': missing server name in '{arg}'"));
    }
    Ok(ServerRef {
        backend: BackendRef {
            name: backend.to_owned(),
            id: 0,
        },
        name: server.to_owned(),
        id: 0,
    })
}

fn data_at(arg: &str) -> Result<DataAt, String> {
    let bad = || format!("fetch 'req.payload_lv': bad data offset '{arg}'");
    if arg.starts_with(['+', '-']) {
        Ok(DataAt::Relative(arg.parse().map_err(|_| bad())?))
    } else {
        Ok(DataAt::Absolute(arg.parse().map_err(|_| bad())?))
    }
}

impl Fetch {
    /// Parses a fetch from its name and arguments (already split on `,`).
    pub(crate) fn parse(name: &str, args: &[&str]) -> Result<Fetch, String> {
        let canon = canonical(name);
        if !NAMES.contains(&canon) {
            return Err(unknown_fetch(name));
        }
        let (min, max) = match canon {
            "be_conn" | "nbsrv" | "connslots" | "queue" | "req.rdp_cookie"
            | "req.rdp_cookie_cnt" => (0, 1),
            "srv_is_up" | "env" => (1, 1),
            "req.payload" => (2, 2),
            "req.payload_lv" => (2, 3),
            _ => (0, 0),
        };
        args_count(name, args, min, max)?;
        let bytes_arg = |i: usize| args.get(i).map(|a| a.as_bytes().into());
        Ok(match canon {
            "src" => Fetch::Src,
            "src_port" => Fetch::SrcPort,
            "dst" => Fetch::Dst,
            "dst_port" => Fetch::DstPort,
            "fe_name" => Fetch::FeName,
            "fe_conn" => Fetch::FeConn,
            "be_conn" => Fetch::BeConn(backend_arg(args)),
            "nbsrv" => Fetch::Nbsrv(backend_arg(args)),
            "connslots" => Fetch::Connslots(backend_arg(args)),
            "queue" => Fetch::Queue(backend_arg(args)),
            "srv_is_up" => Fetch::SrvIsUp(server_arg(name, args[0])?),
            "always_true" => Fetch::AlwaysTrue,
            "always_false" => Fetch::AlwaysFalse,
            "env" => Fetch::Env(std::env::var_os(args[0]).map(|v| v.into_encoded_bytes().into())),
            "wait_end" => Fetch::WaitEnd,
            "req.len" => Fetch::ReqLen,
            "req.payload" => Fetch::Payload {
                offset: uint_arg(name, args[0])?,
                len: uint_arg(name, args[1])?,
            },
            "req.payload_lv" => {
                let len = uint_arg(name, args[1])?;
                if !(1..=4).contains(&len) {
                    return Err(format!(
                        "fetch '{name}': length size must be 1 to 4, got {len}"
                    ));
                }
                let data = args.get(2).map(|a| data_at(a)).transpose()?;
                Fetch::PayloadLv {
                    offset: uint_arg(name, args[0])?,
                    len,
                    data,
                }
            }
            "req.ssl_sni" => Fetch::SslSni,
            "req.ssl_hello_type" => Fetch::SslHelloType,
            "req.ssl_ver" => Fetch::SslVer,
            "req.ssl_alpn" => Fetch::SslAlpn,
            "req.ssl_ec_ext" => Fetch::SslEcExt,
            "req.rdp_cookie" => Fetch::RdpCookie(bytes_arg(0)),
            _ => Fetch::RdpCookieCnt(bytes_arg(0)),
        })
    }

    /// The match method used when the ACL gives no `-m`, as HAProxy: from
    /// the fetch's type, or its ACL keyword's (payloads are binary,
    /// `req.ssl_ver` takes dotted versions). The bool is "dotted".
    pub(crate) fn default_method(&self) -> (Method, bool) {
        match self {
            Fetch::Src | Fetch::Dst => (Method::Ip, false),
            Fetch::FeName
            | Fetch::Env(_)
            | Fetch::SslSni
            | Fetch::SslAlpn
            | Fetch::RdpCookie(_) => (Method::Str, false),
            Fetch::Payload { .. } | Fetch::PayloadLv { .. } => (Method::Bin, false),
            Fetch::AlwaysTrue
            | Fetch::AlwaysFalse
            | Fetch::SrvIsUp(_)
            | Fetch::SslEcExt
            | Fetch::WaitEnd => (Method::Bool, false),
            Fetch::SslVer => (Method::Int, true),
            _ => (Method::Int, false),
        }
    }

    /// True for the fetches that read client bytes: a rule using one runs
    /// in the inspect stage and may wait there.
    pub(crate) fn needs_content(&self) -> bool {
        matches!(
            self,
            Fetch::WaitEnd
                | Fetch::ReqLen
                | Fetch::Payload { .. }
                | Fetch::PayloadLv { .. }
                | Fetch::SslSni
                | Fetch::SslHelloType
                | Fetch::SslVer
                | Fetch::SslAlpn
                | Fetch::SslEcExt
                | Fetch::RdpCookie(_)
                | Fetch::RdpCookieCnt(_)
        )
    }

    /// Whether the fetch counts a backend's or server's connections (its
    /// names are resolved by the rules' loader only).
    pub(crate) fn names_proxy(&self) -> bool {
        matches!(
            self,
            Fetch::BeConn(_)
                | Fetch::Nbsrv(_)
                | Fetch::Connslots(_)
                | Fetch::Queue(_)
                | Fetch::SrvIsUp(_)
        )
    }

    /// The backend and server names this fetch refers to, for the caller to
    /// check and resolve to ids at load.
    pub(crate) fn refs_mut(&mut self) -> (Option<&mut BackendRef>, Option<&mut ServerRef>) {
        match self {
            Fetch::BeConn(b) | Fetch::Nbsrv(b) | Fetch::Connslots(b) | Fetch::Queue(b) => {
                (Some(b), None)
            }
            Fetch::SrvIsUp(s) => (None, Some(s)),
            _ => (None, None),
        }
    }

    /// The `index`-th value of the fetch (only `req.ssl_alpn` has more than
    /// one); `last` is true once the inspect delay is over.
    pub(crate) fn fetch<'a, F: Facts + ?Sized>(
        &'a self,
        facts: &'a F,
        last: bool,
        index: usize,
        stash: &'a mut Stash,
    ) -> Fetched<'a> {
        if index > 0 && *self != Fetch::SslAlpn {
            return Fetched::NONE;
        }
        let found = |s| Fetched::found(s);
        let opt_int = |n: Option<i64>| n.map_or(Fetched::NONE, |n| found(Sample::Int(n)));
        match self {
            Fetch::Src => facts
                .src()
                .map_or(Fetched::NONE, |a| found(Sample::Ip(a.ip()))),
            Fetch::Dst => facts
                .dst()
                .map_or(Fetched::NONE, |a| found(Sample::Ip(a.ip()))),
            Fetch::SrcPort => opt_int(facts.src().map(|a| i64::from(a.port()))),
            Fetch::DstPort => opt_int(facts.dst().map(|a| i64::from(a.port()))),
            Fetch::FeName => found(Sample::Str(facts.fe_name().as_bytes())),
            Fetch::FeConn => found(Sample::Int(facts.fe_conn())),
            Fetch::BeConn(b) => opt_int(facts.be_conn(b)),
            Fetch::Nbsrv(b) => opt_int(facts.nbsrv(b)),
            Fetch::Connslots(b) => opt_int(facts.connslots(b)),
            Fetch::Queue(b) => opt_int(facts.queue(b)),
            Fetch::SrvIsUp(s) => facts
                .srv_is_up(s)
                .map_or(Fetched::NONE, |u| found(Sample::Bool(u))),
            Fetch::AlwaysTrue => found(Sample::Bool(true)),
            Fetch::AlwaysFalse => found(Sample::Bool(false)),
            Fetch::Env(v) => v
                .as_deref()
                .map_or(Fetched::NONE, |v| found(Sample::Str(v))),
            Fetch::WaitEnd if last => found(Sample::Bool(true)),
            Fetch::WaitEnd => Fetched::LATER,
            _ => self.content(facts, index, stash),
        }
    }
}

impl Fetch {
    /// The content fetches (see `content`).
    fn content<'a, F: Facts + ?Sized>(
        &'a self,
        facts: &'a F,
        index: usize,
        stash: &'a mut Stash,
    ) -> Fetched<'a> {
        let req = facts.request();
        match self {
            Fetch::ReqLen => content::req_len(facts),
            Fetch::Payload { offset, len } => content::payload(facts, *offset, *len),
            Fetch::PayloadLv { offset, len, data } => {
                content::payload_lv(facts, *offset, *len, *data)
            }
            // HAProxy's reading counts one record's header; a ClientHello
            // in several records is whole only when the hello reader says
            // so, or `req.ssl_sni` right after would find nothing.
            Fetch::SslHelloType => match (content::hello_type(req), facts.hello()) {
                (f, Hello::Partial) if f.sample == Some(Sample::Int(1)) => Fetched::LATER,
                (f, _) => f,
            },
            Fetch::SslVer => content::ssl_ver(req, facts.buffer_size()),
            Fetch::SslSni | Fetch::SslAlpn | Fetch::SslEcExt => {
                let field = match self {
                    Fetch::SslSni => HelloField::Sni,
                    Fetch::SslAlpn => HelloField::Alpn,
                    _ => HelloField::EcExt,
                };
                content::from_hello(field, facts.hello(), index, stash)
            }
            Fetch::RdpCookie(name) => match rdp_cookie(req, name.as_deref()) {
                Cookie::Found { value, .. } => Fetched::found(Sample::Str(value)),
                Cookie::Incomplete => Fetched::LATER,
                Cookie::Absent => Fetched::NONE,
            },
            Fetch::RdpCookieCnt(name) => match rdp_cookie(req, name.as_deref()) {
                Cookie::Found { .. } => Fetched::found(Sample::Int(1)),
                Cookie::Incomplete => Fetched::LATER,
                Cookie::Absent => Fetched::found(Sample::Int(0)),
            },
            _ => Fetched::NONE,
        }
    }
}

/// Every fetch name `Fetch::parse` knows, after `canonical`.
const NAMES: &[&str] = &[
    "src",
    "src_port",
    "dst",
    "dst_port",
    "fe_name",
    "fe_conn",
    "be_conn",
    "nbsrv",
    "connslots",
    "queue",
    "srv_is_up",
    "always_true",
    "always_false",
    "env",
    "wait_end",
    "req.len",
    "req.payload",
    "req.payload_lv",
    "req.ssl_sni",
    "req.ssl_hello_type",
    "req.ssl_ver",
    "req.ssl_alpn",
    "req.ssl_ec_ext",
    "req.rdp_cookie",
    "req.rdp_cookie_cnt",
];

fn unknown_fetch(name: &str) -> String {
    const HTTP: &[&str] = &[
        "hdr", "req.hdr", "path", "url", "method", "base", "cook", "req.cook", "query", "status",
    ];
    if HTTP.contains(&name) || name.starts_with("http") || name.starts_with("req.hdr") {
        format!("fetch '{name}' is HTTP: l4lb is a TCP load balancer")
    } else {
        format!("unknown fetch method '{name}'")
    }
}
