//! The workflow driver: conducts Orquesta workflows in-process with
//! `stormdesk-workflow`. Every task's action is a child execution (parent id,
//! task name, route, item index, attempt in its context); a task whose action
//! is a workflow is a child workflow, to any depth.
//!
//! A child's completion advances its parent at once (push: [`child_completed`]
//! is called when the child finishes). With [`CompletionMode::Poll`] a tracker
//! polls the store instead, as StackStorm's results tracker did.
//!
//! One async mutex per workflow serialises its conductor: a step feeds one
//! event to the conductor, launches what it returns, saves the state and
//! settles the execution's status. Steps never wait on another workflow's
//! lock while holding their own except through spawned tasks, so nested
//! workflows cannot deadlock.

mod contents;
mod control;
mod journal;
mod kv;
mod launch;
mod queries;
mod recover;
mod run;
mod start;
mod step;
mod tracker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use stormdesk_workflow::{TaskKey, TaskStatus};

use crate::model::{Execution, Status};

pub(crate) use control::{cancel, pause, resume};
pub(crate) use launch::truncate_parents;
pub(crate) use recover::{recover, saved_state};
pub(crate) use run::Run;
pub(crate) use start::{begin, prepare, prepare_run, rerun_conductor, RerunFrom};
pub(crate) use step::{advance, Step};
pub(crate) use tracker::spawn_tracker;

/// The runner type of workflows.
pub const WORKFLOW_RUNNER: &str = "orquesta";

/// How a child's completion reaches its parent workflow.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CompletionMode {
    /// The child's final report advances the parent immediately.
    #[default]
    Push,
    /// A tracker polls the store for completed children at this interval.
    Poll(Duration),
}

/// The workflows this engine is conducting.
#[derive(Default)]
pub(crate) struct Workflows {
    runs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Run>>>>,
    pub mode: CompletionMode,
}

impl Workflows {
    pub fn new(mode: CompletionMode) -> Workflows {
        Workflows {
            runs: Mutex::new(HashMap::new()),
            mode,
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Run>>> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn insert(&self, id: &str, run: Run) -> Arc<tokio::sync::Mutex<Run>> {
        let run = Arc::new(tokio::sync::Mutex::new(run));
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), run.clone());
        run
    }

    pub fn remove(&self, id: &str) {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// No workflow is being conducted.
    pub fn is_empty(&self) -> bool {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn ids(&self) -> Vec<String> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

/// The task a child execution runs for, from its `context.orquesta`.
pub(crate) fn task_key(context: &Map<String, Value>) -> Option<TaskKey> {
    let orquesta = context.get("orquesta")?;
    Some(TaskKey {
        task: orquesta.get("task_name")?.as_str()?.to_string(),
        route: orquesta
            .get("task_route")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32,
        item: orquesta
            .get("item_id")
            .and_then(Value::as_u64)
            .map(|i| i as usize),
    })
}

/// Which attempt of its task a child execution is (Stormdesk's `context.orquesta.attempt`).
pub(crate) fn task_attempt(context: &Map<String, Value>) -> Option<u64> {
    context.get("orquesta")?.get("attempt")?.as_u64()
}

pub(crate) fn task_status(status: Status) -> TaskStatus {
    match status {
        Status::Succeeded => TaskStatus::Succeeded,
        Status::Timeout => TaskStatus::Timeout,
        Status::Canceled => TaskStatus::Canceled,
        Status::Abandoned => TaskStatus::Abandoned,
        _ => TaskStatus::Failed,
    }
}

/// Whether `child` still has the status of `hold` (a late notification of
/// a child that has since moved on is ignored).
pub(crate) fn still_held(
    engine: &crate::Engine,
    child: &str,
    hold: stormdesk_workflow::TaskHold,
) -> bool {
    let want = match hold {
        stormdesk_workflow::TaskHold::Pending => Status::Pending,
        stormdesk_workflow::TaskHold::Paused => Status::Paused,
    };
    let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
    live.get(child).is_some_and(|l| l.execution.status == want)
}

/// Called when any execution completes: with push completion, a child of a
/// workflow advances its parent at once (on a task of its own, never inline).
pub(crate) fn child_completed(engine: &crate::Engine, execution: &Execution) {
    let Some(parent) = execution.parent.clone() else {
        return;
    };
    if engine.inner.workflows.mode != CompletionMode::Push {
        return;
    }
    let Some(step) = result_step(execution) else {
        return;
    };
    let engine = engine.clone();
    tokio::spawn(async move { advance(&engine, &parent, step).await });
}

/// The step that feeds a completed task execution to its workflow; `None`
/// when the execution is not a workflow task.
pub(crate) fn result_step(execution: &Execution) -> Option<Step> {
    let key = task_key(&execution.context)?;
    Some(Step::Result {
        child: execution.id.clone(),
        result: stormdesk_workflow::TaskResult {
            key,
            status: task_status(execution.status),
            result: execution.result.clone(),
        },
    })
}
