//! StackStorm's own `core`, `linux` and `examples` packs, unmodified (test
//! data in `../shared/st2-packs`), run in one engine: every action of theirs
//! that can run on this machine runs, concurrently, and its status and
//! result are StackStorm's for the same inputs (derived from the action's
//! code and StackStorm's runners: `contrib/runners/*`). Shell and Python
//! actions run locally (Python ones in the pack's environment, built from
//! its `requirements.txt`), HTTP ones against a listener on 127.0.0.1,
//! remote ones over a real sshd on 127.0.0.1 that is their `localhost`.
//!
//! [`NOT_RUN`] lists the actions that cannot run here, with the reason; the
//! test checks that every action of the packs is in exactly one of the two
//! tables and that each listed one indeed does not run (an unsupported
//! runner is still unsupported, an action that fails here still fails), so
//! a regression and an improvement both show. Orquesta workflows are in
//! `st2_workflows.rs`. The README's "What of a StackStorm pack runs" points
//! here.

use std::collections::BTreeSet;
use std::path::Path;

use futures::StreamExt;
use serde_json::{json, Value};
use stormdesk_engine::Status;

use crate::st2::{
    check, make_executable, on_path, pack_actions, prerequisite, Check, St2, AT_ONCE, DNS_NAME,
};

struct Case {
    action: &'static str,
    params: Value,
    status: Status,
    checks: Vec<Check>,
    /// What must be installed besides the engine (`Some(program)`), else a skip.
    needs: Option<&'static str>,
}

fn case(action: &'static str, params: Value, status: Status, checks: Vec<Check>) -> Case {
    Case {
        action,
        params,
        status,
        checks,
        needs: None,
    }
}

fn needs(mut c: Case, program: &'static str) -> Case {
    c.needs = Some(program);
    c
}

/// StackStorm's local runner result (`local_runner/base.py`).
fn shell(code: i64, stdout: &str, stderr: &str) -> Vec<Check> {
    vec![Check::Eq(
        "",
        json!({"failed": code != 0, "succeeded": code == 0, "return_code": code, "stdout": stdout, "stderr": stderr}),
    )]
}

/// StackStorm's remote runner result for the one host `localhost`.
fn remote(code: i64, stdout: &str, stderr: &str) -> Vec<Check> {
    vec![Check::Eq(
        "/localhost",
        json!({"failed": code != 0, "succeeded": code == 0, "return_code": code, "stdout": stdout, "stderr": stderr}),
    )]
}

/// StackStorm's Python runner result (`python_runner.py`).
fn python(result: Value, stdout: &str, stderr: &str) -> Vec<Check> {
    vec![Check::Eq(
        "",
        json!({"result": result, "stdout": stdout, "stderr": stderr, "exit_code": 0}),
    )]
}

