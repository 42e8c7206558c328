//! The WinRM runners in the engine: StackStorm's own `core.winrm_cmd`,
//! `core.winrm_ps_cmd` and `examples.winrm_*` actions, unmodified, run with
//! pywinrm from the engine's base Python layer against the loopback
//! WS-Management endpoint of the runner tests (`wsman.rs`): no Windows host
//! runs here, so the endpoint plays one and records what it received.

use std::path::Path;

use serde_json::{json, Value};
use stormdesk_engine::{Engine, EngineOptions, Execution, RunRequest, Status};

use crate::common::*;
use crate::st2::packs_root;
use crate::wsman::{Endpoint, Invocation, Reply, Seen};

const USER: &str = "Administrator";
const PASSWORD: &str = "Winrm-engine-s3cret";

/// A tiny "Windows host": `ipconfig /all`, `hostname`, PowerShell's
/// `Get-Item Env:NAME | ConvertTo-Json ...` from the shell's environment,
/// and the uptime script of StackStorm's examples.
fn host(inv: &Invocation) -> Reply {
    if let Some(ps) = &inv.powershell {
        if let Some(rest) = ps.strip_prefix("Get-Item Env:") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            return match inv.env.iter().find(|(k, _)| k == name) {
                Some((_, v)) => Reply::out(
                    &json!({"Key": name, "Value": v, "Name": name}).to_string(),
                    0,
                ),
                None => Reply {
                    chunks: vec![(String::new(), format!("Cannot find path 'Env:{name}'"))],
                    exit_code: 1,
                    hang: false,
                },
            };
        }
        if ps.contains("function Get-Uptime") {
            return Reply::out("Uptime: 3 days, 4 hours, 5 minutes\r\n", 0);
        }
        return Reply::out("", 0);
    }
    match inv.command.as_str() {
        "ipconfig /all" => Reply::out(
            "Windows IP Configuration\r\n\r\n   Host Name . : WIN01\r\n",
            0,
        ),
        "hostname" => Reply::out("WIN01\r\n", 0),
        _ => Reply {
            chunks: vec![(String::new(), "not recognized\r\n".into())],
            exit_code: 1,
            hang: false,
        },
    }
}

fn connection(endpoint: &Endpoint, password: &str) -> serde_json::Map<String, Value> {
    params(&[
        ("host", json!("127.0.0.1")),
        ("port", json!(endpoint.port)),
        ("scheme", json!("http")),
        ("transport", json!("basic")),
        ("username", json!(USER)),
        ("password", json!(password)),
    ])
}

