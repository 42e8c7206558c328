//! The Orquesta native workflow model (`version: 1.0`), normalised: every
//! short form of the YAML (inline `key=value` parameters, `do: a, b`,
//! `with: x in <% ... %>`, publish as a string, list or map) becomes one
//! shape here. Build it with [`WorkflowSpec::from_yaml`].

mod inline;
mod parse;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Words with a meaning in `do` that cannot name a task.
pub const ENGINE_COMMANDS: [&str; 4] = ["continue", "fail", "noop", "retry"];

pub fn is_engine_command(name: &str) -> bool {
    ENGINE_COMMANDS.contains(&name)
}

/// A spec that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Malformed YAML or a field of the wrong shape, with its position.
    #[error("line {line}, column {column}: {message}")]
    Yaml {
        message: String,
        line: usize,
        column: usize,
    },
    /// Well-formed YAML that is not a valid workflow; `path` names the task
    /// and field, e.g. `task "deploy" with`.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WorkflowSpec {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub input: Vec<InputParam>,
    #[serde(default)]
    pub vars: Vec<Assignment>,
    #[serde(default)]
    pub output: Vec<Assignment>,
    /// In definition order.
    pub tasks: IndexMap<String, TaskSpec>,
}

/// A workflow input; `default: None` means the caller must supply it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InputParam {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// `name: value` where the value may hold expressions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Assignment {
    pub name: String,
    pub value: Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct TaskSpec {
    /// Action reference without inline parameters (those are in `input`).
    /// `None` for a task that only evaluates its transitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default)]
    pub input: Map<String, Value>,
    #[serde(default)]
    pub next: Vec<Transition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Join>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<WithItems>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Seconds, a number or an expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Value>,
}

impl TaskSpec {
    /// Tasks completed inside the conductor: no action or `core.noop`.
    pub fn is_noop(&self) -> bool {
        matches!(self.action.as_deref(), None | Some("core.noop"))
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Join {
    All,
    Count(u32),
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WithItems {
    /// Expression producing the list (for several names, a list of rows).
    pub items: String,
    /// Names from `a, b in <% ... %>`; empty for plain items.
    #[serde(default)]
    pub vars: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Retry condition; default: the task failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// A number or an expression.
    pub count: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Transition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default)]
    pub publish: Vec<Assignment>,
    /// Task names and engine commands, in order.
    #[serde(rename = "do", default)]
    pub targets: Vec<String>,
}

impl WorkflowSpec {
    /// Parse an Orquesta native workflow definition.
    pub fn from_yaml(yaml: &str) -> Result<WorkflowSpec, SpecError> {
        parse::parse(yaml)
    }
}
