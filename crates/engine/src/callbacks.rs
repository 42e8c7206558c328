//! What runners report (through the listener or the spool) applied to executions.

use serde_json::Value;

use crate::engine::{set_status, Engine};
use crate::error::EngineError;
use crate::model::{Event, Execution, ExecutionOutput, OutputChunk, Status};
use crate::store::WriteOp;
use crate::token::callback_token_matches;
use stormdesk_runner::protocol::ExecutionUpdate;

/// The runner reported the action's process: its `pid` (recorded in the
/// context as StackStorm's `pid`, when given), and the record `running`
/// unless it is already past that.
fn mark_running(entry: &mut crate::engine::Live, pid: Option<u32>) {
    if let Some(pid) = pid {
        entry.child_pid = Some(pid);
        entry
            .execution
            .context
            .insert("pid".to_string(), Value::from(pid));
    }
    if matches!(
        entry.execution.status,
        Status::Requested | Status::Scheduled
    ) {
        set_status(&mut entry.execution, Status::Running);
    }
}

impl Engine {
    /// True when `token` is the callback token of `id` and `id` is still running.
    pub(crate) fn callback_token_valid(&self, id: &str, token: &str) -> bool {
        let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(id)
            .map(|l| !l.execution.status.is_completed() && callback_token_matches(&l.token, token))
            .unwrap_or(false)
    }

    /// Applies a runner's status update. Updates after completion change nothing.
    pub(crate) async fn apply_update(
        &self,
        id: &str,
        update: ExecutionUpdate,
    ) -> Result<Option<Execution>, EngineError> {
        if update.status.is_final() {
            // A short action's runner sends no `running`: its final update
            // carries the pid, and the record passes through `running` as
            // StackStorm's always does.
            if let Some(pid) = update.pid {
                let mut live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = live.get_mut(id) {
                    // A pid the `running` update already gave stays.
                    let pid = entry.child_pid.is_none().then_some(pid);
                    mark_running(entry, pid);
                }
            }
            return self
                .finish(
                    id,
                    update.status.into(),
                    update.result.unwrap_or(Value::Null),
                )
                .await;
        }
        let execution = {
            let mut live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            let Some(entry) = live.get_mut(id) else {
                return Ok(None);
            };
            mark_running(entry, update.pid);
            entry.execution.clone()
        };
        self.persist_soon(&execution, true)?;
        Ok(Some(execution))
    }

    /// Stores output chunks (secrets masked) and publishes them. Chunks already
    /// stored are ignored, so a spool replay after partial delivery loses and
    /// duplicates nothing.
    pub(crate) async fn apply_output(
        &self,
        id: &str,
        mut chunks: Vec<OutputChunk>,
    ) -> Result<(), EngineError> {
        self.with_secrets(id, |secrets| {
            for c in &mut chunks {
                c.data = secrets.mask_str(&c.data);
            }
        });
        if chunks.is_empty() {
            return Ok(());
        }
        self.inner
            .store
            .write(WriteOp::Output {
                execution_id: id.to_string(),
                chunks: chunks.clone(),
            })
            .await?;
        let (action, runner) = match self.current(id).await {
            Ok(e) => (e.action.ref_, e.runner.name),
            Err(_) => (String::new(), String::new()),
        };
        for chunk in chunks {
            self.inner.bus.publish(Event::Output {
                output: ExecutionOutput::from_parts(id, &action, &runner, &chunk),
            });
        }
        Ok(())
    }
}
