//! `local-shell-cmd`: result object, output handling, environment, timeout.

use serde_json::json;
use stormdesk_runner::protocol::RunnerStatus;

use crate::support::{callback, request, run_lib};

#[test]
fn success_has_exactly_stackstorms_result_fields() {
    let (outcome, _) = run_lib(&request("local-shell-cmd", json!({"cmd": "echo hello"})));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(
        outcome.result,
        json!({"succeeded": true, "failed": false, "return_code": 0, "stdout": "hello", "stderr": ""})
    );
    assert!(outcome.pid.is_some());
}

#[test]
fn non_zero_exit_is_failed_with_its_return_code() {
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "echo oops >&2; exit 3"}),
    ));
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(
        outcome.result,
        json!({"succeeded": false, "failed": true, "return_code": 3, "stdout": "", "stderr": "oops"})
    );
}

#[test]
fn exactly_one_trailing_newline_is_stripped_from_each_stream() {
    let (outcome, streamed) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "printf 'a\\n\\n'; printf 'b\\r\\n' >&2"}),
    ));
    assert_eq!(outcome.result["stdout"], "a\n");
    assert_eq!(outcome.result["stderr"], "b");
    // The live stream is the raw output.
    assert_eq!(streamed.stdout, "a\n\n");
    assert_eq!(streamed.stderr, "b\r\n");
}

#[test]
fn json_output_is_parsed_and_other_output_kept_as_text() {
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": r#"echo '{"a": [1, 2], "b": null}'; echo '{"e": true}' >&2"#}),
    ));
    assert_eq!(outcome.result["stdout"], json!({"a": [1, 2], "b": null}));
    assert_eq!(outcome.result["stderr"], json!({"e": true}));

    let (outcome, _) = run_lib(&request("local-shell-cmd", json!({"cmd": "echo 42"})));
    assert_eq!(outcome.result["stdout"], json!(42));

    let (outcome, _) = run_lib(&request("local-shell-cmd", json!({"cmd": "echo '[1,'"})));
    assert_eq!(outcome.result["stdout"], json!("[1,"));
}

#[test]
fn output_streams_live_to_the_sink() {
    let (outcome, streamed) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "echo one; echo two >&2; echo three"}),
    ));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(streamed.stdout, "one\nthree\n");
    assert_eq!(streamed.stderr, "two\n");
    assert!(streamed.events >= 2);
}

#[test]
fn env_parameter_and_stackstorm_variables_reach_the_command() {
    let mut req = request(
        "local-shell-cmd",
        json!({
            "cmd": "echo \"$FOO|$NUM|$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID|$ST2_ACTION_API_URL|$ST2_ACTION_AUTH_TOKEN\"",
            "env": {"FOO": "bar baz", "NUM": 5}
        }),
    );
    req.callback = Some(callback("http://127.0.0.1:9/"));
    // The action's API access is its own token, not the runner's callback token.
    req.api = Some(stormdesk_runner::protocol::ApiAccess {
        url: "http://127.0.0.1:9/v1".into(),
        token: "action-token".into(),
    });
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.result["stdout"],
        "bar baz|5|mypack|exec-1|http://127.0.0.1:9/v1|action-token"
    );
}

#[test]
fn cwd_parameter_sets_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "pwd -P", "cwd": dir.path()}),
    ));
    let expected = dir.path().canonicalize().unwrap();
    assert_eq!(outcome.result["stdout"], expected.to_str().unwrap());
}

#[test]
fn timeout_reports_stackstorms_timeout_result() {
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "echo started; sleep 30", "timeout": 1}),
    ));
    assert_eq!(outcome.status, RunnerStatus::Timeout);
    assert_eq!(
        outcome.result,
        json!({
            "succeeded": false,
            "failed": true,
            "return_code": -9,
            "stdout": "started",
            "stderr": "",
            "error": "Action failed to complete in 1 seconds"
        })
    );
}

#[test]
fn stdin_of_the_command_is_empty() {
    let (outcome, _) = run_lib(&request("local-shell-cmd", json!({"cmd": "cat; echo end"})));
    assert_eq!(outcome.result["stdout"], "end");
}

#[test]
fn large_output_is_captured_whole() {
    let (outcome, streamed) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "head -c 5000000 /dev/zero | tr '\\0' a"}),
    ));
    assert_eq!(outcome.result["stdout"].as_str().unwrap().len(), 5_000_000);
    assert_eq!(streamed.stdout.len(), 5_000_000);
}

#[test]
fn a_background_process_holding_stdout_does_not_hang_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("daemon.pid");
    let req = request(
        "local-shell-cmd",
        json!({"cmd": format!("sleep 300 & echo $! > {}; echo done", pid_file.display())}),
    );
    // Bounded: were the run to wait for the daemon's end of stdout, it would
    // fail here instead of passing after 300 s.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_lib(&req));
    });
    let outcome = rx.recv_timeout(std::time::Duration::from_secs(30));
    let daemon = crate::support::read_pid(&pid_file);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    );
    let (outcome, _) = outcome.expect("the run waited for the background process");
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(outcome.result["stdout"], "done");
}

#[test]
fn commands_run_in_bash_as_stackstorms_local_runner_does() {
    // `$[...]` arithmetic and `[[ ]]` are bash-only: dash would print `$[1+2]`.
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "echo $[1+2]; [[ a == a ]] && echo ok"}),
    ));
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{:?}",
        outcome.result
    );
    assert_eq!(outcome.result["stdout"], "3\nok");
}

#[test]
fn a_secret_in_the_command_line_is_not_shown_in_ps() {
    let mut req = request(
        "local-shell-cmd",
        json!({"cmd": "echo 'pw=hunter2-xyz'; tr '\\0' ' ' < /proc/$$/cmdline"}),
    );
    req.secrets = vec!["hunter2-xyz".into()];
    // The library does not mask (the runner process does): what the shell
    // printed is what it saw.
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{:?}",
        outcome.result
    );
    let stdout = outcome.result["stdout"].as_str().unwrap().to_string();
    let (first, cmdline) = stdout.split_once('\n').unwrap();
    assert_eq!(first, "pw=hunter2-xyz");
    assert!(cmdline.starts_with("bash -c "), "{cmdline}");
    assert!(
        !cmdline.contains("hunter2"),
        "the secret is on the command line: {cmdline}"
    );
    // Without a secret in it, the command line is the command, as in StackStorm.
    let (outcome, _) = run_lib(&request(
        "local-shell-cmd",
        json!({"cmd": "tr '\\0' ' ' < /proc/$$/cmdline"}),
    ));
    assert!(outcome.result["stdout"]
        .as_str()
        .unwrap()
        .contains("/proc/$$/cmdline"));
}
