use serde_json::json;
use stormdesk_workflow::{Conductor, WorkflowError, WorkflowStatus};

use crate::rehearsal::{obj, spec, Rehearsal};

#[test]
fn sequential_tasks_run_in_order_and_publish() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input:
  - name
tasks:
  task1:
    action: core.echo message="hello <% ctx(name) %>"
    next:
      - when: <% succeeded() %>
        publish: greeting=<% result().stdout %>
        do: task2
  task2:
    action: core.echo
    input:
      message: <% ctx(greeting) %> again
    next:
      - do: task3
  task3:
    action: core.local cmd="true"
output:
  - greeting: <% ctx(greeting) %>
"#,
        json!({"name": "world"}),
    );
    assert_eq!(
        r.request("task1").input,
        obj(json!({"message": "hello world"}))
    );
    r.ok("task1", json!({"stdout": "hello world"}));
    assert_eq!(
        r.request("task2").input,
        obj(json!({"message": "hello world again"}))
    );
    r.ok("task2", json!({}));
    assert_eq!(r.request("task3").action, "core.local");
    r.ok("task3", json!({}));
    r.assert_seq(&["task1", "task2", "task3"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"greeting": "hello world"}));
    assert!(r.errors().is_empty());
}

/// The "(a + b) * (c + d)" example of the Orquesta documentation.
#[test]
fn documented_math_example_joins_two_branches() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
description: Calculates (a + b) * (c + d)
input:
  - a: 0
  - b: 0
  - c: 0
  - d: 0
tasks:
  task1:
    action: math.add operand1=<% ctx(a) %> operand2=<% ctx(b) %>
    next:
      - when: <% succeeded() %>
        publish: ab=<% result() %>
        do: task3
  task2:
    action: math.add operand1=<% ctx("c") %> operand2=<% ctx("d") %>
    next:
      - when: <% succeeded() %>
        publish: cd=<% result() %>
        do: task3
  task3:
    join: all
    action: math.multiple operand1=<% ctx('ab') %> operand2=<% ctx('cd') %>
    next:
      - when: <% succeeded() %>
        publish: abcd=<% result() %>
output:
  - result: <% ctx().abcd %>
"#,
        json!({"a": 1, "b": 2, "c": 3}),
    );
    assert_eq!(
        r.request("task1").input,
        obj(json!({"operand1": 1, "operand2": 2}))
    );
    assert_eq!(
        r.request("task2").input,
        obj(json!({"operand1": 3, "operand2": 0}))
    );
    assert!(r.ok("task2", json!(3)).is_empty(), "join waits for task1");
    r.ok("task1", json!(3));
    assert_eq!(
        r.request("task3").input,
        obj(json!({"operand1": 3, "operand2": 3}))
    );
    r.ok("task3", json!(9));
    r.assert_seq(&["task1", "task2", "task3"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(r.output(), json!({"result": 9}));
}

#[test]
fn input_defaults_and_vars_are_assigned_in_order() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input:
  - x
  - y: <% ctx(x) %>
  - z: <% ctx(y) + 1 %>
vars:
  - v: <% ctx(z) * 2 %>
  - empty: null
tasks:
  task1:
    action: core.echo message=<% ctx(z) %> v=<% ctx(v) %> e=<% ctx(empty) %>
"#,
        json!({"x": 1}),
    );
    assert_eq!(
        r.request("task1").input,
        obj(json!({"message": 2, "v": 4, "e": null}))
    );
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn undeclared_input_is_refused_and_missing_input_is_null() {
    let s = spec("version: 1.0\ninput: [a, b, {c: 1}]\noutput:\n  - a: <% ctx().a %>\ntasks:\n  t: {action: core.echo}\n");
    let mut r = Rehearsal::from_conductor(Conductor::new(s.clone(), obj(json!({"b": 1}))).unwrap());
    r.succeed_all();
    // Orquesta: a declared input that is not given is null.
    assert_eq!(r.output(), json!({"a": null}));
    let err = Conductor::new(s, obj(json!({"a": 1, "b": 2, "bogus": 3}))).unwrap_err();
    assert!(matches!(err, WorkflowError::UnknownInput { .. }));
    assert_eq!(
        err.to_string(),
        "unknown input: bogus (the workflow accepts: a, b, c)"
    );
}

#[test]
fn tasks_without_action_complete_inside_the_conductor_core_noop_is_an_action() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  start:
    next:
      - publish: [{seen: start}]
        do: noop_task
  noop_task:
    action: core.noop
    next:
      - do: real
  real:
    action: core.echo message=<% ctx(seen) %>
"#,
        json!({}),
    );
    // Tasks without an action complete inside the conductor; core.noop is
    // an action like any other (StackStorm runs it with the noop runner).
    r.assert_seq(&["noop_task"]);
    r.ok("noop_task", json!({}));
    r.assert_seq(&["noop_task", "real"]);
    assert_eq!(r.request("real").input, obj(json!({"message": "start"})));
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn task_input_is_rendered_at_any_depth_and_keeps_types() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
input: [hosts, port]
tasks:
  t:
    action: core.http
    input:
      hosts: <% ctx(hosts) %>
      nested:
        list: [<% ctx(port) %>, "port is <% ctx(port) %>", plain]
        flag: <% ctx(port) > 80 %>
"#,
        json!({"hosts": ["a", "b"], "port": 8080}),
    );
    assert_eq!(
        r.request("t").input,
        obj(json!({
            "hosts": ["a", "b"],
            "nested": {"list": [8080, "port is 8080", "plain"], "flag": true}
        }))
    );
    r.succeed_all();
}

#[test]
fn graph_lists_tasks_in_definition_order() {
    let r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  b:
    action: core.echo
    next:
      - do: [c, fail]
      - when: <% failed() %>
        do: c, d
  c: {action: core.noop}
  d: {}
"#,
        json!({}),
    );
    let g = serde_json::to_value(r.conductor.graph()).unwrap();
    assert_eq!(
        g,
        json!([
            {"name": "b", "action": "core.echo", "next": ["c", "d"]},
            {"name": "c", "action": "core.noop", "next": []},
            {"name": "d", "action": null, "next": []}
        ])
    );
}

#[test]
fn later_publishes_override_and_see_earlier_ones() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
vars:
  - x: 1
tasks:
  t1:
    action: core.echo
    next:
      - publish:
          - x: <% ctx(x) + 10 %>
          - y: <% ctx(x) * 2 %>
        do: t2
  t2:
    action: core.echo
    next:
      - publish: [{x: final}]
output:
  - x: <% ctx(x) %>
  - y: <% ctx(y) %>
"#,
        json!({}),
    );
    r.succeed_all();
    assert_eq!(r.output(), json!({"x": "final", "y": 22}));
}

#[test]
fn workflow_with_only_noop_tasks_succeeds_at_start() {
    let mut c = Conductor::new(
        spec("version: 1.0\ntasks:\n  a:\n    next: [{publish: 'n=1', do: b}]\n  b: {}\noutput:\n  - n: <% ctx(n) %>\n"),
        obj(json!({})),
    )
    .unwrap();
    assert!(c.start(&stormdesk_workflow::NoKv).is_empty());
    assert_eq!(c.status(), WorkflowStatus::Succeeded);
    // StackStorm's result of a workflow that succeeded has no `errors`.
    assert_eq!(c.result(), json!({"output": {"n": 1}}));
}
