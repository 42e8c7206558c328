//! Workflow-level bookkeeping of the conductor, as Orquesta's
//! `WorkflowConductor` and `WorkflowStateMachine` keep it: initialisation,
//! workflow status requests, the workflow status machine on task events
//! (remediation, completion, unreachable joins), routes of split tasks and
//! the inbound criteria of joins (kept as counts, updated incrementally).

use serde_json::{Map, Value};

use super::machines::{task_next, workflow_next, EventName, St};
use super::state::{Arrivals, Key, Staged};
use super::update::Event;
use super::{Conductor, ErrorEntry, TaskResult};
use crate::expr::{evaluate_value, Env, Scope};
use crate::graph::NodeId;

/// How a join's inbound criteria stand (Orquesta's `INBOUND_CRITERIA_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Inbound {
    Satisfied,
    InProgress,
    NotSatisfied,
}

impl Conductor {
    pub(super) fn name(&self, node: NodeId) -> &str {
        self.graph.name(node)
    }

    /// Log an error with Orquesta's `"{Class}: {message}"`.
    pub(super) fn log_error(
        &mut self,
        message: String,
        task: Option<(NodeId, u32)>,
        transition: Option<u32>,
    ) {
        let mut entry = ErrorEntry::new(message);
        if let Some((node, route)) = task {
            entry.task_id = Some(self.name(node).to_string());
            entry.route = Some(route);
        }
        entry.task_transition_id = transition.map(|e| self.transition_id(e));
        self.state.log(entry);
    }

    /// `target__tKEY` of an edge.
    pub(super) fn transition_id(&self, edge: u32) -> String {
        let e = &self.graph.edges[edge as usize];
        format!("{}__t{}", self.graph.name(e.dst), e.key)
    }

