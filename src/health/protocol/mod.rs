//! Each kind of check compiled into the prober's steps: the bytes a
//! protocol check sends and the judges of what comes back, one file per
//! protocol, following HAProxy's rule sets for the same options
//! (`src/tcpcheck.c`: the rules `option redis-check`, `mysql-check`...
//! build, and their custom expect functions).

use super::rules::Step;
use crate::config::{CheckKind, ConnectRule};

/// The agent's request and reply (the probe is `health::agent`).
pub(crate) mod agent;
mod http;
mod http_parse;
mod ldap;
mod mysql;
mod pgsql;
mod redis;
mod smtp;
mod ssl_hello;
mod tcp;

/// The steps of one check of `kind`, starting with the connect.
pub(crate) fn steps(kind: &CheckKind) -> Vec<Step> {
    let mut steps = Vec::new();
    match kind {
        CheckKind::Connect => steps.push(Step::Connect(ConnectRule::implicit())),
        CheckKind::TcpCheck(rules) => tcp::steps(rules, &mut steps),
        CheckKind::Http(check) => http::steps(check, &mut steps),
        CheckKind::SslHello => ssl_hello::steps(&mut steps),
        CheckKind::Mysql { user, post41 } => {
            let client = user
                .as_deref()
                .map(|u| (u, mysql::Client::from_post41(*post41)));
            mysql::steps(client, &mut steps);
        }
        CheckKind::Pgsql { user } => pgsql::steps(user, &mut steps),
        CheckKind::Redis => redis::steps(&mut steps),
        CheckKind::Ldap => ldap::steps(&mut steps),
        CheckKind::Smtp { verb, domain } => smtp::steps(verb, domain, &mut steps),
    }
    steps
}

/// HAProxy's `connect default linger` that the SMTP, PostgreSQL and MySQL
/// rule sets start with: close with a FIN, so the server logs no aborted
/// connection.
fn linger() -> ConnectRule {
    ConnectRule {
        linger: true,
        ..ConnectRule::implicit()
    }
}

/// The first line of `bytes` (up to a CR, LF or NUL), as text for a
/// status message: HAProxy's `cut_crlf` of the payload, bounded.
fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| matches!(b, b'\r' | b'\n' | 0))
        .unwrap_or(bytes.len());
    text(&bytes[..end])
}

/// Bytes as printable text for a status message, at most 128 of them.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)]).into_owned()
}

#[cfg(test)]
pub(super) mod testing {
    //! Fixtures' torture loop: every judge must survive every prefix of its
    //! fixtures and random garbage, and decide once `last` is set.

    use crate::health::rules::{Judge, Step, Verdict};

    /// Every prefix, with and without `last`, and pseudo-random bytes.
    pub(crate) fn never_panics(judge: &dyn Judge, fixtures: &[&[u8]]) {
        for fixture in fixtures {
            for n in 0..=fixture.len() {
                let _ = judge.judge(&fixture[..n], false);
                let v = judge.judge(&fixture[..n], true);
                assert_ne!(v, Verdict::More, "{judge:?} undecided on last {n} bytes");
            }
        }
        let mut x: u32 = 0x1234_5678;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    // xorshift: deterministic noise.
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x.to_le_bytes()[0]
                })
                .collect();
            let _ = judge.judge(&bytes, false);
            assert_ne!(judge.judge(&bytes, true), Verdict::More);
        }
    }

    /// Runs `steps` as the engine does, with canned replies: `replies[0]`
    /// is what the server sends once connected, `replies[i]` what it sends
    /// after the i-th send; consecutive expects judge the same bytes. Each
    /// expect is judged as the bytes arrive (`last` unset) then, if
    /// undecided, as if the server had closed. The check's verdict: the
    /// first failure, else the last pass.
    pub(crate) fn run(steps: &[Step], replies: &[&[u8]]) -> Verdict {
        let mut reply: &[u8] = replies.first().copied().unwrap_or_default();
        let mut sent = 0;
        let mut verdict = Verdict::Pass(crate::backend::CheckStatus::L4Ok, String::new());
        for step in steps {
            match step {
                Step::Connect(_) => {}
                Step::Send(_) => {
                    sent += 1;
                    reply = replies.get(sent).copied().unwrap_or_default();
                }
                Step::Expect(judge) => {
                    verdict = match judge.judge(reply, false) {
                        Verdict::More => judge.judge(reply, true),
                        decided => decided,
                    };
                    if !matches!(verdict, Verdict::Pass(..)) {
                        return verdict;
                    }
                }
            }
        }
        verdict
    }

    /// The bytes of every send step.
    pub(crate) fn sends(steps: &[Step]) -> Vec<&[u8]> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(b) => Some(&b[..]),
                _ => None,
            })
            .collect()
    }
}
