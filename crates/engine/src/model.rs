//! Execution records, statuses and engine events (StackStorm's names).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use stormdesk_runner::protocol::{OutputChunk, Stream};

/// StackStorm's execution statuses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Requested,
    Scheduled,
    Delayed,
    Running,
    Succeeded,
    Failed,
    Timeout,
    Abandoned,
    Canceling,
    Canceled,
    Pausing,
    Paused,
    Resuming,
    Pending,
}

impl Status {
    pub const ALL: [Status; 14] = [
        Status::Requested,
        Status::Scheduled,
        Status::Delayed,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Timeout,
        Status::Abandoned,
        Status::Canceling,
        Status::Canceled,
        Status::Pausing,
        Status::Paused,
        Status::Resuming,
        Status::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Scheduled => "scheduled",
            Status::Delayed => "delayed",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Abandoned => "abandoned",
            Status::Canceling => "canceling",
            Status::Canceled => "canceled",
            Status::Pausing => "pausing",
            Status::Paused => "paused",
            Status::Resuming => "resuming",
            Status::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Completed = succeeded, failed, timeout, canceled, abandoned.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            Status::Succeeded
                | Status::Failed
                | Status::Timeout
                | Status::Canceled
                | Status::Abandoned
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<stormdesk_runner::protocol::RunnerStatus> for Status {
    fn from(s: stormdesk_runner::protocol::RunnerStatus) -> Self {
        use stormdesk_runner::protocol::RunnerStatus as R;
        match s {
            R::Running => Status::Running,
            R::Succeeded => Status::Succeeded,
            R::Failed => Status::Failed,
            R::Timeout => Status::Timeout,
            R::Canceled => Status::Canceled,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusLogEntry {
    pub status: Status,
    pub timestamp: String,
}

/// The action an execution ran, as StackStorm embeds it in an execution
/// (`ActionAPI`, `st2common/models/api/action.py`): enough to show and re-run
/// it without the catalogue. The parameter schema is left out; ask
/// `/v1/actions/{ref}` for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ExecutionAction {
    /// A stable id derived from the ref ([`resource_id`]).
    #[serde(default)]
    pub id: String,
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub ref_: String,
    /// `action:<pack>:<name>`.
    #[serde(default)]
    pub uid: String,
    pub name: String,
    pub pack: String,
    pub runner_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Relative to the pack's `actions/` directory; empty for none (as StackStorm).
    #[serde(default)]
    pub entry_point: String,
}

/// The runner type of an execution (StackStorm's `RunnerTypeAPI`, without
/// its parameter schema: `/v1/runnertypes/{name}` has it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ExecutionRunner {
    #[serde(default)]
    pub id: String,
    /// `runner_type:<name>`.
    #[serde(default)]
    pub uid: String,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub runner_module: String,
}

fn yes() -> bool {
    true
}

/// A stable 24-hex-digit id (the width of StackStorm's Mongo ids) for a
/// resource Stormdesk keys by name: the start of `sha256("<kind>:<name>")`.
pub fn resource_id(kind: &str, name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{kind}:{name}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

impl ExecutionAction {
    /// The embedded record of `pack.name` run by `runner_type`.
    pub fn new(ref_: &str, runner_type: &str) -> ExecutionAction {
        let (pack, name) = ref_.split_once('.').unwrap_or(("", ref_));
        ExecutionAction {
            id: resource_id("action", ref_),
            ref_: ref_.to_string(),
            uid: format!("action:{pack}:{name}"),
            name: name.to_string(),
            pack: pack.to_string(),
            runner_type: runner_type.to_string(),
            description: None,
            enabled: true,
            entry_point: String::new(),
        }
    }
}

impl ExecutionRunner {
    pub fn new(name: &str) -> ExecutionRunner {
        ExecutionRunner {
            id: resource_id("runner_type", name),
            uid: format!("runner_type:{name}"),
            name: name.to_string(),
            enabled: true,
            runner_module: name.to_string(),
        }
    }
}

/// One execution as stored, published and served: StackStorm's
/// `ActionExecutionAPI` (`st2common/models/api/execution.py`, the
/// `Execution` schema of its `openapi.yaml`). Parameters and results have
/// secrets masked.
///
/// Stormdesk's own facts live where that shape has room for them:
/// `parameters.content_version` (the revision asked for, a runner parameter
/// in StackStorm too) and `context.commit` (the commit it resolved to).
/// Workflow tasks carry StackStorm's `context.orquesta` (`task_name`,
/// `task_id`, `task_route`, `item_id`, `workflow_execution_id`, plus
/// `attempt`) and `context.parent` (`execution_id`, `user`, `pack`, and the
/// parent's own `parent`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Execution {
    pub id: String,
    pub action: ExecutionAction,
    pub runner: ExecutionRunner,
    /// StackStorm keeps a separate live action; here it is the execution itself.
    #[serde(default)]
    pub liveaction_id: String,
    pub status: Status,
    /// RFC 3339 UTC with microseconds, `Z`.
    pub start_timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
    /// The console's page of this execution, when a console serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// `user`, `pack`, `orquesta`, `parent`, `commit`, runner and action pids.
    #[serde(default)]
    pub context: Map<String, Value>,
    /// Absent until the execution completes.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub result: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub children: Vec<String>,
    #[serde(default)]
    pub log: Vec<StatusLogEntry>,
}

impl Execution {
    /// `pack.name` of the action.
    pub fn action_ref(&self) -> &str {
        &self.action.ref_
    }

    /// The runner type's name (`orquesta` for workflows).
    pub fn runner_name(&self) -> &str {
        &self.runner.name
    }

    /// The revision asked for (tag, branch or commit), if any.
    pub fn content_version(&self) -> Option<&str> {
        self.parameters
            .get("content_version")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The commit the run used, when its pack is a git repository.
    pub fn commit(&self) -> Option<&str> {
        self.context.get("commit").and_then(Value::as_str)
    }

    /// Who ran it (`context.user`).
    pub fn user(&self) -> Option<&str> {
        self.context.get("user").and_then(Value::as_str)
    }

    /// The workflow task this execution runs for (`context.orquesta.task_name`).
    pub fn task_name(&self) -> Option<&str> {
        self.context.get("orquesta")?.get("task_name")?.as_str()
    }
}

/// One piece of an execution's output as the API and the event stream show
/// it: StackStorm's `ActionExecutionOutputAPI`, plus `seq`, the chunk's
/// gap-free position from 0 (Stormdesk's, for resuming and ordering).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExecutionOutput {
    pub execution_id: String,
    pub action_ref: String,
    pub runner_ref: String,
    /// RFC 3339 UTC.
    pub timestamp: String,
    /// `stdout`, `stderr` or `output`.
    pub output_type: String,
    pub data: String,
    pub seq: u64,
}

impl ExecutionOutput {
    pub fn new(execution: &Execution, chunk: &OutputChunk) -> ExecutionOutput {
        ExecutionOutput::from_parts(
            &execution.id,
            execution.action_ref(),
            execution.runner_name(),
            chunk,
        )
    }

    pub fn from_parts(id: &str, action: &str, runner: &str, chunk: &OutputChunk) -> Self {
        ExecutionOutput {
            execution_id: id.to_string(),
            action_ref: action.to_string(),
            runner_ref: runner.to_string(),
            timestamp: chunk.timestamp.clone(),
            output_type: output_type(chunk.stream).to_string(),
            data: chunk.data.clone(),
            seq: chunk.seq,
        }
    }
}

/// StackStorm's `output_type` for a stream (`output` for anything else).
pub fn output_type(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
        Stream::Other => "output",
    }
}

/// What a face asks the engine to run: StackStorm's `ExecutionRequest`
/// (`action`, `parameters`, `context`, `user`), and Stormdesk's
/// `content_version` (also accepted as `parameters.content_version`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRequest {
    pub action: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// Merged into the execution's context (e.g. StackStorm's `trace_context`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Who the execution runs as (`context.user`); the caller's user when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl RunRequest {
    pub fn new(action: impl Into<String>, parameters: Map<String, Value>) -> RunRequest {
        RunRequest {
            action: action.into(),
            parameters,
            ..Default::default()
        }
    }
}

/// Sort order of a listing, by start time.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Newest first (StackStorm's default, `-start_timestamp`).
    #[default]
    Desc,
    Asc,
}

