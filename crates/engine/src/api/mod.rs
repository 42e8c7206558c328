//! The HTTP API, which is also the runners' callback listener.
//!
//! Every request carries `Authorization: Bearer <token>`: the API token, or for
//! the callback routes the per-execution token of that execution while it runs.

mod callback;
mod catalog;
mod executions;
mod keys;
mod stream;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::engine::Engine;
use crate::error::{EngineError, ErrorBody};
use crate::token::tokens_equal;

/// Largest request body accepted: parameters and output batches can be big.
const BODY_LIMIT: usize = 256 * 1024 * 1024;

pub fn router(engine: Engine) -> Router {
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/v1/packs", get(catalog::packs).post(catalog::install))
        .route("/v1/packs/reload", post(catalog::reload))
        .route("/v1/packs/{pack}/revisions", get(catalog::revisions))
        .route("/v1/packs/{pack}/update", post(catalog::update))
        .route("/v1/actions", get(catalog::actions))
        .route("/v1/actions/{action_ref}", get(catalog::action))
        .route(
            "/v1/executions",
            get(executions::list).post(executions::create),
        )
        .route(
            "/v1/executions/{id}",
            get(executions::get)
                .put(callback::put_execution)
                .delete(executions::cancel),
        )
        .route("/v1/executions/{id}/children", get(executions::children))
        .route("/v1/executions/{id}/graph", get(executions::graph))
        .route(
            "/v1/executions/{id}/output",
            get(executions::output).post(callback::post_output),
        )
        .route("/v1/executions/{id}/re_run", post(executions::re_run))
        .route("/v1/keys", get(keys::list))
        .route(
            "/v1/keys/{name}",
            get(keys::get).put(keys::put).delete(keys::delete),
        )
        .route("/v1/stream", get(stream::stream))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(engine)
}

/// Binds `addr` and serves until the engine shuts down. Returns the bound address.
pub(crate) async fn serve(engine: Engine, addr: SocketAddr) -> Result<SocketAddr, EngineError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| EngineError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| EngineError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let shutdown = engine.inner.shutdown.clone();
    let app = router(engine);
    tokio::spawn(async move {
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "listener stopped");
        }
    });
    Ok(bound)
}

/// An error as the API returns it: `{code, message}` with a matching status.
pub struct ApiError(pub StatusCode, pub ErrorBody);

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match e.code() {
            "not_found" => StatusCode::NOT_FOUND,
            "invalid_input" | "unsupported" | "pack_error" => StatusCode::BAD_REQUEST,
            "conflict" => StatusCode::CONFLICT,
            "git_error" => StatusCode::UNPROCESSABLE_ENTITY,
            // Runners retry and then keep the report in their spool.
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn unauthorized() -> ApiError {
    ApiError(
        StatusCode::UNAUTHORIZED,
        ErrorBody {
            code: "unauthorized".into(),
            message: "missing or invalid bearer token: use the API token from the config directory's `token` file".into(),
        },
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The API token is required.
pub(crate) fn require_api(engine: &Engine, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(t) if tokens_equal(t, engine.api_token()) => Ok(()),
        _ => Err(unauthorized()),
    }
}

/// The API token, or the callback token of `id` while it runs.
pub(crate) fn require_callback(
    engine: &Engine,
    headers: &HeaderMap,
    id: &str,
) -> Result<bool, ApiError> {
    match bearer(headers) {
        Some(t) if tokens_equal(t, engine.api_token()) => Ok(false),
        Some(t) if engine.callback_token_valid(id, t) => Ok(true),
        _ => Err(unauthorized()),
    }
}
