//! StackStorm's Windows runners over WinRM (`contrib/runners/winrm_runner/`):
//! `winrm-cmd` (a Command Prompt command), `winrm-ps-cmd` (a PowerShell
//! command) and `winrm-ps-script` (the action's `.ps1` with its parameters as
//! PowerShell arguments), on one `host`.
//!
//! The WS-Management client is `pywinrm` (0.5.0, StackStorm's pin), driven
//! by `driver.py` as StackStorm's `winrm_base.py` drives it: the shell with
//! `cwd`, `env` and the UTF-8 codepage, `powershell -encodedcommand` with the
//! script in base64 UTF-16LE, `& {script} params`, an uploaded temporary
//! script when the command line would pass 8191 characters, the receive loop
//! that gives up after `timeout` seconds. The interpreter is the request's
//! `python` (the engine hands over its base Python environment, which carries
//! pywinrm), else `STORMDESK_PYTHON`, else `python3`. The password goes to the
//! driver on stdin, never in argv or the environment, and is masked in
//! everything the runner reports.
//!
//! Result (StackStorm's `_translate_response`, the per-host shape of the
//! remote runners): `{failed, succeeded, return_code, stdout, stderr}`, stdout
//! and stderr parsed when they are JSON; status `succeeded` for exit code 0,
//! `timeout` (return code -1, the output so far) when the command outlived
//! `timeout`, else `failed`. A host that cannot be reached or refuses the
//! credentials fails the run with `{"error": ...}` naming the host and URL,
//! as StackStorm reports a runner exception.

#![cfg_attr(
    not(all(
        feature = "winrm-cmd",
        feature = "winrm-ps-cmd",
        feature = "winrm-ps-script"
    )),
    allow(dead_code)
)]

use std::ffi::OsString;
use std::fs;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::mask::Secrets;
use crate::params::{invalid_parameter, Params};
use crate::protocol::{RunnerRequest, RunnerStatus, Stream};
use crate::scratch::{private_dir, ScratchFile};
use crate::shell::{json_or_string, run_process, Group, ProcessSpec};
use crate::{CancelHandle, RunError, RunEvent, RunOutcome};

/// The driver, run with `python -I -u -c`.
const DRIVER: &str = include_str!("driver.py");
/// The interpreter when the request names none (as for `python-script`).
const PYTHON_ENV_VAR: &str = "STORMDESK_PYTHON";

/// StackStorm's defaults (`winrm_base.py`).
const DEFAULT_TIMEOUT: u64 = 60;
const DEFAULT_PORT: u64 = 5986;
const HTTP_PORT: u64 = 5985;
const DEFAULT_SCHEME: &str = "https";
const DEFAULT_TRANSPORT: &str = "ntlm";
const DEFAULT_KWARG_OP: &str = "-";
/// `transport` values StackStorm's runner.yaml allows.
const TRANSPORTS: &[&str] = &[
    "basic",
    "certificate",
    "credssp",
    "kerberos",
    "ntlm",
    "plaintext",
    "ssl",
];

/// What the driver is asked to run.
enum Job {
    Cmd(String),
    Ps {
        script: String,
        positional: Vec<String>,
        named: Vec<(String, Value)>,
    },
}

pub(crate) fn run_cmd(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let (params, cmd) = Params::for_command(req)?;
    run(req, &params, Job::Cmd(cmd.to_string()), on_event, cancel)
}

pub(crate) fn run_ps_cmd(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let (params, cmd) = Params::for_command(req)?;
    let job = Job::Ps {
        script: cmd.to_string(),
        positional: Vec::new(),
        named: Vec::new(),
    };
    run(req, &params, job, on_event, cancel)
}

/// StackStorm's `WinRmPsScriptRunner`: the script's text, positional
/// parameters serialised as for the shell script runners (ordered by
/// `position`), the others as `{kwarg_op}{name}` with their JSON value, which
/// the driver turns into PowerShell literals.
#[cfg(feature = "winrm-ps-script")]
pub(crate) fn run_ps_script(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let path = crate::entry_point(req)?;
    let params = Params::new(req);
    let script = fs::read_to_string(path).map_err(|source| RunError::ReadEntryPoint {
        action_ref: req.action_ref.clone(),
        path: path.to_path_buf(),
        hint: "a winrm-ps-script entry point must be a readable UTF-8 PowerShell script",
        source,
    })?;
    let kwarg_op = params.string("kwarg_op")?.unwrap_or(DEFAULT_KWARG_OP);
    let mut positional: Vec<_> = req
        .action_parameters
        .iter()
        .filter(|p| p.position.is_some())
        .collect();
    positional.sort_by_key(|p| p.position);
    let job = Job::Ps {
        script,
        positional: positional
            .into_iter()
            .map(|p| crate::args::positional_value(&p.value))
            .collect(),
        named: req
            .action_parameters
            .iter()
            .filter(|p| p.position.is_none())
            .map(|p| (format!("{kwarg_op}{}", p.name), p.value.clone()))
            .collect(),
    };
    run(req, &params, job, on_event, cancel)
}

