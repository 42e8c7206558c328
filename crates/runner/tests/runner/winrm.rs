//! The WinRM runners (`winrm-cmd`, `winrm-ps-cmd`, `winrm-ps-script`) with
//! the real pywinrm 0.5.0 (StackStorm's pin, from PyPI into a cached venv by
//! `scripts/pyvenv.sh`) against the loopback WS-Management endpoint in
//! `wsman.rs`: no Windows host runs here, so what the "host" does comes from
//! each test's handler, and what it received is checked.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use stormdesk_runner::protocol::{RunnerRequest, RunnerStatus, Stream};
use stormdesk_runner::{run_with_events, CancelHandle, RunEvent, RunOutcome};

use crate::support::{named, positional, prerequisite, request, run_lib, write_file, WAIT};
use crate::wsman::{Endpoint, Invocation, Reply, Seen};

const USER: &str = "ops";
const PASSWORD: &str = "Winrm-s3cret!";

/// The python of a venv with StackStorm's pywinrm, or `None` (reported skip
/// outside CI) when it cannot be made.
fn pywinrm() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/pyvenv.sh"))
        .args(["winrm", "pywinrm==0.5.0"])
        .output();
    let reason = match out {
        Ok(o) if o.status.success() => {
            let python = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if python.is_file() {
                return Some(python);
            }
            format!("no python at {}", python.display())
        }
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    prerequisite(
        false,
        &format!("cannot make the pywinrm==0.5.0 venv: {reason}"),
    );
    None
}

fn winrm_request(
    python: &Path,
    runner: &str,
    endpoint: &Endpoint,
    password: &str,
    extra: Value,
) -> RunnerRequest {
    let mut params = json!({
        "host": "127.0.0.1",
        "port": endpoint.port,
        "scheme": "http",
        "transport": "basic",
        "username": USER,
        "password": password,
    });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    let mut req = request(runner, params);
    req.python = Some(python.to_path_buf());
    req.secrets = vec![password.to_string()];
    req
}

fn utf16_b64(s: &str) -> String {
    let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    B64.encode(bytes)
}

/// The WS-Management verbs the endpoint saw, in order.
fn verbs(seen: &[Seen]) -> Vec<&'static str> {
    seen.iter()
        .map(|s| match s {
            Seen::Unauthorized => "401",
            Seen::Create { .. } => "Create",
            Seen::Command { .. } => "Command",
            Seen::Receive { .. } => "Receive",
            Seen::Signal { .. } => "Signal",
            Seen::Delete { .. } => "Delete",
        })
        .collect()
}

#[test]
fn winrm_cmd_runs_a_command_in_a_shell_with_env_and_cwd() {
    let Some(python) = pywinrm() else { return };
    let endpoint = Endpoint::start(USER, PASSWORD, |inv: &Invocation| {
        assert_eq!(inv.command, "dir C:\\work");
        Reply {
            chunks: vec![
                ("Volume in drive C\r\n".into(), String::new()),
                ("report.txt\r\n".into(), "warning: slow disk".into()),
            ],
            exit_code: 0,
            hang: false,
        }
    });
    let req = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": "dir C:\\work", "cwd": "C:\\work", "env": {"STAGE": "prod", "N": 3}}),
    );
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{:?}",
        outcome.result
    );
    // StackStorm's _translate_response, output as the host sent it.
    assert_eq!(
        outcome.result,
        json!({"failed": false, "succeeded": true, "return_code": 0,
               "stdout": "Volume in drive C\r\nreport.txt\r\n", "stderr": "warning: slow disk"})
    );
    assert_eq!(streamed.stdout, "Volume in drive C\r\nreport.txt\r\n");
    assert_eq!(streamed.stderr, "warning: slow disk");
    let seen = endpoint.seen();
    assert_eq!(
        verbs(&seen),
        ["Create", "Command", "Receive", "Receive", "Signal", "Delete"]
    );
    let Seen::Create {
        env, cwd, codepage, ..
    } = &seen[0]
    else {
        unreachable!()
    };
    let mut env = env.clone();
    env.sort();
    assert_eq!(
        env,
        [("N".into(), "3".into()), ("STAGE".into(), "prod".into())]
    );
    assert_eq!(cwd.as_deref(), Some("C:\\work"));
    assert_eq!(
        codepage.as_deref(),
        Some("65001"),
        "StackStorm's UTF-8 codepage"
    );
    let Seen::Signal { code, .. } = &seen[4] else {
        unreachable!()
    };
    assert!(code.ends_with("/signal/terminate"), "{code}");
}

