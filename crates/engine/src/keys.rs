//! The key-value datastore (StackStorm's `/v1/keys`): string values by scope and
//! name, with an optional expiry and a secret flag.
//!
//! Python actions reach it through `self.action_service`, workflows later
//! through `st2kv`. Expired keys are invisible from the moment they expire;
//! they are purged lazily on later writes, so nothing sweeps in the background.
//! Secret values are encrypted at rest with the datastore key
//! ([`crate::datastore_key`]) and shown as StackStorm shows them: the
//! ciphertext (`encrypted: true`) unless the caller asks to decrypt them.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::datastore_key::{DatastoreKey, DecryptError};
use crate::engine::Engine;
use crate::error::EngineError;

/// Where a key lives: shown with StackStorm's full names (`st2kv.system`,
/// `st2kv.user`); the short names are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyScope {
    #[serde(rename = "st2kv.system", alias = "system")]
    System,
    #[serde(rename = "st2kv.user", alias = "user")]
    User,
}

impl KeyScope {
    /// The short name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::System => "system",
            KeyScope::User => "user",
        }
    }

    /// StackStorm's full name (`st2kv.system`, `st2kv.user`).
    pub fn full_name(self) -> &'static str {
        match self {
            KeyScope::System => "st2kv.system",
            KeyScope::User => "st2kv.user",
        }
    }

    pub fn parse(s: &str) -> Option<KeyScope> {
        match s {
            "system" | "st2kv.system" => Some(KeyScope::System),
            "user" | "st2kv.user" => Some(KeyScope::User),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key as the API returns it: StackStorm's `KeyValuePairAPI`
/// (`st2common/models/api/keyvalue.py`). A user-scoped key is stored as
/// `<user>:<name>` (StackStorm's `UserKeyReference`) and shown with `name`
/// and `user` apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValuePair {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `key_value_pair:<scope>:<stored name>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub name: String,
    /// A secret key's ciphertext (StackStorm's format) unless it was read
    /// with `decrypt`.
    pub value: String,
    pub scope: KeyScope,
    pub secret: bool,
    /// True when `value` is ciphertext: a secret read without `decrypt`, as
    /// StackStorm shows it.
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// RFC 3339 UTC with microseconds (`2026-01-01T00:00:00.000000Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timestamp: Option<String>,
}

impl KeyValuePair {
    /// The value as StackStorm's `KeyValuePairAPI.from_model` shows it
    /// (`st2common/models/api/keyvalue.py`): a secret is its ciphertext
    /// (`encrypted: true`), or with `decrypt` its clear text. A secret an
    /// earlier version stored in clear is encrypted on the way out.
    pub(crate) fn shown(mut self, key: &DatastoreKey, decrypt: bool) -> Result<Self, DecryptError> {
        if !self.secret {
            self.encrypted = false;
            return Ok(self);
        }
        match (decrypt, self.encrypted) {
            (true, true) => {
                self.value = key.decrypt(&self.value)?;
                self.encrypted = false;
            }
            (false, false) => {
                self.value = key.encrypt(&self.value);
                self.encrypted = true;
            }
            _ => {}
        }
        Ok(self)
    }

    /// The value a template or workflow expression reads (as [`Self::shown`]
    /// gives it) and whether it is a secret's clear text, to be held as a
    /// secret. The error names the key as stored, never the value.
    pub(crate) fn read_value(
        self,
        key: &DatastoreKey,
        decrypt: bool,
    ) -> Result<(String, bool), String> {
        let (scope, secret, name) = (self.scope, self.secret, self.name.clone());
        let shown = self.shown(key, decrypt).map_err(|e| {
            format!("datastore key '{name}' in scope '{scope}' cannot be decrypted: {e}")
        })?;
        Ok((shown.value, secret && decrypt))
    }

    /// The stored pair as the API shows it: ids, and a user key's owner apart.
    pub(crate) fn presented(mut self) -> Self {
        self.uid = format!("key_value_pair:{}:{}", self.scope.full_name(), self.name);
        self.id = crate::model::resource_id("key_value_pair", &self.uid);
        if self.scope == KeyScope::User {
            if let Some((user, name)) = self.name.split_once(':') {
                self.user = Some(user.to_string());
                self.name = name.to_string();
            }
        }
        self
    }
}

/// The stored name of a key: `<user>:<name>` in the user scope.
fn stored_name(scope: KeyScope, user: Option<&str>, name: &str) -> Result<String, EngineError> {
    match scope {
        KeyScope::System => Ok(name.to_string()),
        KeyScope::User => match user.filter(|u| !u.is_empty()) {
            Some(user) => Ok(format!("{user}:{name}")),
            None => Err(EngineError::BadRequest(format!(
                "key '{name}' in scope 'user' needs the user it belongs to"
            ))),
        },
    }
}

/// A key to create or replace.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub scope: KeyScope,
    /// Whose key, in the user scope.
    pub user: Option<String>,
    pub name: String,
    pub value: String,
    pub secret: bool,
    /// `value` is already ciphertext made with the datastore key (StackStorm's
    /// `encrypted`, as `st2 key load` sends exported secrets); implies `secret`.
    pub encrypted: bool,
    /// When the key disappears; `None` keeps it. A time in the past stores a key
    /// that is already invisible.
    pub expire_at: Option<DateTime<Utc>>,
}

