//! Where a connection's credentials are kept: the OS keyring (the Secret
//! Service on Linux, the Keychain on macOS, the Credential Manager on
//! Windows, through the `keyring` crate), or, where no keyring service runs
//! (a headless machine, a desktop without one), one file per connection
//! under `<config>/connection-secrets/`, mode 0600 in a 0700 directory.
//! `STORMDESK_KEYRING=off` chooses the file.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConnectionError;

/// The keyring's service name for Stormdesk's entries.
pub const SERVICE: &str = "stormdesk";

/// A connection's secrets: the token and what renews it, or an API key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub expiry: Option<String>,
    /// RFC 3339: when the token was issued (its lifetime, for renewal).
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("user", &self.user)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// Where secrets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Keyring,
    File(PathBuf),
}

/// The store; which backend is decided at the first use (probing the
/// keyring can take a moment where none runs, so not at the app's start).
#[derive(Clone)]
pub struct SecretStore {
    files: PathBuf,
    backend: std::sync::Arc<std::sync::OnceLock<Backend>>,
}

fn keyring_works() -> bool {
    if std::env::var("STORMDESK_KEYRING").as_deref() == Ok("off") {
        return false;
    }
    let Ok(entry) = keyring::Entry::new(SERVICE, "probe") else {
        return false;
    };
    let works = entry.set_password("probe").is_ok()
        && entry.get_password().ok().as_deref() == Some("probe");
    let _ = entry.delete_credential();
    works
}

fn io(what: &'static str, path: &Path, e: impl std::fmt::Display) -> ConnectionError {
    ConnectionError::Io {
        what,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl SecretStore {
    /// The keyring when it works here, else files under `config_dir`.
    pub fn open(config_dir: &Path) -> SecretStore {
        SecretStore {
            files: config_dir.join("connection-secrets"),
            backend: Default::default(),
        }
    }

    pub fn backend(&self) -> &Backend {
        self.backend.get_or_init(|| {
            if keyring_works() {
                Backend::Keyring
            } else {
                Backend::File(self.files.clone())
            }
        })
    }

    fn account(id: &str) -> String {
        format!("connection:{id}")
    }

    fn check_id(id: &str) -> Result<(), ConnectionError> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConnectionError::Invalid(format!(
                "connection id {id:?}: letters, digits, '-' and '_' only"
            )));
        }
        Ok(())
    }

    fn file(dir: &Path, id: &str) -> Result<PathBuf, ConnectionError> {
        Ok(dir.join(format!("{id}.json")))
    }

    pub fn get(&self, id: &str) -> Result<Option<Secret>, ConnectionError> {
        Self::check_id(id)?;
        let text = match self.backend() {
            Backend::Keyring => {
                let entry = keyring::Entry::new(SERVICE, &Self::account(id))
                    .map_err(|e| ConnectionError::Unreachable(format!("the keyring: {e}")))?;
                match entry.get_password() {
                    Ok(t) => t,
                    Err(keyring::Error::NoEntry) => return Ok(None),
                    Err(e) => {
                        return Err(ConnectionError::Unreachable(format!("the keyring: {e}")))
                    }
                }
            }
            Backend::File(dir) => {
                let path = Self::file(dir, id)?;
                match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io("cannot read", &path, e)),
                }
            }
        };
        // A secret that does not parse is dropped: signing in again replaces it.
        Ok(serde_json::from_str(&text).ok())
    }

    pub fn put(&self, id: &str, secret: &Secret) -> Result<(), ConnectionError> {
        Self::check_id(id)?;
        let text = serde_json::to_string(secret).unwrap_or_default();
        match self.backend() {
            Backend::Keyring => keyring::Entry::new(SERVICE, &Self::account(id))
                .and_then(|e| e.set_password(&text))
                .map_err(|e| ConnectionError::Unreachable(format!("the keyring: {e}"))),
            Backend::File(dir) => {
                let path = Self::file(dir, id)?;
                std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| io("cannot restrict", dir, e))?;
                let tmp = path.with_extension("tmp");
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| io("cannot write", &tmp, e))?;
                file.write_all(text.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|e| io("cannot write", &tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io("cannot write", &path, e))
            }
        }
    }

    pub fn delete(&self, id: &str) -> Result<(), ConnectionError> {
        Self::check_id(id)?;
        match self.backend() {
            Backend::Keyring => {
                let entry = keyring::Entry::new(SERVICE, &Self::account(id))
                    .map_err(|e| ConnectionError::Unreachable(format!("the keyring: {e}")))?;
                match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(ConnectionError::Unreachable(format!("the keyring: {e}"))),
                }
            }
            Backend::File(dir) => {
                let path = Self::file(dir, id)?;
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io("cannot remove", &path, e)),
                }
            }
        }
    }
}
