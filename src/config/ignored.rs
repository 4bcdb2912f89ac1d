//! The settings HAProxy accepts and then ignores: HTTP-only ones in a mode
//! tcp proxy (written there or inherited from a `defaults` section, often
//! one in mode http), and options written where they cannot act (`option
//! tcplog` in a backend). One warning per setting, naming every proxy it
//! is ignored in, so that a mode http `defaults` read by ten mode tcp
//! proxies gives one line per setting, not ten.

use super::raw::{BE, FE, Mode, Proxy, Why, role_name};

/// One warning: a setting, the lines it was written at, and the proxies
/// it is ignored in.
struct Group {
    name: String,
    why: Why,
    /// The proxy the lines are in (as `frontend fe`); None = inherited
    /// from a defaults section.
    owner: Option<String>,
    /// The role of the owner, for a misplaced setting.
    role: u8,
    /// Where the setting acts, for a misplaced setting.
    acts: u8,
    lines: Vec<usize>,
    proxies: Vec<String>,
}

/// The warnings about the ignored settings of `proxies`, in file order.
pub(super) fn warnings(proxies: &[Proxy]) -> Vec<String> {
    let mut groups: Vec<Group> = Vec::new();
    for p in proxies {
        let tcp = !matches!(p.settings.mode, Some((Mode::Http, _)));
        for e in p.settings.ignored.iter().filter(|_| tcp) {
            let own = e.line > p.line;
            let why = match (e.roles & p.role != 0, own) {
                (false, true) => Why::Misplaced,
                // Inherited where it cannot act: unused, as in HAProxy.
                (false, false) => continue,
                (true, _) => e.why,
            };
            let owner = own.then(|| format!("{} {}", role_name(p.role), p.name));
            let found = groups
                .iter_mut()
                .find(|g| g.name == e.name && g.why == why && g.owner == owner);
            let g = match found {
                Some(g) => g,
                None => {
                    groups.push(Group {
                        name: e.name.clone(),
                        why,
                        owner,
                        role: p.role,
                        acts: e.roles,
                        lines: Vec::new(),
                        proxies: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            push_new(&mut g.lines, e.line);
            push_new(&mut g.proxies, p.name.clone());
        }
    }
    groups.sort_by_key(|g| g.lines.iter().min().copied());
    groups.iter().map(Group::message).collect()
}

fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

impl Group {
    fn message(&self) -> String {
        let mut lines = self.lines.clone();
        lines.sort_unstable();
        let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
        let at = match lines.len() {
            1 => format!("line {}", lines[0]),
            _ => format!("lines {}", lines.join(", ")),
        };
        let origin = match &self.owner {
            Some(owner) => format!("{owner} ({at})"),
            None => format!("defaults ({at})"),
        };
        let on = match (&self.owner, self.proxies.len()) {
            (Some(_), _) => "this mode tcp proxy".to_string(),
            (None, 1) => format!("the mode tcp proxy {}", self.proxies[0]),
            (None, _) => format!("the mode tcp proxies {}", self.proxies.join(", ")),
        };
        let name = &self.name;
        match self.why {
            Why::HttpOnly => {
                format!("{origin}: {name} has no effect on {on}; HAProxy ignores it there too")
            }
            Why::HttpRule => format!(
                "{origin}: {name} rules are NOT APPLIED to {on} and filter NOTHING: they deny, \
                 allow, redirect or rewrite no connection, as HAProxy ignores HTTP rules in mode \
                 tcp; every connection they were meant to stop gets through"
            ),
            Why::HttpLog => format!(
                "{origin}: {name} needs mode http; in {on} it falls back to option tcplog, as \
                 in HAProxy"
            ),
            Why::L7Balance => format!(
                "{origin}: {name} needs mode http; in {on} it falls back to balance roundrobin, \
                 as in HAProxy"
            ),
            Why::Misplaced => format!(
                "{origin}: {name} is ignored in a {} section, it acts in {}; HAProxy ignores it \
                 there too",
                role_name(self.role),
                acts_in(self.acts)
            ),
        }
    }
}

fn acts_in(roles: u8) -> &'static str {
    match roles {
        FE => "frontends and listen sections",
        BE => "backends and listen sections",
        _ => "frontends and backends",
    }
}
