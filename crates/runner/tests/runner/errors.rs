//! `noop`, and the failures that happen before anything runs.

use serde_json::json;
use stormdesk_runner::protocol::RunnerStatus;
use stormdesk_runner::{run, CancelHandle, RunError};

use crate::support::{request, run_lib};

fn run_err(req: &stormdesk_runner::protocol::RunnerRequest) -> RunError {
    match run(req, &mut |_, _| {}, &CancelHandle::new()) {
        Ok(outcome) => panic!("expected an error, got {outcome:?}"),
        Err(e) => e,
    }
}

#[test]
fn noop_succeeds_with_stackstorms_noop_result() {
    let (outcome, streamed) = run_lib(&request("noop", json!({})));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(
        outcome.result,
        json!({"failed": false, "succeeded": true, "return_code": 0})
    );
    assert_eq!(outcome.pid, None);
    assert_eq!(streamed.events, 0);
}

#[test]
fn unknown_runner_type_is_named_in_the_error() {
    // The engine runs action-chain in-process; the runner process does not.
    let err = run_err(&request("action-chain", json!({})));
    assert!(matches!(err, RunError::UnknownRunnerType { .. }));
    let msg = err.to_string();
    assert!(msg.contains("`action-chain`"), "{msg}");
    assert!(msg.contains("winrm-ps-script"), "{msg}");
    assert!(msg.contains("mypack.myaction"), "{msg}");
    assert!(msg.contains("local-shell-cmd"), "{msg}");
}

#[test]
fn old_stackstorm_runner_names_still_work() {
    let (outcome, _) = run_lib(&request("run-local", json!({"cmd": "echo alias"})));
    assert_eq!(outcome.result["stdout"], "alias");
}

#[test]
fn missing_entry_point_is_reported_before_running() {
    let err = run_err(&request("local-shell-script", json!({})));
    assert!(matches!(err, RunError::MissingEntryPoint { .. }), "{err}");

    let mut req = request("python-script", json!({}));
    req.entry_point = Some("/nonexistent/stormdesk/action.py".into());
    let err = run_err(&req);
    assert!(matches!(err, RunError::EntryPointNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/stormdesk/action.py"));
}

#[test]
fn a_command_action_with_an_entry_point_is_refused_as_stackstorm_refuses_it() {
    // StackStorm's local-shell-cmd runner raises before running anything,
    // even when `cmd` is given (`local_shell_command_runner.py`).
    let mut req = request("local-shell-cmd", json!({"cmd": "echo ran"}));
    req.entry_point = Some("/packs/examples/actions/bash_ping/bash_ping.sh".into());
    let err = run_err(&req);
    assert!(
        matches!(err, RunError::EntryPointNotAllowed { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("entry_point is only valid for local-shell-script runner"),
        "{msg}"
    );
    assert!(
        msg.contains("bash_ping.sh") && msg.contains("mypack.myaction"),
        "{msg}"
    );

    // The remote command runner likewise (`remote_command_runner.py`).
    let mut req = request(
        "remote-shell-cmd",
        json!({"cmd": "echo ran", "hosts": "web1"}),
    );
    req.entry_point = Some("/packs/examples/actions/bash_random/random2.sh".into());
    let msg = run_err(&req).to_string();
    assert!(
        msg.starts_with(
            "Action \"myaction\" specified \"entry_point\" attribute. Perhaps wanted to use \"remote-shell-script\" runner?"
        ),
        "{msg}"
    );
}

#[test]
fn bad_runner_parameters_are_named() {
    let err = run_err(&request("local-shell-cmd", json!({})));
    assert!(err.to_string().contains("`cmd`"), "{err}");

    let err = run_err(&request(
        "local-shell-cmd",
        json!({"cmd": "true", "timeout": "soon"}),
    ));
    assert!(
        matches!(
            err,
            RunError::InvalidRunnerParameter {
                name: "timeout",
                ..
            }
        ),
        "{err}"
    );
}
