//! What the README and docs/architecture.md say the engine does, each shown
//! so that the test fails when the behaviour breaks (issue 18).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use stormdesk_engine::workflow::CompletionMode;
use stormdesk_engine::{Engine, EngineOptions, Event, RunRequest, Status};

use crate::common::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn script(path: &Path, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// A workflow pack `c`: `c.items` runs `t.gate` on five items, two at a
/// time; `c.two` runs two noop tasks in a row; `c.secret` waits on a gate
/// with a secret input.
fn claims_pack(fx: &Fixture) {
    let dir = fx.packs.join("c");
    write(&dir.join("pack.yaml"), "ref: c\nname: c\nversion: 0.1.0\n");
    for (name, params, body) in [
        (
            "items",
            "  fifo: {type: string, required: true}\n",
            "version: 1.0\ninput:\n  - fifo\ntasks:\n  each:\n    with:\n      items: i in <% [1, 2, 3, 4, 5] %>\n      concurrency: 2\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n",
        ),
        (
            "two",
            "",
            "version: 1.0\ntasks:\n  first:\n    action: core.noop\n    next:\n      - do: second\n  second:\n    action: core.noop\n",
        ),
        (
            "secret",
            "  fifo: {type: string, required: true}\n  password: {type: string, required: true, secret: true}\n",
            "version: 1.0\ninput:\n  - fifo\n  - password\ntasks:\n  wait:\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\n",
        ),
        (
            "kvsecret",
            "  fifo: {type: string, required: true}\n",
            "version: 1.0\ninput:\n  - fifo\nvars:\n  - pw: <% st2kv('system.vault', decrypt => true) %>\ntasks:\n  wait:\n    action: t.gate\n    input:\n      fifo: <% ctx().fifo %>\noutput:\n  - pw: <% ctx(pw) %>\n  - len: <% len(ctx(pw)) %>\n",
        ),
    ] {
        write(
            &dir.join(format!("actions/{name}.yaml")),
            &format!("name: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\nparameters:\n{params}"),
        );
        write(&dir.join(format!("actions/workflows/{name}.yaml")), body);
    }
}

/// Opens `fifo` for writing (read-write, so it never waits for a reader),
/// writes `lines` and keeps it open until the returned sender is dropped.
fn hold_fifo(fifo: &Path, lines: usize) -> std::sync::mpsc::Sender<()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let f = fifo.to_path_buf();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&f)
            .unwrap();
        w.write_all("go\n".repeat(lines).as_bytes()).unwrap();
        let _ = held.recv();
    });
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_runs_exactly_concurrency_items_at_once() {
    let fx = Fixture::new();
    claims_pack(&fx);
    let engine = fx.engine().await;
    let mut rx = engine.subscribe();
    let fifo = fx.path("items.fifo");
    mkfifo(&fifo);
    let e = engine
        .run(RunRequest {
            action: "c.items".into(),
            parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut running = std::collections::HashSet::new();
    let mut peak = 0;
    let mut release = None;
    loop {
        let ev = wait_for(&mut rx, |_| true).await;
        let Event::Execution { execution, .. } = ev else {
            continue;
        };
        if execution.id == e.id && execution.status.is_completed() {
            break;
        }
        if execution.parent.as_deref() != Some(e.id.as_str()) {
            continue;
        }
        if execution.status == Status::Running {
            running.insert(execution.id.clone());
        } else if execution.status.is_completed() {
            running.remove(&execution.id);
        }
        peak = peak.max(running.len());
        // Every gate blocks until the fifo has lines: two run at once
        // before any can finish. Then all may go.
        if running.len() == 2 && release.is_none() {
            release = Some(hold_fifo(&fifo, 5));
        }
    }
    assert_eq!(peak, 2, "concurrency 2: two items at once, never more");
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(engine.descendants(&e.id, -1).await.unwrap().len(), 5);
}

#[test]
fn a_runner_reaches_an_engine_restarted_on_another_port_through_listener_json() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let options = EngineOptions {
        advertise: true,
        ..fx.options()
    };
    let first = tokio::runtime::Runtime::new().unwrap();
    let (id, first_url) = first.block_on(async {
        let engine = Engine::start(options.clone()).await.unwrap();
        let mut rx = engine.subscribe();
        let e = engine.run(gate(&fifo)).await.unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        (e.id, engine.api_url())
    });
    first.shutdown_background();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options).await.unwrap();
        assert_ne!(engine.api_url(), first_url, "a new port");
        std::fs::write(&fifo, "moved\n").unwrap();
        // Within 20 s: before the engine's first periodic look at the spool
        // (30 s), so only a report to the new port can complete it.
        let done = tokio::time::timeout(Duration::from_secs(20), engine.wait(&id))
            .await
            .expect("the runner did not reach the restarted engine")
            .unwrap();
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!("waiting\ndone-moved"));
        assert!(!fx.path("spool").join(format!("{id}.json")).exists());
        engine.shutdown();
    });
}

