//! `option smtpchk`: the banner must be 2xx, then `HELO`/`EHLO` must be
//! answered 2xx (multi-line `250-` replies included), then `QUIT`, whose
//! reply must be 2xx too (HAProxy's `*smtp-check` rule set).

use super::{first_line, linger, text};
use crate::backend::CheckStatus;
use crate::health::rules::{Judge, Step, Verdict};

/// HAProxy's `min-recv 4`: a reply code and the character after it.
const CODE_AND_SEP: usize = 4;

pub(super) fn steps(verb: &str, domain: &str, steps: &mut Vec<Step>) {
    steps.push(Step::Connect(linger()));
    steps.push(Step::Expect(Box::new(Banner)));
    steps.push(Step::Expect(Box::new(Positive(Stage::Banner))));
    steps.push(Step::Send(format!("{verb} {domain}\r\n").into_bytes()));
    steps.push(Step::Expect(Box::new(Positive(Stage::Hello))));
    steps.push(Step::Send(b"QUIT\r\n".to_vec()));
    steps.push(Step::Expect(Box::new(Positive(Stage::Quit))));
}

/// The greeting must look like SMTP: three digits then a space or CR
/// (HAProxy's `^[0-9]{3}[ \r]`; a multi-line `220-` greeting fails, as in
/// HAProxy). Otherwise L7RSP with the first line.
#[derive(Debug)]
struct Banner;

impl Judge for Banner {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if buf.len() < CODE_AND_SEP && !last {
            return Verdict::More;
        }
        match buf {
            [a, b, c, b' ' | b'\r', ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
                Verdict::Pass(CheckStatus::L7Ok, first_line(buf))
            }
            [] => Verdict::Fail(CheckStatus::L7Rsp, "empty response".into()),
            _ => Verdict::Fail(CheckStatus::L7Rsp, first_line(buf)),
        }
    }

    fn describe(&self) -> String {
        "SMTP greeting".into()
    }
}

/// Which reply a [`Positive`] judges.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// The greeting: `^2[0-9]{2}[ \r]`.
    Banner,
    /// The HELO/EHLO reply: `^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]`, any
    /// number of continuation lines then a final 2xx line.
    Hello,
    /// The QUIT reply: `^2[0-9]{2}[- \r]`.
    Quit,
}

/// A 2xx reply, else L7STS with the server's code and text.
#[derive(Debug)]
struct Positive(Stage);

impl Judge for Positive {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        let matched = match self.0 {
            Stage::Banner => one_line(buf, b" \r"),
            Stage::Quit => one_line(buf, b"- \r"),
            Stage::Hello => multi_line(buf),
        };
        // HAProxy's rule for the HELO/EHLO reply has no min-recv: a reply
        // that is not 2xx waits for more (L7TOUT on an open line), and its
        // error status is L7STS even for nothing at all.
        let hello = matches!(self.0, Stage::Hello);
        match matched {
            Some(true) => Verdict::Pass(CheckStatus::L7Ok, reply_text(buf)),
            None if !last => Verdict::More,
            Some(false) if hello && !last => Verdict::More,
            _ if buf.is_empty() && !hello => {
                Verdict::Fail(CheckStatus::L7Rsp, "empty response".into())
            }
            _ if buf.is_empty() => Verdict::Fail(CheckStatus::L7Sts, "empty response".into()),
            _ => Verdict::Fail(CheckStatus::L7Sts, reply_text(buf)),
        }
    }

    fn describe(&self) -> String {
        match self.0 {
            Stage::Banner => "2xx SMTP greeting".into(),
            Stage::Hello => "2xx reply to HELO/EHLO".into(),
            Stage::Quit => "2xx reply to QUIT".into(),
        }
    }
}

/// A 2xx code followed by one of `seps`: None while under 4 bytes.
fn one_line(buf: &[u8], seps: &[u8]) -> Option<bool> {
    let head = buf.get(..CODE_AND_SEP)?;
    Some(is_2xx(head) && seps.contains(&head[3]))
}

fn is_2xx(line: &[u8]) -> bool {
    line[0] == b'2' && line[1].is_ascii_digit() && line[2].is_ascii_digit()
}

/// Walks `2xx-text\r\n` lines to a final `2xx ` / `2xx\r` line. None: the
/// reply is not complete yet (more bytes may still make it match);
/// Some(false): it can no longer match, whatever comes.
fn multi_line(buf: &[u8]) -> Option<bool> {
    let mut rest = buf;
    loop {
        let head = rest.get(..CODE_AND_SEP)?;
        if !is_2xx(head) {
            return Some(false);
        }
        match head[3] {
            b' ' | b'\r' => return Some(true),
            b'-' => {}
            _ => return Some(false),
        }
        let cr = rest.iter().position(|&b| b == b'\r')?;
        match rest.get(cr + 1) {
            Some(b'\n') => rest = &rest[cr + 2..],
            Some(_) => return Some(false),
            None => return None,
        }
    }
}

