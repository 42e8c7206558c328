//! ActionChains run by the engine with real child executions: publish and
//! Jinja, success and failure paths, nesting both ways, cancel, pause and
//! resume, inspection before anything runs, and StackStorm's own example
//! chains.

use std::path::Path;

use serde_json::{json, Map, Value};
use stormdesk_engine::{Engine, EngineOptions, Event, Execution, RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `c.<name>`: an action-chain action with `params` and chain file `chain`.
fn chain(dir: &Path, name: &str, params: &str, chain: &str) {
    write(
        &dir.join(format!("actions/{name}.yaml")),
        &format!(
            "name: {name}\nrunner_type: action-chain\nentry_point: chains/{name}.yaml\nparameters:\n{params}"
        ),
    );
    write(&dir.join(format!("actions/chains/{name}.yaml")), chain);
}

/// Pack `c`: chains over the test pack `t`, and a workflow either way.
fn chain_pack(fx: &Fixture) {
    let dir = fx.packs.join("c");
    write(&dir.join("pack.yaml"), "ref: c\nname: c\nversion: 0.1.0\n");
    chain(
        &dir,
        "seq",
        "  name: {type: string, default: world}\n",
        r#"vars:
  greeting: "hello {{ name }}"
chain:
  - name: first
    ref: t.echo
    params:
      msg: "{{ greeting }}"
    publish:
      said: "{{ first.stdout }}"
      both: "{{ first.stdout }} and {{ name }}"
    on-success: second
    on-failure: oops
  - name: second
    ref: t.echo
    params:
      msg: "got {{ said }} from {{ action_context.parent.execution_id }} ({{ first.stdout }})"
  - name: oops
    ref: t.echo
    params:
      msg: oops
"#,
    );
    write(
        &dir.join("actions/exit.yaml"),
        "name: exit\nrunner_type: local-shell-cmd\nparameters:\n  code: {type: integer, required: true}\n  cmd: {immutable: true, default: 'echo failing >&2; exit {{code}}'}\n",
    );
    chain(
        &dir,
        "recover",
        "",
        r#"chain:
  - name: breaks
    ref: c.exit
    params: {code: 3}
    on-failure: mend
  - name: mend
    ref: t.echo
    params:
      msg: "mended after {{ breaks.stderr }} ({{ breaks.return_code }})"
"#,
    );
    chain(
        &dir,
        "fails",
        "",
        r#"chain:
  - name: ok
    ref: t.echo
    params: {msg: fine}
    on-success: breaks
  - name: breaks
    ref: c.exit
    params: {code: 2}
"#,
    );
    chain(
        &dir,
        "gated",
        "  fifo: {type: string, required: true}\n",
        r#"chain:
  - name: wait
    ref: t.gate
    params:
      fifo: "{{ fifo }}"
    on-success: after
  - name: after
    ref: t.echo
    params:
      msg: "after {{ wait.stdout }}"
"#,
    );
    // A chain that runs a workflow that runs a chain.
    chain(
        &dir,
        "outer",
        "",
        r#"chain:
  - name: wf
    ref: c.middle
    params:
      who: chain
    publish:
      got: "{{ wf.output.said }}"
    on-success: last
  - name: last
    ref: t.echo
    params:
      msg: "outer saw {{ got }}"
"#,
    );
    write(
        &dir.join("actions/middle.yaml"),
        "name: middle\nrunner_type: orquesta\nentry_point: workflows/middle.yaml\nparameters:\n  who: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/middle.yaml"),
        r#"version: 1.0
input:
  - who
tasks:
  inner:
    action: c.seq
    input:
      name: <% ctx().who %>
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result().published.said %>
output:
  - said: <% ctx().said %>
"#,
    );
    chain(
        &dir,
        "unknown_ref",
        "",
        "chain:\n  - name: a\n    ref: t.echo\n    params: {msg: x}\n    on-success: b\n  - name: b\n    ref: nope.missing\n",
    );
    chain(
        &dir,
        "dangling",
        "",
        "chain:\n  - name: a\n    ref: t.echo\n    params: {msg: x}\n    on-failure: nowhere\n",
    );
    chain(
        &dir,
        "bad_template",
        "",
        "chain:\n  - name: a\n    ref: t.echo\n    params:\n      msg: \"{{ missing.attr }}\"\n",
    );
}

