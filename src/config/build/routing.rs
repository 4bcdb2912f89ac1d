//! A proxy's routing lines (`acl`, `tcp-request`, `use_backend`,
//! `use-server`) parsed in order into its `ProxyRules`, with the backends
//! and servers they name resolved to indexes. Each error names its line.

use std::sync::Arc;

use super::super::raw::RuleLine;
use super::super::values::parse_time;
use super::*;
use crate::rules::{Action, Cond, Expr, List, NamePart, ProxyRules, Ref, Target, TcpRule};
use crate::rules::{UseBackend, UseServer};

/// What a rule line may refer to.
pub(super) struct Names<'a> {
    pub(super) backends: &'a [Backend],
    /// The proxy's own backend (a listen or backend section).
    pub(super) own: Option<usize>,
}

impl Builder {
    /// The expression of `balance hash` or `persist rdp-cookie`.
    pub(super) fn expr(
        &mut self,
        text: Option<&(String, usize)>,
        keyword: &str,
    ) -> Option<Arc<Expr>> {
        let (text, line) = text?;
        match Expr::parse(text) {
            Ok(e) if !e.fetch.names_proxy() => Some(Arc::new(e)),
            Ok(_) => {
                let msg = format!("'{text}': hash a value of the connection, not a count");
                self.err(*line, keyword, msg);
                None
            }
            Err(msg) => {
                self.err(*line, keyword, msg);
                None
            }
        }
    }

    /// The rules of proxy `p`, or None when it has no routing line. `own`
    /// is its backend's index if it is one.
    pub(super) fn rules(&mut self, p: &Proxy, names: &Names) -> Option<Arc<ProxyRules>> {
        if p.settings.rule_lines.is_empty() {
            return None;
        }
        let mut rules = ProxyRules::default();
        for l in &p.settings.rule_lines {
            let words: Vec<&str> = l.words.iter().map(String::as_str).collect();
            if let Err(msg) = line(&mut rules, &words, names) {
                self.err(l.line, &keyword(l), msg);
            }
        }
        for msg in resolve(&mut rules, names) {
            self.err(p.line, role_name(p.role), msg);
        }
        if rules.has_dynamic_target() {
            rules.backends = names
                .backends
                .iter()
                .enumerate()
                .map(|(i, b)| (b.name.as_bytes().into(), i))
                .collect();
        }
        rules.reads_content = rules.content_needed();
        if rules.reads_content && rules.inspect_delay.is_none() && p.role & FE != 0 {
            let uses = rules.content.iter().any(|r| {
                r.cond
                    .as_ref()
                    .is_some_and(|c| c.needs_content(&rules.acls))
            });
            if uses {
                self.warnings.push(format!(
                    "{} '{}': a tcp-request content rule reads client bytes but there is no \
                     tcp-request inspect-delay: it runs once, with what the client sent by \
                     then (as HAProxy)",
                    role_name(p.role),
                    p.name
                ));
            }
        }
        Some(Arc::new(rules))
    }
}

/// The keyword an error is about: `tcp-request content`, `acl`...
fn keyword(l: &RuleLine) -> String {
    match (l.words[0].as_str(), l.words.get(1)) {
        ("tcp-request", Some(list)) => format!("tcp-request {list}"),
        (kw, _) => kw.to_string(),
    }
}

fn line(rules: &mut ProxyRules, words: &[&str], names: &Names) -> Result<(), String> {
    match words[0] {
        "acl" => rules.acls.add(words[1], &words[2..]),
        "tcp-request" => tcp_request(rules, words),
        "use_backend" => {
            let target = target(words[1], names)?;
            let cond = cond(&words[2..], rules)?;
            rules.use_backend.push(UseBackend { target, cond });
            Ok(())
        }
        "use-server" => {
            let Some(be) = names.own.map(|b| &names.backends[b]) else {
                return Err("use-server needs a backend or listen section".into());
            };
            let server = be
                .servers
                .iter()
                .position(|s| s.name == words[1])
                .ok_or_else(|| format!("no server named '{}' in {}", words[1], be.name))?;
            let cond = cond(&words[2..], rules)?;
            rules.use_server.push(UseServer { server, cond });
            Ok(())
        }
        other => Err(format!("'{other}' is not a routing keyword")),
    }
}

