//! The callback listener's routes: runners report status, result and output.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use super::{require_callback, ApiError};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::Execution;
use stormdesk_runner::protocol::{ExecutionUpdate, OutputBatch};

/// `PUT /v1/executions/{id}`: a runner's update (callback token), or a user's
/// `{"status": "canceled" | "pausing" | "resuming"}` (API token).
pub(super) async fn put_execution(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Execution>, ApiError> {
    let from_runner = require_callback(&engine, &headers, &id)?;
    if !from_runner {
        return match body.get("status").and_then(Value::as_str) {
            Some("canceled") | Some("canceling") => Ok(Json(engine.cancel(&id).await?)),
            Some("pausing") | Some("paused") => Ok(Json(engine.pause(&id).await?)),
            Some("resuming") | Some("running") => Ok(Json(engine.resume(&id).await?)),
            _ => Err(EngineError::BadRequest(
                "set {\"status\": \"canceled\"}, \"pausing\" or \"resuming\" through the API"
                    .into(),
            )
            .into()),
        };
    }
    let update: ExecutionUpdate = serde_json::from_value(body)
        .map_err(|e| EngineError::BadRequest(format!("not a runner update: {e}")))?;
    engine.apply_update(&id, update).await?;
    Ok(Json(engine.execution(&id).await?))
}

/// `POST /v1/executions/{id}/output`: a runner's output chunks.
pub(super) async fn post_output(
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
