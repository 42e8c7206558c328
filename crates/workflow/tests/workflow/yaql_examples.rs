//! StackStorm's must-fail YAQL examples (`examples` pack, from `ST2_PACKS`,
//! default `/work/shared/st2-packs`) fail here as in Orquesta, with
//! Orquesta's message for the key that does not exist.

use std::path::PathBuf;

use serde_json::json;
use stormdesk_workflow::{TaskStatus, WorkflowStatus};

use crate::rehearsal::Rehearsal;

fn example(name: &str) -> String {
    let root = std::env::var_os("ST2_PACKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/st2-packs"));
    let path = root.join("examples/actions/workflows/tests").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fails_on_missing_key(file: &str, expression: &str) {
    let mut r = Rehearsal::new(&example(file), json!({"name": "Lakshmi"}));
    // core.echo's result has stdout, not `value`.
    r.report(
        "task1",
        TaskStatus::Succeeded,
        json!({"stdout": "Lakshmi", "stderr": "", "return_code": 0}),
    );
    assert_eq!(r.status(), WorkflowStatus::Failed, "{file}");
    let errors = r.errors();
    let message = errors
        .iter()
        .filter_map(|e| e["message"].as_str())
        .find(|m| m.contains("result().value"))
        .unwrap_or_else(|| panic!("{file}: {errors:?}"));
    let orquesta =
        format!("Unable to resolve key 'value' in expression '{expression}' from context.");
    assert!(message.contains(&orquesta), "{file}: {message}");
    assert!(
        r.requests.iter().all(|q| q.key.task == "task1"),
        "{file}: nothing runs after the failed transition"
    );
}

#[test]
fn orquesta_fail_task_publish() {
    fails_on_missing_key("orquesta-fail-task-publish.yaml", "<% result().value %>");
}

#[test]
fn orquesta_fail_task_transition() {
    fails_on_missing_key(
        "orquesta-fail-task-transition.yaml",
        "<% succeeded() and result().value %>",
    );
}
