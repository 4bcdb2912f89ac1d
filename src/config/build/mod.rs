//! Turns the sections of a conf file into a [`Config`]: collects `global`,
//! `defaults` and proxy sections in file order, applies defaults inheritance
//! (`defaults NAME`, `from`), then checks the proxies as a whole (names,
//! binds, default backends, maxconn) and applies the overriding flags.

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use super::flags::{FLAGS, Flags, quick_proxy};
use super::ignored;
use super::keywords::{
    ANONYMOUS_DEFAULTS_REFUSED, Bad, HTTP_SECTIONS, RawPage, backend_servers, default_fullconn,
    global_line, maxqueue_refused, proxy_ids, serves_page, settings_line, stats_page,
};
use super::log::{LogSpec, system_hostname};
use super::log_format::{LineFormat, LogLine};
use super::raw::{
    BE, DEF, FE, Global, LISTEN, Mode, Proxy, Settings, T_CHECK, T_CLIENT, T_CLIENT_FIN, T_CONNECT,
    T_QUEUE, T_SERVER, T_SERVER_FIN, T_TUNNEL, check_name, role_name,
};
use super::text::{self, Kind, Line, Section};
use super::unix_bind;
use super::{
    Backend, Balance, Bind, ConfError, Config, DEFAULT_BUFSIZE, DEFAULT_MAXCONN, DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_CONNECT, Frontend, LogTarget, Logging, SockAddr, conf_error,
};
use crate::cli::Args;

/// A backend's check rules and its servers' check TLS.
mod checks;
/// The checks of the file as a whole, once every section is read.
mod finish;
/// `acl`, `tcp-request`, `use_backend`, `use-server` into `ProxyRules`.
mod routing;

use finish::failed;

impl Config {
    /// Parses conf text; `file` only names it in errors.
    pub(super) fn from_reader<R: Read>(
        file: &str,
        mut rdr: R,
        flags: &Flags,
    ) -> Result<Config, Vec<ConfError>> {
        let mut text = Vec::new();
        if let Err(e) = rdr.read_to_end(&mut text) {
            return Err(vec![conf_error(file, 0, "-f", format!("cannot read: {e}"))]);
        }
        Config::from_files(&[(file.to_string(), text)], flags)
    }

    /// Parses several files as one conf, in order (`-f A -f B`): each
    /// section sits in one file, a `defaults` applies to the sections after
    /// it in later files too. Lines are numbered across the files inside the
    /// builder, and each error is given back its file and line.
    pub(super) fn from_files(
        files: &[(String, Vec<u8>)],
        flags: &Flags,
    ) -> Result<Config, Vec<ConfError>> {
        let mut b = Builder::new(files.first().map_or(FLAGS, |(f, _)| f));
        b.files.clear();
        let mut offset = 0;
        let mut unreadable = false;
        for (file, text) in files {
            let (sections, text_errors) = text::parse_all(text.as_slice());
            for e in &text_errors {
                let keyword = if e.line == 0 { "-f" } else { &e.keyword };
                b.errors
                    .push(conf_error(file, e.line, keyword, e.msg.clone()));
            }
            unreadable |= !text_errors.is_empty();
            b.files.push((offset, file.clone()));
            for mut s in sections {
                s.line += offset;
                for l in &mut s.lines {
                    l.line += offset;
                }
                b.section(&s);
            }
            offset += text.split(|&c| c == b'\n').count();
        }
        if unreadable {
            // The lines that could not be read are missing from their
            // sections: the checks of the files as a whole would report
            // what they held as absent. Only the lines' own errors count.
            let order = |e: &ConfError| files.iter().position(|(f, _)| *f == e.file);
            b.errors.sort_by_key(|e| (order(e), e.line));
            return Err(b.errors);
        }
        // A stats page (or monitor) listens too: HAProxy starts with one
        // alone, and refuses only a conf with no listener at all.
        let listens = b.proxies.iter().any(|p| p.role & FE != 0) || !b.stats_pages.is_empty();
        if !listens && b.errors.is_empty() {
            let msg = "no frontend or listen section (nor a stats page): nothing would accept \
                       connections";
            b.err(0, "frontend", msg.to_string());
        }
        b.finish(flags)
    }

