//! `st2kv()` in workflow expressions, answered from the datastore on a
//! read-only connection opened on first use.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use stormdesk_workflow::Env;

use crate::keys::KeyScope;

pub(crate) struct KvEnv {
    db: PathBuf,
    /// The workflow's user, whose user-scoped keys `st2kv` reads.
    user: Option<String>,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
}

impl KvEnv {
    pub fn new(engine: &crate::Engine, user: Option<String>) -> KvEnv {
        KvEnv {
            db: engine.inner.paths.db(),
            user,
            conn: Mutex::new(None),
        }
    }
}

impl Env for KvEnv {
    /// As StackStorm's `st2kv` (`st2common/util/keyvalue.py`, `get_key`):
    /// `system.<name>` reads the system scope; any other key is the workflow
    /// user's (stored as `<user>:<key>`).
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
        let scope = if key.starts_with("system.") {
            KeyScope::System
        } else {
            KeyScope::User
        };
        let name = self.st2kv_name(key);
        let now = crate::keys::timestamp(chrono::Utc::now());
        match crate::store::get_key(conn, &self.db, scope, &name, &now) {
            Ok(Some(pair)) => Some(Value::String(pair.masked(decrypt).value)),
            _ => None,
        }
    }

    fn st2kv_name(&self, key: &str) -> String {
        match (key.strip_prefix("system."), &self.user) {
            (Some(name), _) => name.to_string(),
            (None, Some(user)) => format!("{user}:{key}"),
            (None, None) => key.to_string(),
        }
    }
}
