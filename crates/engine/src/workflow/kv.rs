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
    /// A re-run from tasks: executions whose tasks `task()` looks up when
    /// `workflow` has not run them (they ran before the re-run), nearest first.
    earlier: Vec<String>,
    /// The workflow's user, whose user-scoped keys `st2kv` reads.
    user: Option<String>,
    /// Decrypts secrets for `st2kv(key, decrypt=true)`.
    key: std::sync::Arc<crate::datastore_key::DatastoreKey>,
    /// Told the clear text of each secret decrypted, a secret of the workflow
    /// from then on (masked in its result and its tasks' records).
    engine: crate::Engine,
    /// Opened on first use; `Some(None)` when it could not be opened.
    conn: Mutex<Option<Option<rusqlite::Connection>>>,
}

impl KvEnv {
    pub fn new(engine: &crate::Engine, workflow: &str, user: Option<String>) -> KvEnv {
        KvEnv {
            db: engine.inner.paths.db(),
            workflow: workflow.to_string(),
            earlier: Vec::new(),
            user,
            key: engine.inner.datastore_key.clone(),
            engine: engine.clone(),
            conn: Mutex::new(None),
        }
    }

    /// Also looks up `task()` results in the children of `earlier`.
    pub fn with_earlier(mut self, earlier: &[String]) -> KvEnv {
        self.earlier = earlier.to_vec();
        self
    }
}

impl Env for KvEnv {
    /// As StackStorm's `st2kv` (`st2common/util/keyvalue.py`, `get_key`):
    /// `system.<name>` reads the system scope; any other key is the workflow
    /// user's (stored as `<user>:<key>`).
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let Some(conn) = self.connection(&mut guard) else {
            return Err(format!(
                "the datastore at {} cannot be read",
                self.db.display()
            ));
        };
        let scope = if key.starts_with("system.") {
            KeyScope::System
        } else {
            KeyScope::User
        };
        let name = self.st2kv_name(key);
        let now = crate::keys::timestamp(chrono::Utc::now());
        let pair =
            crate::store::get_key(conn, &self.db, scope, &name, &now).map_err(|e| e.to_string())?;
        let Some(pair) = pair else {
            return Ok(None);
        };
        // A secret reads as its ciphertext, as in StackStorm, unless decrypted.
        let (value, clear_secret) = pair.read_value(&self.key, decrypt)?;
        if clear_secret {
            self.engine.add_secrets(&self.workflow, vec![value.clone()]);
        }
        Ok(Some(Value::String(value)))
    }

    fn st2kv_name(&self, key: &str) -> String {
        match (key.strip_prefix("system."), &self.user) {
            (Some(name), _) => name.to_string(),
            (None, Some(user)) => format!("{user}:{key}"),
            (None, None) => key.to_string(),
        }
    }

    /// `result`: the stored result of the task's latest child execution on
    /// `route` (a store lookup by the children's `task` column); for a
    /// re-run from tasks, of the execution it continued from when the re-run
    /// has not run the task.
    fn task_execution(&self, task: &str, route: u32) -> Option<Map<String, Value>> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection(&mut guard)?;
        let child = std::iter::once(&self.workflow)
            .chain(&self.earlier)
            .find_map(|workflow| {
                crate::store::latest_task_child(conn, &self.db, workflow, task, route)
                    .unwrap_or_else(|e| {
                        tracing::warn!(workflow = %workflow, task, error = %e, "task() could not read the task's result");
                        None
                    })
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
