//! Failures that stop an action before it runs. Once the action's process is
//! started, every outcome (non-zero exit, timeout, cancel) is a result, not an
//! error.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "action `{action_ref}` uses runner type `{runner_type}`, which stormdesk-runner does not \
         implement; supported runner types: {supported}"
    )]
    UnknownRunnerType {
        runner_type: String,
        action_ref: String,
        supported: String,
    },

    #[error(
        "runner type `{runner_type}` is not compiled into this stormdesk-runner; rebuild it with \
         the cargo feature `{feature}` enabled"
    )]
    RunnerNotCompiled {
        runner_type: String,
        feature: &'static str,
    },

    #[error(
        "action `{action_ref}` (runner `{runner_type}`) has no entry_point; set `entry_point` in \
         the action metadata"
    )]
    MissingEntryPoint {
        action_ref: String,
        runner_type: String,
    },

    #[error(
        "entry point `{}` of action `{action_ref}` does not exist; check `entry_point` in the \
         action metadata and that the pack revision contains the file",
        path.display()
    )]
    EntryPointNotFound { action_ref: String, path: PathBuf },

    /// StackStorm's command runners refuse an action with an entry point
    /// (`local_runner/local_shell_command_runner.py`,
    /// `remote_runner/remote_command_runner.py`); the message starts with
    /// StackStorm's ([`RunError::entry_point_not_allowed`]).
    #[error(
        "{stackstorm} (action `{action_ref}`, runner `{runner_type}`, entry_point \
         `{entry_point}`): StackStorm refuses to run it too; remove `entry_point` and give `cmd`, \
         or use runner_type `{script_runner}`"
    )]
    EntryPointNotAllowed {
        action_ref: String,
        runner_type: String,
        entry_point: String,
        /// StackStorm's own message.
        stackstorm: String,
        script_runner: &'static str,
    },

    #[error(
        "action `{action_ref}` has no runner parameter `{name}`; give it a value in the action \
         metadata or in the run's parameters"
    )]
    MissingRunnerParameter {
        action_ref: String,
        name: &'static str,
    },

    #[error(
        "runner parameter `{name}` of action `{action_ref}` must be {expected}, got `{got}`; fix \
         the value in the action metadata or in the run's parameters"
    )]
    InvalidRunnerParameter {
        action_ref: String,
        name: &'static str,
        expected: &'static str,
        got: String,
    },

    #[error("runner parameter `{name}` of action `{action_ref}` cannot be used: {reason}")]
    UnsupportedRunnerParameter {
        action_ref: String,
        name: &'static str,
        reason: &'static str,
    },

    #[error(
        "could not prepare `{}` for the remote runner: {source}; check that the temp directory \
         is writable and owned by this user",
        path.display()
    )]
    RemoteScratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not start `{program}` for action `{action_ref}`: {source}; {hint}")]
    Spawn {
        action_ref: String,
        program: String,
        hint: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "could not read entry point `{}` of action `{action_ref}`: {source}; {hint}",
        path.display()
    )]
    ReadEntryPoint {
        action_ref: String,
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "could not prepare `{}` for the Python runner: {source}; check that the temp directory \
         is writable and owned by this user",
        path.display()
    )]
    PythonWrapper {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// The refusal of a command runner (`local-shell-cmd`, `remote-shell-cmd`)
    /// given an entry point, with StackStorm's message for that runner.
    pub(crate) fn entry_point_not_allowed(
        req: &crate::protocol::RunnerRequest,
        entry_point: &std::path::Path,
    ) -> RunError {
        let remote = req.runner_type.starts_with("remote");
        let name = req
            .action_ref
            .split_once('.')
            .map_or(req.action_ref.as_str(), |(_, n)| n);
        RunError::EntryPointNotAllowed {
            action_ref: req.action_ref.clone(),
            runner_type: req.runner_type.clone(),
            entry_point: entry_point.display().to_string(),
            stackstorm: if remote {
                format!(
                    "Action \"{name}\" specified \"entry_point\" attribute. Perhaps wanted to use \"remote-shell-script\" runner?"
                )
            } else {
                "entry_point is only valid for local-shell-script runner".to_string()
            },
            script_runner: if remote {
                "remote-shell-script"
            } else {
                "local-shell-script"
            },
        }
    }
}
