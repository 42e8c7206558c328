//! The example pack, embedded in the binary so a fresh install has something to run.
//! It is written to `<data>/bundled/examples` (again whenever its content changes).

use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};

use crate::error::EngineError;

static EXAMPLES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../packs/examples");

const MARKER: &str = ".stormdesk-bundle";

/// Writes the example pack under `data` if missing or stale; returns its directory.
pub fn install_examples(data: &Path) -> Result<PathBuf, EngineError> {
    let dir = data.join("bundled").join("examples");
    let stamp = format!("{:016x}", fingerprint());
    if std::fs::read_to_string(dir.join(MARKER)).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| EngineError::io("cannot refresh the bundled example pack", &dir, e))?;
    }
    write_dir(&EXAMPLES, &dir)?;
    std::fs::write(dir.join(MARKER), stamp)
        .map_err(|e| EngineError::io("cannot write the bundled example pack", &dir, e))?;
    Ok(dir)
}

fn write_dir(src: &Dir<'_>, root: &Path) -> Result<(), EngineError> {
    std::fs::create_dir_all(root)
        .map_err(|e| EngineError::io("cannot write the bundled example pack", root, e))?;
    for entry in src.entries() {
        match entry {
            DirEntry::Dir(d) => write_dir(d, root)?,
            DirEntry::File(f) => {
                let path = root.join(f.path());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        EngineError::io("cannot write the bundled example pack", parent, e)
                    })?;
                }
                std::fs::write(&path, f.contents()).map_err(|e| {
                    EngineError::io("cannot write the bundled example pack", &path, e)
                })?;
                // Embedding loses the mode bits; scripts say what they are with a shebang.
                let mode = if f.contents().starts_with(b"#!") {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(
                    |e| EngineError::io("cannot write the bundled example pack", &path, e),
                )?;
            }
        }
    }
    Ok(())
}

fn fingerprint() -> u64 {
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
    walk(&EXAMPLES, &mut h);
    h.finish()
}
