//! A server certificate's names and HAProxy's match of them against the
//! expected host name (`ssl_sock_srv_verifycbk` / `ssl_sock_srv_hostcheck`):
//! every subjectAltName dNSName, then every subject commonName, each
//! compared case-insensitively, with one `*` allowed in the leftmost label
//! only (`*.example.com`, `www*.example.com`), never matching a dot.
//!
//! webpki checks subjectAltNames only and only whole-label `*.`
//! wildcards; HAProxy's users rely on commonName certificates and partial
//! wildcards, so the names are read here from the DER. The certificate
//! has already been parsed by webpki when this runs: a DER walk that
//! meets anything unexpected yields no names, which fails the check.

/// DER tags met on the way to the names.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[0] EXPLICIT version`, `[1]`/`[2]` unique ids, `[3] EXPLICIT extensions`.
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
/// GeneralName `dNSName [2] IMPLICIT IA5String`.
const DNS_NAME: u8 = 0x82;
/// Directory string kinds a commonName is written in, read as bytes:
/// UTF8String, PrintableString, T61String, IA5String.
const STRINGS: [u8; 4] = [0x0c, 0x13, 0x14, 0x16];

/// OID 2.5.29.17 (subjectAltName) and 2.5.4.3 (commonName), content bytes.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Whether the certificate (DER) carries a name matching `host`.
pub(super) fn cert_matches(der: &[u8], host: &str) -> bool {
    cert_names(der)
        .iter()
        .any(|name| std::str::from_utf8(name).is_ok_and(|n| host_matches(n, host)))
}

/// The leaf's dNSNames, then its commonNames, as HAProxy tries them. A
/// name with a NUL in it is left out (it would match its truncation in C).
pub(super) fn cert_names(der: &[u8]) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let Some((subject, extensions)) = tbs_parts(der) else {
        return names;
    };
    if let Some(ext) = extensions {
        alt_names(ext, &mut names);
    }
    common_names(subject, &mut names);
    names.retain(|n| !n.contains(&0));
    names
}

/// The subject Name and the extensions (the content of `[3]`) of a
/// Certificate's TBSCertificate.
fn tbs_parts(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (mut tbs, _) = expect(cert, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = next(tbs)?.2;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        tbs = next(tbs)?.2;
    }
    let (subject, rest) = expect(tbs, SEQUENCE)?;
    // subjectPublicKeyInfo, then optional unique ids and extensions.
    let mut rest = next(rest)?.2;
    while !rest.is_empty() {
        let (tag, body, after) = next(rest)?;
        if tag == EXTENSIONS {
            return Some((subject, Some(expect(body, SEQUENCE)?.0)));
        }
        rest = after;
    }
    Some((subject, None))
}

/// The dNSNames of the subjectAltName extension, if any.
fn alt_names(mut exts: &[u8], names: &mut Vec<Vec<u8>>) -> Option<()> {
    while !exts.is_empty() {
        let (ext, rest) = expect(exts, SEQUENCE)?;
        exts = rest;
        let (oid, mut ext) = expect(ext, OID)?;
        if oid != SUBJECT_ALT_NAME {
            continue;
        }
        if ext.first() == Some(&BOOLEAN) {
            ext = next(ext)?.2;
        }
        let (value, _) = expect(ext, OCTET_STRING)?;
        let (mut general, _) = expect(value, SEQUENCE)?;
        while !general.is_empty() {
            let (tag, body, rest) = next(general)?;
            if tag == DNS_NAME {
                names.push(body.to_vec());
            }
            general = rest;
        }
    }
    Some(())
}

/// The commonName values of a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_names(mut name: &[u8], names: &mut Vec<Vec<u8>>) -> Option<()> {
    while !name.is_empty() {
        let (mut rdn, rest) = expect(name, SET)?;
        name = rest;
        while !rdn.is_empty() {
            let (atv, rest) = expect(rdn, SEQUENCE)?;
            rdn = rest;
            let (oid, value) = expect(atv, OID)?;
            let (tag, body, _) = next(value)?;
            if oid == COMMON_NAME && STRINGS.contains(&tag) {
                names.push(body.to_vec());
            }
        }
    }
    Some(())
}

/// The next element if it has `tag`: (its content, what follows).
fn expect(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, body, rest) = next(der)?;
    (t == tag).then_some((body, rest))
}

/// The next DER element: (tag, content, what follows). Single-byte tags
/// and definite lengths only, as DER has for everything read here.
fn next(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, der) = der.split_first()?;
    let (&first, der) = der.split_first()?;
    let (len, der) = if first < 0x80 {
        (usize::from(first), der)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || der.len() < n {
            return None;
        }
        let len = der[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &der[n..])
    };
    (der.len() >= len).then(|| (tag, &der[..len], &der[len..]))
}

/// HAProxy's `ssl_sock_srv_hostcheck`: an exact (case-insensitive) match,
/// or RFC 6125 section 6.4.3: one `*` in the leftmost label, the other
/// labels equal, the `*` standing for at least nothing and never a dot.
pub(super) fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    let Some((left, pattern_rest)) = pattern.split_once('.') else {
        return false;
    };
    let mut stars = left.match_indices('*');
    let (Some((star, _)), None) = (stars.next(), stars.next()) else {
        return false;
    };
    let Some((host_left, host_rest)) = host.split_once('.') else {
        return false;
    };
    if !pattern_rest.eq_ignore_ascii_case(host_rest) || host_left.len() < left.len() - 1 {
        return false;
    }
    let (prefix, suffix) = (&left[..star], &left[star + 1..]);
    let starts = host_left
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    let ends = host_left
        .get(host_left.len() - suffix.len()..)
        .is_some_and(|s| s.eq_ignore_ascii_case(suffix));
    starts && ends
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_match_whatever_the_case() {
        assert!(host_matches("check.example", "check.example"));
        assert!(host_matches("CHECK.Example", "check.example"));
        assert!(!host_matches("check.example", "other.example"));
        assert!(!host_matches("localhost", "otherhost"));
    }

    #[test]
    fn wildcards_are_haproxys() {
        assert!(host_matches("*.example.com", "www.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        // Partial wildcards, which webpki would refuse.
        assert!(host_matches("www*.example.com", "www1.example.com"));
        assert!(host_matches("www*.example.com", "www.example.com"));
        assert!(host_matches("*1.example.com", "www1.example.com"));
        assert!(!host_matches("www*.example.com", "ftp.example.com"));
        assert!(!host_matches("w*w*.example.com", "wwww.example.com"));
        // A star outside the leftmost label is no wildcard.
        assert!(!host_matches("www.*.com", "www.example.com"));
    }

    #[test]
    fn names_come_from_alt_names_then_common_name() {
        let mut params = rcgen::CertificateParams::new(vec!["alt.example".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cn.example");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let names = cert_names(cert.der());
        assert_eq!(names, vec![b"alt.example".to_vec(), b"cn.example".to_vec()]);
        assert!(cert_matches(cert.der(), "cn.example"));
        assert!(!cert_matches(cert.der(), "other.example"));
    }

    #[test]
    fn garbage_has_no_names() {
        assert!(cert_names(b"").is_empty());
        assert!(cert_names(&[0x30, 0x82, 0xff]).is_empty());
        assert!(cert_names(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_empty());
    }
}