    /// `l4lb --bind A --server B...`: the quick-start proxy, checked as a
    /// file's would be.
    pub(super) fn quick_start(args: &Args, flags: &Flags) -> Result<Config, Vec<ConfError>> {
        let mut b = Builder::new(FLAGS);
        b.proxies.push(quick_proxy(args)?);
        b.finish(flags)
    }
}

/// Collects sections in file order, then checks them as a whole in `finish`.
pub(super) struct Builder {
    /// The files read, in order, each with the number of lines before it:
    /// line numbers run across them (see [`Config::from_files`]).
    files: Vec<(usize, String)>,
    pub(super) errors: Vec<ConfError>,
    global: Global,
    /// The last `defaults` section: what a proxy without `from` inherits.
    defaults: Settings,
    named: HashMap<String, Settings>,
    pub(super) proxies: Vec<Proxy>,
    /// Names of proxies whose header had an error, so were not collected:
    /// a `default_backend` naming one gets no second error.
    failed_names: Vec<String>,
    /// Remarks found while reading the sections, before `finish`.
    warnings: Vec<String>,
    /// `mode http` sections with `stats` lines (see `keywords::stats_page`).
    stats_pages: Vec<RawPage>,
}

impl Builder {
    pub(super) fn new(file: &str) -> Builder {
        Builder {
            files: vec![(0, file.to_string())],
            errors: Vec::new(),
            global: Global::default(),
            defaults: Settings::default(),
            named: HashMap::new(),
            proxies: Vec::new(),
            failed_names: Vec::new(),
            warnings: Vec::new(),
            stats_pages: Vec::new(),
        }
    }

    pub(super) fn err(&mut self, line: usize, keyword: &str, msg: String) {
        let (file, line) = self.locate(line);
        let e = conf_error(file, line, keyword, msg);
        self.errors.push(e);
    }

    /// The file and its own line number of line `line` of all the files.
    fn locate(&self, line: usize) -> (&str, usize) {
        let (offset, file) = self
            .files
            .iter()
            .rev()
            .find(|(offset, _)| *offset < line)
            .or(self.files.first())
            .map_or((0, FLAGS), |(o, f)| (*o, f.as_str()));
        (file, line.saturating_sub(offset))
    }

    /// `line N` in a message, with its file when there are several.
    fn at(&self, line: usize) -> String {
        let (file, n) = self.locate(line);
        if self.files.len() > 1 {
            format!("line {n} of {file}")
        } else {
            format!("line {n}")
        }
    }

    /// Every complaint about `line`.
    fn bad(&mut self, line: &Line, bad: Bad) {
        for b in bad.flatten() {
            let keyword = b.keyword.unwrap_or_else(|| line.words[0].clone());
            self.err(line.line, &keyword, b.msg);
        }
    }

    fn section(&mut self, s: &Section) {
        match &s.kind {
            Kind::Global => self.global_section(s),
            Kind::Defaults => self.defaults_section(s),
            Kind::Frontend => self.proxy_section(s, FE),
            Kind::Backend => self.proxy_section(s, BE),
            Kind::Listen => self.proxy_section(s, LISTEN),
            Kind::Other(kind) if HTTP_SECTIONS.contains(&kind.as_str()) => {
                // What uses them (`http-request cache-use`, `errorfiles`)
                // does nothing in mode tcp, as in HAProxy.
                let name = s.args.first().map_or(String::new(), |n| format!(" {n}"));
                self.warnings.push(format!(
                    "{kind}{name} (line {}): an HTTP-only section, which nothing in a mode tcp \
                     proxy uses; ignored",
                    s.line
                ));
            }
            Kind::Other(kind) => {
                let msg = format!("section '{kind}' is not implemented yet in l4lb; remove it");
                self.err(s.line, kind, msg)
            }
        }
    }

