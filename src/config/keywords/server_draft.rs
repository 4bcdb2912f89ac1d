//! A `server` line while its options are read: the draft they write, and
//! how an option is described (its name, whether it takes a value, what it
//! sets). Shared by the general options (`server`) and those of the
//! checks (`server_checks`).

use std::net::IpAddr;
use std::time::Duration;

use super::super::{CaFile, Check, Observe, ServerConf};
use super::Bad;

/// A server line while its options are read. Check timing options are taken
/// with or without `check` (as HAProxy) but only probe with it; which of
/// them were given decides the defaults of the others, in `finish`.
pub(super) struct ServerDraft {
    pub(super) conf: ServerConf,
    /// TLS and agent options of its checks.
    pub(super) checks: CheckDraft,
    /// `check-send-proxy`.
    pub(super) check_send_proxy: bool,
    /// `proxy-v2-options`: (crc32c, authority), applied with `send-proxy-v2`.
    pub(super) proxy_v2_options: (bool, bool, bool),
    pub(super) check: Check,
    pub(super) inter: Option<Duration>,
    pub(super) fastinter: Option<Duration>,
    pub(super) downinter: Option<Duration>,
    pub(super) observe: Observe,
    /// `observe layer4`.
    pub(super) observing: bool,
    /// `check`.
    pub(super) checking: bool,
}

/// What a server line says of its checks' TLS and of its agent.
#[derive(Default)]
pub(super) struct CheckDraft {
    pub(super) check_ssl: bool,
    pub(super) verify: Option<bool>,
    pub(super) ca_file: Option<CaFile>,
    pub(super) sni: Option<String>,
    pub(super) verifyhost: Option<String>,
    pub(super) alpn: Vec<String>,
    pub(super) agent: bool,
    pub(super) agent_port: Option<u16>,
    pub(super) agent_addr: Option<IpAddr>,
    pub(super) agent_inter: Option<Duration>,
    pub(super) agent_send: Vec<u8>,
}

/// One server option: how it is written (`weight N`; its first word is its
/// name), what it says when its value is missing (None: it takes no value),
/// and what it sets. An error without a keyword is about the option.
pub(super) struct ServerOption {
    pub(super) usage: &'static str,
    pub(super) missing: Option<&'static str>,
    /// Takes the value; "" for an option without one.
    pub(super) set: fn(&mut ServerDraft, &str) -> Result<(), Bad>,
}

impl ServerOption {
    pub(super) fn name(&self) -> &'static str {
        self.usage.split(' ').next().unwrap_or(self.usage)
    }
}

/// An option without a value.
pub(super) const fn flag(
    usage: &'static str,
    set: fn(&mut ServerDraft, &str) -> Result<(), Bad>,
) -> ServerOption {
    ServerOption {
        usage,
        missing: None,
        set,
    }
}

/// An option followed by one value.
pub(super) const fn valued(
    usage: &'static str,
    missing: &'static str,
    set: fn(&mut ServerDraft, &str) -> Result<(), Bad>,
) -> ServerOption {
    ServerOption {
        usage,
        missing: Some(missing),
        set,
    }
}
