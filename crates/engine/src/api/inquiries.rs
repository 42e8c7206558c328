//! `/v1/inquiries`: StackStorm's Inquiries API
//! (`st2api/controllers/v1/inquiries.py`): the pending executions of the
//! `inquirer` runner in the `InquiryResponseAPI` shape (`id`, `route`,
//! `ttl`, `users`, `roles`, `schema`), and the answer to one.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::attrs::Params;
use super::{bad, ApiError, Caller};
use crate::engine::Engine;

/// `GET /v1/inquiries?limit=`: open Inquiries, newest first, with
/// `X-Total-Count` (and `X-Limit` when a limit is asked).
pub(super) async fn list(
    State(engine): State<Engine>,
    _caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(raw.as_deref());
    let limit = match q.get("limit") {
        None => None,
        Some(l) => Some(
            l.parse::<i64>()
                .map_err(|_| bad(format!("limit must be a whole number, not '{l}'")))?,
        ),
    };
    let all = engine.inquiries(None).await?;
    let total = all.len();
    let shown: Vec<_> = match limit {
        Some(n) if n >= 0 => all.into_iter().take(n as usize).collect(),
        _ => all,
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total as u64));
    if let Some(n) = limit.filter(|n| *n >= 0) {
        headers.insert("x-limit", HeaderValue::from(n as u64));
    }
    Ok((headers, Json(shown)).into_response())
}

/// `GET /v1/inquiries/{id}`: one open Inquiry; 404 when there is no such
/// execution, 400 when it is not an Inquiry, timed out or was answered.
pub(super) async fn get(
    State(engine): State<Engine>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<crate::inquiry::Inquiry>, ApiError> {
    Ok(Json(engine.inquiry(&id).await?))
}

/// `PUT /v1/inquiries/{id}` `{"response": {...}}` (StackStorm's client also
/// sends `id`): answers as the caller; 400 when the response does not
/// match the schema or the Inquiry is no longer open, 403 when the caller is
/// not among its `users`. Returns `{"id", "response"}`.
pub(super) async fn respond(
    State(engine): State<Engine>,
    Caller(who): Caller,
    Path(id): Path<String>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "the body must be JSON {{\"response\": {{...the answer...}}}}: {e}"
        ))
    })?;
    let Some(response) = body.get("response").cloned() else {
        return Err(bad(
            "the body needs the answer under \"response\": {\"response\": {...}}",
        ));
    };
    Ok(Json(
        engine.respond_inquiry(&id, response, &who.user).await?,
    ))
}
