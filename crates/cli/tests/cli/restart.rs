//! A workflow survives `kill -9` of its engine: the next engine resumes it
//! from the saved conductor state without running completed tasks again.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{run, stderr, stdout, stormdesk};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Installed pack `kt`: `flow` runs `first`, then `second` (blocks on a fifo), then `third`.
pub(crate) fn kt_pack(home: &Path) {
    let dir = home.join("packs/kt");
    write(
        &dir.join("pack.yaml"),
        "ref: kt\nname: kt\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/echo.yaml"),
        "name: echo\nrunner_type: local-shell-cmd\nparameters:\n  msg: {type: string, required: true}\n  cmd: {immutable: true, default: 'echo \"{{msg}}\"'}\n",
    );
    write(
        &dir.join("actions/gate.yaml"),
        "name: gate\nrunner_type: local-shell-cmd\nparameters:\n  fifo: {type: string, required: true}\n  cmd: {immutable: true, default: 'read line < {{fifo}}; echo \"gate $line\"'}\n",
    );
    write(
        &dir.join("actions/flow.yaml"),
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    write(
        &dir.join("actions/workflows/flow.yaml"),
        r#"version: 1.0
input:
  - fifo
tasks:
  first:
    action: kt.echo
    input:
      msg: one
    next:
      - when: <% succeeded() %>
        publish:
          - one: <% result().stdout %>
        do: second
  second:
    action: kt.gate
    input:
      fifo: <% ctx().fifo %>
    next:
      - when: <% succeeded() %>
        publish:
          - two: <% result().stdout %>
        do: third
  third:
    action: kt.echo
    input:
      msg: three
    next:
      - when: <% succeeded() %>
        publish:
          - three: <% result().stdout %>
output:
  - one: <% ctx().one %>
  - two: <% ctx().two %>
  - three: <% ctx().three %>
"#,
    );
}

