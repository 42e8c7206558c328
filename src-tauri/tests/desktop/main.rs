//! The desktop app on Tauri's mock runtime: the real engine and runner, the
//! real command and event wiring, no display. Each test gets its own
//! `STORMDESK_HOME` in a temporary directory.
//!
//! Needs the runner binary: `cargo build -p stormdesk-runner` first (or set
//! `STORMDESK_RUNNER`).

mod connections;
mod remote;
mod revisions;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use stormdesk_desktop::{build_app, create_main_window, start_engine};
use stormdesk_engine::{Engine, EngineOptions, Execution, Status};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow};

mod inquiries;

const TIMEOUT: Duration = Duration::from_secs(60);

struct Desktop {
    // Field order is drop order: the app (and its forwarder) before the home.
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _engine: Engine,
    _home: tempfile::TempDir,
}

fn runner_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("STORMDESK_RUNNER") {
        return path.into();
    }
    // This test runs as target/<profile>/deps/desktop-<hash>.
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join(format!("stormdesk-runner{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p stormdesk-runner` first, or set STORMDESK_RUNNER",
        bin.display()
    );
    bin
}

fn desktop() -> Desktop {
    let home = tempfile::tempdir().expect("temp home");
    let engine = start_engine(EngineOptions {
        home: Some(home.path().to_path_buf()),
        runner_bin: Some(runner_bin()),
        ..EngineOptions::default()
    })
    .expect("engine starts");
    let app = build_app(mock_builder(), engine.clone()).expect("app builds");
    // The event loop, which would create it, does not run in tests.
    let window = create_main_window(&app, &engine).expect("main window");
    Desktop {
        app,
        window,
        _engine: engine,
        _home: home,
    }
}

impl Desktop {
    /// Calls a command the way the UI's `invoke` does.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let url = if cfg!(any(windows, target_os = "android")) {
            "http://tauri.localhost"
        } else {
            "tauri://localhost"
        };
        get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: url.parse().expect("url"),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.into(),
            },
        )
        .map(|body| body.deserialize::<Value>().expect("json response"))
    }

    /// `output` events (execution id, chunk data), as the UI receives them.
    fn output_events(&self) -> mpsc::Receiver<(String, String)> {
        let (tx, rx) = mpsc::channel();
        self.app.listen("output", move |event| {
            let payload: Value = serde_json::from_str(event.payload()).expect("output payload");
            let id = payload["execution_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let data = payload["data"].as_str().unwrap_or_default().to_string();
            let _ = tx.send((id, data));
        });
        rx
    }

    /// `execution` events, as the UI receives them.
    fn execution_events(&self) -> mpsc::Receiver<Execution> {
        let (tx, rx) = mpsc::channel();
        self.app.listen("execution", move |event| {
            let execution: Execution =
                serde_json::from_str(event.payload()).expect("execution payload");
            let _ = tx.send(execution);
        });
        rx
    }
}

fn wait_completed(events: &mpsc::Receiver<Execution>, id: &str) -> Execution {
    loop {
        let execution = events
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no completion event for {id}"));
        if execution.id == id && execution.status.is_completed() {
            return execution;
        }
    }
}

#[test]
fn lists_the_example_pack() {
    let d = desktop();
    let packs = d.invoke("list_packs", json!({})).expect("list_packs");
    assert!(
        packs
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["ref"] == "examples"),
        "{packs:#}"
    );
    let actions = d.invoke("list_actions", json!({})).expect("list_actions");
    let hello = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ref"] == "examples.hello")
        .unwrap_or_else(|| panic!("examples.hello missing from {actions:#}"));
    assert_eq!(hello["runner_type"], "local-shell-cmd");
    assert_eq!(hello["supported"], true);

    let detail = d
        .invoke("get_action", json!({ "actionRef": "examples.hello" }))
        .expect("get_action");
    assert_eq!(detail["parameters"]["name"]["default"], "world");
}

#[test]
fn runs_hello_and_forwards_its_events() {
    let d = desktop();
    let events = d.execution_events();
    let outputs = d.output_events();
    let scheduled = d
        .invoke("run_action", json!({ "action": "examples.hello" }))
        .expect("run_action");
    let id = scheduled["id"].as_str().expect("execution id").to_string();
    assert_eq!(scheduled["action"]["ref"], "examples.hello");

    let done = wait_completed(&events, &id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    // The bus delivers output before the completion it precedes.
    let streamed: String = outputs
        .try_iter()
        .filter(|(execution, _)| *execution == id)
        .map(|(_, data)| data)
        .collect();
    assert_eq!(streamed.trim_end(), "Hello, world");

    let execution = d
        .invoke("get_execution", json!({ "id": id }))
        .expect("get_execution");
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["result"]["stdout"], "Hello, world");
    assert_eq!(execution["result"]["return_code"], 0);

    let output = d
        .invoke("execution_output", json!({ "id": id }))
        .expect("execution_output");
    let text: String = output
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["output_type"] == "stdout")
        .map(|c| c["data"].as_str().unwrap())
        .collect();
    assert_eq!(text.trim_end(), "Hello, world");

    let listed = d
        .invoke(
            "list_executions",
            json!({ "filter": { "action": "examples.hello" } }),
        )
        .expect("list_executions");
    assert!(listed.as_array().unwrap().iter().any(|e| e["id"] == id));
}

