//! Cancel, pause and resume of a workflow, cascading through every level.

use super::{advance, Step, WORKFLOW_RUNNER};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, Status};

/// Active child executions of a workflow, with their runner.
async fn children(engine: &Engine, id: &str) -> Vec<(String, String)> {
    let Some(run) = engine.inner.workflows.get(id) else {
        return vec![];
    };
    let ids = run.lock().await.active_children();
    let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
    ids.into_iter()
        .filter_map(|c| live.get(&c).map(|l| (c, l.execution.runner.name.clone())))
        .collect()
}

/// The workflows below `id` (itself first), level by level, and the action
/// executions they are waiting on. Walks with a queue: however deep the
/// nesting, the call stack stays flat.
async fn subtree(engine: &Engine, id: &str) -> (Vec<String>, Vec<String>) {
    let mut workflows = vec![id.to_string()];
    let mut actions = Vec::new();
    let mut next = 0;
    while next < workflows.len() {
        let wf = workflows[next].clone();
        next += 1;
        for (child, runner) in children(engine, &wf).await {
            if runner == WORKFLOW_RUNNER {
                workflows.push(child);
            } else {
                actions.push(child);
            }
        }
    }
    (workflows, actions)
}

pub(crate) async fn cancel(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if current.status.is_completed() || engine.inner.workflows.get(id).is_none() {
        return Err(engine.cannot_control(id, current.status, "canceled"));
    }
    // Every workflow below stops issuing tasks first (top down), then the
    // actions they wait on are canceled, then the statuses settle bottom up.
    let mut workflows = vec![id.to_string()];
    let mut actions = Vec::new();
    let mut next = 0;
    while next < workflows.len() {
        let wf = workflows[next].clone();
        next += 1;
        advance(engine, &wf, Step::Cancel).await;
        for (child, runner) in children(engine, &wf).await {
            if runner == WORKFLOW_RUNNER {
                workflows.push(child);
            } else {
                actions.push(child);
            }
        }
    }
    for child in actions {
        // An ActionChain below cancels as chains do (its own cascade).
        let result = if crate::chain::is_chain(engine, &child) {
            crate::chain::cancel(engine, &child).await
        } else {
            engine.cancel_action(&child).await
        };
        if let Err(e) = result {
            tracing::debug!(child = %child, error = %e, "child not canceled");
        }
    }
    for wf in workflows.iter().rev() {
        advance(engine, wf, Step::Recheck).await;
    }
    engine.execution(id).await
}

pub(crate) async fn pause(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if current.runner_name() != WORKFLOW_RUNNER {
        return Err(EngineError::BadRequest(format!(
            "execution '{id}' runs action '{}' ({} runner); only workflows can be paused",
            current.action_ref(),
            current.runner_name()
        )));
    }
    if !matches!(current.status, Status::Running | Status::Resuming)
        || engine.inner.workflows.get(id).is_none()
    {
        return Err(engine.cannot_control(id, current.status, "paused"));
    }
    let (workflows, actions) = subtree(engine, id).await;
    crate::chain::cascade_pause(engine, &actions).await;
    for wf in &workflows {
        let running = engine
            .execution(wf)
            .await
            .is_ok_and(|e| matches!(e.status, Status::Running | Status::Resuming));
        if running {
            advance(engine, wf, Step::Pause).await;
        }
    }
    for wf in workflows.iter().rev() {
        advance(engine, wf, Step::Recheck).await;
    }
    engine.execution(id).await
}

pub(crate) async fn resume(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if !matches!(current.status, Status::Paused | Status::Pausing)
        || engine.inner.workflows.get(id).is_none()
    {
        return Err(engine.cannot_control(id, current.status, "resumed"));
    }
    // Children first, so a parent that resumes finds them running.
    let (workflows, actions) = subtree(engine, id).await;
    crate::chain::cascade_resume(engine, &actions).await;
    for wf in workflows.iter().rev() {
        let paused = engine
            .execution(wf)
            .await
            .is_ok_and(|e| matches!(e.status, Status::Paused | Status::Pausing));
        if paused {
            advance(engine, wf, Step::Resume).await;
        }
    }
    // A resumed subworkflow resumes the workflows above it that paused
    // (StackStorm's `handle_action_execution_resume`), level by level.
    let mut parent = engine.execution(id).await?.parent;
    while let Some(p) = parent {
        let above = engine.execution(&p).await?;
        if !matches!(above.status, Status::Paused | Status::Pausing) {
            break;
        }
        advance(engine, &p, Step::Resume).await;
        parent = above.parent;
    }
    engine.execution(id).await
}
