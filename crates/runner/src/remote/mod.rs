//! StackStorm's remote runners over the system OpenSSH client:
//! `remote-shell-cmd` (a command line) and `remote-shell-script` (the
//! action's script, copied to each host, run with its arguments, removed).
//!
//! Each host gets its own `ssh` child; up to `concurrency` run at once. The
//! result is `{"<host>": {succeeded, failed, return_code, stdout, stderr}}`
//! (shell post-processing as in the local runners); a host that could not be
//! reached or authenticated, or that timed out, has StackStorm's error entry
//! (`failed`, `timeout`, `return_code` 255 or -9, `error`). The run fails if
//! any host failed (StackStorm's `ssh_runner.allow_partial_failure`, here the
//! environment variable [`ALLOW_PARTIAL_FAILURE_ENV`], relaxes that to "any
//! host succeeded") and is `timeout` only when every host timed out.
//!
//! Output streams live, one line at a time, prefixed with the host:
//! `[web1] text`.
//!
//! Process tree: a small placeholder process leads a process group that every
//! ssh child joins; its pid is the run's reported pid, so the engine's kill of
//! the action's group takes all ssh children with it. A timeout or cancel
//! kills the ssh children; the remote wrapper (see `wrapper.rs`) then ends the
//! remote command and removes the copied script.

#![cfg_attr(
    not(all(feature = "remote-shell-cmd", feature = "remote-shell-script")),
    allow(dead_code)
)]

mod ssh;
mod wrapper;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;

use serde_json::{Map, Value};

use crate::mask::Secrets;
use crate::params::{pack_name, Params, Timeout};
use crate::protocol::{RunnerRequest, RunnerStatus, Stream};
use crate::shell::{
    json_or_string, run_process, strip_shell_chars, Group, ProcessOutput, ProcessSpec,
};
use crate::{CancelHandle, RunError, RunEvent, RunOutcome};

use ssh::{explain_failure, Host, Ssh};
use wrapper::{Action, Wrapper, MARKER};

pub use ssh::{CONNECT_TIMEOUT_ENV, SSH_CONFIG_ENV, SSH_PROGRAM_ENV};

/// StackStorm's default `timeout` for the remote runners, in seconds.
const DEFAULT_TIMEOUT: u64 = 60;
const DEFAULT_KWARG_OP: &str = "--";
/// Default of the runner parameter `concurrency`: ssh sessions at once.
pub const MAX_PARALLEL_ENV: &str = "STORMDESK_SSH_MAX_PARALLEL";
const DEFAULT_MAX_PARALLEL: usize = 20;
/// `1`/`true`: the run succeeds when any host succeeded (StackStorm's
/// `ssh_runner.allow_partial_failure` setting).
pub const ALLOW_PARTIAL_FAILURE_ENV: &str = "STORMDESK_SSH_ALLOW_PARTIAL_FAILURE";
/// Exit code of ssh's own failures, which StackStorm also reports.
const SSH_FAILED: i32 = 255;

pub(crate) fn run_cmd(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    if let Some(entry_point) = &req.entry_point {
        return Err(RunError::entry_point_not_allowed(req, entry_point));
    }
    let (params, cmd) = Params::for_command(req)?;
    run(req, &params, Job::Cmd(cmd), on_event, cancel)
}

#[cfg(feature = "remote-shell-script")]
pub(crate) fn run_script(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    use crate::args::script_args;

    let script = crate::entry_point(req)?;
    let params = Params::new(req);
    let content = std::fs::read(script).map_err(|source| RunError::RemoteScratch {
        path: script.to_path_buf(),
        source,
    })?;
    let kwarg_op = params.string("kwarg_op")?.unwrap_or(DEFAULT_KWARG_OP);
    let args = script_args(&req.action_parameters, kwarg_op)
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let dir = params
        .string("dir")?
        .filter(|d| !d.is_empty())
        .unwrap_or("/tmp")
        .trim_end_matches('/')
        .to_string();
    let name = script
        .file_name()
        .map(|n| sanitize(&n.to_string_lossy()))
        .unwrap_or_else(|| "script".into());
    let job = Job::Script {
        content,
        args,
        dir,
        name,
    };
    run(req, &params, job, on_event, cancel)
}

