//! Handing out tasks: Orquesta's `get_next_tasks` (render each staged task:
//! action, input, delay, items under a concurrency limit; requests sorted by
//! task name and route) driven as StackStorm's `request_next_tasks` drives
//! it: mark every task of a batch running, complete tasks without an action
//! on the spot, request the rest, and ask again until nothing is left.

use serde_json::{Map, Value};

use super::items::Items;
use super::machines::St;
use super::state::Rendered;
use super::update::Event;
use super::view::StateView;
use super::{Conductor, TaskKey, TaskRequest};
use crate::expr::{
    evaluate_str, evaluate_value, functions::python_str, CurrentTask, Env, ExpressionError, Scope,
};
use crate::graph::NodeId;

/// Tasks without an action completed in one call before the conductor
/// stops: such a task that loops on itself never waits for anything.
const ACTIONLESS_LIMIT: usize = 10_000;

/// A rendered task, ready to hand out.
struct NextTask {
    node: NodeId,
    route: u32,
    /// (item, action and input) to request now.
    actions: Vec<(Option<usize>, Rendered)>,
    items_count: Option<usize>,
    concurrency: Option<i64>,
    delay: Option<i64>,
    attempt: u32,
}

impl Conductor {
    /// StackStorm's `request_next_tasks` loop; returns the requests.
    pub(super) fn pump(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        let mut out = Vec::new();
        let mut actionless = 0usize;
        loop {
            let batch = self.get_next_tasks(env);
            if batch.is_empty() {
                break;
            }
            for task in &batch {
                self.mark_running(task);
            }
            for task in batch {
                let has_items = task.items_count.is_some();
                self.open_record(task.node, task.route, task.items_count);
                if has_items && task.items_count == Some(0) {
                    self.close_record(task.node, task.route, None, St::Succeeded, &Value::Null);
                    self.update_task_state(
                        task.node,
                        task.route,
                        Event::Action {
                            status: St::Succeeded,
                            result: Value::Null,
                        },
                        env,
                    );
                    continue;
                }
                if !has_items && task.actions.first().is_some_and(|a| a.1 .0.is_none()) {
                    actionless += 1;
                    if actionless > ACTIONLESS_LIMIT {
                        let message = format!(
                            "ActionlessLoopError: task \"{}\" ran {ACTIONLESS_LIMIT} times without an action in one step; give a task of the loop an action (e.g. core.noop) or a condition that ends it.",
                            self.name(task.node)
                        );
                        self.log_error(message, Some((task.node, task.route)), None);
                        self.request_workflow_status(St::Failed, env);
                        return out;
                    }
                    self.close_record(task.node, task.route, None, St::Succeeded, &Value::Null);
                    self.update_task_state(
                        task.node,
                        task.route,
                        Event::Action {
                            status: St::Succeeded,
                            result: Value::Null,
                        },
                        env,
                    );
                    continue;
                }
                for (item, (action, input)) in task.actions {
                    let delay = match (task.delay, item, task.concurrency) {
                        (Some(d), None, _) | (Some(d), Some(_), None) => Some(d),
                        (Some(d), Some(i), Some(c)) if (i as i64) < c => Some(d),
                        _ => None,
                    };
                    let key = TaskKey {
                        task: self.name(task.node).to_string(),
                        route: task.route,
                        item,
                    };
                    self.active
                        .insert((task.node, task.route, item.map(|i| i as u32)));
                    out.push(TaskRequest {
                        key,
                        action: action.unwrap_or_default(),
                        input,
                        delay_seconds: delay.filter(|d| *d > 0).map(|d| d as f64),
                        attempt: task.attempt,
                        items_count: item.and(task.items_count),
                    });
                }
            }
            self.after_event(env);
        }
        self.after_event(env);
        out
    }

    /// Mark a handed-out task (each item) running.
    fn mark_running(&mut self, task: &NextTask) {
        let env = crate::expr::NoKv;
        if task.items_count == Some(0) {
            self.update_task_state(
                task.node,
                task.route,
                Event::Action {
                    status: St::Running,
                    result: Value::Null,
                },
                &env,
            );
            return;
        }
        for (item, _) in &task.actions {
            let event = match item {
                Some(i) => Event::Item {
                    item: *i,
                    status: St::Running,
                    result: Value::Null,
                },
                None => Event::Action {
                    status: St::Running,
                    result: Value::Null,
                },
            };
            self.update_task_state(task.node, task.route, event, &env);
        }
    }

