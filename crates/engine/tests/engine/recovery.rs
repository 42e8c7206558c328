//! The listener goes away while a runner works: the result is spooled and
//! reconciled, and nothing is lost.

use serde_json::json;
use stormdesk_engine::{Engine, RunRequest, Status};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_down_mid_run_result_is_spooled_and_reconciled_at_runner_exit() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let e = engine.run(gate(&fifo)).await.unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    // The listener stops; the engine's runner watcher stays.
    engine.shutdown();
    std::fs::write(&fifo, "late\n").unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["stdout"], json!("waiting\ndone-late"));
    let text: String = engine
        .output(&e.id, None)
        .await
        .unwrap()
        .iter()
        .map(|c| c.data.clone())
        .collect();
    assert_eq!(text, "waiting\ndone-late\n");
}

#[test]
fn engine_gone_mid_run_next_engine_reconciles_the_spool() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    // The first engine lives in its own runtime, which is then dropped whole:
    // listener, watchers and all, as when the app is killed.
    let first = tokio::runtime::Runtime::new().unwrap();
    let (id, runner_pid) = first.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        let e = engine.run(gate(&fifo)).await.unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        let running = engine.execution(&e.id).await.unwrap();
        let pid = running.context["runner_pid"].as_u64().unwrap() as i32;
        (e.id, pid)
    });
    first.shutdown_background();
    std::fs::write(&fifo, "after\n").unwrap();
    // The runner is our child: wait for it to spool and exit.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(runner_pid), None);
    assert!(fx.path("spool").join(format!("{id}.json")).is_file());

    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let engine = Engine::start(fx.options()).await.unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!("waiting\ndone-after"));
        let text: String = engine
            .output(&id, None)
            .await
            .unwrap()
            .iter()
            .map(|c| c.data.clone())
            .collect();
        assert_eq!(text, "waiting\ndone-after\n");
        assert!(!fx.path("spool").join(format!("{id}.json")).exists());
        engine.shutdown();
    });
}

#[test]
fn an_execution_whose_runner_vanished_without_a_trace_is_abandoned() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let first = tokio::runtime::Runtime::new().unwrap();
    let (id, runner_pid, child_pid) = first.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        let e = engine.run(gate(&fifo)).await.unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        let running = engine.execution(&e.id).await.unwrap();
        (
            e.id,
            running.context["runner_pid"].as_u64().unwrap() as i32,
            running.context["pid"].as_u64().unwrap() as i32,
        )
    });
    first.shutdown_background();
    // kill -9 of the runner and its action: nothing can report or spool.
    for pgid in [runner_pid, child_pid] {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(runner_pid), None);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let engine = Engine::start(fx.options()).await.unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Abandoned);
        assert!(done.result["error"].as_str().unwrap().contains("runner"));
        engine.shutdown();
    });
}

#[test]
fn secrets_stay_masked_in_output_reconciled_by_a_new_engine() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let secret = "restart-proof-secret";
    let first = tokio::runtime::Runtime::new().unwrap();
    let (id, runner_pid) = first.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        let e = engine
            .run(RunRequest {
                action: "t.secret_gate".into(),
                parameters: params(&[
                    ("fifo", json!(fifo.display().to_string())),
                    ("token", json!(secret)),
                ]),
                content_version: None,
                ..Default::default()
            })
            .await
            .unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        let running = engine.execution(&e.id).await.unwrap();
        (e.id, running.context["runner_pid"].as_u64().unwrap() as i32)
    });
    first.shutdown_background();
    std::fs::write(&fifo, "go\n").unwrap();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(runner_pid), None);
    let spooled = std::fs::read_to_string(fx.path("spool").join(format!("{id}.json"))).unwrap();
    assert!(!spooled.contains(secret));

    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let engine = Engine::start(fx.options()).await.unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(
            done.result["stdout"],
            json!("using ********\ndone ********")
        );
        let text: String = engine
            .output(&id, None)
            .await
            .unwrap()
            .iter()
            .map(|c| c.data.clone())
            .collect();
        assert!(!text.contains(secret), "{text}");
        engine.shutdown();
    });
}
