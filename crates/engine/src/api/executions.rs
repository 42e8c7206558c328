//! `/v1/executions` as StackStorm's `st2api/controllers/v1/actionexecutions.py`:
//! list (filters, paging, `X-Total-Count`, attributes), run, get, pause and
//! resume (`PUT`), cancel (`DELETE`), output, children, result, attribute,
//! re-run; and Stormdesk's `graph`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::attrs::Params;
use super::{bad, ApiError, Caller};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, RunRequest, SortOrder, Status};

/// StackStorm's timestamp filters accept `T` or a space and `Z`, `+00`,
/// `+0000` or `+00:00`; stored times are RFC 3339 UTC with microseconds.
fn timestamp(name: &str, value: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let normalized = value.trim().replacen(' ', "T", 1);
    let normalized = match normalized.strip_suffix("+00") {
        Some(rest) => format!("{rest}Z"),
        None => normalized
            .strip_suffix("+0000")
            .map(|rest| format!("{rest}Z"))
            .unwrap_or(normalized),
    };
    chrono::DateTime::parse_from_rfc3339(&normalized)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            bad(format!(
                "{name}={value}: expected an ISO 8601 UTC time such as 2024-01-31T12:00:00Z"
            ))
        })
}

fn stored(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn status(value: &str) -> Result<Status, ApiError> {
    Status::parse(value).ok_or_else(|| {
        bad(format!(
            "unknown status '{value}'; use one of: {}",
            Status::ALL.map(|s| s.as_str()).join(", ")
        ))
    })
}

fn filter(q: &Params) -> Result<ExecutionFilter, ApiError> {
    let mut f = ExecutionFilter {
        status: q.get("status").map(status).transpose()?,
        action: q.get("action").map(str::to_string),
        pack: q.get("pack").map(str::to_string),
        user: q.get("user").map(str::to_string),
        content_version: q.get("content_version").map(str::to_string),
        since: q.get("since").map(str::to_string),
        until: q.get("until").map(str::to_string),
        q: q.get("q").map(str::to_string),
        roots_only: q.flag("roots_only")?,
        ..Default::default()
    };
    match q.get("parent") {
        // StackStorm's magic value for "has no parent".
        Some("null") => f.roots_only = true,
        Some(p) => f.parent = Some(p.to_string()),
        None => {}
    }
    if let Some(gt) = q.get("timestamp_gt") {
        f.since = Some(stored(
            timestamp("timestamp_gt", gt)? + chrono::Duration::microseconds(1),
        ));
    }
    if let Some(lt) = q.get("timestamp_lt") {
        f.until = Some(stored(timestamp("timestamp_lt", lt)?));
    }
    f.limit = match q.int("limit")? {
        None => Some(100),
        Some(l) if l <= 0 => Some(u32::MAX),
        Some(l) => Some(u32::try_from(l).unwrap_or(u32::MAX)),
    };
    f.offset = match q.int("offset")? {
        None => None,
        Some(o) if o < 0 => return Err(bad(format!("offset={o}: expected 0 or more"))),
        Some(o) => Some(u32::try_from(o).unwrap_or(u32::MAX)),
    };
    f.order = match q.get("sort") {
        None | Some("-start_timestamp") | Some("-id") => SortOrder::Desc,
        Some("start_timestamp") | Some("+start_timestamp") | Some("id") | Some("+id") => {
            SortOrder::Asc
        }
        Some(other) => {
            return Err(bad(format!(
                "sort={other}: executions sort by start_timestamp (prefix - for newest first)"
            )))
        }
    };
    if q.flag("sort_asc")? {
        f.order = SortOrder::Asc;
    }
    if q.flag("sort_desc")? {
        f.order = SortOrder::Desc;
    }
    Ok(f)
}

/// `GET /v1/executions`: newest first; results only when `include_attributes`
/// names `result`, so a listing stays fast whatever one execution holds.
pub(super) async fn list(
    State(engine): State<Engine>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let mut f = filter(&q)?;
    let fields = q.fields();
    f.exclude_result = !fields.names("result");
    let limit = f.limit;
    let total = engine.count_executions(f.clone()).await?;
    let page: Vec<Value> = engine
        .executions(f)
        .await?
        .into_iter()
        .map(|e| fields.apply(serde_json::to_value(e).unwrap_or(Value::Null)))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    if let Some(limit) = limit.filter(|l| *l != u32::MAX) {
        headers.insert("x-limit", HeaderValue::from(limit));
    }
    Ok((headers, Json(page)).into_response())
}

/// `POST /v1/executions`: StackStorm's `ExecutionRequest` (`action`,
/// `parameters`, `context`, `user`), and Stormdesk's `content_version`;
/// an `St2-Context` header (JSON) is merged into the context. 201.
pub(super) async fn create(
    State(engine): State<Engine>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "the body must be JSON {{\"action\": \"pack.name\", \"parameters\": {{...}}}}: {e}"
        ))
    })?;
    if body.get("delay").and_then(Value::as_u64).unwrap_or(0) > 0 {
        return Err(EngineError::UnsupportedAction {
            action: body["action"].as_str().unwrap_or_default().to_string(),
            reason: "a delayed start (`delay`) is not supported; start it when it should run"
                .into(),
        }
        .into());
    }
    let mut req: RunRequest = serde_json::from_value(body).map_err(|e| {
        bad(format!(
            "the body must be JSON {{\"action\": \"pack.name\", \"parameters\": {{...}}}}: {e}"
        ))
    })?;
    if let Some(raw) = headers.get("st2-context").and_then(|v| v.to_str().ok()) {
        let extra: Map<String, Value> = serde_json::from_str(raw)
            .map_err(|e| bad(format!("the St2-Context header must be a JSON object: {e}")))?;
        for (k, v) in extra {
            req.context.entry(k).or_insert(v);
        }
    }
    // An action runs what it starts as its own user, as it would in StackStorm.
    if who.is_action() || req.user.as_deref().is_none_or(str::is_empty) {
        req.user = Some(who.user.clone());
    }
    Ok((StatusCode::CREATED, Json(engine.run(req).await?)))
}