enum Job<'a> {
    Cmd(&'a str),
    Script {
        content: Vec<u8>,
        args: Vec<String>,
        dir: String,
        name: String,
    },
}

/// How one host's session ended, for the overall status.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostState {
    Succeeded,
    Failed,
    TimedOut,
    Canceled,
}

enum Msg {
    Output(Stream, String),
    Done(usize, Value, HostState),
}

struct Settings<'a> {
    req: &'a RunnerRequest,
    ssh: Ssh,
    job: Job<'a>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    sudo: bool,
    sudo_password: Option<String>,
    timeout: Timeout,
    leader: u32,
}

fn run(
    req: &RunnerRequest,
    params: &Params<'_>,
    job: Job<'_>,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let hosts = parse_hosts(req, params)?;
    let timeout = params.timeout(DEFAULT_TIMEOUT)?;
    let ssh = Ssh::from_params(req, params, timeout.limit.map(|d| d.as_secs_f64()))?;
    let mut env = params.env()?;
    if let Some((bad, _)) = env.iter().find(|(k, _)| !is_env_name(k)) {
        return Err(params.invalid(
            "env",
            "an object whose keys are environment variable names",
            &Value::String(bad.clone()),
        ));
    }
    // StackStorm's action variables, less the API URL and token: the URL is
    // this machine's loopback listener, useless on a remote host, and the
    // token has no business there.
    env.push((
        "ST2_ACTION_PACK_NAME".into(),
        pack_name(&req.action_ref).into(),
    ));
    env.push(("ST2_ACTION_EXECUTION_ID".into(), req.execution_id.clone()));
    let cwd = params
        .string("cwd")?
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let sudo = params.bool("sudo", false)?;
    let sudo_password = params
        .string("sudo_password")?
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    // `parallel` is immutable in StackStorm's runner.yaml and its runner
    // always fans out; `concurrency: 1` runs the hosts one after another.
    let concurrency = concurrency(params)?.min(hosts.len()).max(1);
    // Secrets of this runner never leave it, whatever the engine asked to mask.
    let secrets = Secrets::new(
        ["password", "passphrase", "private_key", "sudo_password"]
            .into_iter()
            .filter_map(|name| params.get(name).and_then(Value::as_str))
            .map(str::to_string),
    );

    let leader = GroupLeader::start().map_err(|source| RunError::Spawn {
        action_ref: req.action_ref.clone(),
        program: "cat".into(),
        hint: "the remote runners start `cat` as the leader of their ssh processes' group; \
               check PATH"
            .into(),
        source,
    })?;
    on_event(RunEvent::Started { pid: leader.pid() });

    let settings = Settings {
        req,
        ssh,
        job,
        env,
        cwd,
        sudo,
        sudo_password,
        timeout,
        leader: leader.pid(),
    };
    let mut results: Vec<Option<(Value, HostState)>> = vec![None; hosts.len()];
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Msg>();
    thread::scope(|scope| {
        for _ in 0..concurrency {
            let tx = tx.clone();
            let (hosts, next, settings) = (&hosts, &next, &settings);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(host) = hosts.get(i) else { break };
                let (value, state) = if cancel.is_canceled() {
                    canceled_entry()
                } else {
                    run_host(host, i, settings, cancel, &tx)
                };
                if tx.send(Msg::Done(i, value, state)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for msg in rx.iter() {
            match msg {
                Msg::Output(stream, line) => {
                    let line = secrets.mask_str(&line);
                    on_event(RunEvent::Output {
                        stream,
                        data: &line,
                    });
                }
                Msg::Done(i, value, state) => results[i] = Some((value, state)),
            }
        }
    });
    drop(leader);

    let mut result = Map::new();
    let mut states = Vec::new();
    for (host, entry) in hosts.iter().zip(results) {
        let (mut value, state) = entry.unwrap_or_else(canceled_entry);
        secrets.mask_value(&mut value);
        result.insert(host.label.clone(), value);
        states.push(state);
    }
    Ok(RunOutcome {
        status: overall_status(&states, allow_partial_failure()),
        result: Value::Object(result),
        pid: Some(settings.leader),
    })
}

fn parse_hosts(req: &RunnerRequest, params: &Params<'_>) -> Result<Vec<Host>, RunError> {
    let raw = params
        .string("hosts")?
        .ok_or_else(|| RunError::MissingRunnerParameter {
            action_ref: req.action_ref.clone(),
            name: "hosts",
        })?;
    let mut hosts = Vec::new();
    for part in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let host = Host::parse(part).ok_or_else(|| {
            params.invalid(
                "hosts",
                "comma-separated hosts (host, host:port or [v6]:port)",
                &Value::String(raw.to_string()),
            )
        })?;
        // StackStorm's result is keyed by host, so a repeated host runs once.
        if !hosts.iter().any(|h: &Host| h.label == host.label) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return Err(params.invalid(
            "hosts",
            "at least one host",
            &Value::String(raw.to_string()),
        ));
    }
    Ok(hosts)
}

fn concurrency(params: &Params<'_>) -> Result<usize, RunError> {
    match params.get("concurrency") {
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| params.invalid("concurrency", "a number of sessions >= 1", v)),
        None => Ok(std::env::var(MAX_PARALLEL_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_PARALLEL)),
    }
}