#[test]
fn winrm_cmd_parses_json_output_and_fails_on_a_nonzero_exit() {
    let Some(python) = pywinrm() else { return };
    let endpoint = Endpoint::start(USER, PASSWORD, |inv: &Invocation| {
        if inv.command == "json" {
            Reply::out("{\"disks\": [\"C:\", \"D:\"]}\r\n", 0)
        } else {
            Reply {
                chunks: vec![(
                    "partial\r\n".into(),
                    "'nosuch' is not recognized as a command\r\n".into(),
                )],
                exit_code: 9009,
                hang: false,
            }
        }
    });
    let ok = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": "json"}),
    );
    let (outcome, _) = run_lib(&ok);
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(outcome.result["stdout"], json!({"disks": ["C:", "D:"]}));

    let bad = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": "nosuch"}),
    );
    let (outcome, _) = run_lib(&bad);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(
        outcome.result,
        json!({"failed": true, "succeeded": false, "return_code": 9009,
               "stdout": "partial\r\n", "stderr": "'nosuch' is not recognized as a command\r\n"})
    );
}

#[test]
fn winrm_ps_cmd_sends_an_encoded_command_and_cleans_clixml_errors() {
    let Some(python) = pywinrm() else { return };
    let clixml = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" \
                  xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">\
                  <S S=\"Error\">Get-Item : Cannot find path_x000D__x000A_</S>\
                  <S S=\"Error\">at line 1_x000D__x000A_</S></Objs>";
    let endpoint = Endpoint::start(USER, PASSWORD, move |_: &Invocation| Reply {
        chunks: vec![("{\"Name\":\"ST2\",\"Value\":\"é ✓\"}".into(), clixml.into())],
        exit_code: 1,
        hang: false,
    });
    let script = "Get-Item Env:ST2 | ConvertTo-Json -Compress # é ✓";
    let req = winrm_request(
        &python,
        "winrm-ps-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": script}),
    );
    let (outcome, streamed) = run_lib(&req);
    let inv = &endpoint.invocations()[0];
    assert_eq!(
        inv.command,
        format!("powershell -encodedcommand {}", utf16_b64(script))
    );
    assert_eq!(inv.powershell.as_deref(), Some(script));
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(
        outcome.result,
        json!({"failed": true, "succeeded": false, "return_code": 1,
               "stdout": {"Name": "ST2", "Value": "é ✓"},
               "stderr": "Get-Item : Cannot find path\nat line 1"})
    );
    assert_eq!(streamed.stderr, "Get-Item : Cannot find path\nat line 1");
}

#[derive(serde::Deserialize)]
struct Table {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    kwarg_op: Option<String>,
    params: Vec<Param>,
    expected: String,
}

#[derive(serde::Deserialize)]
struct Param {
    name: String,
    value: Value,
    #[serde(default)]
    position: Option<u32>,
}

