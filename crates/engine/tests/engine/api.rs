//! The HTTP API (StackStorm's shapes and auth) and the runners' callback
//! routes, through `Router::oneshot` and a real socket.

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use stormdesk_engine::{Engine, RunRequest, Status};
use tower::ServiceExt;

use crate::common::*;

/// A request with `headers`; the answer's status, headers and body (JSON, or a string).
pub(crate) async fn send(
    router: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

/// A request with `Authorization: Bearer <token>`.
pub(crate) async fn call(
    router: axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = format!("Bearer {token}");
    let (status, _, body) = send(router, method, uri, &[("authorization", &auth)], body).await;
    (status, body)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn local_password(engine: &Engine) -> String {
    let text = std::fs::read_to_string(engine.paths().credentials_file()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("password = "))
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stackstorm_way_of_authenticating_works_and_nothing_else() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let api_token = engine.api_token().to_string();
    let (status, body) = call(router.clone(), "GET", "/v1/actions", "wrong", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], json!("unauthorized"));
    assert!(body["faultstring"]
        .as_str()
        .unwrap()
        .contains("X-Auth-Token"));
    let (status, _, body) = send(router.clone(), "GET", "/v1/actions", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // The API token, as a bearer, an X-Auth-Token or a query parameter.
    let (status, body) = call(router.clone(), "GET", "/v1/actions", &api_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["ref"] == "t.echo"));
    let (status, ..) = send(
        router.clone(),
        "GET",
        "/v1/actions",
        &[("x-auth-token", &api_token)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = send(
        router.clone(),
        "GET",
        &format!("/v1/actions?x-auth-token={api_token}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A token from the auth service, with basic auth against the local user.
    let password = local_password(&engine);
    let user = engine.local_user().to_string();
    let (status, _, bad) = send(
        router.clone(),
        "POST",
        "/auth/v1/tokens",
        &[("authorization", &basic(&user, "wrong"))],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    let (status, _, too_long) = send(
        router.clone(),
        "POST",
        "/auth/v1/tokens",
        &[("authorization", &basic(&user, &password))],
        Some(json!({"ttl": 86401})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{too_long}");
    let (status, _, token) = send(
        router.clone(),
        "POST",
        "/auth/v1/tokens",
        &[("authorization", &basic(&user, &password))],
        Some(json!({"ttl": 60})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    assert_eq!(token["user"], json!(user));
    let value = token["token"].as_str().unwrap().to_string();
    let expiry = chrono::DateTime::parse_from_rfc3339(token["expiry"].as_str().unwrap()).unwrap();
    let ttl = expiry
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((55..=60).contains(&ttl), "expires in {ttl} s");
    let (status, _, me) = send(
        router.clone(),
        "GET",
        "/v1/user",
        &[("x-auth-token", &value)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], json!(user));
    let (_, valid) = call(
        router.clone(),
        "POST",
        "/auth/v1/tokens/validate",
        &value,
        Some(json!({"token": value})),
    )
    .await;
    assert_eq!(valid, json!({"valid": true}));

    // An API key, as a header or a query parameter, until it is disabled.
    let (status, key) = call(
        router.clone(),
        "POST",
        "/v1/apikeys",
        &value,
        Some(json!({"metadata": {"used_by": "ci"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key_value = key["key"].as_str().unwrap().to_string();
    let key_id = key["id"].as_str().unwrap().to_string();
    let (status, ..) = send(
        router.clone(),
        "GET",
        "/v1/executions",
        &[("st2-api-key", &key_value)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = send(
        router.clone(),
        "GET",
        &format!("/v1/executions?st2-api-key={key_value}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = call(router.clone(), "GET", "/v1/apikeys", &api_token, None).await;
    assert_eq!(listed[0]["metadata"], json!({"used_by": "ci"}));
    assert!(listed[0].get("key").is_none(), "the key is shown only once");
    let (status, _) = call(
        router.clone(),
        "PUT",
        &format!("/v1/apikeys/{key_id}"),
        &api_token,
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = send(
        router.clone(),
        "GET",
        "/v1/executions",
        &[("st2-api-key", &key_value)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        router.clone(),
        "DELETE",
        &format!("/v1/apikeys/{key_id}"),
        &api_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Tokens and keys survive a restart, stored as hashes only.
    engine.shutdown();
    let db = std::fs::read(engine.paths().db()).unwrap();
    let wal = std::fs::read(engine.paths().db().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(value.len()).any(|w| w == value.as_bytes()));
    }
    let again = fx.engine().await;
    let router = stormdesk_engine::api::router(again.clone());
    let (status, ..) = send(
        router,
        "GET",
        "/v1/actions",
        &[("x-auth-token", &value)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The token and credential files are private.
    use std::os::unix::fs::PermissionsExt;
    for file in [again.paths().token_file(), again.paths().credentials_file()] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    again.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_take_stackstorms_shape_filters_and_paging() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let (status, body) = call(
        router.clone(),
        "POST",
        "/v1/executions",
        &token,
        Some(json!({"action": "t.echo", "parameters": {"msg": "via api"}, "context": {"trace_context": {"trace_tag": "t1"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["action"]["ref"], json!("t.echo"));
    assert_eq!(body["action"]["runner_type"], json!("local-shell-cmd"));
    assert_eq!(body["runner"]["name"], json!("local-shell-cmd"));
    assert_eq!(body["liveaction_id"], json!(id));
    assert_eq!(body["context"]["user"], json!(engine.local_user()));
    assert_eq!(body["context"]["pack"], json!("t"));
    assert_eq!(body["context"]["trace_context"]["trace_tag"], json!("t1"));
    assert!(body.get("result").is_none(), "no result before completion");
    finished(&engine, &id).await;

    let (_, body) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}/"),
        &token,
        None,
    )
    .await;
    assert_eq!(body["status"], json!("succeeded"));
    assert_eq!(body["result"]["stdout"], json!("via api"));
    let pattern = regex_lite(&body["end_timestamp"]);
    assert!(pattern, "{}", body["end_timestamp"]);
    assert!(body["elapsed_seconds"].as_f64().unwrap() >= 0.0);
    let (_, only) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}?include_attributes=action.ref,status"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        only,
        json!({"id": id, "action": {"ref": "t.echo"}, "status": "succeeded"})
    );
    let (_, without) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}?exclude_attributes=result"),
        &token,
        None,
    )
    .await;
    assert!(without.get("result").is_none() && without.get("status").is_some());

    // Output as StackStorm's text, and as Stormdesk's objects.
    let (_, text) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}/output"),
        &token,
        None,
    )
    .await;
    assert_eq!(text, json!("via api\n"));
    let (_, out) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}/output?format=json"),
        &token,
        None,
    )
    .await;
    assert_eq!(out[0]["data"], json!("via api\n"));
    assert_eq!(out[0]["output_type"], json!("stdout"));
    assert_eq!(out[0]["execution_id"], json!(id));
    assert_eq!(out[0]["seq"], json!(0));
    let (_, none) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}/output?output_type=stderr"),
        &token,
        None,
    )
    .await;
    assert_eq!(none, json!(""));

    // Lists leave results out unless asked, count everything, page and filter.
    for i in 0..3 {
        let e = engine
            .run(RunRequest::new(
                "t.echo",
                params(&[("msg", json!(i.to_string()))]),
            ))
            .await
            .unwrap();
        finished(&engine, &e.id).await;
    }
    let (status, headers, list) = send(
        router.clone(),
        "GET",
        "/v1/executions/?limit=2&action=t.echo&parent=null",
        &[("x-auth-token", &token)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-total-count"], "4");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|e| e.get("result").is_none()));
    assert_eq!(list[0]["parameters"]["msg"], json!("2"), "newest first");
    let (_, asc) = call(
        router.clone(),
        "GET",
        "/v1/executions?limit=1&sort_asc=True&include_attributes=id,result",
        &token,
        None,
    )
    .await;
    assert_eq!(asc[0]["id"], json!(id));
    assert_eq!(asc[0]["result"]["stdout"], json!("via api"));
    let start = body["start_timestamp"].as_str().unwrap();
    let (_, later) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions?timestamp_gt={start}"),
        &token,
        None,
    )
    .await;
    assert_eq!(later.as_array().unwrap().len(), 3);
    let (_, mine) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions?user={}", engine.local_user()),
        &token,
        None,
    )
    .await;
    assert_eq!(mine.as_array().unwrap().len(), 4);

    // Errors are StackStorm's `faultstring` with Stormdesk's code.
    let (status, body) = call(
        router.clone(),
        "POST",
        "/v1/executions",
        &token,
        Some(json!({"action": "t.echo", "parameters": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], json!("invalid_input"));
    assert!(body["faultstring"].as_str().unwrap().contains("msg"));
    let (status, body) = call(
        router.clone(),
        "GET",
        "/v1/executions/000000000000000000000000",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], json!("not_found"));
    // A completed execution cannot be canceled; StackStorm says so with a 200.
    let (status, body) = call(
        router.clone(),
        "DELETE",
        &format!("/v1/executions/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["faultstring"],
        json!("Action cannot be canceled. State = succeeded.")
    );
    // Re-run: the same action, the original parameters with overrides.
    let (status, rerun) = call(
        router,
        "POST",
        &format!("/v1/executions/{id}/re_run"),
        &token,
        Some(json!({"parameters": {"msg": "again"}, "tasks": [], "reset": [], "delay": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rerun}");
    let again = finished(&engine, rerun["id"].as_str().unwrap()).await;
    assert_eq!(again.result["stdout"], json!("again"));
    assert_eq!(again.context["re-run"]["ref"], json!(id));
    engine.shutdown();
}

/// StackStorm's timestamp pattern (`ISO8601_UTC_REGEX`), checked by hand.
fn regex_lite(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    let b = s.as_bytes();
    s.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s.ends_with("+00:00"))
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actions_token_opens_executions_and_keys_only_while_it_runs() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let file = fx.path("token");
    let e = engine
        .run(RunRequest::new(
            "t.token_gate",
            params(&[
                ("fifo", json!(fifo.display().to_string())),
                ("file", json!(file.display().to_string())),
            ]),
        ))
        .await
        .unwrap();
    // Opening the fifo for writing waits for the action to read it, by which
    // time the token file is written.
    let opener = fifo.clone();
    let mut writer = tokio::task::spawn_blocking(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(opener)
            .unwrap()
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let (url, token) = text.split_once(' ').unwrap();
    assert_eq!(url, format!("{}/v1", engine.api_url()));
    let router = stormdesk_engine::api::router(engine.clone());
    let with = |path: &str| {
        let router = router.clone();
        let (path, token) = (path.to_string(), token.to_string());
        async move {
            send(router, "GET", &path, &[("x-auth-token", &token)], None)
                .await
                .0
        }
    };
    assert_eq!(with("/v1/keys").await, StatusCode::OK);
    assert_eq!(
        with(&format!("/v1/executions/{}", e.id)).await,
        StatusCode::OK
    );
    assert_eq!(with("/v1/actions").await, StatusCode::OK);
    assert_eq!(with("/v1/apikeys").await, StatusCode::FORBIDDEN);
    // Its user is the execution's.
    let (_, _, me) = send(
        router.clone(),
        "GET",
        "/v1/user",
        &[("x-auth-token", token)],
        None,
    )
    .await;
    assert_eq!(me["username"], json!(engine.local_user()));
    // The runner's callback routes are not for it.
    let (status, _) = call(
        router.clone(),
        "PUT",
        &format!("/runner/v1/executions/{}", e.id),
        token,
        Some(json!({"status": "succeeded", "result": {"forged": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    writer.write_all(b"go\n").unwrap();
    drop(writer);
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(with("/v1/keys").await, StatusCode::UNAUTHORIZED);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_a_bad_token_is_rejected_and_changes_nothing() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let e = engine
        .run(RunRequest::new(
            "t.gate",
            params(&[("fifo", json!(fifo.display().to_string()))]),
        ))
        .await
        .unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    // Through the real socket, as a runner would; the API token is no
    // callback token either.
    let url = format!("{}/runner/v1/executions/{}", engine.api_url(), e.id);
    for token in ["not-the-token", engine.api_token()] {
        let forged = ureq::put(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(json!({"status": "succeeded", "result": {"forged": true}}));
        match forged {
            Err(ureq::Error::Status(code, _)) => assert_eq!(code, 401),
            other => panic!("expected 401, got {other:?}"),
        }
    }
    let out_url = format!("{url}/output");
    let forged = ureq::post(&out_url)
        .set("Authorization", "Bearer not-the-token")
        .send_json(json!({"chunks": [{"seq": 99, "stream": "stdout", "data": "forged", "timestamp": "2026-01-01T00:00:00Z"}]}));
    assert!(matches!(forged, Err(ureq::Error::Status(401, _))));
    // Through the public API, a status that only a runner may report is refused.
    let public = format!("{}/v1/executions/{}", engine.api_url(), e.id);
    let forged = ureq::put(&public)
        .set("X-Auth-Token", engine.api_token())
        .send_json(json!({"status": "succeeded", "result": {"forged": true}}));
    assert!(matches!(forged, Err(ureq::Error::Status(400, _))));
    assert_eq!(
        engine.execution(&e.id).await.unwrap().status,
        Status::Running
    );
    std::fs::write(&fifo, "go\n").unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.result["stdout"], json!("waiting\ndone-go"));
    let out = engine.output(&e.id, None).await.unwrap();
    assert!(out.iter().all(|c| c.data != "forged"));
    engine.shutdown();
}

/// Reads SSE messages as `(id, event, data)` until `stop` says so.
fn read_sse_messages(
    resp: ureq::Response,
    mut stop: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, String, Value)> {
    use std::io::BufRead;
    let mut seen = Vec::new();
    let (mut id, mut name) = (String::new(), String::new());
    for line in std::io::BufReader::new(resp.into_reader()).lines() {
        let Ok(line) = line else { break };
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(n) = line.strip_prefix("event:") {
            name = n.trim().to_string();
        } else if let Some(data) = line.strip_prefix("data:") {
            let v: Value = serde_json::from_str(data.trim()).unwrap();
            let done = stop(&name, &v);
            seen.push((id.clone(), name.clone(), v));
            if done {
                break;
            }
        }
    }
    seen
}

/// Reads SSE messages as `(event, data)` until `stop` says so.
fn read_sse(resp: ureq::Response, stop: impl FnMut(&str, &Value) -> bool) -> Vec<(String, Value)> {
    read_sse_messages(resp, stop)
        .into_iter()
        .map(|(_, name, data)| (name, data))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_speaks_stackstorms_event_names_and_filters() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let base = format!("{}/v1/stream", engine.api_url());
    let token = engine.api_token().to_string();
    let open = |query: String| {
        let url = format!("{base}{query}");
        tokio::task::spawn_blocking(move || ureq::get(&url).call().unwrap())
    };
    let everything = open(format!("?x-auth-token={token}")).await.unwrap();
    let filtered = open(format!(
        "?x-auth-token={token}&events=st2.execution.output__create"
    ))
    .await
    .unwrap();
    let e = engine
        .run(RunRequest::new(
            "t.echo",
            params(&[("msg", json!("streamed"))]),
        ))
        .await
        .unwrap();
    // A stream that ends itself once the execution completes.
    let ending = open(format!(
        "?x-auth-token={token}&end_execution_id={}&end_event=st2.execution__update&execution_ids={}",
        e.id, e.id
    ))
    .await
    .unwrap();
    let id = e.id.clone();
    let all = tokio::task::spawn_blocking(move || {
        read_sse(everything, |name, v| {
            name == "st2.execution__update" && v["id"] == json!(id) && v["status"] == "succeeded"
        })
    });
    let all = tokio::time::timeout(WAIT, all).await.unwrap().unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "st2.liveaction__create",
        "st2.execution__create",
        "st2.liveaction__update",
        "st2.execution__update",
        "st2.execution.output__create",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let (_, output) = all
        .iter()
        .find(|(n, _)| n == "st2.execution.output__create")
        .unwrap();
    assert_eq!(output["data"], json!("streamed\n"));
    assert_eq!(output["execution_id"], json!(e.id));
    assert_eq!(output["action_ref"], json!("t.echo"));
    assert_eq!(output["runner_ref"], json!("local-shell-cmd"));
    assert_eq!(output["output_type"], json!("stdout"));
    let (_, created) = all
        .iter()
        .find(|(n, _)| n == "st2.execution__create")
        .unwrap();
    assert_eq!(created["action"]["ref"], json!("t.echo"));
    let (_, live) = all
        .iter()
        .find(|(n, _)| n == "st2.liveaction__create")
        .unwrap();
    assert_eq!(live["action"], json!("t.echo"));

    let only = tokio::task::spawn_blocking(move || read_sse(filtered, |_, _| true));
    let only = tokio::time::timeout(WAIT, only).await.unwrap().unwrap();
    assert_eq!(only[0].0, "st2.execution.output__create");
    let ended = tokio::task::spawn_blocking(move || read_sse(ending, |_, _| false));
    let ended = tokio::time::timeout(WAIT, ended).await.unwrap().unwrap();
    let (last_name, last) = ended.last().unwrap();
    assert_eq!(last_name, "st2.execution__update");
    assert_eq!(last["status"], json!("succeeded"));
    assert!(ended
        .iter()
        .all(|(_, v)| v["id"] == json!(e.id) || v["execution_id"] == json!(e.id)));
    // Asked to end with an execution that has already completed, the
    // stream sends its final update at once and ends.
    let late = open(format!(
        "?x-auth-token={token}&end_execution_id={}&end_event=st2.execution__update",
        e.id
    ))
    .await
    .unwrap();
    let late = tokio::task::spawn_blocking(move || read_sse(late, |_, _| false));
    let late = tokio::time::timeout(WAIT, late).await.unwrap().unwrap();
    let (name, last) = late.last().unwrap();
    assert_eq!(name, "st2.execution__update");
    assert_eq!(
        (&last["id"], &last["status"]),
        (&json!(e.id), &json!("succeeded"))
    );
    engine.shutdown();
}

/// An announcement is StackStorm's `st2.announcement__<route>` for every
/// listener; Stormdesk's `stormdesk.announcement` (with the execution that
/// announced) goes only to a stream that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_on_the_stream_as_stackstorms_and_with_their_execution_when_asked() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let base = format!("{}/v1/stream", engine.api_url());
    let token = engine.api_token().to_string();
    let open = |query: String| {
        let url = format!("{base}?x-auth-token={token}{query}");
        tokio::task::spawn_blocking(move || ureq::get(&url).call().unwrap())
    };
    let everything = open(String::new()).await.unwrap();
    let asked = open("&events=stormdesk.announcement".into()).await.unwrap();
    let e = engine
        .run(RunRequest::new(
            "core.announcement",
            params(&[
                ("message", json!({"message": "deploy done"})),
                ("route", json!("ops")),
            ]),
        ))
        .await
        .unwrap();
    let id = e.id.clone();
    let all = tokio::task::spawn_blocking(move || {
        read_sse(everything, |name, v| {
            name == "st2.execution__update" && v["id"] == json!(id) && v["status"] == "succeeded"
        })
    });
    let all = tokio::time::timeout(WAIT, all).await.unwrap().unwrap();
    let (_, st2) = all
        .iter()
        .find(|(n, _)| n == "st2.announcement__ops")
        .expect("StackStorm's announcement event");
    let body = json!({"payload": {"message": {"message": "deploy done"}}, "trace_context": null});
    assert_eq!(st2, &body);
    assert!(
        all.iter().all(|(n, _)| n != "stormdesk.announcement"),
        "sent only when asked by name"
    );
    let only = tokio::task::spawn_blocking(move || read_sse(asked, |_, _| true));
    let only = tokio::time::timeout(WAIT, only).await.unwrap().unwrap();
    assert_eq!(
        only,
        vec![(
            "stormdesk.announcement".to_string(),
            json!({"route": "ops", "body": body, "execution_id": e.id})
        )]
    );
    engine.shutdown();
}

/// Reads `n` SSE messages as `(id, event, data)`.
fn read_sse_ids(resp: ureq::Response, n: usize) -> Vec<(String, String, Value)> {
    let mut left = n;
    read_sse_messages(resp, |_, _| {
        left -= 1;
        left == 0
    })
}

/// An event that makes two messages (here an announcement under both of
/// its names; an execution's `st2.liveaction__*` and `st2.execution__*`
/// twins alike): a client cut off between them resumes with the second,
/// neither losing nor repeating one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resumed_between_the_messages_of_one_event_loses_and_repeats_none() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let url = format!(
        "{}/v1/stream?events=st2.announcement__twin,stormdesk.announcement",
        engine.api_url()
    );
    let token = engine.api_token().to_string();
    let open = |resume: Option<&str>| {
        let (url, token) = (url.clone(), token.clone());
        let resume = resume.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut req = ureq::get(&url).set("X-Auth-Token", &token);
            if let Some(id) = resume {
                req = req.set("Last-Event-ID", &id);
            }
            req.call().unwrap()
        })
    };
    let announce = |body: &str| {
        engine.bus().publish(stormdesk_engine::Event::Announcement {
            route: "twin".into(),
            body: json!(body),
            execution_id: "none".into(),
        })
    };
    let read = |resp, n| async move {
        tokio::time::timeout(
            WAIT,
            tokio::task::spawn_blocking(move || read_sse_ids(resp, n)),
        )
        .await
        .unwrap()
        .unwrap()
    };
    let first = open(None).await.unwrap();
    announce("x");
    announce("y");
    let all = read(first, 4).await;
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|(id, n, _)| (id.as_str(), n.as_str()))
        .collect();
    let (x, y) = (&all[1].0, &all[3].0);
    assert_eq!(
        names,
        vec![
            (format!("{x}-0").as_str(), "st2.announcement__twin"),
            (x.as_str(), "stormdesk.announcement"),
            (format!("{y}-0").as_str(), "st2.announcement__twin"),
            (y.as_str(), "stormdesk.announcement"),
        ]
    );
    // Cut off after the first message of x: the rest of x, then y.
    let again = read(open(Some(&format!("{x}-0"))).await.unwrap(), 3).await;
    assert_eq!(
        again
            .iter()
            .map(|(id, n, d)| (id.clone(), n.clone(), d["body"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (x.clone(), "stormdesk.announcement".to_string(), json!("x")),
            (
                format!("{y}-0"),
                "st2.announcement__twin".to_string(),
                Value::Null
            ),
            (y.clone(), "stormdesk.announcement".to_string(), json!("y")),
        ]
    );
    assert_eq!(again[1].2, json!("y"));
    // After the whole of x: y.
    let after = read(open(Some(x)).await.unwrap(), 1).await;
    assert_eq!((&after[0].0, &after[0].2), (&format!("{y}-0"), &json!("y")));
    // An id that is none of these starts at now, as no id does.
    let fresh = open(Some("not-an-id")).await.unwrap();
    announce("z");
    let now = read(fresh, 1).await;
    assert_eq!(now[0].2, json!("z"));
    engine.shutdown();
}

/// A client that falls too far behind (its socket full, more events queued
/// than the bus keeps for it) has its stream ended instead of continued with
/// a hole: what it read is whole, and it knows to resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_client_that_falls_behind_is_ended_not_left_with_a_hole() {
    use std::io::{BufRead, BufReader, Read};
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let addr = engine.api_url().trim_start_matches("http://").to_string();
    let token = engine.api_token().to_string();
    let stream = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /v1/stream?events=st2.announcement__bulk HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        // Headers: the engine has subscribed this client once they arrive.
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
        }
        reader
    })
    .await
    .unwrap();
    // Far more than the socket buffers hold and the bus queues per client
    // (16,384 events), while the client reads nothing.
    let body = "x".repeat(2048);
    let published = 30_000u64;
    for _ in 0..published {
        engine.bus().publish(stormdesk_engine::Event::Announcement {
            route: "bulk".into(),
            body: json!(body),
            execution_id: "none".into(),
        });
    }
    let read = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        let mut reader = stream;
        // Ends (the engine ends the body, and with `Connection: close` the
        // connection) instead of waiting on.
        reader.read_to_string(&mut text).map(|_| text)
    });
    let text = tokio::time::timeout(WAIT, read)
        .await
        .expect("a client that fell behind has its stream ended")
        .unwrap()
        .unwrap();
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert!(
        !ids.is_empty(),
        "the client read what it had before it fell behind"
    );
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no hole in what the client read"
    );
    let last = *ids.last().unwrap();
    assert!(
        last < ids[0] + published - 1,
        "the stream ended before the last event ({} of {published} read)",
        ids.len()
    );
    // The client resumes from what it read; too far back for the replay
    // window, it gets the live stream (and reloads what it shows).
    let addr = engine.api_url().to_string();
    let token = engine.api_token().to_string();
    let again = tokio::task::spawn_blocking(move || {
        ureq::get(&format!("{addr}/v1/stream?events=st2.announcement__bulk"))
            .set("X-Auth-Token", &token)
            .set("Last-Event-ID", &last.to_string())
            .call()
            .unwrap()
    })
    .await
    .unwrap();
    engine.bus().publish(stormdesk_engine::Event::Announcement {
        route: "bulk".into(),
        body: json!("after"),
        execution_id: "none".into(),
    });
    let next = tokio::task::spawn_blocking(move || read_sse(again, |_, v| v == &json!("after")));
    let next = tokio::time::timeout(WAIT, next).await.unwrap().unwrap();
    assert_eq!(next.last().unwrap().1, json!("after"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_packs_and_runner_types_in_stackstorms_shapes() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let (_, action) = call(router.clone(), "GET", "/v1/actions/t.echo", &token, None).await;
    assert_eq!(action["uid"], json!("action:t:echo"));
    assert_eq!(action["runner_type"], json!("local-shell-cmd"));
    assert_eq!(action["entry_point"], json!(""));
    assert!(action["parameters"].get("msg").is_some());
    // Declared parameters here, the runner's merged in the overview.
    assert!(action["parameters"].get("timeout").is_none());
    let by_id = format!("/v1/actions/{}", action["id"].as_str().unwrap());
    let (status, same) = call(router.clone(), "GET", &by_id, &token, None).await;
    assert_eq!((status, &same["ref"]), (StatusCode::OK, &json!("t.echo")));
    let (_, overview) = call(
        router.clone(),
        "GET",
        "/v1/actions/views/overview/t.echo",
        &token,
        None,
    )
    .await;
    assert!(overview["parameters"].get("timeout").is_some());
    let (_, params) = call(
        router.clone(),
        "GET",
        "/v1/actions/views/parameters/t.echo",
        &token,
        None,
    )
    .await;
    assert!(params["parameters"].get("timeout").is_some());
    let (_, code) = call(
        router.clone(),
        "GET",
        "/v1/actions/views/entry_point/t.big",
        &token,
        None,
    )
    .await;
    assert!(code.as_str().unwrap().contains("class Big"));
    let (_, by_pack) = call(
        router.clone(),
        "GET",
        "/v1/actions?pack=t&name=echo",
        &token,
        None,
    )
    .await;
    assert_eq!(by_pack.as_array().unwrap().len(), 1);

    let (_, runners) = call(
        router.clone(),
        "GET",
        "/v1/runnertypes?name=python-script",
        &token,
        None,
    )
    .await;
    let runners = runners.as_array().unwrap();
    assert_eq!(runners.len(), 1);
    assert!(runners[0]["runner_parameters"].get("timeout").is_some());
    let (_, runner) = call(
        router.clone(),
        "GET",
        "/v1/runnertypes/orquesta",
        &token,
        None,
    )
    .await;
    assert_eq!(runner["name"], json!("orquesta"));

    let (_, pack) = call(router.clone(), "GET", "/v1/packs/t", &token, None).await;
    assert_eq!(pack["ref"], json!("t"));
    assert_eq!(pack["uid"], json!("pack:t"));
    assert_eq!(pack["version"], json!("0.1.0"));
    let (status, missing) = call(router, "GET", "/v1/packs/nope", &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let (status, _, doc) = send(router, "GET", "/v1/openapi.yaml", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc.as_str().unwrap().contains("ActionExecution"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_jobs_refuse_a_body_without_a_list_of_packs_and_say_what_it_needs() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    for (uri, needs) in [
        ("/v1/packs/install", "name, name=version, or a git URL"),
        ("/v1/packs/update", "pack name"),
    ] {
        for body in [json!({}), json!({"packs": []}), json!({"packs": "t"})] {
            let (status, answer) = call(router.clone(), "POST", uri, &token, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
            let said = answer["faultstring"].as_str().unwrap();
            assert!(
                said.contains(&format!("{{\"packs\": [\"{needs}\", ...]}}")),
                "{uri}: {said}"
            );
        }
        let (status, answer) = call(
            router.clone(),
            "POST",
            uri,
            &token,
            Some(json!({"packs": ["t", 7]})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
        assert_eq!(
            answer["faultstring"],
            json!("invalid request: packs: 7 is not a string")
        );
    }
    // Nothing was started.
    let (_, runs) = call(router, "GET", "/v1/executions", &token, None).await;
    assert_eq!(runs, json!([]));
}

/// What Stormdesk does not serve is said, never answered with an empty
/// body: a StackStorm route it lacks is a 404 naming it, a path it has with
/// a method it does not take there (`st2 pack remove` against an engine
/// without `packs/uninstall` used to get a bare 405) a 405 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_methods_stormdesk_lacks_are_named_in_the_answer() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let (status, body) = call(router.clone(), "GET", "/v1/triggertypes", &token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["faultstring"]
            .as_str()
            .unwrap()
            .contains("GET /v1/triggertypes: not part of Stormdesk's API"),
        "{body}"
    );
    let (status, body) = call(router, "DELETE", "/v1/packs/core", &token, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        body["faultstring"].as_str().unwrap().contains(
            "DELETE /v1/packs/core: not part of Stormdesk's API (the path is, with another method)"
        ),
        "{body}"
    );
    engine.shutdown();
}
