//! How a child execution's progress reaches its parent, whatever runs the
//! parent: an Orquesta workflow (the child's context has `orquesta`) or an
//! ActionChain (the child's context has `chain`).
//!
//! Besides completions, StackStorm feeds a parent two statuses of a child
//! that has not finished (`st2common/services/workflows.py`): `pending` (an
//! Inquiry waiting for its answer) and `paused` (a child workflow that
//! paused), and the return of a paused child to running
//! (`handle_action_execution_resume`). Every notification is handled on a
//! task of its own, never inline, so a parent's lock is never taken while a
//! child's is held.

use stormdesk_workflow::TaskHold;

use crate::engine::Engine;
use crate::model::{Execution, Status};

/// A child reported `hold` (pending, paused) and will report again.
pub(crate) fn child_held(engine: &Engine, execution: &Execution, hold: TaskHold) {
    let Some(parent) = execution.parent.clone() else {
        return;
    };
    if let Some(key) = crate::workflow::task_key(&execution.context) {
        let step = crate::workflow::Step::Held {
            child: execution.id.clone(),
            key,
            hold,
        };
        let engine = engine.clone();
        tokio::spawn(async move { crate::workflow::advance(&engine, &parent, step).await });
    } else if execution.context.contains_key("chain") {
        crate::chain::child_held(engine, &parent, &execution.id, hold);
    }
}

/// A child that was held runs again (a paused child workflow resumed).
pub(crate) fn child_resumed(engine: &Engine, execution: &Execution) {
    let Some(parent) = execution.parent.clone() else {
        return;
    };
    if let Some(key) = crate::workflow::task_key(&execution.context) {
        let step = crate::workflow::Step::ChildResumed {
            child: execution.id.clone(),
            key,
        };
        let engine = engine.clone();
        tokio::spawn(async move { crate::workflow::advance(&engine, &parent, step).await });
    }
    // An ActionChain goes on only when it is resumed itself, as StackStorm's.
}

/// Any execution completed. An Inquiry that timed out reaches its parent
/// first, then the root resumes, in that order, as StackStorm's garbage
/// collector does it (`st2common/garbage_collection/inquiries.py`).
pub(crate) fn child_completed(engine: &Engine, execution: &Execution) {
    if execution.parent.is_none() {
        return;
    }
    let expired = execution.runner_name() == crate::inquiry::INQUIRY_RUNNER
        && execution.status == Status::Timeout;
    if !expired {
        crate::workflow::child_completed(engine, execution);
        crate::chain::child_completed(engine, execution);
        return;
    }
    let (engine, execution) = (engine.clone(), execution.clone());
    tokio::spawn(async move {
        let parent = execution.parent.clone().unwrap_or_default();
        if let Some(step) = crate::workflow::result_step(&execution) {
            crate::workflow::advance(&engine, &parent, step).await;
        } else {
            crate::chain::child_done(&engine, &parent, &execution).await;
        }
        let root = crate::inquiry::root_of(&engine, &execution).await;
        let paused = engine
            .execution(&root)
            .await
            .is_ok_and(|r| matches!(r.status, Status::Paused | Status::Pausing));
        if paused {
            if let Err(e) = engine.resume(&root).await {
                tracing::debug!(root = %root, error = %e, "root not resumed after the inquiry expired");
            }
        }
    });
}

/// Runner types the engine runs itself, without a runner process.
pub(crate) fn in_process(runner: &str) -> bool {
    matches!(
        runner,
        crate::workflow::WORKFLOW_RUNNER
            | crate::chain::CHAIN_RUNNER
            | crate::inquiry::INQUIRY_RUNNER
            | crate::announcement::ANNOUNCEMENT_RUNNER
    )
}

/// After a restart: what the engine runs itself and an earlier engine left
/// unfinished goes on. Chains register first (so a child completing while
/// workflows catch up finds its chain), then workflows recover, then chains
/// catch up, then pending Inquiries come back. An announcement is published
/// at once, so one left unfinished never went out: it fails, saying so.
pub(crate) async fn recover(
    engine: &Engine,
    executions: Vec<Execution>,
) -> Result<(), crate::error::EngineError> {
    let mut workflows = Vec::new();
    let mut chains = Vec::new();
    let mut inquiries = Vec::new();
    for e in executions {
        match e.runner_name() {
            crate::workflow::WORKFLOW_RUNNER => workflows.push(e),
            crate::chain::CHAIN_RUNNER => chains.push(e),
            crate::inquiry::INQUIRY_RUNNER => inquiries.push(e),
            _ => {
                let id = e.id.clone();
                crate::announcement::register_live(engine, e);
                engine
                    .finish(
                        &id,
                        Status::Failed,
                        serde_json::json!({"error": "the engine stopped before this announcement was published; run it again"}),
                    )
                    .await?;
            }
        }
    }
    crate::inquiry::register(engine, &inquiries);
    let chains = crate::chain::register(engine, chains).await?;
    crate::workflow::recover(engine, workflows).await?;
    crate::chain::catch_up(engine, chains).await;
    crate::inquiry::recover(engine, inquiries);
    Ok(())
}
