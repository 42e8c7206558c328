//! The packs embedded in the binary: `core` (StackStorm's core action names
//! and parameters, always there as in StackStorm) and `examples` (so a fresh
//! install has something to run). Each is written to `<data>/bundled/<pack>`
//! (again whenever its content changes). A pack of the same name that the user
//! installs or loads takes its place, with a notice (see [`crate::catalog`]).

use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};

use crate::error::EngineError;

static EXAMPLES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../packs/examples");
static CORE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../packs/core");

const MARKER: &str = ".stormdesk-bundle";

/// Writes the example pack under `data` if missing or stale; returns its directory.
pub fn install_examples(data: &Path) -> Result<PathBuf, EngineError> {
    install(data, "examples", &EXAMPLES)
}

/// Writes the bundled `core` pack under `data` if missing or stale; returns its directory.
pub fn install_core(data: &Path) -> Result<PathBuf, EngineError> {
    install(data, "core", &CORE)
}

fn install(data: &Path, name: &str, pack: &Dir<'static>) -> Result<PathBuf, EngineError> {
    let dir = data.join("bundled").join(name);
    let stamp = format!("{:016x}", fingerprint(pack));
    if std::fs::read_to_string(dir.join(MARKER)).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| EngineError::io("cannot refresh a bundled pack", &dir, e))?;
    }
    write_dir(pack, &dir)?;
    std::fs::write(dir.join(MARKER), stamp)
        .map_err(|e| EngineError::io("cannot write a bundled pack", &dir, e))?;
    Ok(dir)
}

fn write_dir(src: &Dir<'_>, root: &Path) -> Result<(), EngineError> {
    std::fs::create_dir_all(root)
        .map_err(|e| EngineError::io("cannot write a bundled pack", root, e))?;
    for entry in src.entries() {
        match entry {
            DirEntry::Dir(d) => write_dir(d, root)?,
            DirEntry::File(f) => {
                let path = root.join(f.path());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| EngineError::io("cannot write a bundled pack", parent, e))?;
                }
                std::fs::write(&path, f.contents())
                    .map_err(|e| EngineError::io("cannot write a bundled pack", &path, e))?;
                // Embedding loses the mode bits; scripts say what they are with a shebang.
                let mode = if f.contents().starts_with(b"#!") {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| EngineError::io("cannot write a bundled pack", &path, e))?;
            }
        }
    }
    Ok(())
}

fn fingerprint(pack: &Dir<'static>) -> u64 {
    fn walk(d: &Dir<'_>, h: &mut std::collections::hash_map::DefaultHasher) {
        for entry in d.entries() {
            match entry {
                DirEntry::Dir(sub) => walk(sub, h),
                DirEntry::File(f) => {
                    f.path().hash(h);
                    f.contents().hash(h);
                }
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    walk(pack, &mut h);
    h.finish()
}