    /// Orquesta's `get_next_tasks`.
    fn get_next_tasks(&mut self, env: &dyn Env) -> Vec<NextTask> {
        let failed = self.state.status == St::Failed;
        let candidates: Vec<(NodeId, u32, bool)> = self
            .state
            .staged
            .values()
            .filter(|s| s.counts_as_staged())
            .map(|s| (s.node, s.route, s.run_on_fail))
            .collect();
        let remediation: Vec<(NodeId, u32)> = if failed {
            candidates
                .iter()
                .filter(|c| c.2)
                .map(|c| (c.0, c.1))
                .collect()
        } else {
            Vec::new()
        };
        if !self.state.status.is_running() && remediation.is_empty() {
            return Vec::new();
        }
        let list: Vec<(NodeId, u32)> = if remediation.is_empty() {
            candidates.into_iter().map(|c| (c.0, c.1)).collect()
        } else {
            remediation
        };
        let mut next = Vec::new();
        let mut errors = Vec::new();
        for (node, route) in list {
            match self.render_task(node, route, env) {
                Ok(Some(task)) => next.push(task),
                Ok(None) => {}
                Err(e) => errors.push((node, route, e)),
            }
        }
        if !errors.is_empty() {
            for (node, route, e) in errors {
                self.log_error(e.to_string(), Some((node, route)), None);
            }
            self.request_workflow_status(St::Failed, env);
            return Vec::new();
        }
        next.sort_by(|a, b| {
            self.name(a.node)
                .cmp(self.name(b.node))
                .then(a.route.cmp(&b.route))
        });
        next
    }

    /// Orquesta's `get_task` and `_evaluate_task_actions`: `Ok(None)` when
    /// the task has nothing to hand out now. A with-items task renders its
    /// items once per staging; later calls only hand out the next items.
    fn render_task(
        &mut self,
        node: NodeId,
        route: u32,
        env: &dyn Env,
    ) -> Result<Option<NextTask>, ExpressionError> {
        let Some(staged) = self.state.staged(node, route) else {
            return Ok(None);
        };
        let attempt = staged.retry.as_ref().map_or(0, |r| r.tally);
        let retry_delay = staged.retry.as_ref().map(|r| r.delay);
        if staged.actions.is_some() {
            return Ok(self.next_items(node, route, attempt, retry_delay));
        }
        let rendered = self.render(node, route, env)?;
        let Some(task) = self.spec.tasks.get_index(node as usize).map(|(_, t)| t) else {
            return Ok(None);
        };
        let delay = retry_delay.unwrap_or(rendered.delay);
        if task.with.is_none() {
            return Ok(Some(NextTask {
                node,
                route,
                actions: rendered.actions.into_iter().map(|a| (None, a)).collect(),
                items_count: None,
                concurrency: None,
                delay,
                attempt,
            }));
        }
        let count = rendered.actions.len();
        self.state.with_staged(node, route, |s| {
            if s.items.as_ref().is_none_or(|i| i.len() == 0) {
                s.items = Some(Items::new(count));
            }
            s.actions = Some(rendered.actions);
            s.concurrency = rendered.concurrency;
            s.delay = rendered.delay;
        });
        if count == 0 {
            return Ok(Some(NextTask {
                node,
                route,
                actions: Vec::new(),
                items_count: Some(0),
                concurrency: rendered.concurrency,
                delay,
                attempt,
            }));
        }
        Ok(self.next_items(node, route, attempt, retry_delay))
    }

