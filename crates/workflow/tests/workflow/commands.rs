use serde_json::json;
use stormdesk_workflow::{TaskStatus, WorkflowStatus};

use crate::rehearsal::Rehearsal;

fn error_handling(do_on_failure: &str) -> String {
    format!(
        r#"
version: 1.0
input: [cmd]
vars:
  - stdout: null
  - stderr: null
tasks:
  task1:
    action: core.local cmd=<% ctx(cmd) %>
    next:
      - when: <% succeeded() %>
        publish: stdout=<% result().stdout %>
      - when: <% failed() %>
        publish: stderr=<% result().stderr %>
        {do_on_failure}
output:
  - stdout: <% ctx(stdout) %>
  - stderr: <% ctx(stderr) %>
"#
    )
}

#[test]
fn implicit_continue_fails_the_workflow_and_renders_output() {
    let mut r = Rehearsal::new(&error_handling(""), json!({"cmd": "false"}));
    r.fail("task1", json!({"stderr": "oops"}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.output(), json!({"stdout": null, "stderr": "oops"}));
    // Orquesta's entry: the task and its result, no route.
    let errors = vec![json!({
        "type": "error",
        "message": "Execution failed. See result for details.",
        "task_id": "task1",
        "result": {"stderr": "oops"}
    })];
    assert_eq!(r.errors(), errors);
    assert_eq!(r.conductor.result()["errors"], json!(errors));
}

#[test]
fn explicit_continue_behaves_like_the_default() {
    let mut r = Rehearsal::new(&error_handling("do: continue"), json!({"cmd": "false"}));
    r.fail("task1", json!({"stderr": "oops"}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.output()["stderr"], "oops");
}

#[test]
fn noop_remediates_the_failure() {
    let mut r = Rehearsal::new(&error_handling("do: noop"), json!({"cmd": "false"}));
    r.fail("task1", json!({"stderr": "oops"}));
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"stdout": null, "stderr": "oops"}));
    // The remediated failure stays in the errors, not in the result.
    assert_eq!(r.errors().len(), 1);
    assert!(r.conductor.result().get("errors").is_none());
}

#[test]
fn continue_on_success_just_succeeds() {
    let mut r = Rehearsal::new(&error_handling("do: continue"), json!({"cmd": "true"}));
    r.ok("task1", json!({"stdout": "fine"}));
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"stdout": "fine", "stderr": null}));
}

/// The documented REST example: a succeeded task failed on purpose.
#[test]
fn fail_command_fails_a_succeeded_task() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
vars:
  - body: null
tasks:
  task1:
    action: core.http url="https://api.xyz.com/objects"
    next:
      - when: <% succeeded() and result().status_code = 200 %>
        publish: body=<% result().body %>
      - when: <% succeeded() and result().status_code != 200 %>
        publish: body=<% result().body %>
        do: fail
output:
  - body: <% ctx(body) %>
"#,
        json!({}),
    );
    r.ok("task1", json!({"status_code": 404, "body": "missing"}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.output(), json!({"body": "missing"}));
    // The fail command is a task of its own that fails.
    assert_eq!(
        r.errors(),
        vec![json!({
            "type": "error",
            "message": "Execution failed. See result for details.",
            "task_id": "fail"
        })]
    );
    assert_eq!(
        r.conductor.sequence(),
        vec![
            ("task1".to_string(), 0, "succeeded".to_string()),
            ("fail".to_string(), 0, "failed".to_string())
        ]
    );
}

/// A cleanup task staged next to `fail` still runs; the workflow fails.
#[test]
fn tasks_beside_fail_still_run_then_the_workflow_fails() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [member, message]
tasks:
  task1:
    action: slack.post member=<% ctx(member) %> message=<% ctx(message) %>
    next:
      - when: <% succeeded() %>
        publish: msg="Successfully posted message."
        do:
          - task2
      - when: <% failed() %>
        publish: 'msg="Unable to post message due to error: <% result() %>"'
        do:
          - task2
          - fail
  task2:
    action: core.log message=<% ctx(msg) %>
    next:
      - do: task3
  task3:
    action: core.log
"#,
        json!({"member": "bob", "message": "hi"}),
    );
    r.fail("task1", json!("denied"));
    assert_eq!(
        r.request("task2").input["message"],
        json!("Unable to post message due to error: denied")
    );
    // The fail command failed the workflow at once; task2 still runs.
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert!(
        r.ok("task2", json!(null)).is_empty(),
        "nothing after the remediation"
    );
    // task2 has two inbound transitions from task1, so it runs on a split route.
    r.assert_seq(&["task1", "task2#1"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
}

#[test]
fn a_transition_to_a_task_remediates_a_failure() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  task1:
    action: a.b
    next:
      - when: <% failed() %>
        do: cleanup
  cleanup:
    action: a.c
"#,
        json!({}),
    );
    r.fail("task1", json!(null));
    r.succeed_all();
    r.assert_seq(&["task1", "cleanup"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.errors().len(), 1, "the remediated failure is logged");
    assert_eq!(r.conductor.result(), json!({"output": null}));
}

/// The documented `retry` engine command: up to 3 retries, no delay.
#[test]
fn retry_command_retries_up_to_three_times() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [url]
tasks:
  task1:
    action: core.http url=<% ctx().url %>
    next:
      - when: <% result().status_code != 200 %>
        do: retry
      - when: <% result().status_code = 200 %>
        do: task2
  task2:
    action: core.noop_action
"#,
        json!({"url": "u"}),
    );
    for _ in 0..4 {
        r.ok("task1", json!({"status_code": 500}));
    }
    r.assert_seq(&["task1", "task1@1", "task1@2", "task1@3"]);
    assert!(r.outstanding.is_empty());
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert!(r.request_count("task2") == 0);
}

#[test]
fn fail_fast_waits_for_the_active_branch_but_starts_nothing_new() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  a:
    action: x.fail
  b:
    action: x.slow
    next:
      - publish: b_done=<% true %>
        do: c
  c:
    action: x.never
output:
  - b_done: <% ctx(b_done) %>
"#,
        json!({}),
    );
    r.fail("a", json!({"error": "bad"}));
    // Orquesta fails the workflow at once; b is still active and reports.
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.conductor.active_tasks().len(), 1);
    assert!(r.ok("b", json!(null)).is_empty(), "c is not started");
    r.assert_seq(&["a", "b"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.errors()[0]["result"], json!({"error": "bad"}));
}

#[test]
fn a_canceled_task_cancels_the_workflow() {
    let mut r = Rehearsal::new(
        "version: 1.0\ntasks:\n  a:\n    action: x.y\n    next: [{do: b}]\n  b:\n    action: x.y\n  c:\n    action: x.y\n",
        json!({}),
    );
    r.report("a", TaskStatus::Canceled, json!(null));
    assert_eq!(r.status(), WorkflowStatus::Canceling);
    r.ok("c", json!(null));
    r.assert_seq(&["a", "c"]);
    assert_eq!(r.status(), WorkflowStatus::Canceled);
}

#[test]
fn failed_is_false_for_canceled_but_completed_is_true() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  a:
    action: x.y
    next:
      - publish:
          - f: <% failed() %>
          - c: <% completed() %>
          - s: <% succeeded() %>
output:
  - f: <% ctx(f) %>
  - c: <% ctx(c) %>
  - s: <% ctx(s) %>
"#,
        json!({}),
    );
    r.report("a", TaskStatus::Canceled, json!(null));
    assert_eq!(r.status(), WorkflowStatus::Canceled);
    assert_eq!(r.output(), json!({"f": false, "c": true, "s": false}));
}
