//! The rules of one proxy section as the session stages run them: its
//! ACLs, `tcp-request connection|session|content` rules, the inspect
//! delay, `use_backend` and `use-server`. Parsed from the section's lines
//! at load (see `config::build::routing`); run over a connection's `Facts`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::acl::AclTable;
use super::cond::Cond;
use super::convert::Expr;
use super::value::{Facts, Sample, Scratch};
use super::{BackendRef, ServerRef, Tri};

/// What a `tcp-request` rule does when its condition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Stop evaluating this list; the connection goes on.
    Accept,
    /// Close the client with a reset, counted as denied.
    Reject,
    /// `expect-proxy layer4`: a PROXY header comes first (then the next
    /// rules run, as HAProxy's action does not end the list).
    ExpectProxy,
    /// Close without telling the client (no FIN, no RST reaches it).
    SilentDrop,
}

impl Action {
    /// Parses the action words of `tcp-request connection|session|content`;
    /// returns the action and how many words it took.
    pub(crate) fn parse(list: &str, words: &[&str]) -> Result<(Action, usize), String> {
        let action = match words.first().copied() {
            Some("accept") => Action::Accept,
            Some("reject") => Action::Reject,
            Some("silent-drop") => Action::SilentDrop,
            Some("expect-proxy") if list == "connection" => {
                return match words.get(1).copied() {
                    Some("layer4") => Ok((Action::ExpectProxy, 2)),
                    _ => Err("expect-proxy takes 'layer4': expect-proxy layer4".into()),
                };
            }
            Some(a @ ("expect-proxy" | "expect-netscaler-cip")) => {
                return Err(format!(
                    "'{a}' is only for tcp-request connection{}",
                    if a == "expect-netscaler-cip" {
                        ", and l4lb does not read NetScaler headers"
                    } else {
                        ""
                    }
                ));
            }
            Some(a) => return Err(refused_action(a)),
            None => return Err("missing action: accept, reject, silent-drop".into()),
        };
        Ok((action, 1))
    }
}

fn refused_action(a: &str) -> String {
    let why = if a.starts_with("track-sc") || a.starts_with("sc-") {
        "it needs stick tables, which l4lb does not have"
    } else if a.starts_with("set-") || a.starts_with("unset-") {
        "l4lb has no variables, marks or priorities to set"
    } else if a == "capture" || a == "do-resolve" || a == "lua" || a.starts_with("lua.") {
        "l4lb has no captures, resolvers or Lua"
    } else if a == "switch-mode" || a == "use-service" {
        "l4lb never terminates HTTP"
    } else {
        "unknown action"
    };
    format!("action '{a}' is not supported by l4lb: {why}; actions: accept, reject, silent-drop")
}

/// One `tcp-request` rule.
#[derive(Debug)]
pub(crate) struct TcpRule {
    pub(crate) action: Action,
    pub(crate) cond: Option<Cond>,
}

/// Where a `use_backend` sends the session.
#[derive(Debug)]
pub(crate) enum Target {
    /// A backend named in the conf (its index).
    Backend(usize),
    /// `use_backend TEXT%[EXPR]TEXT...`: the backend whose name the
    /// expressions and text make, looked up per session; none of that name
    /// means the rule does not apply (HAProxy's), so the default follows.
    Dynamic(Vec<NamePart>),
}

/// A piece of a dynamic backend name.
#[derive(Debug)]
pub(crate) enum NamePart {
    Text(String),
    Expr(Expr),
}

#[derive(Debug)]
pub(crate) struct UseBackend {
    pub(crate) target: Target,
    pub(crate) cond: Option<Cond>,
}

/// `use-server NAME [if|unless COND]`: the server's index in its backend.
#[derive(Debug)]
pub(crate) struct UseServer {
    pub(crate) server: usize,
    pub(crate) cond: Option<Cond>,
}

/// Which list of `tcp-request` rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum List {
    Connection,
    Session,
    Content,
}

/// What running a rule list decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The session goes on (a rule accepted, or none applied); `proxy`
    /// when an `expect-proxy layer4` rule applied on the way.
    Continue {
        proxy: bool,
    },
    Reject,
    SilentDrop,
    /// A condition needs more client bytes: wait, then run again from rule
    /// `.0` (the rules before it did not apply and cannot come to).
    Wait(usize),
}

/// The rules of one proxy section.
#[derive(Debug, Default)]
pub(crate) struct ProxyRules {
    pub(crate) acls: AclTable,
    pub(crate) connection: Vec<TcpRule>,
    pub(crate) session: Vec<TcpRule>,
    pub(crate) content: Vec<TcpRule>,
    /// `tcp-request inspect-delay`: how long the content rules may wait
    /// for client bytes; None: they run at once with what is there.
    pub(crate) inspect_delay: Option<Duration>,
    pub(crate) use_backend: Vec<UseBackend>,
    pub(crate) use_server: Vec<UseServer>,
    /// Backend names to indexes, for dynamic `use_backend` targets.
    pub(crate) backends: HashMap<Box<[u8]>, usize>,
    /// Some rule reads client bytes (`content_needed`, set at load): the
    /// session then has an inspect stage.
    pub(crate) reads_content: bool,
}

/// Longest backend name a dynamic `use_backend` builds.
const NAME_MAX: usize = 256;

impl ProxyRules {
    pub(crate) fn list(&self, list: List) -> &[TcpRule] {
        match list {
            List::Connection => &self.connection,
            List::Session => &self.session,
            List::Content => &self.content,
        }
    }

