//! After a restart: workflows left running continue from their saved
//! conductor state. Completed tasks are never run again: a child that
//! finished while no engine was listening is fed from the store, and a task
//! that was issued but whose child already exists is adopted, not relaunched.

use serde_json::json;
use stormdesk_workflow::TaskResult;

use super::{advance, task_key, task_status, Run, Step};
use crate::engine::{Engine, Live};
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter};

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
                    execution,
                    token: String::new(),
                    action_token_hash: None,
                    runner_pid: None,
                    child_pid: None,
                    control: None,
                    adopted: false,
                    finishing: false,
                },
            );
        let state = engine.inner.store.workflow_state(&id).await?;
        let run = match state.map(|s| serde_json::from_str::<Run>(&s)) {
            Some(Ok(run)) if !run.has_secrets => run,
            Some(Ok(_)) => {
                engine
                    .finish(&id, crate::model::Status::Failed, json!({"output": null, "errors": [{"type": "error", "message": "the engine stopped while this workflow ran; it had secret inputs, which are never stored, so it cannot resume: run it again"}]}))
                    .await?;
                continue;
            }
            Some(Err(e)) => {
                engine
                    .finish(&id, crate::model::Status::Failed, json!({"output": null, "errors": [{"type": "error", "message": format!("the saved state of this workflow cannot be read ({e}); run it again")}]}))
                    .await?;
                continue;
            }
            None => {
                engine
                    .finish(&id, crate::model::Status::Failed, json!({"output": null, "errors": [{"type": "error", "message": "the engine stopped before this workflow's state was saved; run it again"}]}))
                    .await?;
                continue;
            }
        };
        engine.inner.workflows.insert(&id, run);
        resumed.push(id);
    }
    for id in resumed {
        catch_up(engine, &id).await?;
    }
    Ok(())
}

async fn catch_up(engine: &Engine, id: &str) -> Result<(), EngineError> {
    let children = engine
        .executions(ExecutionFilter {
            parent: Some(id.to_string()),
            limit: Some(u32::MAX),
            ..Default::default()
        })
        .await?;
    let mut completed = Vec::new();
    if let Some(run) = engine.inner.workflows.get(id) {
        let mut run = run.lock().await;
        // Issued and already started before the stop: adopt the child.
        let pending = std::mem::take(&mut run.pending);
        for req in pending {
            let existing = children.iter().find(|c| {
                task_key(&c.context).as_ref() == Some(&req.key)
                    && super::task_attempt(&c.context) == Some(req.attempt as u64)
            });
            match existing {
                Some(child) => run.active.push((req.key, child.id.clone())),
                None => run.pending.push(req),
            }
        }
        for (key, child) in &run.active {
            if let Some(c) = children.iter().find(|c| &c.id == child) {
                if c.status.is_completed() {
                    completed.push(Step::Result {
                        child: c.id.clone(),
                        result: TaskResult {
                            key: key.clone(),
                            status: task_status(c.status),
                            result: c.result.clone(),
                        },
                    });
                }
            }
        }
    }
    tracing::info!(workflow = %id, "resuming after restart");
    advance(engine, id, Step::Relaunch).await;
    for step in completed {
        advance(engine, id, step).await;
    }
    advance(engine, id, Step::Recheck).await;
    Ok(())
}