    /// The next items of a with-items task under its concurrency.
    fn next_items(
        &mut self,
        node: NodeId,
        route: u32,
        attempt: u32,
        retry_delay: Option<Option<i64>>,
    ) -> Option<NextTask> {
        let (chosen, actions, count, concurrency, delay) = self
            .state
            .with_staged(node, route, |s| {
                let concurrency = s.concurrency;
                let items = s.items.as_mut()?;
                let room = match concurrency {
                    Some(c) => (c - i64::from(items.count(St::is_active))).max(0) as usize,
                    None => usize::MAX,
                };
                let chosen = items.take_unset(room);
                let actions = s.actions.as_ref()?;
                let picked: Vec<(Option<usize>, Rendered)> = chosen
                    .iter()
                    .map(|i| (Some(*i), actions[*i].clone()))
                    .collect();
                Some((chosen, picked, actions.len(), concurrency, s.delay))
            })
            .flatten()?;
        if chosen.is_empty() {
            return None;
        }
        Some(NextTask {
            node,
            route,
            actions,
            items_count: Some(count),
            concurrency,
            delay: retry_delay.unwrap_or(delay),
            attempt,
        })
    }

    /// Render a staged task: its action and input (once per item for
    /// with-items), delay and concurrency.
    fn render(
        &self,
        node: NodeId,
        route: u32,
        env: &dyn Env,
    ) -> Result<RenderedTask, ExpressionError> {
        let (name, task) = self.spec.tasks.get_index(node as usize).expect("task node");
        let staged = self.state.staged(node, route).expect("staged task");
        let owned;
        let ctx: &Map<String, Value> = if staged.ctxs.is_empty() {
            &self.state.contexts[0]
        } else {
            owned = self.state.merged(&staged.ctxs);
            &owned
        };
        let view = StateView::new(self);
        let scope = Scope {
            ctx,
            task: Some(CurrentTask { name, route }),
            result: None,
            item: None,
            statuses: &view,
            env,
        };
        let delay = match &task.delay {
            None => None,
            Some(d) => {
                let v = match d {
                    Value::String(s) => evaluate_str(s, &scope)?,
                    other => other.clone(),
                };
                match v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64(),
                    Value::Bool(b) => Some(i64::from(b)),
                    _ => {
                        return Err(ExpressionError::type_error(
                            "",
                            "The value of task delay is not type of integer.",
                        ))
                    }
                }
            }
        };
        let render_one = |scope: &Scope<'_>| -> Result<Rendered, ExpressionError> {
            let action = match &task.action {
                None => None,
                Some(a) => Some(match evaluate_str(a, scope)? {
                    Value::String(s) => s,
                    other => python_str(&other),
                }),
            };
            let mut input = Map::new();
            for (k, v) in &task.input {
                let key = match evaluate_str(k, scope)? {
                    Value::String(k) => k,
                    other => python_str(&other),
                };
                input.insert(key, evaluate_value(v, scope)?);
            }
            Ok((action, input))
        };
        let Some(with) = &task.with else {
            return Ok(RenderedTask {
                actions: vec![render_one(&scope)?],
                concurrency: None,
                delay,
            });
        };
        let items = match evaluate_str(&with.items, &scope)? {
            Value::Array(items) => items,
            _ => {
                return Err(ExpressionError::type_error(
                    &with.items,
                    format!(
                        "The value of \"{}\" is not type of list.",
                        items_expression(&with.items)
                    ),
                ))
            }
        };
        let mut actions = Vec::with_capacity(items.len());
        for item in items {
            let item = match (with.vars.len(), item) {
                (0, item) => item,
                (_, Value::Array(cells)) => {
                    Value::Object(with.vars.iter().cloned().zip(cells).collect())
                }
                (1, item) => {
                    let mut m = Map::new();
                    m.insert(with.vars[0].clone(), item);
                    Value::Object(m)
                }
                (_, item) => item,
            };
            let item_scope = Scope {
                item: Some(&item),
                ctx,
                task: Some(CurrentTask { name, route }),
                result: None,
                statuses: &view,
                env,
            };
            actions.push(render_one(&item_scope)?);
        }
        let concurrency = match &with.concurrency {
            None => None,
            Some(c) => concurrency_value(&evaluate_value(c, &scope)?),
        };
        Ok(RenderedTask {
            actions,
            concurrency,
            delay,
        })
    }
}

/// A task rendered from its spec.
struct RenderedTask {
    actions: Vec<Rendered>,
    concurrency: Option<i64>,
    delay: Option<i64>,
}

fn concurrency_value(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// The expression part of `x, y in <% ... %>` as Orquesta quotes it.
fn items_expression(items: &str) -> &str {
    items.trim()
}
