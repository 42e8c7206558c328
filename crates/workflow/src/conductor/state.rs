//! The conductor's serialisable runtime state and its read helpers.
//!
//! Contexts are stored once and shared by index: a task that publishes
//! nothing passes its inbound context on unchanged, so a long chain does not
//! copy the context per task. Each context remembers which variables were
//! published since the workflow started (`dirty`), so a join can merge
//! branches by overlaying only what each branch wrote, as Orquesta does.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ErrorEntry, TaskKey};
use crate::expr::TaskStatusLookup;
use crate::spec::WorkflowSpec;

pub type CtxId = usize;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    NotStarted,
    Running,
    Pausing,
    Paused,
    Canceling,
    Canceled,
    Succeeded,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Ctx {
    pub vars: Map<String, Value>,
    /// Variables published since the initial context, sorted.
    #[serde(default)]
    pub dirty: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InstStatus {
    Running,
    Succeeded,
    Failed,
    Canceled,
}

impl InstStatus {
    pub fn name(self) -> &'static str {
        match self {
            InstStatus::Running => "running",
            InstStatus::Succeeded => "succeeded",
            InstStatus::Failed => "failed",
            InstStatus::Canceled => "canceled",
        }
    }
}

/// Progress of a with-items task.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Items {
    pub values: Vec<Value>,
    pub results: Vec<Value>,
    pub concurrency: Option<usize>,
    /// Items launched so far (items launch in order).
    pub launched: usize,
    pub active: usize,
    pub failed: bool,
    pub canceled: bool,
}

/// One run of a task on a route (a task in a cycle runs again as a new
/// instance on the same route).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Instance {
    pub task: usize,
    pub route: u32,
    pub ctx: CtxId,
    pub status: InstStatus,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Items>,
}

/// A task waiting to be launched.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Staged {
    pub task: usize,
    pub route: u32,
    pub ctx: CtxId,
    /// Launched even though the workflow is failing (staged next to `fail`).
    #[serde(default)]
    pub run_on_fail: bool,
    /// A retry of this instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<usize>,
}

/// Arrivals at a join task on one route.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct JoinWait {
    pub arrived: BTreeSet<usize>,
    pub ctxs: Vec<CtxId>,
    pub fired: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub phase: Phase,
    /// Fail-fast: a failure is unhandled; nothing new starts, and the
    /// workflow fails once active tasks finish.
    pub failing: bool,
    pub contexts: Vec<Ctx>,
    /// Route paths: the split transitions (`task__tN`) taken to get there.
    pub routes: IndexSet<Vec<String>>,
    pub instances: Vec<Instance>,
    /// `latest[task][route]`: the newest instance of a task on a route.
    pub latest: Vec<BTreeMap<u32, usize>>,
    pub joins: Vec<BTreeMap<u32, JoinWait>>,
    pub queue: VecDeque<Staged>,
    pub active: IndexSet<TaskKey>,
    /// With-items instances with items not launched yet.
    pub items_waiting: BTreeSet<usize>,
    /// Contexts at the ends of branches, merged for the output.
    pub terminal: Vec<CtxId>,
    pub errors: Vec<ErrorEntry>,
    pub output: Option<Map<String, Value>>,
}

impl State {
    pub fn new(tasks: usize) -> State {
        State {
            phase: Phase::NotStarted,
            failing: false,
            contexts: Vec::new(),
            routes: IndexSet::new(),
            instances: Vec::new(),
            latest: vec![BTreeMap::new(); tasks],
            joins: vec![BTreeMap::new(); tasks],
            queue: VecDeque::new(),
            active: IndexSet::new(),
            items_waiting: BTreeSet::new(),
            terminal: Vec::new(),
            errors: Vec::new(),
            output: None,
        }
    }

    pub fn push_ctx(&mut self, ctx: Ctx) -> CtxId {
        self.contexts.push(ctx);
        self.contexts.len() - 1
    }

    /// Merge contexts in order: the first whole, then what each later one
    /// published. A single context is shared, not copied.
    pub fn merge_ctxs(&mut self, ids: &[CtxId]) -> CtxId {
        match ids {
            [] => 0,
            [one] => *one,
            [first, rest @ ..] => {
                let mut merged = self.contexts[*first].clone();
                for id in rest {
                    let other = &self.contexts[*id];
                    for name in &other.dirty {
                        if let Some(v) = other.vars.get(name) {
                            merged.vars.insert(name.clone(), v.clone());
                        }
                    }
                    for name in &other.dirty {
                        if let Err(pos) = merged.dirty.binary_search(name) {
                            merged.dirty.insert(pos, name.clone());
                        }
                    }
                }
                self.push_ctx(merged)
            }
        }
    }

    /// The context the output is rendered from.
    pub fn terminal_ctx(&self) -> Map<String, Value> {
        let mut seen = BTreeSet::new();
        let ids: Vec<CtxId> = self
            .terminal
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        let Some((first, rest)) = ids.split_first() else {
            return self
                .contexts
                .first()
                .map(|c| c.vars.clone())
                .unwrap_or_default();
        };
        let mut vars = self.contexts[*first].vars.clone();
        for id in rest {
            let other = &self.contexts[*id];
            for name in &other.dirty {
                if let Some(v) = other.vars.get(name) {
                    vars.insert(name.clone(), v.clone());
                }
            }
        }
        vars
    }
}

/// Task statuses as seen from one route: a task not run on this route is
/// looked up on the routes this one split from, as Orquesta does.
pub struct RouteView<'a> {
    pub spec: &'a WorkflowSpec,
    pub state: &'a State,
    pub route: u32,
}

impl TaskStatusLookup for RouteView<'_> {
    fn status_of(&self, task: &str) -> Option<&'static str> {
        let t = self.spec.tasks.get_index_of(task)?;
        let latest = &self.state.latest[t];
        if let Some(i) = latest.get(&self.route) {
            return Some(self.state.instances[*i].status.name());
        }
        let current = self.state.routes.get_index(self.route as usize)?;
        for r in (0..self.route).rev() {
            let Some(i) = latest.get(&r) else { continue };
            let path = self.state.routes.get_index(r as usize)?;
            if path.iter().all(|step| current.contains(step)) {
                return Some(self.state.instances[*i].status.name());
            }
        }
        None
    }
}
