//! Cancel, pause and resume of a workflow, cascading through every level.

use super::{advance, Step, WORKFLOW_RUNNER};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, Status};

fn not_active(id: &str, status: Status, verb: &'static str) -> EngineError {
    EngineError::NotActive {
        id: id.to_string(),
        status: status.to_string(),
        verb,
    }
}

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

pub(crate) async fn cancel(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if current.status.is_completed() || engine.inner.workflows.get(id).is_none() {
        return Err(not_active(id, current.status, "canceled"));
    }
    advance(engine, id, Step::Cancel).await;
    for (child, _) in children(engine, id).await {
        if let Err(e) = Box::pin(engine.cancel(&child)).await {
            tracing::debug!(child = %child, error = %e, "child not canceled");
        }
    }
    advance(engine, id, Step::Recheck).await;
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
        return Err(not_active(id, current.status, "paused"));
    }
    advance(engine, id, Step::Pause).await;
    for (child, runner) in children(engine, id).await {
        if runner == WORKFLOW_RUNNER {
            let _ = Box::pin(pause(engine, &child)).await;
        }
    }
    advance(engine, id, Step::Recheck).await;
    engine.execution(id).await
}

pub(crate) async fn resume(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if !matches!(current.status, Status::Paused | Status::Pausing)
        || engine.inner.workflows.get(id).is_none()
    {
        return Err(not_active(id, current.status, "resumed"));
    }
    for (child, runner) in children(engine, id).await {
        if runner == WORKFLOW_RUNNER {
            let _ = Box::pin(resume(engine, &child)).await;
        }
    }
    advance(engine, id, Step::Resume).await;
    engine.execution(id).await
}
