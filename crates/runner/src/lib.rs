//! StackStorm-compatible action runners, usable as a plain library and as the
//! `stormdesk-runner` process that the engine starts for every action.
//!
//! What it is:
//! - [`run`] / [`run_with_events`]: run one [`RunnerRequest`] to completion in the
//!   calling thread, streaming output to a callback, and return StackStorm's
//!   status and result object for that runner type (`local-shell-cmd`,
//!   `local-shell-script`, `python-script`, `noop`, `http-request`,
//!   `remote-shell-cmd`, `remote-shell-script`, `winrm-cmd`, `winrm-ps-cmd`,
//!   `winrm-ps-script`, each behind a cargo feature).
//! - [`CancelHandle`]: cancel a run from another thread; the action's whole
//!   process group is terminated (SIGTERM, then SIGKILL after a short grace).
//! - [`protocol`]: the wire types between the engine and the runner process,
//!   [`callback`]: delivery of updates to the engine's callback listener, and
//!   [`spool`]: the atomic fallback file when the listener cannot be reached.
//!
//! What it is not: it does not resolve packs, render parameters, validate
//! schemas or store anything. The engine hands over a fully prepared request;
//! this crate never imports the engine and has no async runtime.
//!
//! Every process the runners start gets StackStorm's action environment
//! (`ST2_ACTION_PACK_NAME`, `ST2_ACTION_EXECUTION_ID`, and with a callback
//! `ST2_ACTION_API_URL` = `{callback.url}/v1` and `ST2_ACTION_AUTH_TOKEN` =
//! the per-execution token) on top of the runner's own environment and the
//! `env` runner parameter. `python-script` runs the request's `python` (the
//! pack's environment, chosen by the engine), else the interpreter named by
//! `STORMDESK_PYTHON`, else `python3`.
//!
//! The remote runners run the system `ssh` (or `STORMDESK_SSH`), so the
//! user's ssh config, agent and known_hosts apply. `STORMDESK_SSH_CONFIG` (or
//! the runner parameter `ssh_config`) replaces `~/.ssh/config` (`ssh -F`),
//! `STORMDESK_SSH_MAX_PARALLEL` is the default of `concurrency` (20),
//! `STORMDESK_SSH_CONNECT_TIMEOUT` bounds connecting (10 s), and
//! `STORMDESK_SSH_ALLOW_PARTIAL_FAILURE=1` is StackStorm's
//! `ssh_runner.allow_partial_failure`. Remote hosts get
//! `ST2_ACTION_PACK_NAME` and `ST2_ACTION_EXECUTION_ID`, not the callback URL
//! and token, which are of no use there.
//!
//! The WinRM runners drive `pywinrm` (StackStorm's WS-Management client) in
//! a Python child process: the request's `python` (the engine gives its base
//! Python environment, which carries pywinrm 0.5.0), else `STORMDESK_PYTHON`,
//! else `python3`.

#[cfg(any(
    feature = "local-shell-cmd",
    feature = "local-shell-script",
    feature = "remote-shell-cmd",
    feature = "remote-shell-script",
    feature = "winrm-ps-script"
))]
mod args;
pub mod callback;
mod cancel;
pub mod cap;
pub mod depth;
mod error;
pub mod mask;
pub mod process;
pub mod protocol;
pub mod spool;

#[cfg(feature = "http-request")]
mod http;
#[cfg(any(feature = "local-shell-cmd", feature = "local-shell-script"))]
mod local_shell;
#[cfg(feature = "noop")]
mod noop;
mod params;
mod pyfmt;
#[cfg(feature = "python-script")]
mod python;
#[cfg(feature = "python-script")]
mod python_files;
#[cfg(any(feature = "remote-shell-cmd", feature = "remote-shell-script"))]
mod remote;
#[cfg(any(
    feature = "python-script",
    feature = "remote-shell-cmd",
    feature = "remote-shell-script",
    feature = "winrm-cmd",
    feature = "winrm-ps-cmd",
    feature = "winrm-ps-script"
))]
mod scratch;
#[cfg(any(
    feature = "local-shell-cmd",
    feature = "local-shell-script",
    feature = "python-script",
    feature = "remote-shell-cmd",
    feature = "remote-shell-script",
    feature = "winrm-cmd",
    feature = "winrm-ps-cmd",
    feature = "winrm-ps-script"
))]
mod shell;
#[cfg(any(
    feature = "winrm-cmd",
    feature = "winrm-ps-cmd",
    feature = "winrm-ps-script"
))]
mod winrm;

