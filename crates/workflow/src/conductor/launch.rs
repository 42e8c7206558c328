//! Starting the workflow and turning staged tasks into requests: input and
//! vars rendering, task input/delay rendering, with-items fan-out under a
//! concurrency limit, and the end-of-workflow check with output rendering.

use serde_json::{Map, Value};

use super::state::{Ctx, InstStatus, Instance, Items, Phase, RouteView, Staged};
use super::{Conductor, ErrorEntry, TaskKey, TaskRequest};
use crate::expr::{
    evaluate_str, evaluate_value, functions::type_name, Env, ExpressionError, Scope,
};

/// An expression that failed while conducting, with the field it sits in.
pub(super) type FieldError = (String, ExpressionError);

pub(super) fn error_entry(message: String, task: Option<(&str, u32)>) -> ErrorEntry {
    ErrorEntry {
        kind: "error".into(),
        message,
        task_id: task.map(|(t, _)| t.to_string()),
        route: task.map(|(_, r)| r),
        task_transition_id: None,
        result: None,
    }
}

fn number(value: &Value, what: &str, expression: &str) -> Result<f64, ExpressionError> {
    value.as_f64().ok_or_else(|| ExpressionError {
        expression: expression.to_string(),
        reason: format!("{what} must be a number, got a {}", type_name(value)),
    })
}

/// Evaluate a field that is a number or an expression producing one.
pub(super) fn eval_number(
    value: &Value,
    what: &str,
    scope: &Scope<'_>,
) -> Result<f64, ExpressionError> {
    match value {
        Value::String(s) => number(&evaluate_str(s, scope)?, what, s),
        other => number(other, what, &other.to_string()),
    }
}

impl Conductor {
    /// Render input defaults and vars into the initial context and stage the
    /// start tasks.
    pub(super) fn begin(&mut self, env: &dyn Env) {
        let mut ctx = Map::new();
        let mut errors = Vec::new();
        for p in &self.spec.input {
            let value = match (self.input.get(&p.name), &p.default) {
                (Some(given), _) => Ok(given.clone()),
                (None, Some(default)) => evaluate_value(default, &Scope::workflow(&ctx, env)),
                (None, None) => Ok(Value::Null),
            };
            match value {
                Ok(v) => {
                    ctx.insert(p.name.clone(), v);
                }
                Err(e) => errors.push(error_entry(format!("input.{}: {e}", p.name), None)),
            }
        }
        for var in &self.spec.vars {
            match evaluate_value(&var.value, &Scope::workflow(&ctx, env)) {
                Ok(v) => {
                    ctx.insert(var.name.clone(), v);
                }
                Err(e) => errors.push(error_entry(format!("vars.{}: {e}", var.name), None)),
            }
        }
        self.state.routes.insert(Vec::new());
        self.state.push_ctx(Ctx {
            vars: ctx,
            dirty: Vec::new(),
        });
        self.state.phase = Phase::Running;
        if !errors.is_empty() {
            self.state.errors.extend(errors);
            self.state.failing = true;
            return;
        }
        for &t in &self.graph.starts {
            self.state.queue.push_back(Staged {
                task: t,
                route: 0,
                ctx: 0,
                run_on_fail: false,
                retry_of: None,
            });
        }
    }

    fn can_launch(&self) -> bool {
        self.state.phase == Phase::Running && !self.state.failing
    }

    fn next_launchable(&mut self) -> Option<Staged> {
        if self.state.phase != Phase::Running {
            return None;
        }
        if !self.state.failing {
            return self.state.queue.pop_front();
        }
        let pos = self.state.queue.iter().position(|s| s.run_on_fail)?;
        self.state.queue.remove(pos)
    }

