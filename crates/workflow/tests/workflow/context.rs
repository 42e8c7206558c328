//! The caller's context (StackStorm's `st2` and `parent`), the caller's
//! task execution records for `task()`, and lifecycle edges of the driver
//! contract.

use serde_json::{json, Map, Value};
use stormdesk_workflow::{Conductor, Env, NoKv, WorkflowError, WorkflowStatus};

use crate::rehearsal::{obj, spec, Rehearsal};

const USES_ST2: &str = r#"
version: 1.0
output:
  - callback: <% ctx(st2).api_url %>/executions/<% ctx(st2).action_execution_id %>
  - user: "{{ ctx().st2.user }}"
tasks:
  t:
    action: x.y
"#;

fn st2() -> Map<String, Value> {
    obj(json!({
        "st2": {
            "action_execution_id": "e1",
            "api_url": "http://st2/api/v1",
            "user": "stanley",
            "pack": "examples",
            "workflow_execution_id": "w1"
        },
        "parent": {"user": "stanley"}
    }))
}

#[test]
fn st2_context_is_defined_for_inspection_and_read_by_expressions() {
    // Without the caller's context, `ctx(st2)` is a variable used before
    // assignment, as Orquesta inspects it.
    match Conductor::new(spec(USES_ST2), Map::new()) {
        Err(WorkflowError::Inspection(errors)) => {
            assert!(errors[0].message.contains("\"st2\""), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
    let c = Conductor::with_context(spec(USES_ST2), Map::new(), st2()).unwrap();
    let mut r = Rehearsal::from_conductor(c);
    r.succeed_all();
    assert_eq!(
        r.output(),
        json!({"callback": "http://st2/api/v1/executions/e1", "user": "stanley"})
    );
}

/// The engine knows its child executions; `task()` shows their ids.
struct Records;

impl Env for Records {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn task_execution(&self, task: &str, route: u32) -> Option<Map<String, Value>> {
        Some(obj(json!({
            "task_execution_id": format!("{task}-{route}"),
            "start_timestamp": "2024-01-01T00:00:00Z",
            "end_timestamp": null
        })))
    }
}

#[test]
fn task_function_reports_the_latest_execution() {
    let yaml = r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - publish:
          - info: <% task(t1) %>
          - me: <% task().status %>
output:
  - info: <% ctx(info) %>
  - me: <% ctx(me) %>
"#;
    let mut c = Conductor::with_context(spec(yaml), Map::new(), st2()).unwrap();
    let issued = c.start(&Records);
    let key = issued[0].key.clone();
    c.on_task_result(
        stormdesk_workflow::TaskResult {
            key,
            status: stormdesk_workflow::TaskStatus::Succeeded,
            result: json!({"stdout": "hi"}),
        },
        &Records,
    );
    assert_eq!(c.status(), WorkflowStatus::Succeeded);
    assert_eq!(
        c.result()["output"],
        json!({
            "info": {
                "task_execution_id": "t1-0",
                "workflow_execution_id": "w1",
                "task_name": "t1",
                "task_id": "t1",
                "route": 0,
                "result": {"stdout": "hi"},
                "status": "succeeded",
                "start_timestamp": "2024-01-01T00:00:00Z",
                "end_timestamp": null
            },
            "me": "succeeded"
        })
    );
}

/// A caller that stores results itself: `task()` gets the result from it.
struct Stored;

impl Env for Stored {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn task_execution(&self, task: &str, _route: u32) -> Option<Map<String, Value>> {
        Some(obj(json!({"result": {"stdout": format!("stored {task}")}})))
    }
}

#[test]
fn results_kept_elsewhere_are_not_held_and_task_asks_for_them() {
    let yaml = r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - when: <% succeeded() %>
        publish:
          - now: <% result().stdout %>
        do: t2
  t2:
    action: x.y
    next:
      - publish:
          - then: <% task(t1).result.stdout %>
output:
  - now: <% ctx(now) %>
  - then: <% ctx(then) %>
"#;
    let mut c = Conductor::new(spec(yaml), Map::new()).unwrap();
    c.keep_results_elsewhere();
    let mut issued = c.start(&Stored);
    for _ in 0..2 {
        let key = issued.remove(0).key;
        issued = c.on_task_result(
            stormdesk_workflow::TaskResult {
                key,
                status: stormdesk_workflow::TaskStatus::Succeeded,
                result: json!({"stdout": "a big result the conductor does not keep"}),
            },
            &Stored,
        );
    }
    assert_eq!(c.status(), WorkflowStatus::Succeeded);
    // Transitions see the result as it came; later, task() sees the stored one.
    assert_eq!(
        c.result()["output"],
        json!({"now": "a big result the conductor does not keep", "then": "stored t1"})
    );
    // What was published stays; the records hold no result.
    let state = serde_json::to_value(&c).unwrap();
    for record in state["state"]["records"].as_object().unwrap().values() {
        assert_eq!(record["result"], json!({}), "{record}");
    }
}

#[test]
fn a_loop_of_tasks_without_action_is_stopped_with_a_clear_error() {
    // StackStorm would spin here forever: nothing in the loop waits.
    let mut c = Conductor::new(
        spec("version: 1.0\ntasks:\n  init:\n    next: [{do: spin}]\n  spin:\n    next: [{do: spin}]\n"),
        Map::new(),
    )
    .unwrap();
    assert!(c.start(&NoKv).is_empty());
    assert_eq!(c.status(), WorkflowStatus::Failed);
    let message = &c.errors()[0].message;
    assert!(
        message.starts_with("ActionlessLoopError: task \"spin\""),
        "{message}"
    );
}

#[test]
fn a_loop_through_core_noop_returns_a_request_each_time() {
    let mut r = Rehearsal::new(
        "version: 1.0\nvars: [{i: 0}]\ntasks:\n  init:\n    next: [{do: spin}]\n  spin:\n    action: core.noop\n    next:\n      - when: <% ctx(i) < 2 %>\n        publish: i=<% ctx(i) + 1 %>\n        do: spin\n",
        json!({}),
    );
    r.assert_seq(&["spin"]);
    r.ok("spin", json!(null));
    r.ok("spin", json!(null));
    r.ok("spin", json!(null));
    r.assert_seq(&["spin", "spin", "spin"]);
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
}

#[test]
fn pause_before_start_renders_input_on_resume() {
    let mut c = Conductor::new(
        spec("version: 1.0\ninput: [x]\ntasks:\n  t:\n    action: x.y v=<% ctx(x) %>\n"),
        obj(json!({"x": 7})),
    )
    .unwrap();
    c.request_pause();
    assert_eq!(c.status(), WorkflowStatus::Paused);
    assert!(c.start(&NoKv).is_empty(), "start does nothing while paused");
    let issued = c.request_resume(&NoKv);
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].input["v"], json!(7));
    assert_eq!(c.status(), WorkflowStatus::Running);
}
