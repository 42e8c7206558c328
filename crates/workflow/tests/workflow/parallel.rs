use serde_json::json;
use stormdesk_workflow::{TaskStatus, WorkflowStatus};

use crate::rehearsal::Rehearsal;

const BARRIER: &str = r#"
version: 1.0
tasks:
  setup_task:
    next:
      - do:
          - parallel_task_1
          - parallel_task_2
          - parallel_task_3
  parallel_task_1:
    action: core.noop_action
    next:
      - when: <% succeeded() %>
        do: barrier_task
  parallel_task_2:
    action: core.noop_action
    next:
      - when: <% succeeded() %>
        do: intermediate_task
  intermediate_task:
    action: core.noop_action
    next:
      - when: <% succeeded() %>
        do: barrier_task
  barrier_task:
    JOIN
    action: core.noop_action
  parallel_task_3:
    action: core.noop_action
"#;

#[test]
fn join_all_waits_for_every_inbound_branch() {
    let mut r = Rehearsal::new(&BARRIER.replace("JOIN", "join: all"), json!({}));
    r.assert_seq(&["parallel_task_1", "parallel_task_2", "parallel_task_3"]);
    assert!(r.ok("parallel_task_1", json!(null)).is_empty());
    r.ok("parallel_task_3", json!(null));
    r.ok("parallel_task_2", json!(null));
    assert!(r.ok("intermediate_task", json!(null)).len() == 1);
    r.succeed_all();
    r.assert_seq(&[
        "parallel_task_1",
        "parallel_task_2",
        "parallel_task_3",
        "intermediate_task",
        "barrier_task",
    ]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn without_join_the_task_runs_once_per_branch_on_its_own_route() {
    let mut r = Rehearsal::new(&BARRIER.replace("JOIN", ""), json!({}));
    r.ok("parallel_task_1", json!(null));
    r.ok("parallel_task_2", json!(null));
    r.ok("intermediate_task", json!(null));
    r.succeed_all();
    r.assert_seq(&[
        "parallel_task_1",
        "parallel_task_2",
        "parallel_task_3",
        "barrier_task#1",
        "intermediate_task",
        "barrier_task#2",
    ]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn join_n_runs_after_n_branches_and_again_for_a_late_branch() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  setup_task:
    next:
      - do: [p1, p2, p3]
  p1:
    action: a.b
    next: [{when: <% succeeded() %>, do: barrier_task}]
  p2:
    action: a.b
    next: [{when: <% succeeded() %>, do: barrier_task}]
  p3:
    action: a.b
    next: [{when: <% succeeded() %>, do: barrier_task}]
  barrier_task:
    join: 2
    action: a.c
"#,
        json!({}),
    );
    assert!(r.ok("p2", json!(null)).is_empty());
    assert_eq!(r.ok("p3", json!(null)).len(), 1);
    // As in Orquesta, a branch arriving after the join ran stages the join
    // again, and it is handed out once more (one task state entry).
    assert_eq!(r.ok("p1", json!(null)).len(), 1);
    r.succeed_all();
    r.assert_seq(&["p1", "p2", "p3", "barrier_task", "barrier_task"]);
    assert_eq!(r.conductor.sequence().len(), 4 + 1);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

/// Orquesta's `split` rehearsal: task4 is reached from task2 and task3, so
/// it and everything after it runs on two routes.
#[test]
fn split_routes_follow_orquesta_numbering() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  task1:
    action: core.noop_action
    next: [{when: <% succeeded() %>, do: [task2, task3]}]
  task2:
    action: core.noop_action
    next: [{when: <% succeeded() %>, do: task4}]
  task3:
    action: core.noop_action
    next: [{when: <% succeeded() %>, do: task4}]
  task4:
    action: core.noop_action
    next: [{when: <% succeeded() %>, do: task5}]
  task5:
    action: core.noop_action
    next: [{when: <% task_status(task2) = 'succeeded' %>, do: task6}]
  task6:
    action: core.noop_action
"#,
        json!({}),
    );
    r.succeed_all();
    r.assert_seq(&[
        "task1", "task2", "task3", "task4#1", "task4#2", "task5#1", "task5#2", "task6#1", "task6#2",
    ]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

/// Orquesta's `splits-mixed` alternate branch: a failure on one route
/// takes the other transition into the split task (task3__t1).
#[test]
fn split_routes_record_the_transition_taken() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  task1:
    action: x.y
    next: [{do: task3}]
  task2:
    action: x.y
    next: [{do: task3}]
  task3:
    action: x.y
    next:
      - when: <% succeeded() %>
        do: task4
      - when: <% failed() %>
        publish: route_failed=<% true %>
        do: task4
  task4:
    action: x.y
    input:
      failed_before: <% task_status(task3) %>
"#,
        json!({}),
    );
    r.script(&[
        ("task1", TaskStatus::Succeeded, json!(null)),
        ("task2", TaskStatus::Succeeded, json!(null)),
        ("task3#1", TaskStatus::Succeeded, json!(null)),
        ("task3#2", TaskStatus::Failed, json!(null)),
    ]);
    r.assert_seq(&["task1", "task2", "task3#1", "task3#2", "task4#3", "task4#4"]);
    assert_eq!(
        r.request("task4#3").input["failed_before"],
        json!("succeeded")
    );
    assert_eq!(r.request("task4#4").input["failed_before"], json!("failed"));
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded, "{:?}", r.errors());
}

