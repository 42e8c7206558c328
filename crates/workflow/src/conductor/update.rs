//! Updating task state on an event, as Orquesta's `update_task_state`:
//! the task status machine, retries, transition criteria and publish, and
//! staging of the next tasks (routes, joins, engine commands).

use serde_json::{Map, Value};

use super::items::item_event;
use super::machines::{task_next, Command, St};
use super::state::{prev_insert, Entry, Origin, RetryState, Staged};
use super::view::StateView;
use super::workflow::Inbound;
use super::{Conductor, ErrorEntry};
use crate::expr::{
    evaluate_str, evaluate_value, functions::truthy, CurrentTask, Env, ExpressionError, Scope,
};
use crate::graph::NodeId;

pub(super) enum Event {
    Action {
        status: St,
        result: Value,
    },
    Item {
        item: usize,
        status: St,
        result: Value,
    },
    Command(Command),
}

impl Event {
    fn status(&self) -> St {
        match self {
            Event::Action { status, .. } | Event::Item { status, .. } => *status,
            Event::Command(c) => c.status(),
        }
    }
}

/// An outbound transition, evaluated.
pub(super) enum Transition {
    Error(ExpressionError),
    NotMet,
    /// Met, with what its publish produced (new variables, errors).
    Met(Map<String, Value>, Vec<ExpressionError>),
}

impl Conductor {
    /// Orquesta's `add_task_state`: a new latest entry for (node, route).
    pub(super) fn new_entry(&mut self, node: NodeId, route: u32, staged: Option<Origin>) -> usize {
        let (ctxs, prev) = staged.unwrap_or_default();
        let retry = self.retry_state(node, &ctxs);
        let before = self.source_values(node, route);
        let idx = self.state.push_entry(Entry {
            node,
            route,
            ctxs,
            prev,
            next: Default::default(),
            status: St::Unset,
            term: false,
            retry: None,
        });
        match retry {
            Ok(r) => self.state.sequence[idx].retry = r,
            Err(e) => {
                self.log_error(e, Some((node, route)), None);
                self.request_workflow_status(St::Failed, &crate::expr::NoKv);
            }
        }
        self.source_changed(node, route, before);
        idx
    }

    /// The retry state of a new entry: count and delay evaluated now.
    pub(super) fn retry_state(
        &self,
        node: NodeId,
        ctxs: &[u32],
    ) -> Result<Option<RetryState>, String> {
        let Some(policy) = self.graph.retry.get(node as usize).and_then(Option::as_ref) else {
            return Ok(None);
        };
        let ctx = self.state.merged(ctxs);
        let view = StateView::new(self);
        let scope = Scope {
            statuses: &view,
            ..Scope::workflow(&ctx, &crate::expr::NoKv)
        };
        let int = |v: &Value, what: &str| -> Result<i64, String> {
            let v = match v {
                Value::String(s) => evaluate_str(s, &scope).map_err(|e| e.to_string())?,
                other => other.clone(),
            };
            v.as_i64().ok_or_else(|| {
                format!(
                    "ValueError: The retry {what} for task \"{}\" is not an integer.",
                    self.name(node)
                )
            })
        };
        Ok(Some(RetryState {
            when: policy.when.clone(),
            count: int(&policy.count, "count")?,
            delay: policy.delay.as_ref().map(|d| int(d, "delay")).transpose()?,
            tally: 0,
        }))
    }

