//! The binary protocols' fakes: PostgreSQL's startup, MySQL's greeting and
//! authentication, an LDAP bind, and an SSL hello responder (record bytes
//! only, no real TLS).

use super::{Fake, Mode};

/// Which authentication a PostgreSQL fake asks for (its `R` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgAuth {
    /// AuthenticationOk (trust).
    Ok,
    /// AuthenticationMD5Password, with a salt.
    Md5,
    /// AuthenticationSASL (SCRAM-SHA-256).
    Sasl,
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// A startup (or SSLRequest) message: its length is its first 4 bytes.
fn pg_len(buf: &[u8]) -> Option<usize> {
    (buf.len() >= 4 && buf.len() >= be32(buf)).then(|| be32(buf))
}

/// The `user` of a PostgreSQL startup message (what a pgsql-check sent).
pub(crate) fn pg_user(startup: &[u8]) -> Option<String> {
    let fields: Vec<&[u8]> = startup.get(8..)?.split(|&b| b == 0).collect();
    let at = fields.iter().position(|f| *f == b"user")?;
    Some(String::from_utf8_lossy(fields.get(at + 1)?).into_owned())
}

fn pg_auth(auth: PgAuth) -> Vec<u8> {
    let rest: &[u8] = match auth {
        PgAuth::Ok => &[0, 0, 0, 0],
        PgAuth::Md5 => &[0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef],
        PgAuth::Sasl => b"\0\0\0\x0aSCRAM-SHA-256\0\0",
    };
    let mut m = vec![b'R'];
    m.extend_from_slice(&(rest.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(rest);
    m
}

fn pg_error(user: &str) -> Vec<u8> {
    let fields = format!(
        "SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host \"127.0.0.1\", user \"{user}\"\0\0"
    );
    let mut m = vec![b'E'];
    m.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(fields.as_bytes());
    m
}

/// SSLRequest's code, which a server answers with `N` (no TLS here).
const PG_SSL_REQUEST: usize = 80_877_103;

impl Fake<PgAuth> {
    /// A PostgreSQL server: the startup message gets an `R` (the knob's
    /// authentication request), or an `E` FATAL when wrong.
    pub(crate) fn pgsql() -> Fake<PgAuth> {
        Fake::serve(PgAuth::Ok, |c| {
            let startup = loop {
                let Some(m) = c.take(pg_len) else { return };
                if m.len() == 8 && be32(&m[4..]) == PG_SSL_REQUEST {
                    c.write(b"N");
                    continue;
                }
                break m;
            };
            let user = pg_user(&startup).unwrap_or_default();
            if c.answer(&pg_auth(c.knob()), &pg_error(&user)) {
                c.drain();
            }
        })
    }
}

/// How a MySQL fake answers a client's authentication packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MysqlAuth {
    Ok,
    /// ERR 1045, access denied.
    Denied,
}

fn mysql_packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut p = len.to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

fn mysql_len(buf: &[u8]) -> Option<usize> {
    let len =
        4 + (usize::from(*buf.get(2)?) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[0]));
    (buf.len() >= len).then_some(len)
}

/// The server greeting, protocol 10, version `5.7.99-fake`.
fn mysql_greeting() -> Vec<u8> {
    let mut g = vec![10u8];
    g.extend_from_slice(b"5.7.99-fake\0");
    g.extend_from_slice(&7u32.to_le_bytes()); // connection id
    g.extend_from_slice(b"abcdefgh\0"); // auth data part 1, filler
    g.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 21]);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    mysql_packet(0, &g)
}

fn mysql_err(seq: u8, code: u16, state: &str, msg: &str) -> Vec<u8> {
    let mut e = vec![0xff];
    e.extend_from_slice(&code.to_le_bytes());
    e.extend_from_slice(format!("#{state}{msg}").as_bytes());
    mysql_packet(seq, &e)
}

