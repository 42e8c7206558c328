//! The Python side of the `python-script` runner, embedded in the binary:
//! `wrapper.py` and, under `lib/`, the StackStorm modules packs import
//! (`st2common.*`, `st2actions.runners.pythonrunner`).
//!
//! They are written once per content to `{private dir}/py-{hash}/` (built in
//! a temporary directory and renamed into place, so a reader never sees a
//! half-written tree and concurrent runners race harmlessly).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::scratch::unique;
use crate::RunError;

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../python/", $path)))),*]
    };
}

/// Every file under `crates/runner/python`, by relative path. A unit test
/// checks that this list and the directory agree.
pub(crate) const FILES: &[(&str, &str)] = embed![
    "wrapper.py",
    "lib/st2actions/__init__.py",
    "lib/st2actions/runners/__init__.py",
    "lib/st2actions/runners/pythonrunner.py",
    "lib/st2common/__init__.py",
    "lib/st2common/constants/__init__.py",
    "lib/st2common/constants/action.py",
    "lib/st2common/constants/keyvalue.py",
    "lib/st2common/exceptions/__init__.py",
    "lib/st2common/exceptions/action.py",
    "lib/st2common/exceptions/actionrunner.py",
    "lib/st2common/exceptions/apivalidation.py",
    "lib/st2common/exceptions/connection.py",
    "lib/st2common/exceptions/content.py",
    "lib/st2common/exceptions/db.py",
    "lib/st2common/exceptions/keyvalue.py",
    "lib/st2common/exceptions/param.py",
    "lib/st2common/exceptions/ssh.py",
    "lib/st2common/log.py",
    "lib/st2common/runners/__init__.py",
    "lib/st2common/runners/base_action.py",
    "lib/st2common/runners/utils.py",
    "lib/st2common/services/__init__.py",
    "lib/st2common/services/datastore.py",
    "lib/st2common/util/__init__.py",
    "lib/st2common/util/date.py",
    "lib/st2common/util/isotime.py",
    "lib/st2common/util/jsonify.py",
    "lib/st2common/util/misc.py",
    "lib/st2common/util/shell.py",
];

/// Where the files were written: the wrapper script and the directory to put
/// on `PYTHONPATH` for the StackStorm modules.
pub(crate) struct Installed {
    pub wrapper: PathBuf,
    pub lib: PathBuf,
}

/// Writes the files under `dir` unless this content is already there.
pub(crate) fn install(dir: &Path) -> Result<Installed, RunError> {
    let root = dir.join(format!("py-{:016x}", content_hash()));
    let installed = Installed {
        wrapper: root.join("wrapper.py"),
        lib: root.join("lib"),
    };
    // The marker is written last, so its presence means a complete tree.
    if root.join(".complete").is_file() {
        return Ok(installed);
    }
    let tmp = dir.join(format!(".py-{}-{}.tmp", std::process::id(), unique()));
    let wrap = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::PythonWrapper { path, source }
    };
    if let Err(e) = write_tree(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(wrap(&tmp)(e));
    }
    match fs::rename(&tmp, &root) {
        Ok(()) => Ok(installed),
        Err(_) if root.join(".complete").is_file() => {
            // Another runner put the same content there first.
            let _ = fs::remove_dir_all(&tmp);
            Ok(installed)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(wrap(&root)(e))
        }
    }
}

fn write_tree(tmp: &Path) -> io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(tmp)?;
    for (rel, text) in FILES {
        let path = tmp.join(rel);
        if let Some(parent) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
        write_new(&path, text.as_bytes())?;
    }
    write_new(&tmp.join(".complete"), b"")
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn content_hash() -> u64 {
    FILES.iter().fold(0xcbf2_9ce4_8422_2325, |h, (rel, text)| {
        let h = fnv1a(h, rel.as_bytes());
        let h = fnv1a(h, &[0]);
        fnv1a(h, text.as_bytes())
    })
}

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.py` file under `python/` is embedded, and nothing else.
    #[test]
    fn embedded_list_matches_the_directory() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "__pycache__") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "py") {
                    let rel = path.strip_prefix(&root).unwrap();
                    on_disk.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn install_writes_the_tree_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = install(dir.path()).unwrap();
        assert!(first.wrapper.is_file());
        assert!(first.lib.join("st2common/runners/base_action.py").is_file());
        let again = install(dir.path()).unwrap();
        assert_eq!(again.wrapper, first.wrapper);
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(entries.len(), 1, "no temporary directory left behind");
    }
}
