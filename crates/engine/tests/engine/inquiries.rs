//! Inquiries (`core.ask`) with real executions: a workflow that asks pauses
//! until an answer that matches the schema arrives, then goes on; answers
//! that do not match are refused; an Inquiry whose ttl passes times out; the
//! ones nested in sub-workflows and chains resume their parents; a pending
//! Inquiry survives an engine restart. StackStorm's own ask workflows and
//! chains are run as its integration tests run them
//! (`st2tests/integration/orquesta/test_wiring_inquiry.py`).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Map};
use stormdesk_engine::{Engine, EngineOptions, Event, Execution, RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn examples_options(fx: &Fixture) -> Option<EngineOptions> {
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
    opts.pack_dirs = vec![packs.join("examples"), fx.packs.clone()];
    Some(opts)
}

/// Pack `q`: workflows that ask with a short ttl or for someone else.
fn ask_pack(fx: &Fixture) {
    let dir = fx.packs.join("q");
    write(&dir.join("pack.yaml"), "ref: q\nname: q\nversion: 0.1.0\n");
    write(
        &dir.join("actions/expiring.yaml"),
        "name: expiring\nrunner_type: orquesta\nentry_point: workflows/expiring.yaml\n",
    );
    write(
        &dir.join("actions/workflows/expiring.yaml"),
        r#"version: 1.0
tasks:
  ask:
    action: core.ask
    input:
      ttl: 1
    next:
      - when: <% failed() %>
        publish:
          - expired: <% task(ask).status %>
        do: fallback
  fallback:
    action: core.echo message="nobody answered"
output:
  - expired: <% ctx().expired %>
"#,
    );
    write(
        &dir.join("actions/wraps_chain.yaml"),
        "name: wraps_chain\nrunner_type: orquesta\nentry_point: workflows/wraps_chain.yaml\n",
    );
    write(
        &dir.join("actions/workflows/wraps_chain.yaml"),
        "version: 1.0\ntasks:\n  ask_in_chain:\n    action: examples.chain-test-inquiry\n    next:\n      - when: <% succeeded() %>\n        do: after\n  after:\n    action: core.echo message=\"done\"\n",
    );
    write(
        &dir.join("actions/for_alice.yaml"),
        "name: for_alice\nrunner_type: inquirer\nparameters:\n  users: {default: [alice]}\n  roles: {default: [approvers]}\n  route: {default: ops}\n",
    );
}

async fn wait_until(
    rx: &mut tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
    f: impl Fn(&Execution) -> bool,
) -> Execution {
    let ev = wait_for(
        rx,
        |e| matches!(e, Event::Execution { execution, .. } if f(execution)),
    )
    .await;
    match ev {
        Event::Execution { execution, .. } => *execution,
        _ => unreachable!(),
    }
}

/// The pending Inquiry of `task` somewhere under `root`.
async fn pending_task(engine: &Engine, root: &str, task: &str) -> Execution {
    let mut rx = engine.subscribe();
    loop {
        let found = engine
            .descendants(root, -1)
            .await
            .unwrap()
            .into_iter()
            .find(|c| {
                c.status == Status::Pending
                    && (c.task_name() == Some(task)
                        || c.context.get("chain").and_then(|l| l.get("name")) == Some(&json!(task)))
            });
        if let Some(found) = found {
            return found;
        }
        wait_until(&mut rx, |e| e.status == Status::Pending).await;
    }
}

/// Waits until the root `id` has `status`. On a timeout it fails with what
/// the engine holds: the root's status, its descendants' and the steps its
/// conductor logged, so a failure says where the workflow stopped.
async fn wait_root(engine: &Engine, id: &str, status: Status) {
    let mut rx = engine.subscribe();
    if engine.execution(id).await.unwrap().status == status {
        return;
    }
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if matches!(&ev.event, Event::Execution { execution, .. } if execution.id == id && execution.status == status)
                    {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if engine.execution(id).await.unwrap().status == status {
                        return;
                    }
                }
                Err(e) => panic!("event bus: {e}"),
            }
        }
    })
    .await;
    if seen.is_ok() {
        return;
    }
    let root = engine.execution(id).await.unwrap();
    let tasks: Vec<String> = engine
        .descendants(id, -1)
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{} {:?} {}", c.task_name().unwrap_or("-"), c.status, c.id))
        .collect();
    let db = engine.paths().data.join("stormdesk.db");
    let log: Vec<String> = rusqlite::Connection::open(db)
        .and_then(|c| {
            let mut q =
                c.prepare("SELECT seq, ops FROM workflow_log WHERE workflow = ?1 ORDER BY seq")?;
            let rows = q.query_map([id], |r| {
                Ok(format!(
                    "{}: {}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?
                ))
            })?;
            rows.collect()
        })
        .unwrap_or_else(|e| vec![format!("log not readable: {e}")]);
    panic!(
        "root {id} ({}) is {:?}, not {status:?}, after {WAIT:?}\ntasks:\n  {}\nsteps:\n  {}",
        root.action_ref(),
        root.status,
        tasks.join("\n  "),
        log.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_that_asks_pauses_until_an_answer_that_matches_the_schema() {
    let fx = Fixture::new();
    let Some(opts) = examples_options(&fx) else {
        return;
    };
    let engine = Engine::start(opts).await.unwrap();
    let wf = engine
        .run(RunRequest::new("examples.orquesta-ask-basic", Map::new()))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let ask = pending_task(&engine, &wf.id, "get_approval").await;
    assert_eq!(ask.runner_name(), "inquirer");
    let listed = engine.inquiries(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    let inquiry = &listed[0];
    assert_eq!(inquiry.id, ask.id);
    assert_eq!(inquiry.ttl, 1440);
    assert_eq!(inquiry.route, "");
    assert_eq!(
        inquiry.schema["properties"]["approved"]["required"],
        json!(true)
    );
    assert_eq!(engine.inquiry(&ask.id).await.unwrap(), *inquiry);

    // Answers that do not match the schema are refused; nothing moves.
    for bad in [json!({}), json!({"approved": "yes"}), json!("approved")] {
        let err = engine
            .respond_inquiry(&ask.id, bad.clone(), "stanley")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{bad}: {err}");
        assert!(
            err.to_string().starts_with(&format!(
                "Response for inquiry \"{}\" did not pass schema validation.",
                ask.id
            )),
            "{err}"
        );
    }
    assert_eq!(
        engine.execution(&wf.id).await.unwrap().status,
        Status::Paused
    );

    let answer = engine
        .respond_inquiry(&ask.id, json!({"approved": true}), "stanley")
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"id": ask.id, "response": {"approved": true}})
    );
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let answered = engine.execution(&ask.id).await.unwrap();
    assert_eq!(answered.status, Status::Succeeded);
    assert_eq!(answered.result["response"], json!({"approved": true}));
    let tasks: Vec<String> = engine
        .descendants(&wf.id, -1)
        .await
        .unwrap()
        .iter()
        .map(|c| c.task_name().unwrap().to_string())
        .collect();
    assert_eq!(tasks, ["start", "get_approval", "finish"]);
    let err = engine
        .respond_inquiry(&ask.id, json!({"approved": true}), "stanley")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has already been responded to"),
        "{err}"
    );
    assert!(engine.inquiries(None).await.unwrap().is_empty());
}

