//! One workflow's conducting state: the conductor, the requests it issued
//! (waiting for their delay, waiting to launch, or running as a child
//! execution), and its log. Every change goes through [`Run::apply`], live
//! and on replay alike, so a replayed log rebuilds exactly the state the
//! original run had.

use std::collections::VecDeque;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stormdesk_workflow::{Conductor, Env, TaskKey, TaskRequest, TaskResult};

use super::journal::{self, Journal, Op, Recording};

/// What a snapshot holds (also the shape earlier versions saved whole after
/// every step, which still loads: `version` 0, no log).
#[derive(Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// 1 for snapshots followed by a log.
    #[serde(default)]
    pub version: u32,
    pub conductor: Conductor,
    /// Child executions launched and not yet fed back: (task, child id).
    pub active: Vec<(TaskKey, String)>,
    /// Requests issued and not launched yet (held while paused).
    pub pending: Vec<TaskRequest>,
    /// Requests waiting for their `delay`.
    pub delayed: Vec<TaskRequest>,
    pub pack: String,
    pub commit: Option<String>,
    #[serde(default)]
    pub has_secrets: bool,
    /// A re-run from tasks: the executions whose children hold the results
    /// of tasks it did not run again, nearest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results_from: Vec<String>,
}

/// The snapshot format version written now.
pub(crate) const SNAPSHOT_VERSION: u32 = 1;

pub(crate) struct Run {
    pub conductor: Conductor,
    /// Child executions launched and not yet fed back: child id -> task.
    pub active: IndexMap<String, TaskKey>,
    /// Requests issued and not launched yet: between the conductor and the
    /// launch, or held while the workflow is paused. Launched in order, so
    /// the one launched is at the front.
    pub pending: VecDeque<TaskRequest>,
    /// Requests waiting for their `delay`.
    pub delayed: VecDeque<TaskRequest>,
    /// The pack of the workflow action and, when the top-level run asked for
    /// a revision, the commit its same-pack tasks run at.
    pub pack: String,
    pub commit: Option<String>,
    /// Holds secret inputs: its state is saved masked and cannot resume after a restart.
    pub has_secrets: bool,
    /// A re-run from tasks: the executions whose children hold the results
    /// of tasks it did not run again (`task()` looks there after its own),
    /// nearest first.
    pub results_from: Vec<String>,
    /// The workflow's user (`st2kv` reads user-scoped keys as this user).
    pub user: Option<String>,
    /// What tasks inherit from the workflow's context (`user`, `pack`,
    /// `api_user`, `source_channel`, `parent`), read once.
    pub parent_context: Map<String, Value>,
    pub journal: Journal,
    pub done: bool,
}

impl Run {
    pub fn new(
        conductor: Conductor,
        pack: String,
        commit: Option<String>,
        has_secrets: bool,
    ) -> Run {
        Run {
            conductor,
            active: IndexMap::new(),
            pending: VecDeque::new(),
            delayed: VecDeque::new(),
            pack,
            commit,
            has_secrets,
            results_from: Vec::new(),
            user: None,
            parent_context: Map::new(),
            journal: Journal::default(),
            done: false,
        }
    }

    pub fn from_snapshot(s: Snapshot) -> Run {
        let mut run = Run::new(s.conductor, s.pack, s.commit, s.has_secrets);
        run.active = s.active.into_iter().map(|(k, c)| (c, k)).collect();
        run.pending = s.pending.into();
        run.delayed = s.delayed.into();
        run.results_from = s.results_from;
        run
    }

