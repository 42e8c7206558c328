//! One step of a workflow: feed an event to its conductor, launch what it
//! asks for, log the step, settle the execution's status.
//!
//! A step's log row and the records of the child executions it starts are
//! committed in one transaction, before any of those children runs.

use stormdesk_workflow::{TaskKey, TaskResult, WorkflowStatus};
use tokio::sync::MutexGuard;

use super::journal::Op;
use super::kv::KvEnv;
use super::{launch, Run};
use crate::engine::{set_status, Engine, Prepared};
use crate::model::Status;
use crate::store::WriteOp;

pub(crate) enum Step {
    Start,
    /// A child execution completed.
    Result {
        child: String,
        result: TaskResult,
    },
    /// A delayed request's time has come.
    Delayed {
        key: TaskKey,
        attempt: u32,
    },
    Pause,
    Resume,
    Cancel,
    /// Nothing new: re-evaluate the status (a child workflow paused).
    Recheck,
    /// After a restart: launch what was issued but not started.
    Relaunch,
}

/// Boxed with an explicit `Send`: steps spawn steps (a paused child rechecks
/// its parent), and the compiler cannot see through that recursion otherwise.
pub(crate) fn advance<'a>(
    engine: &'a Engine,
    id: &'a str,
    step: Step,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(advance_inner(engine, id, step))
}

async fn advance_inner(engine: &Engine, id: &str, step: Step) {
    let Some(run) = engine.inner.workflows.get(id) else {
        return;
    };
    let mut run = run.lock().await;
    if run.done {
        return;
    }
    let env = KvEnv::new(engine, id, run.user.clone());
    match step {
        Step::Start => run.record(Op::Start { kv: vec![] }, &env, None),
        Step::Result { child, result } => {
            // Already fed (push and a recovery both saw it), or not ours.
            if run.active.get(&child) != Some(&result.key) {
                return;
            }
            run.record(
                Op::Completed {
                    child,
                    key: result.key,
                    status: result.status,
                    kv: vec![],
                },
                &env,
                Some(result.result),
            );
        }
        Step::Delayed { key, attempt } => {
            if !run
                .delayed
                .iter()
                .any(|r| r.key == key && r.attempt == attempt)
            {
                return;
            }
            run.record(Op::Released { key, attempt }, &env, None);
        }
        Step::Pause => run.record(Op::Pause, &env, None),
        Step::Resume => run.record(Op::Resume { kv: vec![] }, &env, None),
        Step::Cancel => run.record(Op::Cancel { kv: vec![] }, &env, None),
        Step::Recheck => {}
        Step::Relaunch => {
            for req in &run.delayed {
                schedule(engine, id, &req.key, req.attempt, req.delay_seconds);
            }
        }
    }
    let started = launch_all(engine, id, &mut run, &env).await;
    for prepared in started {
        let child = prepared.execution.id.clone();
        // A runner that cannot start fails its execution, which reports to
        // this workflow like any completion.
        if let Err(e) = engine.start_prepared(prepared).await {
            tracing::warn!(workflow = %id, child = %child, error = %e, "task did not start");
        }
    }
    settle(engine, id, run).await;
}

/// Launches the pending requests (delayed ones after their delay); a request
/// that cannot start (unknown action, invalid parameters) fails its task at
/// once, which may issue more. Then commits the step: its log row (or a
/// snapshot) and the records of the children it prepared, in one
/// transaction. Returns the children to start.
async fn launch_all(engine: &Engine, id: &str, run: &mut Run, env: &KvEnv) -> Vec<Prepared> {
    let mut started: Vec<Prepared> = Vec::new();
    let mut writes: Vec<WriteOp> = Vec::new();
    loop {
        let holding = matches!(
            run.conductor.status(),
            WorkflowStatus::Pausing | WorkflowStatus::Paused
        );
        if holding || run.pending.is_empty() {
            break;
        }
        // Those pending now; a failed launch may add more for the next round.
        for _ in 0..run.pending.len() {
            let Some(req) = run.pending.front().cloned() else {
                break;
            };
            let (key, attempt) = (req.key.clone(), req.attempt);
            if let Some(seconds) = req.delay_seconds.filter(|d| *d > 0.0) {
                schedule(engine, id, &key, attempt, Some(seconds));
                run.record(Op::Delayed { key, attempt }, env, None);
                continue;
            }
            match launch::task(engine, id, run, &req).await {
                Ok(mut prepared) => {
                    writes.append(&mut prepared.ops);
                    let child = prepared.execution.id.clone();
                    run.record(
                        Op::Launched {
                            key,
                            attempt,
                            child,
                        },
                        env,
                        None,
                    );
                    started.push(prepared);
                }
                Err(message) => run.record(
                    Op::LaunchFailed {
                        key,
                        attempt,
                        message,
                        kv: vec![],
                    },
                    env,
                    None,
                ),
            }
        }
    }
    commit(engine, id, run, writes);
    started
}

