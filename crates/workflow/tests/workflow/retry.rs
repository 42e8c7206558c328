use serde_json::json;
use stormdesk_workflow::{TaskStatus, WorkflowStatus};

use crate::rehearsal::Rehearsal;

#[test]
fn retry_reissues_a_failed_task_with_delay_until_it_succeeds() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [command]
tasks:
  task1:
    action: core.remote cmd=<% ctx().command %>
    retry:
      delay: 1
      count: 3
    next:
      - when: <% succeeded() %>
        do: task2
  task2:
    action: core.noop_action
"#,
        json!({"command": "ls"}),
    );
    assert_eq!(r.request("task1").delay_seconds, None);
    r.fail("task1", json!({"stderr": "x"}));
    assert_eq!(r.request("task1").attempt, 1);
    assert_eq!(r.request("task1").delay_seconds, Some(1.0));
    r.fail("task1", json!({"stderr": "x"}));
    r.ok("task1", json!({"stdout": "ok"}));
    r.succeed_all();
    r.assert_seq(&["task1", "task1@1", "task1@2", "task2"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    // Each failure is logged (the same entry once); the result of a
    // workflow that succeeded carries no errors.
    assert_eq!(r.errors().len(), 1);
    assert!(r.conductor.result().get("errors").is_none());
}

#[test]
fn exhausted_retries_leave_the_task_failed() {
    let mut r = Rehearsal::new(
        "version: 1.0\ntasks:\n  t:\n    action: a.b\n    retry: {count: 2}\n",
        json!({}),
    );
    for _ in 0..3 {
        r.fail("t", json!("no"));
    }
    r.assert_seq(&["t", "t@1", "t@2"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.errors().len(), 1);
}

/// The documented HTTP example: retry while the status code is not 200.
#[test]
fn retry_when_evaluates_the_result() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [url]
tasks:
  task1:
    action: core.http url=<% ctx().url %>
    retry:
      when: <% result().status_code != 200 %>
      count: 3
    next:
      - when: <% result().status_code = 200 %>
        do: task2
  task2:
    action: core.noop_action
"#,
        json!({"url": "http://x"}),
    );
    r.ok("task1", json!({"status_code": 503}));
    r.ok("task1", json!({"status_code": 200}));
    r.succeed_all();
    r.assert_seq(&["task1", "task1@1", "task2"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn retry_when_false_does_not_retry_a_failure() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t:
    action: a.b
    retry:
      when: <% result().transient %>
      count: <% 1 + 1 %>
"#,
        json!({}),
    );
    r.fail("t", json!({"transient": true}));
    r.fail("t", json!({"transient": false}));
    r.assert_seq(&["t", "t@1"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
}

#[test]
fn task_delay_is_carried_on_the_request() {
    let r = Rehearsal::new(
        r#"
version: 1.0
input: [wait]
tasks:
  a:
    action: a.b
    delay: 5
  b:
    action: a.b
    delay: <% ctx(wait) * 2 %>
"#,
        json!({"wait": 2}),
    );
    assert_eq!(r.request("a").delay_seconds, Some(5.0));
    assert_eq!(r.request("b").delay_seconds, Some(4.0));
}

/// Orquesta takes whole seconds only.
#[test]
fn a_delay_that_is_not_an_integer_fails_the_workflow() {
    let r = Rehearsal::new(
        "version: 1.0\ntasks:\n  a:\n    action: a.b\n    delay: <% 1.5 %>\n",
        json!({}),
    );
    assert!(r.outstanding.is_empty());
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(
        r.errors()[0]["message"],
        "TypeError: The value of task delay is not type of integer."
    );
    assert_eq!(r.errors()[0]["task_id"], "a");
}

#[test]
fn timeout_and_abandoned_count_as_failures_for_retry_and_failed() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t:
    action: a.b
    retry: {count: 1}
    next:
      - when: <% failed() %>
        publish: why=<% result() %>
        do: cleanup
  cleanup:
    action: a.c
output:
  - why: <% ctx(why) %>
"#,
        json!({}),
    );
    r.report("t", TaskStatus::Timeout, json!("timed out"));
    r.report("t", TaskStatus::Abandoned, json!("abandoned"));
    r.succeed_all();
    r.assert_seq(&["t", "t@1", "cleanup"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"why": "abandoned"}));
}