async fn run(
    engine: &Engine,
    action: &str,
    mut parameters: serde_json::Map<String, Value>,
    endpoint: &Endpoint,
) -> Execution {
    parameters.extend(connection(endpoint, PASSWORD));
    let started = engine
        .run(RunRequest::new(action, parameters))
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    finished(engine, &started.id).await
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // The Python environments hold nothing of a run.
                if path
                    .file_name()
                    .is_some_and(|n| n != "virtualenvs" && n != "cache")
                {
                    stack.push(path);
                }
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn core_winrm_cmd_runs_with_stackstorms_result_and_the_password_kept_secret() {
    let f = Fixture::new();
    let engine = f.engine().await;
    let endpoint = Endpoint::start(USER, PASSWORD, host);
    let done = run(
        &engine,
        "core.winrm_cmd",
        params(&[("cmd", json!("ipconfig /all"))]),
        &endpoint,
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result,
        json!({"failed": false, "succeeded": true, "return_code": 0,
               "stdout": "Windows IP Configuration\r\n\r\n   Host Name . : WIN01\r\n",
               "stderr": ""})
    );
    assert_eq!(done.runner.name, "winrm-cmd");
    // StackStorm's runner defaults filled in, the secret masked.
    assert_eq!(done.parameters["password"], json!("********"));
    assert_eq!(done.parameters["transport"], json!("basic"));
    assert_eq!(done.parameters["timeout"], json!(60));
    assert_eq!(done.parameters["verify_ssl_cert"], json!(true));
    let output: String = engine
        .output(&done.id, None)
        .await
        .unwrap()
        .iter()
        .map(|c| c.data.clone())
        .collect();
    assert_eq!(
        output,
        "Windows IP Configuration\r\n\r\n   Host Name . : WIN01\r\n"
    );
    let seen = endpoint.seen();
    assert!(
        matches!(&seen[0], Seen::Create { codepage: Some(c), .. } if c == "65001"),
        "{seen:?}"
    );
    assert!(matches!(seen.last(), Some(Seen::Delete { .. })), "{seen:?}");

    // The password reached the host (Basic auth accepted) and nothing else:
    // not the store, not the logs, not the spool.
    engine.shutdown();
    let leaked = files_containing(f.home.path(), PASSWORD);
    assert!(leaked.is_empty(), "the WinRM password is in {leaked:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_and_a_wrong_password_fail_as_stackstorm_reports_them() {
    let f = Fixture::new();
    let engine = f.engine().await;
    let endpoint = Endpoint::start(USER, PASSWORD, host);
    let done = run(
        &engine,
        "core.winrm_cmd",
        params(&[("cmd", json!("nosuch.exe"))]),
        &endpoint,
    )
    .await;
    assert_eq!(done.status, Status::Failed);
    assert_eq!(
        done.result,
        json!({"failed": true, "succeeded": false, "return_code": 1,
               "stdout": "", "stderr": "not recognized\r\n"})
    );

    let mut p = params(&[("cmd", json!("hostname"))]);
    p.extend(connection(&endpoint, "wrong-password"));
    let started = engine
        .run(RunRequest::new("core.winrm_cmd", p))
        .await
        .unwrap();
    let done = finished(&engine, &started.id).await;
    assert_eq!(done.status, Status::Failed);
    let error = done.result["error"].as_str().unwrap_or_default();
    assert!(error.contains("WinRM on 127.0.0.1"), "{error}");
    assert!(
        error.contains("rejected the credentials of user 'Administrator'"),
        "{error}"
    );
    assert!(!done.result.to_string().contains("wrong-password"));
}

/// StackStorm's `examples` pack's WinRM actions, unmodified: the immutable
/// `ipconfig /all`, a PowerShell command whose `env` has a templated key,
/// and a `.ps1` entry point sent as `powershell -encodedcommand`.
#[tokio::test(flavor = "multi_thread")]
async fn stackstorms_example_winrm_actions_run_unmodified() {
    let Some(root) = packs_root() else { return };
    let home = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions {
        home: Some(home.path().to_path_buf()),
        pack_dirs: vec![root.clone()],
        runner_bin: Some(runner_bin()),
        callback_attempts: Some(2),
        pyenv: pyenv_options(),
        ..Default::default()
    })
    .await
    .unwrap();
    let endpoint = Endpoint::start(USER, PASSWORD, host);

    let done = run(
        &engine,
        "examples.winrm_get_ipconfig",
        params(&[]),
        &endpoint,
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(endpoint.invocations()[0].command, "ipconfig /all");

    let done = run(
        &engine,
        "examples.winrm_powershell_env",
        params(&[]),
        &endpoint,
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let inv = endpoint.invocations().pop().unwrap();
    assert_eq!(
        inv.powershell.as_deref(),
        Some("Get-Item Env:ST2_WINRM_ENV_TEST | ConvertTo-Json -Depth 1 -Compress")
    );
    assert_eq!(
        inv.env,
        [(
            "ST2_WINRM_ENV_TEST".to_string(),
            "This is a test".to_string()
        )]
    );
    // JSON stdout becomes an object, as the action's description promises.
    assert_eq!(done.result["stdout"]["Value"], json!("This is a test"));

    let done = run(&engine, "examples.winrm_get_uptime", params(&[]), &endpoint).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(
        done.result["stdout"],
        json!("Uptime: 3 days, 4 hours, 5 minutes\r\n")
    );
    let script =
        std::fs::read_to_string(root.join("examples/actions/windows/get_uptime.ps1")).unwrap();
    let inv = endpoint.invocations().pop().unwrap();
    assert_eq!(inv.powershell.as_deref(), Some(script.as_str()));

    let done = run(
        &engine,
        "core.winrm_ps_cmd",
        params(&[("cmd", json!("Get-Item Env:NOPE | ConvertTo-Json"))]),
        &endpoint,
    )
    .await;
    assert_eq!(done.status, Status::Failed);
    assert_eq!(done.result["stderr"], json!("Cannot find path 'Env:NOPE'"));
    assert_eq!(done.result["return_code"], json!(1));
}
