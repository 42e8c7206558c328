//! `/v1/packs` and `/v1/actions`, with revisions of git packs.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::{require_api, ApiError};
use crate::catalog::{ActionDetail, ActionSummary, PackSummary};
use crate::engine::Engine;
use crate::git::{Installed, Revisions, Updated};

pub(super) async fn packs(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<Vec<PackSummary>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.packs()))
}

/// Loads the packs again (the CLI installed or updated one).
pub(super) async fn reload(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<Vec<PackSummary>>, ApiError> {
    require_api(&engine, &headers)?;
    engine.reload_packs();
    Ok(Json(engine.packs()))
}

pub(super) async fn actions(
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<Vec<ActionSummary>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.actions()))
}

#[derive(Deserialize)]
pub(super) struct AtRevision {
    content_version: Option<String>,
}

pub(super) async fn action(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(action_ref): Path<String>,
    Query(at): Query<AtRevision>,
) -> Result<Json<ActionDetail>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(
        engine
            .action_at(&action_ref, at.content_version.as_deref())
            .await?,
    ))
}

pub(super) async fn revisions(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(pack): Path<String>,
) -> Result<Json<Revisions>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.revisions(&pack).await?))
}

#[derive(Deserialize)]
pub(super) struct InstallRequest {
    source: String,
    #[serde(default, rename = "ref")]
    rev: Option<String>,
    #[serde(default)]
    force: bool,
}

pub(super) async fn install(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Json(req): Json<InstallRequest>,
) -> Result<Json<Installed>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(
        engine
            .install_pack(&req.source, req.rev.as_deref(), req.force)
            .await?,
    ))
}

pub(super) async fn update(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(pack): Path<String>,
) -> Result<Json<Updated>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.update_pack(&pack).await?))
}
