//! Packs, actions and runner types in StackStorm's shapes
//! (`st2api/controllers/v1/{packs,actions,action_views,runnertypes}.py`),
//! and Stormdesk's git pack routes (revisions, install from a source, update,
//! reload).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::attrs::Params;
use super::{bad, ApiError, Caller, User};
use crate::catalog::{runner_type_summaries, ActionDetail, ActionSummary, PackSummary};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::git::{Installed, Revisions, Updated};
use crate::pack_register::{RegisterRequest, Registered};

/// A listing with StackStorm's `X-Total-Count`, paged by `offset`/`limit`
/// and trimmed by `include_attributes`/`exclude_attributes`.
pub(super) fn listing<T: serde::Serialize>(
    items: Vec<T>,
    q: &Params,
) -> Result<Response, ApiError> {
    let total = items.len();
    let offset = q.int("offset")?.unwrap_or(0).max(0) as usize;
    let limit = match q.int("limit")? {
        Some(l) if l > 0 => l as usize,
        _ => usize::MAX,
    };
    let fields = q.fields();
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| fields.apply(serde_json::to_value(i).unwrap_or(Value::Null)))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total as u64));
    if limit != usize::MAX {
        headers.insert("x-limit", HeaderValue::from(limit as u64));
    }
    Ok((headers, Json(page)).into_response())
}

/// `GET /v1/packs?name=&ref=`.
pub(super) async fn packs(
    State(engine): State<Engine>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let packs: Vec<PackSummary> = engine
        .packs()
        .into_iter()
        .filter(|p| q.get("name").is_none_or(|n| p.name == n))
        .filter(|p| q.get("ref").is_none_or(|r| p.ref_ == r))
        .collect();
    listing(packs, &q)
}

/// `GET /v1/packs/{ref_or_id}`.
pub(super) async fn pack(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(ref_or_id): Path<String>,
) -> Result<Json<PackSummary>, ApiError> {
    engine
        .packs()
        .into_iter()
        .find(|p| p.ref_ == ref_or_id || p.id == ref_or_id)
        .map(Json)
        .ok_or_else(|| EngineError::UnknownPack(ref_or_id).into())
}

/// Loads the packs again (the CLI installed or updated one).
pub(super) async fn reload(State(engine): State<Engine>, _user: User) -> Json<Vec<PackSummary>> {
    engine.reload_packs();
    Json(engine.packs())
}

/// `POST /v1/packs/register` (`st2 pack register`): loads the packs again
/// and answers StackStorm's counts by content type. The body is optional.
pub(super) async fn register(
    State(engine): State<Engine>,
    _user: User,
    body: axum::body::Bytes,
) -> Result<Json<Registered>, ApiError> {
    let req: RegisterRequest = match super::optional_body(&body)? {
        Value::Null => RegisterRequest::default(),
        body => serde_json::from_value(body).map_err(|e| {
            bad(format!(
                "the pack register request is not valid: {e}; send {{\"packs\": [...], \"types\": [...]}} or nothing"
            ))
        })?,
    };
    Ok(Json(engine.register_packs(&req)?))
}

/// `GET /v1/runnertypes?name=`.
pub(super) async fn runner_types(
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let types: Vec<_> = runner_type_summaries()
        .into_iter()
        .filter(|r| q.get("name").is_none_or(|n| r.name == n))
        .collect();
    listing(types, &q)
}

