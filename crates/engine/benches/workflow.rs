//! Workflow completion, push vs poll: a sequential workflow of N `true`
//! actions (default 100), completed by push (each child's final report
//! advances the workflow at once) and by a tracker polling the store every
//! 1 s and every 100 ms (StackStorm's pre-2.7 model), in the same run.
//!
//! `bench/workflow.sh` builds the runner and runs this. `WF_TASKS` changes N,
//! `WF_PUSH_RUNS` the number of push samples (median reported).

#[path = "support/chain.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use stormdesk_engine::workflow::CompletionMode;
use stormdesk_engine::{Engine, EngineOptions, RunRequest, Status};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_pack(dir: &Path, tasks: usize) {
    support::write_workflow_pack(
        dir,
        "wfbench",
        "chain",
        &support::chain_definition(tasks, ""),
    );
}

fn measure(
    rt: &tokio::runtime::Runtime,
    pack: &Path,
    mode: CompletionMode,
    runs: usize,
) -> Vec<Duration> {
    let home = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let engine = Engine::start(EngineOptions {
            home: Some(home.path().to_path_buf()),
            pack_dirs: vec![pack.to_path_buf()],
            runner_bin: Some(stormdesk_engine::default_runner_bin()),
            prewarm: true,
            completion: mode,
            ..Default::default()
        })
        .await
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let e = engine
                .run(RunRequest {
                    action: "wfbench.chain".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let done = engine.wait(&e.id).await.unwrap();
            out.push(start.elapsed());
            assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        }
        engine.shutdown();
        out
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let tasks = env("WF_TASKS", 100);
    let push_runs = env("WF_PUSH_RUNS", 5);
    let runner = stormdesk_engine::default_runner_bin();
    assert!(
        runner.is_file(),
        "build the runner first: {}",
        runner.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("wfbench");
    write_pack(&pack, tasks);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Warm-up: caches, the runner binary, the page cache.
    measure(&rt, &pack, CompletionMode::Push, 1);
    let push = median(measure(&rt, &pack, CompletionMode::Push, push_runs));
    let poll_100ms = median(measure(
        &rt,
        &pack,
        CompletionMode::Poll(Duration::from_millis(100)),
        1,
    ));
    let poll_1s = median(measure(
        &rt,
        &pack,
        CompletionMode::Poll(Duration::from_secs(1)),
        1,
    ));
    let s = |d: Duration| d.as_secs_f64();
    println!("sequential workflow of {tasks} `true` actions, start to recorded completion");
    println!(
        "push                     {:>9.3} s  ({:.2} ms per task)",
        s(push),
        s(push) * 1000.0 / tasks as f64
    );
    println!(
        "poll every 100 ms        {:>9.3} s  = {:.1}x push",
        s(poll_100ms),
        s(poll_100ms) / s(push)
    );
    println!(
        "poll every 1 s           {:>9.3} s  = {:.1}x push",
        s(poll_1s),
        s(poll_1s) / s(push)
    );
}