/// Why an action of StackStorm's packs does not run here.
enum NotRun {
    /// Its runner is not supported yet: the catalog must say so.
    Runner(&'static str),
    /// It needs what this machine does not have (the internet, a Windows
    /// host); it is not attempted.
    Needs(&'static str),
}

/// Every action of `core`, `linux` and `examples` (workflows aside) that
/// does not run on this machine, and why. The README lists them too.
const NOT_RUN: &[(&str, NotRun)] = &[
    ("core.ask", NotRun::Runner("an Inquiry: the inquirer runner is not supported yet")),
    ("core.announcement", NotRun::Runner("the announcement runner is not supported yet (it publishes to StackStorm's message bus)")),
    ("core.winrm_cmd", NotRun::Needs("a Windows host reachable over WinRM")),
    ("core.winrm_ps_cmd", NotRun::Needs("a Windows host reachable over WinRM")),
    ("examples.winrm_get_uptime", NotRun::Needs("a Windows host reachable over WinRM")),
    ("examples.winrm_get_ipconfig", NotRun::Needs("a Windows host reachable over WinRM")),
    ("examples.winrm_powershell_env", NotRun::Needs("a Windows host reachable over WinRM")),
    ("examples.weather", NotRun::Needs("the internet: its immutable url is api.openweathermap.org")),
    ("linux.diag_loadavg", NotRun::Runner("an ActionChain: the action-chain runner is not supported yet")),
    ("examples.action_chain_streaming_demo", NotRun::Runner("an ActionChain")),
    ("examples.chain-sequential", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-cancel", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-cancel-with-subworkflow", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-inquiry", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-inquiry-parent", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-pause-resume", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-pause-resume-with-subchain", NotRun::Runner("an ActionChain")),
    ("examples.chain-test-pause-resume-with-subworkflow", NotRun::Runner("an ActionChain")),
    ("examples.data_jinja_filter", NotRun::Runner("an ActionChain")),
    ("examples.decrypt_kv_jinja_filter", NotRun::Runner("an ActionChain")),
    ("examples.echochain", NotRun::Runner("an ActionChain")),
    ("examples.echochain-param", NotRun::Runner("an ActionChain")),
    ("examples.echochain_task_failure", NotRun::Runner("an ActionChain")),
    ("examples.echochain_top_level_failure", NotRun::Runner("an ActionChain")),
    ("examples.forloop_chain", NotRun::Runner("an ActionChain")),
    ("examples.json_escape_jinja_filter", NotRun::Runner("an ActionChain")),
    ("examples.publish_data", NotRun::Runner("an ActionChain")),
    ("examples.regex_jinja_filter", NotRun::Runner("an ActionChain")),
    ("examples.time_jinja_filter", NotRun::Runner("an ActionChain")),
    ("examples.version_jinja_filter", NotRun::Runner("an ActionChain")),
];

/// Actions that run here but fail for a reason of this machine or of
/// Stormdesk (not StackStorm's result), with the parameters they are tried with.
fn failing_here() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "core.inject_trigger",
            "Stormdesk has no triggers or rules: the action posts to StackStorm's webhook API (`/v1/webhooks/st2`) through `datastore_service.get_api_client()`",
            json!({"trigger": "core.st2.webhook", "payload": {"a": 1}}),
        ),
        (
            "linux.wait_for_ssh",
            "it imports StackStorm's own SSH client and configuration (`st2common.runners.paramiko_ssh`, `oslo_config`), which are StackStorm's internals, not part of the action API Stormdesk provides",
            json!({"hostname": "127.0.0.1", "port": 1, "retries": 1, "sleep_delay": 0, "ssh_timeout": 1}),
        ),
    ]
}

