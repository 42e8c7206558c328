//! Executions of work the engine does itself, recorded like any other so
//! StackStorm's clients can follow them: `POST /v1/packs/install` answers
//! with the id of a `packs.install` execution, as StackStorm does. The work
//! reports progress as the execution's output ([`InternalOutput`]), which
//! consoles show live like any action's.

use std::future::Future;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::engine::{Engine, Live};
use crate::error::EngineError;
use crate::model::{
    new_execution_id, now_rfc3339, Event, Execution, ExecutionAction, ExecutionRunner, OutputChunk,
    Status, StatusLogEntry, Stream,
};
use crate::store::WriteOp;

enum OutputMessage {
    Line(Stream, String),
    Flush(oneshot::Sender<()>),
}

/// Where an internal run's progress goes: each line becomes an output chunk
/// of its execution (stored, then published), in the order written. Cheap
/// to clone; usable from blocking threads (git's progress callbacks).
#[derive(Clone)]
pub struct InternalOutput {
    tx: mpsc::UnboundedSender<OutputMessage>,
}

impl InternalOutput {
    /// One line of progress on stdout (a newline is added).
    pub fn line(&self, text: impl Into<String>) {
        let _ = self
            .tx
            .send(OutputMessage::Line(Stream::Stdout, text.into()));
    }

    /// One line on stderr (warnings, what did not load).
    pub fn warn(&self, text: impl Into<String>) {
        let _ = self
            .tx
            .send(OutputMessage::Line(Stream::Stderr, text.into()));
    }

    /// Resolves once every line written so far is stored and published.
    async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(OutputMessage::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// A sink that drops every line (the same work without an execution).
    pub fn discard() -> InternalOutput {
        let (tx, mut rx) = mpsc::unbounded_channel::<OutputMessage>();
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if let OutputMessage::Flush(done) = message {
                    let _ = done.send(());
                }
            }
        });
        InternalOutput { tx }
    }

    /// Writes `id`'s output in order, until every sender is gone.
    fn start(engine: Engine, id: String) -> InternalOutput {
        let (tx, mut rx) = mpsc::unbounded_channel::<OutputMessage>();
        tokio::spawn(async move {
            let mut seq = 0u64;
            while let Some(message) = rx.recv().await {
                match message {
                    OutputMessage::Line(stream, text) => {
                        let chunk = OutputChunk {
                            seq,
                            stream,
                            data: format!("{text}\n"),
                            timestamp: now_rfc3339(),
                        };
                        seq += 1;
                        if let Err(e) = engine.apply_output(&id, vec![chunk]).await {
                            tracing::warn!(execution = %id, error = %e, "could not record progress");
                        }
                    }
                    OutputMessage::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        InternalOutput { tx }
    }
}

/// The runner name recorded for the engine's own work.
pub const INTERNAL_RUNNER: &str = "stormdesk";

impl Engine {
    /// Records a running execution of `action_ref` by `user`, runs `work` in
    /// the background (its progress lines become the execution's output) and
    /// completes the execution with its outcome: `succeeded` with the value,
    /// or `failed` with `{"error": message}`, once every line is recorded.
    pub async fn run_internal<W, F>(
        &self,
        action_ref: &str,
        parameters: Map<String, Value>,
        user: &str,
        work: W,
    ) -> Result<Execution, EngineError>
    where
        W: FnOnce(InternalOutput) -> F,
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
        let output = InternalOutput::start(self.clone(), id.clone());
        let work = work(output.clone());
        tokio::spawn(async move {
            let (status, result) = match work.await {
                Ok(value) => (Status::Succeeded, value),
                Err(e) => {
                    output.warn(format!("error: {e}"));
                    (
                        Status::Failed,
                        serde_json::json!({ "error": e.to_string() }),
                    )
                }
            };
            // Its output is recorded before it completes, as a runner's is.
            output.flush().await;
            if let Err(e) = engine.finish(&id, status, result).await {
                tracing::warn!(execution = %id, error = %e, "could not record the outcome");
            }
        });
        Ok(execution)
    }
}
