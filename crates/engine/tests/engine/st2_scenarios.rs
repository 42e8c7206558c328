//! The control scenarios of StackStorm's Orquesta integration tests
//! (`test_wiring_cancel.py`, `test_wiring_pause_and_resume.py`,
//! `test_wiring_with_items.py`, `test_wiring_delay.py`,
//! `test_wiring_rerun.py`, `test_wiring_task_retry.py`), step by step, on
//! StackStorm's `examples` workflows that wait for files to be removed.
//! Every wait is on the engine's events, never on time.

use std::future::Future;
use std::path::PathBuf;

use futures::future::LocalBoxFuture;
use serde_json::{json, Value};
use stormdesk_engine::{Execution, ReRun, RunRequest, Status};

use crate::st2::{object, St2, CASE_WAIT};

/// The children of a workflow execution that ran `task`.
pub async fn task_runs(t: &St2, id: &str, task: &str) -> Vec<Execution> {
    t.engine
        .descendants(id, 1)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.task_name() == Some(task))
        .collect()
}

/// Resolves when `cond` holds, re-checked at every event of the engine.
async fn until<F, Fut>(t: &St2, what: &str, mut cond: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut rx = t.engine.subscribe();
    let deadline = tokio::time::Instant::now() + CASE_WAIT;
    loop {
        if cond().await {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return Err(format!("timed out waiting for {what}")),
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                return Err(format!("the engine stopped while waiting for {what}"))
            }
            Ok(_) => {}
        }
    }
}

async fn status_of(t: &St2, id: &str) -> Option<Status> {
    t.engine.execution(id).await.ok().map(|e| e.status)
}

/// Waits until execution `id` has `status`.
async fn reach(t: &St2, id: &str, status: Status) -> Result<(), String> {
    until(t, &format!("{id} to be {status:?}"), || async {
        status_of(t, id).await == Some(status)
    })
    .await
}

/// Waits until `count` runs of `task` of workflow `id` exist and all have
/// `status` (any status when `None`); returns them.
async fn reach_task(
    t: &St2,
    id: &str,
    task: &str,
    status: Option<Status>,
    count: usize,
) -> Result<Vec<Execution>, String> {
    let mut rx = t.engine.subscribe();
    let deadline = tokio::time::Instant::now() + CASE_WAIT;
    loop {
        let runs = task_runs(t, id, task).await;
        if runs.len() == count && runs.iter().all(|r| status.is_none_or(|s| r.status == s)) {
            return Ok(runs);
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => {
                let now: Vec<Status> = runs.iter().map(|r| r.status).collect();
                return Err(format!(
                    "timed out waiting for {count} run(s) of task {task} of {id} to be {status:?} (now {now:?})"
                ));
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                return Err("the engine stopped".into())
            }
            Ok(_) => {}
        }
    }
}

/// A file the workflows of StackStorm's tests wait on, until it is removed.
fn gate(t: &St2, name: &str) -> PathBuf {
    let path = t.path(name);
    std::fs::write(&path, "").unwrap();
    path
}

fn rm(path: &PathBuf) {
    std::fs::remove_file(path).unwrap();
}

async fn start(t: &St2, action: &str, input: Value) -> Result<String, String> {
    t.engine
        .run(RunRequest::new(action, object(input)))
        .await
        .map(|e| e.id)
        .map_err(|e| format!("{action}: refused: {e}"))
}

async fn control(t: &St2, what: &str, id: &str) -> Result<(), String> {
    let r = match what {
        "cancel" => t.engine.cancel(id).await,
        "pause" => t.engine.pause(id).await,
        _ => t.engine.resume(id).await,
    };
    r.map(|_| ()).map_err(|e| format!("{what} {id}: {e}"))
}

/// Scenarios where Stormdesk differs from StackStorm on purpose (the README
/// lists them): scenario, StackStorm's outcome, Stormdesk's and why.
pub const DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "cancellation",
        "task1 runs to completion (succeeded) while the workflow is canceling",
        "canceling the workflow cancels task1's action",
    ),
    (
        "cancellation_cascade_down_to_subworkflow",
        "both workflows stay canceling until the running action finishes",
        "the action is canceled, both are canceled at once",
    ),
    (
        "cancellation_cascade_up_from_subworkflow",
        "both workflows stay canceling until the running action finishes",
        "the action is canceled, both are canceled at once",
    ),
    (
        "cancellation_cascade_up_to_workflow_with_other_subworkflow",
        "all three stay canceling until the running actions finish",
        "the actions are canceled, all three are canceled at once",
    ),
    (
        "with_items_cancellation",
        "the running items finish (succeeded)",
        "the running items are canceled",
    ),
    (
        "with_items_concurrency_cancellation",
        "the running items finish (succeeded)",
        "the running items are canceled",
    ),
    (
        "task_delay_workflow_cancellation",
        "task1 is a `delayed` execution, then `canceled`",
        "task1 has no execution before its delay is over",
    ),
];

