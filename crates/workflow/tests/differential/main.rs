//! Differential tests against StackStorm's Orquesta (PyPI `orquesta==1.2.0`).
//!
//! Each case of `cases.yaml` (a workflow, its input, a script of action
//! results, and pause/resume/cancel/rerun steps) runs through Orquesta,
//! driven as StackStorm's workflow engine drives it
//! (`orquesta_driver.py`), and through this crate's conductor. The
//! requests (task, route, item, action, input, delay, attempt), the
//! results fed back, the workflow status, output, errors, StackStorm
//! result, routes and task sequence must all be equal.
//!
//! The reference runs in a venv made by `scripts/pyvenv.sh`: orquesta 1.2.0
//! with the networkx 1.11 it pins; the driver restores what Python 3.9+
//! removed (`collections.Mapping`..., `fractions.gcd`) and rewrites one
//! inline-parameter pattern Python 3.11 refuses.
//! `STORMDESK_ST2_PACKS` points at StackStorm's packs (default
//! `/work/shared/st2-packs`); the examples pack's workflows are loaded
//! from there.

mod compare;
mod replay;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A case as written in `cases.yaml`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// The workflow definition, inline.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Or a workflow of StackStorm's examples pack, by file name
    /// (relative to `examples/actions/workflows/`).
    #[serde(default)]
    pub example: Option<String>,
    #[serde(default)]
    pub input: Map<String, Value>,
    /// The parent context; default: StackStorm's `st2` and `parent`.
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    #[serde(default)]
    pub kv: Map<String, Value>,
    #[serde(default)]
    pub results: Vec<Value>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// What the case is about (documentation only).
    #[serde(default)]
    pub covers: Option<String>,
    /// Expression features the case needs beyond the conductor's (see
    /// [`capability`]); the case is skipped, and said so, until they exist.
    #[serde(default)]
    pub requires: Vec<String>,
    /// A regular expression whose matches are masked in requests and
    /// outputs on both sides (values that differ by design, e.g. random).
    #[serde(default)]
    pub mask: Option<String>,
}

/// Whether this build's YAQL has the standard library a case needs
/// (`yaql-library`: lambdas and queries such as `select`, `where`, dict
/// methods such as `containsKey`, `range`, `random`, `abs`;
/// `yaql-dollar-unbound`: `$` outside a query is null, as in Orquesta).
fn capability(name: &str) -> bool {
    use stormdesk_workflow::expr::{evaluate_str, Scope};
    let ctx = Map::new();
    let scope = Scope::workflow(&ctx, &stormdesk_workflow::NoKv);
    let eval = |e: &str| evaluate_str(e, &scope).ok();
    match name {
        "yaql-library" => {
            eval("<% [1, 2].select($ * 2).where($ > 2) %>") == Some(json!([4]))
                && eval("<% {a => 1}.containsKey(a) %>") == Some(json!(true))
                && eval("<% range(0, 2) %>") == Some(json!([0, 1]))
                && eval("<% abs(-1) %>") == Some(json!(1))
                && eval("<% random(1, 2) %>").is_some()
        }
        // Orquesta binds no data to `$` outside a query: `<% $ %>` is null.
        "yaql-dollar-unbound" => eval("<% $ %>") == Some(Value::Null),
        other => panic!("unknown capability {other:?} in cases.yaml"),
    }
}

#[derive(Deserialize, serde::Serialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Apply after this many results were fed back.
    pub after: usize,
    pub action: String,
    #[serde(default)]
    pub tasks: Vec<String>,
    #[serde(default)]
    pub reset: Vec<String>,
}

/// Workflows of the examples pack that cannot be compared, with why.
#[derive(Deserialize, Debug)]
struct Uncomparable {
    example: String,
    reason: String,
}

#[derive(Deserialize, Debug)]
struct CaseFile {
    cases: Vec<Case>,
    #[serde(default)]
    uncomparable: Vec<Uncomparable>,
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

pub fn examples_dir() -> PathBuf {
    let packs =
        std::env::var("STORMDESK_ST2_PACKS").unwrap_or_else(|_| "/work/shared/st2-packs".into());
    Path::new(&packs).join("examples/actions/workflows")
}

fn load_cases() -> CaseFile {
    let text = std::fs::read_to_string(here().join("cases.yaml")).expect("read cases.yaml");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("cases.yaml: {e}"))
}