#[test]
fn branch_contexts_merge_at_the_join_last_writer_wins() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
vars:
  - x: 0
  - a: null
  - b: null
tasks:
  task1:
    action: core.noop_action
    next:
      - publish: [{x: 123}, {a: from1}]
        do: task4
  task2:
    action: core.sleep delay=3
    next:
      - do: task3
  task3:
    action: core.noop_action
    next:
      - publish: x=789 b="from3"
        do: task4
  task4:
    join: all
    action: core.echo x=<% ctx(x) %> a=<% ctx(a) %> b=<% ctx(b) %>
output:
  - x: <% ctx(x) %>
"#,
        json!({}),
    );
    r.ok("task1", json!(null));
    r.ok("task2", json!(null));
    r.ok("task3", json!(null));
    assert_eq!(
        serde_json::Value::Object(r.request("task4").input.clone()),
        json!({"x": 789, "a": "from1", "b": "from3"})
    );
    r.succeed_all();
    assert_eq!(r.output(), json!({"x": 789}));
}

#[test]
fn output_merges_the_contexts_of_every_branch_end() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  a:
    action: x.y
    next: [{publish: from_a=1}]
  b:
    action: x.y
    next: [{publish: from_b=2}]
output:
  - a: <% ctx(from_a) %>
  - b: <% ctx(from_b) %>
"#,
        json!({}),
    );
    r.ok("b", json!(null));
    r.ok("a", json!(null));
    assert_eq!(r.output(), json!({"a": 1, "b": 2}));
}

#[test]
fn a_join_that_can_no_longer_be_met_fails_the_workflow() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - when: <% false %>
        do: t2
      - do: t3
  t2:
    action: x.y
    next: [{do: joined}]
  t3:
    action: x.y
    next: [{do: joined}]
  joined:
    join: all
    action: x.y
"#,
        json!({}),
    );
    r.succeed_all();
    r.assert_seq(&["t1", "t3"]);
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let errors = r.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["task_id"], "joined");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("unreachable"));
}

#[test]
fn fan_out_fan_in_with_publishes() {
    let mut yaml =
        String::from("version: 1.0\ntasks:\n  start:\n    action: x.y\n    next:\n      - do: [");
    let names: Vec<String> = (0..20).map(|i| format!("w{i}")).collect();
    yaml.push_str(&names.join(", "));
    yaml.push_str("]\n");
    for n in &names {
        yaml.push_str(&format!(
            "  {n}:\n    action: x.y\n    next:\n      - publish: {n}=<% result() %>\n        do: done\n"
        ));
    }
    yaml.push_str("  done:\n    join: all\n    action: x.z\n    input:\n      total: <% ctx(w0) + ctx(w19) %>\n");
    let mut r = Rehearsal::new(&yaml, json!({}));
    r.ok("start", json!(null));
    for (i, n) in names.iter().enumerate().rev() {
        r.ok(n, json!(i));
    }
    assert_eq!(r.request("done").input["total"], json!(19));
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}
