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
    /// One row of a workflow's log (`seq` counts from the first snapshot).
    WorkflowLog { id: String, seq: u64, ops: String },
    /// A workflow's snapshot, covering its log rows before `seq`; those rows go.
    WorkflowSnapshot { id: String, seq: u64, state: String },
    /// Operations committed together or not at all, in order.
    Batch(Vec<WriteOp>),
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
    for (op, _) in batch {
        changed.push(apply(&tx, op)?);
    }
    tx.commit()?;
    Ok(changed)
}

/// Applies one operation in the open transaction; returns the rows changed.
fn apply(tx: &rusqlite::Transaction<'_>, op: &WriteOp) -> Result<usize, rusqlite::Error> {
    Ok(match op {
        WriteOp::Upsert {
            execution,
            callback_token,
            action_token_hash,
            runner_pid,
        } => {
            let doc = serde_json::to_string(execution)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT INTO executions (id, action, pack, status, parent, start_ts, doc, callback_token, runner_pid, action_token_hash, task)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(id) DO UPDATE SET status = excluded.status, doc = excluded.doc,
                   callback_token = excluded.callback_token, runner_pid = excluded.runner_pid,
                   action_token_hash = excluded.action_token_hash",
            )?
            .execute(params![
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
                execution.task_name(),
            ])?
        }
        WriteOp::Output {
            execution_id,
            chunks,
        } => {
            let mut output = tx.prepare_cached(
                "INSERT OR IGNORE INTO output (execution_id, seq, stream, ts, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
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
        WriteOp::KeySet { key, now } => super::keys::write_set(tx, key, now)?,
        WriteOp::WorkflowLog { id, seq, ops } => tx
            .prepare_cached(
                "INSERT OR REPLACE INTO workflow_log (workflow, seq, ops) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, *seq as i64, ops])?,
        WriteOp::WorkflowSnapshot { id, seq, state } => {
            let n = tx
                .prepare_cached(
                    "INSERT INTO workflows (id, state, seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO UPDATE SET state = excluded.state, seq = excluded.seq",
                )?
                .execute(params![id, state, *seq as i64])?;
            tx.prepare_cached("DELETE FROM workflow_log WHERE workflow = ?1 AND seq < ?2")?
                .execute(params![id, *seq as i64])?;
            n
        }
        WriteOp::Batch(ops) => {
            // In order, nested batches included, with a stack rather than recursion.
            let mut n = 0;
            let mut stack: Vec<std::slice::Iter<'_, WriteOp>> = vec![ops.iter()];
            while let Some(top) = stack.last_mut() {
                match top.next() {
                    None => {
                        stack.pop();
                    }
                    Some(WriteOp::Batch(inner)) => stack.push(inner.iter()),
                    Some(op) => n += apply(tx, op)?,
                }
            }
            n
        }
        WriteOp::Exec { sql, args } => tx.execute(sql, rusqlite::params_from_iter(args.iter()))?,
        WriteOp::KeyDelete { scope, name, now } => super::keys::write_delete(tx, scope, name, now)?,
    })
}
