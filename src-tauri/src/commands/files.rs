//! Files the operator asks for: a run's whole log, written to the Downloads
//! folder (the webview has no download manager of its own).

use std::path::{Path, PathBuf};

use stormdesk_engine::ErrorBody;
use tauri::{AppHandle, Manager, Runtime};

use super::CommandResult;

/// `name` with anything but letters, digits, `.`, `_` and `-` replaced, so
/// it stays one file in the folder.
pub fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "output.log".to_string()
    } else {
        cleaned
    }
}

/// `dir/name`, or `dir/stem-2.ext`, ... when it exists.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Writes `text` to `name` in `STORMDESK_DOWNLOADS`, else the user's
/// Downloads folder, else the home folder, and returns the path written
/// (`name-2.log` and so on when the name is taken).
#[tauri::command]
pub async fn save_log<R: Runtime>(
    app: AppHandle<R>,
    name: String,
    text: String,
) -> CommandResult<String> {
    let dir = match std::env::var_os("STORMDESK_DOWNLOADS") {
        Some(dir) => PathBuf::from(dir),
        None => app
            .path()
            .download_dir()
            .or_else(|_| app.path().home_dir())
            .map_err(|e| ErrorBody {
                code: "unavailable".into(),
                message: format!("no Downloads or home folder to save {name} in: {e}"),
            })?,
    };
    let path = free_path(&dir, &file_name(&name));
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, text))
        .map_err(|e| ErrorBody {
            code: "unavailable".into(),
            message: format!("cannot write {}: {e}", path.display()),
        })?;
    Ok(path.display().to_string())
}
