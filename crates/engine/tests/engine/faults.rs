//! Faults by class (issue 13): for each class, its first example and more
//! inputs of the same class, through the real engine, runner and store.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use stormdesk_engine::{Engine, EngineOptions, Event, RunRequest, Status};

use crate::api::{call, send};
use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Pack `f`: actions that print deep JSON, structured secrets, a secret one
/// character at a time, and a workflow with a secret input.
fn faults_pack(fx: &Fixture) {
    let dir = fx.packs.join("f");
    write(&dir.join("pack.yaml"), "ref: f\nname: f\nversion: 0.1.0\n");
    write(
        &dir.join("actions/deep_json.yaml"),
        r#"name: deep_json
runner_type: local-shell-script
entry_point: deep_json.sh
parameters:
  levels: {type: integer, required: true, position: 0}
  token: {type: string, required: true, secret: true, position: 1}
"#,
    );
    script(
        &dir.join("actions/deep_json.sh"),
        "#!/bin/sh\npython3 -c 'import sys; n=int(sys.argv[1]); print(\"[\"*n + \"\\\"\" + sys.argv[2] + \"\\\"\" + \"]\"*n)' \"$1\" \"$2\"\n",
    );
    write(
        &dir.join("actions/creds.yaml"),
        r#"name: creds
runner_type: local-shell-cmd
parameters:
  creds: {type: object, required: true, secret: true}
  keys: {type: array, required: true, secret: true}
  cmd: {immutable: true, default: 'echo "login {{creds.user}}:{{creds.password}} key {{keys[1]}}"; echo "{\"pw\": \"{{creds.password}}\", \"keys\": [\"{{keys[0]}}\"]}" >&2'}
"#,
    );
    write(
        &dir.join("actions/trickle.yaml"),
        r#"name: trickle
runner_type: local-shell-cmd
parameters:
  token: {type: string, required: true, secret: true}
  cmd: {immutable: true, default: 't="{{token}}"; printf "start "; printf "%s\\n" "$t" | fold -w1 | while IFS= read -r c; do printf %s "$c"; sleep 0.02; done; echo " end"'}
"#,
    );
    write(
        &dir.join("actions/wf_secret.yaml"),
        r#"name: wf_secret
runner_type: orquesta
entry_point: workflows/wf_secret.yaml
parameters:
  password: {type: string, required: true, secret: true}
"#,
    );
    write(
        &dir.join("actions/workflows/wf_secret.yaml"),
        r#"version: 1.0
input:
  - password
tasks:
  use:
    action: t.echo
    input:
      msg: "pw=<% ctx().password %>"
output:
  - said: <% ctx().password %>
"#,
    );
    write(
        &dir.join("actions/deep_param.yaml"),
        r#"name: deep_param
runner_type: orquesta
entry_point: workflows/deep_param.yaml
parameters:
  levels: {type: integer, required: true}
"#,
    );
    write(
        &dir.join("actions/workflows/deep_param.yaml"),
        r#"version: 1.0
input:
  - levels
vars:
  - deep: <% range(ctx().levels).aggregate([$1], 0) %>
tasks:
  pass:
    action: f.takes
    input:
      data: <% ctx().deep %>
"#,
    );
    write(
        &dir.join("actions/takes.yaml"),
        "name: takes\nrunner_type: noop\nparameters:\n  data: {type: array}\n",
    );
}