impl KeySet {
    pub fn new(scope: KeyScope, name: impl Into<String>, value: impl Into<String>) -> KeySet {
        KeySet {
            scope,
            user: None,
            name: name.into(),
            value: value.into(),
            secret: false,
            encrypted: false,
            expire_at: None,
        }
    }

    /// StackStorm's `ttl`: the key expires `seconds` from now; 0 means never.
    pub fn with_ttl(mut self, seconds: u64) -> Result<KeySet, EngineError> {
        if seconds == 0 {
            self.expire_at = None;
            return Ok(self);
        }
        let expire_at = i64::try_from(seconds)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|ttl| Utc::now().checked_add_signed(ttl))
            // Beyond year 9999 the stored text would no longer sort as time.
            .filter(|at| at.year() <= 9999);
        match expire_at {
            Some(at) => {
                self.expire_at = Some(at);
                Ok(self)
            }
            None => Err(EngineError::BadRequest(format!(
                "key '{}' in scope '{}': ttl {seconds} seconds is too large",
                self.name, self.scope
            ))),
        }
    }
}

/// Which keys to list. `scope: None` lists both scopes (StackStorm's `all`).
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub scope: Option<KeyScope>,
    /// Whose user-scoped keys (none listed without it).
    pub user: Option<String>,
    /// Names starting with this exact text (no wildcards).
    pub prefix: Option<String>,
    /// At most this many; `None` for all.
    pub limit: Option<u32>,
    pub offset: u32,
}

/// Timestamps are stored in this fixed-width form, so text order is time order.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn check_name(scope: KeyScope, name: &str) -> Result<(), EngineError> {
    if name.is_empty() {
        return Err(EngineError::BadRequest(format!(
            "a key in scope '{scope}' needs a non-empty name"
        )));
    }
    Ok(())
}

impl Engine {
    /// `pair` as the API shows it (see [`KeyValuePair::shown`]), ids included.
    fn shown(&self, pair: KeyValuePair, decrypt: bool) -> Result<KeyValuePair, EngineError> {
        let (scope, name) = (pair.scope, pair.name.clone());
        pair.shown(&self.inner.datastore_key, decrypt)
            .map(KeyValuePair::presented)
            .map_err(|e| self.undecryptable(scope, &name, e))
    }

    /// The error for a stored secret that does not decrypt.
    fn undecryptable(&self, scope: KeyScope, stored: &str, e: DecryptError) -> EngineError {
        EngineError::Decrypt(format!(
            "datastore key '{stored}' in scope '{scope}' cannot be decrypted with the datastore key {}: {e}; \
             put the key file it was stored with back in place, or set the key again",
            self.inner.paths.datastore_key_file().display()
        ))
    }

    /// The key, or `None` when it was never set, was deleted or has expired.
    /// A user-scoped key is `user`'s.
    pub async fn key_get(
        &self,
        scope: KeyScope,
        user: Option<&str>,
        name: &str,
        decrypt: bool,
    ) -> Result<Option<KeyValuePair>, EngineError> {
        check_name(scope, name)?;
        let stored = stored_name(scope, user, name)?;
        let now = timestamp(Utc::now());
        let key = self.inner.store.keys().get(scope, &stored, now).await?;
        key.map(|k| self.shown(k, decrypt)).transpose()
    }

