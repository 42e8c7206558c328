//! The conductor: a deterministic state machine that turns task results into
//! the next task requests, following Orquesta's `WorkflowConductor`
//! (`orquesta/conducting.py`) driven the way StackStorm's workflow engine
//! drives it (`st2common/services/workflows.py`). It performs no IO and
//! reads no clock; delays are data on the requests, and the whole state
//! serialises with serde.
//!
//! Drive it like this: [`Conductor::new`] (or [`Conductor::with_context`]
//! with StackStorm's `st2` context), then [`Conductor::start`] and launch
//! the returned requests; feed each completion to
//! [`Conductor::on_task_result`] and launch what it returns; stop when
//! [`Conductor::status`] is completed and nothing you launched is still
//! running. [`Conductor::request_rerun`] re-runs a completed workflow from
//! chosen tasks.

mod active;
mod hold;
mod items;
mod machines;
mod next;
mod output;
mod records;
mod rerun;
mod state;
mod tables;
mod update;
mod view;
mod workflow;

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::expr::{Env, NoKv};
use crate::graph::Graph;
use crate::inspect::{inspect_with, InspectionError};
use crate::spec::{SpecError, WorkflowSpec};
use active::Active;
pub use hold::TaskHold;
use machines::St;
pub use rerun::{RerunError, RerunOptions};
use state::State;

/// Identifies one action execution of a task: the task, the route (the
/// branch of a split it runs on) and, for with-items tasks, the item.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub task: String,
    pub route: u32,
    pub item: Option<usize>,
}

/// An action execution the caller should launch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskRequest {
    pub key: TaskKey,
    /// The action reference (rendered, it may be an expression).
    pub action: String,
    pub input: Map<String, Value>,
    /// Wait this long before launching: the task `delay` (for with-items
    /// with a concurrency, the first batch only, as StackStorm does) or, on
    /// a retry, the retry delay.
    pub delay_seconds: Option<f64>,
    /// 0 for the first try; retries count up.
    pub attempt: u32,
    /// For a with-items task: how many items it has (consoles show "2 of 4").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_count: Option<usize>,
}

/// How an action execution ended.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TaskResult {
    pub key: TaskKey,
    pub status: TaskStatus,
    pub result: Value,
}

/// Final statuses of an action execution (StackStorm's names).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Succeeded,
    Failed,
    Timeout,
    Canceled,
    Abandoned,
}

impl TaskStatus {
    fn st(self) -> St {
        match self {
            TaskStatus::Succeeded => St::Succeeded,
            TaskStatus::Failed => St::Failed,
            TaskStatus::Timeout => St::Timeout,
            TaskStatus::Canceled => St::Canceled,
            TaskStatus::Abandoned => St::Abandoned,
        }
    }
}

/// The workflow's status (StackStorm's names, serde lowercase).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowStatus {
    Running,
    Pausing,
    Paused,
    Resuming,
    Canceling,
    Canceled,
    Succeeded,
    Failed,
}

impl WorkflowStatus {
    /// `succeeded`, `failed` or `canceled`.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            WorkflowStatus::Canceled | WorkflowStatus::Succeeded | WorkflowStatus::Failed
        )
    }
}

/// One entry of the workflow's `errors`, shaped like Orquesta's: keys that
/// do not apply are left out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ErrorEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<u32>,
    /// The transition that failed, `target__tKEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_transition_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl ErrorEntry {
    pub(crate) fn new(message: String) -> ErrorEntry {
        ErrorEntry {
            kind: "error".into(),
            message,
            task_id: None,
            route: None,
            task_transition_id: None,
            result: None,
        }
    }
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

/// One workflow execution being conducted: the spec, its graph, the input,
/// the caller's context and Orquesta's state. Serialise it after each call
/// to survive a restart (the encoding is deterministic).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Conductor {
    spec: WorkflowSpec,
    graph: Graph,
    input: Map<String, Value>,
    /// The parent context: StackStorm's `{"st2": {...}, "parent": {...}}`.
    #[serde(default)]
    context: Map<String, Value>,
    state: State,
    /// Requests handed out and not reported yet, in hand-out order.
    active: Active,
    /// Results of plain tasks are not kept once their transitions are
    /// evaluated; `task()` asks the [`Env`] for them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    results_elsewhere: bool,
}

