//! The text protocols' fakes: Redis (RESP or inline commands), SMTP, and a
//! health agent that answers one line.

use super::{Fake, Mode, line};

/// The whole RESP command (`*N` then `$len` args) or inline line at the
/// start of `buf`, for `take`.
fn resp_len(buf: &[u8]) -> Option<usize> {
    if buf.first() != Some(&b'*') {
        return line(buf);
    }
    let head = line(buf)?;
    let count: usize = std::str::from_utf8(&buf[1..head])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let mut at = head;
    for _ in 0..count {
        let l = line(&buf[at..])?;
        let len: usize = std::str::from_utf8(&buf[at + 1..at + l])
            .ok()?
            .trim()
            .parse()
            .ok()?;
        at += l + len + 2;
        if at > buf.len() {
            return None;
        }
    }
    Some(at)
}

/// The words of a RESP or inline command.
fn resp_args(msg: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(msg);
    if !text.starts_with('*') {
        return text.split_whitespace().map(str::to_string).collect();
    }
    // Every second line after the count is an argument.
    text.split("\r\n")
        .skip(2)
        .step_by(2)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

fn bulk(text: &str) -> Vec<u8> {
    format!("${}\r\n{text}\r\n", text.len()).into_bytes()
}

impl Fake<&'static str> {
    /// A Redis server: PING gets `+PONG` (`-LOADING ...` when wrong), `INFO
    /// [replication]` says `role:<role>` (the knob: "master" or "slave").
    pub(crate) fn redis(role: &'static str) -> Fake<&'static str> {
        Fake::serve(role, |c| {
            while let Some(msg) = c.take(resp_len) {
                let args = resp_args(&msg);
                let cmd = args
                    .first()
                    .map(|a| a.to_ascii_uppercase())
                    .unwrap_or_default();
                let right = match cmd.as_str() {
                    "PING" => b"+PONG\r\n".to_vec(),
                    "INFO" => bulk(&redis_info(c.knob())),
                    "QUIT" => {
                        c.write(b"+OK\r\n");
                        return;
                    }
                    _ => format!("-ERR unknown command '{cmd}'\r\n").into_bytes(),
                };
                if !c.answer(
                    &right,
                    b"-LOADING Redis is loading the dataset in memory\r\n",
                ) {
                    return;
                }
            }
        })
    }
}

fn redis_info(role: &str) -> String {
    let mut info = format!("# Replication\r\nrole:{role}\r\n");
    if role == "slave" {
        info.push_str("master_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\n");
    } else {
        info.push_str("connected_slaves:0\r\n");
    }
    info
}

/// The SMTP fake's knob: the banner's code and the answer to HELO / EHLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Smtp {
    pub banner: u16,
    pub helo: u16,
}

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            banner: 220,
            helo: 250,
        }
    }
}

impl Fake<Smtp> {
    /// An SMTP server: a banner (554 when wrong), HELO gets one line, EHLO
    /// a multi-line 250, QUIT a 221 and the close.
    pub(crate) fn smtp() -> Fake<Smtp> {
        Fake::serve(Smtp::default(), |c| {
            let k = c.knob();
            let banner = format!("{} fake.test ESMTP ready\r\n", k.banner);
            if !c.answer(
                banner.as_bytes(),
                b"554 5.3.2 fake.test no service here\r\n",
            ) || c.mode() == Mode::Wrong
            {
                return;
            }
            while let Some(l) = c.take(line) {
                let text = String::from_utf8_lossy(&l).to_ascii_uppercase();
                let verb = text
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let reply = match (verb.as_str(), c.knob().helo) {
                    ("HELO", code) => format!("{code} fake.test\r\n"),
                    ("EHLO", 250) => {
                        "250-fake.test hello\r\n250-PIPELINING\r\n250 8BITMIME\r\n".into()
                    }
                    ("EHLO", code) => format!("{code} 5.5.4 fake.test refuses you\r\n"),
                    ("QUIT", _) => {
                        c.write(b"221 2.0.0 fake.test bye\r\n");
                        return;
                    }
                    _ => "502 5.5.2 unknown command\r\n".into(),
                };
                if !c.write(reply.as_bytes()) {
                    return;
                }
            }
        })
    }
}

impl Fake<String> {
    /// A health agent: answers the knob's line (`up 75%`, `drain`, `down
    /// #maintenance`...) and a newline (`down #wrong` when wrong), then
    /// records what the checker sends (`agent-send`) until it closes.
    pub(crate) fn agent(reply: &str) -> Fake<String> {
        Fake::serve(reply.to_string(), |c| {
            let right = format!("{}\n", c.knob());
            if c.answer(right.as_bytes(), b"down #wrong\n") {
                c.drain();
            }
        })
    }
}
