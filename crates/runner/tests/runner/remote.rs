//! `remote-shell-cmd` and `remote-shell-script` against a real sshd on
//! 127.0.0.1 (see `sshd.rs`), through the system OpenSSH client.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stormdesk_runner::protocol::{RunnerRequest, RunnerStatus};
use stormdesk_runner::{run, run_with_events, CancelHandle, RunError, RunEvent};

use crate::sshd::Sshd;
use crate::support::{named, pid_alive, positional, request, run_lib, write_file, WAIT};

fn remote(sshd: &Sshd, runner: &str, hosts: &str, mut params: Value) -> RunnerRequest {
    params["hosts"] = json!(hosts);
    // The generated client config, instead of the user's ~/.ssh/config.
    params["ssh_config"] = json!(sshd.config.to_str().unwrap());
    request(runner, params)
}

/// Waits until `gone` holds, or fails: the remote side cleans up after the
/// ssh client is gone, asynchronously.
fn eventually(what: &str, mut gone: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !gone() {
        assert!(Instant::now() < until, "{what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_file(path: &Path) -> String {
    let mut content = String::new();
    eventually(&format!("{} never appeared", path.display()), || {
        content = std::fs::read_to_string(path).unwrap_or_default();
        content.ends_with('\n')
    });
    content
}

#[test]
fn command_runs_on_every_host_with_per_host_results_and_prefixed_output() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1,web2,web3",
        json!({"cmd": "echo hello; echo oops >&2"}),
    );
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    let entry = json!({"succeeded": true, "failed": false, "return_code": 0, "stdout": "hello", "stderr": "oops"});
    assert_eq!(
        outcome.result,
        json!({"web1": entry, "web2": entry, "web3": entry})
    );
    for host in ["web1", "web2", "web3"] {
        assert!(
            streamed.stdout.contains(&format!("[{host}] hello\n")),
            "{streamed:?}"
        );
        assert!(
            streamed.stderr.contains(&format!("[{host}] oops\n")),
            "{streamed:?}"
        );
    }
    assert!(
        !streamed.stderr.contains("__stormdesk"),
        "marker leaked: {streamed:?}"
    );
    let leader = outcome.pid.expect("the group leader's pid") as i32;
    assert!(!pid_alive(leader), "the group leader outlived the run");
}

