//! Executions of work the engine does itself, recorded like any other so
//! StackStorm's clients can follow them: `POST /v1/packs/install` answers
//! with the id of a `packs.install` execution, as StackStorm does.

use std::future::Future;

use serde_json::{Map, Value};

use crate::engine::{Engine, Live};
use crate::error::EngineError;
use crate::model::{
    new_execution_id, now_rfc3339, Event, Execution, ExecutionAction, ExecutionRunner, Status,
    StatusLogEntry,
};
use crate::store::WriteOp;

/// The runner name recorded for the engine's own work.
pub const INTERNAL_RUNNER: &str = "stormdesk";

impl Engine {
    /// Records a running execution of `action_ref` by `user`, runs `work` in
    /// the background and completes the execution with its outcome:
    /// `succeeded` with the value, or `failed` with `{"error": message}`.
    pub async fn run_internal<F>(
        &self,
        action_ref: &str,
        parameters: Map<String, Value>,
        user: &str,
        work: F,
    ) -> Result<Execution, EngineError>
    where
        F: Future<Output = Result<Value, EngineError>> + Send + 'static,
    {
        let id = new_execution_id();
        let now = now_rfc3339();
        let mut context = Map::new();
        context.insert("user".into(), Value::String(user.to_string()));
        context.insert(
            "pack".into(),
            Value::String(action_ref.split('.').next().unwrap_or_default().to_string()),
        );
        let execution = Execution {
            id: id.clone(),
            action: ExecutionAction::new(action_ref, INTERNAL_RUNNER),
            runner: ExecutionRunner::new(INTERNAL_RUNNER),
            liveaction_id: id.clone(),
            status: Status::Running,
            start_timestamp: now.clone(),
            end_timestamp: None,
            elapsed_seconds: None,
            web_url: None,
            parameters,
            context,
            result: Value::Null,
            parent: None,
            children: vec![],
            log: [Status::Requested, Status::Running]
                .into_iter()
                .map(|status| StatusLogEntry {
                    status,
                    timestamp: now.clone(),
                })
                .collect(),
        };
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Live {
                    execution: execution.clone(),
                    token: String::new(),
                    action_token_hash: None,
                    runner_pid: None,
                    child_pid: None,
                    control: None,
                    adopted: false,
                    finishing: false,
                },
            );
        self.inner
            .store
            .write(WriteOp::Upsert {
                execution: Box::new(execution.clone()),
                callback_token: None,
                action_token_hash: None,
                runner_pid: None,
            })
            .await?;
        self.inner.bus.publish(Event::Execution {
            execution: Box::new(execution.clone()),
            created: true,
        });
        let engine = self.clone();
        tokio::spawn(async move {
            let (status, result) = match work.await {
                Ok(value) => (Status::Succeeded, value),
                Err(e) => (
                    Status::Failed,
                    serde_json::json!({ "error": e.to_string() }),
                ),
            };
            if let Err(e) = engine.finish(&id, status, result).await {
                tracing::warn!(execution = %id, error = %e, "could not record the outcome");
            }
        });
        Ok(execution)
    }
}