    fn global_section(&mut self, s: &Section) {
        if !s.args.is_empty() {
            self.err(s.line, "global", "takes no argument".to_string());
        }
        for l in &s.lines {
            if let Err(b) = global_line(&mut self.global, &l.words) {
                self.bad(l, b);
            }
        }
    }

    fn defaults_section(&mut self, s: &Section) {
        let (name, mut settings) = self.header(s, DEF);
        self.section_lines(s, DEF, &mut settings, name.is_none());
        if let Some(name) = name {
            if self.named.contains_key(&name) {
                let msg = format!(
                    "a defaults section named '{name}' already exists; names must be unique"
                );
                self.err(s.line, "defaults", msg);
            }
            self.named.insert(name, settings.clone());
        }
        self.defaults = settings;
    }

    fn proxy_section(&mut self, s: &Section, role: u8) {
        let (name, mut settings) = self.header(s, role);
        if serves_page(&s.lines, role, &settings) {
            return self.stats_page_section(s, role, name, &settings);
        }
        self.section_lines(s, role, &mut settings, false);
        let Some(name) = name else {
            return; // `header` reported it
        };
        if role == LISTEN {
            self.refuse_listen_default_backend(s.line, &settings);
        }
        if failed(&settings, "mode") {
            // Its own `mode` line was wrong (`mode tpc`): the mode http it
            // inherits is what that line meant to change, no second error.
            settings.mode = None;
        }
        self.refuse_http_mode(&name, role, s.line, &settings);
        self.check_duplicate(&name, role, s.line);
        self.proxies.push(Proxy {
            role,
            name,
            line: s.line,
            settings,
            quiet: false,
        });
    }

    /// A stats page section: read on its own terms, kept apart from the
    /// proxies; its binds are checked against theirs in `finish`.
    fn stats_page_section(
        &mut self,
        s: &Section,
        role: u8,
        name: Option<String>,
        inherited: &Settings,
    ) {
        let name = name.unwrap_or_default(); // `header` reported a missing one
        match stats_page(s, role, &name, inherited) {
            Ok(page) => self.stats_pages.push(page),
            Err(errors) => {
                for (line, keyword, msg) in errors {
                    self.err(line, &keyword, msg);
                }
            }
        }
    }

    /// The stats pages into `config`: unique names, binds no frontend or
    /// other page has.
    fn finish_stats_pages(&mut self, config: &mut Config, bound: &mut HashMap<SockAddr, usize>) {
        for page in std::mem::take(&mut self.stats_pages) {
            let taken = config.frontends.iter().any(|f| f.name == page.name)
                || config.stats_pages.iter().any(|p| p.name == page.name);
            if taken {
                let msg = format!("duplicate proxy name '{}'; names must be unique", page.name);
                self.err(page.line, "listen", msg);
            }
            for (b, line) in &page.settings.binds {
                if b.addr.inet().is_none() {
                    let msg = format!(
                        "{}: l4lb serves stats pages on IP sockets only; bind the page to IP:PORT",
                        b.addr
                    );
                    self.err(*line, "bind", msg);
                } else if config.stats_http == b.addr.inet() {
                    let msg = format!(
                        "{} is the `stats http` address; bind the page elsewhere",
                        b.addr
                    );
                    self.err(*line, "bind", msg);
                }
                if let Some(first) = bound.insert(b.addr.clone(), *line) {
                    let msg = format!(
                        "{} is already bound at line {first}; bind each address once",
                        b.addr
                    );
                    self.err(*line, "bind", msg);
                }
            }
            config.warnings.extend(page.warning());
            config.stats_pages.push(page.build(config.maxconn));
        }
    }