fn tcp_request(rules: &mut ProxyRules, words: &[&str]) -> Result<(), String> {
    let list = match words[1] {
        "inspect-delay" => {
            let t = parse_time(words[2])?;
            rules.inspect_delay = (!t.is_zero()).then_some(t);
            return Ok(());
        }
        "connection" => List::Connection,
        "session" => List::Session,
        _ => List::Content,
    };
    let (action, used) = Action::parse(words[1], &words[2..])?;
    let cond = cond(&words[2 + used..], rules)?;
    if list != List::Content
        && let Some(c) = &cond
        && c.needs_content(&rules.acls)
    {
        return Err(format!(
            "the condition reads client bytes, which tcp-request {} rules run before: \
             use tcp-request content (with tcp-request inspect-delay)",
            words[1]
        ));
    }
    let rule = TcpRule { action, cond };
    match list {
        List::Connection => rules.connection.push(rule),
        List::Session => rules.session.push(rule),
        List::Content => rules.content.push(rule),
    }
    Ok(())
}

/// `if|unless ...`, or nothing.
fn cond(words: &[&str], rules: &mut ProxyRules) -> Result<Option<Cond>, String> {
    match words.first() {
        None => Ok(None),
        Some(&("if" | "unless")) => Cond::parse(words, &mut rules.acls).map(Some),
        Some(w) => Err(format!("'{w}': expected 'if' or 'unless' after the action")),
    }
}

/// A `use_backend` target: a backend's name, or text with `%[EXPR]` parts.
fn target(word: &str, names: &Names) -> Result<Target, String> {
    if !word.contains("%[") {
        let i = names
            .backends
            .iter()
            .position(|b| b.name == word)
            .ok_or_else(|| format!("no backend named '{word}'"))?;
        return Ok(Target::Backend(i));
    }
    let mut parts = Vec::new();
    let mut rest = word;
    while let Some(at) = rest.find("%[") {
        if at > 0 {
            parts.push(NamePart::Text(rest[..at].to_string()));
        }
        let after = &rest[at + 2..];
        let end = after
            .find(']')
            .ok_or_else(|| format!("'{word}': '%[' without its ']'"))?;
        parts.push(NamePart::Expr(Expr::parse(&after[..end])?));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(NamePart::Text(rest.to_string()));
    }
    Ok(Target::Dynamic(parts))
}

/// Resolves the backends and servers the fetches name (an empty backend
/// name is the proxy's own); the messages of those that do not exist.
fn resolve(rules: &mut ProxyRules, names: &Names) -> Vec<String> {
    let find = |name: &str| -> Result<usize, String> {
        if name.is_empty() {
            return names
                .own
                .ok_or_else(|| "a fetch without a backend argument in a frontend: name the backend, e.g. nbsrv(NAME)".to_string());
        }
        names
            .backends
            .iter()
            .position(|b| b.name == name)
            .ok_or_else(|| format!("no backend named '{name}' (in a fetch's argument)"))
    };
    let mut errors = Vec::new();
    for r in rules.refs_mut() {
        match r {
            Ref::Backend(b) => match find(&b.name) {
                Ok(i) => b.id = i,
                Err(e) => errors.push(e),
            },
            Ref::Server(s) => match find(&s.backend.name) {
                Ok(i) => {
                    s.backend.id = i;
                    match names.backends[i]
                        .servers
                        .iter()
                        .position(|x| x.name == s.name)
                    {
                        Some(j) => s.id = j,
                        None => errors.push(format!(
                            "no server named '{}' in backend {} (in srv_is_up)",
                            s.name, names.backends[i].name
                        )),
                    }
                }
                Err(e) => errors.push(e),
            },
        }
    }
    errors
}