/// The user name of a MySQL client authentication packet (4.1 or older
/// format, as its capability flags say).
pub(crate) fn mysql_user(pkt: &[u8]) -> Option<String> {
    let body = pkt.get(4..)?;
    let caps = u16::from_le_bytes([*body.first()?, *body.get(1)?]);
    let protocol_41 = caps & 0x0200 != 0;
    let at = if protocol_41 { 32 } else { 5 };
    let user = body.get(at..)?.split(|&b| b == 0).next()?;
    Some(String::from_utf8_lossy(user).into_owned())
}

impl Fake<MysqlAuth> {
    /// A MySQL server: a greeting on connect (an error packet, "host not
    /// allowed", when wrong), then an OK or ERR (the knob) to a client's
    /// authentication packet, and the close on COM_QUIT.
    pub(crate) fn mysql() -> Fake<MysqlAuth> {
        Fake::serve(MysqlAuth::Ok, |c| {
            let refused = mysql_err(
                0,
                1130,
                "HY000",
                "Host '127.0.0.1' is not allowed to connect to this MySQL server",
            );
            if !c.answer(&mysql_greeting(), &refused) || c.mode() == Mode::Wrong {
                return;
            }
            while let Some(pkt) = c.take(mysql_len) {
                if pkt[4..] == [1] {
                    return; // COM_QUIT
                }
                if pkt[3] != 1 {
                    continue;
                }
                let user = mysql_user(&pkt).unwrap_or_default();
                let reply = match c.knob() {
                    MysqlAuth::Ok => mysql_packet(2, &[0, 0, 0, 2, 0, 0, 0]),
                    MysqlAuth::Denied => mysql_err(
                        2,
                        1045,
                        "28000",
                        &format!(
                            "Access denied for user '{user}'@'127.0.0.1' (using password: NO)"
                        ),
                    ),
                };
                if !c.write(&reply) {
                    return;
                }
            }
        })
    }
}

/// A whole BER element at the start of `buf` (an LDAPMessage).
fn ber_len(buf: &[u8]) -> Option<usize> {
    let first = *buf.get(1)?;
    if first < 0x80 {
        let len = 2 + usize::from(first);
        return (buf.len() >= len).then_some(len);
    }
    let n = usize::from(first & 0x7f);
    let body = buf
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |a, &b| a << 8 | usize::from(b));
    let len = 2 + n + body;
    (buf.len() >= len).then_some(len)
}

/// A BindResponse to message 1 with this resultCode.
fn ldap_bind_response(code: u8) -> Vec<u8> {
    vec![
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, code, 0x04, 0x00, 0x04, 0x00,
    ]
}

/// LDAP's invalidCredentials.
pub(crate) const LDAP_INVALID_CREDENTIALS: u8 = 49;

impl Fake<()> {
    /// An LDAP server: a bind gets BindResponse success (resultCode 49,
    /// invalidCredentials, when wrong).
    pub(crate) fn ldap() -> Fake<()> {
        Fake::serve((), |c| {
            if c.take(ber_len).is_some()
                && c.answer(
                    &ldap_bind_response(0),
                    &ldap_bind_response(LDAP_INVALID_CREDENTIALS),
                )
            {
                c.drain();
            }
        })
    }

    /// An SSL/TLS hello responder: a ClientHello record gets a ServerHello
    /// record (a plain-text HTTP 400 when wrong). Bytes only, no TLS.
    pub(crate) fn ssl_hello() -> Fake<()> {
        Fake::serve((), |c| {
            let record = |b: &[u8]| {
                let len = 5 + usize::from(u16::from_be_bytes([*b.get(3)?, *b.get(4)?]));
                (b.len() >= len).then_some(len)
            };
            if c.take(record).is_some()
                && c.answer(
                    &server_hello(),
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
                )
            {
                c.drain();
            }
        })
    }
}

/// A TLS record holding a ServerHello (SSLv3, one cipher, no extensions).
fn server_hello() -> Vec<u8> {
    let mut hello = vec![0x03, 0x00];
    hello.extend_from_slice(&[0x42; 32]); // random
    hello.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]); // no session id, cipher, no compression
    let mut hs = vec![0x02, 0x00, 0x00, hello.len() as u8];
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x00, 0x00, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}
