//! The engine's workflow methods for faces: pause, resume, descendants, graph.

use serde_json::Value;

use super::run::Snapshot;
use super::WORKFLOW_RUNNER;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter};

impl Engine {
    /// Pauses a workflow (or an ActionChain) and, through it, every
    /// running child workflow.
    pub async fn pause(&self, id: &str) -> Result<Execution, EngineError> {
        if self.inner.chains.get(id).is_some()
            || self.execution(id).await?.runner_name() == crate::chain::CHAIN_RUNNER
        {
            return crate::chain::pause(self, id).await;
        }
        super::pause(self, id).await
    }

    /// Resumes a paused workflow (or ActionChain) and its paused child workflows.
    pub async fn resume(&self, id: &str) -> Result<Execution, EngineError> {
        if self.inner.chains.get(id).is_some()
            || self.execution(id).await?.runner_name() == crate::chain::CHAIN_RUNNER
        {
            return crate::chain::resume(self, id).await;
        }
        super::resume(self, id).await
    }

    /// Every descendant of an execution, depth first (each child followed by
    /// its own descendants, siblings in start order), as StackStorm's
    /// `get_descendants` lists them by default; `depth` levels (`-1` or less
    /// for all).
    pub async fn descendants(&self, id: &str, depth: i32) -> Result<Vec<Execution>, EngineError> {
        let root = self.execution(id).await?;
        let mut out = Vec::new();
        // An explicit stack: nesting depth comes from the workflows run.
        let mut stack = vec![(root, 0i32, false)];
        while let Some((node, level, emit)) = stack.pop() {
            let parent_kind = matches!(
                node.runner_name(),
                WORKFLOW_RUNNER | crate::chain::CHAIN_RUNNER
            );
            let expand = parent_kind && (depth < 0 || level < depth);
            let node_id = node.id.clone();
            if emit {
                out.push(node);
            }
            if !expand {
                continue;
            }
            let children = self
                .executions(ExecutionFilter {
                    parent: Some(node_id),
                    limit: Some(u32::MAX),
                    order: crate::model::SortOrder::Asc,
                    ..Default::default()
                })
                .await?;
            for child in children.into_iter().rev() {
                stack.push((child, level + 1, true));
            }
        }
        Ok(out)
    }

    /// The workflow's tasks and transitions, for display: `{"tasks": [{name, action, next}]}`.
    pub async fn workflow_graph(&self, id: &str) -> Result<Value, EngineError> {
        let execution = self.execution(id).await?;
        if execution.runner_name() != WORKFLOW_RUNNER {
            return Err(EngineError::BadRequest(format!(
                "execution '{id}' runs action '{}', which is not a workflow",
                execution.action_ref()
            )));
        }
        let graph = match self.inner.workflows.get(id) {
            Some(run) => run.lock().await.conductor.graph(),
            None => {
                let state = self.inner.store.workflow_state(id).await?.ok_or_else(|| {
                    EngineError::BadRequest(format!("workflow '{id}' has no saved definition"))
                })?;
                let run: Snapshot = serde_json::from_str(&state).map_err(|e| {
                    EngineError::BadRequest(format!("workflow '{id}': saved state unreadable: {e}"))
                })?;
                run.conductor.graph()
            }
        };
        Ok(serde_json::json!({ "tasks": graph }))
    }
}
