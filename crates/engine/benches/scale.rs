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
//! completed, and what a second and a third run of the same workflow in the
//! same engine add to that (what stays resident is bounded: the allocator's
//! free memory, reused, and the event bus's last events, not records or
//! results that pile up with every run).
//!
//! Runner processes serve one run after another; the baseline of the same
//! run is the engine with a runner process per run
//! (`EngineOptions::single_use_runners`), measured at the sizes in
//! `SCALE_BASELINE_N`, right after the serving engine at that size.
//!
//! `bench/workflow-scale.sh` builds the runner and runs this. Environment:
//! `SCALE_N` (default `100,1000,10000`), `SCALE_SHAPES` (default
//! `chain,items`), `SCALE_BASELINE_N` (default `1000`; empty for none),
//! `SCALE_JSON` (a file for the figures as JSON).

#[path = "support/chain.rs"]
mod support;

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
    let def = match shape {
        Shape::Chain => support::chain_definition(n, ""),
        Shape::Items => format!(
            "version: 1.0\ntasks:\n  each:\n    with:\n      items: <% range({n}) %>\n      concurrency: 8\n    action: examples.true\n"
        ),
    };
    support::write_workflow_pack(dir, "scale", "flow", &def);
}

/// CPU time (user + system) of this process and of its waited-for
/// descendants, from `/proc/self/stat` (fields 14 to 17, in clock ticks of
/// `CLK_TCK` = 100 on Linux). CPU time is what a task costs whatever else
/// runs on the machine; wall time on a busy machine is mostly waiting.
fn cpu() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the `(comm)` field, which may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    // `rest` starts at field 3 (state): utime is field 14, index 11.
    let tick = |t: u64| Duration::from_millis(t * 10);
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    (tick(get(11) + get(12)), tick(get(13) + get(14)))
}

/// CPU time of this process and its descendants together.
fn cpu_total() -> Duration {
    let (own, children) = cpu();
    own + children
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

/// N `SHELL -c true` launches in a shell loop: (wall time, CPU time of the
/// loop and every shell it started).
fn floor_of(shell: &str, n: usize) -> (Duration, Duration) {
    let cpu_start = cpu().1;
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
    (start.elapsed(), cpu().1 - cpu_start)
}

/// N bare `sh -c true`: the floor.
fn floor(n: usize) -> (Duration, Duration) {
    floor_of("sh", n)
}

/// One workflow run measured.
struct Measured {
    /// From the run request to the recorded completion.
    took: Duration,
    /// CPU time of the engine and every runner and action it started, until
    /// the last runner exited.
    cpu: Duration,
    /// Peak resident KB over the start.
    peak_kb: u64,
    /// KB resident after the run over the start.
    after_kb: i64,
    /// KB a second run of the same workflow in the same engine added.
    second_kb: i64,
    /// KB a third run added on top of the second.
    third_kb: i64,
}

/// Runs `scale.flow` to its recorded completion, which must be a success.
async fn run_flow(engine: &Engine) {
    let e = engine
        .run(RunRequest {
            action: "scale.flow".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = engine.wait(&e.id).await.unwrap();
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

fn run_workflow(
    rt: &tokio::runtime::Runtime,
    shape: Shape,
    n: usize,
    single_use_runners: bool,
) -> Measured {
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
            single_use_runners,
            ..Default::default()
        })
        .await
        .unwrap();
        // A warm-up run of the smallest workflow through the same engine
        // would change the store; a fresh engine per sample instead.
        let (before, _) = rss_kb();
        reset_peak();
        let cpu_start = cpu_total();
        let start = Instant::now();
        run_flow(&engine).await;
        let took = start.elapsed();
        let (_, peak) = rss_kb();
        // The runners are told to exit and waited for, so their CPU time
        // counts (a process's children count once they are reaped).
        engine.wait_for_runners(Duration::from_secs(10)).await;
        let cpu = cpu_total() - cpu_start;
        let (after, _) = rss_kb();
        // The same workflow again in the same engine: what the first run
        // left resident is the allocator's to reuse, not held by the engine,
        // when the later runs do not grow it.
        let mut resident = vec![after];
        for _ in 0..2 {
            run_flow(&engine).await;
            engine.wait_for_runners(Duration::from_secs(10)).await;
            resident.push(rss_kb().0);
        }
        engine.shutdown();
        Measured {
            took,
            cpu,
            peak_kb: peak.saturating_sub(before),
            after_kb: after as i64 - before as i64,
            second_kb: resident[1] as i64 - resident[0] as i64,
            third_kb: resident[2] as i64 - resident[1] as i64,
        }
    })
}

/// A shape, N, the workflow's figures, and the (wall, CPU) time of the `sh`
/// and the `bash` floors.
type Sample = (
    Shape,
    usize,
    Measured,
    (Duration, Duration),
    (Duration, Duration),
);

/// Per task, against each floor, and the growth from the shape's first N, of
/// the time `pick` takes from a sample: (the workflow's, `sh`'s, `bash`'s).
fn time_table(
    title: &str,
    samples: &[Sample],
    pick: impl Fn(
        &Measured,
        (Duration, Duration),
        (Duration, Duration),
    ) -> (Duration, Duration, Duration),
) {
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1000.0 / n as f64;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!("{title}");
    println!(
        "{:<6} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "shape", "N", "ms/task", "sh ms", "ratio", "bash ms", "ratio", "growth"
    );
    for (shape, n, m, sh, bash) in samples {
        let (first_n, first) = samples
            .iter()
            .find(|s| s.0 == *shape)
            .map(|s| (s.1, pick(&s.2, s.3, s.4).0))
            .expect("the shape's first sample");
        let (t, sh, bash) = pick(m, *sh, *bash);
        println!(
            "{:<6} {:>6} {:>9.3} {:>8.3} {:>7.2}x {:>8.3} {:>7.2}x {:>7.2}x",
            shape.name(),
            n,
            per(t, *n),
            per(sh, *n),
            ratio(t, sh),
            per(bash, *n),
            ratio(t, bash),
            per(t, *n) / per(first, first_n),
        );
    }
}

