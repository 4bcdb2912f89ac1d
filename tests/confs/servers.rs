//! The loopback servers a `start` file's `@BE_name@` ports get, by the
//! behaviour its `l4lb-server` marks give them (echo by default): each
//! answers the health check its file runs as the real server would, and a
//! server that carries traffic echoes what is not part of that conversation.
//!
//! The traffic client (tests/confs.rs) reads the protocol's greeting if the
//! server speaks first ([`read_greeting`]), then speaks: a protocol server
//! answers the first bytes that are not its check's conversation with its
//! name line, then echoes them and everything after (a plain `echo` server
//! writes its name at accept; the client reads the same bytes either way).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::common::Backend;
use crate::http;
use crate::marks::{Agent, Behaviour, Greeting};

/// Starts what `behaviour` asks for on `port` (reserved by `free_port`);
/// `None` for a server that is down (nothing listens: connects are refused).
pub(crate) fn start(name: &str, port: u16, behaviour: Behaviour) -> Option<Backend> {
    // Backends keep their name for the life of the test process.
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let speak = |greeting: Vec<u8>, answer: Answer| {
        Backend::start_at(port, protocol(name, greeting, answer))
    };
    Some(match behaviour {
        Behaviour::Echo => Backend::named_at(name, port),
        Behaviour::Down => return None,
        Behaviour::RedisMaster => speak(Vec::new(), redis_master),
        Behaviour::RedisReplica => speak(Vec::new(), redis_replica),
        Behaviour::Mysql => speak(mysql_greeting(name), mysql),
        Behaviour::Smtp => speak(format!("220 {name} ESMTP\r\n").into_bytes(), smtp),
        Behaviour::Ldap => speak(Vec::new(), ldap),
        Behaviour::Agent(word) => Backend::start_at(port, agent(word)),
        Behaviour::Http(answer) => Backend::start_at(port, http::plain(answer)),
        Behaviour::TlsHttp(answer) => Backend::start_at(port, http::tls_or_echo(name, answer)),
    })
}

/// Reads what a server of `behaviour` sends before the client speaks.
pub(crate) fn read_greeting(s: &mut TcpStream, behaviour: Behaviour) -> io::Result<()> {
    match behaviour.greeting() {
        Greeting::None => Ok(()),
        Greeting::Line => crate::common::read_line(s).map(drop),
        Greeting::MysqlPacket => {
            let mut header = [0u8; 4];
            s.read_exact(&mut header)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]);
            s.read_exact(&mut vec![0u8; len as usize])
        }
    }
}

/// A protocol server's reply to bytes of its check's conversation.
struct Reply {
    bytes: Vec<u8>,
    close: bool,
}

impl Reply {
    fn more(bytes: &[u8]) -> Option<Reply> {
        Some(Reply {
            bytes: bytes.to_vec(),
            close: false,
        })
    }

    fn last(bytes: &[u8]) -> Option<Reply> {
        Some(Reply {
            bytes: bytes.to_vec(),
            close: true,
        })
    }
}

/// Answers one read of the client's bytes; `None`: not the protocol (echo).
type Answer = fn(&[u8]) -> Option<Reply>;

/// Writes `greeting` on accept, answers the check's conversation through
/// `answer`; the first read it does not know starts the echo, after the
/// name line.
fn protocol(
    name: &'static str,
    greeting: Vec<u8>,
    answer: Answer,
) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        if s.write_all(&greeting).is_err() {
            return;
        }
        let mut buf = vec![0u8; 65536];
        let mut echoing = false;
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            match (echoing, answer(chunk)) {
                (false, Some(reply)) => {
                    if s.write_all(&reply.bytes).is_err() || reply.close {
                        return;
                    }
                    continue;
                }
                (false, None) => {
                    echoing = true;
                    if s.write_all(format!("{name}\n").as_bytes()).is_err() {
                        return;
                    }
                }
                (true, _) => {}
            }
            if s.write_all(chunk).is_err() {
                return;
            }
        }
    }
}

/// A Redis master as `option redis-check` (RESP `PING`) and the tcp-check
/// conversation of HAProxy's Redis blog post (inline `PING`, `info
/// replication`, `QUIT`) see it.
fn redis_master(chunk: &[u8]) -> Option<Reply> {
    redis(chunk, "master")
}

/// A replica: `role:slave`, then it hangs up, so a check that wants the
/// master fails at once rather than at `timeout check`.
fn redis_replica(chunk: &[u8]) -> Option<Reply> {
    redis(chunk, "slave")
}

