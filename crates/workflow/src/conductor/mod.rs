//! The conductor: a deterministic state machine that turns task results into
//! the next task requests. It performs no IO and reads no clock; delays are
//! data on the requests, and the whole state serialises with serde.
//!
//! Drive it like this: [`Conductor::new`], then [`Conductor::start`] and
//! launch the returned requests; feed each completion to
//! [`Conductor::on_task_result`] and launch what it returns; stop when
//! [`Conductor::status`] is completed (`succeeded`, `failed`, `canceled`).

mod advance;
mod launch;
mod state;

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{Env, NoKv};
use crate::graph::{Graph, Target};
use crate::inspect::{inspect_graph, InspectionError};
use crate::spec::{SpecError, WorkflowSpec};
use state::{Phase, State};

/// Identifies one action execution of a task: the task, the route (the
/// branch of a split it runs on) and, for with-items tasks, the item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub task: String,
    pub route: u32,
    pub item: Option<usize>,
}

/// An action execution the caller should launch.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TaskRequest {
    pub key: TaskKey,
    pub action: String,
    pub input: Map<String, Value>,
    /// Wait this long before launching (task `delay` or retry delay).
    pub delay_seconds: Option<f64>,
    /// 0 for the first try; retries count up.
    pub attempt: u32,
}

/// How an action execution ended.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TaskResult {
    pub key: TaskKey,
    pub status: TaskStatus,
    pub result: Value,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Succeeded,
    Failed,
    Timeout,
    Canceled,
    Abandoned,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    Running,
    Pausing,
    Paused,
    Canceling,
    Canceled,
    Succeeded,
    Failed,
}

impl WorkflowStatus {
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            WorkflowStatus::Canceled | WorkflowStatus::Succeeded | WorkflowStatus::Failed
        )
    }
}

/// One entry of the workflow's `errors`, shaped like Orquesta's.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ErrorEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_transition_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// A task of the graph, for display.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TaskNode {
    pub name: String,
    pub action: Option<String>,
    /// Tasks this one may transition to (engine commands left out).
    pub next: Vec<String>,
}

/// Why a workflow could not be created.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error("invalid workflow definition: {0}")]
    Spec(#[from] SpecError),
    #[error("the workflow definition has errors:\n{}", list(.0))]
    Inspection(Vec<InspectionError>),
    #[error("missing required input: {}", .0.join(", "))]
    MissingInput(Vec<String>),
    #[error("unknown input: {} (the workflow accepts: {})", .unknown.join(", "), if .accepted.is_empty() { "no input".to_string() } else { .accepted.join(", ") })]
    UnknownInput {
        unknown: Vec<String>,
        accepted: Vec<String>,
    },
}

