//! The store's single writer: a thread that commits queued operations in batches.

use std::path::PathBuf;
use std::sync::mpsc;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use crate::error::EngineError;
use crate::keys::KeyValuePair;
use crate::model::{Execution, OutputChunk};

/// Largest number of queued operations committed in one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug)]
pub enum WriteOp {
    /// Insert or replace the whole record.
    Upsert {
        execution: Box<Execution>,
        callback_token: Option<String>,
        /// sha256 of the token the action itself uses on the API while it runs.
        action_token_hash: Option<String>,
        runner_pid: Option<u32>,
    },
    /// Chunks already present (same execution and seq) are ignored.
    Output {
        execution_id: String,
        chunks: Vec<OutputChunk>,
    },
    /// Insert or replace a datastore key; expired keys of any name are purged.
    /// `now` is the caller's clock as a stored timestamp.
    KeySet { key: Box<KeyValuePair>, now: String },
    /// A workflow's conductor state, replaced whole.
    Workflow { id: String, state: String },
    /// One statement of the store's own modules (auth); counts the rows changed.
    Exec {
        sql: &'static str,
        args: Vec<rusqlite::types::Value>,
    },
    /// Counts 1 when a key that had not expired was deleted.
    KeyDelete {
        scope: String,
        name: String,
        now: String,
    },
}

/// Each job is answered with the number of rows its operation changed.
type Job = (WriteOp, oneshot::Sender<Result<usize, EngineError>>);

#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    pub(super) fn start(conn: Connection, path: PathBuf) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("stormdesk-store-writer".into())
            .spawn(move || run(conn, path, rx))
            .expect("spawning the store writer thread");
        Writer { tx }
    }

    pub(super) fn submit(
        &self,
        op: WriteOp,
    ) -> Result<oneshot::Receiver<Result<usize, EngineError>>, EngineError> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send((op, done))
            .map_err(|_| EngineError::StoreClosed)?;
        Ok(rx)
    }
}

fn run(mut conn: Connection, path: PathBuf, rx: mpsc::Receiver<Job>) {
    // Ends when every sender (every Store clone) is gone.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit(&mut conn, &batch) {
            Ok(changed) => {
                for ((_, done), n) in batch.into_iter().zip(changed) {
                    let _ = done.send(Ok(n));
                }
            }
            // One operation that cannot be written must not take the others
            // with it: each is tried on its own.
            Err(_) if batch.len() > 1 => {
                for job in batch {
                    let reply = commit(&mut conn, std::slice::from_ref(&job))
                        .map(|changed| changed[0])
                        .map_err(|e| write_failed(&path, &e));
                    let _ = job.1.send(reply);
                }
            }
            Err(e) => {
                let _ = batch
                    .into_iter()
                    .next()
                    .map(|(_, done)| done.send(Err(write_failed(&path, &e))));
            }
        }
    }
}

/// A write that did not commit, said loudly: whoever waits for it keeps what
/// it wanted stored (a runner keeps its spool) and can report it again.
fn write_failed(path: &std::path::Path, e: &rusqlite::Error) -> EngineError {
    let full = matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
    );
    let message = if full {
        format!("the disk is full ({e})")
    } else {
        e.to_string()
    };
    tracing::error!(store = %path.display(), "the store cannot save changes: {message}");
    EngineError::StoreWrite {
        path: path.display().to_string(),
        message,
    }
}

fn commit(conn: &mut Connection, batch: &[Job]) -> Result<Vec<usize>, rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut changed = Vec::with_capacity(batch.len());
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO executions (id, action, pack, status, parent, start_ts, doc, callback_token, runner_pid, action_token_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET status = excluded.status, doc = excluded.doc,
               callback_token = excluded.callback_token, runner_pid = excluded.runner_pid,
               action_token_hash = excluded.action_token_hash",
        )?;
        let mut output = tx.prepare_cached(
            "INSERT OR IGNORE INTO output (execution_id, seq, stream, ts, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (op, _) in batch {
            let n = match op {
                WriteOp::Upsert {
                    execution,
                    callback_token,
                    action_token_hash,
                    runner_pid,
                } => {
                    let doc = serde_json::to_string(execution)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    upsert.execute(params![
                        execution.id,
                        execution.action.ref_,
                        execution.action.pack,
                        super::status_column(execution.status),
                        execution.parent,
                        execution.start_timestamp,
                        doc,
                        callback_token,
                        runner_pid,
                        action_token_hash,
                    ])?
                }
                WriteOp::Output {
                    execution_id,
                    chunks,
                } => {
                    let mut n = 0;
                    for c in chunks {
                        n += output.execute(params![
                            execution_id,
                            c.seq as i64,
                            c.stream.as_str(),
                            c.timestamp,
                            c.data
                        ])?;
                    }
                    n
                }
                WriteOp::KeySet { key, now } => super::keys::write_set(&tx, key, now)?,
                WriteOp::Workflow { id, state } => tx.execute(
                    "INSERT INTO workflows (id, state) VALUES (?1, ?2)
                     ON CONFLICT(id) DO UPDATE SET state = excluded.state",
                    rusqlite::params![id, state],
                )?,
                WriteOp::Exec { sql, args } => {
                    tx.execute(sql, rusqlite::params_from_iter(args.iter()))?
                }
                WriteOp::KeyDelete { scope, name, now } => {
                    super::keys::write_delete(&tx, scope, name, now)?
                }
            };
            changed.push(n);
        }
    }
    tx.commit()?;
    Ok(changed)
}