/// One scenario of StackStorm's integration tests.
pub struct Scenario {
    pub name: &'static str,
    /// The workflows it runs.
    pub covers: Vec<&'static str>,
    pub run: for<'a> fn(&'a St2) -> LocalBoxFuture<'a, Result<(), String>>,
}

macro_rules! scenario {
    ($f:ident, [$($w:literal),+]) => {
        Scenario {
            name: stringify!($f),
            covers: vec![$(concat!("examples.", $w)),+],
            run: |t| Box::pin($f(t)),
        }
    };
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!(cancellation, ["orquesta-test-cancel"]),
        scenario!(task_cancellation, ["orquesta-test-cancel"]),
        scenario!(
            cancellation_cascade_down_to_subworkflow,
            ["orquesta-test-cancel-subworkflow"]
        ),
        scenario!(
            cancellation_cascade_up_from_subworkflow,
            ["orquesta-test-cancel-subworkflow"]
        ),
        scenario!(
            cancellation_cascade_up_to_workflow_with_other_subworkflow,
            ["orquesta-test-cancel-subworkflows"]
        ),
        scenario!(pause_and_resume, ["orquesta-test-pause"]),
        scenario!(
            pause_and_resume_cascade_to_subworkflow,
            ["orquesta-test-pause-subworkflow"]
        ),
        scenario!(
            pause_and_resume_cascade_to_subworkflows,
            ["orquesta-test-pause-subworkflows"]
        ),
        scenario!(
            pause_and_resume_cascade_from_subworkflow,
            ["orquesta-test-pause-subworkflow"]
        ),
        scenario!(
            pause_one_of_two_subworkflows_resume_it_when_workflow_paused,
            ["orquesta-test-pause-subworkflows"]
        ),
        scenario!(
            pause_one_of_two_subworkflows_resume_it_while_workflow_running,
            ["orquesta-test-pause-subworkflows"]
        ),
        scenario!(with_items_concurrency, ["orquesta-test-with-items"]),
        scenario!(with_items_cancellation, ["orquesta-test-with-items"]),
        scenario!(
            with_items_concurrency_cancellation,
            ["orquesta-test-with-items"]
        ),
        scenario!(with_items_pause_and_resume, ["orquesta-test-with-items"]),
        scenario!(
            with_items_concurrency_pause_and_resume,
            ["orquesta-test-with-items"]
        ),
        scenario!(task_delay_workflow_cancellation, ["orquesta-delay"]),
        scenario!(rerun_workflow, ["orquesta-test-rerun"]),
        scenario!(rerun_task, ["orquesta-test-rerun"]),
        scenario!(
            rerun_task_of_workflow_already_succeeded,
            ["orquesta-test-rerun"]
        ),
        scenario!(
            rerun_and_reset_with_items_task,
            ["orquesta-test-rerun-with-items"]
        ),
        scenario!(
            rerun_and_resume_with_items_task,
            ["orquesta-test-rerun-with-items"]
        ),
        scenario!(task_retry, ["orquesta-task-retry"]),
        scenario!(task_retry_exhausted, ["orquesta-task-retry-exhausted"]),
    ]
}

use Status::{Canceled, Failed, Paused, Pausing, Running, Succeeded};

/// The one run of `task` of workflow `id`, once it has `status`.
async fn one(t: &St2, id: &str, task: &str, status: Status) -> Result<String, String> {
    Ok(reach_task(t, id, task, Some(status), 1).await?.remove(0).id)
}

async fn never_ran(t: &St2, id: &str, task: &str) -> Result<(), String> {
    match task_runs(t, id, task).await.len() {
        0 => Ok(()),
        n => Err(format!(
            "task {task} of {id} ran {n} time(s); StackStorm does not run it"
        )),
    }
}

