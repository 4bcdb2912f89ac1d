//! `option ssl-hello-chk`: an SSLv3 ClientHello, passing when the server
//! answers with a TLS record (HAProxy's `*ssl-hello-check` rule set:
//! `rbinary ^1[56]` after at least 5 bytes, L6OK / L6RSP).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::CheckStatus;
use crate::config::ConnectRule;
use crate::health::rules::{Judge, Step, Verdict};

/// Record content types that prove the server speaks SSL/TLS.
const ALERT: u8 = 0x15;
const HANDSHAKE: u8 = 0x16;
/// HAProxy's `min-recv 5`: a record header.
const RECORD_HEADER: usize = 5;

pub(super) fn steps(steps: &mut Vec<Step>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    steps.push(Step::Connect(ConnectRule::implicit()));
    steps.push(Step::Send(client_hello(now as u32)));
    steps.push(Step::Expect(Box::new(ServerRecord)));
}

/// HAProxy's ClientHello (RFC 2246 A.3, A.4): SSLv3 record and hello
/// versions, `gmt_unix_time` then a fixed 28-byte "random", no session,
/// 39 common RSA/DH ciphers (0x0001-0x001B, 0x002F-0x003A), NULL
/// compression.
fn client_hello(gmt_unix_time: u32) -> Vec<u8> {
    let ciphers: Vec<u16> = (0x0001..=0x001B).chain(0x002F..=0x003A).collect();
    let mut body = vec![0x03, 0x00]; // client_version SSLv3
    body.extend_from_slice(&gmt_unix_time.to_be_bytes());
    body.extend_from_slice(b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n");
    body.push(0); // session_id: empty
    body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // one compression method: NULL
    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![HANDSHAKE, 0x03, 0x00];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A handshake or alert record: the server speaks SSL, even if it refuses
/// this hello (HAProxy checks the first byte only).
#[derive(Debug)]
struct ServerRecord;

impl Judge for ServerRecord {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        if buf.len() < RECORD_HEADER && !last {
            return Verdict::More;
        }
        match buf.first() {
            Some(&(ALERT | HANDSHAKE)) => {
                Verdict::Pass(CheckStatus::L6Ok, "Layer6 check passed".into())
            }
            Some(b) => Verdict::Fail(
                CheckStatus::L6Rsp,
                format!("not an SSL/TLS record (first byte {b:#04x})"),
            ),
            None => Verdict::Fail(CheckStatus::L6Rsp, "empty response".into()),
        }
    }

    fn describe(&self) -> String {
        "SSL/TLS record".into()
    }

    /// An SSL hello that gets no answer is a layer 6 timeout.
    fn timeout_status(&self) -> CheckStatus {
        CheckStatus::L6Tout
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::never_panics;
    use super::*;

    /// HAProxy's hex template with the time 0x5F5E1000 filled in.
    const HAPROXY_HELLO: &str = "16030000790100007503005F5E1000\
        484150524F585953534C43484B0A484150524F585953534C43484B0A00004E\
        0001000200030004000500060007000800090\
        00A000B000C000D000E000F001000110012001300140015001600170018\
        0019001A001B002F00300031003200330034003500360037003800390\
        03A0100";

    #[test]
    fn client_hello_is_haproxys_byte_for_byte() {
        let hex: String = client_hello(0x5F5E_1000)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert_eq!(hex, HAPROXY_HELLO.replace(char::is_whitespace, ""));
        assert_eq!(client_hello(0).len(), 5 + 0x79);
    }

    #[test]
    fn handshake_or_alert_passes() {
        let server_hello = [0x16, 0x03, 0x03, 0x00, 0x5d, 0x02, 0x00];
        assert!(matches!(
            ServerRecord.judge(&server_hello, false),
            Verdict::Pass(CheckStatus::L6Ok, _)
        ));
        // OpenSSL 3's s_server refusing this hello, as captured: a fatal
        // handshake_failure alert. The server speaks TLS: HAProxy passes.
        let alert = [0x15, 0x03, 0x00, 0x00, 0x02, 0x02, 0x28];
        assert!(matches!(
            ServerRecord.judge(&alert, false),
            Verdict::Pass(CheckStatus::L6Ok, _)
        ));
    }

    #[test]
    fn waits_for_a_record_header() {
        assert_eq!(ServerRecord.judge(&[0x16, 0x03], false), Verdict::More);
        // Closed early: judged on what came, as HAProxy.
        assert!(matches!(
            ServerRecord.judge(&[0x16, 0x03], true),
            Verdict::Pass(CheckStatus::L6Ok, _)
        ));
    }

    #[test]
    fn anything_else_is_l6rsp() {
        for reply in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"SSH-2.0-OpenSSH\r\n",
            b"",
        ] {
            assert!(matches!(
                ServerRecord.judge(reply, true),
                Verdict::Fail(CheckStatus::L6Rsp, _)
            ));
        }
    }

    #[test]
    fn survives_any_input() {
        never_panics(&ServerRecord, &[&[0x16, 3, 3, 0, 1, 2], b"garbage"]);
    }
}