    /// Orquesta's workflow state initialisation: the parent context, the
    /// rendered input and vars, route 0 and the start tasks.
    pub(super) fn initialize(&mut self, env: &dyn Env) {
        if std::mem::replace(&mut self.state.initialized, true) {
            return;
        }
        let mut ctx = self.context.clone();
        let mut errors = Vec::new();
        for p in &self.spec.input {
            let value = self
                .input
                .get(&p.name)
                .or(p.default.as_ref())
                .cloned()
                .unwrap_or(Value::Null);
            match evaluate_value(&value, &Scope::workflow(&ctx, env)) {
                Ok(v) => {
                    ctx.insert(p.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        for var in &self.spec.vars {
            match evaluate_value(&var.value, &Scope::workflow(&ctx, env)) {
                Ok(v) => {
                    ctx.insert(var.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            for e in errors {
                self.log_error(e.to_string(), None, None);
            }
            self.request_workflow_status(St::Failed, env);
            return;
        }
        self.state.contexts.push(ctx);
        self.state.routes.push(Vec::new());
        for &root in &self.graph.roots.clone() {
            self.state.add_staged(Staged {
                node: root,
                route: 0,
                ctxs: Vec::new(),
                prev: Default::default(),
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
    }

    /// Orquesta's `request_workflow_status`; invalid requests change nothing.
    pub(super) fn request_workflow_status(&mut self, status: St, env: &dyn Env) {
        let _ = env;
        let event = format!("workflow_{}", status.as_str());
        if matches!(
            status,
            St::Pausing | St::Paused | St::Canceling | St::Canceled
        ) {
            let active: Vec<usize> = self
                .state
                .tasks
                .values()
                .copied()
                .filter(|i| self.state.sequence[*i].status.is_active())
                .collect();
            for idx in active {
                let (node, route, current) = {
                    let e = &self.state.sequence[idx];
                    (e.node, e.route, e.status)
                };
                let mut name = event.clone();
                if let Some(items) = self
                    .state
                    .staged(node, route)
                    .and_then(|s| s.items.as_ref())
                {
                    let active = items.any_active();
                    let incomplete = items.any_incomplete();
                    name.push_str(if active {
                        "_task_active"
                    } else {
                        "_task_dormant"
                    });
                    name.push_str(if incomplete {
                        "_items_incomplete"
                    } else {
                        "_items_completed"
                    });
                }
                if let Some(new) = task_next(current, &name) {
                    self.state.set_status(idx, new);
                }
            }
        }
        let mut name = event;
        if status.is_pause() || status.is_cancel() {
            name.push_str(if self.state.has_active_tasks() {
                "_workflow_active"
            } else {
                "_workflow_dormant"
            });
        }
        if self.state.status == St::Paused
            && matches!(status, St::Running | St::Resuming)
            && !self.state.has_active_tasks()
            && !self.state.has_staged_tasks()
            && !self.state.has_paused_tasks()
        {
            name.push_str("_workflow_completed");
        }
        if let Some(new) = workflow_next(self.state.status, &name) {
            self.state.status = new;
        }
    }

    /// Map a reported result to its event and update the task.
    pub(super) fn report(&mut self, result: TaskResult, env: &dyn Env) {
        let Some(node) = self.graph.node(&result.key.task) else {
            return;
        };
        let route = result.key.route;
        let status = result.status.st();
        // StackStorm updates its task execution record first.
        self.close_record(node, route, result.key.item, status, &result.result);
        let event = match result.key.item {
            None => Event::Action {
                status,
                result: result.result,
            },
            Some(item) => Event::Item {
                item,
                status,
                result: result.result,
            },
        };
        self.update_task_state(node, route, event, env);
    }

    /// Render the output if the workflow completed (StackStorm renders it
    /// on every update until it is not empty).
    pub(super) fn after_event(&mut self, env: &dyn Env) {
        if self.state.status.is_completed() && self.state.output.as_ref().is_none_or(Map::is_empty)
        {
            self.render_output(env);
        }
    }

    /// Orquesta's `_evaluate_route`: a split task gets a new route per
    /// inbound transition (`source__tKEY` appended to the route details).
    pub(super) fn evaluate_route(&mut self, edge: u32, prev_route: u32) -> u32 {
        let e = &self.graph.edges[edge as usize];
        if !self.graph.split[e.dst as usize] {
            return prev_route;
        }
        let step = (e.src, e.key);
        let old = &self.state.routes[prev_route as usize];
        if old.contains(&step) {
            return prev_route;
        }
        let mut details = old.clone();
        details.push(step);
        self.state.routes.push(details);
        (self.state.routes.len() - 1) as u32
    }

    /// Does an inbound source count for a barrier on a route: `None` (has
    /// not run there), `Some(met)` (one of its transitions to it was met).
    pub(super) fn source_value(&self, src: NodeId, dst: NodeId, route: u32) -> Option<bool> {
        let entry = self.state.entry(src, route)?;
        Some(
            self.graph.out[src as usize]
                .iter()
                .enumerate()
                .any(|(pos, e)| {
                    self.graph.edges[*e as usize].dst == dst && entry.next_at(pos) == Some(true)
                }),
        )
    }

    /// Barrier successors of `src` with `src`'s current standing.
    pub(super) fn source_values(&self, src: NodeId, route: u32) -> Vec<(NodeId, Option<bool>)> {
        self.graph.barrier_succ[src as usize]
            .iter()
            .map(|dst| (*dst, self.source_value(src, *dst, route)))
            .collect()
    }

    /// Update the arrival counts of `src`'s barrier successors.
    pub(super) fn source_changed(
        &mut self,
        src: NodeId,
        route: u32,
        before: Vec<(NodeId, Option<bool>)>,
    ) {
        for (dst, old) in before {
            let new = self.source_value(src, dst, route);
            if old == new {
                continue;
            }
            let a = self.state.arrivals.entry(Key(dst, route)).or_default();
            match old {
                Some(true) => {
                    a.seen -= 1;
                    a.satisfied -= 1;
                }
                Some(false) => a.seen -= 1,
                None => {}
            }
            match new {
                Some(true) => {
                    a.seen += 1;
                    a.satisfied += 1;
                }
                Some(false) => a.seen += 1,
                None => {}
            }
        }
    }

    /// Orquesta's `get_inbound_criteria_status`.
    pub(super) fn inbound_status(&self, node: NodeId, route: u32) -> Inbound {
        let requirement = self.graph.requirement(node);
        let sources = self.graph.sources[node as usize];
        let a = if self.graph.has_barrier(node) {
            self.state
                .arrivals
                .get(&Key(node, route))
                .copied()
                .unwrap_or_default()
        } else {
            // Without a barrier the requirement is one inbound task met.
            let mut a = Arrivals::default();
            let mut seen_src: Vec<NodeId> = Vec::new();
            for e in &self.graph.inbound[node as usize] {
                let src = self.graph.edges[*e as usize].src;
                if seen_src.contains(&src) {
                    continue;
                }
                seen_src.push(src);
                match self.source_value(src, node, route) {
                    Some(true) => {
                        a.seen += 1;
                        a.satisfied += 1;
                    }
                    Some(false) => a.seen += 1,
                    None => {}
                }
                if a.satisfied >= requirement {
                    break;
                }
            }
            a
        };
        if a.satisfied >= requirement {
            return Inbound::Satisfied;
        }
        if a.seen < sources && (self.state.has_active_tasks() || self.state.has_staged_tasks()) {
            return Inbound::InProgress;
        }
        Inbound::NotSatisfied
    }

    /// Orquesta's `has_next_tasks(task, route)`.
    pub(super) fn has_next_tasks(&self, node: NodeId, route: u32) -> bool {
        let Some(entry) = self.state.entry(node, route) else {
            return false;
        };
        if !entry.status.is_completed() {
            return false;
        }
        let cont = self.graph.continue_node();
        for (pos, e) in self.graph.out[node as usize].iter().enumerate() {
            let dst = self.graph.edges[*e as usize].dst;
            if dst == cont || entry.next_at(pos) != Some(true) {
                continue;
            }
            if self.graph.has_barrier(dst)
                && self.inbound_status(dst, route) == Inbound::NotSatisfied
            {
                continue;
            }
            return true;
        }
        false
    }

    /// Orquesta's workflow state machine on a task event.
    pub(super) fn process_task_event(&mut self, node: NodeId, route: u32, status: St) {
        let has_next = self.has_next_tasks(node, route);
        let remediated = status.is_abended() && has_next;
        let mut event = EventName::new("task_");
        event.push(if remediated {
            "remediated"
        } else {
            status.as_str()
        });
        let conditional = remediated
            || matches!(
                status,
                St::Pending | St::Paused | St::Succeeded | St::Failed | St::Canceled | St::Retrying
            );
        if conditional {
            event.push(if self.state.has_active_tasks() {
                "_workflow_active"
            } else {
                "_workflow_dormant"
            });
        }
        if remediated || status == St::Succeeded {
            event.push(if self.state.has_canceling_or_canceled_tasks() {
                "_canceled"
            } else if self.state.has_pausing_or_paused_tasks() {
                "_paused"
            } else if self.state.has_staged_tasks() || has_next {
                "_incomplete"
            } else {
                "_completed"
            });
        }
        let Some(new) = workflow_next(self.state.status, event.as_str()) else {
            return;
        };
        self.state.status = new;
        if new.is_completed() {
            let unreachable: Vec<(NodeId, u32)> = self
                .state
                .staged
                .values()
                .filter(|s| self.graph.has_barrier(s.node) && !s.ready)
                .map(|s| (s.node, s.route))
                .filter(|(n, r)| self.inbound_status(*n, *r) == Inbound::NotSatisfied)
                .collect();
            if !unreachable.is_empty() {
                self.state.status = St::Failed;
                for (n, r) in unreachable {
                    let message = format!(
                        "UnreachableJoinError: The join task|route \"{}|{r}\" is partially satisfied but unreachable.",
                        self.name(n)
                    );
                    self.log_error(message, Some((n, r)), None);
                }
            }
        }
    }
}
