//! `stats auth USER:PASSWORD`: HTTP Basic authentication of the stats
//! page, as HAProxy's (cleartext passwords in the conf, base64 on the wire).

use crate::config::StatsPage;

/// Whether a request with this `Authorization` header may see the page:
/// always without `stats auth`, else when it names one of the accounts.
pub(super) fn allowed(page: &StatsPage, authorization: Option<&str>) -> bool {
    if page.auth.is_empty() {
        return true;
    }
    let Some(creds) = authorization.and_then(basic) else {
        return false;
    };
    page.auth.iter().any(|(user, pass)| {
        creds
            .split_once(':')
            .is_some_and(|(u, p)| u == user && p == pass)
    })
}

/// `Basic BASE64` -> the decoded `user:password`.
fn basic(header: &str) -> Option<String> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    String::from_utf8(base64(encoded.trim())?).ok()
}

/// Standard base64 with padding, as browsers send it.
fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    if !text.len().is_multiple_of(4) || text.len() - bytes.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(value(c)?) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_padding() {
        assert_eq!(base64("YWRtaW46c2VjcmV0"), Some(b"admin:secret".to_vec()));
        assert_eq!(base64("YTpi"), Some(b"a:b".to_vec()));
        assert_eq!(base64("YTpiYw=="), Some(b"a:bc".to_vec()));
        assert_eq!(base64("YTpiY2Q="), Some(b"a:bcd".to_vec()));
        assert_eq!(base64("YTp*"), None);
        assert_eq!(base64("YTp"), None);
    }

    #[test]
    fn only_basic_credentials_of_an_account_pass() {
        assert_eq!(basic("Basic YTpi").as_deref(), Some("a:b"));
        assert_eq!(basic("basic  YTpi ").as_deref(), Some("a:b"));
        assert_eq!(basic("Bearer YTpi"), None);
    }
}
