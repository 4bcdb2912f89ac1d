//! A check's rules as the prober runs them: connect, send bytes, judge what
//! came back. Every kind of check (`tcp-check`, `httpchk`, the protocol
//! options) compiles into a list of [`Step`]s (see `protocol::steps`); the
//! prober walks them over a plain or TLS connection.

use crate::backend::CheckStatus;
use crate::config::ConnectRule;

/// What a judge makes of the bytes received since the last send or connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not enough bytes to decide yet (never returned when `last` is set).
    More,
    /// This rule passed: go on with the next one. The status (`L7OK`,
    /// `L7OKC` for a 404 under `disable-on-404`, `L6OK`) and text are what
    /// `show stat` shows if this is the last rule.
    Pass(CheckStatus, String),
    /// The check failed, with HAProxy's status (`L7RSP`, `L7STS`, `L6RSP`...)
    /// and a short reason for the logs and `show stat`.
    Fail(CheckStatus, String),
}

/// Judges one expect rule's worth of response.
pub(crate) trait Judge: Send + std::fmt::Debug {
    /// `buf` is everything received since the last send (or connect), at
    /// most the check buffer (16 KiB). `last` is set when no more bytes will
    /// come: the server closed, or the buffer is full. With `last` set the
    /// judge must decide.
    fn judge(&self, buf: &[u8], last: bool) -> Verdict;

    /// What it waits for, for a timeout's message ("+PONG", "HTTP status").
    fn describe(&self) -> String;

    /// HAProxy's status when the check times out waiting here.
    fn timeout_status(&self) -> CheckStatus {
        CheckStatus::L7Tout
    }
}

/// One step of a check.
#[derive(Debug)]
pub(crate) enum Step {
    /// (Re)connect: the first step of every check. Closes any previous
    /// connection; the receive buffer starts empty.
    Connect(ConnectRule),
    /// Send these bytes; the receive buffer starts empty.
    Send(Vec<u8>),
    /// Read until the judge decides. Consecutive expects judge the same
    /// bytes (HAProxy: an expect does not consume what it matched).
    Expect(Box<dyn Judge>),
}
