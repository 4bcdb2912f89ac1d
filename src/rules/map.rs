//! Map files (`key value` lines) and pattern files (one pattern a line),
//! read at load, and the map lookups of the `map_*` converters: exact keys
//! in a hash table, `beg`/`end`/`sub`/`dir`/`dom`/`reg` by the first line
//! that matches in file order, `ip` by longest prefix, as HAProxy.

use std::collections::HashMap;
use std::net::IpAddr;

use super::ip::{IpMap, parse_net};
use super::pattern::{Method, match_word, to_int, to_ip, with_text};
use super::value::Sample;

/// The lines of a pattern or map file that hold something: leading blanks
/// dropped, empty lines and `#` comments (first column) skipped, with
/// their line numbers.
pub(crate) fn read_lines(path: &str) -> Result<Vec<(usize, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("'{path}': {e}"))?;
    // As HAProxy: a comment is a `#` in the first column; leading blanks
    // go, trailing ones are part of the pattern.
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l.trim_start_matches([' ', '\t'])))
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| (n, l.to_owned()))
        .collect())
}

/// A map file's entries: the key (first word) and the value (the rest of
/// the line, possibly empty).
pub(crate) fn read_map(path: &str) -> Result<Vec<(usize, String, String)>, String> {
    Ok(read_lines(path)?
        .into_iter()
        .map(|(n, l)| match l.split_once([' ', '\t']) {
            Some((k, v)) => (
                n,
                k.to_owned(),
                v.trim_start_matches([' ', '\t']).to_owned(),
            ),
            None => (n, l, String::new()),
        })
        .collect())
}

/// What a map's values are, as the converter's name says (`map_str`,
/// `map_str_int`, `map_ip_ip`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutType {
    Str,
    Int,
    Ip,
}

/// A map value, parsed at load into its output type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Str(Box<[u8]>),
    Int(i64),
    Ip(IpAddr),
}

impl Value {
    pub(crate) fn parse(text: &str, out: OutType) -> Result<Value, String> {
        match out {
            OutType::Str => Ok(Value::Str(text.as_bytes().into())),
            OutType::Int => text
                .parse()
                .map(Value::Int)
                .map_err(|_| format!("map value '{text}' is not an integer")),
            OutType::Ip => text
                .parse()
                .map(Value::Ip)
                .map_err(|_| format!("map value '{text}' is not an IP address")),
        }
    }

    pub(crate) fn sample(&self) -> Sample<'_> {
        match self {
            Value::Str(s) => Sample::Str(s),
            Value::Int(n) => Sample::Int(*n),
            Value::Ip(ip) => Sample::Ip(*ip),
        }
    }
}

/// One map, indexed for its match method.
#[derive(Debug)]
pub(crate) struct Map {
    method: Method,
    out: OutType,
    exact: HashMap<Box<[u8]>, Value>,
    ints: HashMap<i64, Value>,
    list: Vec<(Box<[u8]>, Value)>,
    regs: Vec<(regex::bytes::Regex, Value)>,
    ips: Option<IpMap<Value>>,
}

impl Map {
    /// Loads `path` for `method` with values of type `out`; errors name the
    /// file and line.
    pub(crate) fn load(path: &str, method: Method, out: OutType) -> Result<Map, String> {
        let mut map = Map {
            method,
            out,
            exact: HashMap::new(),
            ints: HashMap::new(),
            list: Vec::new(),
            regs: Vec::new(),
            ips: None,
        };
        let mut nets = Vec::new();
        for (line, key, value) in read_map(path)? {
            let at = |e: String| format!("{path}:{line}: {e}");
            let value = Value::parse(&value, out).map_err(at)?;
            match method {
                Method::Str => {
                    map.exact.entry(key.into_bytes().into()).or_insert(value);
                }
                Method::Int => {
                    let k = key
                        .parse()
                        .map_err(|_| at(format!("key '{key}' is not an integer")))?;
                    map.ints.entry(k).or_insert(value);
                }
                Method::Ip => nets.push((parse_net(&key).map_err(at)?, value)),
                Method::Reg => {
                    let re = regex::bytes::RegexBuilder::new(&key)
                        .unicode(false)
                        .build()
                        .map_err(|e| at(format!("bad regex '{key}': {e}")))?;
                    map.regs.push((re, value));
                }
                _ => map.list.push((key.into_bytes().into(), value)),
            }
        }
        if method == Method::Ip {
            map.ips = Some(IpMap::build(nets));
        }
        if method == Method::Beg {
            // HAProxy keeps `beg` keys in a prefix tree: the longest key
            // that starts the sample wins (file order among equals).
            map.list.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        }
        Ok(map)
    }

    pub(crate) fn out(&self) -> OutType {
        self.out
    }

    /// The value for `key`, or `None` (the converter then yields its
    /// default or fails).
    pub(crate) fn lookup(&self, key: Sample<'_>) -> Option<&Value> {
        match self.method {
            Method::Ip => self.ips.as_ref()?.get(to_ip(key)?),
            Method::Int => self.ints.get(&to_int(key)?),
            _ => with_text(key, |k| self.lookup_text(k)),
        }
    }

    fn lookup_text(&self, k: &[u8]) -> Option<&Value> {
        let first =
            |f: &dyn Fn(&[u8]) -> bool| self.list.iter().find(|(p, _)| f(p)).map(|(_, v)| v);
        match self.method {
            Method::Str => self.exact.get(k),
            Method::Beg => first(&|p| k.starts_with(p)),
            Method::End => first(&|p| k.ends_with(p)),
            Method::Sub => first(&|p| p.is_empty() || k.windows(p.len()).any(|w| w == p)),
            Method::Dir => first(&|p| match_word(k, p, false, b"/?")),
            Method::Dom => first(&|p| match_word(k, p, false, b"/?.:")),
            Method::Reg => self
                .regs
                .iter()
                .find(|(r, _)| r.is_match(k))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}
