//! The runners' own routes (`/runner/v1/...`): status, result and output of
//! one execution, with that execution's callback token, valid while it runs.
//! They stay apart from StackStorm's `/v1/executions/{id}`, whose `PUT` is
//! the user's pause, resume and cancel.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::{bad, bearer, ApiError};
use crate::engine::Engine;
use crate::error::EngineError;
use stormdesk_runner::protocol::{ExecutionUpdate, OutputBatch};

fn require_callback(engine: &Engine, headers: &HeaderMap, id: &str) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(t) if engine.callback_token_valid(id, t) => Ok(()),
        _ => Err(EngineError::Unauthorized(format!(
            "missing or invalid callback token for execution '{id}' (or it is no longer running)"
        ))
        .into()),
    }
}

/// `PUT /runner/v1/executions/{id}`: a runner's [`ExecutionUpdate`].
/// Answers `{"id", "status"}`: the status the record has now (the runner
/// needs no more, and the whole record would be encoded for every task).
pub(super) async fn update(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    require_callback(&engine, &headers, &id)?;
    let update: ExecutionUpdate =
        serde_json::from_value(body).map_err(|e| bad(format!("not a runner update: {e}")))?;
    let status = match engine.apply_update(&id, update).await? {
        Some(execution) => execution.status,
        None => engine.current(&id).await?.status,
    };
    Ok(Json(serde_json::json!({ "id": id, "status": status })))
}

/// `POST /runner/v1/executions/{id}/output`: a runner's output chunks.
pub(super) async fn output(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(batch): Json<OutputBatch>,
) -> Result<Json<Value>, ApiError> {
    require_callback(&engine, &headers, &id)?;
    let n = batch.chunks.len();
    engine.apply_output(&id, batch.chunks).await?;
    Ok(Json(serde_json::json!({ "accepted": n })))
}
