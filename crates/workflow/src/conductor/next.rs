//! Handing out tasks: Orquesta's `get_next_tasks` (render each staged task:
//! action, input, delay, items under a concurrency limit; requests sorted by
//! task name and route) driven as StackStorm's `request_next_tasks` drives
//! it: mark every task of a batch running, complete tasks without an action
//! on the spot, request the rest, and ask again until nothing is left.

use serde_json::{Map, Value};

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
                    self.active.insert(key.clone());
                    out.push(TaskRequest {
                        key,
                        action: action.unwrap_or_default(),
                        input,
                        delay_seconds: delay.filter(|d| *d > 0).map(|d| d as f64),
                        attempt: task.attempt,
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
    /// the task has nothing to hand out now.
    fn render_task(
        &mut self,
        node: NodeId,
        route: u32,
        env: &dyn Env,
    ) -> Result<Option<NextTask>, ExpressionError> {
        let (name, task) = match self.spec.tasks.get_index(node as usize) {
            Some((n, t)) => (n.clone(), t.clone()),
            None => return Ok(None),
        };
        let staged = self
            .state
            .staged(node, route)
            .cloned()
            .expect("staged task");
        let ctxs = if staged.ctxs.is_empty() {
            vec![0]
        } else {
            staged.ctxs.clone()
        };
        let ctx = self.state.merged(&ctxs);
        let attempt = staged.retry.as_ref().map_or(0, |r| r.tally);
        let view = StateView::new(self);
        let scope = Scope {
            ctx: &ctx,
            task: Some(CurrentTask { name: &name, route }),
            result: None,
            item: None,
            statuses: &view,
            env,
        };
        let delay = match &staged.retry {
            Some(r) => r.delay,
            None => match &task.delay {
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
            },
        };
        let render_action = |scope: &Scope<'_>| -> Result<Option<String>, ExpressionError> {
            match &task.action {
                None => Ok(None),
                Some(a) => Ok(Some(match evaluate_str(a, scope)? {
                    Value::String(s) => s,
                    other => python_str(&other),
                })),
            }
        };
        let render_input = |scope: &Scope<'_>| -> Result<Map<String, Value>, ExpressionError> {
            match evaluate_value(&Value::Object(task.input.clone()), scope)? {
                Value::Object(m) => Ok(m),
                _ => Ok(Map::new()),
            }
        };
        let Some(with) = &task.with else {
            let action = render_action(&scope)?;
            let input = render_input(&scope)?;
            return Ok(Some(NextTask {
                node,
                route,
                actions: vec![(None, (action, input))],
                items_count: None,
                concurrency: None,
                delay,
                attempt,
            }));
        };
        // With items: rendered once per staging, then handed out by the
        // concurrency limit.
        let (actions, concurrency) = match &staged.actions {
            Some(actions) => {
                let concurrency = match &with.concurrency {
                    None => None,
                    Some(c) => concurrency_value(&evaluate_value(c, &scope)?),
                };
                (actions.clone(), concurrency)
            }
            None => {
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
                        ctx: &ctx,
                        task: Some(CurrentTask { name: &name, route }),
                        result: None,
                        statuses: &view,
                        env,
                    };
                    actions.push((render_action(&item_scope)?, render_input(&item_scope)?));
                }
                let concurrency = match &with.concurrency {
                    None => None,
                    Some(c) => concurrency_value(&evaluate_value(c, &scope)?),
                };
                (actions, concurrency)
            }
        };
        let count = actions.len();
        let statuses = self
            .state
            .with_staged(node, route, |s| {
                if s.items.as_ref().is_none_or(Vec::is_empty) {
                    s.items = Some(vec![St::Unset; count]);
                }
                if s.actions.is_none() {
                    s.actions = Some(actions.clone());
                }
                s.items.clone().unwrap_or_default()
            })
            .unwrap_or_default();
        let not_run: Vec<usize> = (0..count)
            .filter(|i| statuses.get(*i) == Some(&St::Unset))
            .collect();
        let active = statuses.iter().filter(|s| s.is_active()).count() as i64;
        let chosen: Vec<usize> = match concurrency {
            Some(c) => {
                let room = c - active;
                if room > 0 {
                    not_run.into_iter().take(room as usize).collect()
                } else {
                    Vec::new()
                }
            }
            None => not_run,
        };
        if chosen.is_empty() && count > 0 {
            return Ok(None);
        }
        Ok(Some(NextTask {
            node,
            route,
            actions: chosen
                .into_iter()
                .map(|i| (Some(i), actions[i].clone()))
                .collect(),
            items_count: Some(count),
            concurrency,
            delay,
            attempt,
        }))
    }
}

fn concurrency_value(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// The expression part of `x, y in <% ... %>` as Orquesta quotes it.
fn items_expression(items: &str) -> &str {
    items.trim()
}
