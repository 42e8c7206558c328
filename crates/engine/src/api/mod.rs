//! The HTTP API: StackStorm's v1 API (`st2common/st2common/openapi.yaml` is
//! the contract; `docs/openapi.yaml` is Stormdesk's account of it, served at
//! `/v1/openapi.yaml`), Stormdesk's additions under `/v1`, the auth service
//! under `/auth/v1`, and the runners' own callback routes under `/runner/v1`.
//!
//! Callers identify as StackStorm's do (`X-Auth-Token`, `St2-Api-Key`, or the
//! `x-auth-token` / `st2-api-key` query parameters) or with
//! `Authorization: Bearer` (the API token, or any token); see [`crate::auth`].
//! Runners report with their per-execution callback token, which opens only
//! their own execution's callback routes. A trailing slash on a path is
//! ignored, as StackStorm's router does (`st2client` sends some).

mod attrs;
mod auth;
mod callback;
mod catalog;
mod executions;
mod inquiries;
mod keys;
mod stream;

use std::net::SocketAddr;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::auth::Identity;
use crate::engine::Engine;
use crate::error::{EngineError, ErrorBody};

/// Largest request body accepted: parameters and output batches can be big.
const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// Stormdesk's OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

/// Every route of the API, behind the trailing-slash normalisation.
pub fn router(engine: Engine) -> Router {
    let routes = Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/v1/openapi.yaml",
            get(|| async { ([("content-type", "application/yaml")], OPENAPI) }),
        )
        .route("/v1", get(auth::index))
        .route("/v1/user", get(auth::user))
        .route("/auth/v1/tokens", post(auth::create_token))
        .route("/auth/v1/tokens/validate", post(auth::validate_token))
        .route("/v1/apikeys", get(auth::list_keys).post(auth::create_key))
        .route(
            "/v1/apikeys/{id_or_key}",
            get(auth::get_key)
                .put(auth::update_key)
                .delete(auth::delete_key),
        )
        .route("/v1/packs", get(catalog::packs).post(catalog::install))
        .route("/v1/packs/install", post(catalog::st2_install))
        .route("/v1/packs/uninstall", post(catalog::st2_uninstall))
        .route("/v1/packs/update", post(catalog::update_many))
        .route("/v1/packs/reload", post(catalog::reload))
        .route("/v1/packs/register", post(catalog::register))
        .route("/v1/packs/{ref_or_id}", get(catalog::pack))
        .route("/v1/packs/{pack}/revisions", get(catalog::revisions))
        .route("/v1/packs/{pack}/update", post(catalog::update))
        .route("/v1/runnertypes", get(catalog::runner_types))
        .route("/v1/runnertypes/{name_or_id}", get(catalog::runner_type))
        .route("/v1/actions", get(catalog::actions))
        .route("/v1/actions/{ref_or_id}", get(catalog::action))
        .route("/v1/actions/views/overview", get(catalog::overview))
        .route(
            "/v1/actions/views/overview/{ref_or_id}",
            get(catalog::overview_one),
        )
        .route(
            "/v1/actions/views/parameters/{ref_or_id}",
            get(catalog::parameters),
        )
        .route(
            "/v1/actions/views/entry_point/{ref_or_id}",
            get(catalog::entry_point),
        )
        .route(
            "/v1/executions",
            get(executions::list).post(executions::create),
        )
        .route(
            "/v1/executions/{id}",
            get(executions::get)
                .put(executions::update)
                .delete(executions::cancel),
        )
        .route("/v1/executions/{id}/children", get(executions::children))
        .route("/v1/executions/{id}/graph", get(executions::graph))
        .route("/v1/executions/{id}/output", get(executions::output))
        .route("/v1/executions/{id}/result", get(executions::result))
        .route(
            "/v1/executions/{id}/attribute/{attribute}",
            get(executions::attribute),
        )
        .route("/v1/executions/{id}/re_run", post(executions::re_run))
        .route("/v1/inquiries", get(inquiries::list))
        .route(
            "/v1/inquiries/{id}",
            get(inquiries::get).put(inquiries::respond),
        )
        .route("/v1/keys", get(keys::list))
        .route(
            "/v1/keys/{name}",
            get(keys::get).put(keys::put).delete(keys::delete),
        )
        .route("/v1/stream", get(stream::stream))
        .route(
            "/runner/v1/executions/{id}",
            axum::routing::put(callback::update),
        )
        .route("/runner/v1/executions/{id}/output", post(callback::output))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(engine);
    // The outer router only normalises the path, then hands the request to
    // the routes (a layer on them would run after routing).
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_request(trim_trailing_slash))
}