async fn cancellation(t: &St2) -> Result<(), String> {
    let f = gate(t, "cancel-1");
    let id = start(
        t,
        "examples.orquesta-test-cancel",
        json!({"tempfile": f, "message": "foobar"}),
    )
    .await?;
    one(t, &id, "task1", Running).await?;
    control(t, "cancel", &id).await?;
    // StackStorm lets task1 finish (the workflow stays canceling until the
    // file is removed, then task1 succeeds); Stormdesk cancels it (README).
    one(t, &id, "task1", Canceled).await?;
    reach(t, &id, Canceled).await?;
    rm(&f);
    never_ran(t, &id, "task2").await
}

async fn task_cancellation(t: &St2) -> Result<(), String> {
    let f = gate(t, "cancel-2");
    let id = start(
        t,
        "examples.orquesta-test-cancel",
        json!({"tempfile": f, "message": "foobar"}),
    )
    .await?;
    let task1 = one(t, &id, "task1", Running).await?;
    control(t, "cancel", &task1).await?;
    one(t, &id, "task1", Canceled).await?;
    reach(t, &id, Canceled).await?;
    rm(&f);
    never_ran(t, &id, "task2").await
}

async fn cancellation_cascade_down_to_subworkflow(t: &St2) -> Result<(), String> {
    let f = gate(t, "cancel-3");
    let id = start(
        t,
        "examples.orquesta-test-cancel-subworkflow",
        json!({"tempfile": f, "message": "foobar"}),
    )
    .await?;
    let sub = one(t, &id, "task1", Running).await?;
    one(t, &sub, "task1", Running).await?;
    control(t, "cancel", &id).await?;
    // StackStorm: both canceling until the running action finishes.
    reach(t, &sub, Canceled).await?;
    reach(t, &id, Canceled).await?;
    rm(&f);
    never_ran(t, &id, "task2").await
}

async fn cancellation_cascade_up_from_subworkflow(t: &St2) -> Result<(), String> {
    let f = gate(t, "cancel-4");
    let id = start(
        t,
        "examples.orquesta-test-cancel-subworkflow",
        json!({"tempfile": f, "message": "foobar"}),
    )
    .await?;
    let sub = one(t, &id, "task1", Running).await?;
    one(t, &sub, "task1", Running).await?;
    control(t, "cancel", &sub).await?;
    // StackStorm: both canceling until the running action finishes.
    reach(t, &sub, Canceled).await?;
    reach(t, &id, Canceled).await?;
    rm(&f);
    never_ran(t, &id, "task2").await
}

async fn cancellation_cascade_up_to_workflow_with_other_subworkflow(t: &St2) -> Result<(), String> {
    let f = gate(t, "cancel-5");
    let id = start(
        t,
        "examples.orquesta-test-cancel-subworkflows",
        json!({"file1": f, "file2": f}),
    )
    .await?;
    let sub1 = one(t, &id, "task1", Running).await?;
    let sub2 = one(t, &id, "task2", Running).await?;
    one(t, &sub1, "task1", Running).await?;
    one(t, &sub2, "task1", Running).await?;
    control(t, "cancel", &sub1).await?;
    // StackStorm: all three canceling until the running actions finish.
    reach(t, &sub1, Canceled).await?;
    reach(t, &sub2, Canceled).await?;
    reach(t, &id, Canceled).await?;
    rm(&f);
    never_ran(t, &id, "task3").await
}

async fn pause_and_resume(t: &St2) -> Result<(), String> {
    let f = gate(t, "pause-1");
    let id = start(t, "examples.orquesta-test-pause", json!({"tempfile": f})).await?;
    one(t, &id, "task1", Running).await?;
    control(t, "pause", &id).await?;
    reach(t, &id, Pausing).await?;
    rm(&f);
    reach(t, &id, Paused).await?;
    never_ran(t, &id, "task2").await?;
    control(t, "resume", &id).await?;
    reach(t, &id, Succeeded).await?;
    one(t, &id, "task2", Succeeded).await.map(|_| ())
}

async fn pause_and_resume_cascade_to_subworkflow(t: &St2) -> Result<(), String> {
    let f = gate(t, "pause-3");
    let id = start(
        t,
        "examples.orquesta-test-pause-subworkflow",
        json!({"tempfile": f}),
    )
    .await?;
    let sub = one(t, &id, "task1", Running).await?;
    one(t, &sub, "task1", Running).await?;
    control(t, "pause", &id).await?;
    reach(t, &id, Pausing).await?;
    reach(t, &sub, Pausing).await?;
    rm(&f);
    reach(t, &sub, Paused).await?;
    reach(t, &id, Paused).await?;
    control(t, "resume", &id).await?;
    reach(t, &sub, Succeeded).await?;
    reach(t, &id, Succeeded).await
}

