//! The `stormdesk-runner` process end to end: stdin protocol, callback
//! listener, spool, exit codes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use serde_json::{json, Value};
use stormdesk_runner::protocol::{RunnerRequest, SpoolRecord};
use stormdesk_runner::spool;

use crate::support::{
    callback, dead_url, final_json, finish, request, spawn_runner, start_listener, wait_output,
    Recorded,
};

fn reported_request(url: &str, cmd: &str) -> RunnerRequest {
    let mut req = request("local-shell-cmd", json!({ "cmd": cmd }));
    req.execution_id = "exec-42".into();
    req.callback = Some(callback(url));
    req
}

/// Concatenates chunk data per stream and checks `seq` runs 0, 1, 2, ...
fn join_chunks(chunks: &[Value]) -> BTreeMap<String, String> {
    let mut streams = BTreeMap::new();
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["seq"], json!(i), "seq gap or reorder in {chunks:?}");
        assert!(chunk["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        streams
            .entry(chunk["stream"].as_str().unwrap().to_string())
            .or_insert_with(String::new)
            .push_str(chunk["data"].as_str().unwrap());
    }
    streams
}

#[test]
fn reports_running_chunks_and_final_result_with_the_bearer_token() {
    let listener = start_listener(200);
    let req = reported_request(
        &listener.url,
        "echo one; echo two >&2; echo three; echo '{\"k\": 1}'",
    );
    let out = finish(spawn_runner(&req));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout when reporting");

    let seen: Vec<Recorded> = listener.requests.try_iter().collect();
    for r in &seen {
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer secret-token"),
            "{r:?}"
        );
    }
    let update_path = "/runner/v1/executions/exec-42";
    let first = &seen[0];
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("PUT", update_path)
    );
    assert_eq!(first.json()["status"], "running");
    let pid = first.json()["pid"]
        .as_u64()
        .expect("running carries the pid");

    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("PUT", update_path)
    );
    assert_eq!(
        last.json(),
        json!({
            "status": "succeeded",
            "pid": pid,
            "result": {
                "succeeded": true, "failed": false, "return_code": 0,
                "stdout": "one\nthree\n{\"k\": 1}", "stderr": "two"
            }
        })
    );

    let chunks: Vec<Value> = seen[1..seen.len() - 1]
        .iter()
        .inspect(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, format!("{update_path}/output"));
        })
        .flat_map(|r| r.json()["chunks"].as_array().cloned().unwrap())
        .collect();
    let streams = join_chunks(&chunks);
    assert_eq!(streams["stdout"], "one\nthree\n{\"k\": 1}\n");
    assert_eq!(streams["stderr"], "two\n");
}

#[test]
fn unreachable_listener_spools_final_update_and_all_chunks() {
    let spool_dir = tempfile::tempdir().unwrap();
    let mut req = reported_request(&dead_url(), "echo out; echo err >&2; exit 2");
    req.callback.as_mut().unwrap().attempts = 2;
    req.spool_dir = Some(spool_dir.path().join("spool"));

    let out = finish(spawn_runner(&req));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("spooled"), "{stderr}");

    let path = spool_dir.path().join("spool/exec-42.json");
    assert_eq!(
        spool::list(&spool_dir.path().join("spool")).unwrap(),
        std::slice::from_ref(&path)
    );
    let record: SpoolRecord = spool::read(&path).unwrap();
    assert_eq!(record.execution_id, "exec-42");
    let update = serde_json::to_value(&record.update).unwrap();
    assert_eq!(update["status"], "failed");
    assert_eq!(update["result"]["return_code"], 2);
    assert_eq!(update["result"]["stdout"], "out");
    let chunks = serde_json::to_value(&record.chunks).unwrap();
    let streams = join_chunks(chunks.as_array().unwrap());
    assert_eq!(streams["stdout"], "out\n");
    assert_eq!(streams["stderr"], "err\n");
}