    /// Orquesta's `update_task_state`.
    pub(super) fn update_task_state(
        &mut self,
        node: NodeId,
        route: u32,
        event: Event,
        env: &dyn Env,
    ) {
        let is_command = self.graph.is_command(node);
        let has_staged = self.state.staged(node, route).is_some();
        // The staged entry's route, contexts and inbound transitions, for a
        // new task state entry (copied only when one is made).
        let origin = |c: &Conductor| {
            c.state
                .staged(node, route)
                .map(|s| (s.route, (s.ctxs.clone(), s.prev.clone())))
        };
        let mut idx = self.state.entry_idx(node, route);
        if !has_staged && idx.is_none() {
            return;
        }
        if idx.is_none() || is_command {
            let (r, o) = origin(self).expect("staged when no entry");
            idx = Some(self.new_entry(node, r, Some(o)));
        }
        let mut idx = idx.expect("task state entry");
        let event_status = event.status();
        if self.state.sequence[idx].status.is_completed() && event_status.is_starting() {
            if let Some((r, o)) = origin(self) {
                idx = self.new_entry(node, r, Some(o));
            }
        }
        let has_items = self.has_items(node);
        if has_staged
            && self
                .state
                .staged(node, route)
                .is_some_and(|s| s.items.is_none())
        {
            self.state.remove_staged(node, route);
        }
        if let Event::Item { item, status, .. } = &event {
            self.state.with_staged(node, route, |s| {
                if let Some(items) = s.items.as_mut() {
                    items.set(*item, *status);
                }
            });
        }
        if event_status == St::Failed {
            let result = match &event {
                Event::Action { result, .. } | Event::Item { result, .. } => result.clone(),
                Event::Command(_) => Value::Null,
            };
            let mut entry = ErrorEntry::new("Execution failed. See result for details.".into());
            entry.task_id = Some(self.name(node).to_string());
            entry.result = (!result.is_null()).then_some(result);
            self.state.log(entry);
        }

        let old = self.state.sequence[idx].status;
        let event_name: std::borrow::Cow<'static, str> = match &event {
            Event::Action { status, .. } => status.action_event().into(),
            Event::Command(c) => c.event().into(),
            Event::Item { status, .. } => {
                match self
                    .state
                    .staged(node, route)
                    .and_then(|s| s.items.as_ref())
                {
                    Some(items) => item_event(*status, &items.others(*status)).into(),
                    None => status.action_event().into(),
                }
            }
        };
        if let Some(new) = task_next(old, &event_name) {
            self.state.set_status(idx, new);
        }
        let new = self.state.sequence[idx].status;

        if new == St::Retrying {
            let (ctxs, prev, retry) = {
                let e = &mut self.state.sequence[idx];
                if let Some(r) = e.retry.as_mut() {
                    r.tally += 1;
                }
                (e.ctxs.clone(), e.prev.clone(), e.retry.clone())
            };
            self.state.remove_staged(node, route);
            self.state.add_staged(Staged {
                node,
                route,
                ctxs,
                prev,
                ready: true,
                completed: false,
                run_on_fail: false,
                retry,
                items: None,
                concurrency: None,
                delay: None,
                actions: None,
            });
        }

        let mut task_result = Value::Null;
        if new.is_completed() {
            if !(has_items && new.is_abended()) {
                self.state.remove_staged(node, route);
            } else {
                self.state.with_staged(node, route, |s| s.completed = true);
            }
            task_result = self.task_result(node, route, event);
            if self.state.status.is_active() {
                match self.evaluate_retry(idx, &task_result, env) {
                    Ok(true) => {
                        return self.update_task_state(
                            node,
                            route,
                            Event::Command(Command::Retry),
                            env,
                        )
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.log_error(e.to_string(), Some((node, route)), None);
                        self.request_workflow_status(St::Failed, env);
                    }
                }
            }
        }

        let mut commands: Vec<(NodeId, u32)> = Vec::new();
        if new.is_completed() && new != old {
            if self.graph.out[node as usize].is_empty() {
                self.state.sequence[idx].term = true;
            }
            let evaluated = self.evaluate_transitions(idx, node, &task_result, env);
            let mut manual_fail = false;
            let mut ready_next: Vec<(NodeId, u32)> = Vec::new();
            for (pos, outcome) in evaluated.into_iter().enumerate() {
                let edge = self.graph.out[node as usize][pos];
                self.follow(
                    idx,
                    (pos, edge),
                    outcome,
                    env,
                    &mut commands,
                    &mut manual_fail,
                    &mut ready_next,
                );
            }
            if manual_fail {
                for (n, r) in ready_next {
                    self.state.with_staged(n, r, |s| s.run_on_fail = true);
                }
            }
        }

