//! `local-shell-script`: how parameters become arguments, and how the script
//! is started.

use serde_json::json;
use stormdesk_runner::protocol::RunnerStatus;

use crate::support::{named, positional, request, run_lib, write_file};

const PRINT_ARGS: &str = "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n";

fn lines(value: &serde_json::Value) -> Vec<String> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("stdout is not text: {value}"))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn named_then_positional_arguments_as_stackstorm_builds_them() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(&dir.path().join("args.sh"), PRINT_ARGS, true);
    let mut req = request("local-shell-script", json!({}));
    req.entry_point = Some(script);
    req.action_parameters = vec![
        positional("second", json!("two words"), 1),
        named("name", json!("value")),
        named("flag", json!(true)),
        named("off", json!(false)),
        named("empty", json!("")),
        named("nothing", json!(null)),
        named("count", json!(5)),
        named("ratio", json!(1.0)),
        named("items", json!([1, "b"])),
        named("obj", json!({"k": "v"})),
        positional("first", json!("one"), 0),
        positional("yes", json!(true), 2),
        positional("list", json!(["a", "b", 3]), 3),
        positional("object", json!({"k": [1, 2]}), 4),
        positional("missing", json!(null), 5),
        positional("zero", json!(0), 6),
    ];
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(
        lines(&outcome.result["stdout"]),
        [
            "--name=value",
            "--flag",
            "--count=5",
            "--ratio=1.0",
            "--items=[1, 'b']",
            "--obj={'k': 'v'}",
            "one",
            "two words",
            "1",
            "a,b,3",
            r#"{"k": [1, 2]}"#,
            "",
            "0",
        ]
    );
}

#[test]
fn kwarg_op_replaces_the_double_dash() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(&dir.path().join("args.sh"), PRINT_ARGS, true);
    let mut req = request("local-shell-script", json!({"kwarg_op": "-"}));
    req.entry_point = Some(script);
    req.action_parameters = vec![named("key1", json!("v1")), named("verbose", json!(true))];
    let (outcome, _) = run_lib(&req);
    assert_eq!(lines(&outcome.result["stdout"]), ["-key1=v1", "-verbose"]);
}

#[test]
fn script_without_exec_bit_runs_through_its_shebang() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(
        &dir.path().join("py.sh"),
        "#!/usr/bin/env python3\nimport sys\nprint(sys.argv[1:])\n",
        false,
    );
    let mut req = request("local-shell-script", json!({}));
    req.entry_point = Some(script);
    req.action_parameters = vec![positional("a", json!("x"), 0)];
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.result["stdout"], "['x']");
    // Running it must not have changed the pack's file.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("py.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0);
}

#[test]
fn script_without_shebang_runs_through_sh() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(&dir.path().join("plain.sh"), "echo \"plain $1\"\n", false);
    let mut req = request("local-shell-script", json!({}));
    req.entry_point = Some(script);
    req.action_parameters = vec![positional("a", json!("ok"), 0)];
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.result["stdout"], "plain ok");
}

#[test]
fn script_gets_env_cwd_and_the_shell_result_object() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(
        &dir.path().join("env.sh"),
        "#!/bin/sh\necho \"$GREETING $ST2_ACTION_PACK_NAME $(pwd -P)\"\necho '{\"warn\": 1}' >&2\nexit 4\n",
        true,
    );
    let work = tempfile::tempdir().unwrap();
    let mut req = request(
        "local-shell-script",
        json!({"env": {"GREETING": "hi"}, "cwd": work.path()}),
    );
    req.entry_point = Some(script);
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let cwd = work.path().canonicalize().unwrap();
    assert_eq!(
        outcome.result,
        json!({
            "succeeded": false,
            "failed": true,
            "return_code": 4,
            "stdout": format!("hi mypack {}", cwd.display()),
            "stderr": {"warn": 1}
        })
    );
}

#[test]
fn script_timeout_is_status_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_file(&dir.path().join("slow.sh"), "#!/bin/sh\nsleep 30\n", true);
    let mut req = request("local-shell-script", json!({"timeout": 1}));
    req.entry_point = Some(script);
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Timeout);
    assert_eq!(outcome.result["return_code"], -9);
    assert_eq!(
        outcome.result["error"],
        "Action failed to complete in 1 seconds"
    );
}
