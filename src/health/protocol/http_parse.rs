//! An HTTP/1 response as an HTTP check reads it: the status line, the
//! headers, and the body framed by content-length, chunked encoding or
//! the server's close, within the check buffer. Never reads past `buf`.

/// A response whose headers are all in.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Response<'a> {
    pub(super) status: u16,
    /// The status code's three digits, which `rstatus` matches.
    pub(super) code: &'a [u8],
    pub(super) reason: &'a [u8],
    /// The body received so far, de-chunked.
    pub(super) body: Vec<u8>,
    /// The whole message is in (HAProxy's end of message).
    pub(super) complete: bool,
}

/// Not an HTTP response, or a malformed one (HAProxy's parsing error).
pub(super) type Invalid = &'static str;

/// How the body ends.
enum Framing {
    None,
    Length(usize),
    Chunked,
    Close,
}

/// Ok(None): the headers are not all in yet. `head`: the request was a
/// HEAD, so the response has no body whatever its headers say.
pub(super) fn parse(buf: &[u8], head: bool) -> Result<Option<Response<'_>>, Invalid> {
    let Some((line, mut rest)) = split_line(buf) else {
        let n = buf.len().min(5);
        if buf[..n] != b"HTTP/"[..n] {
            return Err("not an HTTP response");
        }
        return Ok(None);
    };
    let (status, code, reason) = status_line(line)?;
    let mut framing = if head || status < 200 || status == 204 || status == 304 {
        Framing::None
    } else {
        Framing::Close
    };
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        let Some((line, next)) = split_line(rest) else {
            return Ok(None);
        };
        rest = next;
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // obs-fold: a continuation of the previous value
        }
        let (name, value) = header(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length(value)?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting content-length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = last_token(value).eq_ignore_ascii_case(b"chunked");
        }
    }
    if !matches!(framing, Framing::None) {
        framing = match (chunked, length) {
            (true, _) => Framing::Chunked,
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::Close,
        };
    }
    let (body, complete) = match framing {
        Framing::None => (Vec::new(), true),
        Framing::Length(n) => (rest[..rest.len().min(n)].to_vec(), rest.len() >= n),
        Framing::Chunked => dechunk(rest)?,
        Framing::Close => (rest.to_vec(), false),
    };
    Ok(Some(Response {
        status,
        code,
        reason,
        body,
        complete,
    }))
}

/// The line up to LF (without its CR) and what follows, if it is in.
fn split_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let lf = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..lf];
    Some((line.strip_suffix(b"\r").unwrap_or(line), &buf[lf + 1..]))
}

/// `HTTP/x.y NNN reason`.
fn status_line(line: &[u8]) -> Result<(u16, &[u8], &[u8]), Invalid> {
    const BAD: Invalid = "invalid HTTP status line";
    let rest = line.strip_prefix(b"HTTP/").ok_or("not an HTTP response")?;
    let [major, b'.', minor, b' ', rest @ ..] = rest else {
        return Err(BAD);
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Err(BAD);
    }
    let (code, reason) = match rest {
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        [a, b, c] => ([*a, *b, *c], &[][..]),
        _ => return Err(BAD),
    };
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    let status = code.iter().fold(0u16, |s, d| s * 10 + u16::from(d - b'0'));
    Ok((status, &rest[..3], reason))
}

/// `name: value`, the name a token, the value trimmed.
fn header(line: &[u8]) -> Result<(&[u8], &[u8]), Invalid> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or("invalid HTTP header")?;
    let name = &line[..colon];
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if name.is_empty() || !name.iter().all(token) {
        return Err("invalid HTTP header");
    }
    Ok((name, line[colon + 1..].trim_ascii()))
}

fn content_length(value: &[u8]) -> Result<usize, Invalid> {
    const BAD: Invalid = "invalid content-length";
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(BAD)
}

fn last_token(value: &[u8]) -> &[u8] {
    value
        .rsplit(|&b| b == b',')
        .next()
        .unwrap_or_default()
        .trim_ascii()
}

