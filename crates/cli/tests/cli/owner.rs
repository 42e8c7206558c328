//! Every execution has an owner that outlives it (issue 13, class 11), and a
//! store that cannot be written stops `run` and `serve` at once (class 3).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::restart::wait_for_status;
use crate::{run, stderr, stdout, stormdesk, Server};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Packs directory with pack `own`: `own.top` runs the workflow `own.sub`,
/// which waits on a fifo (`own.gate`) then echoes.
pub(crate) fn own_pack(dir: &Path) -> PathBuf {
    let pack = dir.join("own");
    write(
        &pack.join("pack.yaml"),
        "ref: own\nname: own\nversion: 0.1.0\n",
    );
    write(
        &pack.join("actions/gate.yaml"),
        "name: gate\nrunner_type: local-shell-cmd\nparameters:\n  fifo: {type: string, required: true}\n  cmd: {immutable: true, default: 'read line < {{fifo}}; echo \"gate $line\"'}\n",
    );
    write(
        &pack.join("actions/wait.yaml"),
        "name: wait\nrunner_type: local-shell-cmd\nparameters:\n  fifo: {type: string, required: true}\n  cmd: {immutable: true, default: 'echo waiting; read line < {{fifo}}; echo \"gate $line\"'}\n",
    );
    write(
        &pack.join("actions/say.yaml"),
        "name: say\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {immutable: true, default: 'echo said'}\n",
    );
    write(
        &pack.join("actions/two.yaml"),
        "name: two\nrunner_type: orquesta\nentry_point: workflows/two.yaml\n",
    );
    write(
        &pack.join("actions/workflows/two.yaml"),
        "version: 1.0\ntasks:\n  first:\n    action: core.noop\n    next:\n      - do: second\n  second:\n    action: core.noop\n",
    );
    for (name, body) in [
        (
            "top",
            "version: 1.0\ninput:\n  - fifo\ntasks:\n  inner:\n    action: own.sub\n    input:\n      fifo: <% ctx().fifo %>\noutput:\n  - said: <% task(inner).result.output.said %>\n",
        ),
        (
            "sub",
            "version: 1.0\ninput:\n  - fifo\ntasks:\n  wait:\n    action: own.gate\n    input:\n      fifo: <% ctx().fifo %>\n    next:\n      - publish:\n          - said: <% result().stdout %>\noutput:\n  - said: <% ctx().said %>\n",
        ),
    ] {
        write(
            &pack.join(format!("actions/{name}.yaml")),
            &format!("name: {name}\nrunner_type: orquesta\nentry_point: workflows/{name}.yaml\nparameters:\n  fifo: {{type: string, required: true}}\n"),
        );
        write(&pack.join(format!("actions/workflows/{name}.yaml")), body);
    }
    dir.to_path_buf()
}

/// `stormdesk [--packs DIR ...] serve`, once it listens.
pub(crate) fn serve_with(home: &Path, packs: &[&Path]) -> Server {
    serve_args(home, packs, &[])
}

/// `stormdesk [--packs DIR ...] serve ARGS`, once it listens.
pub(crate) fn serve_args(home: &Path, packs: &[&Path], args: &[&str]) -> Server {
    let mut cmd = stormdesk(home);
    for p in packs {
        cmd.arg("--packs").arg(p);
    }
    let mut child = cmd
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    Server(child, out)
}

pub(crate) fn listener(home: &Path) -> (String, String) {
    let l: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("listener.json")).unwrap())
            .unwrap();
    let token = std::fs::read_to_string(home.join("config/token")).unwrap();
    (
        l["url"].as_str().unwrap().to_string(),
        token.trim().to_string(),
    )
}

/// The address `serve` listens on for people (`listener.json`'s
/// `console`), which messages name.
fn console(home: &Path) -> String {
    let l: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("listener.json")).unwrap())
            .unwrap();
    l["console"].as_str().unwrap().to_string()
}

pub(crate) fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success());
}