impl Conductor {
    /// Check the spec and the input, with no parent context (a workflow
    /// reading `ctx().st2` is refused: use [`Conductor::with_context`]).
    pub fn new(spec: WorkflowSpec, input: Map<String, Value>) -> Result<Conductor, WorkflowError> {
        Conductor::with_context(spec, input, Map::new())
    }

    /// Check the spec and the input (an input the workflow does not declare
    /// is refused; one it declares but is not given is null, as in
    /// Orquesta). `context` is the parent context
    /// StackStorm gives every workflow (its keys are defined for
    /// inspection and are the start of `ctx()`):
    /// `{"st2": {"action_execution_id", "api_url", "user", "pack",
    /// "action", "runner", "workflow_execution_id", ...}, "parent": {...}}`
    /// (st2 `orquesta_runner.py` `_construct_st2_context`). Input and vars
    /// are rendered when the workflow starts (they may be expressions over
    /// earlier inputs or `st2kv`).
    pub fn with_context(
        spec: WorkflowSpec,
        input: Map<String, Value>,
        context: Map<String, Value>,
    ) -> Result<Conductor, WorkflowError> {
        let graph = Graph::new(&spec);
        let defined: Vec<&str> = context.keys().map(String::as_str).collect();
        inspect_with(&spec, &graph, &defined).map_err(WorkflowError::Inspection)?;
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
        Ok(Conductor {
            spec,
            graph,
            input,
            context,
            state: State::new(),
            active: Active::default(),
            results_elsewhere: false,
        })
    }

    /// Do not keep the results of plain (not with-items) tasks after their
    /// transitions are evaluated: `task(name).result` is then what
    /// [`Env::task_execution`] returns under `result`. For a caller that
    /// stores every result anyway (the engine keeps them in its store), so
    /// a long workflow's memory does not grow with its results. With-items
    /// tasks keep their items' results: they are the task's result.
    pub fn keep_results_elsewhere(&mut self) {
        self.results_elsewhere = true;
    }

    /// Render input and vars, start, and return the first requests. A
    /// workflow paused or canceled before it started does not start.
    pub fn start(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        if self.state.status != St::Unset {
            return Vec::new();
        }
        self.initialize(env);
        if self.state.status == St::Unset {
            // StackStorm marks a new workflow execution requested.
            self.state.status = St::Requested;
        }
        self.request_workflow_status(St::Running, env);
        self.after_event(env);
        self.pump(env)
    }

    /// Advance with a finished action execution; returns what to launch now.
    /// Results for executions that are not active are ignored.
    pub fn on_task_result(&mut self, result: TaskResult, env: &dyn Env) -> Vec<TaskRequest> {
        let Some(node) = self.graph.node(&result.key.task) else {
            return Vec::new();
        };
        let slot = (node, result.key.route, result.key.item.map(|i| i as u32));
        if !self.active.remove(slot) {
            return Vec::new();
        }
        self.report(result, env);
        self.after_event(env);
        self.pump(env)
    }

    /// StackStorm's pause: `pausing` until active tasks finish, then
    /// `paused`; nothing new is handed out meanwhile.
    pub fn request_pause(&mut self) {
        if self.state.status == St::Unset {
            self.state.status = St::Requested;
        }
        self.request_workflow_status(St::Paused, &NoKv);
    }

    /// Continue a paused (or pausing) workflow; returns the held-back
    /// requests.
    pub fn request_resume(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        if !matches!(self.state.status, St::Paused | St::Pausing) {
            return Vec::new();
        }
        // Paused before it started: render input and vars now.
        self.initialize(env);
        if self.state.status.is_completed() {
            self.after_event(env);
            return Vec::new();
        }
        self.request_workflow_status(St::Resuming, env);
        self.after_event(env);
        self.pump(env)
    }

