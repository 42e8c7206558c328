//! StackStorm's local runners: `local-shell-cmd` (a command line through
//! `bash -c`) and `local-shell-script` (the action's script with arguments
//! built from its parameters).

#![cfg_attr(
    not(all(feature = "local-shell-cmd", feature = "local-shell-script")),
    allow(dead_code)
)]

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::args::{script_args, shell_quote};
use crate::params::{st2_action_env, Params, Timeout};
use crate::protocol::{RunnerRequest, RunnerStatus};
use crate::shell::{
    json_or_string, run_process, strip_shell_chars, Group, ProcessOutput, ProcessSpec,
};
use crate::{CancelHandle, RunError, RunEvent, RunOutcome};

/// StackStorm's default `timeout` for the local runners, in seconds.
const DEFAULT_TIMEOUT: u64 = 60;
const DEFAULT_KWARG_OP: &str = "--";
/// The shell commands and shebang-less scripts run in. StackStorm's local
/// runner runs the action as its system user, `sudo -E -u stanley -- bash -c
/// CMD` (`st2common/models/system/action.py`, `ShellCommandAction`), so
/// content written for StackStorm may use bash syntax (`echo $[1+2]`).
const SHELL: &str = "bash";

pub(crate) fn run_cmd(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    if let Some(entry_point) = &req.entry_point {
        return Err(RunError::entry_point_not_allowed(req, entry_point));
    }
    let (params, cmd) = Params::for_command(req)?;
    // A command line that holds a secret would show it to every local user in
    // `ps`; it travels in the environment instead (readable by the same user
    // only) and bash evaluates it, dropping the variable first.
    let hidden = req
        .secrets
        .iter()
        .any(|s| s.len() >= 3 && cmd.contains(s.as_str()));
    let line: OsString = if hidden {
        HIDDEN_CMD_LINE.into()
    } else {
        cmd.into()
    };
    let argv = if params.bool("sudo", false)? {
        sudo_argv(line)
    } else {
        vec![SHELL.into(), "-c".into(), line]
    };
    let extra_env = if hidden {
        vec![(HIDDEN_CMD_VAR.to_string(), cmd.to_string())]
    } else {
        vec![]
    };
    run_argv(req, &params, argv, extra_env, on_event, cancel)
}

/// The variable a secret-bearing command line travels in.
const HIDDEN_CMD_VAR: &str = "STORMDESK_ACTION_CMD";
/// What `ps` shows instead of a command line that holds a secret.
const HIDDEN_CMD_LINE: &str =
    "__c=$STORMDESK_ACTION_CMD; unset STORMDESK_ACTION_CMD; eval \"$__c\"";

pub(crate) fn run_script(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let script = crate::entry_point(req)?;
    let params = Params::new(req);
    let kwarg_op = params.string("kwarg_op")?.unwrap_or(DEFAULT_KWARG_OP);
    let mut argv = script_invocation(script);
    argv.extend(script_args(&req.action_parameters, kwarg_op));
    if params.bool("sudo", false)? {
        let line = argv
            .iter()
            .map(|a| shell_quote(a.as_bytes()))
            .collect::<Vec<_>>()
            .join(" ");
        argv = sudo_argv(line.into());
    }
    run_argv(req, &params, argv, vec![], on_event, cancel)
}

/// `sudo -E -- bash -c COMMAND`, as StackStorm runs with `sudo: true`; `-E`
/// keeps the action's environment.
fn sudo_argv(command_line: OsString) -> Vec<OsString> {
    ["sudo", "-E", "--", "bash", "-c"]
        .into_iter()
        .map(OsString::from)
        .chain([command_line])
        .collect()
}

