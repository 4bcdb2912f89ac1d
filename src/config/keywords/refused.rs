//! The HAProxy keywords l4lb refuses, never ignores: the HTTP-only ones
//! HAProxy refuses too in mode tcp, and the ones l4lb does not implement
//! yet, with messages that say what l4lb cannot do.

use super::{Bad, bad_kw};

/// An HTTP-only keyword, section or option.
pub(in crate::config) fn http_only(keyword: &str) -> Bad {
    bad_kw(
        keyword,
        format!("l4lb is a TCP (L4) balancer: '{keyword}' is HTTP-only"),
    )
}

/// A keyword (or option) l4lb may support later. The message says what
/// l4lb cannot do; it never advises removing a line whose removal would
/// weaken a check or open access.
pub(super) fn not_yet(keyword: &str) -> Bad {
    bad_kw(
        keyword,
        format!(
            "'{keyword}' is not implemented yet in l4lb; {}",
            advice(keyword)
        ),
    )
}

/// Why l4lb refuses rather than ignores `keyword`, and what to do.
fn advice(keyword: &str) -> String {
    let w = keyword.rsplit(' ').next().unwrap_or(keyword);
    let rules = match keyword.split(' ').next() {
        Some("http-check") => Some("HTTP"),
        Some("tcp-check") => Some("tcp-check"),
        _ => None,
    };
    if let Some(kind) = rules.or_else(|| check_kind(w)) {
        return format!(
            "l4lb cannot run {kind} health checks yet: the servers would be checked by a \
             TCP connect only, which is weaker; l4lb refuses to start rather than weaken the check"
        );
    }
    if w == "tcp-response" {
        return "l4lb has no rules on the server's bytes (only tcp-request ones): without \
                this line responses it would hold or refuse would be let through; l4lb \
                refuses to start rather than change what clients get"
            .to_string();
    }
    if FILTERS.contains(&w) {
        return "l4lb has no stick tables or filters yet: without this line connections \
                it would track, refuse or send elsewhere would be let through; l4lb refuses \
                to start rather than change who gets in"
            .to_string();
    }
    if TLS.contains(&w) || w.starts_with("ssl-") || w.starts_with("tune.ssl.") {
        return "l4lb cannot speak TLS yet: without this setting the traffic would go \
                unencrypted or unverified; l4lb refuses to start rather than weaken it \
                (for TLS passthrough, leave TLS to the servers)"
            .to_string();
    }
    if w == "track" {
        return "l4lb cannot make a server follow another one's health yet: without this \
                option the server would never be taken out when it fails; l4lb refuses to \
                start rather than leave it unchecked"
            .to_string();
    }
    if RATE_LIMITS.contains(&w) {
        return "l4lb cannot limit connection rates yet: without this line connections \
                would be accepted as fast as they come; l4lb refuses to start rather than \
                lift the limit"
            .to_string();
    }
    if w.starts_with("send-proxy-v2-ssl") {
        return "it sends the client's TLS details, and l4lb never terminates TLS: use \
                send-proxy-v2 (l4lb passes TLS through untouched)"
            .to_string();
    }
    if w.starts_with("send-proxy") || w == "accept-proxy" || w == "accept-netscaler-cip" {
        return "l4lb cannot speak the PROXY protocol yet: the peer expects it, and the \
                client addresses it carries would be lost"
            .to_string();
    }
    "l4lb refuses it rather than ignore it; remove it if the proxy can do without it".to_string()
}

/// Words that restrict or route connections: ACLs and content rules.
const FILTERS: &[&str] = &[
    "stick",
    "stick-table",
    "stick-on",
    "stick-match",
    "stick-store-request",
    "stick-store-response",
    "filter",
];

/// TLS settings of binds, servers and the global section.
const TLS: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "crl-file",
    "verify",
    "verifyhost",
    "sni",
    "alpn",
    "npn",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "strict-sni",
    "ca-base",
    "crt-base",
];

/// Rate limits, which protect the servers (and l4lb) from floods.
const RATE_LIMITS: &[&str] = &["maxconnrate", "maxsessrate", "maxsslrate", "rate-limit"];

/// Global settings that confine the process.
/// The kind of health check a refused keyword asks for, if it is one.
fn check_kind(w: &str) -> Option<&'static str> {
    let kinds = [
        ("httpchk", "HTTP"),
        ("http-check", "HTTP"),
        ("mysql-check", "MySQL"),
        ("pgsql-check", "PostgreSQL"),
        ("redis-check", "Redis"),
        ("smtpchk", "SMTP"),
        ("ldap-check", "LDAP"),
        ("ssl-hello-chk", "SSL hello"),
        ("spop-check", "SPOP"),
        ("external-check", "external"),
        ("check-ssl", "TLS"),
        ("check-sni", "TLS"),
        ("check-alpn", "TLS"),
        ("check-send-proxy", "PROXY-protocol"),
    ];
    if let Some((_, kind)) = kinds.iter().find(|(k, _)| *k == w) {
        return Some(kind);
    }
    w.starts_with("agent-").then_some("agent")
}