        let status = self.state.sequence[idx].status;
        self.process_task_event(node, route, status);

        for (cmd, r) in commands {
            let c = match self.name(cmd) {
                "fail" => Command::Fail,
                "noop" => Command::Noop,
                _ => Command::Continue,
            };
            self.update_task_state(cmd, r, Event::Command(c), env);
        }

        if self.state.status.is_completed() {
            self.state.sequence[idx].term = true;
        }
    }

    /// Evaluate every outbound transition of a completed task: criteria,
    /// then (when met) the publish, each over the task's context. Nothing
    /// here changes state, so the context is borrowed, not copied.
    fn evaluate_transitions(
        &self,
        idx: usize,
        node: NodeId,
        result: &Value,
        env: &dyn Env,
    ) -> Vec<Transition> {
        let outbound = &self.graph.out[node as usize];
        let (node, route) = (
            self.state.sequence[idx].node,
            self.state.sequence[idx].route,
        );
        let ctxs = &self.state.sequence[idx].ctxs;
        let owned;
        let ctx: &Map<String, Value> = if ctxs.is_empty() {
            &self.state.contexts[0]
        } else {
            owned = self.state.merged(ctxs);
            &owned
        };
        let view = StateView::new(self);
        outbound
            .iter()
            .map(|edge| {
                let e = &self.graph.edges[*edge as usize];
                let when = self.spec.tasks[node as usize].next[e.transition]
                    .when
                    .as_ref();
                let met = match when {
                    None => Ok(true),
                    Some(when) => {
                        let scope = self.task_scope(&view, ctx, node, route, Some(result), env);
                        evaluate_str(when, &scope).map(|v| truthy(&v))
                    }
                };
                match met {
                    Err(err) => Transition::Error(err),
                    Ok(false) => Transition::NotMet,
                    Ok(true) => {
                        let (new_ctx, errors) =
                            self.publish(&view, node, route, e.transition, ctx, result, env);
                        Transition::Met(new_ctx, errors)
                    }
                }
            })
            .collect()
    }

    /// Apply one evaluated outbound transition: record it and stage its
    /// target when the criteria hold.
    #[allow(clippy::too_many_arguments)]
    fn follow(
        &mut self,
        idx: usize,
        (pos, edge): (usize, u32),
        outcome: Transition,
        env: &dyn Env,
        commands: &mut Vec<(NodeId, u32)>,
        manual_fail: &mut bool,
        ready_next: &mut Vec<(NodeId, u32)>,
    ) {
        let (node, route) = (
            self.state.sequence[idx].node,
            self.state.sequence[idx].route,
        );
        let dst = self.graph.edges[edge as usize].dst;
        let (met, published) = match outcome {
            Transition::Error(err) => {
                self.log_error(err.to_string(), Some((node, route)), Some(edge));
                self.request_workflow_status(St::Failed, env);
                return;
            }
            Transition::NotMet => (false, None),
            Transition::Met(new_ctx, errors) => (true, Some((new_ctx, errors))),
        };
        let before = self.source_values(node, route);
        self.state.sequence[idx].set_next_at(pos, met);
        self.source_changed(node, route, before);
        let Some((new_ctx, errors)) = published else {
            return;
        };
        if !errors.is_empty() {
            for err in errors {
                self.log_error(err.to_string(), Some((node, route)), Some(edge));
            }
            self.request_workflow_status(St::Failed, env);
            return;
        }
        let mut out_ctxs = self.state.sequence[idx].ctxs.clone();
        if !new_ctx.is_empty() {
            self.state.contexts.push(new_ctx);
            out_ctxs.push((self.state.contexts.len() - 1) as u32);
        }
        let next_route = self.evaluate_route(edge, route);
        if self.state.staged(dst, next_route).is_some() {
            self.state.with_staged(dst, next_route, |s| {
                s.ctxs.extend(out_ctxs);
                prev_insert(&mut s.prev, edge, idx);
                s.items = None;
                s.actions = None;
                s.concurrency = None;
                s.delay = None;
                s.completed = false;
            });
        } else {
            self.state.add_staged(Staged {
                node: dst,
                route: next_route,
                ctxs: out_ctxs,
                prev: vec![(edge, idx)],
                ready: false,
                completed: false,
                run_on_fail: false,
                retry: None,
                items: None,
                concurrency: None,
                delay: None,
                actions: None,
            });
        }
        // Without a barrier the transition just met satisfies the task.
        let ready =
            !self.graph.has_barrier(dst) || self.inbound_status(dst, route) == Inbound::Satisfied;
        let staged_route = self
            .state
            .with_staged(dst, next_route, |s| {
                s.ready = ready;
                s.route
            })
            .unwrap_or(next_route);
        if self.graph.is_command(dst) {
            commands.push((dst, staged_route));
            *manual_fail |= self.name(dst) == "fail";
        } else if ready {
            ready_next.push((dst, next_route));
        }
    }

    /// The transition's publish, evaluated in order over a rolling context;
    /// returns the new variables and the errors.
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        view: &StateView<'_>,
        node: NodeId,
        route: u32,
        transition: usize,
        ctx: &Map<String, Value>,
        result: &Value,
        env: &dyn Env,
    ) -> (Map<String, Value>, Vec<ExpressionError>) {
        let mut new_ctx = Map::new();
        let mut errors = Vec::new();
        let Some(task) = self.spec.tasks.get_index(node as usize).map(|(_, t)| t) else {
            return (new_ctx, errors);
        };
        let Some(tr) = task.next.get(transition) else {
            return (new_ctx, errors);
        };
        if tr.publish.is_empty() {
            return (new_ctx, errors);
        }
        let mut rolling = ctx.clone();
        for p in &tr.publish {
            let scope = self.task_scope(view, &rolling, node, route, Some(result), env);
            match evaluate_value(&p.value, &scope) {
                Ok(v) => {
                    rolling.insert(p.name.clone(), v.clone());
                    new_ctx.insert(p.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        (new_ctx, errors)
    }

    pub(super) fn task_scope<'a>(
        &'a self,
        view: &'a StateView<'a>,
        ctx: &'a Map<String, Value>,
        node: NodeId,
        route: u32,
        result: Option<&'a Value>,
        env: &'a dyn Env,
    ) -> Scope<'a> {
        Scope {
            ctx,
            task: Some(CurrentTask {
                name: self.graph.name(node),
                route,
            }),
            result,
            item: None,
            statuses: view,
            env,
        }
    }

    /// Orquesta's `_evaluate_task_retry`.
    pub(super) fn evaluate_retry(
        &mut self,
        idx: usize,
        result: &Value,
        env: &dyn Env,
    ) -> Result<bool, ExpressionError> {
        let e = &self.state.sequence[idx];
        let Some(retry) = e.retry.clone() else {
            return Ok(false);
        };
        if i64::from(retry.tally) >= retry.count {
            return Ok(false);
        }
        if e.status.is_abended() && retry.when.is_none() {
            return Ok(true);
        }
        let Some(when) = retry.when else {
            return Ok(false);
        };
        let (node, route) = (e.node, e.route);
        let ctx = self.state.merged(&e.ctxs);
        let view = StateView::new(self);
        let scope = self.task_scope(&view, &ctx, node, route, Some(result), env);
        evaluate_str(&when, &scope).map(|v| truthy(&v))
    }

    pub(super) fn has_items(&self, node: NodeId) -> bool {
        self.spec
            .tasks
            .get_index(node as usize)
            .is_some_and(|(_, t)| t.with.is_some())
    }

    /// The result transitions see: the action's result, or for with-items
    /// the list of item results (null for items that did not report).
    pub(super) fn task_result(&self, node: NodeId, route: u32, event: Event) -> Value {
        if !self.has_items(node) {
            return match event {
                Event::Action { result, .. } | Event::Item { result, .. } => result,
                Event::Command(_) => Value::Null,
            };
        }
        match event {
            Event::Item { .. } => self.accumulated(node, route),
            Event::Action { result, .. } if truthy(&result) => result,
            _ => Value::Array(Vec::new()),
        }
    }
}
