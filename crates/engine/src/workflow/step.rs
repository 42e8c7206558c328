//! One step of a workflow: feed an event to its conductor, launch what it
//! asks for, save the state, settle the execution's status.

use serde_json::json;
use stormdesk_workflow::{TaskHold, TaskKey, TaskRequest, TaskResult, TaskStatus, WorkflowStatus};
use tokio::sync::MutexGuard;

use super::kv::KvEnv;
use super::{launch, Run};
use crate::engine::{set_status, Engine};
use crate::model::Status;
use crate::store::WriteOp;

pub(crate) enum Step {
    Start,
    /// Requests already issued by the conductor (a re-run from tasks).
    Launch(Vec<TaskRequest>),
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
    let user = {
        let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(id)
            .and_then(|l| l.execution.user().map(str::to_string))
    };
    let env = KvEnv::new(engine, user);
    // A child's end that makes the workflow canceling (a task canceled)
    // cancels the rest of it, as StackStorm's cascade does.
    let from_child = matches!(step, Step::Result { .. });
    let was_canceling = canceling(run.conductor.status());
    let requests = match step {
        Step::Start => run.conductor.start(&env),
        Step::Launch(requests) => requests,
        Step::Result { child, result } => {
            match run
                .active
                .iter()
                .position(|(k, c)| *k == result.key && *c == child)
            {
                Some(i) => {
                    run.active.remove(i);
                }
                // Already fed (push and a recovery both saw it), or not ours.
                None => return,
            }
            // A child workflow that paused and then completed before its
            // resume reached us: it runs again first, or Orquesta would
            // ignore the completion of a paused task.
            let mut requests = vec![];
            if run.conductor.task_hold(&result.key) == Some(TaskHold::Paused)
                && result.status != TaskStatus::Canceled
            {
                if matches!(
                    run.conductor.status(),
                    WorkflowStatus::Pausing | WorkflowStatus::Paused
                ) {
                    requests = std::mem::take(&mut run.pending);
                    requests.extend(run.conductor.request_resume(&env));
                }
                requests.extend(run.conductor.on_task_resumed(&result.key, &env));
            }
            requests.extend(run.conductor.on_task_result(result, &env));
            requests
        }
        Step::Delayed { key, attempt } => {
            let Some(i) = run
                .delayed
                .iter()
                .position(|r| r.key == key && r.attempt == attempt)
            else {
                return;
            };
            let mut req = run.delayed.remove(i);
            req.delay_seconds = None;
            vec![req]
        }
        Step::Pause => {
            run.conductor.request_pause();
            vec![]
        }
        Step::Resume => {
            let mut held = std::mem::take(&mut run.pending);
            held.extend(run.conductor.request_resume(&env));
            held
        }
        Step::Cancel => {
            run.conductor.request_cancel();
            let mut not_started = std::mem::take(&mut run.delayed);
            not_started.append(&mut run.pending);
            let mut more = vec![];
            for req in not_started {
                more.extend(run.conductor.on_task_result(
                    TaskResult {
                        key: req.key,
                        status: TaskStatus::Canceled,
                        result: json!({"error": "canceled before it started"}),
                    },
                    &env,
                ));
            }
            more
        }
        Step::Recheck => vec![],
        Step::Held { child, key, hold } => {
            if !run.active.iter().any(|(k, c)| *k == key && *c == child) {
                return;
            }
            // A hold that arrives after the child moved on (answered,
            // resumed) is stale.
            if !super::still_held(engine, &child, hold) {
                return;
            }
            run.conductor.on_task_held(&key, hold, &env);
            vec![]
        }
        Step::ChildResumed { child, key } => {
            if !run.active.iter().any(|(k, c)| *k == key && *c == child) {
                return;
            }
            let mut held = vec![];
            if matches!(
                run.conductor.status(),
                WorkflowStatus::Pausing | WorkflowStatus::Paused
            ) {
                held = std::mem::take(&mut run.pending);
                held.extend(run.conductor.request_resume(&env));
            }
            held.extend(run.conductor.on_task_resumed(&key, &env));
            held
        }
        Step::Relaunch => {
            let delayed: Vec<TaskRequest> = run.delayed.clone();
            for req in &delayed {
                schedule(engine, id, req, req.delay_seconds.unwrap_or(0.0));
            }
            std::mem::take(&mut run.pending)
        }
    };
    launch_all(engine, id, &mut run, requests, &env).await;
    let cascade = from_child && !was_canceling && canceling(run.conductor.status());
    settle(engine, id, run).await;
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

/// Launches requests (delayed ones after their delay); a request that cannot
/// start (unknown action, invalid parameters) fails its task at once.
async fn launch_all(
    engine: &Engine,
    id: &str,
    run: &mut Run,
    mut queue: Vec<TaskRequest>,
    env: &KvEnv,
) {
    loop {
        for req in queue.drain(..) {
            match req.delay_seconds.filter(|d| *d > 0.0) {
                Some(seconds) => {
                    schedule(engine, id, &req, seconds);
                    run.delayed.push(req);
                }
                None => run.pending.push(req),
            }
        }
        let holding = matches!(
            run.conductor.status(),
            WorkflowStatus::Pausing | WorkflowStatus::Paused
        );
        if holding || run.pending.is_empty() {
            break;
        }
        save(engine, id, run);
        let mut failed = vec![];
        for req in std::mem::take(&mut run.pending) {
            match launch::task(engine, id, run, &req).await {
                Ok(child) => run.active.push((req.key, child)),
                Err(message) => failed.push(TaskResult {
                    key: req.key,
                    status: TaskStatus::Failed,
                    result: json!({ "error": message }),
                }),
            }
        }
        if failed.is_empty() {
            break;
        }
        for f in failed {
            queue.extend(run.conductor.on_task_result(f, env));
        }
    }
    save(engine, id, run);
}

fn schedule(engine: &Engine, id: &str, req: &TaskRequest, seconds: f64) {
    let (engine, id) = (engine.clone(), id.to_string());
    let (key, attempt) = (req.key.clone(), req.attempt);
    let wait = std::time::Duration::from_secs_f64(seconds.min(1e9));
    tokio::spawn(async move {
        tokio::select! {
            _ = engine.inner.shutdown.cancelled() => {}
            _ = tokio::time::sleep(wait) => advance(&engine, &id, Step::Delayed { key, attempt }).await,
        }
    });
}

/// Saves the conductor state (queued: the writer keeps order). Secret inputs
/// are masked; such a workflow cannot resume after a restart.
pub(crate) fn save(engine: &Engine, id: &str, run: &Run) {
    let mut state = match serde_json::to_value(run) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(workflow = %id, error = %e, "workflow state not serialisable");
            return;
        }
    };
    if run.has_secrets {
        engine.with_secrets(id, |s| s.mask_value(&mut state));
    }
    if let Err(e) = engine.inner.store.write_nowait(WriteOp::Workflow {
        id: id.to_string(),
        state: state.to_string(),
    }) {
        tracing::error!(workflow = %id, error = %e, "workflow state not saved");
    }
}