fn allow_partial_failure() -> bool {
    std::env::var(ALLOW_PARTIAL_FAILURE_ENV)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// StackStorm's `_get_result_status`, plus cancel.
fn overall_status(states: &[HostState], allow_partial_failure: bool) -> RunnerStatus {
    if states.contains(&HostState::Canceled) {
        return RunnerStatus::Canceled;
    }
    let succeeded = |s: &HostState| *s == HostState::Succeeded;
    let success = if allow_partial_failure {
        states.iter().any(succeeded)
    } else {
        states.iter().all(succeeded)
    };
    if success {
        RunnerStatus::Succeeded
    } else if states.iter().all(|s| *s == HostState::TimedOut) {
        RunnerStatus::Timeout
    } else {
        RunnerStatus::Failed
    }
}

fn run_host(
    host: &Host,
    index: usize,
    settings: &Settings<'_>,
    cancel: &CancelHandle,
    tx: &Sender<Msg>,
) -> (Value, HostState) {
    let mut stdin = Vec::new();
    let script_path;
    let action = match &settings.job {
        Job::Cmd(cmd) => Action::Cmd(cmd),
        Job::Script {
            content,
            args,
            dir,
            name,
        } => {
            script_path = format!(
                "{dir}/stormdesk-{}-{}-{index}-{name}",
                sanitize(&settings.req.execution_id),
                crate::scratch::unique()
            );
            stdin.extend_from_slice(content);
            Action::Script {
                path: &script_path,
                len: content.len(),
                args,
            }
        }
    };
    if let (true, Some(password)) = (settings.sudo, &settings.sudo_password) {
        stdin.extend_from_slice(password.as_bytes());
        stdin.push(b'\n');
    }
    let wrapper = Wrapper {
        action,
        cwd: settings.cwd.as_deref(),
        env: &settings.env,
        sudo: settings.sudo,
        sudo_password: settings.sudo && settings.sudo_password.is_some(),
    };
    let spec = ProcessSpec {
        program: settings.ssh.program.clone(),
        args: settings.ssh.argv(host, &wrapper.command_line()),
        env: settings.ssh.env.clone(),
        env_remove: Vec::new(),
        cwd: None,
        stdin: Some(stdin),
        keep_stdin_open: true,
        group: Group::Join(settings.leader),
        timeout: settings.timeout.limit,
    };
    let mut lines = HostLines::new(&host.label, tx.clone());
    let out = run_process(
        spec,
        &mut |event| {
            if let RunEvent::Output { stream, data } = event {
                lines.push(stream, data);
            }
        },
        cancel,
    );
    lines.finish();
    match out {
        Ok(out) => host_result(host, out, settings),
        Err(e) => error_entry(
            SSH_FAILED,
            String::new(),
            String::new(),
            format!(
                "could not start `{}` for {}: {e}; install the OpenSSH client or point {} at it",
                settings.ssh.program.to_string_lossy(),
                host.label,
                SSH_PROGRAM_ENV
            ),
            false,
        ),
    }
}

fn host_result(host: &Host, out: ProcessOutput, settings: &Settings<'_>) -> (Value, HostState) {
    let (stderr, started) = strip_marker(&out.stderr);
    if out.canceled {
        let (value, state) = canceled_entry();
        let mut value = value;
        value["stdout"] = json_or_string(strip_shell_chars(&out.stdout));
        value["stderr"] = json_or_string(strip_shell_chars(&stderr));
        return (value, state);
    }
    if out.timed_out {
        // StackStorm's SSHCommandTimeoutError entry: SIGKILL's -9.
        return error_entry(
            -9,
            out.stdout,
            stderr,
            format!("{} on {}", settings.timeout.error_message(), host.label),
            true,
        );
    }
    if out.exit_code == SSH_FAILED && !started {
        let address = settings.ssh.resolved_address(host);
        let message = explain_failure(host, address.as_deref(), &stderr);
        return error_entry(SSH_FAILED, out.stdout, stderr, message, false);
    }
    let succeeded = out.exit_code == 0;
    let mut result = Map::new();
    result.insert("failed".into(), (!succeeded).into());
    result.insert("succeeded".into(), succeeded.into());
    result.insert("return_code".into(), out.exit_code.into());
    result.insert(
        "stdout".into(),
        json_or_string(strip_shell_chars(&out.stdout)),
    );
    result.insert("stderr".into(), json_or_string(strip_shell_chars(&stderr)));
    let state = if succeeded {
        HostState::Succeeded
    } else {
        HostState::Failed
    };
    (Value::Object(result), state)
}

/// StackStorm's per-host error entry (`_generate_error_result`).
fn error_entry(
    return_code: i32,
    stdout: String,
    stderr: String,
    error: String,
    timeout: bool,
) -> (Value, HostState) {
    let mut result = Map::new();
    result.insert("failed".into(), true.into());
    result.insert("succeeded".into(), false.into());
    result.insert("timeout".into(), timeout.into());
    result.insert("return_code".into(), return_code.into());
    result.insert("stdout".into(), json_or_string(strip_shell_chars(&stdout)));
    result.insert("stderr".into(), json_or_string(strip_shell_chars(&stderr)));
    result.insert("error".into(), error.into());
    let state = if timeout {
        HostState::TimedOut
    } else {
        HostState::Failed
    };
    (Value::Object(result), state)
}

fn canceled_entry() -> (Value, HostState) {
    let (value, _) = error_entry(-15, String::new(), String::new(), "canceled".into(), false);
    (value, HostState::Canceled)
}

/// Removes the wrapper's marker line; whether it was there.
fn strip_marker(stderr: &str) -> (String, bool) {
    let line = format!("{MARKER}\n");
    match stderr.find(&line) {
        Some(at) if at == 0 || stderr[..at].ends_with('\n') => {
            let mut s = stderr[..at].to_string();
            s.push_str(&stderr[at + line.len()..]);
            (s, true)
        }
        _ => (stderr.to_string(), false),
    }
}

/// Splits one host's output into lines and sends each as `[host] line`.
struct HostLines {
    prefix: String,
    tx: Sender<Msg>,
    stdout: String,
    stderr: String,
    marker_seen: bool,
}

impl HostLines {
    fn new(label: &str, tx: Sender<Msg>) -> Self {
        HostLines {
            prefix: format!("[{label}] "),
            tx,
            stdout: String::new(),
            stderr: String::new(),
            marker_seen: false,
        }
    }

    fn push(&mut self, stream: Stream, data: &str) {
        let buf = match stream {
            Stream::Stderr => &mut self.stderr,
            _ => &mut self.stdout,
        };
        buf.push_str(data);
        let Some(end) = buf.rfind('\n') else { return };
        let complete: String = buf.drain(..=end).collect();
        let mut out = String::new();
        for line in complete.split_inclusive('\n') {
            if stream == Stream::Stderr && !self.marker_seen && line.trim_end() == MARKER {
                self.marker_seen = true;
                continue;
            }
            out.push_str(&self.prefix);
            out.push_str(line);
        }
        if !out.is_empty() {
            let _ = self.tx.send(Msg::Output(stream, out));
        }
    }

    /// Sends what is left without a final newline, with one.
    fn finish(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = match stream {
                Stream::Stderr => std::mem::take(&mut self.stderr),
                _ => std::mem::take(&mut self.stdout),
            };
            if !rest.is_empty() {
                let line = format!("{}{rest}\n", self.prefix);
                let _ = self.tx.send(Msg::Output(stream, line));
            }
        }
    }
}

