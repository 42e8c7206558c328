//! Re-running a completed workflow from chosen tasks, as Orquesta's
//! `request_workflow_rerun` does and StackStorm's `request_rerun` asks for
//! it (`st2 execution re-run <id> --tasks t1 t2 --no-reset t2`):
//!
//! - Without tasks, the terminal tasks that failed run again.
//! - With tasks, each task's latest run on every route it ran on runs
//!   again, in its original context; the tasks after it run again as the
//!   transitions say. Everything else is kept: contexts, other tasks'
//!   results, errors of other tasks (the re-run tasks' errors are cleared).
//! - A with-items task re-runs only its failed items, unless reset
//!   (`reset` lists the tasks whose items all run again).
//! - Terminal tasks with a transition that was met (a remediated failure)
//!   continue from there.

use serde::{Deserialize, Serialize};

use super::machines::St;
use super::state::Staged;
use super::{Conductor, TaskRequest};
use crate::expr::Env;
use crate::graph::NodeId;

/// What to re-run (StackStorm's re-run `options`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RerunOptions {
    /// Task names to re-run; empty: the failed terminal tasks.
    #[serde(default)]
    pub tasks: Vec<String>,
    /// With-items tasks (among `tasks`) whose items all run again; the CLI's
    /// `--no-reset t` leaves `t` out of this list.
    #[serde(default)]
    pub reset: Vec<String>,
}

/// Why a re-run was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerunError {
    /// Orquesta's `WorkflowIsActiveAndNotRerunableError`.
    #[error("Unable to rerun workflow because it is not in a completed state.")]
    NotCompleted,
    /// Tasks that never ran in this workflow (StackStorm's check).
    #[error("Unable to rerun workflow because one or more tasks is not found: {}", .0.join(","))]
    UnknownTasks(Vec<String>),
    /// Nothing to re-run: no task given and no terminal task failed.
    #[error("Unable to rerun workflow: no task failed and no task was given to rerun.")]
    NothingToRerun,
}

impl Conductor {
    /// Re-run a completed workflow; returns the requests to launch. The
    /// status becomes `resuming`, then `running` once tasks are handed out.
    pub fn request_rerun(
        &mut self,
        options: &RerunOptions,
        env: &dyn Env,
    ) -> Result<Vec<TaskRequest>, RerunError> {
        if !self.state.status.is_completed() {
            return Err(RerunError::NotCompleted);
        }
        // (node, route, reset items) per requested task, every route it ran on.
        let mut requests: Vec<(NodeId, u32, bool)> = Vec::new();
        let mut unknown = Vec::new();
        for name in &options.tasks {
            let node = self.graph.node(name).filter(|n| !self.graph.is_command(*n));
            let mut routes: Vec<u32> = match node {
                Some(n) => self
                    .state
                    .tasks
                    .keys()
                    .filter(|k| k.0 == n)
                    .map(|k| k.1)
                    .collect(),
                None => Vec::new(),
            };
            if routes.is_empty() {
                unknown.push(name.clone());
                continue;
            }
            routes.sort_unstable();
            let reset = options.reset.contains(name);
            for route in routes {
                let n = node.expect("known task");
                if !requests.iter().any(|r| r.0 == n && r.1 == route) {
                    requests.push((n, route, reset));
                }
            }
        }
        if !unknown.is_empty() {
            return Err(RerunError::UnknownTasks(unknown));
        }

        let candidates: Vec<(NodeId, u32, bool)> = if requests.is_empty() {
            self.state
                .sequence
                .iter()
                .filter(|e| e.term && e.status.is_abended())
                .map(|e| (e.node, e.route, false))
                .collect()
        } else {
            self.collapse(&requests)
        };
        if candidates.is_empty() {
            return Err(RerunError::NothingToRerun);
        }
        let entry = candidates
            .iter()
            .filter_map(|(n, r, _)| self.state.entry_idx(*n, *r))
            .collect();
        self.state.reruns.push(entry);
        let mut sorted = candidates;
        sorted.sort_by(|a, b| self.name(a.0).cmp(self.name(b.0)).then(a.1.cmp(&b.1)));
        sorted.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        for (node, route, reset) in sorted {
            self.rerun_task(node, route, reset);
        }
        // Terminal tasks with a met transition continue.
        for e in self.state.sequence.iter_mut() {
            if e.term && e.next.contains(&Some(true)) {
                e.term = false;
            }
        }
        self.state.output = None;
        self.state.status = St::Resuming;
        let requests = self.pump(env);
        self.after_event(env);
        Ok(requests)
    }

    /// Orquesta's `_collapse_task_rerun_requests`: with several requests,
    /// keep those whose following tasks are not all within another's.
    fn collapse(&self, requests: &[(NodeId, u32, bool)]) -> Vec<(NodeId, u32, bool)> {
        if requests.len() < 2 {
            return requests.to_vec();
        }
        let seqs: Vec<Vec<usize>> = requests
            .iter()
            .map(|(n, r, _)| self.following(*n, *r))
            .collect();
        requests
            .iter()
            .zip(&seqs)
            .filter(|(_, mine)| {
                seqs.iter()
                    .any(|other| mine.iter().any(|i| !other.contains(i)))
            })
            .map(|(r, _)| *r)
            .collect()
    }

    /// The task's latest entry and the entries it staged directly
    /// (Orquesta's `get_task_sequence`).
    fn following(&self, node: NodeId, route: u32) -> Vec<usize> {
        let Some(idx) = self.state.entry_idx(node, route) else {
            return Vec::new();
        };
        let mut out = vec![idx];
        for (i, e) in self.state.sequence.iter().enumerate() {
            if e.prev.iter().any(|(_, p)| {
                let src = &self.state.sequence[*p];
                src.node == node && src.route == route
            }) {
                out.push(i);
            }
        }
        out
    }

    /// Orquesta's `_request_task_rerun`.
    fn rerun_task(&mut self, node: NodeId, route: u32, reset_items: bool) {
        let Some(idx) = self.state.entry_idx(node, route) else {
            return;
        };
        let (ctxs, prev) = {
            let e = &mut self.state.sequence[idx];
            e.term = false;
            (e.ctxs.clone(), e.prev.clone())
        };
        self.state.with_staged(node, route, |s| s.completed = false);
        let name = self.name(node).to_string();
        self.state
            .errors
            .retain(|e| e.task_id.as_deref() != Some(name.as_str()));
        let has_items = self.spec.tasks[node as usize].with.is_some();
        let staged_items = self
            .state
            .staged(node, route)
            .is_some_and(|s| s.items.is_some());
        if has_items && staged_items {
            self.state.with_staged(node, route, |s| {
                if let Some(items) = s.items.as_mut() {
                    items.reset(|st| reset_items || st.is_abended());
                }
            });
        } else {
            // A plain task (or a with-items task that succeeded, whose items
            // Orquesta no longer tracks): a new run in the same context.
            self.state.remove_staged(node, route);
            self.new_entry(node, route, Some((ctxs.clone(), prev.clone())));
            self.state.add_staged(Staged {
                node,
                route,
                ctxs,
                prev,
                ready: true,
                completed: false,
                run_on_fail: false,
                retry: None,
                items: None,
                concurrency: None,
                delay: None,
                actions: None,
            });
        }
        for i in self.following(node, route) {
            self.state.sequence[i].term = false;
        }
    }
}