#[test]
fn winrm_ps_script_passes_parameters_as_stackstorm_builds_them() {
    let Some(python) = pywinrm() else { return };
    let table: Table = serde_json::from_str(include_str!("data/winrm_ps_params.json")).unwrap();
    let endpoint = Endpoint::start(USER, PASSWORD, |_: &Invocation| Reply::out("ok", 0));
    let dir = tempfile::tempdir().unwrap();
    let script = "param($name)\r\nWrite-Output \"uptime of $name\"\r\n";
    let path = write_file(&dir.path().join("get_uptime.ps1"), script, false);
    let mut failures = Vec::new();
    for (i, case) in table.cases.iter().enumerate() {
        let mut extra = json!({});
        if let Some(op) = &case.kwarg_op {
            extra["kwarg_op"] = json!(op);
        }
        let mut req = winrm_request(&python, "winrm-ps-script", &endpoint, PASSWORD, extra);
        req.entry_point = Some(path.clone());
        req.action_parameters = case
            .params
            .iter()
            .map(|p| match p.position {
                Some(pos) => positional(&p.name, p.value.clone(), pos),
                None => named(&p.name, p.value.clone()),
            })
            .collect();
        let (outcome, _) = run_lib(&req);
        assert_eq!(
            outcome.status,
            RunnerStatus::Succeeded,
            "{}: {:?}",
            case.name,
            outcome.result
        );
        let got = endpoint.invocations()[i].powershell.clone().unwrap();
        let want = if case.expected.is_empty() {
            script.to_string()
        } else {
            format!("& {{{script}}} {}", case.expected)
        };
        if got != want {
            failures.push(format!("{}:\n  want {want:?}\n  got  {got:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A script whose `powershell -encodedcommand` line would pass 8191
/// characters goes as StackStorm sends it: a temporary directory, the script
/// uploaded in 2048-character chunks, run with its parameters, removed.
#[test]
fn winrm_ps_script_uploads_a_long_script_in_chunks() {
    let Some(python) = pywinrm() else { return };
    let tmp = "C:\\Users\\ops\\AppData\\Local\\Temp\\x1y2z3.tmp";
    let endpoint = Endpoint::start(USER, PASSWORD, move |inv: &Invocation| {
        let ps = inv.powershell.clone().unwrap_or_default();
        if ps.contains("GetRandomFileName") {
            Reply::out(&format!("{tmp}\r\n"), 0)
        } else if ps.contains("script.ps1") && !ps.contains("Add-Content") {
            Reply::out("ran\r\n", 0)
        } else {
            Reply::out("", 0)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let line = "Write-Output 'a line of a long script that goes on and on' # ünïcödé\r\n";
    let script = line.repeat(5000 / line.len() + 1);
    let path = write_file(&dir.path().join("long.ps1"), &script, false);
    let mut req = winrm_request(&python, "winrm-ps-script", &endpoint, PASSWORD, json!({}));
    req.entry_point = Some(path);
    req.action_parameters = vec![named("name", json!("web01"))];
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{:?}",
        outcome.result
    );
    assert_eq!(outcome.result["stdout"], json!("ran\r\n"));

    let scripts: Vec<String> = endpoint
        .invocations()
        .into_iter()
        .map(|i| i.powershell.unwrap())
        .collect();
    assert!(scripts[0].contains("GetRandomFileName"), "{}", scripts[0]);
    let uploads = &scripts[1..scripts.len() - 2];
    let chars = script.chars().count();
    assert_eq!(
        uploads.len(),
        chars.div_ceil(2048),
        "one upload per 2048 characters"
    );
    let mut uploaded = Vec::new();
    for up in uploads {
        assert!(
            up.contains(&format!("$filePath = \"{tmp}\\script.ps1\"")),
            "{up}"
        );
        let data = up
            .split("@\"\n")
            .nth(1)
            .unwrap()
            .split("\n\"@")
            .next()
            .unwrap();
        uploaded.extend(B64.decode(data).unwrap());
    }
    assert_eq!(String::from_utf8(uploaded).unwrap(), script);
    assert_eq!(
        scripts[scripts.len() - 2],
        format!("{tmp}\\script.ps1 -name \"web01\" ")
    );
    assert_eq!(
        scripts[scripts.len() - 1],
        format!("Remove-Item -Force -Recurse -Path \"{tmp}\"")
    );
}

#[test]
fn a_wrong_password_fails_with_an_error_naming_the_host() {
    let Some(python) = pywinrm() else { return };
    let endpoint = Endpoint::start(USER, PASSWORD, |_: &Invocation| Reply::out("", 0));
    let wrong = "not-the-password";
    let req = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        wrong,
        json!({"cmd": "hostname"}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let error = outcome.result["error"].as_str().unwrap();
    let url = format!("http://127.0.0.1:{}/wsman", endpoint.port);
    assert!(error.contains("WinRM on 127.0.0.1"), "{error}");
    assert!(error.contains(&url), "{error}");
    assert!(
        error.contains("rejected the credentials of user 'ops'"),
        "{error}"
    );
    assert!(error.contains("transport 'basic'"), "{error}");
    assert!(!outcome.result.to_string().contains(wrong));
    assert_eq!(verbs(&endpoint.seen()), ["401"]);
}

#[test]
fn an_unreachable_host_fails_with_an_error_naming_it() {
    let Some(python) = pywinrm() else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut req = request(
        "winrm-cmd",
        json!({"cmd": "hostname", "host": "127.0.0.1", "port": port, "scheme": "http",
               "transport": "basic", "username": USER, "password": PASSWORD}),
    );
    req.python = Some(python);
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let error = outcome.result["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "could not connect to WinRM on 127.0.0.1 (http://127.0.0.1:{port}/wsman)"
        )),
        "{error}"
    );
    assert!(
        error.contains("5985 for http and 5986 for https"),
        "{error}"
    );
}

/// StackStorm's own receive loop gives up after `timeout` seconds: status
/// `timeout`, return code -1, the output so far; the command is still
/// signaled and its shell deleted.
#[test]
fn a_command_past_its_timeout_times_out_and_is_cleaned_up() {
    let Some(python) = pywinrm() else { return };
    let endpoint = Endpoint::start(USER, PASSWORD, |_: &Invocation| Reply {
        hang: true,
        ..Reply::default()
    });
    let req = winrm_request(
        &python,
        "winrm-ps-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": "Start-Sleep 3600", "timeout": 1}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Timeout,
        "{:?}",
        outcome.result
    );
    assert_eq!(
        outcome.result,
        json!({"failed": true, "succeeded": false, "return_code": -1, "stdout": "", "stderr": ""})
    );
    let seen = endpoint.seen();
    let v = verbs(&seen);
    assert_eq!(&v[v.len() - 2..], ["Signal", "Delete"]);
}

/// The password reaches the driver on stdin only: not in its argv or
/// environment (what `ps` and /proc show; read while the host runs the
/// command), and it is masked in output.
#[test]
fn the_password_is_never_in_argv_environment_or_output() {
    let Some(python) = pywinrm() else { return };
    let driver_pid = Arc::new(Mutex::new(None::<u32>));
    let proc_seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let (pid, seen) = (driver_pid.clone(), proc_seen.clone());
    let endpoint = Endpoint::start(USER, PASSWORD, move |inv: &Invocation| {
        let pid = pid
            .lock()
            .unwrap()
            .expect("the driver started before it connected");
        for file in ["cmdline", "environ"] {
            let bytes = std::fs::read(format!("/proc/{pid}/{file}"))
                .unwrap_or_else(|e| panic!("reading /proc/{pid}/{file}: {e}"));
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&bytes).into_owned());
        }
        Reply::out(
            &format!("{} was typed\r\n", inv.command.trim_start_matches("echo ")),
            0,
        )
    });
    let req = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": format!("echo {PASSWORD}")}),
    );
    let mut streamed = String::new();
    let outcome: RunOutcome = run_with_events(
        &req,
        &mut |event| match event {
            RunEvent::Started { pid } => *driver_pid.lock().unwrap() = Some(pid),
            RunEvent::Output { stream, data } => {
                assert_eq!(stream, Stream::Stdout);
                streamed.push_str(data);
            }
        },
        &CancelHandle::new(),
    )
    .unwrap();
    let proc_seen = proc_seen.lock().unwrap();
    assert_eq!(proc_seen.len(), 2);
    assert!(proc_seen[0].contains("-I"), "argv: {}", proc_seen[0]);
    for text in proc_seen.iter() {
        assert!(!text.contains(PASSWORD));
    }
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(outcome.result["stdout"], json!("******** was typed\r\n"));
    assert_eq!(streamed, "******** was typed\r\n");
    assert!(!outcome.result.to_string().contains(PASSWORD));
}

#[test]
fn cancel_stops_the_command_and_deletes_its_shell() {
    let Some(python) = pywinrm() else { return };
    let endpoint = Arc::new(Endpoint::start(USER, PASSWORD, |_: &Invocation| Reply {
        hang: true,
        ..Reply::default()
    }));
    let req = winrm_request(
        &python,
        "winrm-cmd",
        &endpoint,
        PASSWORD,
        json!({"cmd": "ping -t localhost", "timeout": 600}),
    );
    let cancel = CancelHandle::new();
    let (c, e) = (cancel.clone(), endpoint.clone());
    let canceler = thread::spawn(move || {
        e.wait_until(WAIT, |seen| {
            seen.iter().any(|s| matches!(s, Seen::Receive { .. }))
        });
        c.cancel();
    });
    let outcome = run_with_events(&req, &mut |_| {}, &cancel).unwrap();
    canceler.join().unwrap();
    assert_eq!(
        outcome.status,
        RunnerStatus::Canceled,
        "{:?}",
        outcome.result
    );
    assert_eq!(outcome.result["error"], json!("canceled"));
    // Best effort within the grace period: the host is told to stop.
    endpoint.wait_until(Duration::from_secs(10), |seen| {
        seen.iter().any(|s| matches!(s, Seen::Delete { .. }))
    });
    assert!(verbs(&endpoint.seen()).contains(&"Signal"));
}

#[test]
fn bad_connection_parameters_are_refused_before_anything_runs() {
    let cases = [
        (
            json!({"cmd": "x", "username": "u", "password": "p"}),
            "runner parameter `host`",
        ),
        (
            json!({"cmd": "x", "host": "h", "username": "u", "password": "p", "transport": "telnet"}),
            "`transport`",
        ),
        (
            json!({"cmd": "x", "host": "h", "username": "u", "password": "p", "timeout": 0}),
            "`timeout`",
        ),
        (
            json!({"cmd": "x", "host": "h", "username": "u", "password": "p", "port": 70000}),
            "`port`",
        ),
        (
            json!({"host": "h", "username": "u", "password": "p"}),
            "runner parameter `cmd`",
        ),
    ];
    for (params, want) in cases {
        let req = request("winrm-cmd", params.clone());
        let err = stormdesk_runner::run(&req, &mut |_, _| {}, &CancelHandle::new())
            .expect_err(&params.to_string())
            .to_string();
        assert!(err.contains(want), "{params}: {err}");
    }
    let mut req = request(
        "winrm-ps-script",
        json!({"host": "h", "username": "u", "password": "p"}),
    );
    req.entry_point = Some(PathBuf::from("/nonexistent/script.ps1"));
    let err = stormdesk_runner::run(&req, &mut |_, _| {}, &CancelHandle::new()).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
