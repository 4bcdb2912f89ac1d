//! The HAProxy keywords l4lb refuses, never ignores: the HTTP-only ones
//! (l4lb is a TCP balancer) and the ones not implemented yet, with the
//! messages that say which.

use super::{Bad, bad_kw};

/// An HTTP-only keyword, section or option.
pub(in crate::config) fn http_only(keyword: &str) -> Bad {
    bad_kw(
        keyword,
        format!("l4lb is a TCP (L4) balancer: '{keyword}' is HTTP-only"),
    )
}

/// A keyword (or option) l4lb may support later.
pub(super) fn not_yet(keyword: &str) -> Bad {
    let note = if is_health_check(keyword) {
        " (health checks are planned); remove it"
    } else {
        "; remove it"
    };
    bad_kw(
        keyword,
        format!("'{keyword}' is not implemented yet in l4lb{note}"),
    )
}

/// Whether a refused keyword belongs to health checking, which is planned.
fn is_health_check(keyword: &str) -> bool {
    let w = keyword.rsplit(' ').next().unwrap_or(keyword);
    let words = [
        "inter",
        "fastinter",
        "downinter",
        "rise",
        "fall",
        "backup",
        "default-server",
    ];
    w.ends_with("check")
        || w.ends_with("chk")
        || w.starts_with("check-")
        || w.starts_with("agent-")
        || words.contains(&w)
}

/// HAProxy section kinds that only serve HTTP.
pub(in crate::config) const HTTP_SECTIONS: &[&str] = &["cache", "http-errors", "fcgi-app"];

/// HAProxy proxy keywords that only make sense for HTTP.
pub(super) const HTTP_ONLY: &[&str] = &[
    "http-request",
    "http-response",
    "http-after-response",
    "http-reuse",
    "http-check",
    "http-error",
    "http-send-name-header",
    "redirect",
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
    "cookie",
    "capture",
    "declare",
    "compression",
    "errorfile",
    "errorfiles",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "monitor-uri",
    "monitor",
    "unique-id-format",
    "unique-id-header",
    "max-keep-alive-queue",
    "use-fcgi-app",
];

/// HAProxy proxy keywords l4lb may support later; refused, never ignored.
pub(super) const NOT_YET: &[&str] = &[
    "server-template",
    "log-format",
    "log-format-sd",
    "error-log-format",
    "log-tag",
    "log-steps",
    "acl",
    "use_backend",
    "use-server",
    "tcp-request",
    "tcp-response",
    "persist",
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
    "accept-proxy",
    "accept-netscaler-cip",
    "transparent",
    "maxconn",
    "nice",
    "id",
    "level",
    "mode",
    "user",
    "group",
    "uid",
    "gid",
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
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "ssl",
    "verify",
    "verifyhost",
    "sni",
    "ca-file",
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
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "on-marked-up",
    "track",
    "namespace",
    "check-ssl",
    "check-send-proxy",
    "check-alpn",
    "check-sni",
    "no-check",
    "enabled",
    "socks4",
    "guid",
];

/// HAProxy server options that only make sense for HTTP.
pub(super) const SERVER_HTTP_ONLY: &[&str] = &[
    "cookie",
    "redir",
    "pool-max-conn",
    "pool-purge-delay",
    "pool-low-conn",
    "max-reuse",
    "proto",
];

/// HAProxy timeouts of HTTP requests.
pub(super) const HTTP_TIMEOUTS: &[&str] = &["http-request", "http-keep-alive", "tarpit"];

/// `retry-on` conditions that only exist for HTTP responses.
pub(super) const RETRY_ON_HTTP_ONLY: &[&str] = &[
    "junk-response",
    "response-timeout",
    "0rtt-rejected",
    "all-retryable-errors",
];

/// HAProxy options that only make sense for HTTP.
pub(super) const OPTION_HTTP_ONLY: &[&str] = &[
    "httplog",
    "httpslog",
    "forwardfor",
    "http-server-close",
    "httpclose",
    "forceclose",
    "http-keep-alive",
    "httpchk",
    "http-buffer-request",
    "http-pretend-keepalive",
    "http-use-proxy-header",
    "http-no-delay",
    "http-ignore-probes",
    "http-restrict-req-hdr-names",
    "http-drop-request-trailers",
    "http-drop-response-trailers",
    "originalto",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "accept-unsafe-violations-in-http-request",
    "accept-unsafe-violations-in-http-response",
    "h1-case-adjust-bogus-client",
    "h1-case-adjust-bogus-server",
    "checkcache",
    "http_proxy",
    "http-use-htx",
    "disable-h2-upgrade",
];

/// HAProxy options l4lb may support later.
pub(super) const OPTION_NOT_YET: &[&str] = &[
    "dontlog-normal",
    "logasap",
    "log-health-checks",
    "log-separate-errors",
    "log-steps",
    "ssl-hello-chk",
    "mysql-check",
    "pgsql-check",
    "redis-check",
    "smtpchk",
    "ldap-check",
    "spop-check",
    "external-check",
    "persist",
    "prefer-last-server",
    "socket-stats",
    "transparent",
    "independent-streams",
    "contstats",
    "splice-request",
    "splice-response",
    "abortonclose",
    "idle-close-on-response",
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
    "daemon",
    "master-worker",
    "user",
    "group",
    "uid",
    "gid",
    "chroot",
    "pidfile",
    "nbproc",
    "ulimit-n",
    "node",
    "description",
    "localpeer",
    "setenv",
    "presetenv",
    "resetenv",
    "unsetenv",
    "spread-checks",
    "max-spread-checks",
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
    "quiet",
    "zero-warning",
    "expose-experimental-directives",
    "insecure-fork-wanted",
    "busy-polling",
    "server-state-file",
    "server-state-base",
    "unix-bind",
    "lua-load",
    "lua-prepend-path",
    "ca-base",
    "crt-base",
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
    "ssl-server-verify",
    "ssl-dh-param-file",
];
