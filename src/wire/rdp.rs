//! The RDP cookie (`req.rdp_cookie([NAME])`, `req.rdp_cookie_cnt`, `balance
//! rdp-cookie`): the `Cookie: mstshash=NAME\r\n` line a Microsoft RDP client
//! puts in its X.224 Connection Request, read from the client's first bytes
//! as HAProxy's `fetch_rdp_cookie_name` reads it.
//!
//! The line starts after the 4-byte TPKT header and the 7 fixed bytes of the
//! X.224 CR TPDU, which are skipped unchecked, as HAProxy. `Cookie:` and the
//! cookie's name match without case; spaces after the colon are skipped; the
//! value runs to a CR, which must be followed by LF. Bytes past `buf` are never
//! read, nothing is allocated, and more bytes never change a decision.

/// Where the cookie line starts: TPKT (4) + X.224 CR fixed part (7).
const COOKIE_AT: usize = 11;
const COOKIE: &[u8] = b"Cookie:";

/// What the client's first bytes say about the cookie.
#[derive(Debug, PartialEq, Eq)]
pub enum Cookie<'a> {
    /// More bytes could still bring the cookie.
    Incomplete,
    /// No such cookie (`req.rdp_cookie_cnt` 0).
    Absent,
    /// The cookie, its name and value as the client wrote them.
    Found { name: &'a [u8], value: &'a [u8] },
}

/// The cookie named `name` (any name when `None` or empty) in `buf`.
pub fn rdp_cookie<'a>(buf: &'a [u8], name: Option<&[u8]>) -> Cookie<'a> {
    match read(buf, name.unwrap_or_default()) {
        Ok(found) => found,
        Err(Stop::Need) => Cookie::Incomplete,
        Err(Stop::Absent) => Cookie::Absent,
    }
}

enum Stop {
    Need,
    Absent,
}

fn read<'a>(buf: &'a [u8], wanted: &[u8]) -> Result<Cookie<'a>, Stop> {
    let rest = buf.get(COOKIE_AT..).ok_or(Stop::Need)?;
    let seen = rest.len().min(COOKIE.len());
    if !rest[..seen].eq_ignore_ascii_case(&COOKIE[..seen]) {
        return Err(Stop::Absent);
    }
    if seen < COOKIE.len() {
        return Err(Stop::Need);
    }
    let mut at = COOKIE_AT + COOKIE.len();
    while buf.get(at) == Some(&b' ') {
        at += 1;
    }
    let name_at = at;
    let name = if wanted.is_empty() {
        let eq = buf[at..]
            .iter()
            .position(|&b| matches!(b, b'=' | b'\r' | b'\n'))
            .ok_or(Stop::Need)?;
        if buf[at + eq] != b'=' {
            return Err(Stop::Absent);
        }
        &buf[name_at..at + eq]
    } else {
        let have = &buf[at..];
        let seen = have.len().min(wanted.len());
        if !have[..seen].eq_ignore_ascii_case(&wanted[..seen]) {
            return Err(Stop::Absent);
        }
        match have.get(wanted.len()) {
            None => return Err(Stop::Need),
            Some(b'=') => &buf[name_at..at + wanted.len()],
            Some(_) => return Err(Stop::Absent),
        }
    };
    at = name_at + name.len() + 1;
    let cr = buf[at..]
        .iter()
        .position(|&b| b == b'\r')
        .ok_or(Stop::Need)?;
    match buf.get(at + cr + 1) {
        None => Err(Stop::Need),
        Some(b'\n') => Ok(Cookie::Found {
            name,
            value: &buf[at..at + cr],
        }),
        Some(_) => Err(Stop::Absent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An X.224 Connection Request as mstsc sends it: TPKT, CR TPDU, the
    /// cookie line, then an RDP Negotiation Request.
    fn request(line: &[u8]) -> Vec<u8> {
        let len = 4 + 7 + line.len() + 8;
        let mut buf = vec![3, 0, (len >> 8) as u8, len as u8];
        buf.extend([(len - 5) as u8, 0xe0, 0, 0, 0, 0, 0]);
        buf.extend(line);
        buf.extend([1, 0, 8, 0, 3, 0, 0, 0]);
        buf
    }

    fn found<'a>(name: &'a [u8], value: &'a [u8]) -> Cookie<'a> {
        Cookie::Found { name, value }
    }

    #[test]
    fn mstshash_is_found_by_name_or_as_any_cookie() {
        let buf = request(b"Cookie: mstshash=ALICE\r\n");
        assert_eq!(
            rdp_cookie(&buf, Some(b"mstshash")),
            found(b"mstshash", b"ALICE")
        );
        assert_eq!(
            rdp_cookie(&buf, Some(b"MSTSHASH")),
            found(b"mstshash", b"ALICE")
        );
        assert_eq!(rdp_cookie(&buf, None), found(b"mstshash", b"ALICE"));
        assert_eq!(rdp_cookie(&buf, Some(b"")), found(b"mstshash", b"ALICE"));
        assert_eq!(rdp_cookie(&buf, Some(b"msts")), Cookie::Absent);
        assert_eq!(rdp_cookie(&buf, Some(b"other")), Cookie::Absent);
    }

    #[test]
    fn case_and_spaces_as_haproxy() {
        let buf = request(b"COOKIE:   msts=x y\r\n");
        assert_eq!(rdp_cookie(&buf, Some(b"msts")), found(b"msts", b"x y"));
        let buf = request(b"Cookie:msts=\r\n");
        assert_eq!(rdp_cookie(&buf, None), found(b"msts", b""));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let buf = request(b"Cookie: mstshash=ALICE\r\n");
        let end = 11 + 24;
        for n in 0..end {
            assert_eq!(
                rdp_cookie(&buf[..n], Some(b"mstshash")),
                Cookie::Incomplete,
                "{n}"
            );
            assert_eq!(rdp_cookie(&buf[..n], None), Cookie::Incomplete, "{n}");
        }
        assert_eq!(rdp_cookie(&buf[..end], None), found(b"mstshash", b"ALICE"));
    }

    #[test]
    fn no_cookie_is_absent_as_soon_as_it_shows() {
        // A Connection Request without a cookie (the negotiation request
        // right after the TPDU), and a TLS hello.
        let mut buf = request(b"");
        assert_eq!(rdp_cookie(&buf[..12], None), Cookie::Absent);
        assert_eq!(rdp_cookie(&buf, None), Cookie::Absent);
        buf = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x5a\x17 random...".to_vec();
        assert_eq!(rdp_cookie(&buf, None), Cookie::Absent);
        assert_eq!(
            rdp_cookie(&request(b"Cookie: novalue\r\n"), None),
            Cookie::Absent
        );
        assert_eq!(
            rdp_cookie(&request(b"Cookie: a=b\rX"), None),
            Cookie::Absent
        );
        assert_eq!(
            rdp_cookie(&request(b"Cookie: a=b\n\r\n"), None),
            found(b"a", b"b\n")
        );
    }

    #[test]
    fn a_line_without_its_end_waits() {
        let buf = request(b"Cookie: mstshash=");
        // The negotiation request after holds no CR.
        assert_eq!(rdp_cookie(&buf, None), Cookie::Incomplete);
    }
}
