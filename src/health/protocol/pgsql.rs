//! `option pgsql-check user U`: a protocol 3.0 startup message, passing
//! when the server asks for authentication (or grants it), failing with
//! the server's error otherwise (HAProxy's `*pgsql-check` rule set).

use super::{first_line, linger, text};
use crate::backend::CheckStatus;
use crate::health::rules::{Judge, Step, Verdict};

/// Protocol version 3.0.
const VERSION_3: [u8; 4] = [0x00, 0x03, 0x00, 0x00];
/// HAProxy's `min-recv`: a message type and length; and an Authentication
/// message with its type.
const HEADER: usize = 5;
const AUTH_MESSAGE: usize = 9;
/// The authentication requests that pass (HAProxy's list): Ok, cleartext,
/// crypt, MD5, SCM credential, GSS, SSPI, SASL.
const AUTH_TYPES: [u8; 9] = [0, 2, 3, 4, 5, 6, 7, 9, 10];

pub(super) fn steps(user: &str, steps: &mut Vec<Step>) {
    steps.push(Step::Connect(linger()));
    steps.push(Step::Send(startup(user)));
    steps.push(Step::Expect(Box::new(NoError)));
    steps.push(Step::Expect(Box::new(AuthRequest)));
}

/// StartupMessage with the one parameter HAProxy sends, `user` (the
/// database defaults to the user's name, server side).
fn startup(user: &str) -> Vec<u8> {
    let mut body = VERSION_3.to_vec();
    body.extend_from_slice(b"user\0");
    body.extend_from_slice(user.as_bytes());
    body.extend_from_slice(&[0, 0]);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// An ErrorResponse ('E') fails with L7RSP and the server's message.
#[derive(Debug)]
struct NoError;

impl Judge for NoError {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if buf.len() < HEADER && !last {
            return Verdict::More;
        }
        match buf.first() {
            Some(b'E') => Verdict::Fail(CheckStatus::L7Rsp, error_message(buf)),
            // A server that closed without a byte: HAProxy's first rule
            // fails there (L7RSP), not the next one.
            None => Verdict::Fail(CheckStatus::L7Rsp, "empty response".into()),
            _ => Verdict::Pass(CheckStatus::L7Ok, String::new()),
        }
    }

    fn describe(&self) -> String {
        "PostgreSQL reply".into()
    }
}

/// An AuthenticationRequest of a known type: L7OK, else L7STS.
#[derive(Debug)]
struct AuthRequest;

impl Judge for AuthRequest {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if buf.len() < AUTH_MESSAGE && !last {
            return Verdict::More;
        }
        // 'R', a length under 256 (HAProxy's pattern only lets its last
        // byte vary), then the 32-bit authentication type.
        match buf {
            [b'R', 0, 0, 0, _, 0, 0, 0, kind, ..] if AUTH_TYPES.contains(kind) => {
                Verdict::Pass(CheckStatus::L7Ok, "PostgreSQL server is ok".into())
            }
            _ => Verdict::Fail(CheckStatus::L7Sts, "PostgreSQL unknown error".into()),
        }
    }

    fn describe(&self) -> String {
        "PostgreSQL authentication request".into()
    }
}

