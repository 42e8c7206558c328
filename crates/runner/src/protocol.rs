//! Wire types shared by the engine and the `stormdesk-runner` process.
//!
//! The engine writes one [`RunnerRequest`] as a single JSON line on the runner
//! process's stdin. Any later line `cancel` on stdin asks the runner to cancel.
//! The runner reports to the engine's callback listener:
//! - `POST {url}/runner/v1/executions/{id}/output` with an [`OutputBatch`],
//! - `PUT {url}/runner/v1/executions/{id}` with an [`ExecutionUpdate`]
//!   (first `running` with the child pid, unless the action ended within
//!   20 ms; last the final status and result, with the pid),
//!
//! each with `Authorization: Bearer {token}` (the per-execution callback
//! token). These routes are the runner's own, apart from the public
//! StackStorm API under `/v1`. When the listener cannot be
//! reached after retries, the runner writes a [`SpoolRecord`] atomically to
//! `{spool_dir}/{execution_id}.json` and the engine reconciles it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything a runner needs to run one action. Parameters are already
/// validated and rendered by the engine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunnerRequest {
    pub execution_id: String,
    /// StackStorm runner type, e.g. `local-shell-cmd`, `python-script`.
    pub runner_type: String,
    /// `pack.action`
    pub action_ref: String,
    /// Runner parameters (cmd, cwd, env, timeout, kwarg_op, sudo, log_level, ...).
    #[serde(default)]
    pub runner_parameters: Map<String, Value>,
    /// Action parameters (everything that is not a runner parameter).
    #[serde(default)]
    pub action_parameters: Vec<ActionArg>,
    /// Absolute path of the entry point (script or Python module), if any.
    #[serde(default)]
    pub entry_point: Option<PathBuf>,
    /// Root of the pack (at the chosen revision); its `lib/` goes on `sys.path`.
    #[serde(default)]
    pub pack_dir: Option<PathBuf>,
    /// The pack config (`self.config` for Python actions).
    #[serde(default)]
    pub pack_config: Value,
    /// The interpreter of `python-script` actions: `bin/python` of the pack's
    /// Python environment at this revision (its `bin/` also goes first on
    /// `PATH`). `None`: `STORMDESK_PYTHON`, else `python3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// Where to report; `None` runs without reporting (library use, tests).
    #[serde(default)]
    pub callback: Option<Callback>,
    /// Where to spool undeliverable updates.
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// Values of secret parameters: the runner process masks them in every
    /// output chunk and result it reports or spools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// The StackStorm API as the action sees it (`ST2_ACTION_API_URL`,
    /// `ST2_ACTION_AUTH_TOKEN`); `None` when the engine offers none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiAccess>,
    /// Bytes of output this execution keeps (all streams together); beyond
    /// it output is dropped with a note and long result strings are cut
    /// (see [`crate::cap`]). `None`: [`crate::cap::DEFAULT_MAX_OUTPUT_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<u64>,
}

/// What an action needs to call the engine's StackStorm API while it runs:
/// StackStorm gives each Python action `ST2_ACTION_API_URL` and
/// `ST2_ACTION_AUTH_TOKEN` (`st2common/runners/base.py`,
/// `get_action_execution_env`); `st2client.client.Client()` and
/// `self.action_service` use them.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiAccess {
    /// Base of the v1 API, e.g. `http://127.0.0.1:41234/v1` (`ST2_ACTION_API_URL`).
    pub url: String,
    /// A token the API accepts as `X-Auth-Token` while this execution runs,
    /// for executions, keys and actions only (`ST2_ACTION_AUTH_TOKEN`).
    pub token: String,
}

impl std::fmt::Debug for ApiAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAccess")
            .field("url", &self.url)
            .field("token", &"********")
            .finish()
    }
}

/// One action parameter as passed to a runner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionArg {
    pub name: String,
    pub value: Value,
    /// StackStorm `position`: positional argument index for script runners.
    #[serde(default)]
    pub position: Option<u32>,
}

/// The callback listener of the engine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Callback {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Per-execution bearer token.
    pub token: String,
    /// Delivery attempts for each message before giving up (then spool).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First retry delay in milliseconds; doubles each attempt.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Where the engine advertises its listener (`{"url": ...}`): when the
    /// listener cannot be reached, the runner reads it again, so a result
    /// reaches an engine restarted on another port.
    #[serde(default)]
    pub discover: Option<std::path::PathBuf>,
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff_ms() -> u64 {
    50
}

/// Output stream of a chunk.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
    Other,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::Other => "other",
        }
    }
}

/// One piece of live output. `seq` is per execution, from 0, gap-free.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputChunk {
    pub seq: u64,
    pub stream: Stream,
    pub data: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputBatch {
    pub chunks: Vec<OutputChunk>,
}

/// Statuses a runner can report. The engine owns the rest of the
/// StackStorm status set.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunnerStatus {
    Running,
    Succeeded,
    Failed,
    Timeout,
    Canceled,
}

impl RunnerStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, RunnerStatus::Running)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RunnerStatus::Running => "running",
            RunnerStatus::Succeeded => "succeeded",
            RunnerStatus::Failed => "failed",
            RunnerStatus::Timeout => "timeout",
            RunnerStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecutionUpdate {
    pub status: RunnerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Pid (and process group id) of the action's child process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// What the runner could not deliver, written atomically to the spool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpoolRecord {
    pub execution_id: String,
    pub chunks: Vec<OutputChunk>,
    pub update: ExecutionUpdate,
}
