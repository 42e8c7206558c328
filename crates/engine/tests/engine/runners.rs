//! Runner processes serve one run after another: a workflow's tasks share a
//! few of them, each task still gets its own action process, and a cancel
//! or a crash touches only the run it belongs to.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map};
use stormdesk_engine::{
    Engine, EngineOptions, Event, ExecutionFilter, RunRequest, SortOrder, Status,
};

use crate::common::*;
use crate::scale::chain;

const TASKS: usize = 30;

/// Runs a chain of [`TASKS`] `true` tasks; the runner pids and the action
/// pids of its tasks.
async fn chain_pids(fx: &Fixture, opts: EngineOptions) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let dir = fx.packs.join("short");
    if !dir.exists() {
        chain::write_workflow_pack(&dir, "short", "chain", &chain::chain_definition(TASKS, ""));
    }
    let engine = Engine::start(opts).await.unwrap();
    let started = engine
        .run(RunRequest::new("short.chain", Map::new()))
        .await
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(300), engine.wait(&started.id))
        .await
        .expect("the chain completes")
        .unwrap();
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let children = engine
        .executions(ExecutionFilter {
            parent: Some(started.id.clone()),
            limit: Some(u32::MAX),
            order: SortOrder::Asc,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(children.len(), TASKS);
    let pid = |c: &stormdesk_engine::Execution, key: &str| {
        c.context[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{} has no {key}: {}", c.id, json!(c.context)))
    };
    let runners = children.iter().map(|c| pid(c, "runner_pid")).collect();
    let actions = children.iter().map(|c| pid(c, "pid")).collect();
    engine.shutdown();
    (runners, actions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chains_tasks_share_runner_processes_but_not_action_processes() {
    let fx = Fixture::new();
    let (runners, actions) = chain_pids(&fx, fx.options()).await;
    // The next task starts when the one before is reported, a moment before
    // its runner is free again: usually two runners take turns; a task that
    // finds none waiting starts one more (how often depends on the
    // machine's load), and the runners that are back serve the next tasks.
    assert!(
        runners.len() < TASKS,
        "{} runners for {TASKS} tasks: none served twice",
        runners.len()
    );
    assert_eq!(actions.len(), TASKS, "each task its own action process");

    // The baseline the benchmarks compare with: a runner process per run.
    let single = EngineOptions {
        single_use_runners: true,
        ..fx.options()
    };
    let (runners, actions) = chain_pids(&fx, single).await;
    assert_eq!(runners.len(), TASKS);
    assert_eq!(actions.len(), TASKS);
}

/// The gate action's run, started and waiting on its fifo.
async fn gated(engine: &Engine, fifo: &Path) -> (String, u32) {
    let mut rx = engine.subscribe();
    let e = engine.run(gate(fifo)).await.unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    let running = engine.execution(&e.id).await.unwrap();
    (e.id, running.context["runner_pid"].as_u64().unwrap() as u32)
}

async fn echo(engine: &Engine, msg: &str) -> stormdesk_engine::Execution {
    let e = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!(msg))]),
            ..Default::default()
        })
        .await
        .unwrap();
    finished(engine, &e.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_ends_the_run_and_its_runner_serves_the_next() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let engine = fx.engine().await;
    let (id, runner) = gated(&engine, &fifo).await;
    engine.cancel(&id).await.unwrap();
    let canceled = finished(&engine, &id).await;
    assert_eq!(canceled.status, Status::Canceled, "{}", canceled.result);
    assert!(
        !pid_gone(runner),
        "the runner outlives a cancel it honoured"
    );
    // The runner is handed back once it says it is done; the next run may
    // start a moment before that and take another one. Waiting runners take
    // turns (oldest first), so once it is back it serves one of the next few
    // runs.
    let mut seen = BTreeSet::new();
    for i in 0..20 {
        let done = echo(&engine, &format!("after-{i}")).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!(format!("after-{i}")));
        let pid = done.context["runner_pid"].as_u64().unwrap() as u32;
        seen.insert(pid);
        if pid == runner {
            break;
        }
    }
    assert!(seen.contains(&runner), "{runner} not reused: {seen:?}");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_run_fails_that_run_only() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let engine = fx.engine().await;
    // The runner has served a run before the one it dies in.
    let first = echo(&engine, "warm").await;
    assert_eq!(first.status, Status::Succeeded);
    let mut rx = engine.subscribe();
    let (id, runner) = gated(&engine, &fifo).await;
    // What it printed has reached the engine before the runner dies.
    if engine.output(&id, None).await.unwrap().is_empty() {
        wait_for(
            &mut rx,
            |e| matches!(e, Event::Output { output } if output.execution_id == id),
        )
        .await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let failed = finished(&engine, &id).await;
    assert_eq!(failed.status, Status::Failed, "{}", failed.result);
    let error = failed.result["error"].as_str().unwrap();
    assert!(error.contains("killed by signal 9"), "{error}");
    // The output it had streamed is in the result.
    assert_eq!(
        failed.result["stdout"],
        json!("waiting"),
        "{}",
        failed.result
    );
    assert_eq!(failed.result["stderr"], json!(""), "{}", failed.result);
    let next = echo(&engine, "next").await;
    assert_eq!(next.status, Status::Succeeded, "{}", next.result);
    assert_ne!(next.context["runner_pid"].as_u64(), Some(u64::from(runner)));
    engine.shutdown();
}

/// Runners left waiting after a burst of parallel runs are dismissed once
/// they have waited past the limit (the engine checks every 30 s, with a
/// minute's limit); runs go on with fresh runners afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_waiting_past_the_limit_are_dismissed() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut started = Vec::new();
    for i in 0..4 {
        started.push(
            engine
                .run(RunRequest {
                    action: "t.echo".into(),
                    parameters: params(&[("msg", json!(format!("burst-{i}")))]),
                    ..Default::default()
                })
                .await
                .unwrap(),
        );
    }
    for e in &started {
        assert_eq!(finished(&engine, &e.id).await.status, Status::Succeeded);
    }
    let (waiting, dismissed) = engine.trim_waiting_runners(Duration::from_secs(3600)).await;
    assert!(waiting >= 1, "no runner came back to the pool");
    assert_eq!(dismissed, 0);
    let (left, dismissed) = engine.trim_waiting_runners(Duration::ZERO).await;
    assert_eq!((left, dismissed), (0, waiting));
    let again = echo(&engine, "after").await;
    assert_eq!(again.status, Status::Succeeded, "{}", again.result);
    engine.shutdown();
}