/// Queues the step's log row (or a snapshot, when one is due) with `writes`
/// in one transaction. Not awaited: the writer keeps order, so everything
/// later about these children lands after.
fn commit(engine: &Engine, id: &str, run: &mut Run, mut writes: Vec<WriteOp>) {
    if !run.journal.ops.is_empty() {
        let ops = std::mem::take(&mut run.journal.ops);
        match serde_json::to_string(&ops) {
            Ok(text) => {
                run.journal.since_snapshot += text.len();
                let seq = run.journal.next_seq;
                run.journal.next_seq += 1;
                if run.journal.snapshot_due() {
                    if let Some(op) = snapshot(engine, id, run) {
                        writes.push(op);
                    }
                } else {
                    writes.insert(
                        0,
                        WriteOp::WorkflowLog {
                            id: id.to_string(),
                            seq,
                            ops: text,
                        },
                    );
                }
            }
            Err(e) => tracing::error!(workflow = %id, error = %e, "workflow step not loggable"),
        }
    }
    if writes.is_empty() {
        return;
    }
    if let Err(e) = engine.inner.store.write_nowait(WriteOp::Batch(writes)) {
        tracing::error!(workflow = %id, error = %e, "workflow step not saved");
    }
}

/// The whole state as a snapshot covering every row logged so far (secret
/// inputs masked; such a workflow cannot resume after a restart).
pub(crate) fn snapshot(engine: &Engine, id: &str, run: &mut Run) -> Option<WriteOp> {
    let text = match run.snapshot(|state| engine.with_secrets(id, |s| s.mask_value(state))) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(workflow = %id, error = %e, "workflow state not serialisable");
            return None;
        }
    };
    let seq = run.journal.next_seq;
    run.journal.snapshotted(seq, text.len());
    Some(WriteOp::WorkflowSnapshot {
        id: id.to_string(),
        seq,
        state: text,
    })
}

fn schedule(engine: &Engine, id: &str, key: &TaskKey, attempt: u32, seconds: Option<f64>) {
    let (engine, id, key) = (engine.clone(), id.to_string(), key.clone());
    let wait = std::time::Duration::from_secs_f64(seconds.unwrap_or(0.0).clamp(0.0, 1e9));
    tokio::spawn(async move {
        tokio::select! {
            _ = engine.inner.shutdown.cancelled() => {}
            _ = tokio::time::sleep(wait) => advance(&engine, &id, Step::Delayed { key, attempt }).await,
        }
    });
}

/// Brings the execution's status in line with the conductor; completes it
/// when the conductor has finished and nothing it started is still running.
async fn settle(engine: &Engine, id: &str, mut run: MutexGuard<'_, Run>) {
    let status = run.conductor.status();
    if status.is_completed() && run.active.is_empty() && run.delayed.is_empty() {
        run.done = true;
        let result = run.conductor.result();
        // The final state, whole, and the log goes.
        if let Some(op) = snapshot(engine, id, &mut run) {
            if let Err(e) = engine.inner.store.write_nowait(op) {
                tracing::error!(workflow = %id, error = %e, "final workflow state not saved");
            }
        }
        drop(run);
        engine.inner.workflows.remove(id);
        if engine.inner.workflows.is_empty() {
            crate::launch::trim_warm(engine);
        }
        let final_status = match status {
            WorkflowStatus::Succeeded => Status::Succeeded,
            WorkflowStatus::Canceled => Status::Canceled,
            _ => Status::Failed,
        };
        if let Err(e) = engine.finish(id, final_status, result).await {
            tracing::error!(workflow = %id, error = %e, "workflow completion not recorded");
        }
        return;
    }
    let want = match status {
        WorkflowStatus::Pausing | WorkflowStatus::Paused => {
            let all_paused = {
                let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                run.active.keys().all(|c| {
                    live.get(c)
                        .map(|l| l.execution.status == Status::Paused)
                        .unwrap_or(false)
                })
            };
            if all_paused {
                Status::Paused
            } else {
                Status::Pausing
            }
        }
        WorkflowStatus::Canceling | WorkflowStatus::Canceled => Status::Canceling,
        _ => Status::Running,
    };
    drop(run);
    let changed = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get_mut(id) {
            Some(entry)
                if entry.execution.status != want && !entry.execution.status.is_completed() =>
            {
                set_status(&mut entry.execution, want);
                Some(entry.execution.clone())
            }
            _ => None,
        }
    };
    if let Some(execution) = changed {
        if let Err(e) = engine.persist_soon(&execution, false) {
            tracing::error!(workflow = %id, error = %e, "workflow status not saved");
        }
        // A paused child may complete its parent's pausing.
        if want == Status::Paused {
            if let Some(parent) = execution.parent {
                let engine = engine.clone();
                tokio::spawn(async move { advance(&engine, &parent, Step::Recheck).await });
            }
        }
    }
}
