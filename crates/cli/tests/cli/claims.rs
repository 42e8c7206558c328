//! What the README says the command line does, each shown so that the test
//! fails when the behaviour breaks (issue 18).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::owner::{bounded, listener, mkfifo, own_pack, serve_args, serve_with};
use crate::restart::wait_for_status;
use crate::{run, stderr, stdout, stormdesk};

/// Starts `stormdesk run own.wait` (its own engine, or `serve`'s), waits
/// until it has started, interrupts it, and returns the execution id and
/// what the command said.
fn interrupt_a_run(home: &std::path::Path) -> (String, std::process::Output) {
    let fifo = home.join("never.fifo");
    if !fifo.exists() {
        mkfifo(&fifo);
    }
    let mut child = stormdesk(home)
        .args(["run", "own.wait", &format!("fifo={}", fifo.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    // "execution <id> of own.wait started[ on URL]"
    let id = line
        .strip_prefix("execution ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "waiting\n", "the action runs");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let mut o = bounded(child, Duration::from_secs(30), "an interrupted run");
    o.stderr = format!("{line}{rest}").into_bytes();
    (id, o)
}

#[test]
fn ctrl_c_cancels_stormdesk_run_in_its_own_engine_and_through_serve() {
    let home = tempfile::tempdir().unwrap();
    own_pack(&home.path().join("packs"));
    for with_server in [false, true] {
        let _server = with_server.then(|| serve_with(home.path(), &[]));
        let (id, o) = interrupt_a_run(home.path());
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("interrupted: canceling {id}")),
            "{}",
            stderr(&o)
        );
        if with_server {
            assert!(
                stderr(&o).contains("started on http://127.0.0.1:"),
                "{}",
                stderr(&o)
            );
        }
        let got = run(home.path(), &["execution", "get", &id, "--json"]);
        let e: Value = serde_json::from_str(&stdout(&got)).unwrap();
        assert_eq!(e["status"], "canceled", "server: {with_server}: {e}");
    }
}

#[test]
fn tail_follows_a_run_live_before_it_ends() {
    let home = tempfile::tempdir().unwrap();
    own_pack(&home.path().join("packs"));
    let _server = serve_with(home.path(), &[]);
    let (url, token) = listener(home.path());
    let fifo = home.path().join("gate.fifo");
    mkfifo(&fifo);
    let o = run(
        home.path(),
        &[
            "run",
            "own.wait",
            &format!("fifo={}", fifo.display()),
            "--async",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = e["id"].as_str().unwrap().to_string();
    let mut tail = stormdesk(home.path())
        .args(["execution", "tail", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(tail.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "waiting\n");
    // The line arrived while the run still waits on its gate.
    let now = run(home.path(), &["execution", "get", &id, "--json"]);
    let now: Value = serde_json::from_str(&stdout(&now)).unwrap();
    assert_eq!(now["status"], "running", "{now}");
    wait_for_status(&url, &token, "own.wait", "running");
    std::fs::write(&fifo, "open\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let done = bounded(tail, Duration::from_secs(30), "tail");
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(rest, "gate open\n");
}

#[test]
fn serve_with_completion_mode_poll_advances_workflows_at_the_poll_interval() {
    let home = tempfile::tempdir().unwrap();
    own_pack(&home.path().join("packs"));
    let _server = serve_args(
        home.path(),
        &[],
        &["--completion-mode", "poll", "--poll-interval", "1500"],
    );
    let o = run(home.path(), &["run", "own.two", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"succeeded\""), "{}", stdout(&o));
    let wf: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let task = |i: usize| -> Value {
        let id = wf["children"][i].as_str().unwrap();
        serde_json::from_str(&stdout(&run(
            home.path(),
            &["execution", "get", id, "--json"],
        )))
        .unwrap()
    };
    let (first, second) = (task(0), task(1));
    assert_eq!(first["context"]["orquesta"]["task_name"], "first");
    let ts = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let gap = ts(&second["start_timestamp"]) - ts(&first["end_timestamp"]);
    assert!(
        gap >= chrono::Duration::milliseconds(300),
        "the second task started {gap} after the first ended: not at a poll"
    );
}
