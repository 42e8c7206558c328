//! The runner process in serving mode (what the engine uses): a `serve`
//! line, then one request at a time, each answered by a `done` line, with
//! `cancel <id>` aimed at one run (`stormdesk_runner::process`).

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout};

use serde_json::{json, Value};
use stormdesk_runner::protocol::RunnerRequest;

use crate::support::{callback, request, runner_binary, start_listener, wait_output};

/// A serving runner with its pipes.
struct Serving {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Serving {
    fn start() -> Self {
        let mut child = runner_binary().spawn().expect("starting stormdesk-runner");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        stdin.write_all(b"serve\n").unwrap();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn send(&mut self, req: &RunnerRequest) {
        let mut line = serde_json::to_vec(req).unwrap();
        line.push(b'\n');
        self.stdin.write_all(&line).unwrap();
        self.stdin.flush().unwrap();
    }

    fn say(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next stdout line as JSON.
    fn next(&mut self) -> Value {
        let line = self
            .stdout
            .next()
            .expect("the runner closed stdout")
            .unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Without a callback a run prints its final JSON, then its `done` line.
    fn outcome(&mut self, id: &str) -> Value {
        let outcome = self.next();
        assert_eq!(self.next(), json!({"done": id, "code": 0}));
        outcome
    }
}

fn cmd(id: &str, cmd: &str) -> RunnerRequest {
    let mut req = request("local-shell-cmd", json!({ "cmd": cmd }));
    req.execution_id = id.into();
    req
}

#[test]
fn one_process_runs_requests_one_after_another() {
    let mut runner = Serving::start();
    for i in 0..5 {
        let id = format!("run-{i}");
        runner.send(&cmd(&id, &format!("echo number {i}; echo $$ >&2")));
        let outcome = runner.outcome(&id);
        assert_eq!(outcome["status"], "succeeded", "{outcome}");
        assert_eq!(outcome["result"]["stdout"], json!(format!("number {i}")));
    }
    // Stdin closed: the process ends.
    let Serving { child, stdin, .. } = runner;
    drop(stdin);
    let out = wait_output(child);
    assert!(out.status.success(), "{out:?}");
    // Each run had its own action process (live output is mirrored to
    // stderr too, so only the pid lines are taken).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pids: std::collections::BTreeSet<&str> = stderr
        .lines()
        .filter(|l| l.parse::<u32>().is_ok())
        .collect();
    assert_eq!(pids.len(), 5, "{stderr}");
}

#[test]
fn a_cancel_reaches_only_the_run_it_names() {
    let mut runner = Serving::start();
    runner.send(&cmd("first", "echo first"));
    assert_eq!(runner.outcome("first")["status"], "succeeded");
    // A cancel that comes late for `first`, and one for a run that is not
    // this one, must not cancel the next run.
    runner.say("cancel first\ncancel elsewhere\n");
    runner.send(&cmd("second", "echo second"));
    let second = runner.outcome("second");
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(second["result"]["stdout"], "second");

    runner.send(&cmd("third", "sleep 300"));
    runner.say("cancel third\n");
    assert_eq!(runner.outcome("third")["status"], "canceled");
    // The process serves on after a cancel.
    runner.send(&cmd("fourth", "echo fourth"));
    assert_eq!(runner.outcome("fourth")["result"]["stdout"], "fourth");
}

#[test]
fn sigterm_cancels_the_run_and_ends_the_process() {
    let mut runner = Serving::start();
    runner.send(&cmd("ok", "true"));
    assert_eq!(runner.outcome("ok")["status"], "succeeded");
    runner.send(&cmd("long", "echo started; sleep 300"));
    let mut stderr = BufReader::new(runner.child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(runner.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(runner.outcome("long")["status"], "canceled");
    // Stdin is still open, yet the process ends: no run after a signal.
    let Serving { child, stdin, .. } = runner;
    let out = wait_output(child);
    drop(stdin);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn eof_ends_the_process_once_the_current_run_is_done() {
    let mut runner = Serving::start();
    runner.send(&cmd("last", "sleep 0.3; echo finished"));
    let Serving {
        child,
        stdin,
        mut stdout,
    } = runner;
    drop(stdin);
    let first: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["result"]["stdout"], "finished");
    let done: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(done, json!({"done": "last", "code": 0}));
    assert!(stdout.next().is_none());
    assert!(wait_output(child).status.success());
}

#[test]
fn reported_runs_each_reach_the_listener_under_their_own_id() {
    let listener = start_listener(200);
    let mut runner = Serving::start();
    for id in ["a", "b", "c"] {
        let mut req = cmd(id, &format!("echo {id}"));
        req.callback = Some(callback(&listener.url));
        runner.send(&req);
        // Reported: nothing but the `done` line on stdout.
        assert_eq!(runner.next(), json!({"done": id, "code": 0}));
    }
    let finals: Vec<(String, Value)> = listener
        .requests
        .try_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| (r.path.clone(), r.json()))
        .filter(|(_, body)| body["status"] != "running")
        .collect();
    let paths: Vec<&str> = finals.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/runner/v1/executions/a",
            "/runner/v1/executions/b",
            "/runner/v1/executions/c"
        ]
    );
    for ((_, body), id) in finals.iter().zip(["a", "b", "c"]) {
        assert_eq!(body["status"], "succeeded");
        assert_eq!(body["result"]["stdout"], json!(id));
    }
}

#[test]
fn an_unreadable_request_ends_a_serving_process_with_code_2() {
    let mut runner = Serving::start();
    runner.send(&cmd("fine", "true"));
    assert_eq!(runner.outcome("fine")["status"], "succeeded");
    runner.say("{not json\n");
    let Serving { child, stdin, .. } = runner;
    let out = wait_output(child);
    drop(stdin);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a RunnerRequest"));
}
