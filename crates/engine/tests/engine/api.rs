//! The HTTP API and callback listener, through `Router::oneshot` and a real socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use stormdesk_engine::{RunRequest, Status};
use tower::ServiceExt;

use crate::common::*;

pub(crate) async fn call(
    router: axum::Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_requires_the_api_token() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let (status, body) = call(router.clone(), "GET", "/v1/actions", "wrong", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], json!("unauthorized"));
    let (status, body) = call(router, "GET", "/v1/actions", engine.api_token(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["ref"] == json!("t.echo")));
    // The token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(engine.paths().token_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_through_the_api_and_read_back() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let (status, body) = call(
        router.clone(),
        "POST",
        "/v1/executions",
        &token,
        Some(json!({"action": "t.echo", "parameters": {"msg": "via api"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    finished(&engine, &id).await;
    let (_, body) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(body["status"], json!("succeeded"));
    assert_eq!(body["result"]["stdout"], json!("via api"));
    let (_, out) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{id}/output"),
        &token,
        None,
    )
    .await;
    assert_eq!(out[0]["data"], json!("via api\n"));
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
    assert!(body["message"].as_str().unwrap().contains("msg"));
    let (status, body) = call(
        router,
        "GET",
        "/v1/executions/000000000000000000000000",
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], json!("not_found"));
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
        .run(RunRequest {
            action: "t.gate".into(),
            parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
            content_version: None,
        })
        .await
        .unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    // Through the real socket, as a runner would.
    let url = format!("{}/v1/executions/{}", engine.api_url(), e.id);
    let forged = ureq::put(&url)
        .set("Authorization", "Bearer not-the-token")
        .send_json(json!({"status": "succeeded", "result": {"forged": true}}));
    match forged {
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let out_url = format!("{}/v1/executions/{}/output", engine.api_url(), e.id);
    let forged = ureq::post(&out_url)
        .set("Authorization", "Bearer not-the-token")
        .send_json(json!({"chunks": [{"seq": 99, "stream": "stdout", "data": "forged", "timestamp": "2026-01-01T00:00:00Z"}]}));
    assert!(matches!(forged, Err(ureq::Error::Status(401, _))));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_stream_carries_status_and_output() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let url = format!("{}/v1/stream", engine.api_url());
    let token = engine.api_token().to_string();
    let stream = tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
    })
    .await
    .unwrap();
    let e = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!("streamed"))]),
            content_version: None,
        })
        .await
        .unwrap();
    let id = e.id.clone();
    let seen = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stream.into_reader()).lines() {
            let line = line.unwrap();
            if let Some(data) = line.strip_prefix("data:") {
                let v: Value = serde_json::from_str(data.trim()).unwrap();
                seen.push(v.clone());
                if v["type"] == "execution"
                    && v["execution"]["id"] == json!(id)
                    && v["execution"]["status"] == json!("succeeded")
                {
                    break;
                }
            }
        }
        seen
    });
    let seen = tokio::time::timeout(WAIT, seen).await.unwrap().unwrap();
    assert!(seen
        .iter()
        .any(|v| v["type"] == "output" && v["chunk"]["data"] == json!("streamed\n")));
    assert!(seen
        .windows(2)
        .all(|w| w[0]["id"].as_u64() < w[1]["id"].as_u64()));
    engine.shutdown();
}
