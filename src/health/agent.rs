//! The `agent-check` probe's side of the prober: read the agent's line,
//! and apply what it asks (HAProxy's agent semantics): `up` / `down` set
//! the agent's say on the server's state at once, `drain` / `maint` /
//! `ready` its administrative state, a percentage or `weight:` its weight,
//! `maxconn:` its limit. Failing to reach the agent changes nothing: the
//! health check is what tests connectivity.

use super::protocol::agent::{
    AgentAdmin, AgentHealth, AgentReply, AgentWeight, complete, parse_reply,
};
use super::rules::{Judge, Verdict};
use crate::backend::{Admin, CheckStatus, Server};

/// The agent's reply: one line.
#[derive(Debug)]
pub(super) struct Line;

impl Judge for Line {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        // HAProxy reads the reply as a C string: a NUL ends it.
        let line = &buf[..buf.iter().position(|&b| b == 0).unwrap_or(buf.len())];
        if !complete(line) && !last {
            return Verdict::More;
        }
        Verdict::Pass(CheckStatus::L7Ok, String::from_utf8_lossy(buf).into_owned())
    }

    fn describe(&self) -> String {
        "agent reply".into()
    }
}

/// The agent's line read.
pub(super) fn parse(line: &str) -> Result<AgentReply, String> {
    parse_reply(line.as_bytes())
}

/// Applies the administrative, weight and maxconn parts of a reply.
pub(super) fn apply_settings(server: &Server, reply: &AgentReply) {
    match reply.admin {
        Some(AgentAdmin::Ready) => server.set_admin(Admin::Ready),
        Some(AgentAdmin::Drain) => server.set_admin(Admin::Drain),
        Some(AgentAdmin::Maint) => server.set_admin(Admin::Maint),
        None => {}
    }
    match reply.weight {
        Some(AgentWeight::Percent(pct)) => {
            let w = u64::from(server.conf_weight()) * u64::from(pct) / 100;
            server.set_weight(w.min(256) as u32);
        }
        Some(AgentWeight::Absolute(w)) => server.set_weight(w.min(256)),
        None => {}
    }
    if let Some(maxconn) = reply.maxconn {
        server.set_maxconn(maxconn);
    }
}

/// The state the reply sets: Some(up) when it says up or down.
pub(super) fn state(reply: &AgentReply) -> Option<bool> {
    reply.health.map(|h| h == AgentHealth::Up)
}