async fn pause_and_resume_cascade_to_subworkflows(t: &St2) -> Result<(), String> {
    let (f1, f2) = (gate(t, "pause-4a"), gate(t, "pause-4b"));
    let id = start(
        t,
        "examples.orquesta-test-pause-subworkflows",
        json!({"file1": f1, "file2": f2}),
    )
    .await?;
    let sub1 = one(t, &id, "task1", Running).await?;
    let sub2 = one(t, &id, "task2", Running).await?;
    one(t, &sub1, "task1", Running).await?;
    one(t, &sub2, "task1", Running).await?;
    control(t, "pause", &id).await?;
    reach(t, &id, Pausing).await?;
    reach(t, &sub1, Pausing).await?;
    reach(t, &sub2, Pausing).await?;
    rm(&f1);
    reach(t, &sub1, Paused).await?;
    reach(t, &sub2, Pausing).await?;
    reach(t, &id, Pausing).await?;
    rm(&f2);
    reach(t, &sub2, Paused).await?;
    reach(t, &id, Paused).await?;
    control(t, "resume", &id).await?;
    reach(t, &sub1, Succeeded).await?;
    reach(t, &sub2, Succeeded).await?;
    reach(t, &id, Succeeded).await
}

async fn pause_and_resume_cascade_from_subworkflow(t: &St2) -> Result<(), String> {
    let f = gate(t, "pause-5");
    let id = start(
        t,
        "examples.orquesta-test-pause-subworkflow",
        json!({"tempfile": f}),
    )
    .await?;
    let sub = one(t, &id, "task1", Running).await?;
    one(t, &sub, "task1", Running).await?;
    control(t, "pause", &sub).await?;
    reach(t, &sub, Pausing).await?;
    reach(t, &id, Running).await?;
    rm(&f);
    reach(t, &sub, Paused).await?;
    // Nothing else is active in the workflow: it pauses too.
    reach(t, &id, Paused).await?;
    control(t, "resume", &sub).await?;
    reach(t, &sub, Succeeded).await?;
    reach(t, &id, Succeeded).await
}

async fn pause_one_of_two_subworkflows_resume_it_when_workflow_paused(
    t: &St2,
) -> Result<(), String> {
    let (f1, f2) = (gate(t, "pause-6a"), gate(t, "pause-6b"));
    let id = start(
        t,
        "examples.orquesta-test-pause-subworkflows",
        json!({"file1": f1, "file2": f2}),
    )
    .await?;
    let sub1 = one(t, &id, "task1", Running).await?;
    let sub2 = one(t, &id, "task2", Running).await?;
    one(t, &sub1, "task1", Running).await?;
    control(t, "pause", &sub1).await?;
    reach(t, &sub1, Pausing).await?;
    reach(t, &id, Running).await?;
    reach(t, &sub2, Running).await?;
    rm(&f1);
    reach(t, &sub1, Paused).await?;
    reach(t, &id, Running).await?;
    reach(t, &sub2, Running).await?;
    rm(&f2);
    // Nothing else is active: the workflow pauses.
    reach(t, &sub2, Succeeded).await?;
    reach(t, &id, Paused).await?;
    control(t, "resume", &sub1).await?;
    reach(t, &sub1, Succeeded).await?;
    reach(t, &id, Succeeded).await
}

async fn pause_one_of_two_subworkflows_resume_it_while_workflow_running(
    t: &St2,
) -> Result<(), String> {
    let (f1, f2) = (gate(t, "pause-7a"), gate(t, "pause-7b"));
    let id = start(
        t,
        "examples.orquesta-test-pause-subworkflows",
        json!({"file1": f1, "file2": f2}),
    )
    .await?;
    let sub1 = one(t, &id, "task1", Running).await?;
    let sub2 = one(t, &id, "task2", Running).await?;
    one(t, &sub1, "task1", Running).await?;
    control(t, "pause", &sub1).await?;
    reach(t, &sub1, Pausing).await?;
    rm(&f1);
    reach(t, &sub1, Paused).await?;
    reach(t, &id, Running).await?;
    control(t, "resume", &sub1).await?;
    reach(t, &sub1, Succeeded).await?;
    reach(t, &id, Running).await?;
    reach(t, &sub2, Running).await?;
    rm(&f2);
    reach(t, &sub2, Succeeded).await?;
    reach(t, &id, Succeeded).await
}

