//! ACLs: `acl NAME EXPR [flags] [operator] VALUE...` lines parsed into
//! expressions with their patterns, kept by name in one table per proxy
//! (several lines of one name OR together), plus HAProxy's predefined ACLs.

use std::collections::HashMap;

use super::Tri;
use super::convert::Expr;
use super::map::{read_lines, read_map};
use super::pattern::{Method, Patterns};
use super::value::{Facts, Scratch};

/// HAProxy's three test results as bits, so that OR is `|` and AND is `&`.
const FAIL: u8 = 0;
const MISS: u8 = 1;
const PASS: u8 = 3;

/// One ACL line: a sample expression and the patterns it is matched with.
#[derive(Debug)]
pub(crate) struct AclExpr {
    pub(crate) expr: Expr,
    pub(crate) patterns: Patterns,
}

/// The options of one ACL line.
#[derive(Default)]
struct Flags<'w> {
    icase: bool,
    method: Option<Method>,
    files: Vec<&'w str>,
    map_files: bool,
}

/// Reads the flags from `words`, returning them and the pattern words.
fn parse_flags<'a, 'w>(words: &'a [&'w str]) -> Result<(Flags<'w>, &'a [&'w str]), String> {
    let mut flags = Flags::default();
    let mut i = 0;
    while let Some(&word) = words.get(i).filter(|w| w.starts_with('-')) {
        let mut arg = || {
            i += 1;
            words
                .get(i)
                .copied()
                .ok_or_else(|| format!("'{word}' needs an argument"))
        };
        match word {
            "-i" => flags.icase = true,
            // Forbids DNS resolution of the patterns: l4lb never resolves.
            "-n" => {}
            "-m" => flags.method = Some(Method::parse(arg()?)?),
            "-f" => flags.files.push(arg()?),
            "-M" => flags.map_files = true,
            "-u" => {
                return Err(
                    "'-u': ACL ids are for runtime ACL commands, which l4lb does not have".into(),
                );
            }
            "--" => return Ok((flags, &words[i + 1..])),
            _ => {
                return Err(format!(
                    "'{word}' is not a valid ACL option; put '--' before a pattern beginning with '-'"
                ));
            }
        }
        i += 1;
    }
    Ok((flags, &words[i..]))
}

impl AclExpr {
    /// Parses `EXPR [flags] [operator] VALUE...` (the words after `acl
    /// NAME`, or inside `{ }`). Pattern files are read now; the flags apply
    /// to every pattern of the line wherever they stand among `-f`s.
    pub(crate) fn parse(words: &[&str]) -> Result<AclExpr, String> {
        let (first, rest) = words.split_first().ok_or("missing fetch method")?;
        let expr = Expr::parse(first)?;
        let (flags, inline) = parse_flags(rest)?;
        let (method, dotted) = match flags.method {
            Some(m) => (m, false),
            None => expr.default_method(),
        };
        let mut values = Vec::new();
        for file in &flags.files {
            if flags.map_files {
                values.extend(read_map(file)?.into_iter().map(|(_, k, _)| k));
            } else {
                values.extend(read_lines(file)?.into_iter().map(|(_, l)| l));
            }
        }
        values.extend(inline.iter().map(|w| (*w).to_owned()));
        let patterns = Patterns::build(method, flags.icase, dotted, &values)?;
        Ok(AclExpr { expr, patterns })
    }

    /// HAProxy's test of one expression: PASS if a value matches, MISS if
    /// none does but the sample may still change (before the last call).
    fn test<F: Facts + ?Sized>(&self, facts: &F, last: bool, scratch: &mut Scratch) -> u8 {
        let mut res = FAIL;
        for index in 0.. {
            let fetched = self.expr.eval(facts, last, index, scratch);
            let Some(sample) = fetched.sample else {
                if fetched.may_change && !last {
                    res |= MISS;
                }
                return res;
            };
            if self.patterns.matches(sample) {
                return PASS;
            }
            if fetched.may_change && !last {
                res |= MISS;
            }
            if !matches!(self.expr.fetch, super::fetch::Fetch::SslAlpn) {
                break;
            }
        }
        res
    }
}

/// A named ACL: its lines, ORed.
#[derive(Debug)]
pub(crate) struct Acl {
    pub(crate) name: String,
    pub(crate) exprs: Vec<AclExpr>,
}

/// The ACLs of one proxy, by name, and the anonymous ones of its
/// conditions; conditions refer to them by index.
#[derive(Debug, Default)]
pub(crate) struct AclTable {
    acls: Vec<Acl>,
    by_name: HashMap<String, usize>,
}

/// ACL names are letters, digits and `. - _ :`, as HAProxy.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("missing ACL name".into());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_:".contains(*c)))
    {
        Some(c) => Err(format!("invalid character '{c}' in ACL name '{name}'")),
        None => Ok(()),
    }
}