#[test]
fn the_spool_is_applied_periodically_without_a_runner_exit_or_a_restart() {
    let fx = Fixture::new();
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    // No listener.json: a runner whose engine is gone cannot find the next.
    let first = tokio::runtime::Runtime::new().unwrap();
    let id = first.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        let e = engine.run(gate(&fifo)).await.unwrap();
        wait_status(&mut rx, &e.id, Status::Running).await;
        e.id
    });
    first.shutdown_background();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = fx.engine().await;
        let mut rx = engine.subscribe();
        // The adopted runner is not this engine's child: when it spools and
        // exits, only the periodic look at the spool (every 30 s) finds it.
        let started = Instant::now();
        std::fs::write(&fifo, "late\n").unwrap();
        let done = tokio::time::timeout(Duration::from_secs(45), async {
            loop {
                let ev = rx.recv().await.expect("event bus closed");
                if matches!(&ev.event, Event::Execution { execution, .. } if execution.id == id && execution.status == Status::Succeeded) {
                    break;
                }
            }
        })
        .await;
        assert!(done.is_ok(), "the spool was not applied within 45 s");
        let record = engine.execution(&id).await.unwrap();
        assert_eq!(record.result["stdout"], json!("waiting\ndone-late"));
        // The file goes right after it is applied (bounded wait).
        let spooled = fx.path("spool").join(format!("{id}.json"));
        let until = Instant::now() + Duration::from_secs(5);
        while spooled.exists() {
            assert!(Instant::now() < until, "the applied spool file stays");
            tokio::task::yield_now().await;
        }
        assert!(
            started.elapsed() > Duration::from_secs(1),
            "applied by the periodic sweep, not at once"
        );
        engine.shutdown();
    });
}

#[test]
fn a_workflow_with_secret_inputs_fails_after_a_restart_saying_why() {
    let fx = Fixture::new();
    claims_pack(&fx);
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let options = EngineOptions {
        advertise: true,
        ..fx.options()
    };
    let first = tokio::runtime::Runtime::new().unwrap();
    let id = first.block_on(async {
        let engine = Engine::start(options.clone()).await.unwrap();
        let mut rx = engine.subscribe();
        let e = engine
            .run(RunRequest {
                action: "c.secret".into(),
                parameters: params(&[
                    ("fifo", json!(fifo.display().to_string())),
                    ("password", json!("restart-secret-1")),
                ]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_for(&mut rx, |ev| {
            matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
        })
        .await;
        e.id
    });
    first.shutdown_background();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options).await.unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Failed, "{}", done.result);
        let text = done.result.to_string();
        assert!(text.contains("secret"), "{text}");
        assert!(!text.contains("restart-secret-1"), "{text}");
        std::fs::write(&fifo, "go\n").unwrap();
        engine.shutdown();
    });
}

