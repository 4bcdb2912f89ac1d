//! HAProxy's default log format (its configuration manual, section 8.2.1):
//! a frontend with a `log` target but neither `option tcplog` nor a
//! `log-format` logs one line per connection at accept, and nothing at its
//! end:
//!
//! ```text
//! Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/TCP)
//! ```
//!
//! The worker sends a [`Connect`] (plain values, no allocation) once the
//! connection is accepted; the logger thread writes the line, at `info`, as
//! HAProxy's `frontend_accept` does. `option dontlognull` does not apply:
//! the line goes out before the client could send anything (HAProxy checks
//! it only for lines written at a connection's end).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{Config, Frontend};

/// What a worker sends for the line of a connection just accepted.
#[derive(Debug, Clone)]
pub struct Connect {
    /// The snapshot the connection was accepted under (`frontend` indexes
    /// into it).
    pub config: Arc<Config>,
    pub frontend: usize,
    pub client: SocketAddr,
    /// The address the client connected to (getsockname); None if the
    /// kernel could not tell.
    pub local: Option<SocketAddr>,
    /// A client of a unix bind: that bind's id (HAProxy's listener id).
    pub unix_bind: Option<u32>,
}

/// Whether `fe` logs its connections in the default format: a target and
/// no line format of its own.
pub(crate) fn logs_connects(fe: &Frontend) -> bool {
    !fe.tcplog && !fe.log.is_empty()
}

/// Writes the line for `c`, accepted by frontend `name`, into `out`.
/// Addresses as `inet_ntop` writes them, IPv6 without brackets, as HAProxy;
/// an unknown local address is HAProxy's `undetermined address:0`. l4lb's
/// frontends are all `mode tcp`.
pub(crate) fn write_line(out: &mut String, name: &str, c: &Connect) {
    if let Some(id) = c.unix_bind {
        let _ = write!(out, "Connect to unix:{id} ({name}/TCP)");
        return;
    }
    let client = c.client;
    let _ = write!(out, "Connect from {}:{} to ", client.ip(), client.port());
    let _ = match c.local {
        Some(local) => write!(out, "{}:{}", local.ip(), local.port()),
        None => write!(out, "undetermined address:0"),
    };
    let _ = write!(out, " ({name}/TCP)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(client: &str, local: Option<&str>) -> String {
        written(client, local, None)
    }

    /// The line of a connection from `client` to `local` (or to the
    /// unix bind `unix_bind`), in frontend `www`.
    fn written(client: &str, local: Option<&str>, unix_bind: Option<u32>) -> String {
        let args = crate::cli::Args {
            bind: vec!["127.0.0.1:1".into()],
            server: vec!["127.0.0.1:2".into()],
            ..Default::default()
        };
        let c = Connect {
            config: Arc::new(Config::from_args(&args).unwrap()),
            frontend: 0,
            client: client.parse().unwrap(),
            local: local.map(|l| l.parse().unwrap()),
            unix_bind,
        };
        let mut out = String::new();
        write_line(&mut out, "www", &c);
        out
    }

    #[test]
    fn a_unix_client_is_its_bind_id_as_haproxy_writes_it() {
        assert_eq!(
            written("0.0.0.0:0", None, Some(2)),
            "Connect to unix:2 (www/TCP)"
        );
    }

    #[test]
    fn ipv4_as_haproxy_writes_it() {
        assert_eq!(
            line("10.0.1.2:33312", Some("10.0.3.31:8012")),
            "Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/TCP)"
        );
    }

    #[test]
    fn ipv6_without_brackets_and_v4_mapped_as_inet_ntop() {
        assert_eq!(
            line("[::1]:40000", Some("[2001:db8::1]:443")),
            "Connect from ::1:40000 to 2001:db8::1:443 (www/TCP)"
        );
        assert_eq!(
            line("[::ffff:10.0.0.1]:5", Some("[::ffff:10.0.0.2]:6")),
            "Connect from ::ffff:10.0.0.1:5 to ::ffff:10.0.0.2:6 (www/TCP)"
        );
    }

    #[test]
    fn an_unknown_local_address() {
        assert_eq!(
            line("10.0.1.2:1", None),
            "Connect from 10.0.1.2:1 to undetermined address:0 (www/TCP)"
        );
    }
}
