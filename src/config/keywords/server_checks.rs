//! The `server` options of its health checks over TLS (`check-ssl`,
//! `verify`, `ca-file`, `check-sni`, `verifyhost`, `check-alpn`) and of
//! its agent (`agent-check`, `agent-port`, `agent-addr`, `agent-inter`,
//! `agent-send`). The data path never speaks TLS: these are the checks'.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::super::values::{number, parse_time};
use super::super::{Agent, CaFile, CheckTls};
use super::server_draft::{CheckDraft, ServerOption, flag, valued};
use super::{Bad, bad};

/// HAProxy's `agent-inter` default.
const DEFAULT_AGENT_INTER: Duration = Duration::from_secs(2);

impl CheckDraft {
    /// The checks' TLS settings: with `check-ssl`, or any of its companions
    /// (which `tcp-check connect ssl` rules use).
    pub(super) fn tls(&self) -> Option<CheckTls> {
        let any = self.check_ssl
            || self.verify.is_some()
            || self.ca_file.is_some()
            || self.sni.is_some()
            || self.verifyhost.is_some()
            || !self.alpn.is_empty();
        any.then(|| CheckTls {
            check_ssl: self.check_ssl,
            verify: self.verify.unwrap_or(true),
            verify_from_global: self.verify.is_none(),
            ca_file: self.ca_file.clone(),
            sni: self.sni.clone(),
            verifyhost: self.verifyhost.clone(),
            alpn: self.alpn.clone(),
        })
    }

    /// The agent, with `agent-check`; `addr` is the server's address.
    pub(super) fn agent(&self, addr: SocketAddr) -> Result<Option<Agent>, Bad> {
        if !self.agent {
            return Ok(None);
        }
        let Some(port) = self.agent_port else {
            return Err(bad(
                "agent-check needs agent-port N: the port the agent answers on",
            ));
        };
        let ip = self.agent_addr.unwrap_or(addr.ip());
        Ok(Some(Agent {
            target: SocketAddr::new(ip, port),
            inter: self.agent_inter.unwrap_or(DEFAULT_AGENT_INTER),
            send: self.agent_send.clone(),
        }))
    }
}

/// The check TLS and agent options, in the order the "accepted" list shows them.
pub(super) const CHECK_OPTIONS: &[ServerOption] = &[
    flag("check-ssl", |d, _| {
        d.checks.check_ssl = true;
        Ok(())
    }),
    flag("no-check-ssl", |d, _| {
        d.checks.check_ssl = false;
        Ok(())
    }),
    valued(
        "verify none|required",
        "accepted: verify none|required",
        |d, v| {
            d.checks.verify = Some(match v {
                "none" => false,
                "required" => true,
                _ => return Err(bad("accepted: verify none|required")),
            });
            Ok(())
        },
    ),
    valued("ca-file FILE", "expects a file: ca-file FILE", |d, v| {
        d.checks.ca_file = Some(match v {
            "@system-ca" => CaFile::System,
            path => CaFile::Path(PathBuf::from(path)),
        });
        Ok(())
    }),
    valued(
        "check-sni NAME",
        "expects a name: check-sni NAME",
        |d, v| {
            d.checks.sni = Some(v.to_string());
            Ok(())
        },
    ),
    valued(
        "verifyhost NAME",
        "expects a name: verifyhost NAME",
        |d, v| {
            d.checks.verifyhost = Some(v.to_string());
            Ok(())
        },
    ),
    valued(
        "check-alpn LIST",
        "expects a list: check-alpn h2,http/1.1",
        |d, v| {
            d.checks.alpn = alpn_list(v)?;
            Ok(())
        },
    ),
    flag("agent-check", |d, _| {
        d.checks.agent = true;
        Ok(())
    }),
    flag("no-agent-check", |d, _| {
        d.checks.agent = false;
        Ok(())
    }),
    valued("agent-port N", "expects a value: agent-port N", |d, v| {
        d.checks.agent_port = Some(number::<u32>(v, 1..=65535)? as u16);
        Ok(())
    }),
    valued(
        "agent-addr IP",
        "expects an IP address: agent-addr IP",
        |d, v| {
            let ip = v.parse().map_err(|_| {
                bad(format!(
                    "'{v}' is not an IP address (l4lb does not resolve agent host names)"
                ))
            })?;
            d.checks.agent_addr = Some(ip);
            Ok(())
        },
    ),
    valued("agent-inter T", "expects a time: agent-inter T", |d, v| {
        let t = parse_time(v)?;
        if t.is_zero() {
            return Err(bad("must be above 0"));
        }
        d.checks.agent_inter = Some(t);
        Ok(())
    }),
    valued(
        "agent-send STRING",
        "expects a string: agent-send STRING",
        |d, v| {
            d.checks.agent_send = v.as_bytes().to_vec();
            Ok(())
        },
    ),
];

/// `h2,http/1.1`: protocol names, none empty.
pub(super) fn alpn_list(v: &str) -> Result<Vec<String>, Bad> {
    let names: Vec<String> = v.split(',').map(str::to_string).collect();
    if names.iter().any(|n| n.is_empty() || n.len() > 255) {
        return Err(bad(format!(
            "'{v}': a comma-separated list of protocol names, e.g. h2,http/1.1"
        )));
    }
    Ok(names)
}