async fn run(engine: &Engine, action: &str, parameters: Value) -> stormdesk_engine::Execution {
    let e = engine
        .run(RunRequest {
            action: action.into(),
            parameters: parameters.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = finished(engine, &e.id).await;
    // Output may arrive after the final status: let the runner finish.
    engine
        .wait_for_runners(std::time::Duration::from_secs(10))
        .await;
    done
}

fn nested_string(levels: usize, leaf: &str) -> String {
    format!("{}\"{leaf}\"{}", "[".repeat(levels), "]".repeat(levels))
}

/// Follows `levels` of `v[0]`.
fn dig(v: &Value, levels: usize) -> &Value {
    let mut at = v;
    for _ in 0..levels {
        at = &at[0];
    }
    at
}

// Class 1 and 4: walks over deep values use no call stack, and any output an
// action can produce is stored.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_stdout_nested_126_levels_is_stored_with_the_deep_part_as_text() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let engine = fx.engine().await;
    let token = "deep-secret-4711";
    // The example of issue 13: 126 levels, within the parser's limit.
    let done = run(
        &engine,
        "f.deep_json",
        json!({"levels": 126, "token": token}),
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let stdout = &done.result["stdout"];
    // The first 100 levels of the result (`stdout` is the first) are
    // values, the rest is the JSON text, masked.
    let tail = dig(stdout, 98);
    assert!(tail.is_array(), "{tail}");
    let text = tail[0].as_str().expect("level 100 is kept as text");
    assert_eq!(text, nested_string(27, "********"));
    // What the store holds is the same, and readable again.
    let stored = engine.execution(&done.id).await.unwrap();
    assert_eq!(stored.result, done.result);
    assert!(!store_bytes(&fx).contains(token));

    // Beyond what the parser reads at all (300 levels): the text itself.
    let done = run(
        &engine,
        "f.deep_json",
        json!({"levels": 300, "token": token}),
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["stdout"], json!(nested_string(300, "********")));
    // The engine is still there for the next run.
    let done = run(&engine, "t.echo", json!({"msg": "still here"})).await;
    assert_eq!(done.result["stdout"], "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_values_nested_deeper_than_the_limit_fail_the_task_naming_it() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let engine = fx.engine().await;
    // A workflow builds a value 150 levels deep and passes it to a task:
    // rendering and masking would walk it; it is refused with its name.
    let done = run(&engine, "f.deep_param", json!({"levels": 150})).await;
    assert_eq!(done.status, Status::Failed, "{}", done.result);
    let text = done.result.to_string();
    assert!(
        text.contains("parameter 'data' of action f.takes is nested more than 100 levels deep"),
        "{text}"
    );
    // 90 levels is within the limit and runs.
    let done = run(&engine, "f.deep_param", json!({"levels": 90})).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    // The same limit for a value given directly (here 120 levels of objects).
    let mut deep = json!("leaf");
    for _ in 0..120 {
        deep = json!({ "k": deep });
    }
    let e = engine
        .run(RunRequest {
            action: "f.takes".into(),
            parameters: params(&[("data", json!([deep]))]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("parameter 'data' of action f.takes is nested more than 100 levels deep"),
        "{e}"
    );
}

// Class 6: every string that is, or is part of, a secret is masked wherever
// it can be stored, shown or searched.

/// Checks that none of `secrets` is in the store's files, the execution and
/// its descendants as the API gives them (`/children`), the events the stream
/// sends, or a full-text search (which must find nothing).
async fn nowhere(fx: &Fixture, engine: &Engine, root: &str, events: &[String], secrets: &[&str]) {
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let (status, record) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{root}"),
        &token,
        None,
    )
    .await;
    assert!(status.is_success());
    let (_, children) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{root}/children?depth=-1"),
        &token,
        None,
    )
    .await;
    let (_, output) = call(
        router.clone(),
        "GET",
        &format!("/v1/executions/{root}/output"),
        &token,
        None,
    )
    .await;
    let db = store_bytes(fx);
    for secret in secrets {
        assert!(!db.contains(secret), "{secret} is in the database files");
        assert!(!record.to_string().contains(secret), "{secret}: {record}");
        assert!(
            !children.to_string().contains(secret),
            "{secret}: {children}"
        );
        assert!(!output.to_string().contains(secret), "{secret}: {output}");
        for ev in events {
            assert!(!ev.contains(secret), "{secret} in a stream event: {ev}");
        }
        let (status, found) = call(
            router.clone(),
            "GET",
            &format!("/v1/executions?q={secret}&include_attributes=id"),
            &token,
            None,
        )
        .await;
        assert!(status.is_success(), "{found}");
        assert_eq!(found, json!([]), "a search for {secret} found records");
    }
}

/// Every event published until `id` completes, as the stream serialises it.
async fn events_until_done(
    rx: &mut tokio::sync::broadcast::Receiver<stormdesk_engine::BusEvent>,
    id: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    wait_for(rx, |ev| {
        seen.push(serde_json::to_string(ev).unwrap());
        matches!(ev, Event::Execution { execution, .. } if execution.id == id && execution.status.is_completed())
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_object_and_array_secrets_are_masked_everywhere() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let creds = json!({"user": "opsuser", "password": "pw-obj-9931"});
    let keys = json!(["key-arr-first", "key-arr-second"]);
    let e = engine
        .run(RunRequest {
            action: "f.creds".into(),
            parameters: params(&[("creds", creds), ("keys", keys)]),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut events = events_until_done(&mut rx, &e.id).await;
    engine
        .wait_for_runners(std::time::Duration::from_secs(10))
        .await;
    while let Ok(ev) = rx.try_recv() {
        events.push(serde_json::to_string(&ev.event).unwrap());
    }
    let done = engine.execution(&e.id).await.unwrap();
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["stdout"],
        "login ********:******** key ********"
    );
    assert_eq!(done.result["stderr"]["pw"], "********");
    assert_eq!(done.parameters["creds"], "********");
    nowhere(
        &fx,
        &engine,
        &e.id,
        &events,
        &["pw-obj-9931", "key-arr-first", "key-arr-second", "opsuser"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_secret_passed_as_an_ordinary_parameter_stays_masked_in_the_task() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let secret = "wf-pass-55821";
    let e = engine
        .run(RunRequest {
            action: "f.wf_secret".into(),
            parameters: params(&[("password", json!(secret))]),
            ..Default::default()
        })
        .await
        .unwrap();
    let events = events_until_done(&mut rx, &e.id).await;
    let done = engine.execution(&e.id).await.unwrap();
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let task = &engine.descendants(&e.id, -1).await.unwrap()[0];
    assert_eq!(task.parameters["msg"], "pw=********");
    assert_eq!(task.result["stdout"], "pw=********");
    assert_eq!(done.result["output"]["said"], "********");
    engine
        .wait_for_runners(std::time::Duration::from_secs(10))
        .await;
    nowhere(&fx, &engine, &e.id, &events, &[secret]).await;
    // The engine forgets the secret values once nothing can print them.
    assert_eq!(engine.held_secrets(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_printed_one_character_at_a_time_is_masked_in_every_chunk() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let secret = "trickle-secret-77";
    let e = engine
        .run(RunRequest {
            action: "f.trickle".into(),
            parameters: params(&[("token", json!(secret))]),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut events = events_until_done(&mut rx, &e.id).await;
    engine
        .wait_for_runners(std::time::Duration::from_secs(10))
        .await;
    while let Ok(ev) = rx.try_recv() {
        events.push(serde_json::to_string(&ev.event).unwrap());
    }
    let chunks = engine.output(&e.id, None).await.unwrap();
    // What comes before the secret goes out at once; the pieces of the
    // secret are held back until they are known to be one, then masked.
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert_eq!(chunks[0].data, "start ");
    let text: String = chunks.iter().map(|c| c.data.as_str()).collect();
    assert_eq!(text, "start ******** end\n");
    // No chunk holds a piece long enough to give the secret away either.
    for c in &chunks {
        assert!(!c.data.contains("trickle"), "{:?}", c.data);
    }
    nowhere(&fx, &engine, &e.id, &events, &[secret]).await;
    assert_eq!(engine.held_secrets(), 0);
}

/// The command lines of every process on the machine.
fn all_command_lines() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(b) = std::fs::read(entry.path().join("cmdline")) {
            out.push(String::from_utf8_lossy(&b).replace('\0', " "));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_command_lines_of_local_shell_cmd_stay_out_of_ps() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    for secret in ["ps-secret-1234", "pass with 'quotes' & spaces"] {
        let fifo = fx.path(&format!("ps-{}.fifo", secret.len()));
        mkfifo(&fifo);
        let e = engine
            .run(RunRequest {
                action: "t.secret_gate".into(),
                parameters: params(&[
                    ("fifo", json!(fifo.display().to_string())),
                    ("token", json!(secret)),
                ]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_for(
            &mut rx,
            |ev| matches!(ev, Event::Output { output } if output.execution_id == e.id),
        )
        .await;
        // The command runs (it printed), and waits on the fifo: look at `ps`.
        let lines = all_command_lines();
        assert!(
            lines.iter().any(|l| l.contains("STORMDESK_ACTION_CMD")),
            "the action's shell is running"
        );
        for l in &lines {
            assert!(!l.contains(secret), "visible in ps: {l}");
        }
        std::fs::write(&fifo, "go\n").unwrap();
        let done = finished(&engine, &e.id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        // The command still ran with the real value.
        assert_eq!(done.result["stdout"], "using ********\ndone ********");
    }
}

// Class 4: a spool file that can never be applied is moved aside, its
// execution failed with the path named, and it is not retried.

#[test]
fn spool_files_that_are_not_runner_records_are_moved_aside_and_named() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let first = tokio::runtime::Runtime::new().unwrap();
    let id = first.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        let e = engine
            .run(RunRequest {
                action: "t.gate".into(),
                parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        e.id
    });
    first.shutdown_background();
    let spool = fx.path("spool");
    // The execution's own spool file is garbage; two more files are not
    // records at all (valid JSON of another shape, and a stray name).
    std::fs::write(spool.join(format!("{id}.json")), "{not json").unwrap();
    std::fs::write(spool.join("stray.json"), r#"{"hello": 1}"#).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = fx.engine().await;
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Failed, "{}", done.result);
        let kept = spool.join("rejected").join(format!("{id}.json"));
        let msg = done.result["error"].as_str().unwrap().to_string();
        assert!(msg.contains(&kept.display().to_string()), "{msg}");
        assert!(kept.is_file());
        assert!(spool.join("rejected/stray.json").is_file());
        assert!(!spool.join(format!("{id}.json")).exists());
        assert!(!spool.join("stray.json").exists());
        // The runner still waits; let it end (its late report changes nothing).
        std::fs::write(&fifo, "late\n").unwrap();
        engine
            .wait_for_runners(std::time::Duration::from_secs(10))
            .await;
        let after = engine.execution(&id).await.unwrap();
        assert_eq!(after.status, Status::Failed);
        engine.shutdown();
    });
}

// Class 2: limits hold for workflows recovered at start.

#[test]
fn a_self_calling_workflow_recovered_after_a_restart_still_stops_at_the_limit() {
    let fx = Fixture::new();
    let dir = fx.packs.join("again");
    write(
        &dir.join("pack.yaml"),
        "ref: again\nname: again\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/slow.yaml"),
        "name: slow\nrunner_type: orquesta\nentry_point: workflows/slow.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/slow.yaml"),
        "version: 1.0\ninput:\n  - fifo\ntasks:\n  wait:\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n    next:\n      - do: again\n  again:\n    action: again.slow\n    input:\n      fifo: <% ctx().fifo %>\n",
    );
    let options = |fx: &Fixture| EngineOptions {
        max_depth: Some(5),
        // Runners find the next engine through listener.json.
        advertise: true,
        ..fx.options()
    };
    let fifo = fx.path("again.fifo");
    mkfifo(&fifo);
    let first = tokio::runtime::Runtime::new().unwrap();
    let root = first.block_on(async {
        let engine = Engine::start(options(&fx)).await.unwrap();
        let mut rx = engine.subscribe();
        let root = engine
            .run(RunRequest {
                action: "again.slow".into(),
                parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
                ..Default::default()
            })
            .await
            .unwrap();
        // Level 1's gate runs; the engine goes away.
        wait_for(&mut rx, |ev| {
            matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
        })
        .await;
        root.id
    });
    first.shutdown_background();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options(&fx)).await.unwrap();
        // Every gate may pass now: a writer holds the fifo open with lines
        // for more levels than the limit allows.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let f = fifo.clone();
        let writer = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&f)
                .unwrap();
            w.write_all("go\n".repeat(20).as_bytes()).unwrap();
            let _ = held.recv();
        });
        let done = finished(&engine, &root).await;
        release.send(()).unwrap();
        writer.await.unwrap();
        assert_eq!(done.status, Status::Failed, "{}", done.result);
        let all = engine.descendants(&root, -1).await.unwrap();
        let levels = all.iter().filter(|e| e.action.ref_ == "again.slow").count();
        assert_eq!(levels, 4, "levels 2 to 5 ran, level 6 was refused");
        let text = serde_json::to_string(&all).unwrap();
        assert!(
            text.contains("6 levels deep") && text.contains("limit of 5"),
            "{text}"
        );
        engine.shutdown();
    });
}

// Class 5: a cap on stored output, said in the record; lists stay small
// whatever one execution holds.

fn loud_pack(fx: &Fixture) {
    let dir = fx.packs.join("loud");
    write(
        &dir.join("pack.yaml"),
        "ref: loud\nname: loud\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/print.yaml"),
        "name: print\nrunner_type: local-shell-cmd\nparameters:\n  mb: {type: integer, required: true}\n  cmd: {immutable: true, default: 'head -c $(({{mb}} * 1048576)) /dev/zero | tr \"\\\\0\" x; echo'}\n  timeout: {default: 600}\n",
    );
}

fn db_size(fx: &Fixture) -> u64 {
    ["stormdesk.db", "stormdesk.db-wal"]
        .iter()
        .filter_map(|n| std::fs::metadata(fx.path(n)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_beyond_the_cap_is_dropped_and_the_record_says_so() {
    let fx = Fixture::new();
    loud_pack(&fx);
    let mut opts = fx.options();
    opts.max_output_bytes = Some(1024 * 1024);
    let engine = Engine::start(opts).await.unwrap();
    let before = db_size(&fx);
    let done = run(&engine, "loud.print", json!({"mb": 20})).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["truncated"],
        json!({"limit_bytes": 1048576, "dropped_bytes": 20 * 1048576 + 1 - 1048576})
    );
    let stdout = done.result["stdout"].as_str().unwrap();
    assert!(stdout.len() < 1048576 + 200, "{}", stdout.len());
    assert!(stdout.contains("output beyond 1048576 bytes is not kept"));
    let chunks = engine.output(&done.id, None).await.unwrap();
    let stored: usize = chunks.iter().map(|c| c.data.len()).sum();
    assert!(stored < 1048576 + 200, "{stored}");
    assert!(chunks.last().unwrap().data.contains("is not kept"));
    // 20 MB printed; the store grew by about twice the cap, not 40 MB.
    let grown = db_size(&fx).saturating_sub(before);
    assert!(grown < 6 * 1048576, "the store grew by {grown} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_executions_stays_small_whatever_one_execution_holds() {
    let fx = Fixture::new();
    loud_pack(&fx);
    let mut opts = fx.options();
    // Room for all of it: the example of issue 13, 100 MB of stdout.
    opts.max_output_bytes = Some(128 * 1048576);
    let engine = Engine::start(opts).await.unwrap();
    let e = engine
        .run(RunRequest {
            action: "loud.print".into(),
            parameters: params(&[("mb", json!(100))]),
            ..Default::default()
        })
        .await
        .unwrap();
    // 100 MB through a debug build on a busy machine: a bound for a hang,
    // not a measure of speed.
    let done = tokio::time::timeout(std::time::Duration::from_secs(600), engine.wait(&e.id))
        .await
        .expect("100 MB of output did not complete")
        .unwrap();
    engine
        .wait_for_runners(std::time::Duration::from_secs(60))
        .await;
    assert_eq!(done.status, Status::Succeeded);
    assert_eq!(done.result["stdout"].as_str().unwrap().len(), 100 * 1048576);
    assert!(done.result.get("truncated").is_none());
    for i in 0..4 {
        run(&engine, "t.echo", json!({"msg": format!("small {i}")})).await;
    }
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let auth = format!("Bearer {token}");
    for uri in [
        "/v1/executions?limit=5",
        "/v1/executions?limit=5&include_attributes=id,status,action,start_timestamp",
        "/v1/executions?limit=5&exclude_attributes=result",
    ] {
        let (status, _, body) = send(
            router.clone(),
            "GET",
            uri,
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert!(status.is_success(), "{uri}: {body}");
        assert_eq!(body.as_array().unwrap().len(), 5, "{uri}");
        let size = body.to_string().len();
        assert!(size < 64 * 1024, "{uri}: {size} bytes");
    }
    // The result is there for whoever asks for it.
    let (_, one) = call(
        router,
        "GET",
        &format!("/v1/executions/{}?include_attributes=id", done.id),
        &token,
        None,
    )
    .await;
    assert_eq!(one["id"], json!(done.id));
}

// Class 7: files others can read; tokens stored hashed.

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn check_private(home: &Path) {
    for dir in ["", "config", "spool", "logs", "configs"] {
        let p = home.join(dir);
        assert_eq!(mode(&p), 0o700, "{}", p.display());
    }
    for file in [
        "stormdesk.db",
        "stormdesk.db-wal",
        "stormdesk.db-shm",
        "config/token",
        "config/credentials",
    ] {
        let p = home.join(file);
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}

/// A local user made for the test (root only), removed when dropped.
struct OtherUser(String);

impl OtherUser {
    fn create() -> OtherUser {
        let name = format!("sdt{}", std::process::id() % 100_000);
        // Left over by a run that was killed: start clean.
        let _ = std::process::Command::new("userdel")
            .arg(&name)
            .stderr(std::process::Stdio::null())
            .status();
        let status = std::process::Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", &name])
            .status()
            .expect("useradd");
        assert!(status.success(), "useradd {name}");
        OtherUser(name)
    }

    /// Runs `sh -c cmd` as this user; true when it succeeded.
    fn can(&self, cmd: &str) -> bool {
        std::process::Command::new("runuser")
            .args(["-u", &self.0, "--", "sh", "-c", cmd])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("runuser")
            .success()
    }

    fn uid(&self) -> u32 {
        nix::unistd::User::from_name(&self.0)
            .unwrap()
            .unwrap()
            .uid
            .as_raw()
    }
}

impl Drop for OtherUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_and_database_are_private_whoever_made_the_folder() {
    // The engine makes the folder.
    let fx = Fixture::new();
    let home = fx.home.path().to_path_buf();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let engine = fx.engine().await;
    run(&engine, "t.echo", json!({"msg": "x"})).await;
    check_private(&home);
    engine.shutdown();

    // The folders existed first, open to all (0755, as `mkdir` makes them).
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre");
    for d in ["", "config", "spool", "logs", "configs"] {
        std::fs::create_dir_all(pre.join(d)).unwrap();
        std::fs::set_permissions(
            pre.join(d),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    std::fs::write(pre.join("stormdesk.db"), "").unwrap();
    std::fs::set_permissions(
        pre.join("stormdesk.db"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let engine = Engine::start(EngineOptions {
        home: Some(pre.clone()),
        ..fx.options()
    })
    .await
    .unwrap();
    run(&engine, "t.echo", json!({"msg": "x"})).await;
    check_private(&pre);
    engine.shutdown();

    if !root_or_skip("reading the store as another local user") {
        return;
    }
    let other = OtherUser::create();
    // The temporary directories above are 0700 themselves; open the way to
    // the data folder so only its own modes stand in the way.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let db = pre.join("stormdesk.db");
    assert!(other.can(&format!("test -d {}", tmp.path().display())));
    assert!(!other.can(&format!("cat {} > /dev/null", db.display())));
    assert!(!other.can(&format!("ls {}", pre.display())));
    assert!(!other.can(&format!("cat {}/config/token", pre.display())));

    // A folder another user made (and so can open at any time) is refused.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(other.uid())), None).unwrap();
    let err = Engine::start(EngineOptions {
        home: Some(theirs.clone()),
        ..fx.options()
    })
    .await
    .err()
    .expect("a data folder of another user is refused");
    let msg = err.to_string();
    assert!(
        msg.contains(&theirs.display().to_string()) && msg.contains("belongs to"),
        "{msg}"
    );
}

/// A runner binary that writes the first request it gets (the line after
/// the serving line) to `<dir>/request.json`, then runs the real runner with
/// both lines and whatever follows.
fn recording_runner(dir: &Path) -> PathBuf {
    let path = dir.join("recording-runner.sh");
    script(
        &path,
        &format!(
            "#!/bin/bash\nIFS= read -r serve\nIFS= read -r line\nprintf '%s\\n' \"$line\" > {}/request.json\n{{ printf '%s\\n%s\\n' \"$serve\" \"$line\"; exec cat; }} | exec {}\n",
            dir.display(),
            runner_bin().display()
        ),
    );
    path
}

/// An engine whose runner records its request, with `t.gate` running on a
/// fifo: the engine, the execution's id, the fifo and the request the runner
/// got. The write queue has drained (the running status is committed).
async fn recorded_gate(fx: &Fixture) -> (Engine, String, PathBuf, Value) {
    let engine = Engine::start(EngineOptions {
        runner_bin: Some(recording_runner(fx.home.path())),
        ..fx.options()
    })
    .await
    .unwrap();
    let mut rx = engine.subscribe();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let e = engine.run(gate(&fifo)).await.unwrap();
    wait_status(&mut rx, &e.id, Status::Running).await;
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(fx.path("request.json")).unwrap()).unwrap();
    engine
        .key_set(stormdesk_engine::keys::KeySet::new(
            stormdesk_engine::keys::KeyScope::System,
            "barrier",
            "1",
        ))
        .await
        .unwrap();
    (engine, e.id, fifo, request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_tokens_are_stored_hashed_and_only_the_clear_token_reports() {
    let fx = Fixture::new();
    let (engine, id, fifo, request) = recorded_gate(&fx).await;
    let clear = request["callback"]["token"].as_str().unwrap().to_string();
    let action_token = request["api"]["token"].as_str().unwrap().to_string();
    assert_eq!(clear.len(), 48);
    let db = store_bytes(&fx);
    assert!(!db.contains(&clear), "the clear callback token is stored");
    assert!(
        !db.contains(&action_token),
        "the clear action token is stored"
    );
    assert!(db.contains("sha256:"), "the hash is stored");
    // The stored hash does not open the runner's routes; the clear token does.
    let hash = stormdesk_engine::token::callback_token_hash(&clear);
    let router = stormdesk_engine::api::router(engine.clone());
    for (token, ok) in [(hash.as_str(), false), ("", false), (clear.as_str(), true)] {
        let (status, body) = call(
            router.clone(),
            "PUT",
            &format!("/runner/v1/executions/{}", id),
            token,
            Some(json!({"status": "running"})),
        )
        .await;
        assert_eq!(status.is_success(), ok, "{token:?}: {status} {body}");
    }
    std::fs::write(&fifo, "go\n").unwrap();
    let done = finished(&engine, &id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

/// A runner killed while the engine handles its final report drops the
/// request mid-way. The completion still goes through: it used to stop
/// half done, leave the execution "being saved" for good, and keep its
/// workflow waiting for ever (found by killing runners at random under load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_report_dropped_while_it_is_saved_still_completes_the_execution() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tower::ServiceExt;

    let fx = Fixture::new();
    let (engine, id, fifo, request) = recorded_gate(&fx).await;
    let token = request["callback"]["token"].as_str().unwrap().to_string();
    // Hold the store's write lock: the report's save waits on it.
    let lock = rusqlite::Connection::open(fx.path("stormdesk.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    let report = axum::http::Request::builder()
        .method("PUT")
        .uri(format!("/runner/v1/executions/{}", id))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(
            json!({"status": "succeeded", "result": {"stdout": "reported"}}).to_string(),
        ))
        .unwrap();
    let mut handling = Box::pin(stormdesk_engine::api::router(engine.clone()).oneshot(report));
    // One poll takes the report as far as the save, which cannot finish
    // while the lock is held; then the connection is gone.
    let polled = handling
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()));
    assert!(matches!(polled, Poll::Pending), "the save did not wait");
    drop(handling);
    lock.execute_batch("COMMIT").unwrap();

    let done = finished(&engine, &id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["stdout"], json!("reported"));
    std::fs::write(&fifo, "go\n").unwrap();
    engine.shutdown();
}

// Class 10: hardening, end to end through the API.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_points_out_of_the_pack_big_integers_and_empty_tokens_are_refused_by_the_api() {
    let fx = Fixture::new();
    let outside = fx.path("outside.sh");
    let ran = fx.path("outside-ran");
    script(&outside, &format!("#!/bin/sh\ntouch {}\n", ran.display()));
    let dir = fx.packs.join("bad");
    write(
        &dir.join("pack.yaml"),
        "ref: bad\nname: bad\nversion: 0.1.0\n",
    );
    std::os::unix::fs::symlink(&outside, dir.join("actions-link.sh")).unwrap();
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("actions/link.sh")).unwrap();
    for (name, ep) in [
        ("dotdot", "../../../outside.sh".to_string()),
        ("absolute", outside.display().to_string()),
        ("symlink", "link.sh".to_string()),
    ] {
        write(
            &dir.join(format!("actions/{name}.yaml")),
            &format!("name: {name}\nrunner_type: local-shell-script\nentry_point: '{ep}'\n"),
        );
    }
    let engine = fx.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    for name in ["dotdot", "absolute", "symlink"] {
        let (status, body) = call(
            router.clone(),
            "POST",
            "/v1/executions",
            &token,
            Some(json!({"action": format!("bad.{name}")})),
        )
        .await;
        assert!(status.is_client_error(), "bad.{name}: {status} {body}");
        let msg = body["faultstring"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&format!("bad.{name}")) && msg.contains("outside the pack"),
            "bad.{name}: {body}"
        );
    }
    assert!(!ran.exists(), "a file outside the pack ran");

    // 99999999999999999999999 (as JSON text, as a number and as a string).
    let auth = format!("Bearer {token}");
    for raw in [
        r#"{"action": "t.types", "parameters": {"count": 99999999999999999999999}}"#,
        r#"{"action": "t.types", "parameters": {"count": "99999999999999999999999"}}"#,
        r#"{"action": "t.types", "parameters": {"count": -99999999999999999999999}}"#,
    ] {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/v1/executions")
            .header("content-type", "application/json")
            .header("authorization", &auth)
            .body(axum::body::Body::from(raw))
            .unwrap();
        use tower::ServiceExt;
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(status.as_u16(), 400, "{raw}: {text}");
        assert!(
            text.contains("'count'") && text.contains("integer"),
            "{raw}: {text}"
        );
    }
    let (_, list) = call(
        router.clone(),
        "GET",
        "/v1/executions?action=t.types",
        &token,
        None,
    )
    .await;
    assert_eq!(list, json!([]), "nothing was recorded");

    // Empty credentials of every kind open nothing.
    for headers in [
        vec![("authorization", "Bearer ")],
        vec![("x-auth-token", "")],
        vec![("st2-api-key", "")],
    ] {
        let (status, _, body) = send(router.clone(), "GET", "/v1/executions", &headers, None).await;
        assert_eq!(status.as_u16(), 401, "{headers:?}: {body}");
    }
    let (status, _, body) = send(
        router.clone(),
        "GET",
        "/v1/executions?x-auth-token=&st2-api-key=",
        &[],
        None,
    )
    .await;
    assert_eq!(status.as_u16(), 401, "{body}");
}

#[test]
fn a_recovered_workflow_has_no_callback_token_and_an_empty_one_reports_nothing() {
    let fx = Fixture::new();
    faults_pack(&fx);
    let fifo = fx.path("wf.fifo");
    mkfifo(&fifo);
    let dir = fx.packs.join("w");
    write(&dir.join("pack.yaml"), "ref: w\nname: w\nversion: 0.1.0\n");
    write(
        &dir.join("actions/hold.yaml"),
        "name: hold\nrunner_type: orquesta\nentry_point: workflows/hold.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/hold.yaml"),
        "version: 1.0\ninput:\n  - fifo\ntasks:\n  wait:\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n",
    );
    // Runners find the next engine through listener.json.
    let options = EngineOptions {
        advertise: true,
        ..fx.options()
    };
    let first = tokio::runtime::Runtime::new().unwrap();
    let root = first.block_on(async {
        let engine = Engine::start(options.clone()).await.unwrap();
        let mut rx = engine.subscribe();
        let root = engine
            .run(RunRequest {
                action: "w.hold".into(),
                parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_for(&mut rx, |ev| {
            matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
        })
        .await;
        root.id
    });
    first.shutdown_background();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options).await.unwrap();
        let router = stormdesk_engine::api::router(engine.clone());
        for headers in [vec![("authorization", "Bearer ")], vec![]] {
            let (status, _, body) = send(
                router.clone(),
                "PUT",
                &format!("/runner/v1/executions/{root}"),
                &headers,
                Some(json!({"status": "succeeded", "result": {"forged": true}})),
            )
            .await;
            assert_eq!(status.as_u16(), 401, "{headers:?}: {body}");
        }
        std::fs::write(&fifo, "go\n").unwrap();
        let done = finished(&engine, &root).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert!(done.result.get("forged").is_none());
        engine.shutdown();
    });
}
