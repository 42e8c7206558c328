//! The table of StackStorm's own actions (`core`, `linux`, `examples`) that
//! run on this machine, each with its parameters and StackStorm's status and
//! result for them (from the action's code and StackStorm's runners,
//! `contrib/runners/*`). `st2_packs.rs` runs them.

use serde_json::{json, Value};
use stormdesk_engine::Status;

use crate::st2::{Check, St2, DNS_NAME};

pub struct Case {
    pub action: &'static str,
    pub params: Value,
    pub status: Status,
    pub checks: Vec<Check>,
    /// What must be installed besides the engine (`Some(program)`), else a skip.
    pub needs: Option<&'static str>,
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

pub fn cases(t: &St2) -> Vec<Case> {
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
        // ActionChains (`action_chain_runner.py`): each link's result under
        // `tasks`, in order; links reach `localhost` over the loopback sshd.
        needs(
            case(
                "examples.action_chain_streaming_demo",
                json!({"count": 2, "sleep_delay": 0.01}),
                ok,
                vec![
                    Check::Eq("/tasks/0/result/stdout", json!("Task 1")),
                    Check::Eq("/tasks/1/result/stdout", json!("stdout line 2")),
                    Check::Eq("/tasks/9/name", json!("task10")),
                    Check::Eq("/tasks/9/result/localhost/stdout", json!("stdout line 2")),
                ],
            ),
            "sshd",
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
