//! Differential test: every case of `differential_cases.jsonl` rendered by
//! this crate and by Jinja2 (the versions StackStorm pins, in a venv made by
//! `scripts/pyvenv.sh`) with StackStorm's filters (`reference.py`). Same
//! output string for every case; for failing cases the same error class.
//! The reference runs once, over the whole table, in one Python process.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stormdesk_jinja::{environment, Error, Options};

/// Jinja2 2.11.3 and jsonpath-rw 1.4.0 as StackStorm 3.8 pins them (with
/// MarkupSafe below 2.1, as st2 pins it); PyYAML 6.0.1 is the nearest to
/// st2's 5.4.1 that installs on Python 3.11; semver 3 because st2's
/// `version.py` uses `semver.Version`; orjson for `from_json_string`.
const REFERENCE_PINS: &[&str] = &[
    "Jinja2==2.11.3",
    "MarkupSafe==2.0.1",
    "PyYAML==6.0.1",
    "jsonpath-rw==1.4.0",
    "semver==3.0.2",
    "orjson==3.10.15",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jinja")
}

fn reference_python() -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/pyvenv.sh"))
        .arg("jinja-ref")
        .args(REFERENCE_PINS)
        .output()
        .expect("run scripts/pyvenv.sh (bash must be installed)");
    assert!(
        out.status.success(),
        "scripts/pyvenv.sh could not build the Jinja2 reference venv: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 path")
        .trim()
        .to_string()
}

fn cases(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read the case table")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad case line {l}: {e}")))
        .collect()
}

fn render(case: &Value) -> Result<String, Error> {
    let mode = case.get("mode").and_then(Value::as_str).unwrap_or("st2");
    let undef = case.get("undef").and_then(Value::as_bool).unwrap_or(false);
    let opts = if mode == "orquesta" {
        Options::orquesta()
    } else {
        Options::st2()
    }
    .allow_undefined(undef);
    let env = environment(&opts);
    let vars = case
        .get("v")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    stormdesk_jinja::render_str(&env, case["t"].as_str().expect("t is text"), &vars)
}

#[test]
fn matches_jinja2_with_stackstorm_filters() {
    let table = here().join("differential_cases.jsonl");
    let cases = cases(&table);
    let python = reference_python();
    let out = Command::new(&python)
        .arg(here().join("reference.py"))
        .arg(&table)
        .output()
        .expect("run the reference renderer");
    assert!(
        out.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: Vec<Value> =
        serde_json::from_slice(&out.stdout).expect("reference output is JSON");
    assert_eq!(expected.len(), cases.len(), "one reference result per case");

    let mut failures = Vec::new();
    let mut known = 0;
    for (i, (case, want)) in cases.iter().zip(&expected).enumerate() {
        if case.get("known").is_some() {
            // A deliberate difference (README): kept in the table with its
            // reason, not compared.
            known += 1;
            continue;
        }
        let got = render(case);
        let ok = match (&got, want.get("ok"), want.get("error")) {
            (Ok(s), Some(Value::String(w)), _) => s == w,
            (Err(e), None, Some(Value::String(class))) => e.class().as_str() == class,
            _ => false,
        };
        if !ok {
            let got = match &got {
                Ok(s) => format!("ok {s:?}"),
                Err(e) => format!("{} error: {e}", e.class().as_str()),
            };
            failures.push(format!(
                "case {} {}\n  vars: {}\n  jinja2: {}\n  ours:   {got}",
                i + 1,
                case["t"],
                case.get("v").unwrap_or(&Value::Null),
                want
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Jinja2:\n{}",
        failures.len(),
        cases.len() - known,
        failures.join("\n")
    );
    eprintln!(
        "{} cases match Jinja2; {known} known differences skipped",
        cases.len() - known
    );
}
