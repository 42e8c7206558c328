//! Re-running an execution, as StackStorm's `POST /v1/executions/{id}/re_run`
//! (`st2api/controllers/v1/actionexecutions.py`, `ActionExecutionReRunController`).

use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, RunRequest};

/// What `Engine::re_run_as` is asked: StackStorm's re-run request.
#[derive(Debug, Clone, Default)]
pub struct ReRun {
    /// Overrides of the original parameters.
    pub parameters: Map<String, Value>,
    /// The revision to run at; the original's when absent.
    pub content_version: Option<String>,
    /// Workflow tasks to re-run from (StackStorm's `tasks`).
    pub tasks: Vec<String>,
    /// With-items tasks to re-run whole (StackStorm's `reset`).
    pub reset: Vec<String>,
    /// Who runs it; the original's user when absent.
    pub user: Option<String>,
}

impl Engine {
    /// Runs an execution again with its parameters, overridden by `parameters`.
    /// Secret parameters were never stored in clear, so they must be given again.
    pub async fn re_run(
        &self,
        id: &str,
        parameters: Map<String, Value>,
        content_version: Option<String>,
    ) -> Result<Execution, EngineError> {
        self.re_run_as(
            id,
            ReRun {
                parameters,
                content_version,
                ..Default::default()
            },
        )
        .await
    }

    /// StackStorm's re-run (`POST /v1/executions/{id}/re_run`): a new
    /// execution of the same action with the original parameters, overridden
    /// by `req.parameters`, at `req.content_version` or the original revision.
    pub async fn re_run_as(&self, id: &str, req: ReRun) -> Result<Execution, EngineError> {
        let ReRun {
            parameters,
            content_version,
            tasks,
            reset,
            user,
        } = req;
        let original = self.execution(id).await?;
        let rerun = if tasks.is_empty() {
            None
        } else {
            if original.runner_name() != crate::workflow::WORKFLOW_RUNNER {
                return Err(EngineError::BadRequest(format!(
                    "execution '{id}' is not a workflow; tasks can only be given to re-run a workflow"
                )));
            }
            if !original.status.is_completed() {
                return Err(EngineError::BadRequest(format!(
                    "workflow '{id}' is {}; re-run it from tasks once it has completed",
                    original.status
                )));
            }
            Some(crate::workflow::RerunFrom {
                original: id.to_string(),
                saved: crate::workflow::saved_state(self, &original).await?,
                options: stormdesk_workflow::RerunOptions {
                    tasks: tasks.clone(),
                    reset: reset.clone(),
                },
            })
        };
        let original_revision = original.content_version().map(str::to_string);
        let action = original.action_ref().to_string();
        let user = user.or_else(|| original.user().map(str::to_string));
        let detail = self.action(&action)?;
        let mutable = |k: &str| detail.parameters.get(k).is_some_and(|p| !p.immutable);
        // A value that holds a masked secret was never stored in clear: it is
        // not run again as `********` (a shell would expand it), it must be
        // given again.
        let (masked, mut merged): (Params, Params) = original
            .parameters
            .into_iter()
            .filter(|(k, _)| k != "content_version" && mutable(k))
            .partition(|(_, v)| holds_mask(v));
        let missing: Vec<String> = masked
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !parameters.contains_key(k))
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|k| format!("'{k}'")).collect();
            let (what, them) = if missing.len() == 1 {
                ("parameter", "it")
            } else {
                ("parameters", "them")
            };
            return Err(EngineError::BadRequest(format!(
                "{what} {} of execution '{id}' held a secret, which is never stored: \
                 give {them} again to re-run it",
                names.join(", ")
            )));
        }
        merged.extend(parameters);
        let merged: Map<String, Value> = merged.into_iter().collect();
        let mut context = Map::new();
        let mut re_run = Map::new();
        re_run.insert("ref".into(), Value::String(id.to_string()));
        // As StackStorm's re-run controller records it
        // (`st2api/controllers/v1/actionexecutions.py`).
        if !tasks.is_empty() {
            re_run.insert("tasks".into(), serde_json::json!(tasks));
        }
        if !reset.is_empty() {
            re_run.insert("reset".into(), serde_json::json!(reset));
        }
        context.insert("re-run".into(), Value::Object(re_run));
        self.run_from(
            RunRequest {
                action,
                parameters: merged,
                content_version: content_version.or(original_revision),
                context,
                user,
            },
            None,
            Map::new(),
            rerun,
        )
        .await
    }
}

/// Whether `v`, or any string inside it, holds the mask of a secret.
fn holds_mask(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains(crate::mask::MASK) => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    false
}

/// Parameters as name and value pairs.
type Params = Vec<(String, Value)>;
