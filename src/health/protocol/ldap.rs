//! `option ldap-check`: an anonymous simple bind, passing only on a
//! BindResponse with resultCode success (HAProxy's `*ldap-check` rule set
//! and `tcpcheck_ldap_expect_bindrsp`).

use crate::backend::CheckStatus;
use crate::config::ConnectRule;
use crate::health::rules::{Judge, Step, Verdict};

/// LDAPMessage { messageID 1, BindRequest { version 3, name "", simple
/// "" } }, HAProxy's bytes.
const BIND_REQUEST: [u8; 14] = [
    0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
];
/// HAProxy's `min-recv 14`: the shortest BindResponse.
const MIN_RESPONSE: usize = 14;
const SEQUENCE: u8 = 0x30;
/// messageID INTEGER 1, then the BindResponse tag.
const ID_1_BIND_RESPONSE: [u8; 4] = [0x02, 0x01, 0x01, 0x61];
/// resultCode: ENUMERATED of one byte.
const RESULT_CODE: [u8; 2] = [0x0a, 0x01];
const NOT_LDAP: &str = "Not LDAPv3 protocol";

pub(super) fn steps(steps: &mut Vec<Step>) {
    steps.push(Step::Connect(ConnectRule::implicit()));
    steps.push(Step::Send(BIND_REQUEST.to_vec()));
    steps.push(Step::Expect(Box::new(Sequence)));
    steps.push(Step::Expect(Box::new(BindResponse)));
}

/// The reply must start as a BER SEQUENCE.
#[derive(Debug)]
struct Sequence;

impl Judge for Sequence {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if buf.len() < MIN_RESPONSE && !last {
            return Verdict::More;
        }
        match buf.first() {
            Some(&SEQUENCE) => Verdict::Pass(CheckStatus::L7Ok, String::new()),
            Some(_) => Verdict::Fail(CheckStatus::L7Rsp, NOT_LDAP.into()),
            None => Verdict::Fail(CheckStatus::L7Rsp, "empty response".into()),
        }
    }

    fn describe(&self) -> String {
        "LDAP message".into()
    }
}

/// The BindResponse's resultCode: 0 passes, any other is L7STS.
#[derive(Debug)]
struct BindResponse;

/// Why a BindResponse could not be read.
enum Bad {
    /// More bytes are needed.
    Short,
    /// Not an LDAPv3 BindResponse.
    NotLdap,
}

impl Judge for BindResponse {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        match result_code(buf) {
            Ok(0) => Verdict::Pass(CheckStatus::L7Ok, "Success".into()),
            Ok(code) => Verdict::Fail(
                CheckStatus::L7Sts,
                format!(
                    "resultCode {code} ({}), see RFC 4511 section 4.1.9",
                    code_name(code)
                ),
            ),
            Err(Bad::Short) if !last => Verdict::More,
            Err(Bad::Short) => Verdict::Fail(CheckStatus::L7Rsp, "truncated LDAP reply".into()),
            Err(Bad::NotLdap) => Verdict::Fail(CheckStatus::L7Rsp, NOT_LDAP.into()),
        }
    }

    fn describe(&self) -> String {
        "LDAP BindResponse".into()
    }
}

/// Reads SEQUENCE length, messageID 1, BindResponse length, resultCode.
fn result_code(buf: &[u8]) -> Result<u8, Bad> {
    let rest = buf.get(1..).ok_or(Bad::Short)?; // the SEQUENCE tag, matched before
    let (len, rest) = ber_length(rest)?;
    if rest.len() < len {
        return Err(Bad::Short);
    }
    let (id, rest) = rest
        .split_at_checked(ID_1_BIND_RESPONSE.len())
        .ok_or(Bad::Short)?;
    if id != ID_1_BIND_RESPONSE {
        return Err(Bad::NotLdap);
    }
    let (_, rest) = ber_length(rest)?;
    match rest {
        [0x0a, 0x01, code, ..] => Ok(*code),
        [a, b, _, ..] if [*a, *b] != RESULT_CODE => Err(Bad::NotLdap),
        _ => Err(Bad::Short),
    }
}