    /// A proxy whose mode is http, its own `mode` line's or its defaults'.
    /// It is still collected, so that names it holds raise no second error.
    fn refuse_http_mode(&mut self, name: &str, role: u8, header: usize, s: &Settings) {
        let Some((Mode::Http, line)) = s.mode else {
            return;
        };
        let kind = role_name(role);
        let why = "l4lb is a TCP (L4) balancer: mode http is not supported; use mode tcp";
        if line > header {
            self.err(line, "mode", format!("{kind} '{name}': {why}"));
        } else {
            let at = self.at(line);
            let msg = format!("{kind} '{name}' inherits mode http (defaults, {at}): {why}");
            self.err(header, kind, msg);
        }
    }

    /// A listen section's backend is itself; a `default_backend` written in it
    /// (not inherited) would silently be ignored.
    fn refuse_listen_default_backend(&mut self, header: usize, s: &Settings) {
        if let Some((name, line)) = s.default_backend.clone().filter(|(_, line)| *line > header) {
            let msg = format!(
                "a listen section sends to its own servers; to route to backend '{name}' use a frontend section"
            );
            self.err(line, "default_backend", msg);
        }
    }

    fn check_duplicate(&mut self, name: &str, role: u8, line: usize) {
        let Some(first) = self
            .proxies
            .iter()
            .find(|p| p.name == name && p.role & role != 0)
        else {
            return;
        };
        let kind = if first.role & role & FE != 0 {
            "frontend"
        } else {
            "backend"
        };
        let msg = format!(
            "duplicate {kind} name '{name}' (first at {}); names must be unique",
            self.at(first.line)
        );
        self.err(line, role_name(role), msg);
    }

    /// Reads `NAME [from DEFAULTS]`; returns the name and the settings to
    /// start from. On error, goes on from the last defaults to find more.
    fn header(&mut self, s: &Section, role: u8) -> (Option<String>, Settings) {
        let kw = role_name(role);
        let (name, from) = match s.args.as_slice() {
            [] if role == DEF => (None, None),
            [] => {
                self.err(
                    s.line,
                    kw,
                    format!("needs a name: {kw} NAME [from DEFAULTS]"),
                );
                (None, None)
            }
            [name] => (Some(name), None),
            [name, from, def] if from == "from" => (Some(name), Some(def)),
            _ => {
                let name = if role == DEF { "[NAME]" } else { "NAME" };
                self.err(s.line, kw, format!("expects: {kw} {name} [from DEFAULTS]"));
                self.failed_names.push(s.args[0].clone());
                (None, None)
            }
        };
        for n in name.iter().chain(from.iter()) {
            if let Err(msg) = check_name(n) {
                self.err(s.line, kw, msg);
            }
        }
        let base = match from {
            Some(def) => self.named_defaults(def, s.line, kw),
            None if role == DEF => Settings::default(),
            None => self.defaults.clone(),
        };
        (name.cloned(), base)
    }

    fn named_defaults(&mut self, def: &str, line: usize, kw: &str) -> Settings {
        if let Some(s) = self.named.get(def) {
            return s.clone();
        }
        let mut known: Vec<&str> = self.named.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        let msg =
            format!("no defaults section named '{def}' before this line; named defaults: {known}");
        self.err(line, kw, msg);
        self.defaults.clone()
    }

    /// Reads the lines of a defaults or proxy section; the keyword of a
    /// line in error is kept in `failed`, so that what it would have set
    /// is not missed a second time.
    fn section_lines(&mut self, s: &Section, role: u8, settings: &mut Settings, anonymous: bool) {
        // Check rules from a defaults section are replaced by the section's own.
        settings.checks.inherited = true;
        for l in &s.lines {
            let kw = l.words[0].as_str();
            let done = if anonymous && ANONYMOUS_DEFAULTS_REFUSED.contains(&kw) {
                let msg = "not allowed in a defaults section without a name (HAProxy refuses \
                           it too); name it (defaults NAME): the proxies after it read it";
                self.err(l.line, kw, msg.to_string());
                false
            } else if let Err(b) = settings_line(settings, role, l) {
                self.bad(l, b);
                false
            } else {
                true
            };
            if !done && !settings.failed.iter().any(|f| f == kw) {
                settings.failed.push(kw.to_string());
            }
        }
    }
}
