//! Where the configuration comes from, checked once from the command line
//! ([`Source::from_args`]): the `-f` files and directories with the flags
//! that override them, read again by every [`Source::load`] (a reload
//! does), or the quick-start proxy of `--bind` and `--server`, which has
//! nothing to read again. Past `config`, this stands for the command line,
//! so that nothing downstream keeps argh's types.
//!
//! A directory given to `-f` stands for its `*.cfg` files (regular files,
//! names not starting with '.') in lexical order of their names, as
//! HAProxy reads them; it is listed again on each load. Several `-f` are
//! read in the order given, as one configuration whose sections each sit
//! in one file; errors name the file and its line.

use std::path::{Path, PathBuf};

use super::flags::Flags;
use super::{ConfError, Config, conf_error};
use crate::cli::Args;

/// Which running l4lb processes this one replaces, from the command line:
/// `--upgrade-from PID`, HAProxy's `-sf PID...` / `-st PID...`, and `-x
/// SOCKET` (where to ask for their listeners). Checked by
/// `process::upgrade`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Takeover {
    pub upgrade_from: Option<i32>,
    pub finish: Vec<i32>,
    pub terminate: Vec<i32>,
    pub socket: Option<PathBuf>,
}

impl Takeover {
    pub fn from_args(args: &Args) -> Takeover {
        Takeover {
            upgrade_from: args.upgrade_from,
            finish: args.finish.clone(),
            terminate: args.terminate.clone(),
            socket: args.takeover_socket.as_ref().map(PathBuf::from),
        }
    }
}

/// The configuration's origin; see the module's doc.
#[derive(Debug)]
pub struct Source(Origin);

#[derive(Debug)]
enum Origin {
    Files {
        /// Each `-f` as given (for errors) and made absolute, so that a
        /// reload after `chroot` reads the same path inside it.
        paths: Vec<(String, PathBuf)>,
        flags: Flags,
        /// Where the process was chrooted (errors then say so).
        chroot: Option<PathBuf>,
    },
    /// Built from the flags at start; every load gives it again.
    Quick(Box<Config>),
}

impl Source {
    /// Checks the flags (and, without `-f`, builds the quick start).
    /// Returns every error found, not just the first.
    pub fn from_args(args: &Args) -> Result<Source, Vec<ConfError>> {
        let flags = Flags::from_args(args)?;
        let files = args.files();
        if files.is_empty() {
            return Ok(Source(Origin::Quick(Box::new(Config::quick_start(
                args, &flags,
            )?))));
        }
        let paths = files
            .iter()
            .map(|f| {
                let abs = std::path::absolute(f).unwrap_or_else(|_| PathBuf::from(f));
                (f.to_string(), abs)
            })
            .collect();
        Ok(Source(Origin::Files {
            paths,
            flags,
            chroot: None,
        }))
    }

    /// The configuration as it reads now: the files parsed and the flags
    /// applied over them.
    pub fn load(&self) -> Result<Config, Vec<ConfError>> {
        match &self.0 {
            Origin::Files {
                paths,
                flags,
                chroot,
            } => {
                let texts = read_all(paths, chroot.as_deref())?;
                Config::from_files(&texts, flags)
            }
            Origin::Quick(config) => Ok(Config::clone(config)),
        }
    }

    /// The first `-f` as given, to name in errors about the whole file.
    pub fn name(&self) -> &str {
        match &self.0 {
            Origin::Files { paths, .. } => paths.first().map_or("-", |(given, _)| given),
            Origin::Quick(_) => "flags",
        }
    }

    /// The process is (about to be) chrooted in `dir`: later loads read the
    /// same absolute paths inside it, and their errors say so.
    pub fn set_chroot(&mut self, dir: &Path) {
        if let Origin::Files { chroot, .. } = &mut self.0 {
            *chroot = Some(dir.to_path_buf());
        }
    }
}

/// Every file to read, directories expanded, with its text.
fn read_all(
    paths: &[(String, PathBuf)],
    chroot: Option<&Path>,
) -> Result<Vec<(String, Vec<u8>)>, Vec<ConfError>> {
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    let fail = |name: &str, what: String| {
        let note = chroot.map_or(String::new(), |dir| {
            format!(
                " (l4lb runs chrooted in {}: the path is read inside it; to load a conf from \
                 the real root, start a new l4lb with -sf PID)",
                dir.display()
            )
        });
        conf_error(name, 0, "-f", format!("{what}{note}"))
    };
    for (given, abs) in paths {
        match std::fs::metadata(abs) {
            Ok(m) if m.is_dir() => match cfg_files(abs) {
                Ok(files) if files.is_empty() => {
                    errors.push(fail(given, "no *.cfg file in this directory".into()))
                }
                Ok(files) => {
                    for name in files {
                        let shown = Path::new(given).join(&name).display().to_string();
                        match std::fs::read(abs.join(&name)) {
                            Ok(text) => texts.push((shown, text)),
                            Err(e) => errors.push(fail(&shown, format!("cannot open: {e}"))),
                        }
                    }
                }
                Err(e) => errors.push(fail(given, format!("cannot list the directory: {e}"))),
            },
            _ => match std::fs::read(abs) {
                Ok(text) => texts.push((given.clone(), text)),
                Err(e) => errors.push(fail(given, format!("cannot open: {e}"))),
            },
        }
    }
    if errors.is_empty() {
        Ok(texts)
    } else {
        Err(errors)
    }
}

/// The names of `dir`'s `*.cfg` regular files (symbolic links followed),
/// hidden ones left out, sorted bytewise (HAProxy's `alphasort` in the C
/// locale).
fn cfg_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            continue;
        };
        let regular = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        if regular && !name.starts_with('.') && name.ends_with(".cfg") {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}