struct Serve {
    child: std::process::Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_on(home: &Path, listen: &str) -> Serve {
    let mut child = stormdesk(home)
        .args(["serve", "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    Serve { child, url }
}

/// Blocks until an execution of `action` is in `status`: subscribed to the
/// engine's event stream first, then the current records are checked, so a
/// change between the two is not missed.
///
/// It is given up once no execution event came for 30 s, however long the
/// wait as a whole: a long workflow's events keep coming while it runs (a
/// busy machine only makes them come slower); the stream's keep-alives
/// (every 15 s) are not events.
pub(crate) fn wait_for_status(url: &str, token: &str, action: &str, status: &str) {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(30))
        .timeout_read(std::time::Duration::from_secs(30))
        .build();
    let resp = agent
        .get(&format!("{url}/v1/stream?events=st2.execution__update"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    let now: Value = ureq::get(&format!(
        "{url}/v1/executions?action={action}&status={status}"
    ))
    .set("Authorization", &format!("Bearer {token}"))
    .call()
    .unwrap()
    .into_json()
    .unwrap();
    if !now.as_array().unwrap().is_empty() {
        return;
    }
    let reader: Box<dyn Read + Send + Sync> = resp.into_reader();
    let quiet = std::time::Duration::from_secs(30);
    let mut last_event = std::time::Instant::now();
    for line in BufReader::new(reader).lines() {
        let line = line.expect("event stream ended before the status was seen");
        let Some(data) = line.strip_prefix("data:") else {
            assert!(
                last_event.elapsed() < quiet,
                "no execution event for {quiet:?} while waiting for {action} to be {status}"
            );
            continue;
        };
        last_event = std::time::Instant::now();
        let ev: Value = serde_json::from_str(data.trim()).unwrap();
        if ev["action"]["ref"] == action && ev["status"] == status {
            return;
        }
    }
    panic!("event stream ended before {action} was {status}");
}

#[test]
fn a_workflow_resumes_after_kill_9_without_rerunning_completed_tasks() {
    let home = tempfile::tempdir().unwrap();
    kt_pack(home.path());
    let fifo = home.path().join("gate.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let token = std::fs::read_to_string(home.path().join("config/token")).unwrap_or_default();
    let mut first = serve_on(home.path(), "127.0.0.1:0");
    let token = if token.is_empty() {
        std::fs::read_to_string(home.path().join("config/token")).unwrap()
    } else {
        token
    };
    let token = token.trim().to_string();
    let listen = first.url.trim_start_matches("http://").to_string();

    let o = run(
        home.path(),
        &[
            "run",
            "kt.flow",
            &format!("fifo={}", fifo.display()),
            "--async",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let wf: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = wf["id"].as_str().unwrap().to_string();
    wait_for_status(&first.url, &token, "kt.gate", "running");

    // kill -9: no shutdown, no goodbye.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let before: Vec<Value> = {
        let o = run(
            home.path(),
            &["execution", "list", "--showall", "--json", "-n", "100"],
        );
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let first_task = before
        .iter()
        .find(|e| e["action"]["ref"] == "kt.echo")
        .expect("the first task ran before the kill")
        .clone();
    assert_eq!(first_task["status"], "succeeded");

    // A new engine on the same address adopts the running gate and resumes the workflow.
    let _second = serve_on(home.path(), &listen);
    std::fs::write(&fifo, "open\n").unwrap();
    let o = run(home.path(), &["execution", "tail", &id]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));

    let o = run(home.path(), &["execution", "get", &id, "--json"]);
    let done: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["result"]["output"],
        serde_json::json!({"one": "one", "two": "gate open", "three": "three"})
    );
    let o = run(
        home.path(),
        &["execution", "list", "--showall", "--json", "-n", "100"],
    );
    let all: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let mut tasks: Vec<&str> = all
        .iter()
        .filter(|e| e["parent"] == id.as_str())
        .map(|e| e["context"]["orquesta"]["task_name"].as_str().unwrap())
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        ["first", "second", "third"],
        "each task ran exactly once"
    );
    let first_after = all.iter().find(|e| e["id"] == first_task["id"]).unwrap();
    assert_eq!(first_after["end_timestamp"], first_task["end_timestamp"]);
}

/// Installed pack `kl`: `long` is a chain of 2,000 tasks, all `examples.true`
/// but the 1,000th (`t999`), which blocks on a fifo.
fn long_pack(home: &Path, tasks: usize, gate: usize) {
    let dir = home.join("packs/kl");
    write(
        &dir.join("pack.yaml"),
        "ref: kl\nname: kl\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/gate.yaml"),
        "name: gate\nrunner_type: local-shell-cmd\nparameters:\n  fifo: {type: string, required: true}\n  cmd: {immutable: true, default: 'read line < {{fifo}}; echo \"gate $line\"'}\n",
    );
    write(
        &dir.join("actions/long.yaml"),
        "name: long\nrunner_type: orquesta\nentry_point: workflows/long.yaml\nparameters:\n  fifo: {type: string, required: true}\n",
    );
    let mut def = String::from("version: 1.0\ninput:\n  - fifo\ntasks:\n");
    for i in 0..tasks {
        if i == gate {
            def.push_str(&format!(
                "  t{i}:\n    action: kl.gate\n    input:\n      fifo: <% ctx().fifo %>\n"
            ));
        } else {
            def.push_str(&format!("  t{i}:\n    action: examples.true\n"));
        }
        if i + 1 < tasks {
            def.push_str(&format!(
                "    next:\n      - when: <% succeeded() %>\n        do: t{}\n",
                i + 1
            ));
        }
    }
    write(&dir.join("actions/workflows/long.yaml"), &def);
}

/// The children of `id`, as `execution list` shows them.
fn children_of(home: &Path, id: &str) -> Vec<Value> {
    let o = run(
        home,
        &["execution", "list", "--showall", "--json", "-n", "10000"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let all: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    all.into_iter().filter(|e| e["parent"] == id).collect()
}

#[test]
fn a_2000_task_chain_killed_at_task_1000_resumes_and_runs_each_task_once() {
    const TASKS: usize = 2000;
    const GATE: usize = 999;
    let home = tempfile::tempdir().unwrap();
    long_pack(home.path(), TASKS, GATE);
    let fifo = home.path().join("gate.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut first = serve_on(home.path(), "127.0.0.1:0");
    let token = std::fs::read_to_string(home.path().join("config/token")).unwrap();
    let token = token.trim().to_string();
    let listen = first.url.trim_start_matches("http://").to_string();

    let o = run(
        home.path(),
        &[
            "run",
            "kl.long",
            &format!("fifo={}", fifo.display()),
            "--async",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let wf: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = wf["id"].as_str().unwrap().to_string();
    wait_for_status(&first.url, &token, "kl.gate", "running");

    // kill -9 while task 1,000 runs.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let before = children_of(home.path(), &id);
    assert_eq!(
        before.len(),
        GATE + 1,
        "999 tasks done and the gate running"
    );
    let done_before: Vec<(String, String)> = before
        .iter()
        .filter(|e| e["status"] == "succeeded")
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["end_timestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(done_before.len(), GATE);

    // A new engine on the same address replays the log, adopts the running
    // gate, and the chain goes on.
    let _second = serve_on(home.path(), &listen);
    std::fs::write(&fifo, "open\n").unwrap();
    let o = run(home.path(), &["execution", "tail", &id]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let o = run(home.path(), &["execution", "get", &id, "--json"]);
    let done: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");

    let after = children_of(home.path(), &id);
    assert_eq!(after.len(), TASKS, "one child per task");
    let mut seen = std::collections::HashSet::new();
    for child in &after {
        let task = child["context"]["orquesta"]["task_name"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(seen.insert(task.clone()), "{task} ran more than once");
        assert_eq!(child["status"], "succeeded", "{task}");
    }
    assert_eq!(seen.len(), TASKS);
    // What completed before the kill is untouched.
    for (child, end) in done_before {
        let now = after.iter().find(|e| e["id"] == child.as_str()).unwrap();
        assert_eq!(now["end_timestamp"], end.as_str());
    }
}