/// A workflow that decrypted a datastore secret and was cut off by a stop:
/// its saved state never holds the clear text, and the restart either
/// re-reads the secret (the log is replayed from a snapshot taken before it
/// was decrypted, as here) or refuses to resume; it never goes on with a
/// masked value in place of the secret.
#[test]
fn a_workflow_that_decrypted_a_datastore_secret_resumes_with_the_secret_after_a_restart() {
    let fx = Fixture::new();
    claims_pack(&fx);
    let fifo = fx.path("gate.fifo");
    mkfifo(&fifo);
    let options = EngineOptions {
        advertise: true,
        ..fx.options()
    };
    let first = tokio::runtime::Runtime::new().unwrap();
    let id = first.block_on(async {
        let engine = Engine::start(options.clone()).await.unwrap();
        let set = stormdesk_engine::keys::KeySet {
            secret: true,
            ..stormdesk_engine::keys::KeySet::new(
                stormdesk_engine::keys::KeyScope::System,
                "vault",
                "restart-vault-22",
            )
        };
        engine.key_set(set).await.unwrap();
        let mut rx = engine.subscribe();
        let e = engine
            .run(RunRequest {
                action: "c.kvsecret".into(),
                parameters: params(&[("fifo", json!(fifo.display().to_string()))]),
                ..Default::default()
            })
            .await
            .unwrap();
        wait_for(&mut rx, |ev| {
            matches!(ev, Event::Execution { execution, .. } if execution.action.ref_ == "t.gate" && execution.status == Status::Running)
        })
        .await;
        e.id
    });
    first.shutdown_background();
    let clear_on_disk = || store_bytes(&fx).contains("restart-vault-22");
    assert!(!clear_on_disk(), "the secret is in the store in clear");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::start(options).await.unwrap();
        std::fs::write(&fifo, "go\n").unwrap();
        let done = finished(&engine, &id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        let output = &done.result["output"];
        assert_eq!(output["pw"], json!("********"), "{output}");
        assert_eq!(
            output["len"],
            json!(16),
            "the secret itself, not the mask: {output}"
        );
        engine.shutdown();
    });
    assert!(!clear_on_disk(), "the secret is in the store in clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_ignores_cancel_is_killed_with_its_action_after_the_grace() {
    let fx = Fixture::new();
    // The runner never hears the engine's `cancel` line: its stdin goes to
    // a `sleep` instead.
    let deaf = script(
        &fx.path("deaf-runner.sh"),
        &format!(
            "#!/bin/bash\nIFS= read -r serve\nIFS= read -r line\n{{ printf '%s\\n%s\\n' \"$serve\" \"$line\"; exec sleep 1000; }} | exec {}\n",
            runner_bin().display()
        ),
    );
    let engine = Engine::start(EngineOptions {
        runner_bin: Some(deaf),
        ..fx.options()
    })
    .await
    .unwrap();
    let mut rx = engine.subscribe();
    let pidfile = fx.path("tree.pids");
    let e = engine
        .run(RunRequest {
            action: "t.tree".into(),
            parameters: params(&[("pidfile", json!(pidfile.display().to_string()))]),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_for(&mut rx, |ev| {
        matches!(ev, Event::Output { output } if output.execution_id == e.id && output.data.contains("started"))
    })
    .await;
    let running = engine.execution(&e.id).await.unwrap();
    let runner_pid = running.context["runner_pid"].as_u64().unwrap() as u32;
    let action_pids: Vec<u32> = std::fs::read_to_string(&pidfile)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(action_pids.len(), 2);
    let asked = Instant::now();
    engine.cancel(&e.id).await.unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Canceled, "{}", done.result);
    // Killed, not stopped by the runner: the engine waited out its grace.
    assert!(
        asked.elapsed() >= Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );
    for pid in action_pids.iter().chain([&runner_pid]) {
        assert!(pid_gone(*pid), "process {pid} survived the cancel");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_completion_mode_advances_a_workflow_only_when_the_tracker_polls() {
    let fx = Fixture::new();
    claims_pack(&fx);
    let every = Duration::from_millis(1500);
    let engine = Engine::start(EngineOptions {
        completion: CompletionMode::Poll(every),
        ..fx.options()
    })
    .await
    .unwrap();
    let mut rx = engine.subscribe();
    let e = engine
        .run(RunRequest {
            action: "c.two".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // When `first` completes, `second` starts at the next poll, not at once.
    let mut first_done = None;
    let mut second_created = None;
    while second_created.is_none() {
        let ev = wait_for(&mut rx, |_| true).await;
        let Event::Execution { execution, created } = ev else {
            continue;
        };
        let task = execution.task_name().unwrap_or("").to_string();
        if task == "first" && execution.status.is_completed() && first_done.is_none() {
            first_done = Some(Instant::now());
        }
        if task == "second" && created {
            second_created = Some(Instant::now());
        }
    }
    let gap = second_created.unwrap() - first_done.expect("first completed before second");
    assert!(
        gap >= Duration::from_millis(300),
        "second started {gap:?} after first completed: that is push, not a poll every {every:?}"
    );
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prestarted_runner_is_the_one_that_runs_the_next_action() {
    let fx = Fixture::new();
    // A runner that says its pid when it starts, before any request: the
    // first one through a fifo the test reads.
    let said = fx.path("first.fifo");
    mkfifo(&said);
    let noting = script(
        &fx.path("noting-runner.sh"),
        &format!(
            "#!/bin/bash
if [ -p {f} ]; then echo $$ > {f}; rm -f {f}; fi
exec {}
",
            runner_bin().display(),
            f = said.display(),
        ),
    );
    let engine = Engine::start(EngineOptions {
        runner_bin: Some(noting),
        prewarm: true,
        ..fx.options()
    })
    .await
    .unwrap();
    let mut rx = engine.subscribe();
    let first: u64 = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || std::fs::read_to_string(said).unwrap()),
    )
    .await
    .expect("no runner was started ahead")
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let e = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!("warm"))]),
            ..Default::default()
        })
        .await
        .unwrap();
    wait_status(&mut rx, &e.id, Status::Succeeded).await;
    let record = engine.execution(&e.id).await.unwrap();
    assert_eq!(
        record.context["runner_pid"].as_u64(),
        Some(first),
        "the run used the runner started ahead"
    );
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The worktree paths `git worktree list --porcelain` prints, the main one aside.
fn git_worktree_list(repo: &Path) -> Vec<String> {
    let o = std::process::Command::new("git")
        .args(["worktree", "list", "--porcelain"])
        .current_dir(repo)
        .output()
        .expect("git");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut out: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .filter(|p| Path::new(p) != repo)
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_18_revisions_keep_the_16_most_recent_worktrees_each_listed_by_git() {
    let fx = Fixture::new();
    let src = fx.path("src/deploy");
    let (mut git, _) = crate::gitpack::deploy_pack(&src);
    let repo = src.canonicalize().unwrap();
    let mut tags = Vec::new();
    for i in 1..=18 {
        git.write(
            "actions/greet.sh",
            &format!("#!/bin/sh\necho \"r{i} $1\"\n"),
        );
        let oid = git.commit(&format!("release {i}"));
        git.tag(&format!("r{i}"), oid);
        tags.push((format!("r{i}"), oid.to_string()));
    }
    let mut opts = fx.options();
    opts.pack_dirs.push(src.clone());
    let engine = Engine::start(opts).await.unwrap();
    let wt = fx.path("worktrees/deploy");
    for (n, (tag, sha)) in tags.iter().enumerate() {
        let e = engine
            .run(RunRequest {
                action: "deploy.greet".into(),
                content_version: Some(tag.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        let done = finished(&engine, &e.id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!(format!("{tag} world")));
        if n == 0 {
            // `git worktree list` itself knows the worktree.
            let listed = git_worktree_list(&repo);
            let path = wt.join(sha).canonicalize().unwrap();
            assert_eq!(listed, vec![path.display().to_string()], "{listed:?}");
        }
    }
    // Pruning runs in the background after each new worktree: bounded wait
    // until the count settles at the default limit.
    let deadline = Instant::now() + WAIT;
    while entries(&wt).len() > 16 || git_worktree_list(&repo).len() > 16 {
        assert!(Instant::now() < deadline, "{:?}", entries(&wt));
        tokio::task::yield_now().await;
    }
    let kept = entries(&wt);
    let expected: Vec<String> = {
        let mut v: Vec<String> = tags[2..].iter().map(|(_, sha)| sha.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(kept, expected, "the two least recently used went");
    let mut listed = git_worktree_list(&repo);
    listed.iter_mut().for_each(|p| {
        *p = Path::new(p)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string()
    });
    listed.sort();
    assert_eq!(listed, expected, "git lists exactly the worktrees kept");
}

/// Reads SSE frames `(id, event, data)` from `reader` until `stop` says so
/// or the stream ends.
fn sse_frames(
    reader: Box<dyn std::io::Read + Send + Sync>,
    mut stop: impl FnMut(&(u64, String, serde_json::Value)) -> bool,
) -> Vec<(u64, String, serde_json::Value)> {
    use std::io::BufRead;
    let mut frames = Vec::new();
    let (mut id, mut event) = (0u64, String::new());
    for line in std::io::BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().unwrap();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            let frame = (id, event.clone(), serde_json::from_str(v.trim()).unwrap());
            let done = stop(&frame);
            frames.push(frame);
            if done {
                break;
            }
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_resumes_after_the_last_event_id_with_what_was_missed() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let url = engine.api_url();
    let auth = format!("Bearer {}", engine.api_token());
    let stream = move |last: Option<u64>, query: String| {
        let mut req = ureq::get(&format!("{url}/v1/stream?{query}")).set("Authorization", &auth);
        if let Some(id) = last {
            req = req.set("Last-Event-ID", &id.to_string());
        }
        req.call().unwrap().into_reader()
    };
    // A client sees the first run complete, then goes away.
    let reader = tokio::task::spawn_blocking({
        let stream = stream.clone();
        move || stream(None, "events=st2.execution__update".into())
    })
    .await
    .unwrap();
    let first = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!("one"))]),
            ..Default::default()
        })
        .await
        .unwrap();
    let first_id = first.id.clone();
    let seen = tokio::task::spawn_blocking(move || {
        sse_frames(reader, |(_, _, d)| {
            d["id"] == json!(first_id) && d["status"] == "succeeded"
        })
    })
    .await
    .unwrap();
    let last = seen.last().unwrap().0;
    // While it is away, a second run.
    let second = engine
        .run(RunRequest {
            action: "t.echo".into(),
            parameters: params(&[("msg", json!("two"))]),
            ..Default::default()
        })
        .await
        .unwrap();
    finished(&engine, &second.id).await;
    // Back with Last-Event-ID: what it missed, and nothing it had seen.
    let query = format!(
        "events=st2.execution__update&end_execution_id={}&end_event=st2.execution__update",
        second.id
    );
    let replayed = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || sse_frames(stream(Some(last), query), |_| false)),
    )
    .await
    .expect("the resumed stream did not end")
    .unwrap();
    assert!(replayed.iter().all(|(id, _, _)| *id > last), "{replayed:?}");
    assert!(replayed.iter().all(|(_, _, d)| d["id"] != json!(first.id)));
    let statuses: Vec<&str> = replayed
        .iter()
        .filter(|(_, _, d)| d["id"] == json!(second.id))
        .map(|(_, _, d)| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"succeeded"), "{statuses:?}");
    assert!(statuses.contains(&"running"), "{statuses:?}");
}
