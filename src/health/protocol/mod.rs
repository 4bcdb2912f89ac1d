//! Each kind of check compiled into the prober's steps: the bytes a
//! protocol check sends and the judges of what comes back, one file per
//! protocol, following HAProxy's rule sets for the same options.

use super::rules::Step;
use crate::config::{CheckKind, ConnectRule};

mod tcp;

/// The steps of one check of `kind`, starting with the connect.
pub(crate) fn steps(kind: &CheckKind) -> Vec<Step> {
    let mut steps = Vec::new();
    match kind {
        CheckKind::Connect => steps.push(Step::Connect(ConnectRule::default())),
        CheckKind::TcpCheck(rules) => tcp::steps(rules, &mut steps),
        other => {
            steps.push(Step::Connect(ConnectRule::default()));
            steps.push(Step::Expect(Box::new(NotYet(format!("{other:?}")))));
        }
    }
    steps
}

/// A check kind whose bytes are not written yet: it fails, never passes.
#[derive(Debug)]
struct NotYet(String);

impl super::rules::Judge for NotYet {
    fn judge(&self, _: &[u8], _: bool) -> super::rules::Verdict {
        let why = format!("{} checks are not implemented yet", self.0);
        super::rules::Verdict::Fail(crate::backend::CheckStatus::L7Rsp, why)
    }

    fn describe(&self) -> String {
        self.0.clone()
    }
}