fn cases(t: &St2) -> Vec<Case> {
    let p = |name: &str| t.path(name).display().to_string();
    let http = &t.http;
    let ssh_f = t.ssh_config.display().to_string();
    let key = t
        .sshd
        .as_ref()
        .map(|s| s.key.display().to_string())
        .unwrap_or_default();
    let dns = t.dns.clone().unwrap_or_default();
    let user = crate::sshd::current_user();
    let ok = Status::Succeeded;
    let failed = Status::Failed;
    vec![
        // core
        case(
            "core.echo",
            json!({"message": "Hello, StackStorm!"}),
            ok,
            shell(0, "Hello, StackStorm!", ""),
        ),
        // `>&2 echo "{{message}}"` exits 0: StackStorm's core.error succeeds.
        case(
            "core.error",
            json!({"message": "something broke"}),
            ok,
            shell(0, "", "something broke"),
        ),
        // stdout and stderr that are JSON are parsed (`KEYS_TO_TRANSFORM`).
        case(
            "core.local",
            json!({"cmd": "echo $[1+2]; echo err >&2"}),
            ok,
            vec![Check::Eq(
                "",
                json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": 3, "stderr": "err"}),
            )],
        ),
        case(
            "core.local",
            json!({"cmd": "echo '{\"a\": [1, null]}'"}),
            ok,
            vec![Check::Eq("/stdout", json!({"a": [1, null]}))],
        ),
        case(
            "core.local",
            json!({"cmd": "echo \"$GREETING from $(pwd)\"", "env": {"GREETING": "hi"}, "cwd": p("cwd")}),
            ok,
            shell(0, &format!("hi from {}", p("cwd")), ""),
        ),
        case(
            "core.local",
            json!({"cmd": "exit 3"}),
            failed,
            shell(3, "", ""),
        ),
        case(
            "core.local",
            json!({"cmd": "sleep 30", "timeout": 1}),
            Status::Timeout,
            vec![Check::Eq(
                "",
                json!({"error": "Action failed to complete in 1 seconds", "failed": true, "succeeded": false, "return_code": -9, "stdout": "", "stderr": ""}),
            )],
        ),
        needs(
            case(
                "core.local_sudo",
                json!({"cmd": "echo $(whoami) $SUDO_USER"}),
                ok,
                shell(0, &format!("root {user}"), ""),
            ),
            "sudo",
        ),
        case(
            "core.noop",
            json!({}),
            ok,
            vec![Check::Eq(
                "",
                json!({"failed": false, "succeeded": true, "return_code": 0}),
            )],
        ),
        case(
            "core.pause",
            json!({"max_pause": 1}),
            ok,
            python(json!(1), "", ""),
        ),
        case(
            "core.uuid",
            json!({}),
            ok,
            vec![Check::Re(
                "/result",
                r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
            )],
        ),
        case(
            "core.uuid",
            json!({"uuid_type": "uuid1"}),
            ok,
            vec![Check::Re(
                "/result",
                r"^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$",
            )],
        ),
        case(
            "core.http",
            json!({"url": format!("{http}/json")}),
            ok,
            vec![
                Check::Eq("/status_code", json!(200)),
                Check::Eq("/body", json!({"message": "hello", "items": [1, 2]})),
                Check::Eq("/parsed", json!(true)),
                Check::Eq("/headers/content-type", json!("application/json")),
            ],
        ),
        case(
            "core.http",
            json!({"url": format!("{http}/echo"), "method": "POST", "body": "{\"k\": \"v\"}", "headers": {"Content-Type": "application/json", "X-Test": "yes"}, "params": {"q": "1"}}),
            ok,
            vec![
                Check::Eq("/body/method", json!("POST")),
                Check::Eq("/body/query", json!({"q": "1"})),
                Check::Eq("/body/headers/content-type", json!("application/json")),
                Check::Eq("/body/headers/x-test", json!("yes")),
                Check::Eq("/body/body", json!("{\"k\": \"v\"}")),
            ],
        ),
        case(
            "core.http",
            json!({"url": format!("{http}/missing")}),
            failed,
            vec![
                Check::Eq("/status_code", json!(404)),
                Check::Eq("/parsed", json!(false)),
            ],
        ),
        needs(
            case(
                "core.remote",
                json!({"hosts": "localhost", "cmd": "echo $[2*21]"}),
                ok,
                vec![Check::Eq(
                    "/localhost",
                    json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": 42, "stderr": ""}),
                )],
            ),
            "sshd",
        ),
        needs(
            case(
                "core.remote",
                json!({"hosts": "localhost,localhost2", "cmd": "exit 4"}),
                failed,
                vec![
                    Check::Eq("/localhost/return_code", json!(4)),
                    Check::Eq("/localhost2/return_code", json!(4)),
                    Check::Eq("/localhost2/failed", json!(true)),
                ],
            ),
            "sshd",
        ),
        needs(
            case(
                "core.remote_sudo",
                json!({"hosts": "localhost", "cmd": "test -n \"$SUDO_USER\" && echo sudo"}),
                ok,
                remote(0, "sudo", ""),
            ),
            "sshd",
        ),
        case(
            "core.sendmail",
            json!({"sendmail_binary": p("sendmail"), "from": "ops@example.com", "to": "dev@example.com", "subject": "Deploy done", "body": "All green."}),
            ok,
            vec![
                Check::Eq("/return_code", json!(0)),
                Check::File(
                    p("mail.txt"),
                    r"(?s)^TO: dev@example.com\nFROM: ops@example.com\nSUBJECT: =\?UTF-8\?B\?RGVwbG95IGRvbmUK\?=\nContent-Type: text/html; charset=UTF-8\n\nAll green.\n<br><br>\nThis message was generated by StackStorm action send_mail running on \S+",
                ),
            ],
        ),
        // linux (remote over the loopback sshd)
        needs(
            case(
                "linux.cp",
                json!({"hosts": "localhost", "source": p("cp-src"), "destination": p("cp-dst")}),
                ok,
                remote(0, &format!("'{}' -> '{}'", p("cp-src"), p("cp-dst")), ""),
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.mv",
                json!({"hosts": "localhost", "source": p("mv-src"), "destination": p("mv-dst")}),
                ok,
                remote(
                    0,
                    &format!("renamed '{}' -> '{}'", p("mv-src"), p("mv-dst")),
                    "",
                ),
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.rm",
                json!({"hosts": "localhost", "target": p("rm-me")}),
                ok,
                remote(0, &format!("removed '{}'", p("rm-me")), ""),
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.file_touch",
                json!({"hosts": "localhost", "file": p("touched")}),
                ok,
                vec![
                    Check::Eq("/localhost/return_code", json!(0)),
                    Check::File(p("touched"), r"^\d{10}\n$"),
                ],
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.vmstat",
                json!({"hosts": "localhost"}),
                ok,
                vec![Check::Re(
                    "/localhost/stdout",
                    r"(?s)^procs -+memory.*\n r +b +swpd",
                )],
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.netstat",
                    json!({"hosts": "localhost", "args": "-lnt"}),
                    ok,
                    vec![Check::Re(
                        "/localhost/stdout",
                        r"(?m)^tcp .*127\.0\.0\.1:\d+ .*LISTEN",
                    )],
                ),
                "netstat",
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.netstat_grep",
                    json!({"hosts": "localhost", "pids": ["1"]}),
                    ok,
                    vec![Check::Eq("/localhost/return_code", json!(0))],
                ),
                "netstat",
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.lsof",
                    json!({"hosts": "localhost", "args": "-a -d cwd -c sd-st2-victim"}),
                    ok,
                    vec![Check::Re(
                        "/localhost/stdout",
                        r"(?m)^sd-st2-vi\S* +\d+ .* cwd +DIR ",
                    )],
                ),
                "lsof",
            ),
            "sshd",
        ),
        needs(
            needs(
                needs(
                    case(
                        "linux.lsof_pids",
                        json!({"hosts": "localhost", "pids": "$$"}),
                        ok,
                        vec![
                            Check::Re("/localhost/stdout", r"(?m)^COMMAND +PID"),
                            Check::Eq("/localhost/return_code", json!(0)),
                        ],
                    ),
                    "lsof",
                ),
                "sshd",
            ),
            "sudo",
        ),
        needs(
            case(
                "linux.pkill",
                json!({"hosts": "localhost", "process": "sd-st2-prey"}),
                ok,
                vec![Check::Re(
                    "/localhost/stdout",
                    r"^sd-st2-prey killed \(pid \d+\)$",
                )],
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.rsync",
                    json!({"hosts": "localhost", "source": p("rsync-src/"), "dest_server": "localhost2", "destination": p("rsync-dst/"), "args": format!("-a -e \"ssh -F {ssh_f}\"")}),
                    ok,
                    vec![
                        Check::Eq("/localhost/return_code", json!(0)),
                        Check::File(p("rsync-dst/file.txt"), "^synced\n$"),
                    ],
                ),
                "rsync",
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.scp",
                json!({"hosts": "localhost", "source": p("scp-src"), "dest_server": "localhost2", "destination": p("scp-dst"), "keyfile": key, "username": user, "args": format!("-O -F {ssh_f}")}),
                // `args` (not immutable) point scp at the test's ssh config; `-O`
                // is scp's own protocol (the test's sshd has no sftp subsystem).
                ok,
                vec![
                    Check::Eq("/localhost/return_code", json!(0)),
                    Check::File(p("scp-dst"), "^copied\n$"),
                ],
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.check_loadavg",
                json!({"hosts": "localhost", "period": "1"}),
                ok,
                vec![
                    Check::Re("/localhost/stdout", r"^\d+(\.\d+)?$"),
                    Check::Eq("/localhost/return_code", json!(0)),
                ],
            ),
            "sshd",
        ),
        needs(
            case(
                "linux.check_processes",
                json!({"hosts": "localhost", "search": "name", "criteria": "sd-st2-victim"}),
                ok,
                vec![Check::Eq("/localhost/return_code", json!(0))],
            ),
            "sshd",
        ),
        // The script imports st2common, which a host without StackStorm lacks.
        needs(
            case(
                "linux.service",
                json!({"hosts": "localhost", "act": "status", "service": "ssh"}),
                failed,
                vec![
                    Check::Re(
                        "/localhost/stderr",
                        "ModuleNotFoundError: No module named 'st2common'",
                    ),
                    Check::Eq("/localhost/return_code", json!(1)),
                ],
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.traceroute",
                    json!({"host": "127.0.0.1", "hops": 1, "queries_to_hop": 1}),
                    ok,
                    vec![Check::Re(
                        "/localhost/stdout",
                        r"(?m)^ 1  (localhost|127\.0\.0\.1) \(127\.0\.0\.1\)",
                    )],
                ),
                "traceroute",
            ),
            "sshd",
        ),
        needs(
            needs(
                case(
                    "linux.dig",
                    json!({"hostname": DNS_NAME, "nameserver": dns, "queryopts": "short,tries=2,time=5"}),
                    ok,
                    python(json!(["127.0.0.42"]), "", ""),
                ),
                "dig",
            ),
            "dns",
        ),
        // examples
        case(
            "examples.env_reader",
            json!({}),
            ok,
            vec![Check::Re("/stdout", "^[0-9a-f]{24,}$")],
        ),
        // StackStorm's local-shell-cmd refuses an entry point.
        case(
            "examples.ping",
            json!({}),
            failed,
            vec![Check::Re(
                "/error",
                "^entry_point is only valid for local-shell-script runner",
            )],
        ),
        case(
            "examples.local-random-exit",
            json!({}),
            failed,
            vec![Check::Re(
                "/error",
                "^entry_point is only valid for local-shell-script runner",
            )],
        ),
        case(
            "examples.local-notify",
            json!({"cmd": "echo notified"}),
            ok,
            shell(0, "notified", ""),
        ),
        case(
            "examples.local_command_runner_print_to_stdout_and_stderr",
            json!({"count": 4, "sleep_delay": 0.01}),
            ok,
            shell(
                0,
                "stdout line 2\nstdout line 4",
                "stderr line 1\nstderr line 3",
            ),
        ),
        case(
            "examples.local_script_runner_print_to_stdout_and_stderr",
            json!({"count": 4, "sleep_delay": 0.01}),
            ok,
            shell(
                0,
                "stdout line 2\nstdout line 4",
                "stderr line 1\nstderr line 3",
            ),
        ),
        case(
            "examples.python_runner_print_to_stdout_and_stderr",
            json!({"count": 4, "sleep_delay": 0.01}),
            ok,
            python(
                Value::Null,
                "stdout -> Line: 2\nstdout -> Line: 4\n",
                "stderr -> Line: 1\nstderr -> Line: 3\n",
            ),
        ),
        needs(
            case(
                "examples.remote_command_runner_print_to_stdout_and_stderr",
                json!({"count": 4, "sleep_delay": 0.01}),
                ok,
                remote(
                    0,
                    "stdout line 2\nstdout line 4",
                    "stderr line 1\nstderr line 3",
                ),
            ),
            "sshd",
        ),
        needs(
            case(
                "examples.remote_script_runner_print_to_stdout_and_stderr",
                json!({"count": 4, "sleep_delay": 0.01}),
                ok,
                remote(
                    0,
                    "stdout line 2\nstdout line 4",
                    "stderr line 1\nstderr line 3",
                ),
            ),
            "sshd",
        ),
        needs(
            case(
                "examples.remote-fib",
                json!({"hosts": "localhost", "start": 1, "end": 10}),
                ok,
                remote(0, "1 1 2 3 5 8 13 21 34", ""),
            ),
            "sshd",
        ),
        needs(
            case(
                "examples.remote-random-exit",
                json!({"hosts": "localhost"}),
                failed,
                vec![Check::Re(
                    "/error",
                    r#"^Action "remote-random-exit" specified "entry_point" attribute\. Perhaps wanted to use "remote-shell-script" runner\?"#,
                )],
            ),
            "sshd",
        ),
        // Python 3's subprocess output is bytes, which the pack's JSON helper refuses.
        case(
            "examples.ubuntu_pkg_info",
            json!({"pkgname": "bash"}),
            failed,
            shell(
                1,
                "",
                "JSON conversion failed. Object of type bytes is not JSON serializable",
            ),
        ),
        case(
            "examples.isprime",
            json!({"value": 7}),
            ok,
            vec![
                Check::Eq("/result", json!(true)),
                Check::Re("/stderr", r"PrimeCheckerAction: DEBUG +value=7"),
            ],
        ),
        case(
            "examples.isprime",
            json!({"value": 8}),
            ok,
            vec![Check::Eq("/result", json!(false))],
        ),
        case(
            "examples.json_string_to_object",
            json!({"json_str": "{\"a\": [1, {\"b\": null}]}"}),
            ok,
            python(json!({"a": [1, {"b": null}]}), "", ""),
        ),
        case(
            "examples.yaml_string_to_object",
            json!({"yaml_str": "a:\n  - 1\n  - b: null\n"}),
            ok,
            python(json!({"a": [1, {"b": null}]}), "", ""),
        ),
        case(
            "examples.object_return",
            json!({}),
            ok,
            python(
                json!({"a": "b", "c": {"d": "e", "f": 1, "g": true}}),
                "",
                "",
            ),
        ),
        case(
            "examples.print_config",
            json!({}),
            ok,
            python(
                Value::Null,
                "=========\n{'region': 'us-east-1'}\n=========\n",
                "",
            ),
        ),
        case(
            "examples.python_runner_load_and_print_fixture",
            json!({"file_path": p("fixture.json")}),
            ok,
            python(json!({"fixture": ["data", 1]}), "", ""),
        ),
        case(
            "examples.python_runner_print_python_version",
            json!({}),
            ok,
            vec![Check::Re(
                "/stdout",
                r"^Using Python executable: \S+/bin/python3?\nUsing Python version: 3\.",
            )],
        ),
        case(
            "examples.python_runner_print_python_environment",
            json!({}),
            ok,
            vec![Check::Re(
                "/stdout",
                r"(?s)^Using Python executable: .*\nPlatform: Linux.*\nPYTHONPATH: .*\nsys\.path: \[",
            )],
        ),
        case(
            "examples.python-mock-core-remote",
            json!({"cmd": "uptime", "hosts": "web1.example.com,web2"}),
            ok,
            vec![Check::Eq(
                "/result",
                json!({"web1.example.com": {"failed": false, "return_code": 0, "stderr": "", "succeeded": true, "stdout": "uptime"}, "web2": {"failed": false, "return_code": 0, "stderr": "", "succeeded": true, "stdout": "uptime"}}),
            )],
        ),
        case(
            "examples.python-mock-core-remote",
            json!({"hosts_dict": {"a.b": {"c": 1}}}),
            ok,
            vec![Check::Eq("/result", json!({"a.b": {"c": 1}}))],
        ),
        case(
            "examples.python-mock-create-vm",
            json!({"vm_name": "vm1", "ip": "10.0.0.5", "cpu_cores": 2, "memory_mb": 512}),
            ok,
            vec![
                Check::Re("/result/vm_id", r"^vm\d+$"),
                Check::Eq(
                    "/result/10.0.0.5",
                    json!({"cpu_cores": 2, "memory_mb": 512, "vm_name": "vm1"}),
                ),
            ],
        ),
        case(
            "examples.forloop_get_github_page",
            json!({"url": format!("{http}/page")}),
            ok,
            vec![Check::Re(
                "/result",
                r#"^<html><body>\n<h3><a href="/StackStorm-Exchange/stackstorm-aws">aws</a></h3>"#,
            )],
        ),
        case(
            "examples.forloop_parse_github_repos",
            json!({"content": "<h3><a href=\"/StackStorm-Exchange/stackstorm-aws\">aws</a></h3><h3><a href=\"/o/csv\">csv</a></h3>"}),
            ok,
            python(
                json!({"stackstorm-aws": "https://github.com/StackStorm-Exchange/stackstorm-aws", "csv": "https://github.com/o/csv"}),
                "",
                "",
            ),
        ),
        case(
            "examples.forloop_increase_index_and_check_condition",
            json!({"index": "1", "pagesize": "2", "input": {"a": 1, "b": 2}}),
            ok,
            python(json!(2), "", ""),
        ),
        case(
            "examples.forloop_increase_index_and_check_condition",
            json!({"index": "1", "pagesize": "2", "input": {}}),
            failed,
            python(json!("Breaking out of the loop"), "", ""),
        ),
        case(
            "examples.forloop_push_github_repos",
            json!({"data_to_push": {"aws": "u1", "csv": "u2"}}),
            ok,
            python(json!("Data pushed successfully"), "aws\ncsv\n", ""),
        ),
    ]
}

