//! After a restart: workflows left running continue from their latest
//! snapshot and the log rows after it, replayed through the conductor.
//! Completed tasks are never run again: a child that finished while no
//! engine was listening is fed from the store, and a request whose child was
//! started is never started again (its launch is logged in the same
//! transaction as the child's record).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::journal::{Op, Replaying};
use super::kv::KvEnv;
use super::run::{Run, Snapshot};
use super::{advance, task_key, task_status, Step};
use crate::engine::{Engine, Live};
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, Status};
use crate::store::WorkflowLog;
use stormdesk_workflow::TaskResult;

pub(crate) async fn recover(engine: &Engine, workflows: Vec<Execution>) -> Result<(), EngineError> {
    // Register every workflow first, so a child completing during recovery
    // finds its parent.
    let mut resumed = Vec::new();
    for execution in workflows {
        let id = execution.id.clone();
        engine
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Live {
                    execution: execution.clone(),
                    token: String::new(),
                    action_token_hash: None,
                    runner_pid: None,
                    child_pid: None,
                    control: None,
                    adopted: false,
                    finishing: false,
                },
            );
        let fail = |message: String| json!({"output": null, "errors": [{"type": "error", "message": message}]});
        let (run, restored) = match engine.inner.store.workflow_log(&id).await? {
            None => {
                engine
                    .finish(&id, Status::Failed, fail("the engine stopped before this workflow's state was saved; run it again".into()))
                    .await?;
                continue;
            }
            Some(log) => match restore(engine, &execution, log).await {
                Ok(r) if r.run.has_secrets => {
                    engine
                        .finish(&id, Status::Failed, fail("the engine stopped while this workflow ran; it held secrets (secret inputs or decrypted datastore values), which are never stored, so it cannot resume: run it again".into()))
                        .await?;
                    continue;
                }
                Ok(r) => (r.run, (r.legacy, r.unstarted)),
                Err(e) => {
                    engine
                        .finish(
                            &id,
                            Status::Failed,
                            fail(format!(
                                "the saved state of this workflow cannot be read ({e}); run it again"
                            )),
                        )
                        .await?;
                    continue;
                }
            },
        };
        engine.inner.workflows.insert(&id, run);
        resumed.push((id, restored));
    }
    for (id, restored) in resumed {
        catch_up(engine, &id, restored).await?;
    }
    Ok(())
}

/// A completed workflow's state as its log last left it (its snapshot and
/// the rows after it replayed), for a re-run from chosen tasks: `None` when
/// it saved none, an error naming the reason when it cannot be read.
pub(crate) async fn saved_state(
    engine: &Engine,
    execution: &Execution,
) -> Result<Option<Result<Run, String>>, EngineError> {
    let Some(log) = engine.inner.store.workflow_log(&execution.id).await? else {
        return Ok(None);
    };
    Ok(Some(restore(engine, execution, log).await.map(|r| r.run)))
}

/// A state rebuilt from a workflow's log.
struct Restored {
    run: Run,
    /// Saved whole by an earlier version (no log; its pending requests
    /// may have started).
    legacy: bool,
    /// Only the first snapshot, nothing logged after it: the first step
    /// never committed, so the conductor may not have started.
    unstarted: bool,
}

