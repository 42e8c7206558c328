//! StackStorm's auth service (`/auth/v1/tokens`), API keys (`/v1/apikeys`)
//! and `/v1/user`, as `st2auth/controllers/v1/auth.py` and
//! `st2api/controllers/v1/auth.py` do them.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{bad, ApiError, Caller, User};
use crate::auth::{IdentityKind, IssuedApiKey, IssuedToken};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::store::ApiKeyRecord;

/// `GET /v1`: what this API is.
pub(super) async fn index() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "docs_url": "/v1/openapi.yaml",
    }))
}

/// `GET /v1/user`: who the credentials belong to (`st2 whoami`), as
/// StackStorm's `UserController`: a token
/// caller also gets `token_expire` (null for the API token file, which does
/// not expire), which `st2 whoami` prints.
pub(super) async fn user(Caller(who): Caller) -> Json<Value> {
    let mut authentication = json!({"location": "header"});
    if who.kind == IdentityKind::ApiKey {
        authentication["method"] = json!("api key");
    } else {
        authentication["method"] = json!("authentication token");
        authentication["token_expire"] = json!(who.expiry);
    }
    Json(json!({
        "username": who.user,
        "authentication": authentication,
        "rbac": {"enabled": false, "roles": [], "is_admin": !who.is_action()},
    }))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or(value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// `POST /auth/v1/tokens` with HTTP basic auth (the local user) and an
/// optional `{"ttl": seconds}`: 201 with StackStorm's `Token`.
pub(super) async fn create_token(
    State(engine): State<Engine>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let (user, password) = basic_credentials(&headers).ok_or_else(|| {
        ApiError::from(EngineError::Unauthorized(
            "invalid or missing credentials: authenticate with HTTP basic auth (`st2 auth <user>`), \
             using the `credentials` file in Stormdesk's config directory"
                .into(),
        ))
    })?;
    let body = super::optional_body(&body)?;
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|t| *t >= 1)
                .ok_or_else(|| bad(format!("ttl {v}: a whole number of seconds, 1 or more")))?,
        ),
    };
    let token = engine.create_token(&user, &password, ttl).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// `POST /auth/v1/tokens/validate` `{"token"}`: `{"valid": bool}`.
pub(super) async fn validate_token(
    State(engine): State<Engine>,
    _caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) =
        body.map_err(|e| bad(format!("the body must be {{\"token\": \"...\"}}: {e}")))?;
    let valid = body
        .get("token")
        .and_then(Value::as_str)
        .and_then(|t| engine.token_identity(t))
        .is_some();
    Ok(Json(json!({ "valid": valid })))
}

/// `GET /v1/apikeys`.
pub(super) async fn list_keys(
    State(engine): State<Engine>,
    _user: User,
) -> Json<Vec<ApiKeyRecord>> {
    Json(engine.api_keys())
}

/// `GET /v1/apikeys/{id_or_key}`.
pub(super) async fn get_key(
    State(engine): State<Engine>,
    _user: User,
    Path(id_or_key): Path<String>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    Ok(Json(engine.api_key(&id_or_key)?))
}

fn metadata(body: &Value) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(other) => Err(bad(format!("metadata {other} must be an object"))),
    }
}

fn enabled(body: &Value) -> Result<Option<bool>, ApiError> {
    match body.get("enabled") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(bad(format!("enabled {other} must be true or false"))),
    }
}

/// `POST /v1/apikeys` `{"user"?, "metadata"?, "enabled"?}`: 201 with the key, shown once.
pub(super) async fn create_key(
    State(engine): State<Engine>,
    User(who): User,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<IssuedApiKey>), ApiError> {
    let body = super::optional_body(&body)?;
    let user = body
        .get("user")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .unwrap_or(&who.user)
        .to_string();
    let key = engine
        .create_api_key(
            &user,
            metadata(&body)?.unwrap_or_default(),
            enabled(&body)?.unwrap_or(true),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// `PUT /v1/apikeys/{id_or_key}` `{"enabled"?, "metadata"?}` (`st2 apikey enable|disable`).
pub(super) async fn update_key(
    State(engine): State<Engine>,
    _user: User,
    Path(id_or_key): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ApiKeyRecord>, ApiError> {
    let Json(body) = body.map_err(|e| bad(format!("the body must be an API key object: {e}")))?;
    Ok(Json(
        engine
            .update_api_key(&id_or_key, enabled(&body)?, metadata(&body)?)
            .await?,
    ))
}

/// `DELETE /v1/apikeys/{id_or_key}`: 204.
pub(super) async fn delete_key(
    State(engine): State<Engine>,
    _user: User,
    Path(id_or_key): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.delete_api_key(&id_or_key).await?;
    Ok(StatusCode::NO_CONTENT)
}
