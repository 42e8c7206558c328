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

/// A re-run from tasks survives its engine's end: the next engine rebuilds
/// it from its first snapshot (the requests the original's conductor issued)
/// and the log after it, never starts its conductor anew, and `task()` of a
/// task it did not run again reads the original's result.
#[test]
fn a_rerun_from_tasks_resumes_after_its_engine_is_gone() {
    let fx = Fixture::new();
    let dir = fx.packs.join("rk");
    write(
        &dir.join("pack.yaml"),
        "ref: rk\nname: rk\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/check.yaml"),
        "name: check\nrunner_type: local-shell-cmd\nparameters:\n  flag: {type: string, required: true}\n  cmd: {immutable: true, default: 'test -e {{flag}} && echo ok'}\n",
    );
    write(
        &dir.join("actions/flow.yaml"),
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nparameters:\n  flag: {type: string, required: true}\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/flow.yaml"),
        r#"version: 1.0
input:
  - flag
  - fifo
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
    action: rk.check
    input:
      flag: <% ctx().flag %>
    next:
      - when: <% succeeded() %>
        do: gate
  gate:
    action: t.gate
    input:
      fifo: <% ctx().fifo %>
    next:
      - when: <% succeeded() %>
        publish:
          - from_first: <% task(first).result.stdout %>
          - gate: <% result().stdout %>
output:
  - prepared: <% ctx().prepared %>
  - from_first: <% ctx().from_first %>
  - gate: <% ctx().gate %>
"#,
    );
    let flag = fx.path("flag");
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);

    // The first engine lives in its own runtime, dropped whole once the
    // re-run's gate runs: as when the app is killed.
    let first = tokio::runtime::Runtime::new().unwrap();
    let (original, rerun, runner_pid) = first.block_on(async {
        let engine = fx.engine().await;
        let failed = engine
            .run(RunRequest {
                action: "rk.flow".into(),
                parameters: params(&[
                    ("flag", json!(flag.display().to_string())),
                    ("fifo", json!(fifo.display().to_string())),
                ]),
                ..Default::default()
            })
            .await
            .unwrap();
        let failed = finished(&engine, &failed.id).await;
        assert_eq!(failed.status, Status::Failed, "{}", failed.result);
        std::fs::write(&flag, "").unwrap();
        let mut rx = engine.subscribe();
        let again = engine
            .re_run_as(
                &failed.id,
                ReRun {
                    tasks: vec!["second".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let gate = wait_for(&mut rx, |e| {
            matches!(e, stormdesk_engine::Event::Execution { execution, .. }
                if execution.parent.as_deref() == Some(again.id.as_str())
                    && execution.task_name() == Some("gate")
                    && execution.status == Status::Running)
        })
        .await;
        let stormdesk_engine::Event::Execution { execution, .. } = gate else {
            unreachable!()
        };
        let running = engine.execution(&execution.id).await.unwrap();
        let pid = running.context["runner_pid"].as_u64().unwrap() as i32;
        (failed.id, again.id, pid)
    });
    first.shutdown_background();
    std::fs::write(&fifo, "open\n").unwrap();
    // The runner is our child: wait for it to spool and exit.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(runner_pid), None);

    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let engine = stormdesk_engine::Engine::start(fx.options()).await.unwrap();
        let done = finished(&engine, &rerun).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(
            done.result["output"],
            json!({"prepared": "prepared", "from_first": "prepared", "gate": "waiting\ndone-open"})
        );
        // The re-run ran `second` and `gate` once each; `first` only in the original.
        let mut tasks: Vec<String> = engine
            .descendants(&rerun, -1)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.task_name().unwrap_or_default().to_string())
            .collect();
        tasks.sort();
        assert_eq!(tasks, ["gate", "second"]);
        let original_tasks = engine.descendants(&original, -1).await.unwrap();
        assert_eq!(original_tasks.len(), 2, "first and second, once each");
        engine.shutdown();
    });
}