/// The chunks' data so far, and whether the last chunk and trailers are in.
fn dechunk(mut rest: &[u8]) -> Result<(Vec<u8>, bool), Invalid> {
    let mut body = Vec::new();
    loop {
        let Some((line, next)) = split_line(rest) else {
            return Ok((body, false));
        };
        let size = chunk_size(line)?;
        rest = next;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                match split_line(rest) {
                    None => return Ok((body, false)),
                    Some(([], _)) => return Ok((body, true)),
                    Some((_, next)) => rest = next,
                }
            }
        }
        if rest.len() < size {
            body.extend_from_slice(rest);
            return Ok((body, false));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
        match rest {
            [b'\r', b'\n', next @ ..] | [b'\n', next @ ..] => rest = next,
            [] | [b'\r'] => return Ok((body, false)),
            _ => return Err("invalid chunk"),
        }
    }
}

/// A chunk's hex size, before any `;extension`.
fn chunk_size(line: &[u8]) -> Result<usize, Invalid> {
    let hex = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if hex.is_empty() || hex.len() > 8 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err("invalid chunk size");
    }
    let hex = std::str::from_utf8(hex).map_err(|_| "invalid chunk size")?;
    usize::from_str_radix(hex, 16).map_err(|_| "invalid chunk size")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(buf: &[u8]) -> Response<'_> {
        parse(buf, false).unwrap().unwrap()
    }

    #[test]
    fn status_headers_and_a_sized_body() {
        let r =
            full(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!((r.status, r.code, r.reason), (200, &b"200"[..], &b"OK"[..]));
        assert_eq!((r.body.as_slice(), r.complete), (&b"hello"[..], true));
        let r = full(b"HTTP/1.0 503 Service Unavailable\r\ncontent-length: 10\r\n\r\nhel");
        assert_eq!((r.body.as_slice(), r.complete), (&b"hel"[..], false));
        // Extra bytes after the body are not body.
        let r = full(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
        assert_eq!(r.body, b"ok");
    }

    #[test]
    fn chunked_bodies_are_dechunked() {
        let r = full(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n");
        assert_eq!((r.body.as_slice(), r.complete), (&b"Wikipedia"[..], true));
        let r = full(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nWi");
        assert_eq!((r.body.as_slice(), r.complete), (&b"Wi"[..], false));
        let r = full(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n");
        assert!(!r.complete);
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert_eq!(parse(bad, false), Err("invalid chunk size"));
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n";
        assert_eq!(parse(huge, false), Err("invalid chunk size"));
        let r = full(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nab");
        assert_eq!((r.body.as_slice(), r.complete), (&b"ab"[..], false));
    }

    #[test]
    fn a_body_without_length_runs_to_the_close() {
        let r = full(b"HTTP/1.0 200 OK\nServer: x\n\n{\"role\":\"master\"}");
        assert_eq!(
            (r.body.as_slice(), r.complete),
            (&b"{\"role\":\"master\"}"[..], false)
        );
    }

    #[test]
    fn bodiless_responses() {
        for resp in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
        ] {
            let r = full(resp);
            assert!(r.complete && r.body.is_empty());
        }
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true)
            .unwrap()
            .unwrap();
        assert!(r.complete && r.body.is_empty());
        let r = full(b"HTTP/1.1 200\r\n\r\n");
        assert_eq!(r.reason, b"");
    }

    #[test]
    fn incomplete_heads_wait() {
        for prefix in [
            &b""[..],
            b"HT",
            b"HTTP/1.1 200 OK",
            b"HTTP/1.1 200 OK\r\nA: b\r\n",
        ] {
            assert_eq!(parse(prefix, false), Ok(None));
        }
    }

    #[test]
    fn not_http_or_malformed() {
        assert_eq!(parse(b"SSH-2.0", false), Err("not an HTTP response"));
        assert_eq!(parse(b"+PONG\r\n", false), Err("not an HTTP response"));
        for bad in [
            &b"HTTP/1.1 20 OK\r\n"[..],
            b"HTTP/1.1 2x0 OK\r\n",
            b"HTTP/11 200 OK\r\n",
        ] {
            assert_eq!(parse(bad, false), Err("invalid HTTP status line"));
        }
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false),
            Err("invalid HTTP header")
        );
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse(two, false), Err("conflicting content-length headers"));
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(parse(big, false), Err("invalid content-length"));
    }
}