/// StackStorm routes Stormdesk does not have (rules, triggers, ...) say so.
async fn no_route(method: axum::http::Method, uri: Uri) -> ApiError {
    EngineError::NotFound(format!(
        "{method} {}: not part of Stormdesk's API; see /v1/openapi.yaml for what is",
        uri.path()
    ))
    .into()
}

/// A path Stormdesk has, asked with a method it does not answer there.
async fn no_method(method: axum::http::Method, uri: Uri) -> ApiError {
    let ApiError(_, body) = EngineError::NotFound(format!(
        "{method} {}: not part of Stormdesk's API (the path is, with another method); see /v1/openapi.yaml for what is",
        uri.path()
    ))
    .into();
    ApiError(StatusCode::METHOD_NOT_ALLOWED, body)
}

async fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    req
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

/// An error as the API returns it: `{"faultstring", "code"}` with a matching status.
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
            "unauthorized" => StatusCode::UNAUTHORIZED,
            "forbidden" => StatusCode::FORBIDDEN,
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

/// A JSON body that may be absent: `null` when empty.
pub(crate) fn optional_body(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| bad(format!("the body is not JSON: {e}")))
}

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    EngineError::BadRequest(message.into()).into()
}

fn unauthorized() -> ApiError {
    EngineError::Unauthorized(
        "missing or invalid credentials: send X-Auth-Token (a token from POST /auth/v1/tokens), \
         St2-Api-Key (an API key), or Authorization: Bearer with the API token from the \
         `token` file in Stormdesk's config directory"
            .into(),
    )
    .into()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization")?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A query parameter's value, decoded.
fn query_param(uri: &Uri, name: &str) -> Option<String> {
    url_pairs(uri.query()?)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// `application/x-www-form-urlencoded` pairs, decoded (undecodable input gives none).
pub(crate) fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// Who is calling, from StackStorm's headers or query parameters, or a bearer token.
fn identify(engine: &Engine, parts: &Parts) -> Option<Identity> {
    let headers = &parts.headers;
    if let Some(token) = header(headers, "x-auth-token") {
        return engine.token_identity(token);
    }
    if let Some(key) = header(headers, "st2-api-key") {
        return engine.api_key_identity(key);
    }
    if let Some(token) = bearer(headers) {
        return engine.token_identity(token);
    }
    if let Some(token) = query_param(&parts.uri, "x-auth-token") {
        return engine.token_identity(&token);
    }
    if let Some(key) = query_param(&parts.uri, "st2-api-key") {
        return engine.api_key_identity(&key);
    }
    None
}

/// Any authenticated caller, a running action's token included.
pub(crate) struct Caller(pub Identity);

impl FromRequestParts<Engine> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
        identify(engine, parts).map(Caller).ok_or_else(unauthorized)
    }
}

/// An authenticated user: a running action's token is refused here (it may
/// use executions, keys and the catalogue, not credentials or pack management).
pub(crate) struct User(pub Identity);

impl FromRequestParts<Engine> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, engine: &Engine) -> Result<Self, ApiError> {
        let identity = identify(engine, parts).ok_or_else(unauthorized)?;
        if identity.is_action() {
            return Err(EngineError::Forbidden(format!(
                "an action's token cannot use {}: it opens executions, keys and the catalogue only",
                parts.uri.path()
            ))
            .into());
        }
        Ok(User(identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_decoded() {
        assert_eq!(
            url_pairs("a=1&x-auth-token=ab%2Fc&e=&f+g=h+i"),
            vec![
                ("a".into(), "1".into()),
                ("x-auth-token".into(), "ab/c".into()),
                ("e".into(), "".into()),
                ("f g".into(), "h i".into()),
            ]
        );
    }

    #[test]
    fn the_error_shape_is_pinned() {
        let body = EngineError::UnknownExecution("x".into()).to_body();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "not_found");
        assert!(json["faultstring"].as_str().unwrap().contains("'x'"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }
}