    /// Launch everything that may launch now, then check for the end.
    pub(super) fn pump(&mut self, env: &dyn Env) -> Vec<TaskRequest> {
        let mut out = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(staged) = self.next_launchable() {
                self.launch(staged, env, &mut out);
                progressed = true;
            }
            if self.can_launch() && !self.state.items_waiting.is_empty() {
                let waiting: Vec<usize> = self.state.items_waiting.iter().copied().collect();
                for inst in waiting {
                    progressed |= self.fill_items(inst, env, &mut out);
                }
            }
            if !progressed {
                break;
            }
        }
        self.settle(env);
        out
    }

    fn launch(&mut self, staged: Staged, env: &dyn Env, out: &mut Vec<TaskRequest>) {
        let inst = match staged.retry_of {
            Some(inst) => inst,
            None => {
                self.state.instances.push(Instance {
                    task: staged.task,
                    route: staged.route,
                    ctx: staged.ctx,
                    status: InstStatus::Running,
                    attempt: 0,
                    items: None,
                });
                let inst = self.state.instances.len() - 1;
                self.state.latest[staged.task].insert(staged.route, inst);
                inst
            }
        };
        let task = &self.spec.tasks[staged.task];
        if task.with.is_some() {
            self.start_items(inst, env, out);
        } else if task.is_noop() {
            self.complete(inst, InstStatus::Succeeded, Value::Null, env);
        } else {
            match self.request_for(inst, None, env) {
                Ok(request) => {
                    self.state.active.insert(request.key.clone());
                    out.push(request);
                }
                Err(e) => self.task_error(inst, e),
            }
        }
    }

    /// Record an expression error of a task and fail the workflow.
    pub(super) fn task_error(&mut self, inst: usize, (field, e): FieldError) {
        let (task, route, ctx) = {
            let i = &mut self.state.instances[inst];
            i.status = InstStatus::Failed;
            (i.task, i.route, i.ctx)
        };
        if let Some(items) = self.state.instances[inst].items.as_mut() {
            items.failed = true;
        }
        self.state.items_waiting.remove(&inst);
        let name = self
            .spec
            .tasks
            .get_index(task)
            .map_or("", |(k, _)| k.as_str());
        self.state
            .errors
            .push(error_entry(format!("{field}: {e}"), Some((name, route))));
        self.state.terminal.push(ctx);
        self.state.failing = true;
    }

    fn start_items(&mut self, inst: usize, env: &dyn Env, out: &mut Vec<TaskRequest>) {
        let prepared = self.prepare_items(inst, env);
        match prepared {
            Err(e) => self.task_error(inst, e),
            Ok(items) => {
                let count = items.values.len();
                let noop = self.spec.tasks[self.state.instances[inst].task].is_noop();
                if count == 0 || noop {
                    let results = Value::Array(vec![Value::Null; count]);
                    self.complete(inst, InstStatus::Succeeded, results, env);
                } else {
                    self.state.instances[inst].items = Some(items);
                    self.fill_items(inst, env, out);
                }
            }
        }
    }

    fn prepare_items(&self, inst: usize, env: &dyn Env) -> Result<Items, FieldError> {
        let i = &self.state.instances[inst];
        let with = self.spec.tasks[i.task]
            .with
            .as_ref()
            .expect("with-items task");
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: i.route,
        };
        let scope = Scope {
            ctx: &self.state.contexts[i.ctx].vars,
            task: None,
            result: None,
            item: None,
            statuses: &view,
            env,
        };
        let field = |name: &str| name.to_string();
        let list = match evaluate_str(&with.items, &scope).map_err(|e| (field("with.items"), e))? {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            other => {
                return Err((
                    field("with.items"),
                    ExpressionError {
                        expression: with.items.clone(),
                        reason: format!("the items must be a list, got a {}", type_name(&other)),
                    },
                ))
            }
        };
        let values = if with.vars.is_empty() {
            list
        } else {
            list.into_iter()
                .map(|row| {
                    let mut named = Map::new();
                    match (with.vars.len(), row) {
                        (1, value) => {
                            named.insert(with.vars[0].clone(), value);
                        }
                        (_, Value::Array(cells)) => {
                            let mut cells = cells.into_iter();
                            for name in &with.vars {
                                named.insert(name.clone(), cells.next().unwrap_or(Value::Null));
                            }
                        }
                        (_, other) => {
                            named.insert(with.vars[0].clone(), other);
                        }
                    }
                    Value::Object(named)
                })
                .collect()
        };
        let concurrency = match &with.concurrency {
            None => None,
            Some(c) => {
                let n = eval_number(c, "concurrency", &scope)
                    .map_err(|e| (field("with.concurrency"), e))?;
                (n >= 1.0).then_some(n as usize)
            }
        };
        let count = values.len();
        Ok(Items {
            values,
            results: vec![Value::Null; count],
            concurrency,
            launched: 0,
            active: 0,
            failed: false,
            canceled: false,
        })
    }

    /// Launch items up to the concurrency limit; true when any launched.
    pub(super) fn fill_items(
        &mut self,
        inst: usize,
        env: &dyn Env,
        out: &mut Vec<TaskRequest>,
    ) -> bool {
        if !self.can_launch() {
            return false;
        }
        let mut launched_any = false;
        while let Some(items) = self.state.instances[inst].items.as_ref() {
            let room = match items.concurrency {
                Some(limit) => items.active < limit,
                None => true,
            };
            if items.launched >= items.values.len() || items.failed || items.canceled || !room {
                break;
            }
            let index = items.launched;
            match self.request_for(inst, Some(index), env) {
                Ok(request) => {
                    let items = self.state.instances[inst].items.as_mut().expect("items");
                    items.launched += 1;
                    items.active += 1;
                    self.state.active.insert(request.key.clone());
                    out.push(request);
                    launched_any = true;
                }
                Err(e) => {
                    self.task_error(inst, e);
                    return launched_any;
                }
            }
        }
        let pending = self.state.instances[inst]
            .items
            .as_ref()
            .is_some_and(|i| i.launched < i.values.len() && !i.failed && !i.canceled);
        if pending {
            self.state.items_waiting.insert(inst);
        } else {
            self.state.items_waiting.remove(&inst);
        }
        launched_any
    }

    fn request_for(
        &self,
        inst: usize,
        item: Option<usize>,
        env: &dyn Env,
    ) -> Result<TaskRequest, FieldError> {
        let i = &self.state.instances[inst];
        let (name, task) = self.spec.tasks.get_index(i.task).expect("task index");
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: i.route,
        };
        let item_value = item.and_then(|n| i.items.as_ref().map(|items| &items.values[n]));
        let scope = Scope {
            ctx: &self.state.contexts[i.ctx].vars,
            task: None,
            result: None,
            item: item_value,
            statuses: &view,
            env,
        };
        let mut input = Map::new();
        for (k, v) in &task.input {
            let value = evaluate_value(v, &scope).map_err(|e| (format!("input.{k}"), e))?;
            input.insert(k.clone(), value);
        }
        let delay = if i.attempt > 0 {
            task.retry
                .as_ref()
                .and_then(|r| r.delay.as_ref())
                .map(|d| ("retry.delay", d))
        } else {
            task.delay.as_ref().map(|d| ("delay", d))
        };
        let delay_seconds = match delay {
            None => None,
            Some((field, d)) => {
                Some(eval_number(d, field, &scope).map_err(|e| (field.to_string(), e))?)
            }
        };
        Ok(TaskRequest {
            key: TaskKey {
                task: name.clone(),
                route: i.route,
                item,
            },
            action: task.action.clone().unwrap_or_else(|| "core.noop".into()),
            input,
            delay_seconds,
            attempt: i.attempt,
        })
    }

    /// Move to a final (or paused) status once nothing is active.
    pub(super) fn settle(&mut self, env: &dyn Env) {
        if !self.state.active.is_empty() {
            return;
        }
        let started = !self.state.contexts.is_empty();
        match self.state.phase {
            Phase::Canceling => {
                self.state.phase = Phase::Canceled;
                if started {
                    self.render_output(env);
                }
            }
            Phase::Running | Phase::Pausing if self.state.failing => {
                self.state.phase = Phase::Failed;
                self.render_output(env);
            }
            Phase::Pausing
                if !started
                    || !self.state.queue.is_empty()
                    || !self.state.items_waiting.is_empty() =>
            {
                self.state.phase = Phase::Paused;
            }
            Phase::Running | Phase::Pausing
                if self.state.queue.is_empty() && self.state.items_waiting.is_empty() =>
            {
                self.check_joins();
                self.state.phase = if self.state.errors.is_empty() {
                    Phase::Succeeded
                } else {
                    Phase::Failed
                };
                self.render_output(env);
            }
            _ => {}
        }
    }

    /// A join that some branches reached but that can no longer be satisfied.
    fn check_joins(&mut self) {
        let mut errors = Vec::new();
        for (t, waits) in self.state.joins.iter().enumerate() {
            for (route, wait) in waits {
                if wait.fired {
                    continue;
                }
                let name = self.spec.tasks.get_index(t).map_or("", |(k, _)| k.as_str());
                let required = self.graph.join_requirement(&self.spec, t).unwrap_or(0);
                errors.push(error_entry(
                    format!(
                        "UnreachableJoinError: the join task \"{name}\" is unreachable: {} of the {required} required inbound tasks arrived",
                        wait.arrived.len()
                    ),
                    Some((name, *route)),
                ));
            }
        }
        self.state.errors.extend(errors);
    }

    fn render_output(&mut self, env: &dyn Env) {
        // Branches cut short (fail-fast, cancel) end where they stopped.
        let stopped: Vec<_> = self
            .state
            .queue
            .iter()
            .map(|s| s.ctx)
            .chain(
                self.state
                    .joins
                    .iter()
                    .flat_map(|w| w.values())
                    .filter(|w| !w.fired)
                    .flat_map(|w| w.ctxs.iter().copied()),
            )
            .collect();
        self.state.terminal.extend(stopped);
        let ctx = self.state.terminal_ctx();
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: 0,
        };
        let scope = Scope {
            statuses: &view,
            ..Scope::workflow(&ctx, env)
        };
        let mut output = Map::new();
        let mut errors = Vec::new();
        for o in &self.spec.output {
            match evaluate_value(&o.value, &scope) {
                Ok(v) => {
                    output.insert(o.name.clone(), v);
                }
                Err(e) => errors.push(error_entry(format!("output.{}: {e}", o.name), None)),
            }
        }
        if !errors.is_empty() {
            self.state.errors.extend(errors);
            if self.state.phase == Phase::Succeeded {
                self.state.phase = Phase::Failed;
            }
        }
        self.state.output = Some(output);
    }
}
