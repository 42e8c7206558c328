//! Re-running a completed workflow from chosen tasks (the conductor API the
//! engine offers as `st2 execution re-run <id> --tasks ... --no-reset ...`).
//! Orquesta's behaviour is checked by the differential suite; these tests
//! cover the API: refusals, what is kept, and a re-run across a restart.

use serde_json::json;
use stormdesk_workflow::{Conductor, RerunError, RerunOptions, WorkflowStatus};

use crate::rehearsal::Rehearsal;

const CHAIN: &str = r#"
version: 1.0
vars:
  - seen: []
tasks:
  t1:
    action: x.one
    next:
      - when: <% succeeded() %>
        publish: one=<% result() %>
        do: t2
  t2:
    action: x.two
    next:
      - when: <% succeeded() %>
        do: t3
  t3:
    action: x.three v=<% ctx(one) %>
output:
  - one: <% ctx(one) %>
"#;

fn failed_at_t2() -> Rehearsal {
    let mut r = Rehearsal::new(CHAIN, json!({}));
    r.ok("t1", json!("first"));
    r.fail("t2", json!({"error": "boom"}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    r
}

fn tasks(names: &[&str]) -> RerunOptions {
    RerunOptions {
        tasks: names.iter().map(|s| s.to_string()).collect(),
        reset: Vec::new(),
    }
}

#[test]
fn rerun_from_the_failed_task_keeps_the_context_and_clears_its_errors() {
    let mut r = failed_at_t2();
    assert_eq!(r.errors().len(), 1);
    let issued = r.conductor.request_rerun(&tasks(&["t2"]), &r.env).unwrap();
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].key.task, "t2");
    assert_eq!(r.conductor.status(), WorkflowStatus::Running);
    assert!(
        r.errors().is_empty(),
        "the re-run task's errors are cleared"
    );
    r.take(issued);
    r.ok("t2", json!(null));
    // t3 sees what t1 published before the first run failed.
    assert_eq!(r.request("t3").input["v"], json!("first"));
    r.ok("t3", json!(null));
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.conductor.result(), json!({"output": {"one": "first"}}));
}

#[test]
fn rerun_without_tasks_reruns_the_failed_terminal_tasks() {
    let mut r = failed_at_t2();
    let issued = r
        .conductor
        .request_rerun(&RerunOptions::default(), &r.env)
        .unwrap();
    let names: Vec<&str> = issued.iter().map(|q| q.key.task.as_str()).collect();
    assert_eq!(names, vec!["t2"]);
}

#[test]
fn rerun_is_refused_while_running_and_for_unknown_tasks() {
    let mut r = Rehearsal::new(CHAIN, json!({}));
    assert_eq!(
        r.conductor.request_rerun(&tasks(&["t1"]), &r.env),
        Err(RerunError::NotCompleted)
    );
    let mut r = failed_at_t2();
    // t3 never ran, so it cannot be re-run.
    let err = r
        .conductor
        .request_rerun(&tasks(&["t3", "nope"]), &r.env)
        .unwrap_err();
    assert_eq!(
        err,
        RerunError::UnknownTasks(vec!["t3".into(), "nope".into()])
    );
    assert_eq!(
        err.to_string(),
        "Unable to rerun workflow because one or more tasks is not found: t3,nope"
    );
    assert_eq!(
        r.status(),
        WorkflowStatus::Failed,
        "a refused re-run changes nothing"
    );
}

#[test]
fn rerun_of_a_succeeded_workflow_without_tasks_has_nothing_to_do() {
    let mut r = Rehearsal::new(CHAIN, json!({}));
    r.succeed_all();
    assert_eq!(
        r.conductor.request_rerun(&RerunOptions::default(), &r.env),
        Err(RerunError::NothingToRerun)
    );
    // With a task it runs again from there.
    let issued = r.conductor.request_rerun(&tasks(&["t3"]), &r.env).unwrap();
    assert_eq!(issued.len(), 1);
}

#[test]
fn items_rerun_only_failed_items_unless_reset() {
    let yaml =
        "version: 1.0\ntasks:\n  t:\n    with: <% [a, b, c] %>\n    action: x.y v=<% item() %>\n";
    for (reset, expected) in [
        (false, vec![Some(1)]),
        (true, vec![Some(0), Some(1), Some(2)]),
    ] {
        let mut r = Rehearsal::new(yaml, json!({}));
        r.ok("t[0]", json!(0));
        r.fail("t[1]", json!("bad"));
        r.ok("t[2]", json!(2));
        assert_eq!(r.status(), WorkflowStatus::Failed);
        let options = RerunOptions {
            tasks: vec!["t".into()],
            reset: if reset { vec!["t".into()] } else { Vec::new() },
        };
        let issued = r.conductor.request_rerun(&options, &r.env).unwrap();
        let items: Vec<Option<usize>> = issued.iter().map(|q| q.key.item).collect();
        assert_eq!(items, expected, "reset: {reset}");
        r.take(issued);
        r.succeed_all();
        assert_eq!(r.status(), WorkflowStatus::Succeeded);
    }
}

#[test]
fn a_saved_workflow_reruns_after_a_restart() {
    let r = failed_at_t2();
    let saved = serde_json::to_string(&r.conductor).unwrap();
    let mut restored: Conductor = serde_json::from_str(&saved).unwrap();
    let issued = restored.request_rerun(&tasks(&["t2"]), &r.env).unwrap();
    assert_eq!(issued[0].key.task, "t2");
    assert_eq!(issued[0].attempt, 0);
}
