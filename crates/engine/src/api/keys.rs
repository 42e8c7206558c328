//! `/v1/keys`: StackStorm's key-value datastore
//! (`st2api/controllers/v1/keyvalue.py`), for users and for running actions
//! (their token, e.g. `self.action_service`). User-scoped keys belong to the
//! caller unless `user` names another.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, Caller};
use crate::engine::Engine;
use crate::error::{EngineError, ErrorBody};
use crate::keys::{KeyFilter, KeyScope, KeySet, KeyValuePair};

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
    user: Option<String>,
    decrypt: Option<String>,
    prefix: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// Whose user-scoped keys: the `user` asked for, else the caller.
fn owner(q: &KeyQuery, caller: &str) -> String {
    q.user
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| caller.to_string())
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

/// A running action that reads secrets in clear (`self.action_service.
/// get_value(name, decrypt=True)`, st2client) makes them its secrets: masked
/// in the output and result it reports from then on.
fn hold_for_action(engine: &Engine, who: &crate::auth::Identity, keys: &[KeyValuePair]) {
    if let crate::auth::IdentityKind::Action { execution_id } = &who.kind {
        let clear: Vec<String> = keys
            .iter()
            .filter(|k| k.secret && !k.encrypted)
            .map(|k| k.value.clone())
            .collect();
        if !clear.is_empty() {
            engine.add_secrets(execution_id, clear);
        }
    }
}

/// `GET /v1/keys/{name}?scope=&decrypt=`
pub(super) async fn get(
    State(engine): State<Engine>,
    Caller(who): Caller,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<KeyValuePair>, ApiError> {
    let q = query(q)?;
    let scope = one_scope(q.scope.as_deref())?;
    let decrypt = flag("decrypt", q.decrypt.as_deref())?;
    let user = owner(&q, &who.user);
    match engine.key_get(scope, Some(&user), &name, decrypt).await? {
        Some(key) => {
            hold_for_action(&engine, &who, std::slice::from_ref(&key));
            Ok(Json(key))
        }
        None => Err(not_found(scope, &name)),
    }
}

/// `GET /v1/keys?prefix=&scope=&user=&decrypt=&limit=&offset=`; scope
/// `system` unless given, `all` for the system keys and the user's. No limit
/// (or 0, or -1) lists everything. `X-Total-Count` counts them all.
pub(super) async fn list(
    State(engine): State<Engine>,
    Caller(who): Caller,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let user = owner(&q, &who.user);
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
        user: Some(user),
        prefix: q.prefix.filter(|p| !p.is_empty()),
        limit: None,
        offset: 0,
    };
    let offset =
        usize::try_from(offset).map_err(|_| bad(format!("offset={offset}: expected 0 or more")))?;
    let all = engine.key_list(filter, decrypt).await?;
    hold_for_action(&engine, &who, &all);
    let total = all.len();
    let page: Vec<KeyValuePair> = all
        .into_iter()
        .skip(offset)
        .take(
            usize::try_from(limit)
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(usize::MAX),
        )
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total as u64));
    Ok((headers, Json(page)).into_response())
}

/// `PUT /v1/keys/{name}?scope=` with `{"value", "scope"?, "ttl"?, "secret"?,
/// "encrypted"?}`; answers the key as stored, a secret's value as its
/// ciphertext.
/// The name in the path wins over one in the body, and the body's scope over
/// the query's, as in StackStorm.
pub(super) async fn put(
    State(engine): State<Engine>,
    Caller(who): Caller,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<KeyValuePair>, ApiError> {
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
    // A value already encrypted with the datastore key (`st2 key load` of
    // exported secrets, `st2 key set --encrypted`).
    let encrypted = match body.get("encrypted") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("{at}: encrypted {other} is not true or false"))),
    };
    let user = match body.get("user") {
        Some(Value::String(u)) if !u.is_empty() => u.clone(),
        _ => owner(&q, &who.user),
    };
    let set = KeySet {
        secret,
        encrypted,
        user: Some(user),
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
    Caller(who): Caller,
    Path(name): Path<String>,
    q: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let q = query(q)?;
    let scope = one_scope(q.scope.as_deref())?;
    let user = owner(&q, &who.user);
    if engine.key_delete(scope, Some(&user), &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(scope, &name))
    }
}
