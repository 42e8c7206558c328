//! The interpreter environments are built from, and what identifies it in
//! the environment key (implementation, version, machine and the real path of
//! the executable, which the environment's `bin/python` links to).
//!
//! Asking Python costs a process start (~20 ms), so the answer is kept in
//! `<root>/interpreters.json`, checked against the executable's size, mtime
//! and inode before it is used again. A path that is not the executable
//! itself (a pyenv shim, a wrapper script) may change what it runs at any
//! time, so it is asked every time an engine starts instead.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::PyEnvError;

/// `STORMDESK_PYTHON`: the interpreter environments are built from.
pub const PYTHON_VAR: &str = "STORMDESK_PYTHON";

/// An interpreter as the environments see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// The real executable (symlinks resolved, as Python reports it).
    pub executable: PathBuf,
    /// e.g. `cpython-3.11.2-x86_64`.
    pub identity: String,
    /// `major.minor`, e.g. `3.11`.
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ino: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    #[serde(default)]
    interpreters: BTreeMap<String, (Stamp, Interpreter)>,
}

const PROBE: &str = "import os, platform, sys\n\
print(os.path.realpath(sys.executable))\n\
print('%s-%d.%d.%d-%s' % (platform.python_implementation().lower(), sys.version_info[0], sys.version_info[1], sys.version_info[2], platform.machine()))\n\
print('%d.%d' % sys.version_info[:2])\n";

/// The interpreter to build from: `configured`, else `STORMDESK_PYTHON`, else
/// `python3` on `PATH`, as an absolute path.
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, PyEnvError> {
    let wanted = configured
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(PYTHON_VAR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    if wanted.components().count() > 1 {
        return if wanted.is_file() {
            Ok(wanted)
        } else {
            Err(PyEnvError::NoPython {
                python: wanted.display().to_string(),
                message: "no such file".into(),
            })
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&wanted))
        .find(|p| p.is_file())
        .ok_or_else(|| PyEnvError::NoPython {
            python: wanted.display().to_string(),
            message: "not found on PATH".into(),
        })
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ino: m.ino(),
    })
}

/// What `python` is, from the cache file when it is still right.
pub fn identify(python: &Path, cache_file: &Path) -> Result<Interpreter, PyEnvError> {
    let key = python.display().to_string();
    let real = python.canonicalize().ok();
    let mut cache: Cache = std::fs::read(cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let (Some((old, found)), Some(now)) = (cache.interpreters.get(&key), stamp(python)) {
        // Only an executable that is itself the interpreter can be trusted
        // to stay the same while its file does.
        if *old == now && real.as_deref() == Some(found.executable.as_path()) {
            return Ok(found.clone());
        }
    }
    let found = probe(python)?;
    if real.as_deref() == Some(found.executable.as_path()) {
        if let Some(now) = stamp(python) {
            cache.interpreters.insert(key, (now, found.clone()));
            let _ = write_atomically(
                cache_file,
                &serde_json::to_vec_pretty(&cache).unwrap_or_default(),
            );
        }
    }
    Ok(found)
}

fn probe(python: &Path) -> Result<Interpreter, PyEnvError> {
    let fail = |message: String| PyEnvError::NoPython {
        python: python.display().to_string(),
        message,
    };
    let out = Command::new(python)
        .args(["-I", "-c", PROBE])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(format!(
            "it exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (lines.next(), lines.next(), lines.next()) {
        (Some(exe), Some(identity), Some(version)) if version.starts_with("3.") => {
            Ok(Interpreter {
                executable: PathBuf::from(exe),
                identity: identity.to_string(),
                version: version.to_string(),
            })
        }
        (_, _, Some(version)) => Err(fail(format!("it is Python {version}; Python 3 is needed"))),
        _ => Err(fail(format!("unexpected answer: {text}"))),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