#[test]
fn json_output_exit_codes_and_a_failing_host() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1",
        json!({"cmd": "echo '{\"a\": [1, 2]}'; printf 'x\\n\\n' >&2"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result["web1"]["stdout"], json!({"a": [1, 2]}));
    assert_eq!(outcome.result["web1"]["stderr"], "x\n");

    // The command's own exit code 255 is not mistaken for an ssh failure.
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1,web2",
        json!({"cmd": "[ \"$(hostname)\" ] && exit 255"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(
        outcome.result["web2"],
        json!({"succeeded": false, "failed": true, "return_code": 255, "stdout": "", "stderr": ""})
    );
}

#[test]
fn env_and_cwd_apply_on_the_remote_side() {
    let sshd = Sshd::start();
    let cwd = sshd.dir.path().join("work dir");
    std::fs::create_dir(&cwd).unwrap();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1",
        json!({
            "cmd": "pwd -P; echo \"$FOO|$NUM|$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID\"",
            "env": {"FOO": "it's a \"test\"", "NUM": 5},
            "cwd": cwd.to_str().unwrap(),
        }),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.result["web1"]["stdout"],
        format!(
            "{}\nit's a \"test\"|5|mypack|exec-1",
            cwd.canonicalize().unwrap().display()
        )
    );
}

#[test]
fn script_is_copied_run_with_its_arguments_and_removed() {
    let sshd = Sshd::start();
    let remote_dir = sshd.dir.path().join("remote tmp");
    std::fs::create_dir(&remote_dir).unwrap();
    let script = write_file(
        &sshd.dir.path().join("pack/actions/show.sh"),
        "#!/bin/sh\necho \"$0\"\nfor a in \"$@\"; do echo \"arg:$a\"; done\necho \"cwd:$(pwd -P)\"\n",
        false,
    );
    let mut req = remote(
        &sshd,
        "remote-shell-script",
        "web1,web2",
        json!({"dir": remote_dir.to_str().unwrap(), "cwd": "/"}),
    );
    req.entry_point = Some(script);
    req.action_parameters = vec![
        named("name", json!("a b")),
        named("verbose", json!(true)),
        positional("first", json!("one"), 0),
        positional("second", json!("it's 2"), 1),
    ];
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    for host in ["web1", "web2"] {
        let stdout = outcome.result[host]["stdout"].as_str().unwrap().to_string();
        let mut lines = stdout.lines();
        let path = lines.next().unwrap();
        assert!(
            path.starts_with(remote_dir.to_str().unwrap()) && path.ends_with("show.sh"),
            "{path}"
        );
        assert_eq!(
            lines.collect::<Vec<_>>(),
            [
                "arg:--name=a b",
                "arg:--verbose",
                "arg:one",
                "arg:it's 2",
                "cwd:/"
            ]
        );
        assert!(!Path::new(path).exists(), "{path} was left on {host}");
        assert!(streamed.stdout.contains(&format!("[{host}] arg:one\n")));
    }
    assert_eq!(std::fs::read_dir(&remote_dir).unwrap().count(), 0);
}

#[test]
fn failing_script_is_removed_too() {
    let sshd = Sshd::start();
    let remote_dir = sshd.dir.path().join("rtmp");
    std::fs::create_dir(&remote_dir).unwrap();
    let script = write_file(
        &sshd.dir.path().join("fail.sh"),
        "echo bad >&2\nexit 4\n",
        false,
    );
    let mut req = remote(
        &sshd,
        "remote-shell-script",
        "web1",
        json!({"dir": remote_dir.to_str().unwrap()}),
    );
    req.entry_point = Some(script);
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(
        outcome.result["web1"],
        json!({"succeeded": false, "failed": true, "return_code": 4, "stdout": "", "stderr": "bad"})
    );
    assert_eq!(std::fs::read_dir(&remote_dir).unwrap().count(), 0);
}

#[test]
fn unreachable_host_fails_alone_with_a_clear_message() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1,down",
        json!({"cmd": "echo up"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(outcome.result["web1"]["stdout"], "up");
    let down = &outcome.result["down"];
    assert_eq!(down["failed"], true);
    assert_eq!(down["succeeded"], false);
    assert_eq!(down["timeout"], false);
    assert_eq!(down["return_code"], 255);
    let error = down["error"].as_str().unwrap();
    assert!(
        error.starts_with("could not connect to down (127.0.0.1:")
            && error.contains("connection refused"),
        "{error}"
    );
    assert!(down["stderr"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
}

#[test]
fn rejected_key_is_explained() {
    let sshd = Sshd::start();
    let req = remote(&sshd, "remote-shell-cmd", "badkey", json!({"cmd": "true"}));
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let entry = &outcome.result["badkey"];
    assert_eq!(entry["return_code"], 255);
    let error = entry["error"].as_str().unwrap();
    assert!(
        error.starts_with("authentication to badkey (127.0.0.1:")
            && error.contains("Permission denied"),
        "{error}"
    );
}

#[test]
fn host_key_mismatch_is_explained() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "mismatch,web1",
        json!({"cmd": "true"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(outcome.result["web1"]["succeeded"], true);
    let entry = &outcome.result["mismatch"];
    assert_eq!(entry["return_code"], 255);
    let error = entry["error"].as_str().unwrap();
    let expected = format!(
        "host key for mismatch (127.0.0.1:{}) does not match known_hosts",
        sshd.port
    );
    assert!(error.starts_with(&expected), "{error}");
}

#[test]
fn timeout_kills_the_remote_command() {
    let sshd = Sshd::start();
    let pid_file = sshd.dir.path().join("sleep.pid");
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1",
        json!({
            "cmd": format!("sleep 300 & echo $! > '{}'; echo started; wait", pid_file.display()),
            "timeout": 2,
        }),
    );
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Timeout, "{}", outcome.result);
    let entry = &outcome.result["web1"];
    assert_eq!(entry["timeout"], true);
    assert_eq!(entry["failed"], true);
    assert_eq!(entry["return_code"], -9);
    assert_eq!(entry["stdout"], "started");
    assert_eq!(
        entry["error"],
        "Action failed to complete in 2 seconds on web1"
    );
    assert!(streamed.stdout.contains("[web1] started\n"));
    let remote_pid: i32 = wait_for_file(&pid_file).trim().parse().unwrap();
    eventually("the remote sleep survived the timeout", || {
        !pid_alive(remote_pid)
    });
}

#[test]
fn cancel_kills_ssh_and_the_remote_side_and_removes_the_script() {
    let sshd = Sshd::start();
    let remote_dir = sshd.dir.path().join("rtmp");
    std::fs::create_dir(&remote_dir).unwrap();
    let pid_file = sshd.dir.path().join("remote.pid");
    let script = write_file(
        &sshd.dir.path().join("long.sh"),
        "#!/bin/sh\nsleep 300 &\necho $! > \"$1\"\necho ready\nwait\n",
        false,
    );
    let mut req = remote(
        &sshd,
        "remote-shell-script",
        "web1",
        json!({"dir": remote_dir.to_str().unwrap(), "timeout": 600}),
    );
    req.entry_point = Some(script);
    req.action_parameters = vec![positional("pidfile", json!(pid_file.to_str().unwrap()), 0)];

    let cancel = CancelHandle::new();
    let (seen_tx, seen_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let runner_cancel = cancel.clone();
    thread::spawn(move || {
        let outcome = run_with_events(
            &req,
            &mut |event| {
                let _ = seen_tx.send(match event {
                    RunEvent::Started { pid } => format!("started {pid}\n"),
                    RunEvent::Output { data, .. } => data.to_string(),
                });
            },
            &runner_cancel,
        );
        let _ = done_tx.send(outcome);
    });
    let mut seen = String::new();
    while !seen.contains("[web1] ready\n") {
        seen.push_str(
            &seen_rx
                .recv_timeout(WAIT)
                .expect("the script never got ready"),
        );
    }
    let remote_pid: i32 = wait_for_file(&pid_file).trim().parse().unwrap();
    assert!(pid_alive(remote_pid));
    assert_eq!(std::fs::read_dir(&remote_dir).unwrap().count(), 1);
    let ssh_pids = ssh_children_of_group(&seen);
    assert!(!ssh_pids.is_empty(), "no ssh process in the leader's group");

    cancel.cancel();
    let outcome = done_rx
        .recv_timeout(WAIT)
        .expect("run did not return after cancel")
        .expect("run failed");
    assert_eq!(outcome.status, RunnerStatus::Canceled);
    assert_eq!(outcome.result["web1"]["succeeded"], false);
    for pid in ssh_pids {
        assert!(!pid_alive(pid), "ssh {pid} survived the cancel");
    }
    eventually("the remote command survived the cancel", || {
        !pid_alive(remote_pid)
    });
    eventually("the copied script was left behind", || {
        std::fs::read_dir(&remote_dir).unwrap().count() == 0
    });
}

/// Pids of the processes in the group led by the `started {pid}` leader.
fn ssh_children_of_group(seen: &str) -> Vec<i32> {
    let leader: i32 = seen
        .lines()
        .find_map(|l| l.strip_prefix("started "))
        .and_then(|p| p.trim().parse().ok())
        .expect("no Started event");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let pgrp: Option<i32> = rest.split_whitespace().nth(2).and_then(|p| p.parse().ok());
        if pgrp == Some(leader) && pid != leader && head.ends_with("(ssh") {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn private_key_as_material_and_as_path() {
    let sshd = Sshd::start();
    let material = std::fs::read_to_string(&sshd.key).unwrap();
    let mut req = remote(
        &sshd,
        "remote-shell-cmd",
        "keyless",
        json!({"cmd": "echo in", "private_key": material.trim_end()}),
    );
    req.secrets = vec![material.trim_end().to_string()];
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result["keyless"]["stdout"], "in");
    let body = material.lines().nth(1).unwrap();
    assert!(!outcome.result.to_string().contains(body));
    assert!(!streamed.stdout.contains(body) && !streamed.stderr.contains(body));

    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "keyless",
        json!({"cmd": "echo in", "private_key": sshd.key.to_str().unwrap()}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );

    // Without a key, the same alias is refused: the key above did the work.
    let req = remote(&sshd, "remote-shell-cmd", "keyless", json!({"cmd": "true"}));
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
}

#[test]
fn passphrase_protected_key_works_through_askpass() {
    let sshd = Sshd::start();
    let key = sshd.dir.path().join("id_locked");
    let passphrase = "correct horse battery";
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let auth = sshd.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&auth).unwrap();
    keys.push_str(&public);
    std::fs::write(&auth, keys).unwrap();

    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "keyless",
        json!({"cmd": "echo unlocked", "private_key": key.to_str().unwrap(), "passphrase": passphrase}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result["keyless"]["stdout"], "unlocked");

    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "keyless",
        json!({"cmd": "true", "private_key": key.to_str().unwrap(), "passphrase": "wrong one"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert!(!outcome.result.to_string().contains("wrong one"));
}

#[test]
fn secrets_are_masked_in_output_and_results() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1",
        json!({"cmd": "echo token=s3cret-value; echo s3cret-value >&2", "sudo_password": "s3cret-value"}),
    );
    let (outcome, streamed) = run_lib(&req);
    let text = outcome.result.to_string();
    assert!(!text.contains("s3cret-value"), "{text}");
    assert_eq!(outcome.result["web1"]["stdout"], "token=********");
    assert!(!streamed.stdout.contains("s3cret-value"));
    assert!(!streamed.stderr.contains("s3cret-value"));
}

#[test]
fn password_is_refused_with_a_hint_and_without_the_value() {
    let sshd = Sshd::start();
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1",
        json!({"cmd": "true", "password": "hunter2-pw"}),
    );
    let err = run(&req, &mut |_, _| {}, &CancelHandle::new()).unwrap_err();
    assert!(matches!(
        err,
        RunError::UnsupportedRunnerParameter {
            name: "password",
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("private_key") && msg.contains("ssh-agent"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2-pw"));
}

#[test]
fn sequential_with_concurrency_one_and_hosts_are_deduplicated() {
    let sshd = Sshd::start();
    let order = sshd.dir.path().join("order");
    let req = remote(
        &sshd,
        "remote-shell-cmd",
        "web1,web2,web1,web3",
        json!({"cmd": format!("echo start >> '{0}'; sleep 0.2; echo end >> '{0}'", order.display()), "concurrency": 1}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result.as_object().unwrap().len(), 3);
    let log = std::fs::read_to_string(&order).unwrap();
    assert_eq!(log, "start\nend\n".repeat(3), "sessions overlapped");
}