/// HAProxy section kinds that only serve HTTP.
pub(in crate::config) const HTTP_SECTIONS: &[&str] = &["cache", "http-errors", "fcgi-app"];

/// HAProxy proxy keywords that only make sense for HTTP and that HAProxy
/// refuses too in mode tcp, or no longer has (the `req*`/`rsp*` rules,
/// removed in 2.1). The ones it ignores there are in `http`.
pub(super) const HTTP_ONLY: &[&str] = &[
    "reqadd",
    "reqallow",
    "reqdel",
    "reqdeny",
    "reqiallow",
    "reqidel",
    "reqideny",
    "reqipass",
    "reqirep",
    "reqisetbe",
    "reqitarpit",
    "reqpass",
    "reqrep",
    "reqsetbe",
    "reqtarpit",
    "rspadd",
    "rspdel",
    "rspdeny",
    "rspidel",
    "rspideny",
    "rspirep",
    "rsprep",
    "use-fcgi-app",
];

/// HAProxy proxy keywords l4lb may support later; refused, never ignored.
pub(super) const NOT_YET: &[&str] = &[
    "server-template",
    "error-log-format",
    "log-tag",
    "log-steps",
    "tcp-response",
    "force-persist",
    "ignore-persist",
    "stick",
    "stick-table",
    "stick-on",
    "stick-match",
    "stick-store-request",
    "stick-store-response",
    "dispatch",
    "email-alert",
    "external-check",
    "server-state-file-name",
    "load-server-state-from-file",
    "enabled",
    "disabled",
    "bind-process",
    "grace",
    "hash-balance-factor",
    "hash-key",
    "rate-limit",
    "filter",
    "guid",
    "send-proxy",
    "ssl",
];

/// HAProxy bind options l4lb may support later.
pub(super) const BIND_NOT_YET: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "alpn",
    "npn",
    "ca-file",
    "verify",
    "accept-netscaler-cip",
    "transparent",
    "nice",
    "id",
    "level",
    "namespace",
    "strict-sni",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "expose-fd",
    "severity-output",
    "guid-prefix",
];

/// HAProxy server options l4lb may support later.
pub(super) const SERVER_NOT_YET: &[&str] = &[
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "sni",
    "crt",
    "crl-file",
    "ciphers",
    "ciphersuites",
    "alpn",
    "npn",
    "resolvers",
    "resolve-prefer",
    "resolve-net",
    "resolve-opts",
    "init-addr",
    "on-marked-up",
    "track",
    "namespace",
    "no-check",
    "enabled",
    "socks4",
    "guid",
];

/// HAProxy server options that only make sense for HTTP and that HAProxy
/// refuses in mode tcp (the ones it ignores there are in `http`).
pub(super) const SERVER_HTTP_ONLY: &[&str] = &["redir", "proto"];

/// `retry-on` conditions that only exist for HTTP responses.
pub(super) const RETRY_ON_HTTP_ONLY: &[&str] = &[
    "junk-response",
    "response-timeout",
    "0rtt-rejected",
    "all-retryable-errors",
];

/// HAProxy options of HTTP that HAProxy itself no longer accepts (the
/// ones it ignores in mode tcp are in `http`).
pub(super) const OPTION_HTTP_ONLY: &[&str] =
    &["forceclose", "http_proxy", "http-use-htx", "http-tunnel"];

/// HAProxy options l4lb may support later.
pub(super) const OPTION_NOT_YET: &[&str] = &[
    "log-steps",
    "spop-check",
    "external-check",
    "persist",
    "socket-stats",
    "transparent",
    "independent-streams",
    "contstats",
    "splice-request",
    "splice-response",
    "abortonclose",
];

/// HAProxy global keywords that only serve HTTP.
pub(super) const GLOBAL_HTTP_ONLY: &[&str] = &[
    "maxcomprate",
    "maxcompcpuusage",
    "maxzlibmem",
    "h1-case-adjust",
    "h1-case-adjust-file",
];
pub(super) const TUNE_HTTP_PREFIXES: &[&str] = &[
    "tune.http.",
    "tune.h1.",
    "tune.h2.",
    "tune.comp.",
    "tune.zlib.",
];

/// HAProxy global keywords l4lb may support later. Every other `tune.*` is
/// treated the same way, since HAProxy has many.
pub(super) const GLOBAL_NOT_YET: &[&str] = &[
    "localpeer",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "maxconnrate",
    "maxsessrate",
    "maxsslconn",
    "maxsslrate",
    "noepoll",
    "nopoll",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "cpu-map",
    "zero-warning",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "busy-polling",
    "server-state-file",
    "server-state-base",
    "lua-load",
    "lua-prepend-path",
    "thread-groups",
    "numa-cpu-mapping",
    "set-dumpable",
    "strict-limits",
    "grace",
    "close-spread-time",
    "default-path",
    "fd-hard-limit",
    "cluster-secret",
    "ssl-engine",
    "ssl-mode-async",
    "ssl-dh-param-file",
];