/// `GET /v1/runnertypes/{name_or_id}`.
pub(super) async fn runner_type(
    _caller: Caller,
    Path(name_or_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    runner_type_summaries()
        .into_iter()
        .find(|r| r.name == name_or_id || r.id == name_or_id)
        .map(|r| Json(serde_json::to_value(r).unwrap_or(Value::Null)))
        .ok_or_else(|| {
            EngineError::NotFound(format!(
                "runner type '{name_or_id}' not found: list them with GET /v1/runnertypes"
            ))
            .into()
        })
}

fn filtered_actions(engine: &Engine, q: &Params) -> Vec<ActionSummary> {
    engine
        .actions()
        .into_iter()
        .filter(|a| q.get("pack").is_none_or(|p| a.pack == p))
        .filter(|a| q.get("name").is_none_or(|n| a.name == n))
        .filter(|a| q.get("id").is_none_or(|i| a.id == i))
        .collect()
}

/// `GET /v1/actions?pack=&name=`: parameters as each action declares them.
pub(super) async fn actions(
    State(engine): State<Engine>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    listing(filtered_actions(&engine, &q), &q)
}

/// The ref of an action given by ref or id.
fn action_ref(engine: &Engine, ref_or_id: &str) -> Result<String, ApiError> {
    if ref_or_id.contains('.') {
        return Ok(ref_or_id.to_string());
    }
    engine
        .actions()
        .into_iter()
        .find(|a| a.id == ref_or_id)
        .map(|a| a.ref_)
        .ok_or_else(|| EngineError::UnknownAction(ref_or_id.to_string()).into())
}

#[derive(Deserialize)]
pub(super) struct AtRevision {
    content_version: Option<String>,
}

/// `GET /v1/actions/{ref_or_id}` (Stormdesk: `?content_version=REV`).
pub(super) async fn action(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(ref_or_id): Path<String>,
    axum::extract::Query(at): axum::extract::Query<AtRevision>,
) -> Result<Json<ActionSummary>, ApiError> {
    let ref_ = action_ref(&engine, &ref_or_id)?;
    if at.content_version.is_none() {
        if let Some(a) = engine.actions().into_iter().find(|a| a.ref_ == ref_) {
            return Ok(Json(a));
        }
    }
    // At a revision: the action as that commit has it (its overview).
    Ok(Json(
        engine
            .action_at(&ref_, at.content_version.as_deref())
            .await?,
    ))
}

/// `GET /v1/actions/views/overview`: every action with runner parameters merged in.
pub(super) async fn overview(
    State(engine): State<Engine>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let details: Vec<ActionDetail> = filtered_actions(&engine, &q)
        .into_iter()
        .map(|a| engine.action(&a.ref_).unwrap_or(a))
        .collect();
    listing(details, &q)
}

/// `GET /v1/actions/views/overview/{ref_or_id}` (Stormdesk: `?content_version=REV`).
pub(super) async fn overview_one(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(ref_or_id): Path<String>,
    axum::extract::Query(at): axum::extract::Query<AtRevision>,
) -> Result<Json<ActionDetail>, ApiError> {
    let ref_ = action_ref(&engine, &ref_or_id)?;
    Ok(Json(
        engine
            .action_at(&ref_, at.content_version.as_deref())
            .await?,
    ))
}

/// `GET /v1/actions/views/parameters/{ref_or_id}`: `{"parameters": {...}}`, merged.
pub(super) async fn parameters(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(ref_or_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ref_ = action_ref(&engine, &ref_or_id)?;
    let detail = engine.action(&ref_)?;
    Ok(Json(json!({ "parameters": detail.parameters })))
}

/// `GET /v1/actions/views/entry_point/{ref_or_id}`: the entry point's text.
pub(super) async fn entry_point(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(ref_or_id): Path<String>,
) -> Result<Response, ApiError> {
    let ref_ = action_ref(&engine, &ref_or_id)?;
    let path = engine.entry_point_file(&ref_)?;
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| ApiError::from(EngineError::io("cannot read the entry point", &path, e)))?;
    Ok(([("content-type", "text/plain; charset=utf-8")], text).into_response())
}

pub(super) async fn revisions(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(pack): Path<String>,
) -> Result<Json<Revisions>, ApiError> {
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

/// `POST /v1/packs` `{"source", "ref", "force"}` (Stormdesk): installs and answers when done.
pub(super) async fn install(
    State(engine): State<Engine>,
    _user: User,
    Json(req): Json<InstallRequest>,
) -> Result<Json<Installed>, ApiError> {
    Ok(Json(
        engine
            .install_pack(&req.source, req.rev.as_deref(), req.force)
            .await?,
    ))
}

/// `POST /v1/packs/install` `{"packs": [...], "force"}` as StackStorm: 202
/// with `{"execution_id"}` of a `packs.install` execution that installs each
/// pack (from git) and completes with what was installed.
pub(super) async fn st2_install(
    State(engine): State<Engine>,
    User(who): User,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = super::optional_body(&body)?;
    let packs = pack_list(&body, "name, name=version, or a git URL")?;
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let execution = engine.install_packs_run(packs, force, &who.user).await?;
    Ok(accepted(&execution))
}

/// StackStorm's answer to pack work done in an execution
/// (`PackAsyncAPI`): 202 with `{"execution_id"}`.
fn accepted(execution: &crate::model::Execution) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "execution_id": execution.id })),
    )
}

/// `POST /v1/packs/uninstall` `{"packs": [...]}` (`st2 pack remove`): 202
/// with `{"execution_id"}` of a `packs.uninstall` execution, as StackStorm.
pub(super) async fn st2_uninstall(
    State(engine): State<Engine>,
    User(who): User,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = super::optional_body(&body)?;
    let packs = pack_list(&body, "pack name")?;
    let execution = engine.uninstall_packs_run(packs, &who.user).await?;
    Ok(accepted(&execution))
}

/// `POST /v1/packs/update` `{"packs": [...]}` (Stormdesk): 202 with
/// `{"execution_id"}` of a `packs.update` execution that updates each pack
/// (fetch, fast-forward, Python environment), its output the progress.
pub(super) async fn update_many(
    State(engine): State<Engine>,
    User(who): User,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = super::optional_body(&body)?;
    let packs = pack_list(&body, "pack name")?;
    let execution = engine.update_packs_run(packs, &who.user).await?;
    Ok(accepted(&execution))
}

pub(super) async fn update(
    State(engine): State<Engine>,
    _user: User,
    Path(pack): Path<String>,
) -> Result<Json<Updated>, ApiError> {
    Ok(Json(engine.update_pack(&pack).await?))
}

/// The body's `packs`: a non-empty list of strings (`what` says what each
/// one is, for the error).
fn pack_list(body: &Value, what: &str) -> Result<Vec<String>, ApiError> {
    match body.get("packs") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("packs: {p} is not a string")))
            })
            .collect(),
        _ => Err(bad(format!(
            "the body needs {{\"packs\": [\"{what}\", ...]}}"
        ))),
    }
}