/// Leads the process group of the run's ssh children; `cat` on a pipe we
/// hold, so it also ends by itself if the runner dies.
struct GroupLeader {
    child: Child,
}

impl GroupLeader {
    fn start() -> std::io::Result<Self> {
        let mut cmd = Command::new("cat");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        Ok(GroupLeader {
            child: cmd.spawn()?,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for GroupLeader {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A file-name-safe version of `s`.
fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_stackstorm() {
        use HostState::*;
        assert_eq!(
            overall_status(&[Succeeded, Succeeded], false),
            RunnerStatus::Succeeded
        );
        assert_eq!(
            overall_status(&[Succeeded, Failed], false),
            RunnerStatus::Failed
        );
        assert_eq!(
            overall_status(&[Succeeded, Failed], true),
            RunnerStatus::Succeeded
        );
        assert_eq!(
            overall_status(&[TimedOut, TimedOut], false),
            RunnerStatus::Timeout
        );
        assert_eq!(
            overall_status(&[TimedOut, Failed], false),
            RunnerStatus::Failed
        );
        assert_eq!(
            overall_status(&[Succeeded, Canceled], false),
            RunnerStatus::Canceled
        );
    }

    #[test]
    fn marker_is_stripped_once() {
        let m = MARKER;
        assert_eq!(strip_marker(&format!("{m}\nerr\n")), ("err\n".into(), true));
        assert_eq!(
            strip_marker(&format!("warn\n{m}\n")),
            ("warn\n".into(), true)
        );
        assert_eq!(
            strip_marker("Permission denied\n"),
            ("Permission denied\n".into(), false)
        );
    }

    #[test]
    fn lines_are_prefixed() {
        let (tx, rx) = mpsc::channel();
        let mut lines = HostLines::new("web1", tx);
        lines.push(Stream::Stderr, &format!("{MARKER}\nerr"));
        lines.push(Stream::Stdout, "a\nb");
        lines.push(Stream::Stdout, "c\n");
        lines.push(Stream::Stderr, "or\n");
        lines.push(Stream::Stdout, "tail");
        lines.finish();
        let got: Vec<(Stream, String)> = rx
            .try_iter()
            .map(|m| match m {
                Msg::Output(s, l) => (s, l),
                Msg::Done(..) => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Stream::Stdout, "[web1] a\n".into()),
                (Stream::Stdout, "[web1] bc\n".into()),
                (Stream::Stderr, "[web1] error\n".into()),
                (Stream::Stdout, "[web1] tail\n".into()),
            ]
        );
    }
}
