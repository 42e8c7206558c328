//! Action launch overhead: an in-process engine running `examples.true`
//! (a `local-shell-cmd` of `true`), measured from the run request to the
//! recorded completion, against a bare `sh -c true` spawn in the same run.
//!
//! `cargo bench -p stormdesk-engine --bench launch` (after
//! `cargo build --release -p stormdesk-runner`); `bench/launch.sh` does both.
//! Set `LAUNCH_RUNS` to change the sample size (default 300), `LAUNCH_PREWARM=0`
//! to measure without a pre-started runner process, `LAUNCH_SINGLE_USE=1`
//! for a runner process per run (instead of runners serving one run after
//! another). Before each baseline sample the engine's background work is
//! let finish (the runner back in the pool, the next pre-started one up, a
//! single-use runner gone), so it never falls into the baseline. Results:
//! `bench/out/launch-prewarm.json`, `launch-cold.json`, `launch-single-use.json`.
//! This is the in-process engine; `bench/launch.sh` also measures a run
//! through `stormdesk serve`'s HTTP API (`bench/launch_serve.py`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stormdesk_engine::{Engine, EngineOptions, Event, RunRequest, Status};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: f64) -> Duration {
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let runs: usize = std::env::var("LAUNCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let runner = stormdesk_engine::default_runner_bin();
    let runner_path = runner.canonicalize().unwrap_or_else(|_| runner.clone());
    assert!(
        runner.is_file(),
        "build the runner first: cargo build --release -p stormdesk-runner ({})",
        runner.display()
    );
    let prewarm = std::env::var("LAUNCH_PREWARM")
        .map(|v| v != "0")
        .unwrap_or(true);
    let single_use = std::env::var("LAUNCH_SINGLE_USE").is_ok_and(|v| v == "1");
    let home = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt.block_on(async {
        Engine::start(EngineOptions {
            home: Some(home.path().to_path_buf()),
            runner_bin: Some(runner),
            prewarm,
            single_use_runners: single_use,
            ..Default::default()
        })
        .await
        .unwrap()
    });

    // Total, and the phases: request -> scheduled (run() returned),
    // -> running (the runner's first report), -> completed.
    let run_once = || {
        rt.block_on(async {
            let mut events = engine.subscribe();
            let start = Instant::now();
            let e = engine
                .run(RunRequest {
                    action: "examples.true".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let scheduled = start.elapsed();
            let mut running = scheduled;
            loop {
                let ev = events.recv().await.unwrap();
                if let Event::Execution { execution, .. } = ev.event {
                    if execution.id != e.id {
                        continue;
                    }
                    if execution.status == Status::Running {
                        running = start.elapsed();
                    }
                    if execution.status.is_completed() {
                        assert_eq!(execution.status, Status::Succeeded, "{}", execution.result);
                        return [start.elapsed(), scheduled, running];
                    }
                }
            }
        })
    };
    let bare_once = || {
        let start = Instant::now();
        let status = Command::new("sh")
            .args(["-c", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        start.elapsed()
    };

    for _ in 0..20 {
        run_once();
        bare_once();
    }
    let want = steady(&runner_path);
    // Interleaved, so both see the same machine state.
    let mut engine_times = Vec::with_capacity(runs);
    let mut to_scheduled = Vec::with_capacity(runs);
    let mut to_running = Vec::with_capacity(runs);
    let mut bare_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let [total, scheduled, running] = run_once();
        engine_times.push(total);
        to_scheduled.push(scheduled);
        to_running.push(running);
        // The engine's background work after a run (the next pre-started
        // runner, the last runner's exit) must not fall into the baseline.
        settle(&runner_path, want);
        bare_times.push(bare_once());
    }
    let (em, bm) = (median(&mut engine_times), median(&mut bare_times));
    let ratio = em.as_secs_f64() / bm.as_secs_f64();
    println!(
        "launch overhead ({runs} runs each, interleaved, prewarm {prewarm}, single-use runners {single_use})"
    );
    println!(
        "  engine run examples.true -> recorded completion: median {:.3} ms  p90 {:.3} ms",
        ms(em),
        ms(pct(&engine_times, 0.9))
    );
    println!(
        "  bare sh -c true spawn+wait:                      median {:.3} ms  p90 {:.3} ms",
        ms(bm),
        ms(pct(&bare_times, 0.9))
    );
    println!("  ratio engine/bare (median): {ratio:.2}x");
    println!(
        "  phases (median from the request): scheduled {:.3} ms, running reported {:.3} ms, completed {:.3} ms",
        ms(median(&mut to_scheduled)),
        ms(median(&mut to_running)),
        ms(em)
    );
    let out = serde_json::json!({
        "runs": runs,
        "prewarm": prewarm,
        "single_use_runners": single_use,
        "engine_median_ms": ms(em),
        "engine_p90_ms": ms(pct(&engine_times, 0.9)),
        "bare_median_ms": ms(bm),
        "bare_p90_ms": ms(pct(&bare_times, 0.9)),
        "ratio": ratio,
        "scheduled_median_ms": ms(median(&mut to_scheduled)),
        "running_median_ms": ms(median(&mut to_running)),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/out");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join(match (single_use, prewarm) {
            (true, _) => "launch-single-use.json",
            (false, true) => "launch-prewarm.json",
            (false, false) => "launch-cold.json",
        }),
        serde_json::to_vec_pretty(&out).unwrap(),
    );
    engine.shutdown();
}

/// The runner processes this process has started that are still alive.
fn live_runners(runner: &std::path::Path) -> usize {
    let mut n = 0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(true);
            if !zombie && exe.is_ok_and(|e| e == runner) {
                n += 1;
            }
        }
    }
    n
}

/// The number of runner processes once the engine's background work after a
/// run is done: the same count for 100 ms (at most 2 s). Serving runners go
/// back to the pool a moment after the completion is recorded, so runs back
/// to back keep a pre-started one, the last run's and the one before it.
fn steady(runner: &std::path::Path) -> usize {
    let until = Instant::now() + Duration::from_secs(2);
    let mut last = live_runners(runner);
    let mut since = Instant::now();
    while Instant::now() < until && since.elapsed() < Duration::from_millis(100) {
        std::thread::sleep(Duration::from_millis(1));
        let now = live_runners(runner);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    last
}

/// Waits (at most 1 s) until `want` runners are alive: those waiting for the
/// next run, none starting or exiting.
fn settle(runner: &std::path::Path, want: usize) {
    let until = Instant::now() + Duration::from_secs(1);
    while live_runners(runner) != want && Instant::now() < until {
        std::thread::sleep(Duration::from_micros(200));
    }
}
