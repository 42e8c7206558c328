//! Conductor throughput: median time per task for three workflow shapes
//! (sequential chain, fan-out into a `join: all`, with-items) at N = 10,
//! 100 and 1000, driven to completion with mocked successful results.
//! `bench/orquesta_conductor.py` runs the same shapes through Orquesta.
//!
//! Prints one line per shape and N; with `CONDUCTOR_BENCH_JSON=1` it also
//! prints one JSON object per line.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};
use serde_json::{json, Map, Value};
use stormdesk_workflow::{Conductor, NoKv, TaskResult, TaskStatus, WorkflowSpec, WorkflowStatus};

fn sequential(n: usize) -> String {
    let mut y = String::from("version: 1.0\ntasks:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  task{i}:\n    action: core.echo\n    input:\n      message: task{i}\n"
        ));
        if i + 1 < n {
            y.push_str(&format!(
                "    next:\n      - when: <% succeeded() %>\n        do: task{}\n",
                i + 1
            ));
        }
    }
    y
}

fn fan_out(n: usize) -> String {
    let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let mut y = format!(
        "version: 1.0\ntasks:\n  start:\n    action: core.echo\n    next:\n      - when: <% succeeded() %>\n        do: [{}]\n",
        names.join(", ")
    );
    for name in &names {
        y.push_str(&format!(
            "  {name}:\n    action: core.echo\n    input:\n      message: {name}\n    next:\n      - when: <% succeeded() %>\n        do: join\n"
        ));
    }
    y.push_str("  join:\n    join: all\n    action: core.echo\n");
    y
}

fn items(_n: usize) -> String {
    "version: 1.0\ninput:\n  - xs\ntasks:\n  task1:\n    with: <% ctx(xs) %>\n    action: core.echo\n    input:\n      message: <% item() %>\n".into()
}

/// CPU time of this thread, so that other processes on a shared machine do
/// not inflate the numbers; wall time where that clock is unavailable. The
/// Orquesta script uses `time.thread_time()`, the same clock.
enum Clock {
    Cpu(Duration),
    Wall(Instant),
}

fn thread_cpu() -> Option<Duration> {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

impl Clock {
    fn now() -> Clock {
        thread_cpu().map_or_else(|| Clock::Wall(Instant::now()), Clock::Cpu)
    }

    fn elapsed_us(&self) -> f64 {
        match self {
            Clock::Cpu(start) => thread_cpu().map_or(f64::NAN, |now| {
                now.saturating_sub(*start).as_secs_f64() * 1e6
            }),
            Clock::Wall(start) => start.elapsed().as_secs_f64() * 1e6,
        }
    }

    fn name() -> &'static str {
        if thread_cpu().is_some() {
            "thread CPU time"
        } else {
            "wall time"
        }
    }
}

/// Builds the workflow YAML for a size.
type Builder = fn(usize) -> String;

/// Run one workflow to completion; returns the number of task requests.
fn drive(spec: &WorkflowSpec, input: &Map<String, Value>) -> usize {
    let mut conductor = Conductor::new(spec.clone(), input.clone()).expect("valid workflow");
    let mut pending: VecDeque<_> = conductor.start(&NoKv).into();
    let mut tasks = 0;
    while let Some(request) = pending.pop_front() {
        tasks += 1;
        let result = TaskResult {
            key: request.key,
            status: TaskStatus::Succeeded,
            result: json!({"stdout": "ok"}),
        };
        pending.extend(conductor.on_task_result(result, &NoKv));
    }
    assert_eq!(conductor.status(), WorkflowStatus::Succeeded);
    black_box(conductor.result());
    tasks
}

fn main() {
    let emit_json = std::env::var("CONDUCTOR_BENCH_JSON").is_ok_and(|v| v == "1");
    let shapes: [(&str, Builder); 3] = [
        ("sequential", sequential),
        ("fanout", fan_out),
        ("items", items),
    ];
    // `CONDUCTOR_BENCH_N=10,100,5000` overrides the sizes.
    let sizes: Vec<usize> = std::env::var("CONDUCTOR_BENCH_N")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000]);
    eprintln!(
        "stormdesk-workflow conductor, measured in {}",
        Clock::name()
    );
    // `CONDUCTOR_BENCH_SHAPE=fanout` measures one shape (for profiling).
    let only = std::env::var("CONDUCTOR_BENCH_SHAPE").ok();
    for (shape, build) in shapes {
        if only.as_deref().is_some_and(|o| o != shape) {
            continue;
        }
        let cases: Vec<(usize, WorkflowSpec, Map<String, Value>)> = sizes
            .iter()
            .map(|&n| {
                let spec = WorkflowSpec::from_yaml(&build(n)).expect("spec");
                let mut input = Map::new();
                if shape == "items" {
                    input.insert("xs".into(), json!((0..n).collect::<Vec<_>>()));
                }
                (n, spec, input)
            })
            .collect();
        // Warm up and count the tasks of each size.
        let tasks: Vec<usize> = cases.iter().map(|(_, s, i)| drive(s, i)).collect();
        // Sizes are measured in interleaved rounds so that load from other
        // processes on a shared machine hits every size alike; each sample
        // repeats small workflows to last about a millisecond.
        let repeats: Vec<usize> = tasks.iter().map(|t| (400 / t).max(1)).collect();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        let started = Instant::now();
        while samples[0].len() < 5
            || (samples[0].len() < 300 && started.elapsed() < Duration::from_millis(1500))
        {
            for (k, (_, spec, input)) in cases.iter().enumerate() {
                let t = Clock::now();
                for _ in 0..repeats[k] {
                    drive(spec, input);
                }
                let per_task = t.elapsed_us() / (tasks[k] * repeats[k]) as f64;
                samples[k].push(per_task);
            }
        }
        for (k, (n, _, _)) in cases.iter().enumerate() {
            let runs = &mut samples[k];
            runs.sort_by(|a, b| a.total_cmp(b));
            let median = runs[runs.len() / 2];
            let (n, tasks) = (*n, tasks[k]);
            println!(
                "{shape:<10} n={n:<5} tasks={tasks:<5} samples={:<4} median {median:.3} us/task",
                runs.len()
            );
            if emit_json {
                println!(
                    "{}",
                    json!({"impl": "stormdesk", "shape": shape, "n": n, "tasks": tasks,
                           "samples": runs.len(), "us_per_task": median})
                );
            }
        }
    }
}
