//! SQLite store (WAL): executions and their ordered output chunks.
//!
//! One writer thread owns the write connection and commits whatever is queued in
//! one transaction (batched); readers use their own connection. Records are kept
//! as JSON documents with the columns needed for filtering beside them.

mod auth;
mod keys;
mod legacy;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::datastore_key::DatastoreKey;
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, OutputChunk, SortOrder, Status, Stream};

pub use auth::{ApiKeyRecord, Auth, TokenRecord};
pub(crate) use keys::get_key;
pub use keys::Keys;
pub use writer::WriteOp;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    pack TEXT NOT NULL,
    status TEXT NOT NULL,
    parent TEXT,
    start_ts TEXT NOT NULL,
    doc TEXT NOT NULL,
    callback_token TEXT,
    runner_pid INTEGER
);
CREATE INDEX IF NOT EXISTS executions_status ON executions(status);
CREATE INDEX IF NOT EXISTS executions_parent ON executions(parent);
CREATE INDEX IF NOT EXISTS executions_action ON executions(action);
CREATE TABLE IF NOT EXISTS output (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    stream TEXT NOT NULL,
    ts TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    secret INTEGER NOT NULL DEFAULT 0,
    expire_ts TEXT,
    PRIMARY KEY (scope, name)
);
CREATE INDEX IF NOT EXISTS keys_expire ON keys(expire_ts) WHERE expire_ts IS NOT NULL;
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workflow_log (
    workflow TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ops TEXT NOT NULL,
    PRIMARY KEY (workflow, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    user TEXT NOT NULL,
    expiry TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens(expiry);
CREATE TABLE IF NOT EXISTS apikeys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    user TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
"#;

/// Columns added after the first release, added to older stores at open.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("executions", "action_token_hash", "TEXT"),
    // The first log row a workflow's snapshot does not cover.
    ("workflows", "seq", "INTEGER NOT NULL DEFAULT 0"),
    // A workflow task's name (`context.orquesta.task_name`), for `task()`.
    ("executions", "task", "TEXT"),
    // 1 when a key's value is ciphertext under the datastore key (every
    // secret, once the store has been opened with the key).
    ("keys", "encrypted", "INTEGER NOT NULL DEFAULT 0"),
];

/// Indexes on added columns, made after the columns.
const ADDED_INDEXES: &str = "CREATE INDEX IF NOT EXISTS executions_task ON executions(parent, task) WHERE task IS NOT NULL;";

/// A workflow's latest snapshot and the log rows written after it.
#[derive(Debug, Clone)]
pub struct WorkflowLog {
    /// The snapshot (JSON).
    pub snapshot: String,
    /// The first row the snapshot does not cover.
    pub seq: u64,
    /// `(seq, operations as JSON)`, in order.
    pub rows: Vec<(u64, String)>,
}

/// An execution that was not completed when the engine last stopped.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub execution: Execution,
    pub callback_token: Option<String>,
    pub action_token_hash: Option<String>,
    pub runner_pid: Option<u32>,
}

#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    writer: writer::Writer,
    reader: Arc<Mutex<Connection>>,
}

pub(crate) fn store_err(path: &Path) -> impl Fn(rusqlite::Error) -> EngineError + '_ {
    move |source| EngineError::Store {
        path: path.display().to_string(),
        source,
    }
}

/// Creates the database file with mode 0600 when it is new, and takes other
/// users' access away from an existing one.
fn private_file(path: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::OpenOptionsExt;
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map(drop)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(EngineError::io("cannot create the store", path, e)),
            })?;
    }
    restrict(path);
    Ok(())
}

/// Mode 0600 when the file exists and is ours; anything else is left alone.
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
}