/// The connection, as StackStorm's `WinRmBaseRunner.pre_run` reads it.
struct Connection {
    host: String,
    url: String,
    username: String,
    password: String,
    transport: String,
    verify_ssl: bool,
    /// Whole seconds, >= 1 (pywinrm's operation timeout).
    timeout: u64,
}

impl Connection {
    fn from_params(req: &RunnerRequest, params: &Params<'_>) -> Result<Self, RunError> {
        let required = |name: &'static str| -> Result<String, RunError> {
            params.string(name)?.map(str::to_string).ok_or_else(|| {
                RunError::MissingRunnerParameter {
                    action_ref: req.action_ref.clone(),
                    name,
                }
            })
        };
        let host = required("host")?;
        if host.trim().is_empty() {
            return Err(params.invalid("host", "a host name or address", &json!(host)));
        }
        let username = required("username")?;
        let password = required("password")?;
        let port = match params.get("port") {
            None => DEFAULT_PORT,
            Some(v) => v
                .as_u64()
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| params.invalid("port", "a TCP port (1-65535)", v))?,
        };
        let mut scheme = params.string("scheme")?.unwrap_or(DEFAULT_SCHEME);
        if !matches!(scheme, "http" | "https") {
            return Err(params.invalid("scheme", "\"http\" or \"https\"", &json!(scheme)));
        }
        // StackStorm: the HTTP port always means the http scheme.
        if port == HTTP_PORT {
            scheme = "http";
        }
        let transport = params.string("transport")?.unwrap_or(DEFAULT_TRANSPORT);
        if !TRANSPORTS.contains(&transport) {
            return Err(params.invalid(
                "transport",
                "one of basic, certificate, credssp, kerberos, ntlm, plaintext, ssl",
                &json!(transport),
            ));
        }
        let timeout = match params.get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(v) => v.as_u64().filter(|t| *t >= 1).ok_or_else(|| {
                invalid_parameter(
                    &req.action_ref,
                    "timeout",
                    "a whole number of seconds >= 1 (pywinrm's operation timeout)",
                    v.to_string(),
                )
            })?,
        };
        Ok(Connection {
            url: format!("{scheme}://{host}:{port}/wsman"),
            host,
            username,
            password,
            transport: transport.to_string(),
            verify_ssl: params.bool("verify_ssl_cert", true)?,
            timeout,
        })
    }
}

/// What the driver writes to its result file.
#[derive(Deserialize)]
#[serde(untagged)]
enum DriverOutcome {
    Done {
        stdout: String,
        stderr: String,
        return_code: i64,
        timeout: bool,
    },
    Error {
        error: String,
    },
}