/// Brings the execution's status in line with the conductor; completes it
/// when the conductor has finished and nothing it started is still running.
async fn settle(engine: &Engine, id: &str, mut run: MutexGuard<'_, Run>) {
    let status = run.conductor.status();
    if status.is_completed() && run.active.is_empty() && run.delayed.is_empty() {
        run.done = true;
        let result = run.conductor.result();
        drop(run);
        engine.inner.workflows.remove(id);
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
        // Paused once the conductor is: a child that paused (or an Inquiry
        // waiting) reaches it as a held task, so its own status says when
        // nothing runs any more.
        WorkflowStatus::Pausing => Status::Pausing,
        WorkflowStatus::Paused => {
            let children = run.active_children();
            let all_paused = {
                let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                // An Inquiry waiting for its answer counts as paused.
                children.iter().all(|c| {
                    live.get(c)
                        .map(|l| matches!(l.execution.status, Status::Paused | Status::Pending))
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
        // Every task still active is a paused subworkflow (one paused on its
        // own): the workflow pauses too, as StackStorm's does when a task
        // pauses and nothing else is active.
        WorkflowStatus::Running
            if run.delayed.is_empty() && run.pending.is_empty() && {
                let children = run.active_children();
                let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                !children.is_empty()
                    && children.iter().all(|c| {
                        live.get(c)
                            .is_some_and(|l| l.execution.status == Status::Paused)
                    })
            } =>
        {
            run.conductor.request_pause();
            Status::Paused
        }
        _ => Status::Running,
    };
    drop(run);
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
}
