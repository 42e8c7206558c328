//! The datastore as parameter templates see it: `{{ st2kv.system.key }}`,
//! `{{ st2kv.user.key }}` and `{{ st2kv.system.secret | decrypt_kv }}`, read
//! on a read-only connection to the store (opened on first use).
//!
//! As in StackStorm, a secret reads as its ciphertext until `decrypt_kv`
//! decrypts it (`st2common/expressions/functions/datastore.py`), and
//! `decrypt_kv` decrypts any value encrypted with the datastore key. A
//! parameter whose template decrypted a secret is itself secret:
//! [`KvStore::take_decrypted`] tells the renderer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use stormdesk_jinja::{Datastore, KvScope};

use crate::datastore_key::DatastoreKey;
use crate::keys::KeyScope;

/// The engine's datastore for templates.
pub struct KvStore {
    db: PathBuf,
    /// Decrypts secrets for `decrypt_kv` and `decrypt=True`.
    key: Arc<DatastoreKey>,
    /// Whose keys `st2kv.user` reads (stored as `<user>:<name>`).
    user: Option<String>,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
    decrypted: AtomicBool,
    /// The clear text of every secret decrypted, for its owner to mask.
    clear: Mutex<Vec<String>>,
}

impl KvStore {
    pub fn new(db: PathBuf, key: Arc<DatastoreKey>) -> KvStore {
        KvStore {
            db,
            key,
            user: None,
            conn: Mutex::new(None),
            decrypted: AtomicBool::new(false),
            clear: Mutex::new(Vec::new()),
        }
    }

    /// The datastore as `user` sees it: `st2kv.user.<key>` reads that
    /// user's key (StackStorm's `UserKeyValueLookup`).
    pub fn for_user(db: PathBuf, key: Arc<DatastoreKey>, user: Option<String>) -> KvStore {
        KvStore {
            user: user.filter(|u| !u.is_empty()),
            ..KvStore::new(db, key)
        }
    }

    /// Whether a secret was decrypted since the last call.
    pub fn take_decrypted(&self) -> bool {
        self.decrypted.swap(false, Ordering::SeqCst)
    }

    /// The clear text of the secrets decrypted since the last call, for the
    /// execution that rendered them to hold as its secrets.
    pub fn take_clear_values(&self) -> Vec<String> {
        std::mem::take(&mut *self.clear.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn decrypted(&self, clear: &str) {
        self.decrypted.store(true, Ordering::SeqCst);
        self.clear
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(clear.to_string());
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
        let (value, clear_secret) = pair.read_value(&self.key, decrypt)?;
        if clear_secret {
            self.decrypted(&value);
        }
        Ok(Some(value))
    }

    /// StackStorm's `decrypt_kv`: the clear text of a value encrypted with
    /// the datastore key (errors name what is wrong with it, never the value).
    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        let clear = self.key.decrypt(ciphertext).map_err(|e| {
            format!(
                "decrypt_kv takes a secret as read from the datastore (e.g. st2kv.system.name | decrypt_kv): {e}"
            )
        })?;
        self.decrypted(&clear);
        Ok(clear)
    }
}
