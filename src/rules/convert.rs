//! Converters (`lower`, `upper`, the `map_*` family) and sample expressions
//! (`FETCH[(args)][,CONV[(args)]]...`): parsed at load, evaluated into a
//! caller's scratch buffer or borrowed from the maps, never allocating.

use super::fetch::Fetch;
use super::map::{Map, OutType, Value};
use super::pattern::{Method, with_text};
use super::value::{Facts, Fetched, OutBuf, Sample, Scratch};

/// One converter.
#[derive(Debug)]
pub(crate) enum Conv {
    Lower,
    Upper,
    Map {
        map: Box<Map>,
        default: Option<Value>,
    },
}

impl Conv {
    fn parse(name: &str, args: &[&str]) -> Result<Conv, String> {
        match name {
            "lower" | "upper" if !args.is_empty() => {
                Err(format!("converter '{name}' takes no argument"))
            }
            "lower" => Ok(Conv::Lower),
            "upper" => Ok(Conv::Upper),
            _ if name == "map" || name.starts_with("map_") => Self::parse_map(name, args),
            _ => Err(format!("unknown converter '{name}'")),
        }
    }

    /// `map(FILE[,DEFAULT])` is `map_str`; `map_IN[_OUT]` with IN one of
    /// str beg end sub dir dom reg ip int, OUT one of str int ip.
    fn parse_map(name: &str, args: &[&str]) -> Result<Conv, String> {
        let mut parts = name.split('_').skip(1);
        let method = match parts.next().unwrap_or("str") {
            "regm" => {
                return Err(format!(
                    "converter '{name}': regex substitution maps are not supported by l4lb"
                ));
            }
            m => Method::parse(m).map_err(|_| format!("unknown converter '{name}'"))?,
        };
        if matches!(
            method,
            Method::Found | Method::Bool | Method::Len | Method::Bin
        ) {
            return Err(format!("unknown converter '{name}'"));
        }
        let out = match parts.next() {
            None | Some("str") => OutType::Str,
            Some("int") => OutType::Int,
            Some("ip") => OutType::Ip,
            Some(_) => return Err(format!("unknown converter '{name}'")),
        };
        if parts.next().is_some() {
            return Err(format!("unknown converter '{name}'"));
        }
        let (file, default) = match args {
            [file] => (*file, None),
            [file, default] => (*file, Some(*default)),
            _ => {
                return Err(format!(
                    "converter '{name}' takes a file and an optional default value"
                ));
            }
        };
        let default = default
            .map(|d| Value::parse(d, out))
            .transpose()
            .map_err(|e| format!("'{name}': {e}"))?;
        Ok(Conv::Map {
            map: Box::new(Map::load(file, method, out)?),
            default,
        })
    }

    /// The type of what this converter yields, for the default match method.
    fn out_method(&self) -> Method {
        match self {
            Conv::Map { map, .. } => match map.out() {
                OutType::Int => Method::Int,
                OutType::Ip => Method::Ip,
                OutType::Str => Method::Str,
            },
            _ => Method::Str,
        }
    }

    fn apply<'a>(&'a self, v: Val<'a>, scratch: &mut OutBuf) -> Option<Val<'a>> {
        match self {
            Conv::Lower | Conv::Upper => {
                let bytes = match v {
                    Val::Ready(s) => {
                        with_text(s, |t| scratch.set(t).is_some()).then(|| scratch.bytes_mut())?
                    }
                    Val::Scratch => scratch.bytes_mut(),
                };
                if matches!(self, Conv::Lower) {
                    bytes.make_ascii_lowercase();
                } else {
                    bytes.make_ascii_uppercase();
                }
                Some(Val::Scratch)
            }
            Conv::Map { map, default } => {
                let key = match v {
                    Val::Ready(s) => s,
                    Val::Scratch => Sample::Str(scratch.bytes()),
                };
                map.lookup(key)
                    .or(default.as_ref())
                    .map(|v| Val::Ready(v.sample()))
            }
        }
    }
}

/// A value part-way through a converter chain: a sample, or text in the
/// scratch buffer (kept apart so the next converter may reuse the buffer).
#[derive(Clone, Copy)]
enum Val<'a> {
    Ready(Sample<'a>),
    Scratch,
}

/// A fetch and its converters.
#[derive(Debug)]
pub(crate) struct Expr {
    pub(crate) fetch: Fetch,
    pub(crate) convs: Vec<Conv>,
}

/// Splits `text` on the commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `name(a,b)` -> ("name", ["a", "b"]); `name` -> ("name", []).
fn name_args(word: &str) -> Result<(&str, Vec<&str>), String> {
    match word.split_once('(') {
        None => Ok((word, Vec::new())),
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("'{word}': missing ')'"))?;
            if inner.is_empty() {
                Ok((name, Vec::new()))
            } else {
                Ok((name, inner.split(',').collect()))
            }
        }
    }
}

impl Expr {
    pub(crate) fn parse(text: &str) -> Result<Expr, String> {
        let mut parts = split_top(text).into_iter();
        let (name, args) = name_args(parts.next().unwrap_or(""))?;
        if name.is_empty() {
            return Err(format!("'{text}': missing fetch method"));
        }
        let fetch = Fetch::parse(name, &args)?;
        let convs = parts
            .map(|p| {
                let (name, args) = name_args(p)?;
                Conv::parse(name, &args)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Expr { fetch, convs })
    }

    /// The default match method: the fetch's, or the last converter's type.
    pub(crate) fn default_method(&self) -> (Method, bool) {
        match self.convs.last() {
            Some(c) => (c.out_method(), false),
            None => self.fetch.default_method(),
        }
    }

    /// The `index`-th value (see `Fetch::fetch`) through the converters. A
    /// failed converter leaves no sample, `may_change` kept from the fetch.
    pub(crate) fn eval<'a, F: Facts + ?Sized>(
        &'a self,
        facts: &'a F,
        last: bool,
        index: usize,
        scratch: &'a mut Scratch,
    ) -> Fetched<'a> {
        let Scratch { out, stash } = scratch;
        let fetched = self.fetch.fetch(facts, last, index, stash);
        let Some(sample) = fetched.sample else {
            return fetched;
        };
        let mut v = Val::Ready(sample);
        for conv in &self.convs {
            match conv.apply(v, out) {
                Some(next) => v = next,
                None => {
                    return Fetched {
                        sample: None,
                        may_change: fetched.may_change,
                    };
                }
            }
        }
        let sample = match v {
            Val::Ready(s) => s,
            Val::Scratch => Sample::Str(out.bytes()),
        };
        Fetched {
            sample: Some(sample),
            may_change: fetched.may_change,
        }
    }
}
