//! Faults by class (nothing takes the engine down): walks over deep trees use
//! no call stack, nesting and fan-out have limits, every refusal says where.

use std::path::Path;

use serde_json::json;
use stormdesk_engine::{Engine, EngineOptions, Event, RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Pack `deep`: `deep.down` nests itself `n` levels, then waits on a fifo
/// (`t.gate`); `deep.forever` calls itself without end.
fn deep_pack(fx: &Fixture) {
    let dir = fx.packs.join("deep");
    write(
        &dir.join("pack.yaml"),
        "ref: deep\nname: deep\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/down.yaml"),
        "name: down\nrunner_type: orquesta\nentry_point: workflows/down.yaml\nparameters:\n  n: {type: integer, required: true}\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/down.yaml"),
        r#"version: 1.0
input:
  - n
  - fifo
tasks:
  step:
    action: core.noop
    next:
      - when: <% ctx().n > 0 %>
        do: down
      - when: <% ctx().n <= 0 %>
        do: wait
  down:
    action: deep.down
    input:
      n: <% ctx().n - 1 %>
      fifo: <% ctx().fifo %>
  wait:
    action: t.gate
    input:
      fifo: <% ctx().fifo %>
    next:
      - do: after
  after:
    action: core.noop
"#,
    );
    write(
        &dir.join("actions/forever.yaml"),
        "name: forever\nrunner_type: orquesta\nentry_point: workflows/forever.yaml\n",
    );
    write(
        &dir.join("actions/workflows/forever.yaml"),
        "version: 1.0\ntasks:\n  again:\n    action: deep.forever\n",
    );
}

async fn engine_with(fx: &Fixture, f: impl FnOnce(&mut EngineOptions)) -> Engine {
    let mut opts = fx.options();
    f(&mut opts);
    Engine::start(opts).await.unwrap()
}

/// Starts `deep.down` nested `levels` deep and returns once the gate runs at the bottom.
async fn nested_at_the_gate(
    fx: &Fixture,
    engine: &Engine,
    levels: i64,
) -> (
    String,
    std::path::PathBuf,
    tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
) {
    let fifo = fx.path("deep-gate");
    mkfifo(&fifo);
    let mut rx = engine.subscribe();
    let root = engine
        .run(RunRequest {
            action: "deep.down".into(),
            parameters: params(&[
                ("n", json!(levels)),
                ("fifo", json!(fifo.display().to_string())),
            ]),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for(&mut rx, |ev| {
        matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
    })
    .await;
    (root.id, fifo, rx)
}

/// Every descendant of `id` and the root itself, by status (as the engine
/// answers for each: the store may not have every last status yet).
async fn statuses(engine: &Engine, id: &str) -> Vec<(String, Status)> {
    let mut all = Vec::new();
    for e in engine.descendants(id, -1).await.unwrap() {
        let now = engine.execution(&e.id).await.unwrap();
        all.push((now.action.ref_, now.status));
    }
    all.push(("root".into(), engine.execution(id).await.unwrap().status));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_workflow_nested_150_levels_deep_does_not_take_the_engine_down() {
    let fx = Fixture::new();
    deep_pack(&fx);
    let engine = engine_with(&fx, |o| o.max_depth = Some(400)).await;
    let (root, _fifo, _rx) = nested_at_the_gate(&fx, &engine, 150).await;
    let workflows = engine
        .descendants(&root, -1)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.ref_ == "deep.down")
        .count();
    assert_eq!(workflows, 150);

    engine.cancel(&root).await.unwrap();
    let done = finished(&engine, &root).await;
    assert_eq!(done.status, Status::Canceled);
    for (action, status) in statuses(&engine, &root).await {
        assert!(status.is_completed(), "{action} is still {status}");
        if action != "core.noop" {
            assert_eq!(status, Status::Canceled, "{action}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_walk_150_levels_without_recursion() {
    let fx = Fixture::new();
    deep_pack(&fx);
    let engine = engine_with(&fx, |o| o.max_depth = Some(400)).await;
    let (root, fifo, mut rx) = nested_at_the_gate(&fx, &engine, 150).await;
    let pausing = engine.pause(&root).await.unwrap();
    assert_eq!(pausing.status, Status::Pausing, "the gate still runs");
    // Let the gate finish: every level becomes paused.
    let opener = tokio::task::spawn_blocking(move || std::fs::write(fifo, "go\n").unwrap());
    wait_status(&mut rx, &root, Status::Paused).await;
    opener.await.unwrap();
    for (action, status) in statuses(&engine, &root).await {
        if action == "deep.down" || action == "root" {
            assert_eq!(status, Status::Paused, "{action}");
        }
    }
    engine.resume(&root).await.unwrap();
    let done = finished(&engine, &root).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_that_calls_itself_stops_at_the_depth_limit_with_the_path() {
    let fx = Fixture::new();
    deep_pack(&fx);
    let engine = engine_with(&fx, |o| o.max_depth = Some(12)).await;
    let root = engine
        .run(RunRequest {
            action: "deep.forever".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = finished(&engine, &root.id).await;
    assert_eq!(done.status, Status::Failed);
    let all = engine.descendants(&root.id, -1).await.unwrap();
    assert_eq!(all.len(), 11, "levels 2 to 12 ran");
    assert!(all.iter().all(|e| e.status == Status::Failed));
    let deepest = all.last().unwrap();
    let text = deepest.result.to_string();
    assert!(
        text.contains("13 levels deep")
            && text.contains("limit of 12")
            && text.contains("again (deep.forever) > again (deep.forever)"),
        "{text}"
    );
    // The default is 50; a plain run is level 1.
    assert_eq!(stormdesk_engine::engine_limits::DEFAULT_MAX_DEPTH, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_beyond_the_live_limit_is_refused_with_the_count() {
    let fx = Fixture::new();
    let dir = fx.packs.join("fan");
    write(
        &dir.join("pack.yaml"),
        "ref: fan\nname: fan\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/out.yaml"),
        "name: out\nrunner_type: orquesta\nentry_point: workflows/out.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/out.yaml"),
        "version: 1.0\ninput:\n  - fifo\ntasks:\n  each:\n    with: i in <% [0, 1, 2, 3, 4] %>\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n",
    );
    let engine = engine_with(&fx, |o| o.max_live_per_root = Some(4)).await;
    let fifo = fx.path("fan-gate");
    mkfifo(&fifo);
    let root = engine
        .run(RunRequest {
            action: "fan.out".into(),
            parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
            ..Default::default()
        })
        .await
        .unwrap();
    // Root + 3 gates run; the 4th and 5th items are refused. The fifo is
    // held open for writing with a line for each gate, so a gate that opens
    // it late still reads its line.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let f = fifo.clone();
    let writer = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        // Read-write: opening a fifo so never waits for a reader (Linux).
        let mut w = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&f)
            .unwrap();
        w.write_all(b"go\ngo\ngo\ngo\ngo\n").unwrap();
        let _ = held.recv();
    });
    let done = finished(&engine, &root.id).await;
    release.send(()).unwrap();
    writer.await.unwrap();
    assert_eq!(done.status, Status::Failed, "{}", done.result);
    let text = done.result.to_string();
    assert!(text.contains("beyond the limit of 4"), "{text}");
    let gates = engine
        .descendants(&root.id, -1)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.status == Status::Succeeded)
        .count();
    assert_eq!(gates, 3, "three items ran to the end");
}
