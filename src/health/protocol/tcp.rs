//! `tcp-check` rules: sends as written, expects of a string, bytes or a
//! regular expression, `!` and `min-recv`.

use crate::backend::CheckStatus;
use crate::config::{CheckStep, ConnectRule, TcpExpect, TcpMatch};
use crate::health::rules::{Judge, Step, Verdict};

/// The steps of `option tcp-check`: an implicit connect unless the rules
/// start with one.
pub(super) fn steps(rules: &[CheckStep], steps: &mut Vec<Step>) {
    if !matches!(rules.first(), Some(CheckStep::Connect(_))) {
        steps.push(Step::Connect(ConnectRule::implicit()));
    }
    for rule in rules {
        steps.push(match rule {
            CheckStep::Connect(c) => Step::Connect(c.clone()),
            CheckStep::Send(bytes) => Step::Send(bytes.clone()),
            CheckStep::Expect(e) => Step::Expect(Box::new(Expect(e.clone()))),
        });
    }
}

/// A `tcp-check expect` rule.
#[derive(Debug)]
struct Expect(TcpExpect);

impl Expect {
    fn found(&self, buf: &[u8]) -> bool {
        match &self.0.what {
            TcpMatch::String(s) | TcpMatch::Binary(s) => contains(buf, s),
            TcpMatch::RString(p) => p.re.is_match(buf),
            TcpMatch::RBinary(p) => p.re.is_match(hex(buf).as_bytes()),
        }
    }
}

impl Judge for Expect {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if !last && self.0.min_recv.is_some_and(|n| buf.len() < n) {
            return Verdict::More;
        }
        let found = self.found(buf);
        // As HAProxy: no match yet waits for more bytes, unless the server
        // is done or `min-recv` said how many bytes decide.
        if !found && !last && self.0.min_recv.is_none() {
            return Verdict::More;
        }
        if found != self.0.inverse {
            return Verdict::Pass(CheckStatus::L7Ok, "tcp-check passed".into());
        }
        let why = if found {
            format!("found unwanted {}", self.describe())
        } else {
            format!(
                "no {} in {:?}",
                self.describe(),
                String::from_utf8_lossy(&buf[..buf.len().min(64)])
            )
        };
        Verdict::Fail(CheckStatus::L7Rsp, why)
    }

    fn describe(&self) -> String {
        match &self.0.what {
            TcpMatch::String(s) => format!("{:?}", String::from_utf8_lossy(s)),
            TcpMatch::Binary(b) => format!("binary {}", hex(b)),
            TcpMatch::RString(p) => format!("rstring {:?}", p.source),
            TcpMatch::RBinary(p) => format!("rbinary {:?}", p.source),
        }
    }
}

pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Upper-case hex, as HAProxy matches `rbinary` against.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