fn run(action: &str, p: Map<String, Value>) -> RunRequest {
    RunRequest::new(action, p)
}

fn names(result: &Value) -> Vec<String> {
    result["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_renders_publishes_and_records_every_link_as_a_child() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let e = engine.run(run("c.seq", Map::new())).await.unwrap();
    assert_eq!(e.runner_name(), "action-chain");
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(names(&done.result), ["first", "second"]);
    assert_eq!(
        done.result["published"],
        json!({"said": "hello world", "both": "hello world and world"})
    );
    let second = &done.result["tasks"][1];
    assert_eq!(
        second["result"]["stdout"],
        json!(format!("got hello world from {} (hello world)", e.id))
    );
    // StackStorm's entry shape.
    for key in [
        "id",
        "name",
        "execution_id",
        "liveaction_id",
        "workflow",
        "created_at",
        "updated_at",
        "state",
        "result",
    ] {
        assert!(second.get(key).is_some(), "{key} in {second}");
    }
    assert_eq!(second["state"], json!("succeeded"));
    assert!(second["created_at"].as_str().unwrap().ends_with("+00:00"));
    let children = engine.descendants(&e.id, -1).await.unwrap();
    assert_eq!(children.len(), 2);
    for (child, task) in children
        .iter()
        .zip(done.result["tasks"].as_array().unwrap())
    {
        assert_eq!(child.parent.as_deref(), Some(e.id.as_str()));
        assert_eq!(task["execution_id"].as_str(), Some(child.id.as_str()));
        assert_eq!(child.context["chain"]["name"], task["name"]);
        assert_eq!(child.context["parent"]["execution_id"], json!(e.id));
        assert!(child.context.get("orquesta").is_none());
    }

    // display_published: false leaves `published` out.
    let quiet = engine
        .run(run("c.seq", params(&[("display_published", json!(false))])))
        .await
        .unwrap();
    let quiet = finished(&engine, &quiet.id).await;
    assert_eq!(quiet.status, Status::Succeeded);
    assert!(quiet.result.get("published").is_none(), "{}", quiet.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_paths_follow_on_failure_and_set_the_chain_status() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let mended = engine.run(run("c.recover", Map::new())).await.unwrap();
    let mended = finished(&engine, &mended.id).await;
    assert_eq!(mended.status, Status::Succeeded, "{}", mended.result);
    assert_eq!(names(&mended.result), ["breaks", "mend"]);
    assert_eq!(mended.result["tasks"][0]["state"], json!("failed"));
    assert_eq!(
        mended.result["tasks"][1]["result"]["stdout"],
        json!("mended after failing (3)")
    );

    let failed = engine.run(run("c.fails", Map::new())).await.unwrap();
    let failed = finished(&engine, &failed.id).await;
    assert_eq!(failed.status, Status::Failed, "{}", failed.result);
    assert_eq!(names(&failed.result), ["ok", "breaks"]);
    assert!(failed.result.get("error").is_none());

    // A template that cannot render stops the chain with StackStorm's error.
    let bad = engine.run(run("c.bad_template", Map::new())).await.unwrap();
    let bad = finished(&engine, &bad.id).await;
    assert_eq!(bad.status, Status::Failed);
    let error = bad.result["error"].as_str().unwrap();
    assert!(
        error.starts_with("Failed to run task \"a\". Parameter rendering failed.. Failed rendering value for action parameter \"msg\" in task \"a\" (template string={{ missing.attr }})"),
        "{error}"
    );
    assert_eq!(bad.result["tasks"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_files_are_inspected_before_anything_runs() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let err = engine
        .run(run("c.unknown_ref", Map::new()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("link \"b\" (#2)") && text.contains("nope.missing"),
        "{text}"
    );
    assert_eq!(err.code(), "invalid_input");
    let err = engine.run(run("c.dangling", Map::new())).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "Unable to find node with name \"nowhere\" referenced in \"on-failure\" in task \"a\""
        ),
        "{err}"
    );
    let all = engine
        .executions(stormdesk_engine::ExecutionFilter::default())
        .await
        .unwrap();
    assert!(all.is_empty(), "nothing was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_workflows_nest_both_ways() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let e = engine.run(run("c.outer", Map::new())).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["published"]["got"], json!("hello chain"));
    assert_eq!(
        done.result["tasks"][1]["result"]["stdout"],
        json!("outer saw hello chain")
    );
    let tree = engine.descendants(&e.id, -1).await.unwrap();
    let refs: Vec<&str> = tree.iter().map(|c| c.action_ref()).collect();
    assert_eq!(refs, ["c.middle", "c.seq", "t.echo", "t.echo", "t.echo"]);
    let inner = &tree[1];
    assert_eq!(
        inner.task_name(),
        Some("inner"),
        "the chain is a workflow task"
    );
    assert_eq!(tree[2].parent.as_deref(), Some(inner.id.as_str()));
}

/// Starts `action` with a fresh fifo and returns once its `t.gate` runs:
/// the execution, the fifo, the event stream, and the gate's execution.
async fn at_the_gate(
    fx: &Fixture,
    engine: &Engine,
    action: &str,
) -> (
    Execution,
    std::path::PathBuf,
    tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
) {
    let (e, fifo, rx, _) = at_the_gate_with(fx, engine, action).await;
    (e, fifo, rx)
}

async fn at_the_gate_with(
    fx: &Fixture,
    engine: &Engine,
    action: &str,
) -> (
    Execution,
    std::path::PathBuf,
    tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
    Execution,
) {
    let mut rx = engine.subscribe();
    let fifo = fx.path("gate");
    mkfifo(&fifo);
    let e = engine
        .run(run(
            action,
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
    (e, fifo, rx, *gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_chain_lets_the_running_link_finish_then_stops() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let (e, fifo, _rx) = at_the_gate(&fx, &engine, "c.gated").await;
    let canceling = engine.cancel(&e.id).await.unwrap();
    assert_eq!(canceling.status, Status::Canceling);
    std::fs::write(&fifo, "go\n").unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled, "{}", done.result);
    assert_eq!(names(&done.result), ["wait"], "`after` never ran");
    assert_eq!(done.result["tasks"][0]["state"], json!("succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_chain_holds_its_result_and_goes_on_when_resumed() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let engine = fx.engine().await;
    let (e, fifo, mut rx) = at_the_gate(&fx, &engine, "c.gated").await;
    let pausing = engine.pause(&e.id).await.unwrap();
    assert_eq!(pausing.status, Status::Pausing);
    std::fs::write(&fifo, "go\n").unwrap();
    wait_status(&mut rx, &e.id, Status::Paused).await;
    let paused = engine.execution(&e.id).await.unwrap();
    assert_eq!(names(&paused.result), ["wait"]);
    assert!(paused.context.contains_key("vars"));
    assert_eq!(engine.descendants(&e.id, -1).await.unwrap().len(), 1);
    let err = engine.pause(&e.id).await.unwrap_err();
    assert_eq!(err.code(), "conflict");

    let resumed = engine.resume(&e.id).await.unwrap();
    assert!(matches!(
        resumed.status,
        Status::Running | Status::Succeeded
    ));
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(names(&done.result), ["wait", "after"]);
    assert_eq!(
        done.result["tasks"][1]["result"]["stdout"],
        json!("after waiting\ndone-go")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_in_a_workflow_pauses_and_cancels_with_it() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let dir = fx.packs.join("c");
    write(
        &dir.join("actions/wrap.yaml"),
        "name: wrap\nrunner_type: orquesta\nentry_point: workflows/wrap.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/wrap.yaml"),
        "version: 1.0\ninput:\n  - fifo\ntasks:\n  gated:\n    action: c.gated\n    input:\n      fifo: <% ctx().fifo %>\noutput:\n  - tasks: <% task(gated).result.tasks.len() %>\n",
    );
    let engine = fx.engine().await;
    let (e, fifo, mut rx, gate) = at_the_gate_with(&fx, &engine, "c.wrap").await;
    let chain = engine
        .execution(gate.parent.as_deref().unwrap())
        .await
        .unwrap();
    engine.pause(&e.id).await.unwrap();
    assert_eq!(
        engine.execution(&chain.id).await.unwrap().status,
        Status::Pausing
    );
    std::fs::write(&fifo, "go\n").unwrap();
    wait_status(&mut rx, &e.id, Status::Paused).await;
    assert_eq!(
        engine.execution(&chain.id).await.unwrap().status,
        Status::Paused
    );
    engine.resume(&e.id).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["tasks"], json!(2));
}

fn st2_examples_options(fx: &Fixture) -> Option<EngineOptions> {
    let packs = std::env::var_os("STORMDESK_ST2_PACKS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/st2-packs"));
    if !packs.join("examples/pack.yaml").is_file() {
        let msg = format!("StackStorm's packs are not at {}", packs.display());
        if std::env::var_os("STORMDESK_ST2_PACKS_OPTIONAL").is_some_and(|v| v == "1") {
            eprintln!("SKIPPED: {msg}");
            return None;
        }
        panic!("{msg}: set STORMDESK_ST2_PACKS");
    }
    let mut opts = fx.options();
    opts.no_examples = true;
    opts.pack_dirs = vec![packs.join("examples")];
    Some(opts)
}

#[derive(serde::Deserialize)]
struct ExampleCase {
    action: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    kv: Vec<ExampleKey>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    stdout: Map<String, Value>,
    #[serde(default)]
    published: Option<Value>,
    #[serde(default)]
    refused: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ExampleKey {
    name: String,
    value: String,
    #[serde(default)]
    secret: bool,
    scope: String,
}

/// StackStorm's example chains that need only supported runners, with the
/// results their definitions describe (`data/st2_example_chains.yaml`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_example_chains_run_with_stackstorms_results() {
    let fx = Fixture::new();
    let Some(opts) = st2_examples_options(&fx) else {
        return;
    };
    #[derive(serde::Deserialize)]
    struct File {
        cases: Vec<ExampleCase>,
    }
    let file: File = serde_yaml::from_str(include_str!("data/st2_example_chains.yaml")).unwrap();
    let engine = Engine::start(opts).await.unwrap();
    let mut failures = Vec::new();
    for case in file.cases {
        for key in &case.kv {
            let scope = stormdesk_engine::keys::KeyScope::parse(&key.scope).unwrap();
            let mut set = stormdesk_engine::keys::KeySet::new(scope, &key.name, &key.value);
            set.secret = key.secret;
            if scope == stormdesk_engine::keys::KeyScope::User {
                set.user = Some(engine.local_user().to_string());
            }
            engine.key_set(set).await.unwrap();
        }
        let action = case.action.clone();
        let started = engine.run(run(&action, case.parameters.clone())).await;
        if !case.refused.is_empty() {
            match started {
                Ok(e) => failures.push(format!("{action}: ran ({}), expected a refusal", e.id)),
                Err(err) => {
                    let text = err.to_string();
                    if !case.refused.iter().all(|w| text.contains(w.as_str())) {
                        failures.push(format!("{action}: refused with {text}"));
                    }
                }
            }
            continue;
        }
        let e = match started {
            Ok(e) => e,
            Err(err) => {
                failures.push(format!("{action}: {err}"));
                continue;
            }
        };
        let done = finished(&engine, &e.id).await;
        if Some(done.status) != case.status {
            failures.push(format!("{action}: {} {}", done.status, done.result));
            continue;
        }
        if names(&done.result) != case.tasks {
            failures.push(format!("{action}: links {:?}", names(&done.result)));
        }
        for (link, want) in &case.stdout {
            let got = done.result["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == json!(link))
                .map(|t| t["result"]["stdout"].clone());
            if got.as_ref() != Some(want) {
                failures.push(format!("{action}: {link} stdout {got:?}, expected {want}"));
            }
        }
        if let Some(published) = &case.published {
            if &done.result["published"] != published {
                failures.push(format!("{action}: published {}", done.result["published"]));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// StackStorm's pause/resume and cancel chains, driven as its integration
/// tests drive them (`st2tests/integration/.../test_wiring_pause_and_resume`,
/// the chain cases): the first link waits while a temporary file exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_pause_resume_and_cancel_chains() {
    let fx = Fixture::new();
    let Some(opts) = st2_examples_options(&fx) else {
        return;
    };
    let engine = Engine::start(opts).await.unwrap();
    let start = |action: &'static str, n: usize| {
        let engine = engine.clone();
        let path = fx.path(&format!("tempfile-{n}"));
        async move {
            std::fs::write(&path, "").unwrap();
            let mut rx = engine.subscribe();
            let e = engine
                .run(run(
                    action,
                    params(&[
                        ("tempfile", json!(path.to_str().unwrap())),
                        ("message", json!("foobar")),
                    ]),
                ))
                .await
                .unwrap();
            // The command that waits on the file runs.
            wait_for(&mut rx, |ev| {
                matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "core.local" && execution.status == Status::Running)
            })
            .await;
            (e, path, rx)
        }
    };

    // Pause and resume, with the first link an action, then a chain. (The
    // `-with-subworkflow` variants run `orquesta-test-*` workflows that read
    // `<% $.tempfile %>`, which Orquesta 1.2.0 refuses, and so does
    // Stormdesk: `$` is null outside a query (the workflow crate's
    // differential cases, `yaql-dollar-unbound`).
    // A chain running a workflow pauses and cancels in
    // `a_chain_pauses_and_cancels_the_workflow_it_runs`.)
    for (n, action) in [
        "examples.chain-test-pause-resume",
        "examples.chain-test-pause-resume-with-subchain",
    ]
    .into_iter()
    .enumerate()
    {
        let (e, path, mut rx) = start(action, n).await;
        let pausing = engine.pause(&e.id).await.unwrap();
        assert_eq!(pausing.status, Status::Pausing, "{action}");
        let first = engine.execution(&e.id).await.unwrap().children[0].clone();
        let sub = engine.execution(&first).await.unwrap();
        if sub.runner_name() != "local-shell-cmd" {
            // The sub-chain pauses too.
            wait_status(&mut rx, &sub.id, Status::Pausing).await;
        }
        std::fs::remove_file(&path).unwrap();
        wait_status(&mut rx, &e.id, Status::Paused).await;
        if sub.runner_name() != "local-shell-cmd" {
            assert_eq!(
                engine.execution(&sub.id).await.unwrap().status,
                Status::Paused
            );
        }
        engine.resume(&e.id).await.unwrap();
        let done = finished(&engine, &e.id).await;
        assert_eq!(done.status, Status::Succeeded, "{action}: {}", done.result);
        assert_eq!(names(&done.result), ["task1", "task2"], "{action}");
        assert_eq!(
            engine.execution(&sub.id).await.unwrap().status,
            Status::Succeeded,
            "{action}"
        );
    }

    // Cancel: the action link finishes first; a workflow link is canceled.
    let (e, path, _rx) = start("examples.chain-test-cancel", 10).await;
    assert_eq!(
        engine.cancel(&e.id).await.unwrap().status,
        Status::Canceling
    );
    std::fs::remove_file(&path).unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled, "{}", done.result);
    assert_eq!(names(&done.result), ["task1"]);
    assert_eq!(done.result["tasks"][0]["state"], json!("succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_pauses_and_cancels_the_workflow_it_runs() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let dir = fx.packs.join("c");
    write(
        &dir.join("actions/gated_wf.yaml"),
        "name: gated_wf\nrunner_type: orquesta\nentry_point: workflows/gated_wf.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/gated_wf.yaml"),
        "version: 1.0\ninput:\n  - fifo\ntasks:\n  wait:\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n    next:\n      - do: after\n  after:\n    action: t.echo\n    input:\n      msg: after\n",
    );
    chain(
        &dir,
        "runs_wf",
        "  fifo: {type: string, required: true}\n",
        "chain:\n  - name: wf\n    ref: c.gated_wf\n    params:\n      fifo: \"{{ fifo }}\"\n    on-success: last\n  - name: last\n    ref: t.echo\n    params: {msg: last}\n",
    );
    let engine = fx.engine().await;
    let (e, fifo, mut rx, gate) = at_the_gate_with(&fx, &engine, "c.runs_wf").await;
    let wf = engine
        .execution(gate.parent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(engine.pause(&e.id).await.unwrap().status, Status::Pausing);
    // The chain asks the workflow to pause (on a task of its own).
    wait_status(&mut rx, &wf.id, Status::Pausing).await;
    std::fs::write(&fifo, "go\n").unwrap();
    wait_status(&mut rx, &e.id, Status::Paused).await;
    assert_eq!(
        engine.execution(&wf.id).await.unwrap().status,
        Status::Paused
    );
    let paused = engine.execution(&e.id).await.unwrap();
    assert_eq!(paused.result["tasks"][0]["state"], json!("paused"));
    engine.resume(&e.id).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(names(&done.result), ["wf", "last"]);
    assert_eq!(done.result["tasks"][0]["state"], json!("succeeded"));

    // Cancel reaches the workflow (and its action) at once.
    let fifo2 = fx.path("gate2");
    mkfifo(&fifo2);
    let e = engine
        .run(run(
            "c.runs_wf",
            params(&[("fifo", json!(fifo2.to_str().unwrap()))]),
        ))
        .await
        .unwrap();
    let gate = wait_for(&mut rx, |ev| {
        matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running && execution.context["parent"]["parent"]["execution_id"] == json!(e.id))
    })
    .await;
    let Event::Execution {
        execution: gate, ..
    } = gate
    else {
        unreachable!()
    };
    let wf = engine
        .execution(gate.parent.as_deref().unwrap())
        .await
        .unwrap();
    engine.cancel(&e.id).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled, "{}", done.result);
    assert_eq!(
        engine.execution(&wf.id).await.unwrap().status,
        Status::Canceled
    );
    assert_eq!(names(&done.result), ["wf"]);
}

/// A chain started before a restart goes on in the next engine: the link
/// that was running finishes while no engine listens (its runner spools the
/// result), the next engine applies it, and the next link runs once.
#[test]
fn a_chain_survives_an_engine_restart() {
    let fx = Fixture::new();
    chain_pack(&fx);
    let first = tokio::runtime::Runtime::new().unwrap();
    let (id, fifo, runner_pid) = first.block_on(async {
        let engine = fx.engine().await;
        let (e, fifo, _rx, gate) = at_the_gate_with(&fx, &engine, "c.gated").await;
        let gate = engine.execution(&gate.id).await.unwrap();
        let pid = gate.context["runner_pid"].as_u64().unwrap() as i32;
        (e.id, fifo, pid)
    });
    first.shutdown_background();
    std::fs::write(&fifo, "later\n").unwrap();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(runner_pid), None);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let engine = fx.engine().await;
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(names(&done.result), ["wait", "after"]);
        assert_eq!(
            done.result["tasks"][1]["result"]["stdout"],
            json!("after waiting\ndone-later")
        );
        assert_eq!(engine.descendants(&id, -1).await.unwrap().len(), 2);
    });
}
