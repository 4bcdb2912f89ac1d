//! `option redis-check`: a PING, passing on +PONG (HAProxy's
//! `*redis-check` rule set).

use super::tcp::contains;
use crate::backend::CheckStatus;
use crate::config::ConnectRule;
use crate::health::rules::{Judge, Step, Verdict};

/// PING as a RESP array, byte for byte what HAProxy sends.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const PONG: &[u8] = b"+PONG\r\n";

pub(super) fn steps(steps: &mut Vec<Step>) {
    steps.push(Step::Connect(ConnectRule::implicit()));
    steps.push(Step::Send(PING.to_vec()));
    steps.push(Step::Expect(Box::new(Pong)));
}

/// Passes on `+PONG\r\n` anywhere in the reply; anything else waits,
/// then is L7TOUT, or L7STS with the reply's first line if the server
/// closes (a `-NOAUTH`, `-LOADING` error).
#[derive(Debug)]
struct Pong;

impl Judge for Pong {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if contains(buf, PONG) {
            return Verdict::Pass(CheckStatus::L7Ok, "Redis server is ok".into());
        }
        // As HAProxy: a reply that is not +PONG waits for more, so an open
        // connection fails at `timeout check` (L7TOUT, the reply in the
        // text); a server that closes gets its words judged.
        if !last {
            return Verdict::More;
        }
        if buf.is_empty() {
            return Verdict::Fail(CheckStatus::L7Rsp, "empty response".into());
        }
        Verdict::Fail(CheckStatus::L7Sts, super::first_line(buf))
    }

    fn describe(&self) -> String {
        "+PONG".into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{never_panics, run, sends};
    use super::*;

    fn check(reply: &[u8]) -> Verdict {
        let mut s = Vec::new();
        steps(&mut s);
        run(&s, &[b"", reply])
    }

    #[test]
    fn sends_a_resp_ping() {
        let mut s = Vec::new();
        steps(&mut s);
        assert!(matches!(s[0], Step::Connect(_)));
        assert_eq!(sends(&s), [b"*1\r\n$4\r\nPING\r\n"]);
    }

    #[test]
    fn pong_passes() {
        let ok = Verdict::Pass(CheckStatus::L7Ok, "Redis server is ok".into());
        assert_eq!(check(b"+PONG\r\n"), ok);
    }

    #[test]
    fn an_error_reply_is_l7sts_with_its_text() {
        let v = check(b"-NOAUTH Authentication required.\r\n");
        let want = "-NOAUTH Authentication required.";
        assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, want.into()));
        let v = check(b"-LOADING Redis is loading the dataset in memory\r\n");
        assert!(matches!(v, Verdict::Fail(CheckStatus::L7Sts, _)));
    }

    #[test]
    fn partial_waits_then_fails_on_close() {
        assert_eq!(Pong.judge(b"+PON", false), Verdict::More);
        assert!(matches!(
            Pong.judge(b"+PON", true),
            Verdict::Fail(CheckStatus::L7Sts, _)
        ));
        assert!(matches!(
            Pong.judge(b"", true),
            Verdict::Fail(CheckStatus::L7Rsp, _)
        ));
    }

    #[test]
    fn survives_any_input() {
        never_panics(&Pong, &[b"+PONG\r\n", b"-ERR x\r\n", b"\r\n"]);
    }
}
