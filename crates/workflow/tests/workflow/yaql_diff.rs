//! Differential test of YAQL: every case of `yaql_cases.txt` is evaluated by
//! Stormdesk and by Orquesta's YAQL evaluator over the reference `yaql`
//! (the version StackStorm locks, in a venv made by `scripts/pyvenv.sh`),
//! in one Python process for the whole table. Results must be equal and
//! failures must have the same exception class; every mismatch is listed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use stormdesk_workflow::expr::yaql::evaluate_text;
use stormdesk_workflow::expr::{CurrentTask, NoTasks, Scope};
use stormdesk_workflow::NoKv;

/// What StackStorm runs: yaql as locked in st2's `lockfiles/st2.lock`, and
/// the newest Orquesta on PyPI (its YAQL evaluator is the one StackStorm's
/// Orquesta 1.6 has).
const REFERENCE: &[&str] = &["orquesta==1.2.0", "yaql==3.1.0", "setuptools==84.2.1"];

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/workflow")
}

struct Table {
    ctx: Value,
    result: Value,
    cases: Vec<String>,
}

/// Objects with their keys sorted, so that both sides see the same order
/// whether or not serde_json preserves insertion order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn load() -> Table {
    // YAQL_DIFF_CASES=path runs another table (for exploring).
    let path = std::env::var_os("YAQL_DIFF_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|| here().join("yaql_cases.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut table = Table {
        ctx: Value::Null,
        result: Value::Null,
        cases: Vec::new(),
    };
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(json) = line.strip_prefix("@ctx ") {
            table.ctx = canonical(&serde_json::from_str(json).expect("@ctx is JSON"));
        } else if let Some(json) = line.strip_prefix("@result ") {
            table.result = canonical(&serde_json::from_str(json).expect("@result is JSON"));
        } else if line.contains("<%") {
            table.cases.push(line.to_string());
        } else {
            table.cases.push(format!("<% {line} %>"));
        }
    }
    table
}

fn reference(table: &Table) -> Vec<Value> {
    let request = serde_json::json!({
        "ctx": table.ctx,
        "result": table.result,
        "cases": table.cases,
    });
    let results = run_reference(&request);
    assert_eq!(results.len(), table.cases.len());
    results
}

/// Runs `yaql_reference.py` once with `request` on stdin.
fn run_reference(request: &Value) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = Command::new("bash")
        .arg(root.join("scripts/pyvenv.sh"))
        .arg("yaql-orquesta")
        .args(REFERENCE)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/pyvenv.sh");
    assert!(
        venv.status.success(),
        "scripts/pyvenv.sh could not make the reference venv ({REFERENCE:?}); it needs python3 and uv or pip with access to PyPI"
    );
    let python = String::from_utf8(venv.stdout).expect("utf-8 path");
    let mut child = Command::new(python.trim())
        .arg(here().join("yaql_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reference python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("reference output");
    assert!(out.status.success(), "yaql_reference.py failed");
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}

/// JSON equality where the reference's `{"$set": [...]}` matches a list
/// with the same items in any order.
fn same(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Array(a), Value::Object(m)) if m.len() == 1 && m.contains_key("$set") => {
            let Some(Value::Array(items)) = m.get("$set") else {
                return false;
            };
            let key = |v: &Value| v.to_string();
            let mut x: Vec<String> = a.iter().map(key).collect();
            let mut y: Vec<String> = items.iter().map(key).collect();
            x.sort();
            y.sort();
            x == y || (a.len() == items.len() && a.iter().all(|v| items.iter().any(|w| same(v, w))))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.is_f64() && y.is_f64() && x.as_f64() == y.as_f64())
        }
        _ => ours == theirs,
    }
}

#[test]
fn yaql_matches_the_reference() {
    let table = load();
    if std::env::var_os("YAQL_DIFF_CASES").is_none() {
        assert!(
            table.cases.len() >= 300,
            "the table has {} cases",
            table.cases.len()
        );
    }
    let expected = reference(&table);
    let Value::Object(ctx) = &table.ctx else {
        panic!("@ctx must be an object")
    };
    let scope = Scope {
        ctx,
        task: Some(CurrentTask {
            name: "task1",
            route: 0,
        }),
        result: Some(&table.result),
        item: None,
        statuses: &NoTasks,
        env: &NoKv,
    };
    let mut mismatches = Vec::new();
    let dump = std::env::var_os("YAQL_DIFF_DUMP").is_some();
    for (case, theirs) in table.cases.iter().zip(&expected) {
        let ours = evaluate_text(case, &scope);
        if dump {
            eprintln!("{case}\n    ours:      {ours:?}\n    reference: {theirs}");
        }
        let ok = match (&ours, theirs.get("ok"), theirs.get("error")) {
            (Ok(v), Some(t), None) => same(v, t),
            (Err(e), None, Some(Value::String(class))) => e.error.class == class,
            _ => false,
        };
        if !ok {
            let ours = match &ours {
                Ok(v) => format!("ok {v}"),
                Err(e) => format!("error {}: {}", e.error.class, e.error.message),
            };
            let theirs = match (theirs.get("ok"), theirs.get("error")) {
                (Some(v), _) => format!("ok {v}"),
                (_, Some(c)) => format!(
                    "error {}: {}",
                    c.as_str().unwrap_or("?"),
                    theirs["message"].as_str().unwrap_or("")
                ),
                _ => theirs.to_string(),
            };
            mismatches.push(format!(
                "{case}\n    ours:      {ours}\n    reference: {theirs}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} YAQL cases differ from the reference:\n{}",
        mismatches.len(),
        table.cases.len(),
        mismatches.join("\n")
    );
}

/// Every `<% %>` expression in StackStorm's own packs (`ST2_PACKS`, default
/// `/work/shared/st2-packs`) parses here exactly when it parses in
/// Orquesta's yaql engine, with the same error class when it does not.
#[test]
fn st2_pack_expressions_parse_as_in_orquesta() {
    let root = std::env::var_os("ST2_PACKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/st2-packs"));
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    let mut expressions: Vec<String> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (start, end) in stormdesk_workflow::expr::yaql::segments(&text) {
            let inner = text[start..end]
                .trim_matches(|c| matches!(c, '<' | '%' | '>'))
                .trim()
                .to_string();
            if !expressions.contains(&inner) {
                expressions.push(inner);
            }
        }
    }
    assert!(
        expressions.len() > 50,
        "found only {} expressions under {}",
        expressions.len(),
        root.display()
    );
    let theirs = run_reference(&serde_json::json!({ "parse": expressions }));
    let mut mismatches = Vec::new();
    for (expr, theirs) in expressions.iter().zip(&theirs) {
        let ours = stormdesk_workflow::expr::yaql::parse(expr);
        let same = match (&ours, theirs.get("error")) {
            (Ok(_), None) => true,
            (Err(e), Some(Value::String(class))) => e.class == class,
            _ => false,
        };
        if !same {
            mismatches.push(format!("{expr}: ours {ours:?}, reference {theirs}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
