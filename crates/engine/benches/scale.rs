//! Workflows at scale: a sequential chain and a with-items task
//! (concurrency 8) of N `true` actions (`examples.true`, a
//! `local-shell-cmd`), run by an in-process engine from the request to the
//! recorded completion, each against N bare `sh -c true` launches in a shell
//! loop measured in the same run. A second floor, N `bash -c true`, is what
//! each task itself runs: a `local-shell-cmd` command goes through bash, as
//! in StackStorm (`local_shell.rs`), so no engine can go below it.
//!
//! Reports the time per task, its growth from the smallest N to the largest,
//! the ratio to the floor, and the engine's memory: the peak resident size
//! during the run over the size before it (`VmHWM` after resetting it through
//! `/proc/self/clear_refs`), what is still resident once the workflow
//! completed, and what a second run of the same workflow in the same engine
//! adds to that (none: what stays resident is the allocator's free memory,
//! reused, not records or results the engine holds).
//!
//! `bench/workflow-scale.sh` builds the runner and runs this. Environment:
//! `SCALE_N` (default `100,1000,10000`), `SCALE_SHAPES` (default
//! `chain,items`), `SCALE_JSON` (a file for the figures as JSON).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use stormdesk_engine::{Engine, EngineOptions, RunRequest, Status};

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Chain,
    Items,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Items => "items",
        }
    }
}

fn write_pack(dir: &Path, shape: Shape, n: usize) {
    std::fs::create_dir_all(dir.join("actions/workflows")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: scale\nname: scale\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/flow.yaml"),
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n",
    )
    .unwrap();
    let def = match shape {
        Shape::Chain => {
            let mut def = String::with_capacity(n * 80);
            def.push_str("version: 1.0\ntasks:\n");
            for i in 0..n {
                def.push_str(&format!("  t{i}:\n    action: examples.true\n"));
                if i + 1 < n {
                    def.push_str(&format!(
                        "    next:\n      - when: <% succeeded() %>\n        do: t{}\n",
                        i + 1
                    ));
                }
            }
            def
        }
        Shape::Items => format!(
            "version: 1.0\ntasks:\n  each:\n    with:\n      items: <% range({n}) %>\n      concurrency: 8\n    action: examples.true\n"
        ),
    };
    std::fs::write(dir.join("actions/workflows/flow.yaml"), def).unwrap();
}

