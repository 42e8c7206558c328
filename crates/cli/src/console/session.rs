//! The console's session: the API token is presented once (the `?token=`
//! link `stormdesk serve` prints, or the sign-in form), and the server then
//! keeps an auth token of that user in an `HttpOnly`, `SameSite=Strict`
//! cookie. Scripts on the page never see it, other sites' pages never send
//! it, and a console URL opened in a new tab works.
//!
//! - `POST /console/session` `{"token": "..."}`: checks the token (the API
//!   token or an auth token of a user, not an action's), issues an auth
//!   token of the same user for [`SESSION_TTL`] seconds and sets the cookie.
//! - `DELETE /console/session`: clears the cookie.
//! - `GET /console/info` (no credentials needed): whether this browser has
//!   a session, and where the token file is, so the sign-in page can say so.
//!
//! API requests (`/v1/...`, `/auth/v1/...`) that carry no credentials of
//! their own are sent on with the cookie's token as `X-Auth-Token`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use stormdesk_engine::auth::DEFAULT_TOKEN_TTL;
use stormdesk_engine::Engine;

use super::Console;

/// How long a console session lasts, in seconds (StackStorm's token TTL).
pub const SESSION_TTL: u64 = DEFAULT_TOKEN_TTL;

/// The cookie's name for the listener on `port`: cookies are shared by every
/// port of a host, so two servers on one machine each keep their own.
pub fn cookie_name(port: u16) -> String {
    format!("stormdesk_session_{port}")
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn fault(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({ "faultstring": message, "code": code })),
    )
        .into_response()
}

fn token_hint(engine: &Engine) -> String {
    format!(
        "the API token is in {} (or open the console link that `stormdesk serve` prints)",
        engine.paths().token_file().display()
    )
}

#[derive(Deserialize)]
pub struct SessionRequest {
    token: String,
}

/// `POST /console/session`.
pub async fn create(
    State(console): State<Console>,
    body: Result<Json<SessionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let engine = &console.engine;
    let Ok(Json(body)) = body else {
        return fault(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("send {{\"token\": \"...\"}}: {}", token_hint(engine)),
        );
    };
    let who = engine
        .token_identity(body.token.trim())
        .filter(|who| !who.is_action());
    let Some(who) = who else {
        return fault(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("that token is not valid: {}", token_hint(engine)),
        );
    };
    let issued = match engine.issue_token(&who.user, Some(SESSION_TTL)).await {
        Ok(t) => t,
        Err(e) => return fault(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string()),
    };
    let mut response =
        Json(json!({ "user": issued.user, "expiry": issued.expiry })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&console.cookie, &issued.token, SESSION_TTL, console.secure),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `DELETE /console/session`.
pub async fn end(State(console): State<Console>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&console.cookie, "", 0, console.secure),
    );
    response
}

/// `GET /console/info`.
pub async fn info(State(console): State<Console>, headers: HeaderMap) -> Response {
    let engine = &console.engine;
    let user = cookie(&headers, &console.cookie)
        .and_then(|t| engine.token_identity(&t))
        .map(|who| who.user);
    let mut response = Json(json!({
        "signed_in": user.is_some(),
        "user": user,
        "token_file": engine.paths().token_file().display().to_string(),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether the request brings credentials of its own (headers or
/// StackStorm's query parameters).
fn has_credentials(request: &Request) -> bool {
    let headers = request.headers();
    let from_headers = ["authorization", "x-auth-token", "st2-api-key"]
        .iter()
        .any(|name| headers.contains_key(*name));
    let from_query = request.uri().query().is_some_and(|q| {
        q.split('&').any(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            key.eq_ignore_ascii_case("x-auth-token") || key.eq_ignore_ascii_case("st2-api-key")
        })
    });
    from_headers || from_query
}

/// An API request with the session's token as `X-Auth-Token` when it has
/// no credentials of its own; the cookie itself does not go on.
pub fn with_session_token(mut request: Request, cookie_name: &str) -> Request {
    let token = cookie(request.headers(), cookie_name);
    request.headers_mut().remove(header::COOKIE);
    if let Some(token) = token {
        if !has_credentials(&request) {
            if let Ok(value) = HeaderValue::from_str(&token) {
                request.headers_mut().insert("x-auth-token", value);
            }
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; stormdesk_session_80=tok; b=2".parse().unwrap(),
        );
        headers.append(header::COOKIE, "c=3".parse().unwrap());
        assert_eq!(
            cookie(&headers, "stormdesk_session_80").as_deref(),
            Some("tok")
        );
        assert_eq!(cookie(&headers, "stormdesk_session_81"), None);
        assert_eq!(cookie(&headers, "c").as_deref(), Some("3"));
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_strict() {
        let value = set_cookie("stormdesk_session_1", "t", SESSION_TTL, false);
        let text = value.to_str().unwrap();
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(text.contains("Path=/"), "{text}");
    }

    #[test]
    fn credentials_of_the_request_win_over_the_session() {
        let request = Request::builder()
            .uri("/v1/executions")
            .header(header::COOKIE, "stormdesk_session_1=from-cookie")
            .header("authorization", "Bearer mine")
            .body(axum::body::Body::empty())
            .unwrap();
        let request = with_session_token(request, "stormdesk_session_1");
        assert!(request.headers().get("x-auth-token").is_none());
        assert!(request.headers().get(header::COOKIE).is_none());

        let request = Request::builder()
            .uri("/v1/executions")
            .header(header::COOKIE, "stormdesk_session_1=from-cookie")
            .body(axum::body::Body::empty())
            .unwrap();
        let request = with_session_token(request, "stormdesk_session_1");
        assert_eq!(request.headers()["x-auth-token"], "from-cookie");
    }
}