/// HAProxy's predefined ACLs that mean something in TCP, as ACL lines.
fn predefined(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "TRUE" => &["always_true"],
        "FALSE" => &["always_false"],
        "LOCALHOST" => &["src", "127.0.0.1/8", "::1"],
        "REQ_CONTENT" => &["req.len", "gt", "0"],
        "WAIT_END" => &["wait_end"],
        "RDP_COOKIE" => &["req.rdp_cookie_cnt", "gt", "0"],
        _ => return None,
    })
}

const HTTP_PREDEFINED: &[&str] = &[
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_3.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
];

impl AclTable {
    /// Adds one `acl NAME WORDS...` line: a new ACL, or one more
    /// alternative of an existing one.
    pub(crate) fn add(&mut self, name: &str, words: &[&str]) -> Result<(), String> {
        check_name(name)?;
        let expr = AclExpr::parse(words)?;
        match self.by_name.get(name) {
            Some(&i) => self.acls[i].exprs.push(expr),
            None => {
                self.by_name.insert(name.to_owned(), self.acls.len());
                self.acls.push(Acl {
                    name: name.to_owned(),
                    exprs: vec![expr],
                });
            }
        }
        Ok(())
    }

    /// Adds an anonymous ACL (`{ ... }` in a condition), returning its index.
    pub(crate) fn add_anonymous(&mut self, words: &[&str]) -> Result<usize, String> {
        let expr = AclExpr::parse(words)?;
        self.acls.push(Acl {
            name: format!("{{ {} }}", words.join(" ")),
            exprs: vec![expr],
        });
        Ok(self.acls.len() - 1)
    }

    /// The index of the ACL `name`: a declared one, else a predefined one
    /// (added on first use); unknown names are errors.
    pub(crate) fn find(&mut self, name: &str) -> Result<usize, String> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        if let Some(words) = predefined(name) {
            self.add(name, words)?;
            return Ok(self.by_name[name]);
        }
        if HTTP_PREDEFINED.contains(&name) {
            return Err(format!("ACL '{name}' is HTTP: l4lb is a TCP load balancer"));
        }
        Err(format!("no such ACL: '{name}'"))
    }

    pub(crate) fn get(&self, index: usize) -> &Acl {
        &self.acls[index]
    }

    /// Every ACL, for the caller to resolve the backends and servers their
    /// fetches name (`AclExpr::expr.fetch.refs_mut()`).
    pub(crate) fn acls_mut(&mut self) -> impl Iterator<Item = &mut Acl> {
        self.acls.iter_mut()
    }

    /// Whether ACL `index` reads client bytes.
    pub(crate) fn needs_content(&self, index: usize) -> bool {
        self.acls[index]
            .exprs
            .iter()
            .any(|e| e.expr.fetch.needs_content())
    }

    /// HAProxy's ACL result: the first expression that passes, else MISS if
    /// one may still pass, else FAIL.
    pub(crate) fn test<F: Facts + ?Sized>(
        &self,
        index: usize,
        facts: &F,
        last: bool,
        scratch: &mut Scratch,
    ) -> u8 {
        let mut res = FAIL;
        for e in &self.acls[index].exprs {
            res |= e.test(facts, last, scratch);
            if res == PASS {
                break;
            }
        }
        res
    }
}

pub(crate) fn tri(res: u8) -> Tri {
    match res {
        PASS => Tri::Match,
        MISS => Tri::NeedMore,
        _ => Tri::NoMatch,
    }
}

/// HAProxy's negation: PASS and FAIL swap, MISS stays.
pub(crate) fn neg(res: u8) -> u8 {
    match res {
        PASS => FAIL,
        FAIL => PASS,
        other => other,
    }
}

pub(crate) const TEST_PASS: u8 = PASS;
pub(crate) const TEST_FAIL: u8 = FAIL;