/// `NNN text`: the reply's code and its first line's text, as HAProxy's
/// `res.payload(4,0),ltrim(' '),cut_crlf` with the status code before it.
fn reply_text(buf: &[u8]) -> String {
    let code = text(&buf[..buf.len().min(3)]);
    let rest = buf.get(CODE_AND_SEP..).unwrap_or_default();
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let line = first_line(&rest[start..]);
    if line.is_empty() {
        code
    } else {
        format!("{code} {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{never_panics, run, sends};
    use super::*;

    fn check(replies: &[&[u8]]) -> Verdict {
        let mut s = Vec::new();
        steps("EHLO", "example.org", &mut s);
        run(&s, replies)
    }

    const BANNER: &[u8] = b"220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n";
    const EHLO: &[u8] = b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n\
        250-8BITMIME\r\n250 SMTPUTF8\r\n";
    const BYE: &[u8] = b"221 2.0.0 Bye\r\n";
    /// Exim 4.96's dialogue, as captured.
    const EXIM: [&[u8]; 3] = [
        b"220 vm ESMTP Exim 4.96 Tue, 01 Dec 2026 12:28:12 +0000\r\n",
        b"250-vm Hello localhost [127.0.0.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
            250-PIPELINING\r\n250-PIPECONNECT\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n\
            250 HELP\r\n",
        b"221 vm closing connection\r\n",
    ];

    #[test]
    fn exim_passes() {
        let v = check(&EXIM);
        assert_eq!(
            v,
            Verdict::Pass(CheckStatus::L7Ok, "221 vm closing connection".into())
        );
    }

    #[test]
    fn sends_the_verb_then_quit_on_a_lingering_connect() {
        let mut s = Vec::new();
        steps("HELO", "localhost", &mut s);
        assert!(matches!(&s[0], Step::Connect(c) if c.linger));
        assert_eq!(sends(&s), [&b"HELO localhost\r\n"[..], b"QUIT\r\n"]);
    }

    #[test]
    fn a_full_dialogue_passes_with_the_quit_reply() {
        let v = check(&[BANNER, EHLO, BYE]);
        assert_eq!(v, Verdict::Pass(CheckStatus::L7Ok, "221 2.0.0 Bye".into()));
    }

    #[test]
    fn a_refusing_greeting_is_l7sts_with_its_code() {
        let v = check(&[b"554 5.7.1 No SMTP service here\r\n", b"", b""]);
        let want = "554 5.7.1 No SMTP service here";
        assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, want.into()));
    }

    #[test]
    fn not_smtp_is_l7rsp() {
        let v = check(&[b"SSH-2.0-OpenSSH_9.2\r\n"]);
        assert_eq!(
            v,
            Verdict::Fail(CheckStatus::L7Rsp, "SSH-2.0-OpenSSH_9.2".into())
        );
        // As HAProxy: a multi-line greeting does not pass the first rule.
        let v = check(&[b"220-mx.example.org\r\n220 ESMTP\r\n"]);
        assert!(matches!(v, Verdict::Fail(CheckStatus::L7Rsp, _)));
    }

    #[test]
    fn a_refused_hello_is_l7sts() {
        let v = check(&[BANNER, b"501 5.5.4 Syntax: EHLO hostname\r\n"]);
        let want = "501 5.5.4 Syntax: EHLO hostname";
        assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, want.into()));
        // A continuation line then a refusal.
        let v = check(&[BANNER, b"250-a\r\n421 closing\r\n"]);
        assert!(matches!(v, Verdict::Fail(CheckStatus::L7Sts, _)));
    }

    #[test]
    fn a_multi_line_reply_waits_for_its_last_line() {
        let hello = Positive(Stage::Hello);
        assert_eq!(hello.judge(b"250-mx\r\n250-PIPE", false), Verdict::More);
        assert_eq!(hello.judge(b"250-mx\r\n25", false), Verdict::More);
        assert_eq!(hello.judge(b"250-mx\r", false), Verdict::More);
        assert!(matches!(hello.judge(EHLO, false), Verdict::Pass(..)));
        assert!(matches!(
            hello.judge(b"250-mx\r\n250-PIPE", true),
            Verdict::Fail(CheckStatus::L7Sts, _)
        ));
    }

    #[test]
    fn a_refused_quit_is_l7sts() {
        let v = check(&[BANNER, EHLO, b"500 what\r\n"]);
        assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, "500 what".into()));
        let v = check(&[BANNER, EHLO, b""]);
        assert!(matches!(v, Verdict::Fail(CheckStatus::L7Rsp, _)));
    }

    #[test]
    fn survives_any_input() {
        let fixtures = [BANNER, EHLO, BYE, b"250-\r\r\n"];
        never_panics(&Banner, &fixtures);
        for stage in [Stage::Banner, Stage::Hello, Stage::Quit] {
            never_panics(&Positive(stage), &fixtures);
        }
    }
}
