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
        other => unimplemented!("{other:?} checks are not compiled yet"),
    }
    steps
}
