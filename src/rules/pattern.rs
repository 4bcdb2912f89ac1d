//! Patterns: the values an ACL compares its sample with, parsed once at load
//! per match method (`-m str|beg|end|sub|dir|dom|reg|ip|int|len|bin|found|
//! bool`), and matched without allocating.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::IpAddr;

use super::ip::{IpSet, Net, parse_net};
use super::value::{Sample, atoi, itoa};

/// How a sample is compared with the patterns (HAProxy's `-m` methods).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Found,
    Bool,
    Int,
    Ip,
    Bin,
    Len,
    Str,
    Beg,
    Sub,
    Dir,
    Dom,
    End,
    Reg,
}

impl Method {
    pub(crate) fn parse(word: &str) -> Result<Method, String> {
        Ok(match word {
            "found" => Method::Found,
            "bool" => Method::Bool,
            "int" => Method::Int,
            "ip" => Method::Ip,
            "bin" => Method::Bin,
            "len" => Method::Len,
            "str" => Method::Str,
            "beg" => Method::Beg,
            "sub" => Method::Sub,
            "dir" => Method::Dir,
            "dom" => Method::Dom,
            "end" => Method::End,
            "reg" => Method::Reg,
            _ => return Err(format!("'-m {word}': unknown match method")),
        })
    }
}

/// An inclusive integer range, either end open.
type Range = (Option<i64>, Option<i64>);

/// Strings longer than this are lowercased for an exact `-i` lookup by a
/// scan of the long patterns instead of the stack buffer.
const ICASE_BUF: usize = 256;

/// The compiled patterns of one ACL line.
#[derive(Debug)]
pub(crate) struct Patterns {
    method: Method,
    icase: bool,
    /// `-m int|len`: inclusive ranges, either end open.
    ints: Vec<Range>,
    ips: IpSet,
    /// `-m str` (lowercased with `-i`) of at most `ICASE_BUF` bytes.
    exact: HashSet<Box<[u8]>>,
    /// `-m str` longer ones, and every pattern of beg/sub/dir/dom/end/bin,
    /// in file order.
    list: Vec<Box<[u8]>>,
    regs: Vec<regex::bytes::Regex>,
}

impl Patterns {
    /// Compiles `words` for `method`. For `int`, `len` and dotted versions
    /// the words may hold the operators `eq ge gt le lt`, each applying to
    /// the values after it, as HAProxy.
    pub(crate) fn build(
        method: Method,
        icase: bool,
        dotted: bool,
        words: &[String],
    ) -> Result<Patterns, String> {
        let mut p = Patterns {
            method,
            icase,
            ints: Vec::new(),
            ips: IpSet::default(),
            exact: HashSet::new(),
            list: Vec::new(),
            regs: Vec::new(),
        };
        match method {
            // HAProxy parses and ignores their patterns.
            Method::Found | Method::Bool => {}
            Method::Int | Method::Len => {
                p.ints = parse_ints(words, dotted && method == Method::Int)?
            }
            Method::Ip => {
                let nets = words
                    .iter()
                    .map(|w| parse_net(w))
                    .collect::<Result<Vec<Net>, String>>()?;
                p.ips = IpSet::build(&nets);
            }
            Method::Bin => {
                for w in words {
                    p.list.push(parse_hex(w)?.into_boxed_slice());
                }
            }
            Method::Str => {
                for w in words {
                    let mut b = w.as_bytes().to_vec();
                    if icase {
                        b.make_ascii_lowercase();
                    }
                    if b.len() <= ICASE_BUF {
                        p.exact.insert(b.into_boxed_slice());
                    } else {
                        p.list.push(b.into_boxed_slice());
                    }
                }
            }
            Method::Reg => {
                for w in words {
                    let re = regex::bytes::RegexBuilder::new(w)
                        .unicode(false)
                        .case_insensitive(icase)
                        .build()
                        .map_err(|e| format!("'{w}': bad regex: {e}"))?;
                    p.regs.push(re);
                }
            }
            Method::Beg | Method::Sub | Method::Dir | Method::Dom | Method::End => {
                p.list = words.iter().map(|w| w.as_bytes().into()).collect();
            }
        }
        Ok(p)
    }