fn list(errors: &[InspectionError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Conductor {
    spec: WorkflowSpec,
    graph: Graph,
    input: Map<String, Value>,
    state: State,
}

impl Conductor {
    /// Check the spec and the input. Defaults are applied when the workflow
    /// starts (they may be expressions over earlier inputs or `st2kv`).
    pub fn new(spec: WorkflowSpec, input: Map<String, Value>) -> Result<Conductor, WorkflowError> {
        let graph = Graph::new(&spec);
        inspect_graph(&spec, &graph).map_err(WorkflowError::Inspection)?;
        let missing: Vec<String> = spec
            .input
            .iter()
            .filter(|p| p.default.is_none() && !input.contains_key(&p.name))
            .map(|p| p.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(WorkflowError::MissingInput(missing));
        }
        let unknown: Vec<String> = input
            .keys()
            .filter(|k| !spec.input.iter().any(|p| &p.name == *k))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(WorkflowError::UnknownInput {
                unknown,
                accepted: spec.input.iter().map(|p| p.name.clone()).collect(),
            });
        }
        let state = State::new(spec.tasks.len());
        Ok(Conductor {
            spec,
            graph,
            input,
            state,
        })
    }

    /// Render input and vars and return the start tasks to launch.
    pub fn start(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        if self.state.phase != Phase::NotStarted {
            return Vec::new();
        }
        self.begin(env);
        self.pump(env)
    }

    /// Advance with a finished action execution; returns what to launch now.
    /// Results for executions that are not active are ignored.
    pub fn on_task_result(&mut self, result: TaskResult, env: &dyn Env) -> Vec<TaskRequest> {
        if !self.state.active.contains(&result.key) {
            return Vec::new();
        }
        self.accept(result, env);
        self.pump(env)
    }

    /// Launch nothing new; `pausing` until active tasks finish, then `paused`.
    pub fn request_pause(&mut self) {
        if matches!(self.state.phase, Phase::Running | Phase::NotStarted) {
            self.state.phase = Phase::Pausing;
            self.settle(&NoKv);
        }
    }

    /// Continue a paused (or pausing) workflow; returns the held-back requests.
    pub fn request_resume(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        if !matches!(self.state.phase, Phase::Pausing | Phase::Paused) {
            return Vec::new();
        }
        if self.state.contexts.is_empty() {
            // Paused before it started.
            self.state.phase = Phase::NotStarted;
            return self.start(env);
        }
        self.state.phase = Phase::Running;
        self.pump(env)
    }

    /// Launch nothing new; `canceling` until active tasks finish, then
    /// `canceled`. The output is rendered without a datastore ([`NoKv`]).
    pub fn request_cancel(&mut self) {
        if matches!(
            self.state.phase,
            Phase::NotStarted | Phase::Running | Phase::Pausing | Phase::Paused
        ) {
            self.state.phase = Phase::Canceling;
            self.settle(&NoKv);
        }
    }

    pub fn status(&self) -> WorkflowStatus {
        match self.state.phase {
            Phase::NotStarted | Phase::Running => WorkflowStatus::Running,
            Phase::Pausing => WorkflowStatus::Pausing,
            Phase::Paused => WorkflowStatus::Paused,
            Phase::Canceling => WorkflowStatus::Canceling,
            Phase::Canceled => WorkflowStatus::Canceled,
            Phase::Succeeded => WorkflowStatus::Succeeded,
            Phase::Failed => WorkflowStatus::Failed,
        }
    }

    /// Launched and not yet reported, in launch order.
    pub fn active_tasks(&self) -> Vec<TaskKey> {
        let mut keys: Vec<(usize, &TaskKey)> = self
            .state
            .active
            .iter()
            .map(|k| {
                let t = self.spec.tasks.get_index_of(&k.task).unwrap_or(usize::MAX);
                let inst = self
                    .state
                    .latest
                    .get(t)
                    .and_then(|m| m.get(&k.route))
                    .copied()
                    .unwrap_or(usize::MAX);
                (inst, k)
            })
            .collect();
        keys.sort_by_key(|(inst, k)| (*inst, k.item));
        keys.into_iter().map(|(_, k)| k.clone()).collect()
    }

    /// `{"output": {...} | null, "errors": [...]}`. The output is rendered
    /// when the workflow completes, whatever its status.
    pub fn result(&self) -> Value {
        serde_json::json!({
            "output": self.state.output.clone().map(Value::Object).unwrap_or(Value::Null),
            "errors": self.state.errors,
        })
    }

    pub fn spec(&self) -> &WorkflowSpec {
        &self.spec
    }

    /// Tasks in definition order with the tasks they may lead to.
    pub fn graph(&self) -> Vec<TaskNode> {
        self.spec
            .tasks
            .iter()
            .enumerate()
            .map(|(t, (name, task))| {
                let mut next: IndexSet<&str> = IndexSet::new();
                for target in self.graph.targets[t].iter().flatten() {
                    if let Target::Task(n) = target {
                        next.insert(self.spec.tasks.get_index(*n).map_or("", |(k, _)| k));
                    }
                }
                TaskNode {
                    name: name.clone(),
                    action: task.action.clone(),
                    next: next.into_iter().map(String::from).collect(),
                }
            })
            .collect()
    }
}
