//! Workflows conducted by the engine with real child executions: nesting,
//! push and poll completion, failures, cancel, pause and resume cascades.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map, Value};
use stormdesk_engine::workflow::CompletionMode;
use stormdesk_engine::{Engine, Event, Execution, RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `wf.<name>`: metadata with the given parameters, definition under workflows/.
fn workflow(dir: &Path, name: &str, params: &str, definition: &str) {
    write(
        &dir.join(format!("actions/{name}.yaml")),
        &format!(
            "name: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\nparameters:\n{params}"
        ),
    );
    write(
        &dir.join(format!("actions/workflows/{name}.yaml")),
        definition,
    );
}

/// Pack `wf` next to the test pack `t`.
fn wf_pack(fx: &Fixture) {
    let dir = fx.packs.join("wf");
    write(
        &dir.join("pack.yaml"),
        "ref: wf\nname: wf\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/exit.yaml"),
        "name: exit\nrunner_type: local-shell-cmd\nparameters:\n  code: {type: integer, required: true}\n  cmd: {immutable: true, default: 'echo failing >&2; exit {{code}}'}\n",
    );
    workflow(
        &dir,
        "seq",
        "  who: {type: string, default: ops}\n",
        r#"version: 1.0
input:
  - who
tasks:
  first:
    action: t.echo
    input:
      msg: "one <% ctx().who %>"
    next:
      - when: <% succeeded() %>
        publish:
          - a: <% result().stdout %>
        do: second
  second:
    action: t.echo
    input:
      msg: "{{ ctx('a') }} two"
    next:
      - when: <% succeeded() %>
        publish:
          - b: <% result().stdout %>
output:
  - a: <% ctx().a %>
  - b: <% ctx().b %>
"#,
    );
    // Four levels: l1 -> l2 -> l3 -> l4 -> t.echo
    for (level, child) in [(1, "wf.l2"), (2, "wf.l3"), (3, "wf.l4")] {
        workflow(
            &dir,
            &format!("l{level}"),
            "  msg: {type: string, default: deep}\n",
            &format!(
                r#"version: 1.0
input:
  - msg
tasks:
  down:
    action: {child}
    input:
      msg: <% ctx().msg %>-{level}
    next:
      - when: <% succeeded() %>
        publish:
          - got: <% result().output.got %>
output:
  - got: <% ctx().got %>
"#
            ),
        );
    }
    workflow(
        &dir,
        "l4",
        "  msg: {type: string, required: true}\n",
        r#"version: 1.0
input:
  - msg
tasks:
  leaf:
    action: t.echo
    input:
      msg: <% ctx().msg %>-4
    next:
      - when: <% succeeded() %>
        publish:
          - got: <% result().stdout %>
output:
  - got: <% ctx().got %>
"#,
    );
    workflow(
        &dir,
        "fails",
        "",
        r#"version: 1.0
vars:
  - note: before
tasks:
  boom:
    action: wf.exit
    input:
      code: 4
    next:
      - when: <% succeeded() %>
        do: never
  never:
    action: t.echo
    input:
      msg: unreachable
output:
  - note: <% ctx().note %>
"#,
    );
    workflow(
        &dir,
        "unknown_action",
        "",
        "version: 1.0\ntasks:\n  ghost:\n    action: t.nope\n",
    );
    // A gate inside a child workflow, then a task after it.
    workflow(
        &dir,
        "gated",
        "  fifo: {type: string, required: true}\n",
        r#"version: 1.0
input:
  - fifo
tasks:
  wait:
    action: t.gate
    input:
      fifo: <% ctx().fifo %>
    next:
      - when: <% succeeded() %>
        do: after
  after:
    action: t.echo
    input:
      msg: after the gate
    next:
      - when: <% succeeded() %>
        publish:
          - done: <% result().stdout %>
output:
  - done: <% ctx().done %>
"#,
    );
    workflow(
        &dir,
        "outer",
        "  fifo: {type: string, required: true}\n",
        r#"version: 1.0
input:
  - fifo
tasks:
  inner:
    action: wf.gated
    input:
      fifo: <% ctx().fifo %>
    next:
      - when: <% succeeded() %>
        publish:
          - done: <% result().output.done %>
output:
  - done: <% ctx().done %>
"#,
    );
    workflow(
        &dir,
        "items",
        "",
        r#"version: 1.0
vars:
  - hosts: [a, b, c, d, e]
tasks:
  each:
    with:
      items: h in <% ctx().hosts %>
      concurrency: 2
    action: t.echo
    input:
      msg: host <% item(h) %>
    next:
      - when: <% succeeded() %>
        publish:
          - outs: "{{ result() | map(attribute='stdout') | list }}"
        do: [left, right]
  left:
    action: t.echo
    input:
      msg: left
    next:
      - do: joined
  right:
    action: t.echo
    input:
      msg: right
    next:
      - do: joined
  joined:
    join: all
    action: t.echo
    input:
      msg: joined
output:
  - outs: <% ctx().outs %>
"#,
    );
}