fn stored_ids(home: &Path) -> Vec<String> {
    let o = run(home, &["execution", "list", "--showall", "--json"]);
    if !o.status.success() {
        // No store yet: nothing was ever recorded.
        assert!(stderr(&o).contains("no store"), "{}", stderr(&o));
        return vec![];
    }
    let list: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    list.iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn run_async_hands_a_nested_workflow_to_the_running_engine_which_finishes_it() {
    let home = tempfile::tempdir().unwrap();
    let packs = own_pack(&home.path().join("p"));
    let fifo = home.path().join("gate.fifo");
    mkfifo(&fifo);
    let server = serve_with(home.path(), &[&packs]);
    let fifo_arg = format!("fifo={}", fifo.display());
    // The example of issue 13: --async with the same --packs as `serve`.
    let packs_arg = packs.display().to_string();
    let o = run(
        home.path(),
        &[
            "--packs", &packs_arg, "run", "own.top", &fifo_arg, "--async", "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = e["id"].as_str().unwrap().to_string();
    // The command has returned; the engine that owns the run goes on.
    let (url, token) = listener(home.path());
    wait_for_status(&url, &token, "own.gate", "running");
    assert!(stored_ids(home.path()).contains(&id));
    std::fs::write(&fifo, "open\n").unwrap();
    let o = run(home.path(), &["execution", "tail", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(home.path(), &["execution", "get", &id, "--json"]);
    let done: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["output"]["said"], "gate open");

    // Another input of the class: without --packs, the same hand-over.
    let o = run(home.path(), &["run", "examples.hello", "--async", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = e["id"].as_str().unwrap().to_string();
    let o = run(home.path(), &["execution", "tail", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    drop(server);
}

#[test]
fn run_async_with_packs_the_running_engine_lacks_is_refused_naming_the_action_and_engine() {
    let home = tempfile::tempdir().unwrap();
    let packs = own_pack(&home.path().join("p"));
    let other = own_pack(&home.path().join("other"));
    let fifo = home.path().join("gate.fifo");
    let fifo_arg = format!("fifo={}", fifo.display());
    {
        // `serve` without the packs.
        let _server = serve_with(home.path(), &[]);
        let url = console(home.path());
        let packs_arg = packs.display().to_string();
        let o = run(
            home.path(),
            &[
                "--packs", &packs_arg, "run", "own.top", &fifo_arg, "--async", "--json",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let msg = stderr(&o);
        assert!(
            msg.contains("own.top")
                && msg.contains(&url)
                && msg.contains("stormdesk serve --packs"),
            "{msg}"
        );
        assert!(stdout(&o).is_empty(), "no id is printed");
        assert!(stored_ids(home.path()).is_empty());
        // An action that exists nowhere is not blamed on the packs.
        let o = run(
            home.path(),
            &[
                "--packs",
                &packs_arg,
                "run",
                "own.nosuch",
                "--async",
                "--json",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let msg = stderr(&o);
        assert!(
            msg.contains("action 'own.nosuch' not found")
                && !msg.contains("stormdesk serve --packs"),
            "{msg}"
        );
        assert!(stored_ids(home.path()).is_empty());
    }
    {
        // `serve` with another copy of the pack.
        let _server = serve_with(home.path(), &[&other]);
        let packs_arg = packs.display().to_string();
        let o = run(
            home.path(),
            &[
                "--packs", &packs_arg, "run", "own.top", &fifo_arg, "--async",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
        let msg = stderr(&o);
        assert!(
            msg.contains("own.top")
                && msg.contains(&other.join("own").display().to_string())
                && msg.contains(&packs.join("own").display().to_string()),
            "{msg}"
        );
        assert!(stored_ids(home.path()).is_empty());
    }
}

#[test]
fn run_async_without_a_running_engine_refuses_and_records_nothing() {
    let home = tempfile::tempdir().unwrap();
    let packs = own_pack(&home.path().join("p"));
    let packs_arg = packs.display().to_string();
    // The second example of issue 13, and `--local --async` with or without
    // an engine: each would print an id nobody owns.
    for args in [
        vec!["--packs", &packs_arg, "run", "own.say", "--async"],
        vec!["run", "examples.hello", "--async", "--json"],
        vec!["run", "examples.hello", "--async", "--local"],
    ] {
        let o = run(home.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("start `stormdesk serve"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(stored_ids(home.path()).is_empty());
    // A re-run is a run: the same rule.
    let o = run(home.path(), &["run", "examples.hello", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let first = first["id"].as_str().unwrap().to_string();
    let o = run(home.path(), &["execution", "re-run", &first, "--async"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("start `stormdesk serve`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stored_ids(home.path()), vec![first.clone()]);
    let _server = serve_with(home.path(), &[]);
    let o = run(
        home.path(),
        &["run", "examples.hello", "--async", "--local"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(stored_ids(home.path()), vec![first]);
}

// Class 3: a store that cannot be written.

/// Waits at most `limit` for `child`; kills it and fails when it hangs.
pub(crate) fn bounded(child: Child, limit: Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            panic!("{what} hung for {limit:?}");
        }
    }
}

struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A home whose store cannot be written: on a read-only file system (root),
/// else a read-only file.
fn read_only_home(base: &Path) -> (PathBuf, Option<Tmpfs>) {
    // An engine leaves a store, token and credentials behind.
    let made = base.join("made");
    let o = run(&made, &["run", "examples.hello"]);
    assert!(o.status.success(), "{}", stderr(&o));
    if !crate::prerequisite(is_root(), "root (a read-only file system for the store)") {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            made.join("stormdesk.db"),
            std::fs::Permissions::from_mode(0o400),
        )
        .unwrap();
        return (made, None);
    }
    let ro = base.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs"])
        .arg(&ro)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount tmpfs");
    let guard = Tmpfs(ro.clone());
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", made.display()))
        .arg(&ro)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a");
    let ok = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&ro)
        .status()
        .unwrap()
        .success();
    assert!(ok, "remount ro");
    (ro, Some(guard))
}

#[test]
fn a_read_only_store_makes_run_fail_fast_and_serve_refuse_to_start() {
    let base = tempfile::tempdir().unwrap();
    let (home, _guard) = read_only_home(base.path());
    let db = home.join("stormdesk.db").display().to_string();
    for args in [
        vec!["run", "examples.hello"],
        vec!["run", "examples.countdown", "count=1", "--json"],
        vec!["serve"],
    ] {
        let child = stormdesk(&home)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let o = bounded(child, Duration::from_secs(30), &format!("{args:?}"));
        assert!(!o.status.success(), "{args:?} succeeded");
        let msg = stderr(&o);
        assert!(
            msg.contains(&db) && msg.contains("cannot save changes") && msg.contains("read-only"),
            "{args:?}: {msg}"
        );
    }
}

fn is_root() -> bool {
    let o = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim() == "0"
}
