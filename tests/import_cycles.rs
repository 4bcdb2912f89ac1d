//! The module graph has no cycles (issue 10): every `use crate::...`,
//! `use super::...` and inline `crate::a::b` path in `src/` is an edge from
//! the file's module to the module it names, and the graph of those edges
//! must be acyclic. A module using its own ancestors (a child file reading
//! its parent's types, which is how a Rust type split over files looks) is
//! not counted. Reads the sources only: no build of anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `a::b`; `src/lib.rs` -> ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments, its string literals and its
/// `#[cfg(test)]` module (tests may reach anywhere).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every `crate::a::b...` or `super::a...` path in `code`, as the module
/// path it names relative to the crate root (best effort: the longest
/// prefix that is a known module).
fn references(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    // Paths inside `use a::{b, c::d}` groups are expanded by hand below.
    let bytes = code.as_bytes();
    for start in [("crate::", 0usize), ("super::", 1)] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start.0) {
            let at = from + i;
            from = at + start.0.len();
            // A path start, not the tail of another identifier.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut base: Vec<&str> = if start.1 == 0 {
                Vec::new()
            } else {
                let mut b: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
                b.pop();
                b
            };
            let rest = &code[from..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
                .unwrap_or(rest.len());
            let path = &rest[..end];
            let (head, group) = match path.find('{') {
                Some(j) => (&path[..j], true),
                None => (path, false),
            };
            base.extend(head.split("::").filter(|s| !s.is_empty()));
            let mut targets = vec![base.clone()];
            if group {
                // `use crate::a::{b, c::d, self}`: each member names a path.
                let inner_start = from + head.len() + 1;
                let inner_end = code[inner_start..]
                    .find('}')
                    .map_or(code.len(), |k| inner_start + k);
                for member in code[inner_start..inner_end].split(',') {
                    let member = member.trim();
                    let mut t = base.clone();
                    t.extend(
                        member
                            .split("::")
                            .map(str::trim)
                            .filter(|s| !s.is_empty() && *s != "self"),
                    );
                    targets.push(t);
                }
            }
            for t in targets {
                // The longest prefix that is a module.
                for n in (1..=t.len()).rev() {
                    let candidate = t[..n].join("::");
                    if modules.contains(&candidate) {
                        found.insert(candidate);
                        break;
                    }
                }
            }
        }
    }
    found
}

fn is_ancestor(ancestor: &str, module: &str) -> bool {
    ancestor.is_empty() || module.starts_with(&format!("{ancestor}::")) || ancestor == module
}

/// The module graph: module -> modules it uses (ancestors left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let refs = references(&module, &code(&text), &modules)
            .into_iter()
            .filter(|m| !is_ancestor(m, &module) && !m.is_empty())
            .collect();
        graph.insert(module, refs);
    }
    graph
}

/// The cycles of `graph`, each as a path that returns to its start.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components; a component of two or more
    // modules holds a cycle, shown as one path through it.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.components.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.components
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    assert!(graph.contains_key("session") || graph.keys().any(|k| k.ends_with("session")));
    let found = cycles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            format!("{{{}}}: {}", c.join(", "), edges.join("; "))
        })
        .collect();
    assert!(shown.is_empty(), "import cycles:\n{}", shown.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_and_ignores_ancestors() {
    let modules: BTreeSet<String> = ["a", "b", "a::c"].map(String::from).into();
    let refs = references("a::c", "use super::Thing; use crate::{b, a::c};", &modules);
    assert_eq!(refs, ["a", "a::c", "b"].map(String::from).into());
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("a::c".to_string(), BTreeSet::new());
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
}