async fn engine_with(fx: &Fixture, mode: CompletionMode) -> Engine {
    let mut opts = fx.options();
    opts.completion = mode;
    Engine::start(opts).await.unwrap()
}

fn run(action: &str, p: Map<String, Value>) -> RunRequest {
    RunRequest {
        action: action.into(),
        parameters: p,
        content_version: None,
        ..Default::default()
    }
}

fn task_of(e: &Execution) -> &str {
    e.task_name().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_workflow_publishes_and_outputs_with_real_children() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let engine = fx.engine().await;
    let e = engine.run(run("wf.seq", Map::new())).await.unwrap();
    assert_eq!(e.runner_name(), "orquesta");
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result,
        json!({"output": {"a": "one ops", "b": "one ops two"}})
    );
    let children = engine.descendants(&e.id, -1).await.unwrap();
    let tasks: Vec<&str> = children.iter().map(task_of).collect();
    assert_eq!(tasks, ["first", "second"]);
    for c in &children {
        assert_eq!(c.parent.as_deref(), Some(e.id.as_str()));
        assert_eq!(c.status, Status::Succeeded);
        assert_eq!(c.context["orquesta"]["task_route"], json!(0));
        assert_eq!(c.context["orquesta"]["attempt"], json!(0));
    }
    let graph = engine.workflow_graph(&e.id).await.unwrap();
    assert_eq!(
        graph["tasks"],
        json!([
            {"name": "first", "action": "t.echo", "next": ["second"]},
            {"name": "second", "action": "t.echo", "next": []}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_levels_of_nesting_complete_by_push() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let engine = fx.engine().await;
    let e = engine.run(run("wf.l1", Map::new())).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["got"], json!("deep-1-2-3-4"));
    let all = engine.descendants(&e.id, -1).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|c| c.action_ref()).collect();
    assert_eq!(actions, ["wf.l2", "wf.l3", "wf.l4", "t.echo"]);
    // Each level's parent is the one above.
    let mut parent = e.id.clone();
    for c in &all {
        assert_eq!(c.parent.as_ref(), Some(&parent));
        parent = c.id.clone();
    }
    assert_eq!(engine.descendants(&e.id, 1).await.unwrap().len(), 1);
    assert_eq!(engine.descendants(&e.id, 2).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_completion_reaches_the_same_result() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let engine = engine_with(&fx, CompletionMode::Poll(Duration::from_millis(50))).await;
    let e = engine.run(run("wf.l1", Map::new())).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["got"], json!("deep-1-2-3-4"));
    let e = engine.run(run("wf.items", Map::new())).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_keeps_item_order_and_a_join_waits_for_both_branches() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let engine = fx.engine().await;
    // That at most (and exactly) 2 items run at once is shown with items
    // that block: claims::with_items_runs_exactly_concurrency_items_at_once.
    let e = engine.run(run("wf.items", Map::new())).await.unwrap();
    let id = e.id.clone();
    let done = finished(&engine, &id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["output"]["outs"],
        json!(["host a", "host b", "host c", "host d", "host e"])
    );
    let children = engine.descendants(&id, 1).await.unwrap();
    let mut items: Vec<u64> = children
        .iter()
        .filter(|c| task_of(c) == "each")
        .map(|c| c.context["orquesta"]["item_id"].as_u64().unwrap())
        .collect();
    items.sort();
    assert_eq!(items, [0, 1, 2, 3, 4]);
    let joined: Vec<&Execution> = children.iter().filter(|c| task_of(c) == "joined").collect();
    assert_eq!(joined.len(), 1, "the join runs once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_fails_the_workflow_with_errors_and_output() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let engine = fx.engine().await;
    let e = engine.run(run("wf.fails", Map::new())).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Failed, "{}", done.result);
    assert_eq!(done.result["output"], json!({"note": "before"}));
    let errors = done.result["errors"].as_array().unwrap();
    assert_eq!(errors[0]["task_id"], json!("boom"), "{errors:?}");
    let tasks: Vec<String> = engine
        .descendants(&e.id, 1)
        .await
        .unwrap()
        .iter()
        .map(|c| task_of(c).to_string())
        .collect();
    assert_eq!(tasks, ["boom"], "nothing after the failure runs");

    // A task whose action does not exist is refused before anything runs,
    // with StackStorm's inspection message (`inspect_task_contents`).
    let err = engine
        .run(run("wf.unknown_action", Map::new()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "task \"ghost\" action: The action \"t.nope\" is not registered in the database."
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_and_inputs_are_refused_before_anything_runs() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let dir = fx.packs.join("wf");
    workflow(
        &dir,
        "broken",
        "",
        "version: 1.0\ntasks:\n  a:\n    action: t.echo\n    next:\n      - do: b_typo\n  b:\n    action: t.echo\n",
    );
    let engine = fx.engine().await;
    let err = engine.run(run("wf.broken", Map::new())).await.unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.code(), "invalid_input");
    assert!(
        msg.contains("workflow 'wf.broken' cannot start") && msg.contains("b_typo"),
        "{msg}"
    );
    let err = engine.run(run("wf.l4", Map::new())).await.unwrap_err();
    assert!(err.to_string().contains("msg"), "{err}");
    assert!(engine
        .executions(Default::default())
        .await
        .unwrap()
        .is_empty());
}

/// Starts `wf.outer` (-> `wf.gated` -> `t.gate` on a fifo) and returns once the
/// gate action runs two levels down: the workflow, the gate, the fifo that
/// opens it, and the event stream subscribed before the start.
async fn outer_at_the_gate(
    fx: &Fixture,
    engine: &Engine,
) -> (
    Execution,
    Execution,
    std::path::PathBuf,
    tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
) {
    wf_pack(fx);
    engine.reload_packs();
    let mut rx = engine.subscribe();
    let fifo = fx.path("gate");
    mkfifo(&fifo);
    let e = engine
        .run(run(
            "wf.outer",
            params(&[("fifo", json!(fifo.to_str().unwrap()))]),
        ))
        .await
        .unwrap();
    let gate = wait_for(&mut rx, |ev| {
        matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
    })
    .await;
    let Event::Execution {
        execution: gate, ..
    } = gate
    else {
        unreachable!()
    };
    (e, *gate, fifo, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_cascades_through_every_level_and_kills_the_action() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (e, gate, _fifo, _rx) = outer_at_the_gate(&fx, &engine).await;
    let canceling = engine.cancel(&e.id).await.unwrap();
    assert!(matches!(
        canceling.status,
        Status::Canceling | Status::Canceled
    ));
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled);
    for c in engine.descendants(&e.id, -1).await.unwrap() {
        assert_eq!(
            c.status,
            Status::Canceled,
            "{} {}",
            c.action_ref(),
            c.status
        );
    }
    let pid = gate.context["pid"].as_u64().unwrap() as u32;
    assert!(pid_gone(pid), "the gate's process was killed");
    // `after` never ran.
    assert!(engine
        .descendants(&e.id, -1)
        .await
        .unwrap()
        .iter()
        .all(|c| task_of(c) != "after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_cascade_through_nested_workflows() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (e, _gate, fifo, mut rx) = outer_at_the_gate(&fx, &engine).await;
    let pausing = engine.pause(&e.id).await.unwrap();
    assert_eq!(pausing.status, Status::Pausing, "the gate still runs");
    let inner = engine.descendants(&e.id, 1).await.unwrap().remove(0);
    assert_eq!(
        engine.execution(&inner.id).await.unwrap().status,
        Status::Pausing
    );

    // The gate finishes: nothing new starts, both levels become paused.
    std::fs::write(&fifo, "go\n").unwrap();
    wait_status(&mut rx, &e.id, Status::Paused).await;
    assert_eq!(
        engine.execution(&inner.id).await.unwrap().status,
        Status::Paused
    );
    let tasks: Vec<String> = engine
        .descendants(&e.id, -1)
        .await
        .unwrap()
        .iter()
        .map(|c| task_of(c).to_string())
        .collect();
    assert_eq!(tasks, ["inner", "wait"], "`after` is held while paused");

    // Pausing an action is refused clearly.
    let gate = engine.descendants(&inner.id, 1).await.unwrap().remove(0);
    let err = engine.pause(&gate.id).await.unwrap_err();
    assert!(
        err.to_string().contains("only workflows can be paused"),
        "{err}"
    );

    let resumed = engine.resume(&e.id).await.unwrap();
    assert_eq!(resumed.status, Status::Running);
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["done"], json!("after the gate"));
    let err = engine.resume(&e.id).await.unwrap_err();
    assert_eq!(err.code(), "conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subworkflow_paused_alone_pauses_its_idle_parent_and_its_resume_resumes_it() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (e, _gate, fifo, mut rx) = outer_at_the_gate(&fx, &engine).await;
    let inner = engine.descendants(&e.id, 1).await.unwrap().remove(0);
    assert_eq!(
        engine.pause(&inner.id).await.unwrap().status,
        Status::Pausing
    );
    assert_eq!(
        engine.execution(&e.id).await.unwrap().status,
        Status::Running,
        "the parent runs while its subworkflow is pausing"
    );
    // The gate finishes: the subworkflow pauses, and its parent, which has
    // nothing else active, pauses too (StackStorm's semantics).
    std::fs::write(&fifo, "go\n").unwrap();
    wait_status(&mut rx, &inner.id, Status::Paused).await;
    wait_status(&mut rx, &e.id, Status::Paused).await;
    // Resuming the subworkflow resumes the parent.
    engine.resume(&inner.id).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_a_subworkflow_cancels_its_parent() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (e, _gate, _fifo, _rx) = outer_at_the_gate(&fx, &engine).await;
    let inner = engine.descendants(&e.id, 1).await.unwrap().remove(0);
    engine.cancel(&inner.id).await.unwrap();
    assert_eq!(finished(&engine, &inner.id).await.status, Status::Canceled);
    assert_eq!(finished(&engine, &e.id).await.status, Status::Canceled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundled_example_workflow_succeeds() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let key = format!("test-{}", std::process::id());
    let cases: [(&str, Map<String, Value>, Value); 6] = [
        (
            "examples.greet_flow",
            params(&[("name", json!("ops"))]),
            json!({"greeting": "Hello, ops"}),
        ),
        (
            "examples.with_items",
            params(&[("names", json!(["a", "b", "c"]))]),
            json!({"greetings": ["Hello, a", "Hello, b", "Hello, c"]}),
        ),
        (
            "examples.retry",
            params(&[("key", json!(key))]),
            json!({"outcome": "attempt 3 succeeded"}),
        ),
        (
            "examples.error_handling",
            Map::new(),
            json!({"problem": "something went wrong", "cleaned": true}),
        ),
        (
            "examples.nested",
            params(&[("names", json!(["x", "y"]))]),
            json!({"greetings": ["Hello, x", "Hello, y"]}),
        ),
        ("examples.parallel_join", Map::new(), Value::Null),
    ];
    for (action, p, output) in cases {
        let e = engine.run(run(action, p)).await.unwrap();
        let done = finished(&engine, &e.id).await;
        assert_eq!(done.status, Status::Succeeded, "{action}: {}", done.result);
        if !output.is_null() {
            assert_eq!(done.result["output"], output, "{action}");
        }
    }
    // The retry example really retried: three attempts of the same task.
    let retried = engine
        .executions(stormdesk_engine::ExecutionFilter {
            action: Some("examples.flaky".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut attempts: Vec<u64> = retried
        .iter()
        .map(|e| e.context["orquesta"]["attempt"].as_u64().unwrap())
        .collect();
    attempts.sort();
    assert_eq!(attempts, [0, 1, 2]);
    // The nested example is three levels deep.
    let nested = engine
        .executions(stormdesk_engine::ExecutionFilter {
            action: Some("examples.nested".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let tree = engine.descendants(&nested[0].id, -1).await.unwrap();
    assert!(tree.iter().any(|e| e.action_ref() == "examples.greet_flow"));
    assert!(tree.iter().any(|e| e.action_ref() == "examples.countdown"));
}

/// Answers every request on a loopback port with `{"ok": true, "n": 7}`.
fn json_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let body = r#"{"ok": true, "n": 7}"#;
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_task_can_call_an_http_api_and_use_the_parsed_body() {
    let fx = Fixture::new();
    wf_pack(&fx);
    let dir = fx.packs.join("wf");
    write(
        &dir.join("actions/get.yaml"),
        "name: get\nrunner_type: http-request\nparameters:\n  url: {type: string, required: true}\n",
    );
    workflow(
        &dir,
        "api",
        "  url: {type: string, required: true}\n",
        r#"version: 1.0
input:
  - url
tasks:
  call:
    action: wf.get
    input:
      url: <% ctx().url %>/status
    next:
      - when: <% succeeded() and result().body.ok %>
        publish:
          - n: <% result().body.n %>
          - code: <% result().status_code %>
output:
  - n: <% ctx().n %>
  - code: <% ctx().code %>
"#,
    );
    let engine = fx.engine().await;
    let url = json_server();
    let e = engine
        .run(run("wf.api", params(&[("url", json!(url))])))
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"], json!({"n": 7, "code": 200}));
    let call = engine.descendants(&e.id, 1).await.unwrap().remove(0);
    assert_eq!(call.runner_name(), "http-request");
    assert_eq!(call.result["parsed"], json!(true));
}

/// `ctx(st2).api_url` is the API's public address, as StackStorm's
/// `get_full_public_api_url()`: the console's when the engine has one (it
/// is what `serve --listen` binds), else the engine's own listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctx_st2_api_url_is_the_address_people_use() {
    let fx = Fixture::new();
    let dir = fx.packs.join("ctxurl");
    write(
        &dir.join("pack.yaml"),
        "ref: ctxurl\nname: ctxurl\nversion: 0.1.0\n",
    );
    workflow(
        &dir,
        "url",
        "  {}\n",
        "version: 1.0\ntasks:\n  first:\n    action: core.noop\noutput:\n  - api: <% ctx(st2).api_url %>\n",
    );
    let engine = fx.engine().await;
    let own = finished(
        &engine,
        &engine.run(run("ctxurl.url", Map::new())).await.unwrap().id,
    )
    .await;
    assert_eq!(own.status, Status::Succeeded, "{}", own.result);
    assert_eq!(
        own.result["output"]["api"],
        json!(format!("{}/v1", engine.api_url()))
    );
    engine.set_console_url(Some("https://desk.example:9443".into()));
    let public = finished(
        &engine,
        &engine.run(run("ctxurl.url", Map::new())).await.unwrap().id,
    )
    .await;
    assert_eq!(
        public.result["output"]["api"],
        json!("https://desk.example:9443/v1")
    );
    engine.shutdown();
}