/// The state the log describes: the snapshot, then each row replayed in
/// order.
async fn restore(
    engine: &Engine,
    execution: &Execution,
    log: WorkflowLog,
) -> Result<Restored, String> {
    let snapshot: Snapshot = serde_json::from_str(&log.snapshot).map_err(|e| e.to_string())?;
    let legacy = snapshot.version == 0;
    let unstarted = !legacy && log.seq == 0 && log.rows.is_empty();
    let mut run = Run::from_snapshot(snapshot);
    run.user = execution.user().map(str::to_string);
    run.parent_context = super::launch::inherited(&execution.id, &execution.context);
    let mut ops: Vec<Op> = Vec::new();
    let mut logged = 0;
    for (seq, text) in &log.rows {
        let row: Vec<Op> = serde_json::from_str(text).map_err(|e| format!("log row {seq}: {e}"))?;
        ops.extend(row);
        logged += text.len();
    }
    // The results the conductor was fed, from the children's records.
    let children: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Completed { child, .. } => Some(child.clone()),
            _ => None,
        })
        .collect();
    let mut results: HashMap<String, Value> = engine
        .inner
        .store
        .executions_by_id(children)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|e| (e.id, e.result))
        .collect();
    let live = KvEnv::new(engine, &execution.id, run.user.clone()).with_earlier(&run.results_from);
    tracing::info!(
        workflow = %execution.id,
        rows = log.rows.len(),
        operations = ops.len(),
        "replaying the log after the snapshot"
    );
    for mut op in ops {
        let env = Replaying::new(&live, op.take_kv());
        let result = match &op {
            Op::Completed { child, .. } => Some(results.remove(child).unwrap_or(Value::Null)),
            _ => None,
        };
        run.apply(&op, &env, result);
    }
    run.journal.snapshotted(log.seq, log.snapshot.len());
    if let Some((last, _)) = log.rows.last() {
        run.journal.next_seq = last + 1;
    }
    run.journal.since_snapshot = logged;
    Ok(Restored {
        run,
        legacy,
        unstarted,
    })
}

async fn catch_up(
    engine: &Engine,
    id: &str,
    (legacy, unstarted): (bool, bool),
) -> Result<(), EngineError> {
    let Some(run) = engine.inner.workflows.get(id) else {
        return Ok(());
    };
    let active = {
        let mut run = run.lock().await;
        if legacy {
            adopt_started(engine, id, &mut run).await?;
        }
        run.active
            .iter()
            .map(|(c, k)| (c.clone(), k.clone()))
            .collect::<Vec<_>>()
    };
    // Children that completed while no engine was listening.
    let keys: HashMap<String, stormdesk_workflow::TaskKey> = active.into_iter().collect();
    let mut completed = Vec::new();
    for c in engine
        .inner
        .store
        .executions_by_id(keys.keys().cloned().collect())
        .await?
    {
        if c.status.is_completed() {
            if let Some(key) = keys.get(&c.id) {
                completed.push(Step::Result {
                    child: c.id.clone(),
                    result: TaskResult {
                        key: key.clone(),
                        status: task_status(c.status),
                        result: c.result,
                    },
                });
            }
        }
    }
    tracing::info!(workflow = %id, "resuming after restart");
    if unstarted {
        // Stopped before its first step committed. Starting is a no-op for a
        // conductor that started (a re-run's, whose requests the snapshot
        // holds).
        advance(engine, id, Step::Start).await;
    }
    advance(engine, id, Step::Relaunch).await;
    for step in completed {
        advance(engine, id, step).await;
    }
    advance(engine, id, Step::Recheck).await;
    Ok(())
}

/// A state saved by an earlier version, which saved before launching: a
/// pending request whose child exists (same task and attempt) was started;
/// the child is adopted, not started again.
async fn adopt_started(engine: &Engine, id: &str, run: &mut Run) -> Result<(), EngineError> {
    if run.pending.is_empty() {
        return Ok(());
    }
    let children = engine
        .executions(ExecutionFilter {
            parent: Some(id.to_string()),
            limit: Some(u32::MAX),
            ..Default::default()
        })
        .await?;
    let env = KvEnv::new(engine, id, run.user.clone()).with_earlier(&run.results_from);
    let pending: Vec<_> = run.pending.iter().cloned().collect();
    for req in pending {
        let existing = children.iter().find(|c| {
            task_key(&c.context).as_ref() == Some(&req.key)
                && super::task_attempt(&c.context) == Some(req.attempt as u64)
        });
        if let Some(child) = existing {
            run.record(
                Op::Launched {
                    key: req.key,
                    attempt: req.attempt,
                    child: child.id.clone(),
                },
                &env,
                None,
            );
        }
    }
    Ok(())
}
