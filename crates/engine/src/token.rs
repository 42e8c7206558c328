//! API token (a file readable by its owner only) and per-execution callback tokens.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;

use crate::error::EngineError;

pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the API token, creating it (mode 0600) on first use. A token file that
/// others can read is tightened to 0600.
pub fn load_or_create_api_token(path: &Path) -> Result<String, EngineError> {
    match std::fs::read_to_string(path) {
        Ok(token) if !token.trim().is_empty() => {
            let meta = std::fs::metadata(path)
                .map_err(|e| EngineError::io("cannot stat API token", path, e))?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| EngineError::io("cannot restrict API token", path, e))?;
            }
            Ok(token.trim().to_string())
        }
        Ok(_) | Err(_) => {
            let token = random_token();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| EngineError::io("cannot create config directory", dir, e))?;
            }
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| EngineError::io("cannot write API token", &tmp, e))?;
            file.write_all(token.as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(|e| EngineError::io("cannot write API token", &tmp, e))?;
            std::fs::rename(&tmp, path)
                .map_err(|e| EngineError::io("cannot write API token", path, e))?;
            Ok(token)
        }
    }
}

/// How a runner's callback token is kept (in memory and in the store's
/// `executions.callback_token`): `sha256:<hex>`, so the database never holds
/// a token that would let its reader report as the runner.
pub fn callback_token_hash(token: &str) -> String {
    format!("sha256:{}", crate::auth::hash_secret(token))
}

/// A stored callback token as [`callback_token_hash`] keeps it; a clear
/// token written by an earlier version is hashed on the way in. Missing or
/// empty stays empty, which never matches.
pub fn stored_callback_token(stored: Option<String>) -> String {
    match stored {
        Some(t) if t.starts_with("sha256:") => t,
        Some(t) if !t.is_empty() => callback_token_hash(&t),
        _ => String::new(),
    }
}

/// True when `presented` is the clear token whose hash is `kept`. An empty
/// token on either side never matches.
pub fn callback_token_matches(kept: &str, presented: &str) -> bool {
    !presented.is_empty() && tokens_equal(kept, &callback_token_hash(presented))
}

/// Constant-time comparison so a token cannot be guessed byte by byte. An
/// empty token never matches (not even another empty one): a record that lost
/// its token must not open the door to a request that sends none.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.is_empty() || b.is_empty() || a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tokens_never_match() {
        assert!(!tokens_equal("", ""));
        assert!(!tokens_equal("", "x"));
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
    }

    #[test]
    fn callback_tokens_are_kept_hashed_and_match_only_in_clear() {
        let kept = callback_token_hash("tok-123");
        assert!(!kept.contains("tok-123"));
        assert!(callback_token_matches(&kept, "tok-123"));
        assert!(!callback_token_matches(&kept, &kept));
        assert!(!callback_token_matches(&kept, ""));
        assert!(!callback_token_matches("", ""));
        assert_eq!(stored_callback_token(Some("tok-123".into())), kept);
        assert_eq!(stored_callback_token(Some(kept.clone())), kept);
        assert_eq!(stored_callback_token(None), "");
    }
}