fn run_argv(
    req: &RunnerRequest,
    params: &Params<'_>,
    mut argv: Vec<OsString>,
    extra_env: Vec<(String, String)>,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let timeout = params.timeout(DEFAULT_TIMEOUT)?;
    let mut env = params.env()?;
    env.extend(st2_action_env(req));
    env.extend(extra_env);
    let program = argv.remove(0);
    let spec = ProcessSpec {
        program: program.clone(),
        args: argv,
        env,
        env_remove: Vec::new(),
        cwd: params.cwd()?,
        stdin: None,
        keep_stdin_open: false,
        group: Group::Own,
        timeout: timeout.limit,
    };
    let out = run_process(spec, on_event, cancel).map_err(|source| RunError::Spawn {
        action_ref: req.action_ref.clone(),
        program: program.to_string_lossy().into_owned(),
        hint: spawn_hint(&program, params).to_string(),
        source,
    })?;
    Ok(shell_outcome(out, &timeout))
}

fn spawn_hint(program: &OsString, params: &Params<'_>) -> &'static str {
    if program == "sudo" {
        "install sudo or set the runner parameter `sudo` to false"
    } else if params.get("cwd").is_some() {
        "check that the `cwd` directory exists and that the script is executable or starts \
         with a #! line"
    } else {
        "check that the script is executable or starts with a #! line"
    }
}

/// StackStorm's local runner result object and status.
fn shell_outcome(out: ProcessOutput, timeout: &Timeout) -> RunOutcome {
    let mut return_code = out.exit_code;
    let mut result = Map::new();
    if out.timed_out {
        // StackStorm reports a timeout as killed by SIGKILL, whatever signal
        // actually ended the process.
        return_code = -9;
        result.insert("error".into(), timeout.error_message().into());
    }
    let succeeded = return_code == 0;
    result.insert("failed".into(), (!succeeded).into());
    result.insert("succeeded".into(), succeeded.into());
    result.insert("return_code".into(), return_code.into());
    result.insert(
        "stdout".into(),
        json_or_string(strip_shell_chars(&out.stdout)),
    );
    result.insert(
        "stderr".into(),
        json_or_string(strip_shell_chars(&out.stderr)),
    );
    let status = if out.canceled {
        RunnerStatus::Canceled
    } else {
        // StackStorm's exit code map: 0 succeeded, -9 (SIGKILL) timeout,
        // everything else failed (-15 is "abandoned" there, a status the
        // engine owns, so it is a failure here).
        match return_code {
            0 => RunnerStatus::Succeeded,
            -9 => RunnerStatus::Timeout,
            _ => RunnerStatus::Failed,
        }
    };
    RunOutcome {
        status,
        result: Value::Object(result),
        pid: Some(out.pid),
    }
}

/// The command that runs `script` the way StackStorm's `chmod +x script;
/// script` would, without modifying the pack: directly when executable,
/// otherwise through its `#!` interpreter, and through bash when it has no
/// `#!` line (what StackStorm's `bash -c` does with an executable text file).
fn script_invocation(script: &Path) -> Vec<OsString> {
    let path = script.as_os_str().to_os_string();
    let executable = fs::metadata(script)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    let mut head = Vec::new();
    if let Ok(file) = fs::File::open(script) {
        let _ = file.take(1024).read_to_end(&mut head);
    }
    if let Some(line) = head.strip_prefix(b"#!") {
        if executable {
            return vec![path];
        }
        let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = line.trim_ascii();
        // Like the kernel: the interpreter, then the rest of the line as one
        // optional argument.
        let (interpreter, arg) = match line.iter().position(|b| b.is_ascii_whitespace()) {
            Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
            None => (line, None),
        };
        if interpreter.is_empty() {
            return vec![SHELL.into(), path];
        }
        let mut argv = vec![OsString::from_vec(interpreter.to_vec())];
        if let Some(arg) = arg.filter(|a| !a.is_empty()) {
            argv.push(OsString::from_vec(arg.to_vec()));
        }
        argv.push(path);
        return argv;
    }
    let binary = head.starts_with(b"\x7fELF") || head.contains(&0);
    if binary {
        vec![path]
    } else {
        vec![SHELL.into(), path]
    }
}