/// StackStorm's integration tests of Inquiries, on its example workflows
/// and chains: consecutive asks pause twice; parallel asks each wait for
/// their answer; an ask nested in a sub-workflow (or a sub-chain) pauses
/// every level and one answer resumes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_ask_workflows_and_chains_run_as_its_integration_tests_say() {
    let fx = Fixture::new();
    let Some(opts) = examples_options(&fx) else {
        return;
    };
    let engine = Engine::start(opts).await.unwrap();
    let yes = json!({"approved": true});

    let wf = engine
        .run(RunRequest::new(
            "examples.orquesta-ask-consecutive",
            Map::new(),
        ))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let first = pending_task(&engine, &wf.id, "get_approval").await;
    engine
        .respond_inquiry(&first.id, yes.clone(), "me")
        .await
        .unwrap();
    let second = pending_task(&engine, &wf.id, "get_confirmation").await;
    wait_root(&engine, &wf.id, Status::Paused).await;
    engine
        .respond_inquiry(&second.id, yes.clone(), "me")
        .await
        .unwrap();
    assert_eq!(finished(&engine, &wf.id).await.status, Status::Succeeded);

    let wf = engine
        .run(RunRequest::new(
            "examples.orquesta-ask-parallel",
            Map::new(),
        ))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let jack = pending_task(&engine, &wf.id, "ask_jack").await;
    let jill = pending_task(&engine, &wf.id, "ask_jill").await;
    engine
        .respond_inquiry(&jack.id, yes.clone(), "me")
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    engine
        .respond_inquiry(&jill.id, yes.clone(), "me")
        .await
        .unwrap();
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);

    // Several fields in one answer; the workflow publishes two of them.
    let wf = engine
        .run(RunRequest::new(
            "examples.orquesta_ask_multiple_parameters",
            Map::new(),
        ))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let ask = pending_task(&engine, &wf.id, "get_approval").await;
    engine
        .respond_inquiry(
            &ask.id,
            json!({"approved": true, "department_id": 7, "extra_output": "all good"}),
            "me",
        )
        .await
        .unwrap();
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let stdout_of = |tasks: &[Execution], name: &str| {
        tasks
            .iter()
            .find(|c| c.task_name() == Some(name))
            .map(|c| c.result["stdout"].clone())
    };
    let tasks = engine.descendants(&wf.id, -1).await.unwrap();
    assert_eq!(
        stdout_of(&tasks, "echo_extra_message"),
        Some(json!("Extra info all good."))
    );
    assert_eq!(
        stdout_of(&tasks, "finish"),
        Some(json!("Approved by department 7. Automation completed."))
    );

    let wf = engine
        .run(RunRequest::new("examples.orquesta-ask-nested", Map::new()))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let ask = pending_task(&engine, &wf.id, "get_approval").await;
    let sub = engine
        .execution(ask.parent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(sub.action_ref(), "examples.orquesta-ask-basic");
    assert_eq!(sub.status, Status::Paused);
    engine
        .respond_inquiry(&ask.id, yes.clone(), "me")
        .await
        .unwrap();
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);

    // The chains: the answer fills the next link's command.
    let chain = engine
        .run(RunRequest::new("examples.chain-test-inquiry", Map::new()))
        .await
        .unwrap();
    wait_root(&engine, &chain.id, Status::Paused).await;
    let ask = pending_task(&engine, &chain.id, "task1").await;
    assert_eq!(engine.inquiry(&ask.id).await.unwrap().route, "developers");
    engine
        .respond_inquiry(&ask.id, json!({"secondfactor": "s3cr3t"}), "me")
        .await
        .unwrap();
    let done = finished(&engine, &chain.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["tasks"][1]["result"]["stdout"],
        json!("We can now authenticate to foo service with s3cr3t")
    );
    assert_eq!(done.result["tasks"][0]["state"], json!("succeeded"));

    let parent = engine
        .run(RunRequest::new(
            "examples.chain-test-inquiry-parent",
            Map::new(),
        ))
        .await
        .unwrap();
    wait_root(&engine, &parent.id, Status::Paused).await;
    let ask = pending_task(&engine, &parent.id, "task1").await;
    let sub = engine
        .execution(ask.parent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(sub.status, Status::Paused);
    engine
        .respond_inquiry(&ask.id, json!({"secondfactor": "x"}), "me")
        .await
        .unwrap();
    let done = finished(&engine, &parent.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["tasks"][1]["result"]["stdout"],
        json!("parent task2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquiry_whose_ttl_passes_times_out_and_the_workflow_goes_on() {
    let fx = Fixture::new();
    ask_pack(&fx);
    let mut opts = fx.options();
    opts.inquiry_ttl_unit = Some(Duration::from_millis(200));
    let engine = Engine::start(opts).await.unwrap();
    let wf = engine
        .run(RunRequest::new("q.expiring", Map::new()))
        .await
        .unwrap();
    let ask = pending_task(&engine, &wf.id, "ask").await;
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["expired"], json!("timeout"));
    let expired = engine.execution(&ask.id).await.unwrap();
    assert_eq!(expired.status, Status::Timeout);
    assert_eq!(expired.result["ttl"], json!(1), "the result is kept");
    let err = engine
        .respond_inquiry(&ask.id, json!({"continue": true}), "me")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("timed out and cannot be responded to"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_users_it_names_may_answer_and_its_roles_are_recorded() {
    let fx = Fixture::new();
    ask_pack(&fx);
    let engine = fx.engine().await;
    let ask = engine
        .run(RunRequest::new("q.for_alice", Map::new()))
        .await
        .unwrap();
    assert_eq!(
        ask.status,
        Status::Pending,
        "a top-level ask is pending at once"
    );
    let inquiry = engine.inquiry(&ask.id).await.unwrap();
    assert_eq!(inquiry.users, ["alice"]);
    assert_eq!(inquiry.roles, ["approvers"]);
    assert_eq!(inquiry.route, "ops");
    let err = engine
        .respond_inquiry(&ask.id, json!({"continue": true}), "bob")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(
        err.to_string()
            .contains("User \"bob\" does not have permission"),
        "{err}"
    );
    engine
        .respond_inquiry(&ask.id, json!({"continue": false}), "alice")
        .await
        .unwrap();
    let done = finished(&engine, &ask.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.result["response"], json!({"continue": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_inquiry_is_still_there_after_a_restart() {
    let fx = Fixture::new();
    let Some(opts) = examples_options(&fx) else {
        return;
    };
    let (wf, ask) = {
        let engine = Engine::start(opts.clone()).await.unwrap();
        let wf = engine
            .run(RunRequest::new("examples.orquesta-ask-basic", Map::new()))
            .await
            .unwrap();
        wait_root(&engine, &wf.id, Status::Paused).await;
        let ask = pending_task(&engine, &wf.id, "get_approval").await;
        engine.shutdown();
        engine.wait_for_runners(Duration::from_secs(10)).await;
        (wf, ask)
    };
    let engine = Engine::start(opts).await.unwrap();
    let listed = engine.inquiries(None).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, ask.id);
    assert_eq!(
        engine.execution(&wf.id).await.unwrap().status,
        Status::Paused
    );
    engine
        .respond_inquiry(&ask.id, json!({"approved": true}), "me")
        .await
        .unwrap();
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let tasks: Vec<String> = engine
        .descendants(&wf.id, -1)
        .await
        .unwrap()
        .iter()
        .map(|c| c.task_name().unwrap().to_string())
        .collect();
    assert_eq!(
        tasks,
        ["start", "get_approval", "finish"],
        "nothing ran twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_go_out_on_the_bus_with_their_route() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let e = engine
        .run(RunRequest::new(
            "core.announcement",
            params(&[
                ("message", json!({"text": "deploy done"})),
                ("route", json!("ops.deploys")),
            ]),
        ))
        .await
        .unwrap();
    let ev = wait_for(&mut rx, |e| matches!(e, Event::Announcement { .. })).await;
    let Event::Announcement {
        route,
        body,
        execution_id,
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(route, "ops.deploys");
    assert_eq!(execution_id, e.id);
    assert_eq!(
        body,
        json!({"payload": {"message": {"text": "deploy done"}}, "trace_context": null})
    );
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.result, json!({"message": {"text": "deploy done"}}));
}

/// An Inquiry in a chain that is a workflow's task: the chain pauses, and
/// (as StackStorm's inquirer asks the root to pause) the workflow with it;
/// the answer resumes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquiry_in_a_chain_in_a_workflow_pauses_and_resumes_every_level() {
    let fx = Fixture::new();
    ask_pack(&fx);
    let Some(opts) = examples_options(&fx) else {
        return;
    };
    let engine = Engine::start(opts).await.unwrap();
    let wf = engine
        .run(RunRequest::new("q.wraps_chain", Map::new()))
        .await
        .unwrap();
    wait_root(&engine, &wf.id, Status::Paused).await;
    let ask = pending_task(&engine, &wf.id, "task1").await;
    let chain = engine
        .execution(ask.parent.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(chain.status, Status::Paused);
    assert_eq!(chain.result["tasks"][0]["state"], json!("pending"));
    engine
        .respond_inquiry(&ask.id, json!({"secondfactor": "abc"}), "me")
        .await
        .unwrap();
    let done = finished(&engine, &wf.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let chain = engine.execution(&chain.id).await.unwrap();
    assert_eq!(chain.status, Status::Succeeded, "{}", chain.result);
    assert_eq!(
        chain.result["tasks"][1]["result"]["stdout"],
        json!("We can now authenticate to foo service with abc")
    );
}
