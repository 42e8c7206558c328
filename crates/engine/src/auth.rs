//! Who may use the API, as in StackStorm (`st2auth`, `st2common/util/auth.py`):
//!
//! - the API token file (`<config>/token`), sent as `Authorization: Bearer`
//!   (Stormdesk's own faces) or as an auth token;
//! - auth tokens from `POST /auth/v1/tokens` (HTTP basic auth with the local
//!   user, created at first start with a generated password in
//!   `<config>/credentials`, mode 0600, or a named user of `<config>/users`,
//!   see [`crate::users`]); each has a TTL (default 24 h);
//! - API keys (`/v1/apikeys`), which do not expire;
//! - the token of a running action (`ST2_ACTION_AUTH_TOKEN`), valid while
//!   that execution runs and limited to what an action may do.
//!
//! Tokens and keys are kept as the sha256 of their value, in memory and in the
//! store; the values themselves are shown once and never logged.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

use chrono::{Duration, Utc};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{new_execution_id, now_rfc3339};
use crate::store::{ApiKeyRecord, TokenRecord};
use crate::token::{random_token, tokens_equal};

/// StackStorm's default token TTL (`auth.token_ttl`), in seconds; also the
/// longest a token may be asked for.
pub const DEFAULT_TOKEN_TTL: u64 = 86_400;

/// The sha256 of a token or key, in hex: what is stored instead of it.
pub fn hash_secret(value: &str) -> String {
    sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The user `POST /auth/v1/tokens` accepts.
#[derive(Clone)]
pub struct LocalUser {
    pub name: String,
    password: String,
}

impl std::fmt::Debug for LocalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LocalUser {
    /// True when `name` and `password` are this user's (constant time on the password).
    pub fn check(&self, name: &str, password: &str) -> bool {
        let password_ok = tokens_equal(password, &self.password);
        name == self.name && password_ok
    }
}

/// Reads the local user from `path` (`username = ...` and `password = ...`
/// lines), creating it on first use: the login name of the account running
/// Stormdesk and a random password, mode 0600. A file others can read is
/// tightened to 0600.
pub fn load_or_create_local_user(path: &Path) -> Result<LocalUser, EngineError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let field = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let (Some(name), Some(password)) = (field("username"), field("password")) {
            let meta = std::fs::metadata(path)
                .map_err(|e| EngineError::io("cannot stat the credentials file", path, e))?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                    |e| EngineError::io("cannot restrict the credentials file", path, e),
                )?;
            }
            return Ok(LocalUser { name, password });
        }
        return Err(EngineError::BadRequest(format!(
            "{} needs a `username = ...` and a `password = ...` line; fix it or delete it to get a new password",
            path.display()
        )));
    }
    let user = LocalUser {
        name: crate::engine::current_user(),
        password: random_token(),
    };
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
        .map_err(|e| EngineError::io("cannot write the credentials file", &tmp, e))?;
    let text = format!(
        "# The user for POST /auth/v1/tokens (`st2 auth`, ST2_AUTH_URL).\nusername = {}\npassword = {}\n",
        user.name, user.password
    );
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| EngineError::io("cannot write the credentials file", &tmp, e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| EngineError::io("cannot write the credentials file", path, e))?;
    Ok(user)
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub kind: IdentityKind,
    /// When the credential stops working (RFC 3339): an auth token's
    /// expiry; `None` for the API token file, API keys and action tokens
    /// (those end with their execution).
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityKind {
    /// The API token file.
    ApiToken,
    /// An auth token from `/auth/v1/tokens`.
    AuthToken,
    ApiKey,
    /// The token of a running action: executions, keys and the catalogue only.
    Action {
        execution_id: String,
    },
}

impl Identity {
    /// An action's token may not manage credentials or packs.
    pub fn is_action(&self) -> bool {
        matches!(self.kind, IdentityKind::Action { .. })
    }
}

/// Tokens and API keys in memory, by hash.
pub(crate) struct AuthState {
    pub user: LocalUser,
    tokens: Mutex<HashMap<String, TokenRecord>>,
    api_keys: Mutex<Vec<ApiKeyRecord>>,
}