#[test]
fn client_errors_are_not_retried_and_the_outcome_is_spooled() {
    let listener = start_listener(401);
    let spool_dir = tempfile::tempdir().unwrap();
    // Long enough that `running` is always sent (a final update within the
    // runner's grace would stand for it, and how soon `true` ends depends
    // on the machine's load).
    let mut req = reported_request(&listener.url, "sleep 0.2");
    req.callback.as_mut().unwrap().attempts = 5;
    req.spool_dir = Some(spool_dir.path().to_path_buf());

    let out = finish(spawn_runner(&req));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");

    let seen: Vec<Recorded> = listener.requests.try_iter().collect();
    let statuses: Vec<String> = seen
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or("?").to_string())
        .collect();
    // One try each for `running` and the final update, no retries.
    assert_eq!(statuses, ["running", "succeeded"], "{seen:?}");
    let record = spool::read(&spool_dir.path().join("exec-42.json")).unwrap();
    assert_eq!(
        serde_json::to_value(&record.update).unwrap()["status"],
        "succeeded"
    );
}

#[test]
fn without_callback_prints_the_final_json() {
    let req = request("local-shell-cmd", json!({"cmd": "echo visible"}));
    let out = finish(spawn_runner(&req));
    assert!(out.status.success());
    assert_eq!(
        final_json(&out),
        json!({"status": "succeeded", "result": {
            "succeeded": true, "failed": false, "return_code": 0,
            "stdout": "visible", "stderr": ""
        }})
    );
    // Live output is mirrored to stderr for people running it by hand.
    assert!(String::from_utf8_lossy(&out.stderr).contains("visible"));
}

#[test]
fn cancel_line_on_stdin_cancels() {
    let req = request("local-shell-cmd", json!({"cmd": "sleep 300"}));
    let mut child = spawn_runner(&req);
    use std::io::Write;
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"cancel\n").unwrap();
    stdin.flush().unwrap();
    // stdin stays open: the cancel line alone must do it.
    let stdin = child.stdin.take();
    let out = wait_output(child);
    drop(stdin);
    assert!(out.status.success());
    assert_eq!(final_json(&out)["status"], "canceled");
}

#[test]
fn eof_on_stdin_is_not_a_cancel() {
    let req = request(
        "local-shell-cmd",
        json!({"cmd": "sleep 0.5; echo finished"}),
    );
    let out = finish(spawn_runner(&req));
    let fin = final_json(&out);
    assert_eq!(fin["status"], "succeeded");
    assert_eq!(fin["result"]["stdout"], "finished");
}

#[test]
fn sigterm_to_the_runner_cancels_the_action() {
    let req = request("local-shell-cmd", json!({"cmd": "echo started; sleep 300"}));
    let mut child = spawn_runner(&req);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = finish(child);
    assert!(out.status.success());
    assert_eq!(final_json(&out)["status"], "canceled");
}

#[test]
fn pre_run_errors_are_reported_as_failed() {
    let req = request("orquesta", json!({}));
    let out = finish(spawn_runner(&req));
    assert!(out.status.success());
    let fin = final_json(&out);
    assert_eq!(fin["status"], "failed");
    assert!(fin["result"]["error"]
        .as_str()
        .unwrap()
        .contains("`orquesta`"));
}

#[test]
fn unreadable_request_exits_2_with_a_reason() {
    let mut child = crate::support::runner_binary().spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"not json\n")
        .unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a RunnerRequest"));
}

#[test]
fn secrets_are_masked_before_anything_leaves_the_runner() {
    let spool_dir = tempfile::tempdir().unwrap();
    let secret = "s3cret-value-42";
    let mut req = reported_request(
        &dead_url(),
        &format!("echo token={secret}; echo {secret} >&2"),
    );
    req.callback.as_mut().unwrap().attempts = 1;
    req.spool_dir = Some(spool_dir.path().to_path_buf());
    req.secrets = vec![secret.to_string()];

    let out = finish(spawn_runner(&req));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = spool_dir.path().join("exec-42.json");
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains(secret), "{raw}");
    let record: SpoolRecord = spool::read(&path).unwrap();
    let update = serde_json::to_value(&record.update).unwrap();
    assert_eq!(update["result"]["stdout"], "token=********");
    assert_eq!(update["result"]["stderr"], "********");
    let chunks = serde_json::to_value(&record.chunks).unwrap();
    let streams = join_chunks(chunks.as_array().unwrap());
    assert_eq!(streams["stdout"], "token=********\n");
}