    /// Creates or replaces a key; returns it as stored (a secret's value as
    /// its ciphertext). A secret is encrypted before it is stored. A value
    /// sent `encrypted` must decrypt with the datastore key, as StackStorm's
    /// `KeyValuePairAPI.to_model` checks; it is stored as sent.
    pub async fn key_set(&self, set: KeySet) -> Result<KeyValuePair, EngineError> {
        check_name(set.scope, &set.name)?;
        let datastore_key = &self.inner.datastore_key;
        let secret = set.secret || set.encrypted;
        let value = if set.encrypted {
            if datastore_key.decrypt(&set.value).is_err() {
                return Err(EngineError::Refused(format!(
                    "Failed to verify the integrity of the provided value for key \"{}\". Ensure \
                     that the value is encrypted with the correct key and not corrupted.",
                    set.name
                )));
            }
            set.value
        } else if secret {
            datastore_key.encrypt(&set.value)
        } else {
            set.value
        };
        let key = KeyValuePair {
            id: String::new(),
            uid: String::new(),
            name: stored_name(set.scope, set.user.as_deref(), &set.name)?,
            value,
            scope: set.scope,
            secret,
            encrypted: secret,
            user: None,
            expire_timestamp: set.expire_at.map(timestamp),
        };
        let now = timestamp(Utc::now());
        self.inner.store.keys().set(key.clone(), now).await?;
        Ok(key.presented())
    }

    /// Deletes a key; false when there was none (or it had expired).
    pub async fn key_delete(
        &self,
        scope: KeyScope,
        user: Option<&str>,
        name: &str,
    ) -> Result<bool, EngineError> {
        check_name(scope, name)?;
        let stored = stored_name(scope, user, name)?;
        let now = timestamp(Utc::now());
        self.inner.store.keys().delete(scope, &stored, now).await
    }

    /// Keys that have not expired, system scope first, then by name. With no
    /// scope, the system keys and `filter.user`'s keys.
    pub async fn key_list(
        &self,
        filter: KeyFilter,
        decrypt: bool,
    ) -> Result<Vec<KeyValuePair>, EngineError> {
        let now = timestamp(Utc::now());
        let scopes: Vec<KeyScope> = match filter.scope {
            Some(s) => vec![s],
            None => vec![KeyScope::System, KeyScope::User],
        };
        let mut out = Vec::new();
        for scope in scopes {
            let prefix = filter.prefix.clone().unwrap_or_default();
            let prefix = match scope {
                KeyScope::System => prefix,
                KeyScope::User => match &filter.user {
                    Some(user) => format!("{user}:{prefix}"),
                    None => continue,
                },
            };
            let part = KeyFilter {
                scope: Some(scope),
                user: None,
                prefix: Some(prefix).filter(|p| !p.is_empty()),
                limit: None,
                offset: 0,
            };
            out.extend(self.inner.store.keys().list(part, now.clone()).await?);
        }
        out.into_iter()
            .skip(filter.offset as usize)
            .take(filter.limit.map_or(usize::MAX, |l| l as usize))
            .map(|k| self.shown(k, decrypt))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_accept_stackstorm_full_names() {
        assert_eq!(KeyScope::parse("st2kv.system"), Some(KeyScope::System));
        assert_eq!(KeyScope::parse("user"), Some(KeyScope::User));
        assert_eq!(KeyScope::parse("all"), None);
    }

    #[test]
    fn ttl_zero_means_no_expiry() {
        let set = KeySet::new(KeyScope::System, "k", "v").with_ttl(0).unwrap();
        assert_eq!(set.expire_at, None);
        let set = KeySet::new(KeyScope::System, "k", "v")
            .with_ttl(60)
            .unwrap();
        assert!(set.expire_at.unwrap() > Utc::now());
        assert!(KeySet::new(KeyScope::System, "k", "v")
            .with_ttl(u64::MAX)
            .is_err());
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = timestamp(DateTime::from_timestamp(1, 0).unwrap());
        let b = timestamp(DateTime::from_timestamp(1, 500_000).unwrap());
        assert_eq!(a, "1970-01-01T00:00:01.000000Z");
        assert!(a < b);
    }

    #[test]
    fn secrets_show_as_ciphertext_unless_decrypted() {
        let datastore_key = DatastoreKey::generate();
        let clear = KeyValuePair {
            id: String::new(),
            uid: String::new(),
            name: "k".into(),
            value: "hunter2".into(),
            scope: KeyScope::System,
            secret: true,
            encrypted: false,
            user: None,
            expire_timestamp: None,
        };
        let stored = KeyValuePair {
            value: datastore_key.encrypt("hunter2"),
            encrypted: true,
            ..clear.clone()
        };
        for pair in [clear, stored] {
            let hidden = pair.clone().shown(&datastore_key, false).unwrap();
            assert!(hidden.encrypted);
            assert_ne!(hidden.value, "hunter2");
            assert_eq!(datastore_key.decrypt(&hidden.value).unwrap(), "hunter2");
            let shown = pair.shown(&datastore_key, true).unwrap();
            assert_eq!((shown.value.as_str(), shown.encrypted), ("hunter2", false));
        }
    }
}
