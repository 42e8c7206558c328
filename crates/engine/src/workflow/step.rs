//! One step of a workflow: feed an event to its conductor, launch what it
//! asks for, log the step, settle the execution's status.
//!
//! A step's log row and the records of the child executions it starts are
//! committed in one transaction, before any of those children runs.

use stormdesk_workflow::{TaskHold, TaskKey, TaskRequest, TaskResult, TaskStatus, WorkflowStatus};
use tokio::sync::MutexGuard;

use super::journal::Op;
use super::kv::KvEnv;
use super::{launch, Run};
use crate::engine::{set_status, Engine, Prepared};
use crate::model::Status;
use crate::store::WriteOp;

pub(crate) enum Step {
    Start,
    /// A re-run from tasks begins: the requests the original's conductor
    /// issued (already issued: launched as they are, the conductor does not
    /// start) and where the results of the tasks not run again are
    /// ([`super::rerun_conductor`]). [`super::prepare_run`] applies it to
    /// the first snapshot, so the first step is then [`Step::Relaunch`];
    /// given to a step, it is logged like any operation.
    Rerun {
        requests: Vec<TaskRequest>,
        results_from: Vec<String>,
    },
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
    /// A child reported a status before it completes: an Inquiry waits for
    /// its answer (`pending`), a child workflow paused (`paused`).
    Held {
        child: String,
        key: TaskKey,
        hold: TaskHold,
    },
    /// A held child runs again: the workflow resumes too, as StackStorm's
    /// `handle_action_execution_resume` resumes the parent workflow.
    ChildResumed {
        child: String,
        key: TaskKey,
    },
    /// After a restart (or a re-run's first step): launch what was issued
    /// but not started.
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
    let env = KvEnv::new(engine, id, run.user.clone()).with_earlier(&run.results_from);
    // A child's end that makes the workflow canceling (a task canceled)
    // cancels the rest of it, as StackStorm's cascade does.
    let from_child = matches!(step, Step::Result { .. });
    let was_canceling = canceling(run.conductor.status());
    match step {
        Step::Start => run.record(Op::Start { kv: vec![] }, &env, None),
        Step::Rerun {
            requests,
            results_from,
        } => run.record(
            Op::Rerun {
                requests,
                results_from,
            },
            &env,
            None,
        ),
        Step::Result { child, result } => {
            // Already fed (push and a recovery both saw it), or not ours.
            if run.active.get(&child) != Some(&result.key) {
                return;
            }
            // A child workflow that paused and then completed before its
            // resume reached us: it runs again first, or Orquesta would
            // ignore the completion of a paused task.
            if run.conductor.task_hold(&result.key) == Some(TaskHold::Paused)
                && result.status != TaskStatus::Canceled
            {
                if holding(run.conductor.status()) {
                    run.record(Op::Resume { kv: vec![] }, &env, None);
                }
                run.record(
                    Op::TaskResumed {
                        key: result.key.clone(),
                        kv: vec![],
                    },
                    &env,
                    None,
                );
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
        Step::Held { child, key, hold } => {
            if run.active.get(&child) != Some(&key) {
                return;
            }
            // A hold that arrives after the child moved on (answered,
            // resumed) is stale.
            if !super::still_held(engine, &child, hold) {
                return;
            }
            run.record(
                Op::Held {
                    key,
                    hold,
                    kv: vec![],
                },
                &env,
                None,
            );
        }
        Step::ChildResumed { child, key } => {
            if run.active.get(&child) != Some(&key) {
                return;
            }
            if holding(run.conductor.status()) {
                run.record(Op::Resume { kv: vec![] }, &env, None);
            }
            run.record(Op::TaskResumed { key, kv: vec![] }, &env, None);
        }
        Step::Relaunch => {
            for req in &run.delayed {
                schedule(engine, id, &req.key, req.attempt, req.delay_seconds);
            }
        }
    }
    let (started, writes) = launch_all(engine, id, &mut run, &env).await;
    // Every task still active is a paused subworkflow (one paused on its
    // own): the workflow pauses too, as StackStorm's does when a task pauses
    // and nothing else is active.
    let paused_by_children = run.conductor.status() == WorkflowStatus::Running
        && run.delayed.is_empty()
        && run.pending.is_empty()
        && !run.active.is_empty()
        && {
            let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            run.active.keys().all(|c| {
                live.get(c)
                    .is_some_and(|l| l.execution.status == Status::Paused)
            })
        };
    if paused_by_children {
        run.record(Op::Pause, &env, None);
    }
    commit(engine, id, &mut run, writes);
    for prepared in started {
        let child = prepared.execution.id.clone();
        // A runner that cannot start fails its execution, which reports to
        // this workflow like any completion.
        if let Err(e) = engine.start_prepared(prepared).await {
            tracing::warn!(workflow = %id, child = %child, error = %e, "task did not start");
        }
    }
    let cascade = from_child && !was_canceling && canceling(run.conductor.status());
    settle(engine, id, run, paused_by_children).await;
    if cascade {
        let (engine, id) = (engine.clone(), id.to_string());
        tokio::spawn(async move {
            if let Err(e) = super::control::cancel(&engine, &id).await {
                tracing::debug!(workflow = %id, error = %e, "cancel cascade");
            }
        });
    }
}

fn canceling(status: WorkflowStatus) -> bool {
    matches!(status, WorkflowStatus::Canceling | WorkflowStatus::Canceled)
}

fn holding(status: WorkflowStatus) -> bool {
    matches!(status, WorkflowStatus::Pausing | WorkflowStatus::Paused)
}

/// Launches the pending requests (delayed ones after their delay); a request
/// that cannot start (unknown action, invalid parameters) fails its task at
/// once, which may issue more. Returns the children prepared and their
/// records, which [`commit`] writes with the step's log row.
async fn launch_all(
    engine: &Engine,
    id: &str,
    run: &mut Run,
    env: &KvEnv,
) -> (Vec<Prepared>, Vec<WriteOp>) {
    let mut started: Vec<Prepared> = Vec::new();
    let mut writes: Vec<WriteOp> = Vec::new();
    loop {
        if holding(run.conductor.status()) || run.pending.is_empty() {
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
    (started, writes)
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
    // A datastore secret decrypted since the start is a secret of the run too.
    run.has_secrets |= engine.has_secrets(id);
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
/// `paused_by_children`: the step paused the workflow because every task
/// still active is a paused child.
async fn settle(engine: &Engine, id: &str, mut run: MutexGuard<'_, Run>, paused_by_children: bool) {
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
        _ if paused_by_children => Status::Paused,
        // Paused once the conductor is: a child that paused (or an Inquiry
        // waiting) reaches it as a held task, so its own status says when
        // nothing runs any more.
        WorkflowStatus::Pausing => Status::Pausing,
        WorkflowStatus::Paused => {
            let all_paused = {
                let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                // An Inquiry waiting for its answer counts as paused.
                run.active.keys().all(|c| {
                    live.get(c).is_some_and(|l| {
                        matches!(l.execution.status, Status::Paused | Status::Pending)
                    })
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
    // The status is set, saved and published while the step still holds
    // the workflow: released first, a later step could settle in between
    // and this older status would overwrite its newer one (a step that
    // launched an Inquiry writing `running` over the `paused` of the step
    // that held it). Nothing below awaits.
    let changed = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get_mut(id) {
            Some(entry)
                if entry.execution.status != want && !entry.execution.status.is_completed() =>
            {
                let before = entry.execution.status;
                set_status(&mut entry.execution, want);
                Some((before, entry.execution.clone()))
            }
            _ => None,
        }
    };
    if let Some((before, execution)) = changed {
        if let Err(e) = engine.persist_soon(&execution, false) {
            tracing::error!(workflow = %id, error = %e, "workflow status not saved");
        }
        // A paused child pauses its task in the parent (and may complete
        // the parent's pausing); one that runs again resumes it.
        if want == Status::Paused {
            crate::nesting::child_held(engine, &execution, TaskHold::Paused);
        } else if want == Status::Running && matches!(before, Status::Paused | Status::Pausing) {
            crate::nesting::child_resumed(engine, &execution);
        }
    }
    drop(run);
}
