//! `option mysql-check [user U [post-41|pre-41|post-80]]`: judges the
//! server's initial handshake packet and, with a user, logs in without a
//! password and quits, passing unless the server answers with an error
//! packet (HAProxy's `*mysql4x-check` rule sets and their custom expects
//! `tcpcheck_mysql_expect_iniths` / `_ok`).

use super::{linger, text};
use crate::backend::CheckStatus;
use crate::health::rules::{Judge, Step, Verdict};

/// A packet header: 3 bytes of length (little-endian), a sequence number.
const HEADER: usize = 4;
/// The first payload byte of an error packet.
const ERR_PACKET: u8 = 0xff;
/// UTF-8, the character set HAProxy announces.
const UTF8_GENERAL_CI: u8 = 0x21;
/// COM_QUIT as its own packet (sequence 0), sent right after the login.
const QUIT: [u8; 5] = [0x01, 0x00, 0x00, 0x00, 0x01];

/// Which client authentication packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Client {
    /// `pre-41`: the old format (capabilities on 2 bytes).
    Pre41,
    /// `post-41`, HAProxy's default with a user: the 4.1 format.
    Post41,
    /// `post-80`: 4.1 with CLIENT_PLUGIN_AUTH, asking for
    /// `mysql_native_password` (MySQL 8 defaults to caching_sha2).
    Post80,
}

impl Client {
    /// The conf's flag: `post41` set (or defaulted, as HAProxy does for
    /// `user U` alone) is the 4.1 format, unset is `pre-41`.
    pub(super) fn from_post41(post41: bool) -> Client {
        if post41 {
            Client::Post41
        } else {
            Client::Pre41
        }
    }
}

pub(super) fn steps(login: Option<(&str, Client)>, steps: &mut Vec<Step>) {
    steps.push(Step::Connect(linger()));
    if let Some((user, client)) = login {
        steps.push(Step::Send(login_and_quit(user, client)));
    }
    let last = login.is_none();
    steps.push(Step::Expect(Box::new(Packet::Handshake { last })));
    if login.is_some() {
        steps.push(Step::Expect(Box::new(Packet::AfterLogin)));
    }
}

/// The client authentication packet (sequence 1, no password, no
/// database) followed by COM_QUIT, HAProxy's bytes.
fn login_and_quit(user: &str, client: Client) -> Vec<u8> {
    let mut auth = Vec::new();
    match client {
        Client::Pre41 => {
            auth.extend_from_slice(&[0x00, 0x80]); // CLIENT_SECURE_CONNECTION
            auth.extend_from_slice(&[0x00, 0x00, 0x01]); // max packet
        }
        Client::Post41 | Client::Post80 => {
            // PROTOCOL_41 | SECURE_CONNECTION (| PLUGIN_AUTH), little-endian.
            let plugin = if client == Client::Post80 { 0x08 } else { 0x00 };
            auth.extend_from_slice(&[0x00, 0x82, plugin, 0x00]);
            auth.extend_from_slice(&[0x00, 0x80, 0x00, 0x01]); // max packet
            auth.push(UTF8_GENERAL_CI);
            auth.extend_from_slice(&[0; 23]);
        }
    }
    auth.extend_from_slice(user.as_bytes());
    auth.push(0);
    auth.push(0); // empty auth response
    if client == Client::Post80 {
        auth.extend_from_slice(b"mysql_native_password\0");
    }
    let len = (auth.len() as u32).to_le_bytes();
    let mut bytes = vec![len[0], len[1], len[2], 1];
    bytes.extend_from_slice(&auth);
    bytes.extend_from_slice(&QUIT);
    bytes
}

/// Which packet of the reply is judged.
#[derive(Debug)]
enum Packet {
    /// The first: the server's handshake. `last` when it is the check's
    /// final rule (no user): its pass shows the server's version.
    Handshake { last: bool },
    /// The one after the handshake: the answer to the login.
    AfterLogin,
}

impl Judge for Packet {
    fn judge(&self, buf: &[u8], last: bool) -> Verdict {
        let offset = match self {
            Packet::Handshake { .. } => 0,
            Packet::AfterLogin => match packet_len(buf, 0) {
                Some(len) => HEADER + len,
                None if last => return truncated(),
                None => return Verdict::More,
            },
        };
        let Some(len) = packet_len(buf, offset) else {
            return if last { truncated() } else { Verdict::More };
        };
        let Some(payload) = buf.get(offset + HEADER..offset + HEADER + len) else {
            return if last { truncated() } else { Verdict::More };
        };
        // HAProxy accepts any packet but an error one, whatever its type.
        if payload.first() == Some(&ERR_PACKET) {
            return Verdict::Fail(CheckStatus::L7Sts, error_text(payload));
        }
        match self {
            Packet::Handshake { last: true } | Packet::AfterLogin => {
                Verdict::Pass(CheckStatus::L7Ok, server_version(buf))
            }
            Packet::Handshake { last: false } => Verdict::Pass(CheckStatus::L7Ok, String::new()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Packet::Handshake { .. } => "MySQL handshake".into(),
            Packet::AfterLogin => "MySQL reply to the login".into(),
        }
    }
}

/// The payload length of the packet at `offset`, once its header is in.
fn packet_len(buf: &[u8], offset: usize) -> Option<usize> {
    match buf.get(offset..offset + HEADER)? {
        [a, b, c, _] => Some(usize::from(*a) | usize::from(*b) << 8 | usize::from(*c) << 16),
        _ => None,
    }
}

fn truncated() -> Verdict {
    Verdict::Fail(
        CheckStatus::L7Rsp,
        "truncated or invalid MySQL packet".into(),
    )
}

/// `errno message` of an error packet: 0xff, the error number (2 bytes,
/// little-endian), then in the 4.1 protocol `#` and a 5-character SQL
/// state, then the message.
fn error_text(payload: &[u8]) -> String {
    let errno = match payload {
        [_, lo, hi, ..] => u16::from_le_bytes([*lo, *hi]),
        _ => return "MySQL error packet".into(),
    };
    let mut message = &payload[3..];
    if message.first() == Some(&b'#') && message.len() >= 6 {
        message = &message[6..];
    }
    format!("{errno} {}", text(message))
}

/// The NUL-terminated version string after the handshake's protocol
/// version byte, as HAProxy shows it.
fn server_version(buf: &[u8]) -> String {
    let payload = packet_len(buf, 0)
        .and_then(|len| buf.get(HEADER + 1..HEADER + len))
        .unwrap_or_default();
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    text(&payload[..end])
}

#[cfg(test)]
#[path = "mysql_tests.rs"]
mod tests;
