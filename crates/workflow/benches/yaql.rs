//! YAQL evaluation speed against the reference: the differential table
//! (`tests/workflow/yaql_cases.txt`) evaluated as workflow fields, by
//! Stormdesk and by Orquesta's evaluator over `yaql` in the reference venv
//! (`scripts/pyvenv.sh`), both in thread CPU time, in the same run.
//! Both sides evaluate as their product does: Orquesta parses every time,
//! Stormdesk caches parsed expressions.
//!
//! Prints the median time per case of each and their ratio.

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::time::{clock_gettime, ClockId};
use serde_json::{json, Map, Value};
use stormdesk_workflow::expr::yaql::evaluate_text;
use stormdesk_workflow::expr::{CurrentTask, NoTasks, Scope};
use stormdesk_workflow::NoKv;

const REFERENCE: &[&str] = &["orquesta==1.2.0", "yaql==3.1.0", "setuptools==84.2.1"];
const ROUNDS: usize = 15;

fn thread_cpu() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .expect("thread CPU clock")
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/workflow");
    let text = std::fs::read_to_string(dir.join("yaql_cases.txt")).expect("yaql_cases.txt");
    let (mut ctx, mut result, mut cases) = (Value::Null, Value::Null, Vec::new());
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(j) = line.strip_prefix("@ctx ") {
            ctx = sorted(&serde_json::from_str(j).expect("ctx"));
        } else if let Some(j) = line.strip_prefix("@result ") {
            result = sorted(&serde_json::from_str(j).expect("result"));
        } else if line.contains("<%") {
            cases.push(line.to_string());
        } else {
            cases.push(format!("<% {line} %>"));
        }
    }
    let ctx_map: Map<String, Value> = ctx.as_object().cloned().expect("ctx object");
    let scope = Scope {
        ctx: &ctx_map,
        task: Some(CurrentTask {
            name: "task1",
            route: 0,
        }),
        result: Some(&result),
        item: None,
        statuses: &NoTasks,
        env: &NoKv,
    };
    let mut ours = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = thread_cpu();
        for case in &cases {
            let _ = black_box(evaluate_text(black_box(case), &scope));
        }
        ours.push((thread_cpu() - start).as_secs_f64() * 1e6 / cases.len() as f64);
    }
    ours.sort_by(f64::total_cmp);
    let ours = ours[ROUNDS / 2];
    eprintln!("yaql table, {} cases, thread CPU time", cases.len());
    println!("stormdesk  median {ours:.2} us/case");

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = Command::new("bash")
        .arg(root.join("scripts/pyvenv.sh"))
        .arg("yaql-orquesta")
        .args(REFERENCE)
        .stderr(Stdio::null())
        .output();
    let Some(python) = venv
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
    else {
        println!("reference  unavailable (scripts/pyvenv.sh could not make the venv)");
        return;
    };
    let mut child = Command::new(python.trim())
        .arg(dir.join("yaql_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reference");
    let request = json!({"ctx": ctx, "result": result, "cases": cases, "time": ROUNDS});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("reference");
    let theirs: f64 = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["median_us_per_case"].as_f64())
        .expect("reference timing");
    println!("reference  median {theirs:.2} us/case (Orquesta 1.2.0 + yaql 3.1.0)");
    println!("ratio      reference / stormdesk = {:.1}x", theirs / ours);
}
