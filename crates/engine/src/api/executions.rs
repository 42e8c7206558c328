//! `/v1/executions`: run, list, get, cancel, children, output, re-run.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{require_api, ApiError};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, OutputChunk, RunRequest, Status};

#[derive(Debug, Deserialize, Default)]
pub(super) struct ListQuery {
    status: Option<String>,
    action: Option<String>,
    pack: Option<String>,
    parent: Option<String>,
    #[serde(default)]
    roots_only: bool,
    content_version: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(super) async fn list(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    require_api(&engine, &headers)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "unknown status '{s}'; use one of: {}",
                    Status::ALL.map(|s| s.as_str()).join(", ")
                ))
            })
        })
        .transpose()?;
    let filter = ExecutionFilter {
        status,
        action: q.action,
        pack: q.pack,
        parent: q.parent,
        roots_only: q.roots_only,
        content_version: q.content_version,
        since: q.since,
        until: q.until,
        q: q.q,
        limit: q.limit,
        offset: q.offset,
    };
    Ok(Json(engine.executions(filter).await?))
}

pub(super) async fn create(
    State(engine): State<Engine>,
    headers: HeaderMap,
    body: Result<Json<RunRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    require_api(&engine, &headers)?;
    let Json(req) = body.map_err(|e| {
        EngineError::BadRequest(format!(
            "the body must be JSON {{\"action\": \"pack.name\", \"parameters\": {{...}}}}: {e}"
        ))
    })?;
    Ok((StatusCode::CREATED, Json(engine.run(req).await?)))
}

pub(super) async fn get(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.execution(&id).await?))
}

pub(super) async fn cancel(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.cancel(&id).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct ChildrenQuery {
    /// Levels below the execution: 1 (default) for direct children, -1 for all.
    depth: Option<i32>,
}

pub(super) async fn children(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ChildrenQuery>,
) -> Result<Json<Vec<Execution>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.descendants(&id, q.depth.unwrap_or(1)).await?))
}

pub(super) async fn graph(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.workflow_graph(&id).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct OutputQuery {
    after: Option<u64>,
}

pub(super) async fn output(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<OutputQuery>,
) -> Result<Json<Vec<OutputChunk>>, ApiError> {
    require_api(&engine, &headers)?;
    Ok(Json(engine.output(&id, q.after).await?))
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct ReRun {
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    content_version: Option<String>,
}

pub(super) async fn re_run(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<ReRun>>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    require_api(&engine, &headers)?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let execution = engine
        .re_run(&id, body.parameters, body.content_version)
        .await?;
    Ok((StatusCode::CREATED, Json(execution)))
}