#[test]
fn passes_parameters_through() {
    let d = desktop();
    let events = d.execution_events();
    let scheduled = d
        .invoke(
            "run_action",
            json!({ "action": "examples.hello", "parameters": { "name": "Stormdesk" } }),
        )
        .expect("run_action");
    let id = scheduled["id"].as_str().unwrap().to_string();
    let done = wait_completed(&events, &id);
    assert_eq!(done.result["stdout"], "Hello, Stormdesk");
}

/// The UI branches on these codes; a command never fails with a bare string.
#[test]
fn errors_cross_the_boundary_as_code_and_message() {
    let d = desktop();
    let err = d
        .invoke("get_action", json!({ "actionRef": "examples.nope" }))
        .expect_err("unknown action");
    assert_eq!(err["code"], "not_found", "{err:#}");
    assert!(err["faultstring"]
        .as_str()
        .unwrap()
        .contains("examples.nope"));
    assert_eq!(err.as_object().unwrap().len(), 2, "{err:#}");

    let err = d
        .invoke("run_action", json!({ "action": "examples.nope" }))
        .expect_err("unknown action");
    assert_eq!(err["code"], "not_found", "{err:#}");

    let err = d
        .invoke("get_execution", json!({ "id": "000000000000000000000000" }))
        .expect_err("unknown execution");
    assert_eq!(err["code"], "not_found", "{err:#}");

    let err = d
        .invoke(
            "run_action",
            json!({ "action": "examples.countdown", "parameters": { "count": "many" } }),
        )
        .expect_err("bad parameter");
    assert_eq!(err["code"], "invalid_input", "{err:#}");
}

/// The UI's output hub merges `output` events with `execution_output` by
/// seq: together they hold every chunk, gap-free from 0, in order.
#[test]
fn output_events_and_the_backlog_hold_every_chunk() {
    let d = desktop();
    let events = d.execution_events();
    let outputs = d.output_events();
    let scheduled = d
        .invoke(
            "run_action",
            json!({ "action": "examples.countdown", "parameters": { "count": 3, "delay": 0.05 } }),
        )
        .expect("run_action");
    let id = scheduled["id"].as_str().unwrap().to_string();
    let done = wait_completed(&events, &id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    let live: String = outputs
        .try_iter()
        .filter(|(execution, _)| *execution == id)
        .map(|(_, data)| data)
        .collect();
    let backlog = d
        .invoke("execution_output", json!({ "id": id }))
        .expect("execution_output");
    let chunks = backlog.as_array().unwrap();
    let seqs: Vec<u64> = chunks.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..chunks.len() as u64).collect::<Vec<_>>());
    let text: String = chunks.iter().map(|c| c["data"].as_str().unwrap()).collect();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["3...", "2...", "1...", "liftoff"]
    );
    assert_eq!(live, text, "the live events carried the same chunks");
    // After a chunk: only what follows it.
    let rest = d
        .invoke("execution_output", json!({ "id": id, "afterSeq": 1 }))
        .expect("execution_output after 1");
    assert_eq!(rest.as_array().unwrap().len(), chunks.len() - 2);
}

/// The Download button's file: written under STORMDESK_DOWNLOADS, never
/// outside it whatever the name, a second one beside the first.
#[test]
fn saves_a_log_in_the_downloads_folder() {
    let d = desktop();
    let downloads = tempfile::tempdir().unwrap();
    std::env::set_var("STORMDESK_DOWNLOADS", downloads.path());
    let first = d
        .invoke(
            "save_log",
            json!({ "name": "../../run.log", "text": "line 1\n" }),
        )
        .expect("save_log");
    let second = d
        .invoke(
            "save_log",
            json!({ "name": "../../run.log", "text": "line 2\n" }),
        )
        .expect("save_log again");
    std::env::remove_var("STORMDESK_DOWNLOADS");
    let first = PathBuf::from(first.as_str().unwrap());
    let second = PathBuf::from(second.as_str().unwrap());
    assert_eq!(first.parent(), Some(downloads.path()));
    assert_eq!(second.parent(), Some(downloads.path()));
    assert_ne!(first, second);
    assert_eq!(std::fs::read_to_string(first).unwrap(), "line 1\n");
    assert_eq!(std::fs::read_to_string(second).unwrap(), "line 2\n");
}