pub use cancel::CancelHandle;
pub use error::RunError;
#[cfg(feature = "python-script")]
pub use python::PYTHON_ENV_VAR;
#[cfg(any(feature = "remote-shell-cmd", feature = "remote-shell-script"))]
pub use remote::{
    ALLOW_PARTIAL_FAILURE_ENV, CONNECT_TIMEOUT_ENV, MAX_PARALLEL_ENV, SSH_CONFIG_ENV,
    SSH_PROGRAM_ENV,
};

use protocol::{RunnerRequest, RunnerStatus, Stream};
use serde_json::Value;

/// What happened while a run was under way, in order: at most one `Started`
/// (none for runners without a process), then any number of `Output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent<'a> {
    /// The action's process is running; `pid` is also its process group id.
    Started { pid: u32 },
    /// A piece of output as it arrived (not split on lines, not stripped).
    Output { stream: Stream, data: &'a str },
}

/// The final status and StackStorm result object of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// `succeeded`, `failed`, `timeout` or `canceled`.
    pub status: RunnerStatus,
    /// Exactly the result object StackStorm's runner of that type produces.
    pub result: Value,
    /// Pid (and process group id) of the action's process, if one was started.
    pub pid: Option<u32>,
}

/// A runner type this crate knows, and whether it was compiled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerType {
    pub name: &'static str,
    /// Cargo feature that compiles it in.
    pub feature: &'static str,
    pub compiled: bool,
    /// Older StackStorm names that still resolve to this runner.
    pub aliases: &'static [&'static str],
}

/// All runner types this crate implements, compiled in or not.
pub const RUNNER_TYPES: &[RunnerType] = &[
    RunnerType {
        name: "local-shell-cmd",
        feature: "local-shell-cmd",
        compiled: cfg!(feature = "local-shell-cmd"),
        aliases: &["run-local"],
    },
    RunnerType {
        name: "local-shell-script",
        feature: "local-shell-script",
        compiled: cfg!(feature = "local-shell-script"),
        aliases: &["run-local-script"],
    },
    RunnerType {
        name: "python-script",
        feature: "python-script",
        compiled: cfg!(feature = "python-script"),
        aliases: &["run-python"],
    },
    RunnerType {
        name: "noop",
        feature: "noop",
        compiled: cfg!(feature = "noop"),
        aliases: &[],
    },
    RunnerType {
        name: "http-request",
        feature: "http-request",
        compiled: cfg!(feature = "http-request"),
        aliases: &["http-runner"],
    },
    RunnerType {
        name: "remote-shell-cmd",
        feature: "remote-shell-cmd",
        compiled: cfg!(feature = "remote-shell-cmd"),
        aliases: &["run-remote"],
    },
    RunnerType {
        name: "remote-shell-script",
        feature: "remote-shell-script",
        compiled: cfg!(feature = "remote-shell-script"),
        aliases: &["run-remote-script"],
    },
    RunnerType {
        name: "winrm-cmd",
        feature: "winrm-cmd",
        compiled: cfg!(feature = "winrm-cmd"),
        aliases: &[],
    },
    RunnerType {
        name: "winrm-ps-cmd",
        feature: "winrm-ps-cmd",
        compiled: cfg!(feature = "winrm-ps-cmd"),
        aliases: &[],
    },
    RunnerType {
        name: "winrm-ps-script",
        feature: "winrm-ps-script",
        compiled: cfg!(feature = "winrm-ps-script"),
        aliases: &[],
    },
];