fn gates(t: &St2, prefix: &str, n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| gate(t, &format!("{prefix}-{i}"))).collect()
}

async fn with_items_concurrency(t: &St2) -> Result<(), String> {
    let f = gates(t, "items-1", 5);
    let id = start(
        t,
        "examples.orquesta-test-with-items",
        json!({"tempfiles": f, "concurrency": 2}),
    )
    .await?;
    reach_task(t, &id, "task1", None, 2).await?;
    rm(&f[0]);
    rm(&f[1]);
    reach_task(t, &id, "task1", None, 4).await?;
    rm(&f[2]);
    rm(&f[3]);
    reach_task(t, &id, "task1", None, 5).await?;
    rm(&f[4]);
    reach(t, &id, Succeeded).await
}

async fn with_items_cancellation(t: &St2) -> Result<(), String> {
    let f = gates(t, "items-2", 2);
    let id = start(
        t,
        "examples.orquesta-test-with-items",
        json!({"tempfiles": f, "concurrency": 2}),
    )
    .await?;
    reach_task(t, &id, "task1", Some(Running), 2).await?;
    control(t, "cancel", &id).await?;
    // StackStorm lets the two items finish (succeeded); Stormdesk cancels them.
    reach_task(t, &id, "task1", Some(Canceled), 2).await?;
    reach(t, &id, Canceled).await?;
    f.iter().for_each(rm);
    Ok(())
}

async fn with_items_concurrency_cancellation(t: &St2) -> Result<(), String> {
    let f = gates(t, "items-3", 4);
    let id = start(
        t,
        "examples.orquesta-test-with-items",
        json!({"tempfiles": f, "concurrency": 2}),
    )
    .await?;
    reach_task(t, &id, "task1", Some(Running), 2).await?;
    control(t, "cancel", &id).await?;
    // StackStorm lets the two running items finish; Stormdesk cancels them.
    reach_task(t, &id, "task1", Some(Canceled), 2).await?;
    reach(t, &id, Canceled).await?;
    f.iter().for_each(rm);
    match task_runs(t, &id, "task1").await.len() {
        2 => Ok(()),
        n => Err(format!(
            "{n} items ran; StackStorm runs no more after the cancel"
        )),
    }
}

async fn with_items_pause_and_resume(t: &St2) -> Result<(), String> {
    let f = gates(t, "items-4", 2);
    let id = start(
        t,
        "examples.orquesta-test-with-items",
        json!({"tempfiles": f}),
    )
    .await?;
    reach_task(t, &id, "task1", Some(Running), 2).await?;
    control(t, "pause", &id).await?;
    reach(t, &id, Pausing).await?;
    f.iter().for_each(rm);
    reach_task(t, &id, "task1", Some(Succeeded), 2).await?;
    reach(t, &id, Paused).await?;
    control(t, "resume", &id).await?;
    reach(t, &id, Succeeded).await
}

async fn with_items_concurrency_pause_and_resume(t: &St2) -> Result<(), String> {
    let f = gates(t, "items-5", 4);
    let id = start(
        t,
        "examples.orquesta-test-with-items",
        json!({"tempfiles": f, "concurrency": 2}),
    )
    .await?;
    reach_task(t, &id, "task1", Some(Running), 2).await?;
    control(t, "pause", &id).await?;
    reach(t, &id, Pausing).await?;
    f[..2].iter().for_each(rm);
    reach_task(t, &id, "task1", Some(Succeeded), 2).await?;
    reach(t, &id, Paused).await?;
    control(t, "resume", &id).await?;
    f[2..].iter().for_each(rm);
    reach_task(t, &id, "task1", Some(Succeeded), 4).await?;
    reach(t, &id, Succeeded).await
}

async fn task_delay_workflow_cancellation(t: &St2) -> Result<(), String> {
    let id = start(
        t,
        "examples.orquesta-delay",
        json!({"name": "Thanos", "delay": 300}),
    )
    .await?;
    reach(t, &id, Running).await?;
    control(t, "cancel", &id).await?;
    reach(t, &id, Canceled).await?;
    // StackStorm records task1 as a `delayed` execution, then `canceled`;
    // Stormdesk starts no execution before the delay is over (README).
    never_ran(t, &id, "task1").await
}

