//! What workflow expressions read from the store: `st2kv()` from the
//! datastore, and `task(name).result` from the task's child execution (the
//! conductor does not keep results), on a read-only connection opened on
//! first use.

use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Map, Value};
use stormdesk_workflow::Env;

use crate::keys::KeyScope;

pub(crate) struct KvEnv {
    db: PathBuf,
    /// The workflow execution whose tasks `task()` looks up.
    workflow: String,
    /// The workflow's user, whose user-scoped keys `st2kv` reads.
    user: Option<String>,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
}

impl KvEnv {
    pub fn new(engine: &crate::Engine, workflow: &str, user: Option<String>) -> KvEnv {
        KvEnv {
            db: engine.inner.paths.db(),
            workflow: workflow.to_string(),
            user,
            conn: Mutex::new(None),
        }
    }
}

impl Env for KvEnv {
    /// `system.<name>` reads the system scope, `user.<name>` the workflow
    /// user's keys (stored as `<user>:<name>`); a bare name tries the user
    /// scope, then the system scope.
    fn st2kv(&self, key: &str, decrypt: bool) -> Option<Value> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection(&mut guard)?;
        let user_key = |n: &str| match &self.user {
            Some(u) => format!("{u}:{n}"),
            None => n.to_string(),
        };
        let candidates: Vec<(KeyScope, String)> = if let Some(n) = key.strip_prefix("system.") {
            vec![(KeyScope::System, n.to_string())]
        } else if let Some(n) = key.strip_prefix("user.") {
            vec![(KeyScope::User, user_key(n))]
        } else {
            vec![
                (KeyScope::User, user_key(key)),
                (KeyScope::System, key.to_string()),
            ]
        };
        let now = crate::keys::timestamp(chrono::Utc::now());
        for (scope, name) in candidates {
            if let Ok(Some(pair)) = crate::store::get_key(conn, &self.db, scope, &name, &now) {
                return Some(Value::String(pair.masked(decrypt).value));
            }
        }
        None
    }

    /// `result`: the stored result of the task's latest child execution on
    /// `route` (a store lookup by the children's `task` column).
    fn task_execution(&self, task: &str, route: u32) -> Option<Map<String, Value>> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection(&mut guard)?;
        let child = crate::store::latest_task_child(conn, &self.db, &self.workflow, task, route)
            .unwrap_or_else(|e| {
                tracing::warn!(workflow = %self.workflow, task, error = %e, "task() could not read the task's result");
                None
            })?;
        let mut out = Map::new();
        out.insert("result".into(), child.result);
        Some(out)
    }
}

impl KvEnv {
    fn connection<'a>(
        &self,
        slot: &'a mut Option<Option<rusqlite::Connection>>,
    ) -> Option<&'a rusqlite::Connection> {
        slot.get_or_insert_with(|| {
            rusqlite::Connection::open_with_flags(
                &self.db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok()
        })
        .as_ref()
    }
}
