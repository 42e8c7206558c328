//! Bad input gets a clear error naming the thing, and nothing runs.

use serde_json::json;
use stormdesk_engine::{ExecutionFilter, RunRequest, Status};

use crate::common::*;

async fn run_err(action: &str, p: serde_json::Map<String, serde_json::Value>) -> String {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let err = engine
        .run(RunRequest {
            action: action.into(),
            parameters: p,
            content_version: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(engine
        .executions(ExecutionFilter::default())
        .await
        .unwrap()
        .is_empty());
    engine.shutdown();
    err.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_action_is_named() {
    let msg = run_err("t.nope", params(&[])).await;
    assert!(msg.contains("t.nope"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_parameter_is_named() {
    let msg = run_err("t.types", params(&[])).await;
    assert!(msg.contains("count"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_type_is_named_with_the_type() {
    let msg = run_err("t.types", params(&[("count", json!("many"))])).await;
    assert!(msg.contains("count") && msg.contains("integer"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enum_violation_lists_the_choices() {
    let msg = run_err(
        "t.types",
        params(&[("count", json!(1)), ("color", json!("blue"))]),
    )
    .await;
    assert!(
        msg.contains("color") && msg.contains("red") && msg.contains("green"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_parameter_cannot_be_given() {
    let msg = run_err(
        "t.echo",
        params(&[("msg", json!("a")), ("cmd", json!("rm -rf /"))]),
    )
    .await;
    assert!(msg.contains("cmd") && msg.contains("immutable"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_parameter_is_named() {
    let msg = run_err(
        "t.echo",
        params(&[("msg", json!("a")), ("bogus", json!(1))]),
    )
    .await;
    assert!(msg.contains("bogus"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_values_are_coerced_and_defaults_applied() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let e = engine
        .run(RunRequest {
            action: "t.types".into(),
            parameters: params(&[("count", json!("42")), ("flag", json!("true"))]),
            content_version: None,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(e.parameters["count"], json!(42));
    assert_eq!(e.parameters["flag"], json!(true));
    assert_eq!(e.parameters["ratio"], json!(0.5));
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    let stdout = done.result["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("42 0.5 ") && stdout.ends_with(" red"),
        "{stdout}"
    );
    engine.shutdown();
}
