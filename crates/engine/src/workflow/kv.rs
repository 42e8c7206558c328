//! `st2kv()` in workflow expressions, answered from the datastore on a
//! read-only connection opened on first use.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use stormdesk_workflow::Env;

use crate::keys::KeyScope;

pub(crate) struct KvEnv {
    db: PathBuf,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
}

impl KvEnv {
    pub fn new(engine: &crate::Engine) -> KvEnv {
        KvEnv {
            db: engine.inner.paths.db(),
            conn: Mutex::new(None),
        }
    }
}

impl Env for KvEnv {
    /// `system.<name>` reads the system scope, `user.<name>` the user scope;
    /// a bare name tries the user scope, then the system scope.
    fn st2kv(&self, key: &str, decrypt: bool) -> Option<Value> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = guard
            .get_or_insert_with(|| {
                rusqlite::Connection::open_with_flags(
                    &self.db,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .ok()
            })
            .as_ref()?;
        let candidates: Vec<(KeyScope, &str)> = if let Some(n) = key.strip_prefix("system.") {
            vec![(KeyScope::System, n)]
        } else if let Some(n) = key.strip_prefix("user.") {
            vec![(KeyScope::User, n)]
        } else {
            vec![(KeyScope::User, key), (KeyScope::System, key)]
        };
        let now = crate::keys::timestamp(chrono::Utc::now());
        for (scope, name) in candidates {
            if let Ok(Some(pair)) = crate::store::get_key(conn, &self.db, scope, name, &now) {
                return Some(Value::String(pair.masked(decrypt).value));
            }
        }
        None
    }
}