fn redis(chunk: &[u8], role: &str) -> Option<Reply> {
    if chunk == b"PING\r\n" || chunk == b"*1\r\n$4\r\nPING\r\n" {
        Reply::more(b"+PONG\r\n")
    } else if chunk == b"info replication\r\n" {
        let reply = format!("# Replication\r\nrole:{role}\r\n").into_bytes();
        Some(Reply {
            bytes: reply,
            close: role != "master",
        })
    } else if chunk == b"QUIT\r\n" {
        Reply::last(b"+OK\r\n")
    } else {
        None
    }
}

/// A MySQL 5.7 server's protocol-10 handshake, its version naming it.
fn mysql_greeting(name: &str) -> Vec<u8> {
    let mut p = vec![10u8];
    p.extend_from_slice(format!("5.7.44-{name}\0").as_bytes());
    p.extend_from_slice(&[7, 0, 0, 0]); // connection id
    p.extend_from_slice(b"abcdefgh\0"); // auth data, part 1, and a filler
    p.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81]); // caps, charset, status
    p.push(21); // auth data length
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    let len = (p.len() as u32).to_le_bytes();
    let mut packet = vec![len[0], len[1], len[2], 0];
    packet.extend_from_slice(&p);
    packet
}

/// `option mysql-check user NAME` sends its login (sequence 1) and
/// COM_QUIT in one write: an OK packet to the login, a close on QUIT.
/// Anything that is not exactly such packets is traffic.
fn mysql(chunk: &[u8]) -> Option<Reply> {
    const OK: [u8; 11] = [7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0];
    let (mut rest, mut reply) = (chunk, Vec::new());
    while !rest.is_empty() {
        let [a, b, c, seq, ..] = *rest else {
            return None;
        };
        let len = usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16;
        let payload = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        match (seq, payload) {
            (0, [0x01]) => return Reply::last(&reply),
            (1, _) => reply.extend_from_slice(&OK),
            _ => return None,
        }
    }
    Reply::more(&reply)
}

/// Postfix as `option smtpchk` sees it (the banner is the greeting).
fn smtp(chunk: &[u8]) -> Option<Reply> {
    let verb = chunk.get(..4)?.to_ascii_uppercase();
    match &verb[..] {
        b"HELO" | b"EHLO" if chunk.ends_with(b"\r\n") => Reply::more(b"250 mx.example.org\r\n"),
        b"QUIT" if chunk == b"QUIT\r\n" => Reply::last(b"221 2.0.0 Bye\r\n"),
        _ => None,
    }
}

/// An LDAP server answering `option ldap-check`'s anonymous simple bind
/// (message 1) with a successful BindResponse.
fn ldap(chunk: &[u8]) -> Option<Reply> {
    const SUCCESS: [u8; 14] = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    match chunk {
        [0x30, len, 0x02, 0x01, 0x01, 0x60, ..] if usize::from(*len) + 2 == chunk.len() => {
            Reply::more(&SUCCESS)
        }
        _ => None,
    }
}

/// An agent (agent-check) answering one line on each connection.
fn agent(word: Agent) -> impl Fn(TcpStream) + Send + Sync + 'static {
    move |mut s: TcpStream| {
        let line: &[u8] = match word {
            Agent::Up => b"up 100%\n",
            Agent::Drain => b"drain\n",
            Agent::Down => b"down\n",
        };
        if s.write_all(line).is_ok() {
            let _ = s.shutdown(Shutdown::Write);
            drain(&mut s);
        }
    }
}

/// Reads until the client closes (bounded), so closing never resets away
/// what was written.
pub(crate) fn drain(s: &mut impl Read) {
    let mut sink = [0u8; 4096];
    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_answers_the_login_and_quit_only() {
        let login = [4, 0, 0, 1, 0, 0x82, 0, 0];
        let quit = [1, 0, 0, 0, 1];
        let both = [&login[..], &quit[..]].concat();
        let r = mysql(&both).unwrap();
        assert!(r.close);
        assert_eq!(r.bytes[3], 2, "the OK packet is sequence 2");
        assert!(mysql(b"ping\n").is_none());
        assert!(mysql(&login[..6]).is_none());
        let g = mysql_greeting("db1");
        assert_eq!(usize::from(g[0]) + 4, g.len());
        assert_eq!(g[4], 10);
    }

    #[test]
    fn smtp_and_ldap_know_their_checks_only() {
        assert!(smtp(b"HELO lb.example.org\r\n").is_some());
        assert!(smtp(b"QUIT\r\n").unwrap().close);
        assert!(smtp(b"ping\n").is_none());
        let bind = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        assert!(ldap(&bind).is_some());
        assert!(ldap(&bind[..10]).is_none());
        assert!(redis_master(b"*1\r\n$4\r\nPING\r\n").is_some());
        assert!(redis_replica(b"info replication\r\n").unwrap().close);
    }
}