/// (current resident KB, peak resident KB) of this process.
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak resident size to the current one (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Sample {
    shape: Shape,
    n: usize,
    engine: Duration,
    floor: Duration,
    /// N `bash -c true`: the task's own process.
    bash: Duration,
    peak_kb: u64,
    after_kb: i64,
    /// What a second run of the same workflow in the same engine added.
    second_kb: i64,
}

/// N `SHELL -c true` launches in a shell loop.
fn floor_of(shell: &str, n: usize) -> Duration {
    let start = Instant::now();
    let status = Command::new("sh")
        .args([
            "-c",
            "i=0; while [ $i -lt $1 ]; do $2 -c true; i=$((i+1)); done",
            "sh",
            &n.to_string(),
            shell,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed()
}

/// N bare `sh -c true`: the floor.
fn floor(n: usize) -> Duration {
    floor_of("sh", n)
}

/// (time of the first run, its peak KB over the start, KB resident after it
/// over the start, KB a second run of the same workflow added).
fn run_workflow(rt: &tokio::runtime::Runtime, shape: Shape, n: usize) -> (Duration, u64, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("scale");
    write_pack(&pack, shape, n);
    let home = tempfile::tempdir().unwrap();
    // `SCALE_HOME` keeps the store for a look afterwards.
    let home_dir = std::env::var_os("SCALE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| home.path().to_path_buf());
    rt.block_on(async {
        let engine = Engine::start(EngineOptions {
            home: Some(home_dir),
            pack_dirs: vec![pack.clone()],
            runner_bin: Some(stormdesk_engine::default_runner_bin()),
            // As `stormdesk run` starts it (no Python environment built
            // ahead); workflows keep their own runners warm.
            prewarm: false,
            max_live_per_root: Some(n + 10),
            ..Default::default()
        })
        .await
        .unwrap();
        // A warm-up run of the smallest workflow through the same engine
        // would change the store; a fresh engine per sample instead.
        let (before, _) = rss_kb();
        reset_peak();
        let start = Instant::now();
        let e = engine
            .run(RunRequest {
                action: "scale.flow".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let done = engine.wait(&e.id).await.unwrap();
        let took = start.elapsed();
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        let (_, peak) = rss_kb();
        // Give background work (runner exits, the writer) a moment to settle.
        engine.wait_for_runners(Duration::from_secs(10)).await;
        let (after, _) = rss_kb();
        // The same workflow again in the same engine: what the first run
        // left resident is the allocator's to reuse, not held by the engine,
        // when the second run does not grow it.
        let again = engine
            .run(RunRequest {
                action: "scale.flow".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let again = engine.wait(&again.id).await.unwrap();
        assert_eq!(again.status, Status::Succeeded, "{}", again.result);
        engine.wait_for_runners(Duration::from_secs(10)).await;
        let (second, _) = rss_kb();
        engine.shutdown();
        (
            took,
            peak.saturating_sub(before),
            after as i64 - before as i64,
            second as i64 - after as i64,
        )
    })
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SCALE_N")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let shapes: Vec<Shape> = std::env::var("SCALE_SHAPES")
        .unwrap_or_else(|_| "chain,items".into())
        .split(',')
        .filter_map(|s| match s.trim() {
            "chain" => Some(Shape::Chain),
            "items" => Some(Shape::Items),
            _ => None,
        })
        .collect();
    let runner = stormdesk_engine::default_runner_bin();
    assert!(
        runner.is_file(),
        "build the runner first: cargo build --release -p stormdesk-runner ({})",
        runner.display()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Warm-up: the runner binary and the page cache.
    run_workflow(&rt, Shape::Chain, 20);
    floor(20);
    let mut samples = Vec::new();
    for &shape in &shapes {
        for &n in &sizes {
            // Floor, engine, floor again: the floor is the mean of the two,
            // so a machine that got busier or quieter shows in both.
            let f1 = floor(n);
            let b1 = floor_of("bash", n);
            let (engine, peak_kb, after_kb, second_kb) = run_workflow(&rt, shape, n);
            let b2 = floor_of("bash", n);
            let f2 = floor(n);
            let s = Sample {
                shape,
                n,
                engine,
                floor: (f1 + f2) / 2,
                bash: (b1 + b2) / 2,
                peak_kb,
                after_kb,
                second_kb,
            };
            eprintln!(
                "{} n={} engine {:.3} s floor {:.3} s",
                shape.name(),
                n,
                engine.as_secs_f64(),
                s.floor.as_secs_f64()
            );
            samples.push(s);
        }
    }
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1000.0 / n as f64;
    println!(
        "workflows of N `true` tasks, start to recorded completion, vs N `sh -c true` in a shell loop"
    );
    println!(
        "{:<6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10} {:>10}",
        "shape",
        "N",
        "ms/task",
        "sh ms",
        "ratio",
        "bash ms",
        "ratio",
        "growth",
        "peak KB/task",
        "kept KB",
        "2nd run KB"
    );
    let mut json = Vec::new();
    for s in &samples {
        let first = samples
            .iter()
            .find(|f| f.shape == s.shape)
            .expect("the shape's first sample");
        let growth = per(s.engine, s.n) / per(first.engine, first.n);
        let ratio = s.engine.as_secs_f64() / s.floor.as_secs_f64();
        let bash_ratio = s.engine.as_secs_f64() / s.bash.as_secs_f64();
        println!(
            "{:<6} {:>6} {:>8.3} {:>8.3} {:>7.2}x {:>8.3} {:>7.2}x {:>7.2}x {:>12.2} {:>10} {:>10}",
            s.shape.name(),
            s.n,
            per(s.engine, s.n),
            per(s.floor, s.n),
            ratio,
            per(s.bash, s.n),
            bash_ratio,
            growth,
            s.peak_kb as f64 / s.n as f64,
            s.after_kb,
            s.second_kb
        );
        json.push(serde_json::json!({
            "shape": s.shape.name(),
            "n": s.n,
            "engine_s": s.engine.as_secs_f64(),
            "floor_s": s.floor.as_secs_f64(),
            "ms_per_task": per(s.engine, s.n),
            "floor_ms_per_task": per(s.floor, s.n),
            "ratio": ratio,
            "bash_s": s.bash.as_secs_f64(),
            "bash_ratio": bash_ratio,
            "growth": growth,
            "peak_kb": s.peak_kb,
            "peak_kb_per_task": s.peak_kb as f64 / s.n as f64,
            "after_kb": s.after_kb,
            "second_run_kb": s.second_kb,
        }));
    }
    if let Ok(path) = std::env::var("SCALE_JSON") {
        std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    }
}
