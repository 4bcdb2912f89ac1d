//! A backend's checks from its lines: the check option and its rules
//! compiled into a [`CheckKind`] (HAProxy's implicit rules added), and the
//! servers' check TLS settings completed from the global section.

use super::Builder;
use crate::config::raw::{CheckLines, CheckOption, HttpDraft, Proxy, SendDraft, role_name};
use crate::config::{
    CaFile, CheckKind, CheckTls, HttpCheck, HttpExpect, HttpMatch, HttpRequest, HttpRule,
    ServerConf,
};

impl Builder {
    /// What every check of the backend's servers does; warns of rules that
    /// its check option does not use.
    pub(super) fn checks(&self, p: &Proxy, warnings: &mut Vec<String>) -> CheckKind {
        let lines = &p.settings.checks;
        let kind = match &lines.option {
            None => CheckKind::Connect,
            Some((CheckOption::Tcp, _)) => CheckKind::TcpCheck(lines.tcp.clone()),
            Some((CheckOption::Http(req), _)) => CheckKind::Http(http_check(lines, req)),
            Some((CheckOption::Other(kind), _)) => kind.clone(),
        };
        let unused = |what: &str, line: Option<usize>, used: bool| {
            // Rules inherited from defaults may serve other proxies.
            line.filter(|&l| !used && l > p.line).map(|line| {
                format!(
                    "{what} rules from {} in {} {} are not used without `option {}`",
                    self.at(line),
                    role_name(p.role),
                    p.name,
                    if what == "tcp-check" {
                        "tcp-check"
                    } else {
                        "httpchk"
                    }
                )
            })
        };
        warnings.extend(unused(
            "tcp-check",
            lines.tcp_line,
            matches!(kind, CheckKind::TcpCheck(_)),
        ));
        warnings.extend(unused(
            "http-check",
            lines.http_line,
            matches!(kind, CheckKind::Http(_)),
        ));
        kind
    }

    /// Completes the servers' check TLS: `ssl-server-verify` where the line
    /// has no `verify`, `ca-base` under a relative `ca-file`; a verified
    /// check needs a CA file, as HAProxy.
    pub(super) fn check_tls(&mut self, p: &Proxy, kind: &CheckKind, servers: &mut [ServerConf]) {
        let verify_default = self.global.ssl_server_verify.unwrap_or(true);
        let ca_base = self.global.ca_base.clone();
        let rules_use_tls = rules_use_tls(kind);
        for server in servers {
            let Some(check) = server.check.as_mut() else {
                continue;
            };
            if rules_use_tls && check.tls.is_none() {
                check.tls = Some(CheckTls {
                    check_ssl: false,
                    verify: true,
                    verify_from_global: true,
                    ca_file: None,
                    sni: None,
                    verifyhost: None,
                    alpn: Vec::new(),
                });
            }
            let Some(tls) = check.tls.as_mut() else {
                continue;
            };
            if !tls.check_ssl && !rules_use_tls {
                continue; // TLS settings no check connection uses.
            }
            if tls.verify_from_global {
                tls.verify = verify_default;
            }
            if let (Some(CaFile::Path(path)), Some(base)) = (&mut tls.ca_file, &ca_base)
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
            if tls.verify && tls.ca_file.is_none() {
                let msg = format!(
                    "server {}: check-ssl verifies the server's certificate by default (verify required, \
                     as HAProxy's ssl-server-verify) but no ca-file is given: set ca-file FILE \
                     (or @system-ca), or, on a network where the certificate need not be \
                     checked, an explicit 'verify none' on the server line (or \
                     'ssl-server-verify none' in global)",
                    server.name
                );
                self.err(p.line, role_name(p.role), msg);
            }
            if let Some(CaFile::Path(path)) = &tls.ca_file
                && let Err(e) = std::fs::metadata(path)
            {
                let msg = format!("server {}: ca-file {}: {e}", server.name, path.display());
                self.err(p.line, role_name(p.role), msg);
            }
        }
    }
}

/// Whether a connect rule of `kind` asks for TLS itself (`ssl`).
fn rules_use_tls(kind: &CheckKind) -> bool {
    match kind {
        CheckKind::TcpCheck(steps) => steps
            .iter()
            .any(|s| matches!(s, crate::config::CheckStep::Connect(c) if c.ssl)),
        CheckKind::Http(h) => h
            .rules
            .iter()
            .any(|r| matches!(r, HttpRule::Connect(c) if c.ssl)),
        _ => false,
    }
}

/// HAProxy's http-check rule set: the `option httpchk` request sent when
/// no `http-check send` says otherwise (each send's unset parts come from
/// it), and a 2xx-or-3xx expect when there is no `http-check expect`.
fn http_check(lines: &CheckLines, req: &HttpRequest) -> HttpCheck {
    let mut rules: Vec<HttpRule> = lines
        .http
        .iter()
        .map(|d| match d {
            HttpDraft::Connect(c) => HttpRule::Connect(c.clone()),
            HttpDraft::Send(s) => HttpRule::Send(merged(s, req)),
            HttpDraft::Expect(e) => HttpRule::Expect(e.clone()),
        })
        .collect();
    if !rules.iter().any(|r| matches!(r, HttpRule::Send(_))) {
        let at = usize::from(matches!(rules.first(), Some(HttpRule::Connect(_))));
        rules.insert(at, HttpRule::Send(req.clone()));
    }
    if !rules.iter().any(|r| matches!(r, HttpRule::Expect(_))) {
        rules.push(HttpRule::Expect(HttpExpect {
            inverse: false,
            what: HttpMatch::Status(vec![(200, 399)]),
        }));
    }
    HttpCheck {
        rules,
        disable_on_404: lines.disable_on_404,
    }
}

/// An `http-check send` over the `option httpchk` request: its headers
/// after the option's.
fn merged(s: &SendDraft, req: &HttpRequest) -> HttpRequest {
    let mut headers = req.headers.clone();
    headers.extend(s.headers.iter().cloned());
    HttpRequest {
        method: s.method.clone().unwrap_or_else(|| req.method.clone()),
        uri: s.uri.clone().unwrap_or_else(|| req.uri.clone()),
        version: s.version.clone().unwrap_or_else(|| req.version.clone()),
        headers,
        body: s.body.clone().unwrap_or_else(|| req.body.clone()),
    }
}