    /// The state as a snapshot (JSON text), with `mask` applied to it
    /// first when the workflow has secrets (then through a `Value`; else
    /// written straight to text, never held twice in memory).
    pub fn snapshot(&self, mask: impl FnOnce(&mut Value)) -> Result<String, serde_json::Error> {
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            version: u32,
            conductor: &'a Conductor,
            active: Vec<(&'a TaskKey, &'a String)>,
            pending: &'a VecDeque<TaskRequest>,
            delayed: &'a VecDeque<TaskRequest>,
            pack: &'a str,
            commit: &'a Option<String>,
            has_secrets: bool,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            results_from: &'a [String],
        }
        let snapshot = SnapshotRef {
            version: SNAPSHOT_VERSION,
            conductor: &self.conductor,
            active: self.active.iter().map(|(c, k)| (k, c)).collect(),
            pending: &self.pending,
            delayed: &self.delayed,
            pack: &self.pack,
            commit: &self.commit,
            has_secrets: self.has_secrets,
            results_from: &self.results_from,
        };
        if !self.has_secrets {
            return serde_json::to_string(&snapshot);
        }
        let mut value = serde_json::to_value(snapshot)?;
        mask(&mut value);
        Ok(value.to_string())
    }

    pub fn active_children(&self) -> Vec<String> {
        self.active.keys().cloned().collect()
    }

    /// Applies `op` live: datastore reads go through `env` and are logged
    /// with the operation, which joins the current step's log row.
    pub fn record(&mut self, mut op: Op, env: &dyn Env, child_result: Option<Value>) {
        let rec = Recording::new(env);
        self.apply(&op, &rec, child_result);
        if let Some(kv) = op.kv_mut() {
            *kv = rec.take();
        }
        self.journal.ops.push(op);
    }

    /// Applies `op`: conductor calls add the requests they return to
    /// `pending`; the other operations move requests between `pending`,
    /// `delayed` and `active`. `child_result` is the stored result of the
    /// child a `Completed` operation names.
    pub fn apply(&mut self, op: &Op, env: &dyn Env, child_result: Option<Value>) {
        match op {
            Op::Start { .. } => {
                let reqs = self.conductor.start(env);
                self.pending.extend(reqs);
            }
            Op::Completed {
                child, key, status, ..
            } => {
                self.active.swap_remove(child);
                let reqs = self.conductor.on_task_result(
                    TaskResult {
                        key: key.clone(),
                        status: *status,
                        result: child_result.unwrap_or(Value::Null),
                    },
                    env,
                );
                self.pending.extend(reqs);
            }
            Op::LaunchFailed {
                key,
                attempt,
                message,
                ..
            } => {
                take_request(&mut self.pending, key, *attempt);
                let reqs = self
                    .conductor
                    .on_task_result(journal::launch_failure(key.clone(), message), env);
                self.pending.extend(reqs);
            }
            Op::Launched {
                key,
                attempt,
                child,
            } => {
                take_request(&mut self.pending, key, *attempt);
                self.active.insert(child.clone(), key.clone());
            }
            Op::Delayed { key, attempt } => {
                if let Some(req) = take_request(&mut self.pending, key, *attempt) {
                    self.delayed.push_back(req);
                }
            }
            Op::Released { key, attempt } => {
                if let Some(mut req) = take_request(&mut self.delayed, key, *attempt) {
                    req.delay_seconds = None;
                    self.pending.push_back(req);
                }
            }
            Op::Pause => self.conductor.request_pause(),
            Op::Held { key, hold, .. } => self.conductor.on_task_held(key, *hold, env),
            Op::TaskResumed { key, .. } => {
                let reqs = self.conductor.on_task_resumed(key, env);
                self.pending.extend(reqs);
            }
            Op::Rerun {
                requests,
                results_from,
            } => {
                self.pending.extend(requests.iter().cloned());
                self.results_from.extend(results_from.iter().cloned());
            }
            Op::Resume { .. } => {
                let reqs = self.conductor.request_resume(env);
                self.pending.extend(reqs);
            }
            Op::Cancel { .. } => {
                self.conductor.request_cancel();
                let mut not_started = std::mem::take(&mut self.delayed);
                not_started.append(&mut self.pending);
                for req in not_started {
                    let reqs = self
                        .conductor
                        .on_task_result(journal::canceled_before_start(req.key), env);
                    self.pending.extend(reqs);
                }
            }
        }
    }
}

/// Removes the request for `key`'s `attempt` from `list`.
fn take_request(
    list: &mut VecDeque<TaskRequest>,
    key: &TaskKey,
    attempt: u32,
) -> Option<TaskRequest> {
    let i = list
        .iter()
        .position(|r| &r.key == key && r.attempt == attempt)?;
    list.remove(i)
}