/// Runs `action` with a file holding `first`, waits for `status`, then
/// writes `then` into the file; returns the execution and the file.
async fn run_with_file(
    t: &St2,
    name: &str,
    action: &str,
    first: &str,
    status: Status,
    then: &str,
) -> Result<(String, PathBuf), String> {
    let f = t.path(name);
    std::fs::write(&f, first).unwrap();
    let id = start(t, action, json!({"tempfile": f})).await?;
    reach(t, &id, status).await?;
    std::fs::write(&f, then).unwrap();
    Ok((id, f))
}

async fn rerun(t: &St2, id: &str, tasks: &[&str], reset: &[&str]) -> Result<String, String> {
    let req = ReRun {
        tasks: tasks.iter().map(|s| s.to_string()).collect(),
        reset: reset.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let e = t
        .engine
        .re_run_as(id, req)
        .await
        .map_err(|e| format!("re-run of {id}: {e}"))?;
    if e.id == id {
        return Err("the re-run has the original's id".into());
    }
    reach(t, &e.id, Succeeded).await?;
    Ok(e.id)
}

async fn rerun_workflow(t: &St2) -> Result<(), String> {
    let (id, _) = run_with_file(
        t,
        "rerun-1",
        "examples.orquesta-test-rerun",
        "1",
        Failed,
        "0",
    )
    .await?;
    rerun(t, &id, &[], &[]).await.map(|_| ())
}

async fn rerun_task(t: &St2) -> Result<(), String> {
    let (id, _) = run_with_file(
        t,
        "rerun-2",
        "examples.orquesta-test-rerun",
        "1",
        Failed,
        "0",
    )
    .await?;
    let new = rerun(t, &id, &["task2"], &[]).await?;
    // The re-run continues the original: task1 is not run again.
    never_ran(t, &new, "task1").await
}

async fn rerun_task_of_workflow_already_succeeded(t: &St2) -> Result<(), String> {
    let (id, _) = run_with_file(
        t,
        "rerun-3",
        "examples.orquesta-test-rerun",
        "0",
        Succeeded,
        "0",
    )
    .await?;
    rerun(t, &id, &["task2"], &[]).await.map(|_| ())
}

async fn rerun_and_reset_with_items_task(t: &St2) -> Result<(), String> {
    let (id, _) = run_with_file(
        t,
        "rerun-4",
        "examples.orquesta-test-rerun-with-items",
        "1",
        Failed,
        "0",
    )
    .await?;
    let new = rerun(t, &id, &["task1"], &["task1"]).await?;
    children(t, &new, 4).await
}

async fn rerun_and_resume_with_items_task(t: &St2) -> Result<(), String> {
    let (id, _) = run_with_file(
        t,
        "rerun-5",
        "examples.orquesta-test-rerun-with-items",
        "1",
        Failed,
        "0",
    )
    .await?;
    let new = rerun(t, &id, &["task1"], &[]).await?;
    children(t, &new, 2).await
}

async fn children(t: &St2, id: &str, want: usize) -> Result<(), String> {
    let got = t
        .engine
        .descendants(id, 1)
        .await
        .map_err(|e| e.to_string())?
        .len();
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{id} has {got} children, StackStorm's re-run has {want}"
        ))
    }
}

async fn task_retry(t: &St2) -> Result<(), String> {
    let id = start(t, "examples.orquesta-task-retry", json!({})).await?;
    reach(t, &id, Succeeded).await?;
    match task_runs(t, &id, "check").await.len() {
        n if n > 1 => Ok(()),
        n => Err(format!("check ran {n} time(s); StackStorm retries it")),
    }
}

async fn task_retry_exhausted(t: &St2) -> Result<(), String> {
    let id = start(t, "examples.orquesta-task-retry-exhausted", json!({})).await?;
    reach(t, &id, Failed).await?;
    let statuses: Vec<Status> = task_runs(t, &id, "check")
        .await
        .iter()
        .map(|e| e.status)
        .collect();
    if statuses != [Failed, Failed, Failed] {
        return Err(format!(
            "check ran as {statuses:?}; StackStorm's is three failures"
        ));
    }
    never_ran(t, &id, "delete").await
}
