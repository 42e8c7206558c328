//! Render throughput against Jinja2 in the same run: each template is
//! compiled and rendered per call, as StackStorm's `render_values` does
//! (`env.from_string(v).render(ctx)`), with the reference environment of
//! `tests/jinja/reference.py` (Jinja2 2.11.3 and StackStorm's filters in a
//! venv made by `scripts/pyvenv.sh`). Prints the median time per render of
//! each side and the ratio.
//!
//! Run: `cargo bench -p stormdesk-jinja`.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};
use stormdesk_jinja::{environment, render_str, Options};

const ROUNDS: usize = 15;
const PER_ROUND: usize = 200;

fn templates() -> Vec<(&'static str, &'static str, Value)> {
    let people =
        json!({"obj": {"people": [{"first": "James"}, {"first": "Jacob"}, {"first": "Jayden"}]}});
    vec![
        (
            "param",
            "echo \"{{ message }}\"",
            json!({"message": "hello"}),
        ),
        (
            "split",
            "{{ names_csv.split(',') }}",
            json!({"names_csv": "red,green,blue"}),
        ),
        (
            "json",
            "{{ k1 | to_json_string }}",
            json!({"k1": {"a": [1, 2, {"b": null}], "c": "d"}}),
        ),
        (
            "yaml",
            "{{ k1 | to_yaml_string }}",
            json!({"k1": {"a": [1, 2, {"b": null}], "c": "d"}}),
        ),
        (
            "regex",
            "{{ k1 | regex_replace('(\\\\w+)@(\\\\w+)', '\\\\2 at \\\\1') }}",
            json!({"k1": "me@host you@there"}),
        ),
        (
            "jsonpath",
            "{{ obj | jsonpath_query('people[*].first') }}",
            people,
        ),
        (
            "loop",
            "{% for h in hosts %}{{ loop.index }}: {{ h.name | upper }} {{ h.ip }}\n{% endfor %}",
            json!({"hosts": (0..20).map(|i| json!({"name": format!("host{i}"), "ip": format!("10.0.0.{i}")})).collect::<Vec<_>>()}),
        ),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ours(template: &str, ctx: &Value) -> f64 {
    let env = environment(&Options::st2());
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..PER_ROUND {
            black_box(render_str(&env, black_box(template), ctx).expect("renders"));
        }
        rounds.push(start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64);
    }
    median(rounds)
}

const PY: &str = r#"
import json, sys, time
sys.path.insert(0, sys.argv[1])
import reference
env = reference.st2_environment(False)
cases = json.loads(sys.stdin.read())
out = {}
for name, template, ctx in cases:
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(PER_ROUND):
            env.from_string(template).render(ctx)
        rounds.append((time.perf_counter() - start) * 1e6 / PER_ROUND)
    rounds.sort()
    out[name] = rounds[len(rounds) // 2]
print(json.dumps(out))
"#;

fn reference(cases: &[(&str, &str, Value)]) -> Option<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = Command::new("bash")
        .arg(root.join("../../scripts/pyvenv.sh"))
        .args([
            "jinja-ref",
            "Jinja2==2.11.3",
            "MarkupSafe==2.0.1",
            "PyYAML==6.0.1",
            "jsonpath-rw==1.4.0",
            "semver==3.0.2",
            "orjson==3.10.15",
        ])
        .output()
        .ok()?;
    let python = String::from_utf8(venv.stdout).ok()?.trim().to_string();
    let script = PY
        .replace("ROUNDS", &ROUNDS.to_string())
        .replace("PER_ROUND", &PER_ROUND.to_string());
    let mut child = Command::new(python)
        .args(["-c", &script])
        .arg(root.join("tests/jinja"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let input = serde_json::to_vec(
        &cases
            .iter()
            .map(|(n, t, c)| json!([n, t, c]))
            .collect::<Vec<_>>(),
    )
    .ok()?;
    std::io::Write::write_all(child.stdin.as_mut()?, &input).ok()?;
    drop(child.stdin.take());
    let out = child.wait_with_output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let cases = templates();
    let py = reference(&cases);
    if py.is_none() {
        eprintln!("the Jinja2 reference could not run; printing this crate's times only");
    }
    println!(
        "{:<10} {:>12} {:>12} {:>8}",
        "template", "ours µs", "jinja2 µs", "ratio"
    );
    for (name, template, ctx) in &cases {
        let t = ours(template, ctx);
        match py
            .as_ref()
            .and_then(|p| p.get(*name))
            .and_then(Value::as_f64)
        {
            Some(p) => println!("{name:<10} {t:>12.1} {p:>12.1} {:>7.1}x", p / t),
            None => println!("{name:<10} {t:>12.1} {:>12} {:>8}", "-", "-"),
        }
    }
}
