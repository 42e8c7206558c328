//! Re-running a workflow from chosen tasks, as `st2 execution re-run <id>
//! --tasks t`: completed work is kept, the chosen tasks run again with the
//! context they had.

use std::path::Path;

use serde_json::json;
use stormdesk_engine::ReRun;
use stormdesk_engine::{RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_workflow_reruns_from_the_failed_task_keeping_earlier_results() {
    let fx = Fixture::new();
    let dir = fx.packs.join("rr");
    write(
        &dir.join("pack.yaml"),
        "ref: rr\nname: rr\nversion: 0.1.0\n",
    );
    // `check` fails until the flag file exists.
    write(
        &dir.join("actions/check.yaml"),
        "name: check\nrunner_type: local-shell-cmd\nparameters:\n  flag: {type: string, required: true}\n  cmd: {immutable: true, default: 'test -e {{flag}} && echo ok'}\n",
    );
    write(
        &dir.join("actions/flow.yaml"),
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nparameters:\n  flag: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/flow.yaml"),
        r#"version: 1.0
input:
  - flag
tasks:
  first:
    action: t.echo
    input:
      msg: prepared
    next:
      - when: <% succeeded() %>
        publish:
          - prepared: <% result().stdout %>
        do: second
  second:
    action: rr.check
    input:
      flag: <% ctx().flag %>
output:
  - prepared: <% ctx().prepared %>
"#,
    );
    let engine = fx.engine().await;
    let flag = fx.path("flag");
    let first = engine
        .run(RunRequest {
            action: "rr.flow".into(),
            parameters: params(&[("flag", json!(flag.display().to_string()))]),
            ..Default::default()
        })
        .await
        .unwrap();
    let failed = finished(&engine, &first.id).await;
    assert_eq!(failed.status, Status::Failed, "{}", failed.result);

    // Unknown task names are refused before anything runs.
    let err = engine
        .re_run_as(
            &first.id,
            ReRun {
                tasks: vec!["nope".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");

    std::fs::write(&flag, "").unwrap();
    let again = engine
        .re_run_as(
            &first.id,
            ReRun {
                tasks: vec!["second".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.context["re-run"]["ref"], json!(first.id));
    let done = finished(&engine, &again.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    // `first` ran once in all; its published value reached the output.
    assert_eq!(done.result["output"]["prepared"], json!("prepared"));
    let tasks: Vec<String> = engine
        .descendants(&again.id, -1)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.task_name().unwrap_or_default().to_string())
        .collect();
    assert_eq!(tasks, ["second"]);

    // A plain action has no tasks to re-run from.
    let echo = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!("x"))]),
            ..Default::default()
        })
        .await
        .unwrap();
    finished(&engine, &echo.id).await;
    let err = engine
        .re_run_as(
            &echo.id,
            ReRun {
                tasks: vec!["x".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a workflow"), "{err}");
}