/// Filters for listing executions; all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecutionFilter {
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub pack: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    /// Only top-level executions (no parent; StackStorm's `parent=null`).
    #[serde(default)]
    pub roots_only: bool,
    /// Who ran them (`context.user`).
    #[serde(default)]
    pub user: Option<String>,
    /// Runs asked at this revision (`parameters.content_version`).
    #[serde(default)]
    pub content_version: Option<String>,
    /// Started at or after / before this RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    /// Text anywhere in the record: action, parameters (secrets are stored
    /// masked), result, context.
    #[serde(default)]
    pub q: Option<String>,
    /// At most this many (default 100), after skipping `offset`.
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
    /// Newest first unless `Asc` (records are kept in the order they started).
    #[serde(default)]
    pub order: SortOrder,
    /// Leave results out (`result` absent): a listing stays fast however
    /// large each result is.
    #[serde(default)]
    pub exclude_result: bool,
}

/// What the engine publishes on its bus. Faces map these to Tauri events or
/// SSE (StackStorm's `st2.execution__create`, `st2.execution__update`,
/// `st2.execution.output__create`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Execution {
        execution: Box<Execution>,
        /// First publication of this execution.
        #[serde(default)]
        created: bool,
    },
    Output {
        output: ExecutionOutput,
    },
    /// An `announcement` action broadcast a message (StackStorm's
    /// `st2.announcement__<route>` stream event).
    Announcement {
        /// The routing key (the runner parameter `route`, default `general`).
        route: String,
        /// What StackStorm publishes: `{"payload": <action parameters>,
        /// "trace_context": <the execution's trace context or null>}`.
        body: Value,
        /// The execution that announced it.
        execution_id: String,
    },
}

impl Event {
    pub fn execution_id(&self) -> &str {
        match self {
            Event::Execution { execution, .. } => &execution.id,
            Event::Output { output } => &output.execution_id,
            Event::Announcement { execution_id, .. } => execution_id,
        }
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// StackStorm ids are 24 hex digits (a Mongo ObjectId): 4 bytes of time then randomness.
pub fn new_execution_id() -> String {
    use rand::RngCore;
    let secs = chrono::Utc::now().timestamp() as u32;
    let mut rest = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut rest);
    let mut id = format!("{secs:08x}");
    for b in rest {
        id.push_str(&format!("{b:02x}"));
    }
    id
}