/// Looks up a runner type by its StackStorm name or alias.
pub fn runner_type(name: &str) -> Option<&'static RunnerType> {
    RUNNER_TYPES
        .iter()
        .find(|t| t.name == name || t.aliases.contains(&name))
}

/// Runs one action and streams its output to `sink`.
///
/// Returns `Err` only when the action could not be started at all (unknown
/// runner type, missing entry point, bad runner parameter, interpreter not
/// found); everything that happens once it runs is in the [`RunOutcome`].
pub fn run(
    req: &RunnerRequest,
    sink: &mut dyn FnMut(Stream, &str),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    run_with_events(
        req,
        &mut |event| {
            if let RunEvent::Output { stream, data } = event {
                sink(stream, data)
            }
        },
        cancel,
    )
}

/// Like [`run`], but also reports when the action's process has started and
/// with which pid (the runner process sends that as the `running` update).
pub fn run_with_events(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let Some(kind) = runner_type(&req.runner_type) else {
        return Err(RunError::UnknownRunnerType {
            runner_type: req.runner_type.clone(),
            action_ref: req.action_ref.clone(),
            supported: supported_names(),
        });
    };
    if !kind.compiled {
        return Err(RunError::RunnerNotCompiled {
            runner_type: req.runner_type.clone(),
            feature: kind.feature,
        });
    }
    match kind.name {
        #[cfg(feature = "local-shell-cmd")]
        "local-shell-cmd" => local_shell::run_cmd(req, on_event, cancel),
        #[cfg(feature = "local-shell-script")]
        "local-shell-script" => local_shell::run_script(req, on_event, cancel),
        #[cfg(feature = "python-script")]
        "python-script" => python::run(req, on_event, cancel),
        #[cfg(feature = "noop")]
        "noop" => Ok(noop::run()),
        #[cfg(feature = "http-request")]
        "http-request" => http::run(req, on_event, cancel),
        #[cfg(feature = "remote-shell-cmd")]
        "remote-shell-cmd" => remote::run_cmd(req, on_event, cancel),
        #[cfg(feature = "remote-shell-script")]
        "remote-shell-script" => remote::run_script(req, on_event, cancel),
        #[cfg(feature = "winrm-cmd")]
        "winrm-cmd" => winrm::run_cmd(req, on_event, cancel),
        #[cfg(feature = "winrm-ps-cmd")]
        "winrm-ps-cmd" => winrm::run_ps_cmd(req, on_event, cancel),
        #[cfg(feature = "winrm-ps-script")]
        "winrm-ps-script" => winrm::run_ps_script(req, on_event, cancel),
        other => {
            // Unreachable for a compiled-in runner (checked above); the arm
            // keeps the match total whichever features are off.
            let _ = (on_event, cancel);
            Err(RunError::RunnerNotCompiled {
                runner_type: other.to_string(),
                feature: kind.feature,
            })
        }
    }
}

fn supported_names() -> String {
    let names: Vec<&str> = RUNNER_TYPES
        .iter()
        .filter(|t| t.compiled)
        .map(|t| t.name)
        .collect();
    if names.is_empty() {
        "none (built without runner features)".to_string()
    } else {
        names.join(", ")
    }
}

/// The action's entry point, which must exist as a file.
#[cfg(any(
    feature = "local-shell-cmd",
    feature = "local-shell-script",
    feature = "python-script",
    feature = "remote-shell-script",
    feature = "winrm-ps-script"
))]
#[cfg_attr(
    not(any(
        feature = "local-shell-script",
        feature = "python-script",
        feature = "remote-shell-script",
        feature = "winrm-ps-script"
    )),
    allow(dead_code)
)]
pub(crate) fn entry_point(req: &RunnerRequest) -> Result<&std::path::Path, RunError> {
    let path = req
        .entry_point
        .as_deref()
        .ok_or_else(|| RunError::MissingEntryPoint {
            action_ref: req.action_ref.clone(),
            runner_type: req.runner_type.clone(),
        })?;
    if !path.is_file() {
        return Err(RunError::EntryPointNotFound {
            action_ref: req.action_ref.clone(),
            path: path.to_path_buf(),
        });
    }
    Ok(path)
}
