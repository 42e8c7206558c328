//! The datastore as parameter templates see it: `{{ st2kv.system.key }}`,
//! `{{ st2kv.user.key }}` and `{{ st2kv.system.secret | decrypt_kv }}`, read
//! on a read-only connection to the store (opened on first use).
//!
//! StackStorm stores secret values encrypted and a template reads the
//! ciphertext until `decrypt_kv` decrypts it. Stormdesk keeps secrets in its
//! private store instead, so a secret read without decryption is an opaque
//! reference ([`SECRET_REF`]`<scope>:<name>`), which `decrypt_kv` turns into
//! the value. A parameter whose template decrypted a secret is itself
//! secret: [`KvStore::take_decrypted`] tells the renderer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use stormdesk_jinja::{Datastore, KvScope};

use crate::keys::KeyScope;

/// What a secret value reads as before `decrypt_kv`.
pub const SECRET_REF: &str = "stormdesk-secret:";

/// The engine's datastore for templates.
pub struct KvStore {
    db: PathBuf,
    /// Whose keys `st2kv.user` reads (stored as `<user>:<name>`).
    user: Option<String>,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
    decrypted: AtomicBool,
}

impl KvStore {
    pub fn new(db: PathBuf) -> KvStore {
        KvStore {
            db,
            user: None,
            conn: Mutex::new(None),
            decrypted: AtomicBool::new(false),
        }
    }

    /// The datastore as `user` sees it: `st2kv.user.<key>` reads that
    /// user's key (StackStorm's `UserKeyValueLookup`).
    pub fn for_user(db: PathBuf, user: Option<String>) -> KvStore {
        KvStore {
            user: user.filter(|u| !u.is_empty()),
            ..KvStore::new(db)
        }
    }

    /// Whether a secret was decrypted since the last call.
    pub fn take_decrypted(&self) -> bool {
        self.decrypted.swap(false, Ordering::SeqCst)
    }

    fn read(
        &self,
        scope: KeyScope,
        name: &str,
    ) -> Result<Option<crate::keys::KeyValuePair>, String> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = guard.get_or_insert_with(|| {
            rusqlite::Connection::open_with_flags(
                &self.db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok()
        });
        let Some(conn) = conn.as_ref() else {
            return Err(format!(
                "the datastore at {} cannot be read",
                self.db.display()
            ));
        };
        let now = crate::keys::timestamp(chrono::Utc::now());
        crate::store::get_key(conn, &self.db, scope, name, &now).map_err(|e| e.to_string())
    }
}

fn scope_of(scope: KvScope) -> KeyScope {
    match scope {
        KvScope::System => KeyScope::System,
        KvScope::User => KeyScope::User,
    }
}

impl Datastore for KvStore {
    fn get(&self, scope: KvScope, key: &str, decrypt: bool) -> Result<Option<String>, String> {
        let scope = scope_of(scope);
        let stored = match (scope, &self.user) {
            (KeyScope::User, Some(user)) => format!("{user}:{key}"),
            _ => key.to_string(),
        };
        let Some(pair) = self.read(scope, &stored)? else {
            return Ok(None);
        };
        if !pair.secret {
            return Ok(Some(pair.value));
        }
        if decrypt {
            self.decrypted.store(true, Ordering::SeqCst);
            return Ok(Some(pair.value));
        }
        Ok(Some(format!("{SECRET_REF}{}:{stored}", scope.as_str())))
    }

    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        let reference = ciphertext.strip_prefix(SECRET_REF).ok_or_else(|| {
            "decrypt_kv takes a secret read from the datastore (e.g. st2kv.system.name | decrypt_kv)"
                .to_string()
        })?;
        let (scope, name) = reference
            .split_once(':')
            .and_then(|(s, n)| KeyScope::parse(s).map(|s| (s, n)))
            .ok_or_else(|| {
                "decrypt_kv was given a value that is not a datastore secret".to_string()
            })?;
        let pair = self
            .read(scope, name)?
            .ok_or_else(|| format!("datastore key {scope}.{name} no longer exists"))?;
        self.decrypted.store(true, Ordering::SeqCst);
        Ok(pair.value)
    }
}