fn run(
    req: &RunnerRequest,
    params: &Params<'_>,
    job: Job,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let conn = Connection::from_params(req, params)?;
    let cwd = params
        .string("cwd")?
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let env: Map<String, Value> = params
        .env()?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let secrets =
        Secrets::new(std::iter::once(conn.password.clone()).chain(req.secrets.iter().cloned()));

    let dir = private_dir().map_err(|(path, source)| RunError::PythonWrapper { path, source })?;
    let result_file = ScratchFile::create(&dir, "winrm-result", b"", 0o600).map_err(|source| {
        RunError::PythonWrapper {
            path: dir.clone(),
            source,
        }
    })?;

    let mut input = json!({
        "host": conn.host,
        "url": conn.url,
        "username": conn.username,
        "password": conn.password,
        "transport": conn.transport,
        "server_cert_validation": if conn.verify_ssl { "validate" } else { "ignore" },
        "timeout": conn.timeout,
        // StackStorm: read_timeout must be > operation_timeout.
        "read_timeout": conn.timeout + 1,
        "cwd": cwd,
        "env": env,
        "result_file": result_file.path,
    });
    let is_ps = matches!(job, Job::Ps { .. });
    match job {
        Job::Cmd(command) => {
            input["kind"] = json!("cmd");
            input["command"] = json!(command);
        }
        Job::Ps {
            script,
            positional,
            named,
        } => {
            input["kind"] = json!("ps");
            input["script"] = json!(script);
            input["positional"] = json!(positional);
            input["named"] = Value::Array(
                named
                    .into_iter()
                    .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
                    .collect(),
            );
        }
    }
    let mut stdin = serde_json::to_vec(&input).expect("a JSON value always serialises");
    stdin.push(b'\n');

    let python = match &req.python {
        Some(p) => p.clone().into_os_string(),
        None => std::env::var_os(PYTHON_ENV_VAR).unwrap_or_else(|| OsString::from("python3")),
    };
    let spec = ProcessSpec {
        program: python.clone(),
        args: vec!["-I".into(), "-u".into(), "-c".into(), DRIVER.into()],
        env: Vec::new(),
        env_remove: Vec::new(),
        cwd: None,
        stdin: Some(stdin),
        keep_stdin_open: false,
        group: Group::Own,
        timeout: Some(backstop(conn.timeout)),
    };
    let out = run_process(
        spec,
        &mut |event| match event {
            RunEvent::Output { stream, data } => {
                let data = secrets.mask_str(data);
                on_event(RunEvent::Output {
                    stream,
                    data: &data,
                })
            }
            started => on_event(started),
        },
        cancel,
    )
    .map_err(|source| RunError::Spawn {
        action_ref: req.action_ref.clone(),
        program: python.to_string_lossy().into_owned(),
        hint: format!(
            "the WinRM runners drive pywinrm with Python 3; install it or point \
             {PYTHON_ENV_VAR} at a Python 3 with pywinrm==0.5.0"
        ),
        source,
    })?;

    let written = fs::read_to_string(&result_file.path).unwrap_or_default();
    drop(result_file);
    let outcome = serde_json::from_str::<DriverOutcome>(&written).ok();
    let (status, result) = if out.canceled {
        let mut result = host_result(-1, &out.stdout, &out.stderr);
        result.insert("error".into(), "canceled".into());
        (RunnerStatus::Canceled, result)
    } else {
        match outcome {
            Some(DriverOutcome::Done {
                stdout,
                stderr,
                return_code,
                timeout,
            }) => {
                if is_ps && !stderr.is_empty() {
                    // The live view gets PowerShell's stderr once cleaned.
                    on_event(RunEvent::Output {
                        stream: Stream::Stderr,
                        data: &secrets.mask_str(&stderr),
                    });
                }
                let status = if timeout {
                    RunnerStatus::Timeout
                } else if return_code == 0 {
                    RunnerStatus::Succeeded
                } else {
                    RunnerStatus::Failed
                };
                (status, host_result(return_code, &stdout, &stderr))
            }
            Some(DriverOutcome::Error { error }) => {
                let mut result = Map::new();
                result.insert("error".into(), error.into());
                (RunnerStatus::Failed, result)
            }
            None if out.timed_out => {
                let mut result = host_result(-1, &out.stdout, &out.stderr);
                result.insert(
                    "error".into(),
                    format!(
                        "the WinRM session with {} ({}) did not end within {} seconds of its \
                         {} second timeout and was stopped",
                        conn.host,
                        conn.url,
                        backstop(conn.timeout).as_secs() - conn.timeout,
                        conn.timeout
                    )
                    .into(),
                );
                (RunnerStatus::Timeout, result)
            }
            None => {
                let mut result = Map::new();
                result.insert(
                    "error".into(),
                    format!(
                        "the WinRM driver ({}) exited with code {} without a result: {}",
                        python.to_string_lossy(),
                        out.exit_code,
                        out.stderr.trim_end()
                    )
                    .into(),
                );
                (RunnerStatus::Failed, result)
            }
        }
    };
    let mut value = Value::Object(result);
    secrets.mask_value(&mut value);
    Ok(RunOutcome {
        status,
        result: value,
        pid: Some(out.pid),
    })
}

/// StackStorm's result object (`_translate_response`): a timeout's -1 is not
/// 0, so it is a failure too.
fn host_result(return_code: i64, stdout: &str, stderr: &str) -> Map<String, Value> {
    let succeeded = return_code == 0;
    let mut result = Map::new();
    result.insert("failed".into(), (!succeeded).into());
    result.insert("succeeded".into(), succeeded.into());
    result.insert("return_code".into(), return_code.into());
    result.insert("stdout".into(), json_or_string(stdout));
    result.insert("stderr".into(), json_or_string(stderr));
    result
}

/// When the runner stops a driver that outlived its own timeout handling:
/// every WS-Management call may take `timeout + 1` seconds (the read
/// timeout), and a run makes a handful of them besides the receive loop.
fn backstop(timeout: u64) -> Duration {
    Duration::from_secs(timeout.saturating_mul(8).saturating_add(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_follow_translate_response() {
        let r = host_result(0, "{\"a\": 1}", "");
        assert_eq!(
            Value::Object(r),
            json!({"failed": false, "succeeded": true, "return_code": 0,
                   "stdout": {"a": 1}, "stderr": ""})
        );
        let r = host_result(-1, "partial", "");
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["return_code"], json!(-1));
    }

    #[test]
    fn backstop_leaves_room_for_every_call() {
        assert_eq!(backstop(60), Duration::from_secs(510));
        assert!(backstop(1) > Duration::from_secs(2 * 2));
    }
}