/// Installing from the Packs screen: a `packs.install` execution whose
/// output is the progress, the pack loaded afterwards; then an update.
#[test]
fn installs_and_updates_a_pack_with_progress_as_output() {
    let d = desktop();
    let events = d.execution_events();
    let src = tempfile::tempdir().unwrap();
    let pack = src.path().join("tinypack");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: tinypack\nname: tinypack\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/hi.yaml"),
        "name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo hi\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&pack)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "first"]);

    let started = d
        .invoke(
            "install_packs",
            json!({ "packs": [pack.to_str().unwrap()] }),
        )
        .expect("install_packs");
    assert_eq!(started["action"]["ref"], "packs.install");
    let id = started["id"].as_str().unwrap().to_string();
    let done = wait_completed(&events, &id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    let output = d
        .invoke("execution_output", json!({ "id": id }))
        .expect("execution_output");
    let text: String = output
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data"].as_str().unwrap())
        .collect();
    assert!(text.contains("installing "), "{text}");
    assert!(text.contains("pack tinypack at "), "{text}");
    assert!(text.contains("1 action(s) can run"), "{text}");
    let packs = d.invoke("list_packs", json!({})).expect("list_packs");
    assert!(packs
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["ref"] == "tinypack"));

    let update = d
        .invoke("update_packs", json!({ "packs": ["tinypack"] }))
        .expect("update_packs");
    let update_id = update["id"].as_str().unwrap().to_string();
    let done = wait_completed(&events, &update_id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    let output = d
        .invoke("execution_output", json!({ "id": update_id }))
        .expect("execution_output");
    let text: String = output
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["data"].as_str().unwrap())
        .collect();
    assert!(text.contains("tinypack is up to date"), "{text}");

    let err = d
        .invoke("update_packs", json!({ "packs": ["nope"] }))
        .expect_err("unknown pack");
    assert_eq!(err["code"], "not_found", "{err:#}");
}

/// The revision picker's data: a pack that is not a git repository has none;
/// an action read "at no revision" is the installed one.
#[test]
fn lists_revisions_and_reads_actions_at_a_revision() {
    let d = desktop();
    let revisions = d
        .invoke("list_revisions", json!({ "pack": "examples" }))
        .expect("list_revisions");
    assert_eq!(revisions["pack"], "examples", "{revisions:#}");
    assert_eq!(revisions["git"], false, "{revisions:#}");
    assert_eq!(revisions["revisions"], json!([]), "{revisions:#}");

    let detail = d
        .invoke(
            "get_action",
            json!({ "actionRef": "examples.hello", "contentVersion": null }),
        )
        .expect("get_action");
    assert_eq!(detail["parameters"]["name"]["default"], "world");

    let err = d
        .invoke("list_revisions", json!({ "pack": "nope" }))
        .expect_err("unknown pack");
    assert_eq!(err["code"], "not_found", "{err:#}");
}

#[test]
fn re_runs_with_overrides() {
    let d = desktop();
    let events = d.execution_events();
    let first = d
        .invoke(
            "run_action",
            json!({ "action": "examples.hello", "parameters": { "name": "once" } }),
        )
        .expect("run_action");
    let first_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(
        wait_completed(&events, &first_id).result["stdout"],
        "Hello, once"
    );
    let again = d
        .invoke(
            "re_run_execution",
            json!({ "id": first_id, "parameters": { "name": "twice" } }),
        )
        .expect("re_run_execution");
    let again_id = again["id"].as_str().unwrap().to_string();
    assert_ne!(again_id, first_id);
    let done = wait_completed(&events, &again_id);
    assert_eq!(done.result["stdout"], "Hello, twice", "{done:#?}");
}

/// The live tree's data: a workflow's tasks as descendants, and its graph.
#[test]
fn lists_a_workflows_descendants_and_graph() {
    let d = desktop();
    let events = d.execution_events();
    let scheduled = d
        .invoke(
            "run_action",
            json!({ "action": "examples.greet_flow", "parameters": { "name": "tree", "count": 1 } }),
        )
        .expect("run_action");
    let id = scheduled["id"].as_str().unwrap().to_string();
    let done = wait_completed(&events, &id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");

    let all = d
        .invoke("execution_descendants", json!({ "id": id, "depth": -1 }))
        .expect("execution_descendants");
    let tasks: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["context"]["orquesta"]["task_name"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(tasks, ["greet", "countdown"], "{all:#}");
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["parent"] == id.as_str()));

    let graph = d
        .invoke("workflow_graph", json!({ "id": id }))
        .expect("workflow_graph");
    let names: Vec<&str> = graph["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"greet") && names.contains(&"countdown"),
        "{graph:#}"
    );

    let err = d
        .invoke("pause_execution", json!({ "id": id }))
        .expect_err("a completed workflow cannot pause");
    assert!(
        ["conflict", "invalid_input"].contains(&err["code"].as_str().unwrap()),
        "{err:#}"
    );
}
