//! Conditions: `if|unless TERM...` where terms are ANDed, `||` (or `or`)
//! separates alternatives, `!` negates a term, and a term is a named ACL
//! or an anonymous `{ EXPR [flags] VALUE... }`. Evaluated as HAProxy's
//! `acl_exec_cond`, three-valued.

use super::Tri;
use super::acl::{AclTable, TEST_FAIL, TEST_PASS, neg, tri};
use super::value::{Facts, Scratch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    neg: bool,
    acl: usize,
}

/// A parsed condition; its ACLs live in the proxy's `AclTable`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Cond {
    unless: bool,
    /// ORed suites of ANDed terms.
    suites: Vec<Vec<Term>>,
}

impl Cond {
    /// Parses `if ...` or `unless ...` (`words[0]` is the keyword).
    /// Anonymous ACLs are added to `table`; named ones must be declared
    /// before, or be predefined.
    pub(crate) fn parse(words: &[&str], table: &mut AclTable) -> Result<Cond, String> {
        let unless = match words.first() {
            Some(&"if") => false,
            Some(&"unless") => true,
            Some(w) => return Err(format!("'{w}': expected 'if' or 'unless'")),
            None => return Err("missing condition".into()),
        };
        let mut suites = vec![Vec::new()];
        let mut i = 1;
        while i < words.len() {
            let word = words[i];
            i += 1;
            if word == "||" || word == "or" {
                if suites.last().is_some_and(Vec::is_empty) {
                    return Err(format!("'{word}' without a term before it"));
                }
                suites.push(Vec::new());
                continue;
            }
            let bangs = word.len() - word.trim_start_matches('!').len();
            let mut negate = bangs % 2 == 1;
            let mut name = &word[bangs..];
            if name.is_empty() {
                // A lone `!` negates the next word (which may add its own).
                let Some(next) = words.get(i) else {
                    return Err("'!' without a term after it".into());
                };
                i += 1;
                let more = next.len() - next.trim_start_matches('!').len();
                negate ^= more % 2 == 1;
                name = &next[more..];
            }
            let acl = if name == "{" {
                let close = words[i..]
                    .iter()
                    .position(|w| *w == "}")
                    .ok_or("'{' without its '}'")?;
                let inner = &words[i..i + close];
                i += close + 1;
                if inner.is_empty() {
                    return Err("empty anonymous ACL '{ }'".into());
                }
                table.add_anonymous(inner)?
            } else if name == "}" {
                return Err("'}' without its '{'".into());
            } else {
                table.find(name)?
            };
            suites
                .last_mut()
                .expect("one suite at least")
                .push(Term { neg: negate, acl });
        }
        if suites.iter().any(Vec::is_empty) {
            return Err(if suites.len() == 1 {
                "missing condition".into()
            } else {
                "'||' without a term after it".into()
            });
        }
        Ok(Cond { unless, suites })
    }

    /// Evaluates the condition. `last` is true once no more client bytes
    /// will be waited for (no inspect stage, or its delay is over): then a
    /// missing content sample counts as no match instead of "need more".
    pub(crate) fn eval<F: Facts + ?Sized>(
        &self,
        table: &AclTable,
        facts: &F,
        last: bool,
        scratch: &mut Scratch,
    ) -> Tri {
        let mut cond = TEST_FAIL;
        for suite in &self.suites {
            let mut res = TEST_PASS;
            for term in suite {
                let mut acl = table.test(term.acl, facts, last, scratch);
                if term.neg {
                    acl = neg(acl);
                }
                res &= acl;
                if res != TEST_PASS {
                    break;
                }
            }
            cond |= res;
            if cond == TEST_PASS {
                break;
            }
        }
        if self.unless {
            cond = neg(cond);
        }
        tri(cond)
    }

    /// Whether one of the condition's ACLs reads client bytes (the rule then
    /// belongs to the inspect stage).
    pub(crate) fn needs_content(&self, table: &AclTable) -> bool {
        self.suites
            .iter()
            .flatten()
            .any(|t| table.needs_content(t.acl))
    }
}