/// Files and processes the cases act on.
fn prepare(t: &St2) -> Vec<std::process::Child> {
    let w = |name: &str, text: &str| {
        let path = t.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    w("cp-src", "copy me\n");
    w("mv-src", "move me\n");
    w("rm-me", "remove me\n");
    w("rsync-src/file.txt", "synced\n");
    w("scp-src", "copied\n");
    w("fixture.json", "{\"fixture\": [\"data\", 1]}");
    std::fs::create_dir_all(t.path("cwd")).unwrap();
    // A sendmail that keeps the message it is given.
    w(
        "sendmail",
        &format!("#!/bin/sh\ncat > '{}'\n", t.path("mail.txt").display()),
    );
    make_executable(&t.path("sendmail"));
    // Processes for lsof and check_processes (`sd-st2-victim`, in its own
    // directory) and for pkill (`sd-st2-prey`).
    std::fs::create_dir_all(t.path("lsof")).unwrap();
    ["sd-st2-victim", "sd-st2-prey"]
        .iter()
        .map(|name| {
            let program = t.path(name);
            std::fs::copy("/bin/sleep", &program).unwrap();
            std::process::Command::new(&program)
                .arg("300")
                .current_dir(t.path("lsof"))
                .spawn()
                .unwrap()
        })
        .collect()
}

fn present(t: &St2, program: &str) -> bool {
    match program {
        "sshd" => t.sshd.is_some(),
        "dns" => t.dns.is_some(),
        p => on_path(p) || Path::new("/usr/sbin").join(p).is_file(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_own_actions_run_with_stackstorms_results() {
    let Some(t) = St2::start().await else { return };
    let actions = pack_actions(&t.engine);

    // Every action of the packs is accounted for exactly once.
    let cases = cases(&t);
    let failing = failing_here();
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for (a, _) in NOT_RUN {
        assert!(listed.insert(a), "{a} is listed twice in NOT_RUN");
    }
    for (a, _, _) in &failing {
        assert!(
            listed.insert(a),
            "{a} is both run and listed as not running"
        );
    }
    let run: BTreeSet<&str> = cases.iter().map(|c| c.action).collect();
    for a in &run {
        assert!(
            !listed.contains(a),
            "{a} is both run and listed as not running"
        );
    }
    let workflows: BTreeSet<&str> = actions
        .iter()
        .filter(|(_, (runner, _))| runner.as_str() == "orquesta")
        .map(|(a, _)| a.as_str())
        .collect();
    let unaccounted: Vec<&str> = actions
        .keys()
        .map(String::as_str)
        .filter(|a| !workflows.contains(a) && !run.contains(a) && !listed.contains(a))
        .collect();
    assert!(
        unaccounted.is_empty(),
        "actions of StackStorm's packs neither run nor listed as not running: {unaccounted:?}"
    );
    for a in listed.iter().chain(run.iter()) {
        assert!(
            actions.contains_key(*a),
            "{a} is not an action of StackStorm's packs"
        );
    }

    // Unsupported runners are still unsupported (a newly supported one shows here).
    for (a, why) in NOT_RUN {
        if let NotRun::Runner(reason) = why {
            assert!(
                !actions[*a].1,
                "{a} is listed as not running ({reason}) but its runner is supported now: move it to the cases with StackStorm's result"
            );
        }
    }

    let mut victims = prepare(&t);
    let mut skipped = Vec::new();
    let runnable: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            let missing: Vec<&str> = c
                .needs
                .iter()
                .copied()
                .filter(|p| !present(&t, p))
                .collect();
            if missing.is_empty() {
                return true;
            }
            for m in &missing {
                prerequisite(false, m, &format!("install {m} to run {}", c.action));
            }
            skipped.push(c.action);
            false
        })
        .collect();
    let runs = runnable.iter().map(|c| t.run(c.action, c.params.clone()));
    let fails = failing
        .iter()
        .map(|(a, _, params)| t.run(a, params.clone()));
    // A few at a time: the suite shares two cores with other tests.
    let (done, fails): (Vec<_>, Vec<_>) = futures::join!(
        futures::stream::iter(runs).buffered(AT_ONCE).collect(),
        futures::stream::iter(fails).buffered(AT_ONCE).collect()
    );
    for v in &mut victims {
        let _ = v.kill();
        let _ = v.wait();
    }

    let mut problems = Vec::new();
    for (c, outcome) in runnable.iter().zip(done) {
        let verdict = outcome.and_then(|e| check(&e, c.status, &c.checks));
        if let Err(e) = verdict {
            problems.push(format!("{} {}: {e}", c.action, c.params));
        }
    }
    for ((a, reason, _), outcome) in failing.iter().zip(fails) {
        match outcome {
            Ok(e) if e.status == Status::Succeeded => problems.push(format!(
                "{a} is listed as failing here ({reason}) but succeeded: move it to the cases with StackStorm's result"
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("{a}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} runs differ from StackStorm:\n{}",
        problems.len(),
        runnable.len() + failing.len(),
        problems.join("\n")
    );
    if !skipped.is_empty() {
        eprintln!("SKIPPED (prerequisites missing): {skipped:?}");
    }
    for (a, why) in NOT_RUN {
        let (NotRun::Runner(reason) | NotRun::Needs(reason)) = why;
        eprintln!("not run: {a}: {reason}");
    }
}
