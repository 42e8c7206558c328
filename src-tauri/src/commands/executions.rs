//! Running actions and following executions.

use serde_json::{Map, Value};
use stormdesk_engine::{Engine, Execution, ExecutionFilter, ExecutionOutput, RunRequest};
use tauri::State;

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
        content_version,
        ..RunRequest::new(action, parameters.unwrap_or_default())
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

/// Runs an execution's action again: its parameters with `parameters` as
/// overrides, at `content_version` when given (secrets must be given again).
#[tauri::command]
pub async fn re_run_execution(
    engine: State<'_, Engine>,
    id: String,
    parameters: Option<Map<String, Value>>,
    content_version: Option<String>,
) -> CommandResult<Execution> {
    engine
        .re_run(&id, parameters.unwrap_or_default(), content_version)
        .await
        .map_err(body)
}

/// Pauses a workflow (and its running child workflows).
#[tauri::command]
pub async fn pause_execution(engine: State<'_, Engine>, id: String) -> CommandResult<Execution> {
    engine.pause(&id).await.map_err(body)
}

/// Resumes a paused workflow (and its paused child workflows).
#[tauri::command]
pub async fn resume_execution(engine: State<'_, Engine>, id: String) -> CommandResult<Execution> {
    engine.resume(&id).await.map_err(body)
}

/// Every execution below `id` (a workflow's tasks, their subworkflows' tasks),
/// parents before children; `depth` levels, all when negative or absent.
#[tauri::command]
pub async fn execution_descendants(
    engine: State<'_, Engine>,
    id: String,
    depth: Option<i32>,
) -> CommandResult<Vec<Execution>> {
    engine
        .descendants(&id, depth.unwrap_or(-1))
        .await
        .map_err(body)
}

/// A workflow's tasks and transitions at its revision: `{"tasks": [{name, action, next}]}`.
#[tauri::command]
pub async fn workflow_graph(engine: State<'_, Engine>, id: String) -> CommandResult<Value> {
    engine.workflow_graph(&id).await.map_err(body)
}

#[tauri::command]
pub async fn cancel_execution(engine: State<'_, Engine>, id: String) -> CommandResult<Execution> {
    engine.cancel(&id).await.map_err(body)
}

/// The output recorded so far, after `after_seq` when given. With the
/// `output` events it is all the UI needs to show every line: its output hub
/// (ui/src/lib/output-hub.ts) merges the two by `seq`.
#[tauri::command]
pub async fn execution_output(
    engine: State<'_, Engine>,
    id: String,
    after_seq: Option<u64>,
) -> CommandResult<Vec<ExecutionOutput>> {
    engine.output(&id, after_seq).await.map_err(body)
}
