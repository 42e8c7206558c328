//! The runner's private scratch directory and the short-lived files in it
//! (the Python wrapper and its result file, ssh key material, the askpass
//! helper).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `{tmp}/stormdesk-runner-{uid}`, created 0700 and refused when someone else
/// could have planted files in it.
pub(crate) fn private_dir() -> Result<PathBuf, (PathBuf, io::Error)> {
    let uid = nix::unistd::getuid().as_raw();
    let dir = std::env::temp_dir().join(format!("stormdesk-runner-{uid}"));
    let fail = |e: io::Error| (dir.clone(), e);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(e)),
    }
    let meta = fs::symlink_metadata(&dir).map_err(fail)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(fail(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it is not a directory owned by this user and closed to others; remove it",
        )));
    }
    Ok(dir)
}

/// A name part unique within this process and unlikely across processes.
pub(crate) fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A file created exclusively with `mode` in `dir`, removed when dropped.
#[cfg_attr(
    not(any(feature = "remote-shell-cmd", feature = "remote-shell-script")),
    allow(dead_code)
)]
pub(crate) struct ScratchFile {
    pub path: PathBuf,
}

#[cfg_attr(
    not(any(feature = "remote-shell-cmd", feature = "remote-shell-script")),
    allow(dead_code)
)]
impl ScratchFile {
    pub fn create(dir: &Path, prefix: &str, content: &[u8], mode: u32) -> io::Result<Self> {
        let path = dir.join(format!("{prefix}-{}-{}", std::process::id(), unique()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        let file = ScratchFile { path };
        f.write_all(content)?;
        f.sync_all()?;
        Ok(file)
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