/// `GET /v1/executions/{id}?include_attributes=&exclude_attributes=`.
pub(super) async fn get(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q = Params::parse(raw.as_deref());
    let execution = engine.execution(&id).await?;
    Ok(Json(q.fields().apply(
        serde_json::to_value(execution).unwrap_or(Value::Null),
    )))
}

/// `PUT /v1/executions/{id}` `{"status": "pausing" | "resuming" | "canceling"}`
/// (StackStorm's `paused`, `running` and `canceled` mean the same here).
pub(super) async fn update(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Execution>, ApiError> {
    let Json(body) =
        body.map_err(|e| bad(format!("the body must be {{\"status\": \"pausing\"}}: {e}")))?;
    match body.get("status").and_then(Value::as_str) {
        Some("canceled") | Some("canceling") => Ok(Json(engine.cancel(&id).await?)),
        Some("pausing") | Some("paused") => Ok(Json(engine.pause(&id).await?)),
        Some("resuming") | Some("running") => Ok(Json(engine.resume(&id).await?)),
        Some(other) => Err(bad(format!(
            "status '{other}' cannot be set through the API: use \"pausing\", \"resuming\" or \"canceling\""
        ))),
        None => Err(bad(
            "the body needs a status: {\"status\": \"pausing\" | \"resuming\" | \"canceling\"}",
        )),
    }
}

/// `DELETE /v1/executions/{id}`: cancels. As in StackStorm, an execution
/// already canceled comes back as it is, and one that already completed
/// otherwise answers 200 with a `faultstring` saying so.
pub(super) async fn cancel(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let current = engine.execution(&id).await?;
    if current.status == Status::Canceled {
        return Ok(Json(current).into_response());
    }
    if current.status.is_completed() {
        return Ok(Json(json!({
            "faultstring": format!("Action cannot be canceled. State = {}.", current.status),
            "code": "conflict",
        }))
        .into_response());
    }
    Ok(Json(engine.cancel(&id).await?).into_response())
}

/// `GET /v1/executions/{id}/children?depth=-1`: descendants, parents first
/// (all levels by default, as StackStorm).
pub(super) async fn children(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let q = Params::parse(raw.as_deref());
    let depth = q.int("depth")?.unwrap_or(-1);
    let depth = i32::try_from(depth).unwrap_or(-1);
    let fields = q.fields();
    Ok(Json(
        engine
            .descendants(&id, depth)
            .await?
            .into_iter()
            .map(|e| fields.apply(serde_json::to_value(e).unwrap_or(Value::Null)))
            .collect(),
    ))
}

/// `GET /v1/executions/{id}/graph` (Stormdesk): a workflow's tasks and transitions.
pub(super) async fn graph(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(engine.workflow_graph(&id).await?))
}

