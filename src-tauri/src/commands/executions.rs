//! Running actions and following executions.

use serde_json::{Map, Value};
use stormdesk_engine::{Engine, Execution, ExecutionFilter, OutputChunk, RunRequest};
use tauri::{ipc::Channel, State};

use super::{body, CommandResult};

/// Schedules a run and returns at once; progress arrives as `execution` events.
#[tauri::command]
pub async fn run_action(
    engine: State<'_, Engine>,
    action: String,
    parameters: Option<Map<String, Value>>,
    content_version: Option<String>,
) -> CommandResult<Execution> {
    let request = RunRequest {
        action,
        parameters: parameters.unwrap_or_default(),
        content_version,
    };
    engine.run(request).await.map_err(body)
}

#[tauri::command]
pub async fn get_execution(engine: State<'_, Engine>, id: String) -> CommandResult<Execution> {
    engine.execution(&id).await.map_err(body)
}

#[tauri::command]
pub async fn list_executions(
    engine: State<'_, Engine>,
    filter: Option<ExecutionFilter>,
) -> CommandResult<Vec<Execution>> {
    engine
        .executions(filter.unwrap_or_default())
        .await
        .map_err(body)
}

#[tauri::command]
pub async fn cancel_execution(engine: State<'_, Engine>, id: String) -> CommandResult<Execution> {
    engine.cancel(&id).await.map_err(body)
}

/// The output recorded so far, after `after_seq` when given.
#[tauri::command]
pub async fn execution_output(
    engine: State<'_, Engine>,
    id: String,
    after_seq: Option<u64>,
) -> CommandResult<Vec<OutputChunk>> {
    engine.output(&id, after_seq).await.map_err(body)
}

/// Streams an execution's output over `on_chunk` (recorded chunks first, then
/// live ones, each once and in order) and returns the execution once it has
/// completed. Output goes over a channel rather than a global event so only
/// the view that asked pays for it.
#[tauri::command]
pub async fn follow_output(
    engine: State<'_, Engine>,
    id: String,
    after_seq: Option<u64>,
    on_chunk: Channel<OutputChunk>,
) -> CommandResult<Execution> {
    crate::output::follow(&engine, &id, after_seq, |chunk| {
        on_chunk.send(chunk).is_ok()
    })
    .await
    .map_err(body)
}
