//! `/v1/keys`: StackStorm's key-value datastore, for users (API token) and for
//! running actions (their callback token, e.g. `self.action_service`).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::{bearer, unauthorized, ApiError};
use crate::engine::Engine;
use crate::error::{EngineError, ErrorBody};
use crate::keys::{KeyFilter, KeyScope, KeySet, KeyValuePair};
use crate::token::tokens_equal;

/// The API token, or the callback token of any running execution.
fn require_key_access(engine: &Engine, headers: &HeaderMap) -> Result<(), ApiError> {
    match bearer(headers) {
        Some(t) if tokens_equal(t, engine.api_token()) || engine.any_callback_token_valid(t) => {
            Ok(())
        }
        _ => Err(unauthorized()),
    }
}

fn not_found(scope: KeyScope, name: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        ErrorBody {
            code: "not_found".into(),
            message: format!(
                "key '{name}' not found in scope '{scope}': it was never set, was deleted or has expired"
            ),
        },
    )
}

fn bad(message: String) -> ApiError {
    EngineError::BadRequest(message).into()
}

/// Query parameters are taken as text and checked here, for errors in our shape.
#[derive(Debug, Deserialize, Default)]
pub(super) struct KeyQuery {
    scope: Option<String>,
    decrypt: Option<String>,
    prefix: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn query(q: Result<Query<KeyQuery>, QueryRejection>) -> Result<KeyQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| bad(format!("bad query string: {e}")))
}

/// One key's scope: `system` unless given; StackStorm reads `all` as `system` here.
fn one_scope(scope: Option<&str>) -> Result<KeyScope, ApiError> {
    match scope {
        None | Some("") | Some("all") => Ok(KeyScope::System),
        Some(s) => parse_scope(s),
    }
}

fn parse_scope(s: &str) -> Result<KeyScope, ApiError> {
    KeyScope::parse(s).ok_or_else(|| bad(format!("unknown scope '{s}': use 'system' or 'user'")))
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(other) => Err(bad(format!("{name}={other}: use true or false"))),
    }
}

/// `GET /v1/keys/{name}?scope=&decrypt=`
pub(super) async fn get(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<KeyValuePair>, ApiError> {
    require_key_access(&engine, &headers)?;
    let q = query(q)?;
    let scope = one_scope(q.scope.as_deref())?;
    let decrypt = flag("decrypt", q.decrypt.as_deref())?;
    match engine.key_get(scope, &name, decrypt).await? {
        Some(key) => Ok(Json(key)),
        None => Err(not_found(scope, &name)),
    }
}

/// `GET /v1/keys?prefix=&scope=&decrypt=&limit=&offset=`; scope `system` unless
/// given, `all` for both. No limit (or 0, or -1) lists everything.
pub(super) async fn list(
    State(engine): State<Engine>,
    headers: HeaderMap,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<Vec<KeyValuePair>>, ApiError> {
    require_key_access(&engine, &headers)?;
    let q = query(q)?;
    let scope = match q.scope.as_deref() {
        None | Some("") => Some(KeyScope::System),
        Some("all") => None,
        Some(s) => Some(parse_scope(s)?),
    };
    let decrypt = flag("decrypt", q.decrypt.as_deref())?;
    let number = |name: &str, v: Option<&str>| -> Result<i64, ApiError> {
        match v {
            None | Some("") => Ok(0),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| bad(format!("{name}={v}: expected a whole number"))),
        }
    };
    let limit = number("limit", q.limit.as_deref())?;
    let offset = number("offset", q.offset.as_deref())?;
    let filter = KeyFilter {
        scope,
        prefix: q.prefix.filter(|p| !p.is_empty()),
        limit: u32::try_from(limit).ok().filter(|l| *l > 0),
        offset: u32::try_from(offset)
            .map_err(|_| bad(format!("offset={offset}: expected 0 or more")))?,
    };
    Ok(Json(engine.key_list(filter, decrypt).await?))
}

/// `PUT /v1/keys/{name}?scope=` with `{"value", "scope"?, "ttl"?, "secret"?}`.
/// The name in the path wins over one in the body, and the body's scope over
/// the query's, as in StackStorm.
pub(super) async fn put(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<KeyValuePair>, ApiError> {
    require_key_access(&engine, &headers)?;
    let q = query(q)?;
    let Json(body) = body.map_err(|e| {
        bad(format!(
            "key '{name}': the body must be JSON {{\"name\": \"{name}\", \"value\": \"...\"}}: {e}"
        ))
    })?;
    let scope = match body.get("scope") {
        None | Some(Value::Null) => one_scope(q.scope.as_deref())?,
        Some(Value::String(s)) => parse_scope(s)?,
        Some(other) => return Err(bad(format!("key '{name}': scope {other} is not a string"))),
    };
    let at = format!("key '{name}' in scope '{scope}'");
    let value = match body.get("value") {
        Some(Value::String(v)) => v.clone(),
        None | Some(Value::Null) => return Err(bad(format!("{at}: the body needs a \"value\""))),
        Some(other) => {
            return Err(bad(format!(
                "{at}: value {other} is not a string; the datastore stores strings, so serialise other data (e.g. json.dumps)"
            )))
        }
    };
    let secret = match body.get("secret") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("{at}: secret {other} is not true or false"))),
    };
    if body.get("encrypted").and_then(Value::as_bool) == Some(true) {
        return Err(bad(format!(
            "{at}: pre-encrypted values are not supported; send the plain value with \"secret\": true"
        )));
    }
    let set = KeySet {
        secret,
        ..KeySet::new(scope, name.clone(), value)
    };
    let set = match body.get("ttl") {
        None | Some(Value::Null) => set,
        Some(ttl) => {
            let seconds = ttl.as_u64().ok_or_else(|| {
                bad(format!(
                    "{at}: ttl {ttl} must be a whole number of seconds, 0 or more (0: never expires)"
                ))
            })?;
            set.with_ttl(seconds)?
        }
    };
    Ok(Json(engine.key_set(set).await?))
}

/// `DELETE /v1/keys/{name}?scope=`: 204, or 404 when there is no such key.
pub(super) async fn delete(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    require_key_access(&engine, &headers)?;
    let q = query(q)?;
    let scope = one_scope(q.scope.as_deref())?;
    if engine.key_delete(scope, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(scope, &name))
    }
}