/// `GET /v1/executions/{id}/output?output_type=all|stdout|stderr`: the output
/// so far as text, as StackStorm. Stormdesk: `format=json` gives the output
/// objects instead (with `seq`), after chunk `after` when given.
pub(super) async fn output(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let output_type = q.get("output_type").unwrap_or("all");
    if !["all", "stdout", "stderr", "output"].contains(&output_type) {
        return Err(bad(format!(
            "output_type={output_type}: use all, stdout or stderr"
        )));
    }
    let after = q
        .int("after")?
        .map(|a| u64::try_from(a).map_err(|_| bad(format!("after={a}: expected 0 or more"))))
        .transpose()?;
    let chunks: Vec<_> = engine
        .output(&id, after)
        .await?
        .into_iter()
        .filter(|c| output_type == "all" || c.output_type == output_type)
        .collect();
    match q.get("format") {
        Some("json") => Ok(Json(chunks).into_response()),
        None | Some("text") => {
            let text: String = chunks.iter().map(|c| c.data.as_str()).collect();
            Ok(([("content-type", "text/plain; charset=utf-8")], text).into_response())
        }
        Some(other) => Err(bad(format!("format={other}: use text or json"))),
    }
}

/// `GET /v1/executions/{id}/result`: the result alone, as JSON text.
pub(super) async fn result(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let execution = engine.execution(&id).await?;
    Ok(Json(execution.result))
}

/// `GET /v1/executions/{id}/attribute/{attribute}`: one top-level attribute.
pub(super) async fn attribute(
    State(engine): State<Engine>,
    _caller: Caller,
    Path((id, attribute)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let execution = serde_json::to_value(engine.execution(&id).await?).unwrap_or(Value::Null);
    match execution.get(&attribute) {
        Some(v) => Ok(Json(v.clone())),
        None if [
            "result",
            "end_timestamp",
            "elapsed_seconds",
            "parent",
            "web_url",
        ]
        .contains(&attribute.as_str()) =>
        {
            Ok(Json(Value::Null))
        }
        None => Err(bad(format!(
            "execution '{id}' has no attribute '{attribute}'"
        ))),
    }
}

/// `POST /v1/executions/{id}/re_run` `{"parameters", "tasks", "reset", "user"}`
/// (and Stormdesk's `content_version`): 201 with the new execution.
pub(super) async fn re_run(
    State(engine): State<Engine>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let body = super::optional_body(&body)?;
    let parameters = match body.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(other) => return Err(bad(format!("parameters {other} must be an object"))),
    };
    let names = |field: &str| -> Result<Vec<String>, ApiError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("{field}: {t} is not a task name")))
                })
                .collect(),
            Some(other) => Err(bad(format!("{field} {other} must be a list of task names"))),
        }
    };
    let tasks = names("tasks")?;
    let reset = names("reset")?;
    if let Some(extra) = reset.iter().find(|r| !tasks.contains(r)) {
        return Err(bad(format!(
            "reset names task '{extra}', which is not among the tasks to re-run"
        )));
    }
    if body.get("delay").and_then(Value::as_u64).unwrap_or(0) > 0 {
        return Err(bad("a delayed re-run (`delay`) is not supported"));
    }
    let content_version = body
        .get("content_version")
        .and_then(Value::as_str)
        .map(str::to_string);
    let execution = engine
        .re_run_as(
            &id,
            crate::rerun::ReRun {
                parameters,
                content_version,
                tasks,
                reset,
                user: Some(who.user),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(execution)))
}
