//! Advancing on a task result: item bookkeeping, retry, transitions
//! (`when`, `publish`, `do`), engine commands, joins, split routes and
//! fail-fast.

use serde_json::Value;

use super::launch::{error_entry, eval_number, FieldError};
use super::state::{Ctx, CtxId, InstStatus, Phase, RouteView, Staged};
use super::{Conductor, TaskResult, TaskStatus};
use crate::expr::{evaluate_str, evaluate_value, functions::truthy, Env, Scope};
use crate::graph::Target;

/// Retries the `retry` engine command allows when the task has no policy.
const COMMAND_RETRIES: u32 = 3;

/// A transition whose `when` held, with its outgoing context.
struct Fired {
    index: usize,
    ctx: Option<Ctx>,
}

impl Conductor {
    /// Record a result for an active execution.
    pub(super) fn accept(&mut self, result: TaskResult, env: &dyn Env) {
        let key = result.key;
        self.state.active.swap_remove(&key);
        let Some(t) = self.spec.tasks.get_index_of(&key.task) else {
            return;
        };
        let Some(&inst) = self.state.latest[t].get(&key.route) else {
            return;
        };
        let status = match result.status {
            TaskStatus::Succeeded => InstStatus::Succeeded,
            TaskStatus::Failed | TaskStatus::Timeout | TaskStatus::Abandoned => InstStatus::Failed,
            TaskStatus::Canceled => InstStatus::Canceled,
        };
        let Some(index) = key.item else {
            self.complete(inst, status, result.result, env);
            return;
        };
        let Some(items) = self.state.instances[inst].items.as_mut() else {
            return;
        };
        if let Some(slot) = items.results.get_mut(index) {
            *slot = result.result;
        }
        items.active = items.active.saturating_sub(1);
        match status {
            InstStatus::Failed => items.failed = true,
            InstStatus::Canceled => items.canceled = true,
            _ => {}
        }
        let done = items.active == 0
            && (items.launched == items.values.len() || items.failed || items.canceled);
        if done {
            let status = if items.canceled {
                InstStatus::Canceled
            } else if items.failed {
                InstStatus::Failed
            } else {
                InstStatus::Succeeded
            };
            let results = Value::Array(std::mem::take(&mut items.results));
            self.state.items_waiting.remove(&inst);
            self.complete(inst, status, results, env);
        }
    }