/// A BER length: one byte under 0x80, or 0x8n and n big-endian bytes.
/// HAProxy reads the long form on 2 or 4 bytes only (Active Directory
/// uses 4); 1 to 4 are read here.
fn ber_length(buf: &[u8]) -> Result<(usize, &[u8]), Bad> {
    let (&first, rest) = buf.split_first().ok_or(Bad::Short)?;
    if first & 0x80 == 0 {
        return Ok((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7f);
    if !(1..=4).contains(&n) {
        return Err(Bad::NotLdap);
    }
    let (bytes, rest) = rest.split_at_checked(n).ok_or(Bad::Short)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    Ok((len, rest))
}

/// RFC 4511's names of the codes a bind gets.
fn code_name(code: u8) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        80 => "other",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{never_panics, run, sends};
    use super::*;

    /// slapd 2.5's answer to an anonymous bind, as captured.
    const SLAPD_OK: &[u8] = &[
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    /// Active Directory's style: lengths in the 4-byte long form.
    const AD_OK: &[u8] = &[
        0x30, 0x84, 0x00, 0x00, 0x00, 0x10, 0x02, 0x01, 0x01, 0x61, 0x84, 0x00, 0x00, 0x00, 0x07,
        0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    /// slapd with `disallow bind_anon`, as captured: inappropriateAuthentication.
    const REFUSED: &[u8] = b"0%\x02\x01\x01a \n\x010\x04\x00\x04\x19anonymous bind disallowed";

    fn check(reply: &[u8]) -> Verdict {
        let mut s = Vec::new();
        steps(&mut s);
        run(&s, &[b"", reply])
    }

    #[test]
    fn sends_an_anonymous_bind() {
        let mut s = Vec::new();
        steps(&mut s);
        assert_eq!(sends(&s), [&BIND_REQUEST[..]]);
    }

    #[test]
    fn success_passes_short_and_long_forms() {
        let ok = Verdict::Pass(CheckStatus::L7Ok, "Success".into());
        assert_eq!(check(SLAPD_OK), ok);
        assert_eq!(check(AD_OK), ok);
        let mut two = vec![0x30, 0x82, 0x00, 0x0c];
        two.extend_from_slice(&SLAPD_OK[2..]);
        assert_eq!(check(&two), ok);
    }

    #[test]
    fn another_result_code_is_l7sts() {
        let v = check(REFUSED);
        let want = "resultCode 48 (inappropriateAuthentication), see RFC 4511 section 4.1.9";
        assert_eq!(v, Verdict::Fail(CheckStatus::L7Sts, want.into()));
    }

    #[test]
    fn not_ldap_is_l7rsp() {
        let not = Verdict::Fail(CheckStatus::L7Rsp, NOT_LDAP.into());
        assert_eq!(check(b"HTTP/1.1 400 Bad Request\r\n\r\n"), not);
        // A SEQUENCE with another message ID, or another operation.
        let mut other = SLAPD_OK.to_vec();
        other[4] = 2;
        assert_eq!(check(&other), not);
        let mut search = SLAPD_OK.to_vec();
        search[5] = 0x65;
        assert_eq!(check(&search), not);
        let mut result = SLAPD_OK.to_vec();
        result[7] = 0x02;
        assert_eq!(check(&result), not);
        // A long form of 5 bytes or an indefinite length.
        assert_eq!(
            check(&[0x30, 0x85, 0, 0, 0, 0, 1, 2, 1, 1, 0x61, 7, 0xa, 1]),
            not
        );
        assert_eq!(
            check(&[0x30, 0x80, 2, 1, 1, 0x61, 7, 0xa, 1, 0, 4, 0, 4, 0]),
            not
        );
    }

    #[test]
    fn truncated_waits_then_fails() {
        assert_eq!(
            check(&SLAPD_OK[..9]),
            Verdict::Fail(CheckStatus::L7Rsp, "truncated LDAP reply".into())
        );
        assert_eq!(BindResponse.judge(&AD_OK[..12], false), Verdict::More);
        assert_eq!(Sequence.judge(&SLAPD_OK[..13], false), Verdict::More);
        // A length larger than what came: wait, then fail.
        let huge = [
            0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 2, 1, 1, 0x61, 7, 0xa, 1, 0,
        ];
        assert_eq!(BindResponse.judge(&huge, false), Verdict::More);
        assert!(matches!(
            BindResponse.judge(&huge, true),
            Verdict::Fail(CheckStatus::L7Rsp, _)
        ));
    }

    #[test]
    fn survives_any_input() {
        let fixtures = [SLAPD_OK, AD_OK, REFUSED, &[0x30, 0x81][..]];
        never_panics(&Sequence, &fixtures);
        never_panics(&BindResponse, &fixtures);
    }
}
