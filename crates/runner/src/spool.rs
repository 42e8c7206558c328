//! The spool: where a runner leaves what the callback listener did not take,
//! one [`SpoolRecord`] per execution at `{spool_dir}/{execution_id}.json`.
//!
//! Files appear atomically (written to a hidden temp file in the same
//! directory, fsynced, renamed, directory fsynced), so a reader never sees a
//! partial record; names starting with `.` are temp files and not records.
//!
//! A record is also written when the final update got through but some output
//! chunks did not, so readers must apply records idempotently: ignore a final
//! update the execution already has, and skip chunks whose `seq` is known.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::protocol::SpoolRecord;

/// Where the record of `execution_id` goes, or an error when the id could
/// escape the directory.
pub fn record_path(spool_dir: &Path, execution_id: &str) -> io::Result<PathBuf> {
    let safe = !execution_id.is_empty()
        && !execution_id.starts_with('.')
        && !execution_id.contains(['/', '\\', '\0']);
    if !safe {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("execution id `{execution_id}` cannot be used as a spool file name"),
        ));
    }
    Ok(spool_dir.join(format!("{execution_id}.json")))
}

/// Writes `record` atomically and durably; returns the file's path.
pub fn write(spool_dir: &Path, record: &SpoolRecord) -> io::Result<PathBuf> {
    let path = record_path(spool_dir, &record.execution_id)?;
    fs::create_dir_all(spool_dir)?;
    let tmp = spool_dir.join(format!(
        ".{}.json.{}.tmp",
        record.execution_id,
        std::process::id()
    ));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        serde_json::to_writer(&mut file, record)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        // Make the rename itself durable.
        fs::File::open(spool_dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

/// Reads one record.
pub fn read(path: &Path) -> io::Result<SpoolRecord> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Paths of all complete records in `spool_dir` (none if it does not exist).
pub fn list(spool_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(spool_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(".");
        if !name.starts_with('.') && name.ends_with(".json") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}