    fn scope<'a>(
        &'a self,
        view: &'a RouteView<'a>,
        ctx: CtxId,
        task: &'a str,
        result: &'a Value,
        env: &'a dyn Env,
    ) -> Scope<'a> {
        Scope {
            ctx: &self.state.contexts[ctx].vars,
            task: Some(task),
            result: Some(result),
            item: None,
            statuses: view,
            env,
        }
    }

    fn retry_allowed(&self) -> bool {
        matches!(self.state.phase, Phase::Running | Phase::Pausing) && !self.state.failing
    }

    /// The task's retry policy says to run it again.
    fn policy_retry(&self, inst: usize, result: &Value, env: &dyn Env) -> Result<bool, FieldError> {
        let i = &self.state.instances[inst];
        let (name, task) = self.spec.tasks.get_index(i.task).expect("task index");
        let Some(retry) = &task.retry else {
            return Ok(false);
        };
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: i.route,
        };
        let scope = self.scope(&view, i.ctx, name, result, env);
        let count = eval_number(&retry.count, "retry count", &scope)
            .map_err(|e| ("retry.count".to_string(), e))?;
        if f64::from(i.attempt) >= count {
            return Ok(false);
        }
        match &retry.when {
            None => Ok(i.status == InstStatus::Failed),
            Some(when) => evaluate_str(when, &scope)
                .map(|v| truthy(&v))
                .map_err(|e| ("retry.when".to_string(), e)),
        }
    }

    fn command_retry_limit(&self, inst: usize, result: &Value, env: &dyn Env) -> u32 {
        let i = &self.state.instances[inst];
        let (name, task) = self.spec.tasks.get_index(i.task).expect("task index");
        let Some(retry) = &task.retry else {
            return COMMAND_RETRIES;
        };
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: i.route,
        };
        eval_number(
            &retry.count,
            "retry count",
            &self.scope(&view, i.ctx, name, result, env),
        )
        .map_or(COMMAND_RETRIES, |n| n.max(0.0) as u32)
    }

    fn retry(&mut self, inst: usize) {
        let i = &mut self.state.instances[inst];
        i.attempt += 1;
        i.status = InstStatus::Running;
        i.items = None;
        let staged = Staged {
            task: i.task,
            route: i.route,
            ctx: i.ctx,
            run_on_fail: false,
            retry_of: Some(inst),
        };
        self.state.queue.push_front(staged);
    }

    /// Evaluate `when` and `publish` of every transition, in order.
    fn evaluate_transitions(
        &self,
        inst: usize,
        result: &Value,
        env: &dyn Env,
    ) -> (Vec<Fired>, Vec<FieldError>) {
        let i = &self.state.instances[inst];
        let (name, task) = self.spec.tasks.get_index(i.task).expect("task index");
        let view = RouteView {
            spec: &self.spec,
            state: &self.state,
            route: i.route,
        };
        let scope = self.scope(&view, i.ctx, name, result, env);
        let mut fired = Vec::new();
        let mut errors = Vec::new();
        for (index, transition) in task.next.iter().enumerate() {
            if let Some(when) = &transition.when {
                match evaluate_str(when, &scope) {
                    Ok(v) if truthy(&v) => {}
                    Ok(_) => continue,
                    Err(e) => {
                        errors.push((format!("next[{index}].when"), e));
                        continue;
                    }
                }
            }
            if transition.publish.is_empty() {
                fired.push(Fired { index, ctx: None });
                continue;
            }
            let base = &self.state.contexts[i.ctx];
            let mut ctx = Ctx {
                vars: base.vars.clone(),
                dirty: base.dirty.clone(),
            };
            let mut ok = true;
            for p in &transition.publish {
                // Later publishes see earlier ones.
                let scope = Scope {
                    ctx: &ctx.vars,
                    ..self.scope(&view, i.ctx, name, result, env)
                };
                match evaluate_value(&p.value, &scope) {
                    Ok(v) => {
                        ctx.vars.insert(p.name.clone(), v);
                        if let Err(pos) = ctx.dirty.binary_search(&p.name) {
                            ctx.dirty.insert(pos, p.name.clone());
                        }
                    }
                    Err(e) => {
                        errors.push((format!("next[{index}].publish.{}", p.name), e));
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                fired.push(Fired {
                    index,
                    ctx: Some(ctx),
                });
            }
        }
        (fired, errors)
    }

    /// A task instance finished (all of its items, for with-items).
    pub(super) fn complete(
        &mut self,
        inst: usize,
        status: InstStatus,
        result: Value,
        env: &dyn Env,
    ) {
        self.state.instances[inst].status = status;
        let (t, route, in_ctx) = {
            let i = &self.state.instances[inst];
            (i.task, i.route, i.ctx)
        };
        self.rearm_join(t, route);

        if self.retry_allowed() {
            match self.policy_retry(inst, &result, env) {
                Ok(true) => return self.retry(inst),
                Ok(false) => {}
                Err(e) => return self.task_error(inst, e),
            }
        }

        let (fired, errors) = self.evaluate_transitions(inst, &result, env);
        let name = self
            .spec
            .tasks
            .get_index(t)
            .map_or(String::new(), |(k, _)| k.clone());
        for (field, e) in errors {
            self.state
                .errors
                .push(error_entry(format!("{field}: {e}"), Some((&name, route))));
            self.state.failing = true;
        }

        let (mut manual_fail, mut remediated, mut wants_retry) = (false, false, false);
        for f in &fired {
            for target in &self.graph.targets[t][f.index] {
                match target {
                    Target::Fail => manual_fail = true,
                    Target::Noop | Target::Task(_) => remediated = true,
                    Target::Retry => wants_retry = true,
                    Target::Continue | Target::Undefined => {}
                }
            }
        }
        if wants_retry
            && self.retry_allowed()
            && self.state.instances[inst].attempt < self.command_retry_limit(inst, &result, env)
        {
            return self.retry(inst);
        }

        if fired.is_empty() {
            self.state.terminal.push(in_ctx);
        }
        for f in fired {
            let out_ctx = match f.ctx {
                Some(ctx) => self.state.push_ctx(ctx),
                None => in_ctx,
            };
            let mut leads_on = false;
            for k in 0..self.graph.targets[t][f.index].len() {
                if let Target::Task(next) = self.graph.targets[t][f.index][k] {
                    leads_on = true;
                    self.stage_next(t, route, f.index, next, out_ctx, manual_fail);
                }
            }
            if !leads_on {
                self.state.terminal.push(out_ctx);
            }
        }

        match status {
            InstStatus::Failed if !remediated || manual_fail => {
                let mut entry = error_entry(
                    "Execution failed. See result for details.".into(),
                    Some((&name, route)),
                );
                entry.result = Some(result);
                self.state.errors.push(entry);
                self.state.failing = true;
            }
            InstStatus::Canceled => {
                if matches!(self.state.phase, Phase::Running | Phase::Pausing) {
                    self.state.phase = Phase::Canceling;
                }
            }
            _ if manual_fail => {
                self.state.errors.push(error_entry(
                    "The workflow failed by the \"fail\" command in a task transition.".into(),
                    Some((&name, route)),
                ));
                self.state.failing = true;
            }
            _ => {}
        }
    }

    /// After a join task ran, let it wait again when every inbound branch
    /// arrived (a join inside a cycle); late arrivals of a `join: N` are
    /// otherwise ignored.
    fn rearm_join(&mut self, t: usize, route: u32) {
        if self.spec.tasks[t].join.is_none() {
            return;
        }
        let all = self.graph.inbound_sources[t] as usize;
        if self.state.joins[t]
            .get(&route)
            .is_some_and(|w| w.fired && w.arrived.len() >= all)
        {
            self.state.joins[t].remove(&route);
        }
    }

    fn stage_next(
        &mut self,
        src: usize,
        route: u32,
        transition: usize,
        next: usize,
        ctx: CtxId,
        run_on_fail: bool,
    ) {
        if let Some(required) = self.graph.join_requirement(&self.spec, next) {
            let wait = self.state.joins[next].entry(route).or_default();
            if wait.fired {
                return;
            }
            wait.arrived.insert(src);
            if wait.ctxs.last() != Some(&ctx) {
                wait.ctxs.push(ctx);
            }
            if wait.arrived.len() as u32 >= required {
                wait.fired = true;
                let ids = std::mem::take(&mut wait.ctxs);
                let merged = self.state.merge_ctxs(&ids);
                self.state.queue.push_back(Staged {
                    task: next,
                    route,
                    ctx: merged,
                    run_on_fail,
                    retry_of: None,
                });
            }
            return;
        }
        let next_route = if self.graph.is_split(&self.spec, next) {
            let mut path = self
                .state
                .routes
                .get_index(route as usize)
                .cloned()
                .unwrap_or_default();
            let step = format!(
                "{}__t{transition}",
                self.spec
                    .tasks
                    .get_index(src)
                    .map_or("", |(k, _)| k.as_str())
            );
            if !path.contains(&step) {
                path.push(step);
            }
            self.state.routes.insert_full(path).0 as u32
        } else {
            route
        };
        self.state.queue.push_back(Staged {
            task: next,
            route: next_route,
            ctx,
            run_on_fail,
            retry_of: None,
        });
    }
}
