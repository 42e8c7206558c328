//! Runs from request to recorded completion, with real runner processes.

use serde_json::json;
use stormdesk_engine::{Event, ExecutionFilter, RunRequest, Status};

use crate::common::*;

fn req(action: &str, p: serde_json::Map<String, serde_json::Value>) -> RunRequest {
    RunRequest {
        action: action.into(),
        parameters: p,
        content_version: None,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_action_runs_and_everything_is_recorded() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let e = engine
        .run(req("t.echo", params(&[("msg", json!("hello there"))])))
        .await
        .unwrap();
    assert_eq!(e.status, Status::Scheduled);
    assert_eq!(e.runner_name(), "local-shell-cmd");
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(
        done.result,
        json!({"succeeded": true, "failed": false, "return_code": 0, "stdout": "hello there", "stderr": ""})
    );
    assert_eq!(done.parameters["msg"], json!("hello there"));
    assert!(done.end_timestamp.is_some());
    assert!(done.elapsed_seconds.unwrap() >= 0.0);
    let statuses: Vec<Status> = done.log.iter().map(|l| l.status).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Requested,
            Status::Scheduled,
            Status::Running,
            Status::Succeeded
        ]
    );
    // Live output came through the bus, and the store has it in order.
    let ev = wait_for(
        &mut rx,
        |e| matches!(e, Event::Output { output } if output.execution_id == done.id),
    )
    .await;
    let Event::Output { output } = ev else {
        unreachable!()
    };
    assert_eq!(output.output_type, "stdout");
    assert_eq!(output.action_ref, "t.echo");
    let out = engine.output(&done.id, None).await.unwrap();
    let text: String = out.iter().map(|c| c.data.as_str()).collect();
    assert_eq!(text, "hello there\n");
    assert!(out.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    // The record is in the SQLite file, readable by another process.
    let store = stormdesk_engine::store::Store::open_read_only(&fx.path("stormdesk.db")).unwrap();
    assert_eq!(
        store.execution(&done.id).unwrap().unwrap().status,
        Status::Succeeded
    );
    let listed = engine
        .executions(ExecutionFilter {
            action: Some("t.echo".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_is_failed_with_return_code() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let e = engine
        .run(req(
            "t.echo",
            params(&[("msg", json!("x\"; exit 3; echo \""))]),
        ))
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Failed);
    assert_eq!(done.result["return_code"], json!(3));
    assert_eq!(done.result["failed"], json!(true));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_gives_status_timeout() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let e = engine.run(req("t.slow", params(&[]))).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Timeout, "{:?}", done.result);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_kills_the_whole_process_tree() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let pidfile = fx.path("tree.pids");
    let e = engine
        .run(req(
            "t.tree",
            params(&[("pidfile", json!(pidfile.display().to_string()))]),
        ))
        .await
        .unwrap();
    wait_for(&mut rx, |ev| {
        matches!(ev, Event::Output { output } if output.execution_id == e.id && output.data.contains("started"))
    })
    .await;
    let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| !pid_gone(*p)));
    let canceling = engine.cancel(&e.id).await.unwrap();
    assert_eq!(canceling.status, Status::Canceling);
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled);
    for pid in pids {
        assert!(pid_gone(pid), "process {pid} survived the cancel");
    }
    // Canceling again is a clear conflict, not a crash.
    let err = engine.cancel(&e.id).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_store_output_or_result() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let secret = "hunter2-very-secret";
    let e = engine
        .run(req("t.secret", params(&[("token", json!(secret))])))
        .await
        .unwrap();
    assert_eq!(e.parameters["token"], json!("********"));
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.result["stdout"], json!("token is ********"));
    assert_eq!(done.result["stderr"], json!("err ********"));
    let out: String = engine
        .output(&e.id, None)
        .await
        .unwrap()
        .iter()
        .map(|c| c.data.clone())
        .collect();
    assert!(!out.contains(secret));
    engine.shutdown();
    // Nothing in the database files holds it in clear.
    for entry in std::fs::read_dir(fx.home.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("stormdesk.db") {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} holds the secret"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_megabyte_parameter_reaches_a_python_action() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let data = "a".repeat(50 * 1024 * 1024);
    let e = engine
        .run(req("t.big", params(&[("data", json!(data))])))
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["result"]["length"], json!(50 * 1024 * 1024));
    assert_eq!(done.result["exit_code"], json!(0));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_crashes_fails_the_execution_with_the_reason() {
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.runner_bin = Some("/bin/sh".into());
    opts.runner_args = vec!["-c".into(), "echo runner blew up >&2; exit 7".into()];
    let engine = stormdesk_engine::Engine::start(opts).await.unwrap();
    let e = engine
        .run(req("t.echo", params(&[("msg", json!("hi"))])))
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Failed);
    let error = done.result["error"].as_str().unwrap();
    assert!(error.contains("exited with code 7"), "{error}");
    assert!(done.result["runner_stderr"]
        .as_str()
        .unwrap()
        .contains("runner blew up"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_runner_binary_is_a_clear_error_and_recorded() {
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.runner_bin = Some(fx.path("no-such-runner"));
    let engine = stormdesk_engine::Engine::start(opts).await.unwrap();
    let err = engine
        .run(req("t.echo", params(&[("msg", json!("hi"))])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-runner"), "{err}");
    let listed = engine.executions(ExecutionFilter::default()).await.unwrap();
    assert_eq!(listed[0].status, Status::Failed);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_run_reuses_parameters_with_overrides() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let e = engine
        .run(req("t.echo", params(&[("msg", json!("first"))])))
        .await
        .unwrap();
    finished(&engine, &e.id).await;
    let again = engine.re_run(&e.id, params(&[]), None).await.unwrap();
    assert_eq!(
        finished(&engine, &again.id).await.result["stdout"],
        json!("first")
    );
    let changed = engine
        .re_run(&e.id, params(&[("msg", json!("second"))]), None)
        .await
        .unwrap();
    assert_eq!(
        finished(&engine, &changed.id).await.result["stdout"],
        json!("second")
    );
    engine.shutdown();
}

/// A parameter that held a secret was stored masked: a re-run never runs
/// the mask (a shell would expand `********` into file names), it asks for
/// the value again, naming the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_run_asks_again_for_parameters_that_held_secrets() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let set = stormdesk_engine::keys::KeySet {
        secret: true,
        ..stormdesk_engine::keys::KeySet::new(
            stormdesk_engine::keys::KeyScope::System,
            "vault",
            "rerun-vault-33",
        )
    };
    engine.key_set(set).await.unwrap();
    // A whole secret parameter, and a command that decrypted a secret inside it.
    let secret = engine
        .run(req(
            "t.secret",
            params(&[("token", json!("rerun-token-44"))]),
        ))
        .await
        .unwrap();
    let partly = engine
        .run(req(
            "core.local",
            params(&[(
                "cmd",
                json!("echo in {{ st2kv.system.vault | decrypt_kv }}"),
            )]),
        ))
        .await
        .unwrap();
    for (id, name) in [(&secret.id, "token"), (&partly.id, "cmd")] {
        let done = finished(&engine, id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        let err = engine
            .re_run(id, params(&[]), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("parameter '{name}'")) && err.contains("give it again"),
            "{err}"
        );
    }
    // Given again, it runs.
    let again = engine
        .re_run(&partly.id, params(&[("cmd", json!("echo again"))]), None)
        .await
        .unwrap();
    assert_eq!(
        finished(&engine, &again.id).await.result["stdout"],
        json!("again")
    );
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prewarmed_runners_serve_consecutive_and_concurrent_runs() {
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.prewarm = true;
    let engine = stormdesk_engine::Engine::start(opts).await.unwrap();
    for i in 0..3 {
        let e = engine
            .run(req("t.echo", params(&[("msg", json!(format!("run {i}")))])))
            .await
            .unwrap();
        assert_eq!(
            finished(&engine, &e.id).await.result["stdout"],
            json!(format!("run {i}"))
        );
    }
    let mut ids = Vec::new();
    for i in 0..5 {
        let e = engine
            .run(req(
                "t.echo",
                params(&[("msg", json!(format!("together {i}")))]),
            ))
            .await
            .unwrap();
        ids.push((i, e.id));
    }
    for (i, id) in ids {
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded);
        assert_eq!(done.result["stdout"], json!(format!("together {i}")));
    }
    engine.shutdown();
}

/// Two engines on the same data (a `stormdesk run` of its own beside
/// `stormdesk serve`): the one that does not run an execution says so when
/// asked to cancel or pause it, and names where it can be controlled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_does_not_run_an_execution_says_where_it_runs() {
    let fx = Fixture::new();
    // `serve` first (an engine started later would adopt the run as left
    // over), then the `stormdesk run` that owns the execution.
    let other = fx.engine().await;
    let owner = fx.engine().await;
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let mut rx = owner.subscribe();
    let e = owner
        .run(RunRequest::new(
            "t.gate",
            params(&[("fifo", json!(fifo.to_str().unwrap()))]),
        ))
        .await
        .unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    let err = other.cancel(&e.id).await.unwrap_err();
    let said = err.to_string();
    assert!(
        matches!(err, stormdesk_engine::EngineError::NotHere { .. }),
        "{said}"
    );
    assert!(said.contains("in another process"), "{said}");
    assert!(said.contains("canceled there"), "{said}");
    // The owner still runs it, and cancels it.
    assert_eq!(owner.cancel(&e.id).await.unwrap().status, Status::Canceling);
    assert_eq!(finished(&owner, &e.id).await.status, Status::Canceled);
    // Once completed, the other engine says it is completed.
    let err = other.cancel(&e.id).await.unwrap_err().to_string();
    assert!(
        err.contains("is canceled, so it cannot be canceled"),
        "{err}"
    );
}