/// StackStorm's context for a workflow execution (`_construct_st2_context`
/// plus the workflow execution id).
pub fn st2_context() -> Map<String, Value> {
    let v = json!({
        "st2": {
            "action_execution_id": "5f00000000000000000000a1",
            "api_url": "http://127.0.0.1:9101/v1",
            "user": "stanley",
            "pack": "examples",
            "action": "examples.workflow",
            "runner": "orquesta",
            "workflow_execution_id": "5f00000000000000000000b2"
        },
        "parent": {"user": "stanley", "pack": "examples"}
    });
    v.as_object().cloned().expect("object")
}

impl Case {
    pub fn definition(&self) -> String {
        match (&self.workflow, &self.example) {
            (Some(w), None) => w.clone(),
            (None, Some(e)) => {
                let path = examples_dir().join(e);
                std::fs::read_to_string(&path)
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            }
            _ => panic!(
                "case {}: give exactly one of workflow and example",
                self.name
            ),
        }
    }

    pub fn parent_context(&self) -> Map<String, Value> {
        self.context.clone().unwrap_or_else(st2_context)
    }
}

/// The reference: orquesta 1.2.0 (the newest on PyPI) with the networkx it
/// pins, yaql 3.1.0 and Jinja2 2.11.3 (with MarkupSafe below 2.1) as
/// StackStorm 3.8 locks them.
const REFERENCE: &[&str] = &[
    "orquesta-1.2.0",
    "orquesta==1.2.0",
    "networkx==1.11",
    "yaql==3.1.0",
    "Jinja2==2.11.3",
    "MarkupSafe==2.0.1",
    "setuptools==84.2.1",
];

fn reference_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/pyvenv.sh"))
        .args(REFERENCE)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/pyvenv.sh");
    assert!(out.status.success(), "scripts/pyvenv.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
}

/// Run the cases through Orquesta; one outcome per case, in order.
fn reference(cases: &[Case]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "workflow": c.definition(),
                "input": c.input,
                "context": c.parent_context(),
                "kv": c.kv,
                "results": c.results,
                "steps": c.steps,
            })
        })
        .collect();
    let mut child = Command::new(reference_python())
        .arg(here().join("orquesta_driver.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the orquesta driver");
    let stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || serde_json::to_writer(stdin, &Value::Array(input)));
    let out = child.wait_with_output().expect("orquesta driver output");
    writer.join().expect("writer thread").expect("write cases");
    assert!(out.status.success(), "the orquesta driver failed");
    serde_json::from_slice(&out.stdout).expect("driver output is JSON")
}

#[test]
fn conducts_as_orquesta() {
    let file = load_cases();
    let filter = std::env::var("DIFF_CASE").ok();
    let (cases, skipped): (Vec<Case>, Vec<Case>) = file
        .cases
        .into_iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.name.contains(f.as_str())))
        .partition(|c| c.requires.iter().all(|r| capability(r)));
    for c in &skipped {
        eprintln!("skipped {} (needs {})", c.name, c.requires.join(", "));
    }
    assert!(!cases.is_empty(), "no case selected");
    let outcomes = reference(&cases);
    assert_eq!(outcomes.len(), cases.len());
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(&outcomes) {
        if let Err(diff) = replay::compare_case(case, theirs) {
            failures.push(format!("case {}:\n{diff}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Orquesta:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Every Orquesta workflow of the examples pack has a case, or a reason
/// why it cannot be compared.
#[test]
fn every_example_workflow_is_compared() {
    let file = load_cases();
    let dir = examples_dir();
    let mut files = Vec::new();
    for sub in ["", "tests"] {
        let d = dir.join(sub);
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).expect("read workflow");
                if text.contains("version: 1.0")
                    || text.contains("version: '1.0'")
                    || text.contains("version: \"1.0\"")
                {
                    let rel = path.strip_prefix(&dir).expect("under dir");
                    files.push(rel.to_string_lossy().to_string());
                }
            }
        }
    }
    files.sort();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| {
            !file
                .cases
                .iter()
                .any(|c| c.example.as_deref() == Some(f.as_str()))
                && !file
                    .uncomparable
                    .iter()
                    .any(|u| &u.example == *f && !u.reason.is_empty())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "example workflows without a case: {missing:?}"
    );
}