/// The mean of two (wall, CPU) floor samples.
fn mean(a: (Duration, Duration), b: (Duration, Duration)) -> (Duration, Duration) {
    ((a.0 + b.0) / 2, (a.1 + b.1) / 2)
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
    run_workflow(&rt, Shape::Chain, 20, false);
    floor(20);
    let baseline_sizes: Vec<usize> = std::env::var("SCALE_BASELINE_N")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut samples: Vec<Sample> = Vec::new();
    // (shape, N, serving, one runner per run), measured back to back.
    let mut baselines: Vec<(Shape, usize, Measured, Measured)> = Vec::new();
    for &shape in &shapes {
        for &n in &sizes {
            // Floors, engine, floors again: each floor is the mean of its
            // two, so a machine that got busier or quieter shows in both.
            let f1 = floor(n);
            let b1 = floor_of("bash", n);
            let m = run_workflow(&rt, shape, n, false);
            let b2 = floor_of("bash", n);
            if baseline_sizes.contains(&n) {
                let single = run_workflow(&rt, shape, n, true);
                let again = run_workflow(&rt, shape, n, false);
                eprintln!(
                    "{} n={} one runner per run {:.3} s (CPU {:.3} s), serving again {:.3} s (CPU {:.3} s)",
                    shape.name(),
                    n,
                    single.took.as_secs_f64(),
                    single.cpu.as_secs_f64(),
                    again.took.as_secs_f64(),
                    again.cpu.as_secs_f64()
                );
                baselines.push((shape, n, again, single));
            }
            let f2 = floor(n);
            eprintln!(
                "{} n={} engine {:.3} s (CPU {:.3} s) floor {:.3} s",
                shape.name(),
                n,
                m.took.as_secs_f64(),
                m.cpu.as_secs_f64(),
                mean(f1, f2).0.as_secs_f64()
            );
            samples.push((shape, n, m, mean(f1, f2), mean(b1, b2)));
        }
    }
    println!(
        "workflows of N `true` tasks, start to recorded completion, vs N `sh -c true` and N `bash -c true` in a shell loop"
    );
    time_table(
        "wall time (a sequential chain waits for each task; on a busy machine mostly waiting):",
        &samples,
        |m, sh, bash| (m.took, sh.0, bash.0),
    );
    time_table(
        "CPU time (engine, runners and actions; what a task costs whatever else runs):",
        &samples,
        |m, sh, bash| (m.cpu, sh.1, bash.1),
    );
    if !baselines.is_empty() {
        println!(
            "runner processes serving one run after another vs a runner process per run (back to back, same N):"
        );
        println!(
            "{:<6} {:>6} {:>12} {:>12} {:>7} {:>12} {:>12} {:>7}",
            "shape", "N", "wall ms/task", "per-run", "ratio", "CPU ms/task", "per-run", "ratio"
        );
        for (shape, n, serving, single) in &baselines {
            let per = |d: Duration| d.as_secs_f64() * 1000.0 / *n as f64;
            println!(
                "{:<6} {:>6} {:>12.3} {:>12.3} {:>6.2}x {:>12.3} {:>12.3} {:>6.2}x",
                shape.name(),
                n,
                per(serving.took),
                per(single.took),
                per(serving.took) / per(single.took),
                per(serving.cpu),
                per(single.cpu),
                per(serving.cpu) / per(single.cpu),
            );
        }
    }
    println!("memory (resident KB of the engine's process):");
    println!(
        "{:<6} {:>6} {:>13} {:>10} {:>11} {:>11}",
        "shape", "N", "peak KB/task", "kept KB", "2nd run KB", "3rd run KB"
    );
    for (shape, n, m, _, _) in &samples {
        println!(
            "{:<6} {:>6} {:>13.2} {:>10} {:>11} {:>11}",
            shape.name(),
            n,
            m.peak_kb as f64 / *n as f64,
            m.after_kb,
            m.second_kb,
            m.third_kb
        );
    }
    let json: Vec<_> = samples
        .iter()
        .map(|(shape, n, m, sh, bash)| {
            serde_json::json!({
                "shape": shape.name(),
                "n": n,
                "engine_s": m.took.as_secs_f64(),
                "engine_cpu_s": m.cpu.as_secs_f64(),
                "sh_s": sh.0.as_secs_f64(),
                "sh_cpu_s": sh.1.as_secs_f64(),
                "bash_s": bash.0.as_secs_f64(),
                "bash_cpu_s": bash.1.as_secs_f64(),
                "peak_kb": m.peak_kb,
                "after_kb": m.after_kb,
                "second_run_kb": m.second_kb,
                "third_run_kb": m.third_kb,
            })
        })
        .collect();
    let baseline_json: Vec<_> = baselines
        .iter()
        .map(|(shape, n, serving, single)| {
            serde_json::json!({
                "shape": shape.name(),
                "n": n,
                "serving_s": serving.took.as_secs_f64(),
                "serving_cpu_s": serving.cpu.as_secs_f64(),
                "single_use_s": single.took.as_secs_f64(),
                "single_use_cpu_s": single.cpu.as_secs_f64(),
            })
        })
        .collect();
    if let Ok(path) = std::env::var("SCALE_JSON") {
        let all = serde_json::json!({ "samples": json, "runner_baseline": baseline_json });
        std::fs::write(path, serde_json::to_vec_pretty(&all).unwrap()).unwrap();
    }
}