    /// The backends the `use_backend` rules name as written (not the
    /// `%[expr]` ones).
    pub(crate) fn named_targets(&self) -> impl Iterator<Item = usize> + '_ {
        self.use_backend.iter().filter_map(|u| match u.target {
            Target::Backend(b) => Some(b),
            Target::Dynamic(_) => None,
        })
    }

    /// Whether a `use_backend` rule makes its backend's name per session.
    pub(crate) fn has_dynamic_target(&self) -> bool {
        self.use_backend
            .iter()
            .any(|u| matches!(u.target, Target::Dynamic(_)))
    }

    /// Whether a condition of these rules is tested: used by the stages
    /// to skip what a section does not have.
    pub(crate) fn has(&self, list: List) -> bool {
        !self.list(list).is_empty()
    }

    /// Runs `list` from rule `from`. `last`: no more client bytes will be
    /// waited for, so a missing content sample is no match.
    pub(crate) fn run<F: Facts + ?Sized>(
        &self,
        list: List,
        from: usize,
        facts: &F,
        last: bool,
        scratch: &mut Scratch,
    ) -> Outcome {
        let mut proxy = false;
        for (i, rule) in self.list(list).iter().enumerate().skip(from) {
            match self.holds(rule.cond.as_ref(), facts, last, scratch) {
                Tri::NoMatch => continue,
                Tri::NeedMore => return Outcome::Wait(i),
                Tri::Match => {}
            }
            match rule.action {
                Action::Accept => return Outcome::Continue { proxy },
                Action::Reject => return Outcome::Reject,
                Action::SilentDrop => return Outcome::SilentDrop,
                Action::ExpectProxy => proxy = true,
            }
        }
        Outcome::Continue { proxy }
    }

    fn holds<F: Facts + ?Sized>(
        &self,
        cond: Option<&Cond>,
        facts: &F,
        last: bool,
        scratch: &mut Scratch,
    ) -> Tri {
        match cond {
            None => Tri::Match,
            Some(c) => c.eval(&self.acls, facts, last, scratch),
        }
    }

    /// The backend of the first `use_backend` rule that applies (conditions
    /// are final here, as HAProxy's switching rules), if any.
    pub(crate) fn route<F: Facts + ?Sized>(
        &self,
        facts: &F,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        for rule in &self.use_backend {
            if self.holds(rule.cond.as_ref(), facts, true, scratch) != Tri::Match {
                continue;
            }
            return match &rule.target {
                Target::Backend(b) => Some(*b),
                Target::Dynamic(parts) => self.dynamic(parts, facts, scratch),
            };
        }
        None
    }

    /// Builds a dynamic backend name in a stack buffer and looks it up.
    fn dynamic<F: Facts + ?Sized>(
        &self,
        parts: &[NamePart],
        facts: &F,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        let mut name = [0u8; NAME_MAX];
        let mut out = &mut name[..];
        for part in parts {
            match part {
                NamePart::Text(t) => out.write_all(t.as_bytes()).ok()?,
                NamePart::Expr(e) => {
                    let sample = e.eval(facts, true, 0, scratch).sample?;
                    write_sample(&mut out, sample)?;
                }
            }
        }
        let len = NAME_MAX - out.len();
        self.backends.get(&name[..len]).copied()
    }

    /// The server of the first `use-server` rule that applies and whose
    /// server `usable` says may take it.
    pub(crate) fn use_server<F: Facts + ?Sized>(
        &self,
        facts: &F,
        scratch: &mut Scratch,
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        self.use_server.iter().find_map(|rule| {
            let applies = self.holds(rule.cond.as_ref(), facts, true, scratch) == Tri::Match;
            (applies && usable(rule.server)).then_some(rule.server)
        })
    }

    /// Every backend and server reference of the fetches in these rules,
    /// for the loader to resolve.
    pub(crate) fn refs_mut(&mut self) -> Vec<Ref<'_>> {
        let mut refs = Vec::new();
        for acl in self.acls.acls_mut() {
            for e in &mut acl.exprs {
                push_refs(&mut e.expr, &mut refs);
            }
        }
        for rule in &mut self.use_backend {
            if let Target::Dynamic(parts) = &mut rule.target {
                for p in parts {
                    if let NamePart::Expr(e) = p {
                        push_refs(e, &mut refs);
                    }
                }
            }
        }
        refs
    }

    /// Whether any rule reads client bytes (the session then has an
    /// inspect stage).
    pub(crate) fn content_needed(&self) -> bool {
        let conds = self
            .content
            .iter()
            .filter_map(|r| r.cond.as_ref())
            .chain(self.use_backend.iter().filter_map(|r| r.cond.as_ref()))
            .chain(self.use_server.iter().filter_map(|r| r.cond.as_ref()));
        conds.into_iter().any(|c| c.needs_content(&self.acls))
    }
}

/// A backend or server name a fetch refers to.
pub(crate) enum Ref<'a> {
    Backend(&'a mut BackendRef),
    Server(&'a mut ServerRef),
}

fn push_refs<'a>(e: &'a mut Expr, refs: &mut Vec<Ref<'a>>) {
    match e.fetch.refs_mut() {
        (Some(b), _) => refs.push(Ref::Backend(b)),
        (_, Some(s)) => refs.push(Ref::Server(s)),
        _ => {}
    }
}

/// Writes a sample as text (a string's bytes, an integer's digits, an
/// address); None when it does not fit.
fn write_sample(out: &mut &mut [u8], sample: Sample<'_>) -> Option<()> {
    match sample {
        Sample::Str(b) | Sample::Bin(b) => out.write_all(b).ok(),
        Sample::Int(n) => write!(out, "{n}").ok(),
        Sample::Ip(ip) => write!(out, "{ip}").ok(),
        Sample::Bool(b) => write!(out, "{}", u8::from(b)).ok(),
    }
}
