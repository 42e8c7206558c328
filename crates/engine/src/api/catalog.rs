//! `/v1/packs` and `/v1/actions`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;

use super::{require_api, ApiError};
use crate::catalog::{ActionDetail, ActionSummary, PackSummary};
use crate::engine::Engine;

pub(super) async fn packs(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<Vec<PackSummary>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.packs()))
}

pub(super) async fn actions(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<Vec<ActionSummary>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.actions()))
}

pub(super) async fn action(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(action_ref): Path<String>,
) -> Result<Json<ActionDetail>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.action(&action_ref)?))
}
