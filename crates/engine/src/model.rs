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

/// One execution as stored and shown. Parameters have secrets masked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Execution {
    pub id: String,
    /// Action ref, `pack.name`.
    pub action: String,
    pub runner: String,
    pub parameters: Map<String, Value>,
    pub status: Status,
    pub start_timestamp: String,
    #[serde(default)]
    pub end_timestamp: Option<String>,
    #[serde(default)]
    pub elapsed_seconds: Option<f64>,
    #[serde(default)]
    pub result: Value,
    /// The revision asked for (tag, branch, commit), if any.
    #[serde(default)]
    pub content_version: Option<String>,
    /// The commit the run used, when the pack is a git repository.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub children: Vec<String>,
    /// user, task name, route, item index, runner pid.
    #[serde(default)]
    pub context: Map<String, Value>,
    #[serde(default)]
    pub log: Vec<StatusLogEntry>,
}

/// What a face asks the engine to run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRequest {
    pub action: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub content_version: Option<String>,
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
    /// Only top-level executions (no parent).
    #[serde(default)]
    pub roots_only: bool,
    /// Runs asked at this revision (`content_version`).
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
    /// At most this many (default 100), newest first, after skipping `offset`.
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
}

/// What the engine publishes on its bus. Faces map these to Tauri events or SSE.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Execution {
        execution: Box<Execution>,
    },
    Output {
        execution_id: String,
        chunk: OutputChunk,
    },
}

impl Event {
    pub fn execution_id(&self) -> &str {
        match self {
            Event::Execution { execution } => &execution.id,
            Event::Output { execution_id, .. } => execution_id,
        }
    }

    /// SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Execution { .. } => "execution",
            Event::Output { .. } => "output",
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