    /// StackStorm's cancel: `canceling` until active tasks finish, then
    /// `canceled`. The output is rendered without a datastore ([`NoKv`]).
    pub fn request_cancel(&mut self) {
        if self.state.status == St::Unset {
            self.state.status = St::Requested;
        }
        if !self.state.status.is_completed() {
            self.request_workflow_status(St::Canceled, &NoKv);
            self.after_event(&NoKv);
        }
    }

    pub fn status(&self) -> WorkflowStatus {
        match self.state.status {
            St::Pausing => WorkflowStatus::Pausing,
            St::Paused => WorkflowStatus::Paused,
            St::Resuming => WorkflowStatus::Resuming,
            St::Canceling => WorkflowStatus::Canceling,
            St::Canceled => WorkflowStatus::Canceled,
            St::Succeeded => WorkflowStatus::Succeeded,
            St::Failed | St::Timeout | St::Abandoned => WorkflowStatus::Failed,
            _ => WorkflowStatus::Running,
        }
    }

    /// Launched and not yet reported, in launch order.
    pub fn active_tasks(&self) -> Vec<TaskKey> {
        self.active
            .slots()
            .map(|(node, route, item)| TaskKey {
                task: self.graph.name(*node).to_string(),
                route: *route,
                item: item.map(|i| i as usize),
            })
            .collect()
    }

    /// StackStorm's result of the workflow execution: `{"output": {...} |
    /// null}`, plus `"errors": [...]` when the workflow failed.
    pub fn result(&self) -> Value {
        let mut result = Map::new();
        result.insert(
            "output".into(),
            self.state
                .output
                .clone()
                .filter(|o| !o.is_empty())
                .map_or(Value::Null, Value::Object),
        );
        if self.state.status.is_abended() {
            result.insert(
                "errors".into(),
                serde_json::to_value(&self.state.errors).unwrap_or_default(),
            );
        }
        Value::Object(result)
    }

    /// Every error logged, also those of remediated tasks in a workflow
    /// that succeeded (Orquesta's `errors`).
    pub fn errors(&self) -> &[ErrorEntry] {
        &self.state.errors
    }

    /// The rendered output, once the workflow completed.
    pub fn output(&self) -> Option<&Map<String, Value>> {
        self.state.output.as_ref()
    }

    pub fn spec(&self) -> &WorkflowSpec {
        &self.spec
    }

    /// Route details, Orquesta's `routes`: the split transitions
    /// (`task__tKEY`) taken to reach each route; route 0 is `[]`.
    pub fn routes(&self) -> Vec<Vec<String>> {
        self.state
            .routes
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(n, k)| format!("{}__t{k}", self.graph.name(*n)))
                    .collect()
            })
            .collect()
    }

    /// Every task run, in order, with its route and status (engine commands
    /// included): Orquesta's task sequence.
    pub fn sequence(&self) -> Vec<(String, u32, String)> {
        self.state
            .sequence
            .iter()
            .map(|e| {
                (
                    self.graph.name(e.node).to_string(),
                    e.route,
                    e.status.as_str().to_string(),
                )
            })
            .collect()
    }

    /// Tasks in definition order with the tasks they may lead to.
    pub fn graph(&self) -> Vec<TaskNode> {
        self.spec
            .tasks
            .iter()
            .enumerate()
            .map(|(t, (name, task))| {
                let mut next: IndexSet<&str> = IndexSet::new();
                for tr in &task.next {
                    for target in &tr.targets {
                        if self
                            .graph
                            .node(target)
                            .is_some_and(|n| !self.graph.is_command(n))
                        {
                            next.insert(target);
                        }
                    }
                }
                let _ = t;
                TaskNode {
                    name: name.clone(),
                    action: task.action.clone(),
                    next: next.into_iter().map(String::from).collect(),
                }
            })
            .collect()
    }
}