impl AuthState {
    pub fn new(user: LocalUser) -> AuthState {
        AuthState {
            user,
            tokens: Mutex::new(HashMap::new()),
            api_keys: Mutex::new(Vec::new()),
        }
    }
}

/// A token as `POST /auth/v1/tokens` returns it: StackStorm's `Token`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IssuedToken {
    pub id: String,
    pub user: String,
    pub token: String,
    pub expiry: String,
    pub metadata: Map<String, Value>,
}

/// A new API key as `POST /v1/apikeys` returns it: the record and, once, the key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
}

impl Engine {
    /// Loads the tokens and API keys kept in the store.
    pub(crate) async fn load_auth(&self) -> Result<(), EngineError> {
        let now = now_rfc3339();
        let tokens = self.inner.store.auth().tokens(&now).await?;
        let keys = self.inner.store.auth().api_keys().await?;
        *self.auth().tokens.lock().unwrap_or_else(|e| e.into_inner()) =
            tokens.into_iter().collect();
        *self
            .auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    fn auth(&self) -> &AuthState {
        &self.inner.auth
    }

    /// The name of the local user (who runs executions started through the API token).
    pub fn local_user(&self) -> &str {
        &self.auth().user.name
    }

    /// A new auth token for `user` after checking `password`; `ttl` seconds
    /// (default and at most [`DEFAULT_TOKEN_TTL`]).
    pub async fn create_token(
        &self,
        user: &str,
        password: &str,
        ttl: Option<u64>,
    ) -> Result<IssuedToken, EngineError> {
        let known = self.auth().user.check(user, password) || {
            // bcrypt is slow by design: off the async threads.
            let path = self.paths().users_file();
            let (name, pw) = (user.to_string(), password.to_string());
            tokio::task::spawn_blocking(move || crate::users::verify(&path, &name, &pw))
                .await
                .map_err(|e| {
                    EngineError::Unauthorized(format!("the password check failed: {e}"))
                })??
        };
        if !known {
            tracing::info!(user = %user, "sign-in refused");
            return Err(EngineError::Unauthorized(
                "invalid or missing credentials: use the username and password in the `credentials` file of Stormdesk's config directory, or a user added with `stormdesk user add NAME`".into(),
            ));
        }
        self.issue_token(user, ttl).await
    }

    /// A new auth token for `user`, whose credentials the caller has already
    /// checked (the console's session: the API token was presented); `ttl`
    /// seconds (default and at most [`DEFAULT_TOKEN_TTL`]).
    pub async fn issue_token(
        &self,
        user: &str,
        ttl: Option<u64>,
    ) -> Result<IssuedToken, EngineError> {
        let ttl = ttl.unwrap_or(DEFAULT_TOKEN_TTL);
        if ttl == 0 || ttl > DEFAULT_TOKEN_TTL {
            return Err(EngineError::BadRequest(format!(
                "ttl {ttl}: a token lives from 1 to {DEFAULT_TOKEN_TTL} seconds; use an API key for longer"
            )));
        }
        let expiry = (Utc::now() + Duration::seconds(ttl as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let token = random_token();
        let record = TokenRecord {
            id: new_execution_id(),
            user: user.to_string(),
            expiry,
            metadata: Map::new(),
        };
        let hash = hash_secret(&token);
        self.inner.store.auth().add_token(&hash, &record).await?;
        self.auth()
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash, record.clone());
        tracing::info!(user = %record.user, token_id = %record.id, "auth token issued");
        Ok(IssuedToken {
            id: record.id,
            user: record.user,
            token,
            expiry: record.expiry,
            metadata: record.metadata,
        })
    }

    /// Who `token` belongs to: the API token, an unexpired auth token, or the
    /// token of a running action.
    pub fn token_identity(&self, token: &str) -> Option<Identity> {
        if tokens_equal(token, self.api_token()) {
            return Some(Identity {
                user: self.local_user().to_string(),
                kind: IdentityKind::ApiToken,
                expiry: None,
            });
        }
        let hash = hash_secret(token);
        {
            let mut tokens = self.auth().tokens.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(t) = tokens.get(&hash) {
                if t.expiry > now_rfc3339() {
                    return Some(Identity {
                        user: t.user.clone(),
                        kind: IdentityKind::AuthToken,
                        expiry: Some(t.expiry.clone()),
                    });
                }
                tokens.remove(&hash);
                return None;
            }
        }
        self.action_identity(&hash)
    }

    /// Who `key` belongs to, if it is an enabled API key.
    pub fn api_key_identity(&self, key: &str) -> Option<Identity> {
        let hash = hash_secret(key);
        let keys = self
            .auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .find(|k| k.enabled && tokens_equal(&k.key_hash, &hash))
            .map(|k| Identity {
                user: k.user.clone(),
                kind: IdentityKind::ApiKey,
                expiry: None,
            })
    }

    /// A new API key for `user`; the key itself is returned only here.
    pub async fn create_api_key(
        &self,
        user: &str,
        metadata: Map<String, Value>,
        enabled: bool,
    ) -> Result<IssuedApiKey, EngineError> {
        let key = random_token();
        let id = new_execution_id();
        let record = ApiKeyRecord {
            uid: format!("api_key:{id}"),
            id,
            user: user.to_string(),
            key_hash: hash_secret(&key),
            metadata,
            created_at: now_rfc3339(),
            enabled,
        };
        self.inner.store.auth().put_api_key(&record).await?;
        self.auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        tracing::info!(user = %record.user, api_key_id = %record.id, "API key created");
        Ok(IssuedApiKey { record, key })
    }

    pub fn api_keys(&self) -> Vec<ApiKeyRecord> {
        self.auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// An API key by id or by the key itself.
    pub fn api_key(&self, id_or_key: &str) -> Result<ApiKeyRecord, EngineError> {
        let hash = hash_secret(id_or_key);
        self.api_keys()
            .into_iter()
            .find(|k| k.id == id_or_key || k.key_hash == hash)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "API key '{id_or_key}' not found: list them with GET /v1/apikeys"
                ))
            })
    }

    /// Enables or disables an API key, or replaces its metadata.
    pub async fn update_api_key(
        &self,
        id_or_key: &str,
        enabled: Option<bool>,
        metadata: Option<Map<String, Value>>,
    ) -> Result<ApiKeyRecord, EngineError> {
        let mut record = self.api_key(id_or_key)?;
        if let Some(enabled) = enabled {
            record.enabled = enabled;
        }
        if let Some(metadata) = metadata {
            record.metadata = metadata;
        }
        self.inner.store.auth().put_api_key(&record).await?;
        let mut keys = self
            .auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys.iter_mut().find(|k| k.id == record.id) {
            *k = record.clone();
        }
        Ok(record)
    }

    pub async fn delete_api_key(&self, id_or_key: &str) -> Result<(), EngineError> {
        let record = self.api_key(id_or_key)?;
        self.inner.store.auth().delete_api_key(&record.id).await?;
        self.auth()
            .api_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k| k.id != record.id);
        Ok(())
    }

    /// The running action whose token hashes to `hash`.
    fn action_identity(&self, hash: &str) -> Option<Identity> {
        let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.iter()
            .find(|(_, l)| {
                !l.execution.status.is_completed()
                    && l.action_token_hash
                        .as_deref()
                        .is_some_and(|h| tokens_equal(h, hash))
            })
            .map(|(id, l)| Identity {
                user: l
                    .execution
                    .user()
                    .unwrap_or(&self.auth().user.name)
                    .to_string(),
                kind: IdentityKind::Action {
                    execution_id: id.clone(),
                },
                expiry: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_user_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let first = load_or_create_local_user(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_local_user(&path).unwrap();
        assert_eq!(first.name, again.name);
        assert!(again.check(&first.name, &first.password));
        assert!(!again.check(&first.name, "wrong"));
        assert!(!format!("{again:?}").contains(&first.password));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