    pub(crate) fn method(&self) -> Method {
        self.method
    }

    /// True when no sample can match: no pattern, and a method that needs
    /// one (HAProxy warns "this ACL will never match").
    pub(crate) fn never_matches(&self) -> bool {
        !matches!(self.method, Method::Found | Method::Bool)
            && self.ints.is_empty()
            && self.ips.is_empty()
            && self.exact.is_empty()
            && self.list.is_empty()
            && self.regs.is_empty()
    }

    /// Whether `sample` matches one of the patterns, the sample cast to what
    /// the method compares (integers and addresses to text, text to integers
    /// or addresses) as HAProxy's cast table.
    pub(crate) fn matches(&self, sample: Sample<'_>) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => match sample {
                Sample::Bool(b) => b,
                Sample::Int(n) => n != 0,
                Sample::Str(s) => atoi(s).is_some_and(|n| n != 0),
                Sample::Ip(_) | Sample::Bin(_) => false,
            },
            Method::Int => to_int(sample).is_some_and(|n| self.in_ranges(n)),
            Method::Len => match sample {
                Sample::Str(s) | Sample::Bin(s) => self.in_ranges(s.len() as i64),
                _ => with_text(sample, |s| self.in_ranges(s.len() as i64)),
            },
            Method::Ip => to_ip(sample).is_some_and(|ip| self.ips.contains(ip)),
            _ => with_text(sample, |s| self.match_text(s)),
        }
    }

    fn in_ranges(&self, n: i64) -> bool {
        self.ints
            .iter()
            .any(|&(lo, hi)| lo.is_none_or(|lo| lo <= n) && hi.is_none_or(|hi| n <= hi))
    }

    fn match_text(&self, s: &[u8]) -> bool {
        let ic = self.icase;
        let eq = |a: &[u8], b: &[u8]| {
            if ic {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self.method {
            Method::Str => self.match_exact(s) || self.list.iter().any(|p| eq(p, s)),
            Method::Bin => self.list.iter().any(|p| **p == *s),
            Method::Beg => self
                .list
                .iter()
                .any(|p| s.len() >= p.len() && eq(&s[..p.len()], p)),
            Method::End => self
                .list
                .iter()
                .any(|p| s.len() >= p.len() && eq(&s[s.len() - p.len()..], p)),
            Method::Sub => self
                .list
                .iter()
                .any(|p| p.is_empty() || s.windows(p.len()).any(|w| eq(w, p))),
            Method::Dir => self.list.iter().any(|p| match_word(s, p, ic, b"/?")),
            Method::Dom => self.list.iter().any(|p| match_word(s, p, ic, b"/?.:")),
            Method::Reg => self.regs.iter().any(|r| r.is_match(s)),
            _ => false,
        }
    }

    fn match_exact(&self, s: &[u8]) -> bool {
        if !self.icase {
            return self.exact.contains(s);
        }
        let mut buf = [0u8; ICASE_BUF];
        match buf.get_mut(..s.len()) {
            Some(low) => {
                low.copy_from_slice(s);
                low.make_ascii_lowercase();
                self.exact.contains(&*low)
            }
            None => false,
        }
    }
}

/// HAProxy's `match_word`: `pat` (its own leading and trailing delimiters
/// dropped) appears in `s` starting at the start or after a delimiter, and
/// ending at the end or before one.
pub(crate) fn match_word(s: &[u8], pat: &[u8], icase: bool, delims: &[u8]) -> bool {
    let is_delim = |c: &u8| delims.contains(c);
    let start = pat.iter().position(|c| !is_delim(c)).unwrap_or(pat.len());
    let end = pat
        .iter()
        .rposition(|c| !is_delim(c))
        .map_or(start, |e| e + 1);
    let p = &pat[start..end];
    if p.len() > s.len() {
        return false;
    }
    let mut may_match = true;
    for at in 0..=s.len() - p.len() {
        if is_delim(&s[at]) && !p.is_empty() {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        let w = &s[at..at + p.len()];
        let same = if icase {
            w.eq_ignore_ascii_case(p)
        } else {
            w == p
        };
        if same && (at + p.len() == s.len() || is_delim(&s[at + p.len()])) {
            return true;
        }
        may_match = false;
    }
    false
}

pub(crate) fn to_int(sample: Sample<'_>) -> Option<i64> {
    match sample {
        Sample::Int(n) => Some(n),
        Sample::Bool(b) => Some(i64::from(b)),
        Sample::Str(s) => atoi(s),
        Sample::Ip(_) | Sample::Bin(_) => None,
    }
}

pub(crate) fn to_ip(sample: Sample<'_>) -> Option<IpAddr> {
    match sample {
        Sample::Ip(ip) => Some(ip),
        Sample::Str(s) => std::str::from_utf8(s).ok()?.parse().ok(),
        _ => None,
    }
}

/// Calls `f` with the sample as text: strings and binaries as they are,
/// integers and addresses formatted into a stack buffer.
pub(crate) fn with_text<R>(sample: Sample<'_>, f: impl FnOnce(&[u8]) -> R) -> R {
    match sample {
        Sample::Str(s) | Sample::Bin(s) => f(s),
        Sample::Int(n) => f(itoa(n, &mut [0; 20])),
        Sample::Bool(b) => f(if b { b"1" } else { b"0" }),
        Sample::Ip(ip) => {
            let mut buf = [0u8; 48];
            let mut w = &mut buf[..];
            let _ = write!(w, "{ip}");
            let len = 48 - w.len();
            f(&buf[..len])
        }
    }
}

fn parse_hex(word: &str) -> Result<Vec<u8>, String> {
    let b = word.as_bytes();
    let bad = || format!("'{word}' is not a hexadecimal string of even length");
    if !b.len().is_multiple_of(2) {
        return Err(bad());
    }
    b.chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16).ok_or_else(bad)?;
            let lo = (pair[1] as char).to_digit(16).ok_or_else(bad)?;
            Ok((hi * 16 + lo) as u8)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

fn parse_ints(words: &[String], dotted: bool) -> Result<Vec<Range>, String> {
    let mut op = Op::Eq;
    let mut out = Vec::new();
    for w in words {
        let next = match w.as_str() {
            "eq" => Some(Op::Eq),
            "ge" => Some(Op::Ge),
            "gt" => Some(Op::Gt),
            "le" => Some(Op::Le),
            "lt" => Some(Op::Lt),
            _ => None,
        };
        if let Some(next) = next {
            op = next;
            continue;
        }
        let num = |t: &str| {
            if dotted {
                parse_dotted(t)
            } else {
                parse_int(t)
            }
        };
        let bad = || format!("'{w}' is neither a number nor a supported operator");
        let range = if let Some((lo, hi)) = w.split_once(':') {
            let lo = if lo.is_empty() {
                None
            } else {
                Some(num(lo).ok_or_else(bad)?)
            };
            let hi = if hi.is_empty() {
                None
            } else {
                Some(num(hi).ok_or_else(bad)?)
            };
            (lo, hi)
        } else {
            let n = num(w).ok_or_else(bad)?;
            match op {
                Op::Eq => (Some(n), Some(n)),
                Op::Ge => (Some(n), None),
                Op::Gt => (Some(n.saturating_add(1)), None),
                Op::Le => (None, Some(n)),
                Op::Lt => (None, Some(n.saturating_sub(1))),
            }
        };
        out.push(range);
    }
    Ok(out)
}

fn parse_int(t: &str) -> Option<i64> {
    t.parse().ok()
}

/// `MAJOR[.MINOR]` as `MAJOR << 16 | MINOR` (`req.ssl_ver 3.1`).
fn parse_dotted(t: &str) -> Option<i64> {
    let (major, minor) = t.split_once('.').unwrap_or((t, "0"));
    let major: i64 = major.parse().ok().filter(|m| (0..65536).contains(m))?;
    let minor: i64 = minor.parse().ok().filter(|m| (0..65536).contains(m))?;
    Some(major << 16 | minor)
}