/// A store that cannot take its first write: said with the likely reason.
fn unwritable(path: &Path, e: rusqlite::Error) -> EngineError {
    use rusqlite::ErrorCode;
    let why = match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => {
            " (the file, its folder or its file system is read-only for this user)"
        }
        Some(ErrorCode::DiskFull) => " (the disk is full)",
        // SQLite says "cannot open" when the journal beside the file cannot
        // be created or opened, which a read-only file system causes too.
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            " (this user cannot write the file or its folder, or its file system is read-only)"
        }
        _ => "",
    };
    EngineError::StoreWrite {
        path: path.display().to_string(),
        message: format!("{e}{why}"),
    }
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, EngineError> {
    let conn = Connection::open_with_flags(path, flags).map_err(store_err(path))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(store_err(path))?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the store and starts its writer thread.
    ///
    /// The database and its WAL files are readable by their owner only
    /// (SQLite gives the WAL and shared-memory files the database's mode). A
    /// store that cannot be written (read-only file or directory, full disk)
    /// is refused here, with the reason, rather than failing each write later.
    ///
    /// Secret datastore values an earlier version kept in clear are
    /// encrypted with `key` here, with SQLite's `secure_delete` so the clear
    /// text does not linger in free pages.
    pub fn open(path: &Path, key: &DatastoreKey) -> Result<Store, EngineError> {
        private_file(path)?;
        let conn = open(path, OpenFlags::default())?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(|e| unwritable(path, e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| unwritable(path, e))?;
        conn.execute(
            "INSERT INTO meta (k, v) VALUES ('opened', ?1) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            params![crate::model::now_rfc3339()],
        )
        .map_err(|e| unwritable(path, e))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            restrict(Path::new(&side));
        }
        add_columns(&conn).map_err(store_err(path))?;
        conn.execute_batch(ADDED_INDEXES).map_err(store_err(path))?;
        keys::encrypt_clear_secrets(&conn, key).map_err(|e| unwritable(path, e))?;
        let reader = open(path, OpenFlags::default())?;
        Ok(Store {
            path: path.to_path_buf(),
            writer: writer::Writer::start(conn, path.to_path_buf()),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// Read-only access for tools that only look (CLI `execution get/list`).
    pub fn open_read_only(path: &Path) -> Result<ReadOnlyStore, EngineError> {
        if !path.exists() {
            return Err(EngineError::BadRequest(format!(
                "no store at {}: nothing has run yet with this STORMDESK_HOME",
                path.display()
            )));
        }
        let conn = open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(ReadOnlyStore {
            path: path.to_path_buf(),
            conn,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write; resolves when it is committed.
    pub async fn write(&self, op: WriteOp) -> Result<(), EngineError> {
        self.writer
            .submit(op)?
            .await
            .map_err(|_| EngineError::StoreClosed)?
            .map(drop)
    }

    /// Queues a write without waiting (order with later writes is kept).
    pub fn write_nowait(&self, op: WriteOp) -> Result<(), EngineError> {
        self.writer.submit(op).map(|_| ())
    }

    /// The key-value datastore.
    pub fn keys(&self) -> Keys<'_> {
        Keys { store: self }
    }

    /// Auth tokens and API keys (hashed).
    pub fn auth(&self) -> Auth<'_> {
        Auth { store: self }
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Path) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let reader = self.reader.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn, &path)
        })
        .await
        .map_err(|_| EngineError::StoreClosed)?
    }

    /// A workflow's latest snapshot (JSON), if any.
    pub async fn workflow_state(&self, id: &str) -> Result<Option<String>, EngineError> {
        Ok(self.workflow_log(id).await?.map(|l| l.snapshot))
    }

    /// A workflow's latest snapshot and the log rows after it, in order.
    pub async fn workflow_log(&self, id: &str) -> Result<Option<WorkflowLog>, EngineError> {
        let id = id.to_string();
        self.read(move |c, p| {
            let Some((snapshot, seq)) = c
                .query_row(
                    "SELECT state, seq FROM workflows WHERE id = ?1",
                    [&id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(store_err(p))?
            else {
                return Ok(None);
            };
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, ops FROM workflow_log WHERE workflow = ?1 AND seq >= ?2 ORDER BY seq",
                )
                .map_err(store_err(p))?;
            let rows = stmt
                .query_map(params![id, seq], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
                })
                .map_err(store_err(p))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_err(p))?;
            Ok(Some(WorkflowLog {
                snapshot,
                seq: seq as u64,
                rows,
            }))
        })
        .await
    }

    /// The ids of an execution's children, in start order.
    pub async fn children(&self, id: &str) -> Result<Vec<String>, EngineError> {
        let id = id.to_string();
        self.read(move |c, p| children_of(c, p, &id)).await
    }

    /// Executions by id (those that exist), read in one go.
    pub async fn executions_by_id(&self, ids: Vec<String>) -> Result<Vec<Execution>, EngineError> {
        self.read(move |c, p| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM executions WHERE id = ?1")
                .map_err(store_err(p))?;
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                let doc: Option<String> = stmt
                    .query_row([id], |r| r.get(0))
                    .optional()
                    .map_err(store_err(p))?;
                if let Some(doc) = doc {
                    out.push(parse_doc(&doc, p)?);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn execution(&self, id: &str) -> Result<Option<Execution>, EngineError> {
        let id = id.to_string();
        self.read(move |c, p| get_execution(c, p, &id)).await
    }

    pub async fn executions(&self, filter: ExecutionFilter) -> Result<Vec<Execution>, EngineError> {
        self.read(move |c, p| list_executions(c, p, &filter)).await
    }

    /// How many executions match `filter`, ignoring its `limit` and `offset`.
    pub async fn count_executions(&self, filter: ExecutionFilter) -> Result<u64, EngineError> {
        self.read(move |c, p| count_executions(c, p, &filter)).await
    }

    pub async fn output(
        &self,
        id: &str,
        after_seq: Option<u64>,
    ) -> Result<Vec<OutputChunk>, EngineError> {
        let id = id.to_string();
        self.read(move |c, p| get_output(c, p, &id, after_seq))
            .await
    }

    pub async fn unfinished(&self) -> Result<Vec<Unfinished>, EngineError> {
        self.read(|c, p| {
            let mut stmt = c
                .prepare(
                    "SELECT doc, callback_token, runner_pid, action_token_hash FROM executions
                     WHERE status NOT IN ('succeeded','failed','timeout','canceled','abandoned')",
                )
                .map_err(store_err(p))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<u32>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })
                .map_err(store_err(p))?;
            let mut out = Vec::new();
            for row in rows {
                let (doc, callback_token, runner_pid, action_token_hash) =
                    row.map_err(store_err(p))?;
                out.push(Unfinished {
                    execution: parse_doc(&doc, p)?,
                    callback_token,
                    action_token_hash,
                    runner_pid,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// A store opened read-only, without a writer.
pub struct ReadOnlyStore {
    path: PathBuf,
    conn: Connection,
}

impl ReadOnlyStore {
    pub fn execution(&self, id: &str) -> Result<Option<Execution>, EngineError> {
        get_execution(&self.conn, &self.path, id)
    }
    pub fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, EngineError> {
        list_executions(&self.conn, &self.path, filter)
    }
    pub fn output(&self, id: &str, after: Option<u64>) -> Result<Vec<OutputChunk>, EngineError> {
        get_output(&self.conn, &self.path, id, after)
    }
}

fn add_columns(conn: &Connection) -> Result<(), rusqlite::Error> {
    for (table, column, ty) in ADDED_COLUMNS {
        let present: bool = conn.query_row(
            &format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}

/// Reads a stored record; records written by earlier versions (the action
/// as a bare ref) are brought to the current shape.
fn parse_doc(doc: &str, path: &Path) -> Result<Execution, EngineError> {
    let corrupt = |e: serde_json::Error| {
        EngineError::BadRequest(format!(
            "corrupt execution record in {}: {e}",
            path.display()
        ))
    };
    match serde_json::from_str::<Execution>(doc) {
        Ok(e) => Ok(e),
        Err(first) => {
            let value: serde_json::Value = serde_json::from_str(doc).map_err(corrupt)?;
            if !legacy::is_legacy(&value) {
                return Err(corrupt(first));
            }
            serde_json::from_value(legacy::upgrade(value)).map_err(corrupt)
        }
    }
}

fn get_execution(c: &Connection, p: &Path, id: &str) -> Result<Option<Execution>, EngineError> {
    let doc: Option<String> = c
        .query_row("SELECT doc FROM executions WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(store_err(p))?;
    let Some(doc) = doc else { return Ok(None) };
    let mut execution = parse_doc(&doc, p)?;
    fill_children(c, p, &mut execution)?;
    Ok(Some(execution))
}

/// The latest child execution of `workflow` that ran `task` on `route`.
pub(crate) fn latest_task_child(
    c: &Connection,
    p: &Path,
    workflow: &str,
    task: &str,
    route: u32,
) -> Result<Option<Execution>, EngineError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc FROM executions WHERE parent = ?1 AND task = ?2 ORDER BY rowid DESC",
        )
        .map_err(store_err(p))?;
    let mut rows = stmt.query(params![workflow, task]).map_err(store_err(p))?;
    while let Some(row) = rows.next().map_err(store_err(p))? {
        let execution = parse_doc(&row.get::<_, String>(0).map_err(store_err(p))?, p)?;
        let on_route = execution
            .context
            .get("orquesta")
            .and_then(|o| o.get("task_route"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if on_route == u64::from(route) {
            return Ok(Some(execution));
        }
    }
    Ok(None)
}

/// `children`, as StackStorm's records list them (in start order), from the
/// children's `parent` column: a record is never rewritten when a child
/// starts, so the cost of a workflow step does not grow with its children.
fn fill_children(c: &Connection, p: &Path, execution: &mut Execution) -> Result<(), EngineError> {
    execution.children = children_of(c, p, &execution.id)?;
    Ok(())
}

/// The ids of an execution's children, in start order.
pub(crate) fn children_of(c: &Connection, p: &Path, id: &str) -> Result<Vec<String>, EngineError> {
    let mut stmt = c
        .prepare_cached("SELECT id FROM executions WHERE parent = ?1 ORDER BY rowid")
        .map_err(store_err(p))?;
    let ids = stmt
        .query_map([id], |r| r.get::<_, String>(0))
        .map_err(store_err(p))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store_err(p))?;
    Ok(ids)
}

/// The WHERE clause (after `WHERE 1=1`) and its arguments for `f`.
fn filter_sql(f: &ExecutionFilter) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args: Vec<String> = Vec::new();
    let mut add = |clause: &str, value: String, sql: &mut String| {
        args.push(value);
        sql.push_str(&clause.replace("?N", &format!("?{}", args.len())));
    };
    if let Some(status) = f.status {
        add(" AND status = ?N", status.as_str().to_string(), &mut sql);
    }
    if let Some(action) = &f.action {
        add(" AND action = ?N", action.clone(), &mut sql);
    }
    if let Some(pack) = &f.pack {
        add(" AND pack = ?N", pack.clone(), &mut sql);
    }
    if let Some(parent) = &f.parent {
        add(" AND parent = ?N", parent.clone(), &mut sql);
    }
    if f.roots_only {
        sql.push_str(" AND parent IS NULL");
    }
    if let Some(user) = &f.user {
        add(
            " AND json_extract(doc, '$.context.user') = ?N",
            user.clone(),
            &mut sql,
        );
    }
    if let Some(rev) = &f.content_version {
        add(
            " AND json_extract(doc, '$.parameters.content_version') = ?N",
            rev.clone(),
            &mut sql,
        );
    }
    if let Some(since) = &f.since {
        add(" AND start_ts >= ?N", since.clone(), &mut sql);
    }
    if let Some(until) = &f.until {
        add(" AND start_ts < ?N", until.clone(), &mut sql);
    }
    if let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) {
        // Case-insensitive containment; `%` and `_` in the text match literally.
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        add(
            " AND doc LIKE ?N ESCAPE '\\'",
            format!("%{escaped}%"),
            &mut sql,
        );
    }
    (sql, args)
}

fn list_executions(
    c: &Connection,
    p: &Path,
    f: &ExecutionFilter,
) -> Result<Vec<Execution>, EngineError> {
    // Results can be large; SQLite drops them before the record is decoded.
    let column = if f.exclude_result {
        "json_remove(doc, '$.result')"
    } else {
        "doc"
    };
    let (where_sql, args) = filter_sql(f);
    let order = match f.order {
        SortOrder::Desc => "DESC",
        SortOrder::Asc => "ASC",
    };
    let sql = format!(
        "SELECT {column} FROM executions WHERE 1=1{where_sql} ORDER BY rowid {order} LIMIT {} OFFSET {}",
        f.limit.unwrap_or(100),
        f.offset.unwrap_or(0)
    );
    let mut stmt = c.prepare(&sql).map_err(store_err(p))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, String>(0)
        })
        .map_err(store_err(p))?;
    let mut out = Vec::new();
    for row in rows {
        let mut execution = parse_doc(&row.map_err(store_err(p))?, p)?;
        fill_children(c, p, &mut execution)?;
        out.push(execution);
    }
    Ok(out)
}

fn count_executions(c: &Connection, p: &Path, f: &ExecutionFilter) -> Result<u64, EngineError> {
    let (where_sql, args) = filter_sql(f);
    let sql = format!("SELECT count(*) FROM executions WHERE 1=1{where_sql}");
    c.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
    .map_err(store_err(p))
}

fn get_output(
    c: &Connection,
    p: &Path,
    id: &str,
    after: Option<u64>,
) -> Result<Vec<OutputChunk>, EngineError> {
    let mut stmt = c
        .prepare(
            "SELECT seq, stream, ts, data FROM output
             WHERE execution_id = ?1 AND seq > ?2 ORDER BY seq",
        )
        .map_err(store_err(p))?;
    let after = after.map(|a| a as i64).unwrap_or(-1);
    let rows = stmt
        .query_map(params![id, after], |r| {
            let stream: String = r.get(1)?;
            Ok(OutputChunk {
                seq: r.get::<_, i64>(0)? as u64,
                stream: match stream.as_str() {
                    "stdout" => Stream::Stdout,
                    "stderr" => Stream::Stderr,
                    _ => Stream::Other,
                },
                timestamp: r.get(2)?,
                data: r.get(3)?,
            })
        })
        .map_err(store_err(p))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(store_err(p))
}

pub(crate) fn status_column(s: Status) -> &'static str {
    s.as_str()
}