/// `SEVERITY: message` from an ErrorResponse's fields (each a type byte
/// and a NUL-terminated string), or the raw text after the first field's
/// type (HAProxy's `res.payload(6,0)`) if they cannot be read.
fn error_message(buf: &[u8]) -> String {
    let mut fields = buf.get(HEADER..).unwrap_or_default();
    let (mut severity, mut message) = (None, None);
    while let [kind, rest @ ..] = fields {
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            break;
        };
        match kind {
            b'S' => severity = Some(&rest[..end]),
            b'M' => message = Some(&rest[..end]),
            0 => break,
            _ => {}
        }
        fields = &rest[end + 1..];
    }
    match (severity, message) {
        (Some(s), Some(m)) => format!("{}: {}", text(s), text(m)),
        (None, Some(m)) => text(m),
        _ => first_line(buf.get(HEADER + 1..).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{never_panics, run, sends};
    use super::*;

    fn check(reply: &[u8]) -> Verdict {
        let mut s = Vec::new();
        steps("haproxy", &mut s);
        run(&s, &[b"", reply])
    }

    /// PostgreSQL 15's answers, as captured: a host not in pg_hba.conf;
    /// trust authentication (then a missing database, which HAProxy does
    /// not read); a SCRAM challenge.
    const NO_HBA: &[u8] = b"E\x00\x00\x00\x99SFATAL\x00VFATAL\x00C28000\x00Mno pg_hba.conf entry \
        for host \"127.0.0.1\", user \"nosuch\", database \"nosuch\", no encryption\x00Fauth.c\x00\
        L544\x00RClientAuthentication\x00\x00";
    const TRUST: &[u8] =
        b"R\x00\x00\x00\x08\x00\x00\x00\x00E\x00\x00\x00[SFATAL\x00VFATAL\x00C3D000\x00\
        Mdatabase \"pguser\" does not exist\x00Fpostinit.c\x00L948\x00RInitPostgres\x00\x00";
    const SCRAM: &[u8] = b"R\x00\x00\x00\x17\x00\x00\x00\nSCRAM-SHA-256\x00\x00";

    #[test]
    fn startup_is_haproxys_bytes() {
        let mut s = Vec::new();
        steps("haproxy", &mut s);
        assert!(matches!(&s[0], Step::Connect(c) if c.linger));
        let want = b"\x00\x00\x00\x16\x00\x03\x00\x00user\0haproxy\0\0";
        assert_eq!(sends(&s), [&want[..]]);
        assert_eq!(want.len(), 15 + "haproxy".len());
    }

    #[test]
    fn authentication_requests_pass() {
        let ok = Verdict::Pass(CheckStatus::L7Ok, "PostgreSQL server is ok".into());
        // AuthenticationOk (trust), MD5 with its salt, SASL.
        assert_eq!(check(TRUST), ok);
        assert_eq!(check(b"R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04"), ok);
        assert_eq!(check(SCRAM), ok);
    }

    #[test]
    fn an_error_fails_with_the_servers_message() {
        let want = "FATAL: no pg_hba.conf entry for host \"127.0.0.1\", user \"nosuch\", \
            database \"nosuch\", no encryption";
        assert_eq!(
            check(NO_HBA),
            Verdict::Fail(CheckStatus::L7Rsp, want.into())
        );
    }

    #[test]
    fn other_replies_are_l7sts() {
        let unknown = Verdict::Fail(CheckStatus::L7Sts, "PostgreSQL unknown error".into());
        // GSS continue is not in HAProxy's list; nor a huge length; nor
        // an SSL refusal 'N'; nor garbage.
        assert_eq!(check(b"R\0\0\0\x08\0\0\0\x08"), unknown);
        assert_eq!(check(b"R\0\0\x01\x08\0\0\0\x00"), unknown);
        assert_eq!(check(b"N"), unknown);
        assert_eq!(check(b"HTTP/1.1 400 Bad Request\r\n"), unknown);
        let empty = Verdict::Fail(CheckStatus::L7Rsp, "empty response".into());
        assert_eq!(
            check(b""),
            empty,
            "a close before any byte fails the first rule"
        );
    }

    #[test]
    fn truncated_waits_then_fails() {
        assert_eq!(AuthRequest.judge(b"R\0\0\0\x08\0\0", false), Verdict::More);
        assert_eq!(NoError.judge(b"E\0", false), Verdict::More);
        assert!(matches!(
            NoError.judge(b"E\0", true),
            Verdict::Fail(CheckStatus::L7Rsp, _)
        ));
    }

    #[test]
    fn survives_any_input() {
        let fixtures = [NO_HBA, TRUST, SCRAM, b"E\0\0\0\x05S"];
        never_panics(&NoError, &fixtures);
        never_panics(&AuthRequest, &fixtures);
    }
}
