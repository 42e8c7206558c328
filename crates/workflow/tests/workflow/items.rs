use serde_json::json;
use stormdesk_workflow::{TaskKey, WorkflowStatus};

use crate::rehearsal::{obj, Rehearsal};

#[test]
fn with_items_issues_one_request_per_item_and_collects_results_in_order() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [messages]
tasks:
  task1:
    with: <% ctx(messages) %>
    action: core.echo message=<% item() %>
    next:
      - when: <% succeeded() %>
        publish: results=<% result() %>
output:
  - results: <% ctx(results) %>
"#,
        json!({"messages": ["a", "b", "c"]}),
    );
    r.assert_seq(&["task1[0]", "task1[1]", "task1[2]"]);
    assert_eq!(r.request("task1[1]").input, obj(json!({"message": "b"})));
    r.ok("task1[2]", json!("C"));
    r.ok("task1[0]", json!("A"));
    assert_eq!(r.status(), WorkflowStatus::Running);
    r.ok("task1[1]", json!("B"));
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"results": ["A", "B", "C"]}));
}

#[test]
fn named_items_are_read_with_item_name() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [messages]
tasks:
  task1:
    with: message in <% ctx(messages) %>
    action: core.echo message=<% item(message) %> whole=<% item() %>
"#,
        json!({"messages": ["x", "y"]}),
    );
    assert_eq!(
        r.request("task1[0]").input,
        obj(json!({"message": "x", "whole": {"message": "x"}}))
    );
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn zipped_items_bind_several_names() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [hosts, commands]
tasks:
  task1:
    with: host, command in <% zip(ctx(hosts), ctx(commands)) %>
    action: core.remote hosts=<% item(host) %> cmd=<% item(command) %>
"#,
        json!({"hosts": ["h1", "h2", "h3"], "commands": ["ls", "pwd"]}),
    );
    r.assert_seq(&["task1[0]", "task1[1]", "task1[2]"]);
    assert_eq!(
        r.request("task1[1]").input,
        obj(json!({"hosts": "h2", "cmd": "pwd"}))
    );
    assert_eq!(
        r.request("task1[2]").input,
        obj(json!({"hosts": "h3", "cmd": null}))
    );
    r.succeed_all();
}

#[test]
fn concurrency_limits_active_items() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [xs]
tasks:
  task1:
    with:
      items: <% ctx(xs) %>
      concurrency: 2
    action: core.echo message=<% item() %>
    next:
      - publish: out=<% result() %>
output:
  - out: <% ctx(out) %>
"#,
        json!({"xs": [1, 2, 3, 4, 5]}),
    );
    r.assert_seq(&["task1[0]", "task1[1]"]);
    let mut n = 0;
    while !r.outstanding.is_empty() {
        assert!(r.conductor.active_tasks().len() <= 2);
        let first = r.outstanding[0].key.item.unwrap();
        let issued = r.ok(&format!("task1[{first}]"), json!(first * 10));
        n += 1;
        if n <= 3 {
            assert_eq!(issued.len(), 1, "a finished item frees a slot");
            assert_eq!(issued[0].key.item, Some(n + 1));
        }
    }
    assert_eq!(r.seq().len(), 5);
    assert_eq!(r.output(), json!({"out": [0, 10, 20, 30, 40]}));
}

#[test]
fn concurrency_may_be_an_expression() {
    let r = Rehearsal::new(
        r#"
version: 1.0
input: [xs, limit]
tasks:
  task1:
    with:
      items: "{{ ctx('xs') }}"
      concurrency: <% ctx(limit) %>
    action: core.echo message="{{ item() }}"
"#,
        json!({"xs": [1, 2, 3, 4], "limit": 3}),
    );
    r.assert_seq(&["task1[0]", "task1[1]", "task1[2]"]);
    // A quoted inline value that is one whole expression keeps its type.
    assert_eq!(r.request("task1[2]").input, obj(json!({"message": 3})));
}

#[test]
fn a_failed_item_fails_the_task_after_active_items_finish() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [xs]
tasks:
  task1:
    with:
      items: <% ctx(xs) %>
      concurrency: 2
    action: core.echo message=<% item() %>
    next:
      - when: <% failed() %>
        publish: partial=<% result() %>
output:
  - partial: <% ctx(partial) %>
"#,
        json!({"xs": ["a", "b", "c", "d"]}),
    );
    // Orquesta: while another item is active the task keeps running and
    // hands out the next items; it fails once every item has reported.
    let issued = r.fail("task1[0]", json!("boom"));
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].key.item, Some(2));
    assert_eq!(r.status(), WorkflowStatus::Running);
    r.ok("task1[1]", json!("B"));
    r.ok("task1[2]", json!("C"));
    r.ok("task1[3]", json!("D"));
    r.assert_seq(&["task1[0]", "task1[1]", "task1[2]", "task1[3]"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
    assert_eq!(r.output(), json!({"partial": ["boom", "B", "C", "D"]}));
    let errors = r.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["task_id"], "task1");
    assert_eq!(
        errors[0]["result"],
        json!("boom"),
        "the failed item's result"
    );
}

/// With nothing else active, a failed item fails the task at once; the
/// items not started never run.
#[test]
fn a_failed_item_with_nothing_active_fails_the_task_at_once() {
    let mut r = Rehearsal::new(
        "version: 1.0\ntasks:\n  t:\n    with: {items: '<% [1, 2, 3] %>', concurrency: 1}\n    action: a.b\n",
        json!({}),
    );
    assert!(r.fail("t[0]", json!("boom")).is_empty());
    assert_eq!(r.status(), WorkflowStatus::Failed);
    r.assert_seq(&["t[0]"]);
}

#[test]
fn empty_items_complete_the_task_at_once() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  task1:
    with: <% [] %>
    action: core.echo
    next:
      - publish: n=<% len(result()) %>
        do: task2
  task2:
    action: core.echo n=<% ctx(n) %>
"#,
        json!({}),
    );
    r.assert_seq(&["task2"]);
    assert_eq!(r.request("task2").input, obj(json!({"n": 0})));
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn items_that_are_not_a_list_fail_with_the_expression() {
    let mut r = Rehearsal::new(
        "version: 1.0\ninput: [xs]\ntasks:\n  t:\n    with: <% ctx(xs) %>\n    action: a.b\n",
        json!({"xs": "not a list"}),
    );
    assert!(r.outstanding.is_empty());
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let msg = r.errors()[0]["message"].as_str().unwrap().to_string();
    assert_eq!(
        msg,
        "TypeError: The value of \"<% ctx(xs) %>\" is not type of list."
    );
    r.succeed_all();
}

#[test]
fn item_results_are_keyed_by_item_index() {
    let mut r = Rehearsal::new(
        "version: 1.0\ntasks:\n  t:\n    with: <% [1, 2] %>\n    action: a.b\n",
        json!({}),
    );
    assert_eq!(
        r.conductor.active_tasks(),
        vec![
            TaskKey {
                task: "t".into(),
                route: 0,
                item: Some(0)
            },
            TaskKey {
                task: "t".into(),
                route: 0,
                item: Some(1)
            },
        ]
    );
    r.succeed_all();
    assert!(r.conductor.active_tasks().is_empty());
}
