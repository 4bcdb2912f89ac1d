//! `pidfile FILE` / `-p FILE`: created before the chroot and the drop of
//! privileges (so its directory may be root's), written with the serving
//! process's pid once it is ready (the daemon's, with `daemon`).
//!
//! As HAProxy, the file is replaced at start (unlinked, then created with
//! mode 0644) and never removed at exit: an upgrade (`-sf $(cat FILE)`)
//! writes the new pid over it, and a stale file names a pid that is gone.
//! Unlike HAProxy, which writes it only in daemon or master-worker mode,
//! l4lb writes it in the foreground too: l4lb is always its own master.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The open pidfile, waiting for the pid.
pub(crate) struct PidFile {
    file: File,
    path: PathBuf,
}

impl PidFile {
    /// Replaces `path` with an empty file.
    pub(crate) fn create(path: &Path) -> io::Result<PidFile> {
        let _ = std::fs::remove_file(path);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("pidfile {}: {e}", path.display())))?;
        Ok(PidFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Writes `pid` and a newline, and closes the file.
    pub(crate) fn write(mut self, pid: i32) -> io::Result<()> {
        writeln!(self.file, "{pid}")
            .map_err(|e| io::Error::new(e.kind(), format!("pidfile {}: {e}", self.path.display())))
    }
}
