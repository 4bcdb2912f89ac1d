//! ACLs and conditions (issue 13): fetches, converters, patterns, and the
//! conditions `if` / `unless` that rules use. Parsed once at load (errors
//! are strings naming the wrong word; the caller adds file:line), evaluated
//! per connection over the caller's `Facts` without allocating.
//!
//! - `value`: samples, the `Facts` a connection offers, the scratch buffer.
//! - `fetch` (L4 fetches, arguments) and `content` (client bytes, TLS hello,
//!   RDP cookie).
//! - `pattern` (match methods) with `ip` (network sets and maps).
//! - `map` (map and pattern files) and `convert` (converters, expressions).
//! - `acl` (ACL lines, the per-proxy table, predefined ACLs) and `cond`.
//! - `ruleset`: a proxy's `tcp-request`, `use_backend` and `use-server`
//!   rules, as the session stages run them.

mod acl;
mod cond;
mod content;
mod convert;
mod fetch;
mod ip;
mod map;
mod pattern;
mod ruleset;
mod value;

#[cfg(test)]
mod tests;

// The API the conf keywords and the session stages use (issue 13).
#[allow(unused_imports)]
pub(crate) use acl::{Acl, AclExpr, AclTable};
#[allow(unused_imports)]
pub(crate) use cond::Cond;
#[allow(unused_imports)]
pub(crate) use content::DataAt;
#[allow(unused_imports)]
pub(crate) use convert::{Conv, Expr};
#[allow(unused_imports)]
pub(crate) use fetch::Fetch;
#[allow(unused_imports)]
pub(crate) use pattern::Method;
pub(crate) use ruleset::{
    Action, List, NamePart, Outcome, ProxyRules, Ref, Target, TcpRule, UseBackend, UseServer,
};
#[allow(unused_imports)]
pub(crate) use value::{
    BackendRef, Facts, Fetched, Hello, HelloView, OutBuf, PeerFacts, Sample, Scratch, ServerRef,
    Stash, itoa,
};

/// A condition's result, as HAProxy's: the rule applies, does not, or must
/// wait for more client bytes (only before the inspect delay is over).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tri {
    Match,
    NoMatch,
    NeedMore,
}
