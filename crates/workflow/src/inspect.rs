//! Static checks of a [`WorkflowSpec`] before it runs, as Orquesta's
//! `WorkflowSpec.inspect` makes them (`orquesta/specs/native/v1/models.py`,
//! `orquesta/specs/base.py`), so a workflow StackStorm accepts is accepted
//! here and one it refuses is refused, with the task and field named:
//!
//! - semantics: a start task exists; transitions (from tasks reachable
//!   from a start task) name defined tasks; a join is not behind nested
//!   splits it cannot tell apart; a with-items task has an action;
//! - expressions: every expression parses, YAQL and Jinja are not mixed;
//! - context: every `ctx(x)` / `ctx().x` reads a variable assigned before
//!   (input, vars, the caller's context such as `st2`, publishes on the way
//!   to the task, earlier outputs), found as Orquesta finds them.
//!
//! The shape of the document (Orquesta's schema) is checked when it is
//! parsed ([`WorkflowSpec::from_yaml`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::{self, functions::closest, vars};
use crate::graph::{Graph, NodeId};
use crate::spec::{TaskSpec, WorkflowSpec};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InspectionError {
    /// `None` for workflow-level fields (input, vars, output, tasks).
    pub task: Option<String>,
    /// Path inside the task or workflow, e.g. `next[1].do`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for InspectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.task, self.field.is_empty()) {
            (Some(task), false) => write!(f, "task \"{task}\" {}: {}", self.field, self.message),
            (Some(task), true) => write!(f, "task \"{task}\": {}", self.message),
            (None, _) => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[derive(Default)]
struct Collector {
    errors: Vec<InspectionError>,
}

impl Collector {
    fn error(&mut self, task: Option<&str>, field: impl Into<String>, message: String) {
        let e = InspectionError {
            task: task.map(String::from),
            field: field.into(),
            message,
        };
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// Syntax of every expression inside a value, keys included.
    fn expressions(&mut self, task: Option<&str>, field: &str, value: &Value) {
        if !expr::has_expression(value) {
            return;
        }
        let mut stack = vec![(field.to_string(), value)];
        while let Some((path, v)) = stack.pop() {
            match v {
                Value::String(s) => {
                    if let Err(e) = expr::check_str(s) {
                        self.error(task, path, syntax_message(&e));
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push((format!("{path}[{i}]"), item));
                    }
                }
                Value::Object(map) => {
                    for (k, item) in map.iter().rev() {
                        if let Err(e) = expr::check_str(k) {
                            self.error(
                                task,
                                path.clone(),
                                format!("{}: {}", e.class(), e.detail()),
                            );
                        }
                        stack.push((format!("{path}.{k}"), item));
                    }
                }
                _ => {}
            }
        }
    }

    /// Context variables read by a value (keys included) must be defined.
    fn context(
        &mut self,
        task: Option<&str>,
        field: &str,
        value: &Value,
        defined: &BTreeSet<String>,
    ) {
        if !reads_ctx(value) {
            return;
        }
        let mut names = BTreeSet::new();
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => names.extend(vars::extract(s)),
                Value::Array(items) => stack.extend(items.iter()),
                Value::Object(map) => {
                    for (k, item) in map {
                        names.extend(vars::extract(k));
                        stack.push(item);
                    }
                }
                _ => {}
            }
        }
        for name in names {
            if name.starts_with("__") {
                self.error(
                    task,
                    field,
                    format!("Variable \"{name}\" that is prefixed with double underscores is considered a private variable and cannot be referenced."),
                );
            }
            if !defined.contains(&name) {
                let hint = closest(&name, defined.iter().map(String::as_str))
                    .map(|n| format!(" Did you mean \"{n}\"?"))
                    .unwrap_or_default();
                self.error(
                    task,
                    field,
                    format!("Variable \"{name}\" is referenced before assignment.{hint}"),
                );
            }
        }
    }
}

/// Whether any string of the value (keys included) mentions `ctx(`.
fn reads_ctx(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains("ctx(") => return true,
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => {
                for (k, item) in map {
                    if k.contains("ctx(") {
                        return true;
                    }
                    stack.push(item);
                }
            }
            _ => {}
        }
    }
    false
}

/// Inspect a workflow with no caller context; `Err` lists every problem.
pub fn inspect(spec: &WorkflowSpec) -> Result<(), Vec<InspectionError>> {
    inspect_with(spec, &Graph::new(spec), &[])
}

/// Inspect with the graph built and the names the caller's context defines
/// (StackStorm: `st2`, `parent`).
pub(crate) fn inspect_with(
    spec: &WorkflowSpec,
    graph: &Graph,
    context: &[&str],
) -> Result<(), Vec<InspectionError>> {
    let mut c = Collector::default();
    semantics(spec, graph, &mut c);
    expressions(spec, &mut c);
    ctx_checks(spec, graph, context, &mut c);
    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(c.errors)
    }
}

fn semantics(spec: &WorkflowSpec, graph: &Graph, c: &mut Collector) {
    if graph.roots.is_empty() {
        c.error(
            None,
            "tasks",
            "Unable to identify any tasks to start the workflow. If the workflow has a loop, please add a task that serves as an entry point (or lead) into the loop.".into(),
        );
    }
    // Undefined targets, from the tasks reachable from a start task.
    let mut seen = vec![false; spec.tasks.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for r in &graph.roots {
        seen[*r as usize] = true;
        queue.push_back(*r as usize);
    }
    while let Some(t) = queue.pop_front() {
        let (name, task) = spec.tasks.get_index(t).expect("task index");
        for (i, tr) in task.next.iter().enumerate() {
            for target in &tr.targets {
                if let Some(next) = spec.tasks.get_index_of(target) {
                    if !std::mem::replace(&mut seen[next], true) {
                        queue.push_back(next);
                    }
                } else if !crate::spec::is_engine_command(target) {
                    let hint = closest(target, spec.tasks.keys().map(String::as_str))
                        .map(|n| format!(" Did you mean \"{n}\"?"))
                        .unwrap_or_default();
                    c.error(
                        Some(name),
                        format!("next[{i}].do"),
                        format!("The task \"{target}\" is not defined.{hint}"),
                    );
                }
            }
        }
    }
    unreachable_joins(spec, graph, c);
    for (name, task) in &spec.tasks {
        // StackStorm's content check (`inspect_task_contents`): an action
        // reference names `pack.action`; text after it that Orquesta did
        // not read as inline parameters makes it an unknown action.
        if let Some(a) = task
            .action
            .as_deref()
            .filter(|a| expr::language(a).is_none())
        {
            if !a.contains('.') {
                c.error(
                    Some(name),
                    "action",
                    format!("The action reference \"{a}\" is not formatted correctly."),
                );
            } else if a.contains(char::is_whitespace) {
                c.error(
                    Some(name),
                    "action",
                    format!("The action \"{a}\" is not registered in the database (an inline parameter value must be quoted, a number, a list, true/false/null or an expression, e.g. message=\"hi\")."),
                );
            }
        }
        if task.with.is_some() && task.action.is_none() {
            c.error(
                Some(name),
                "action",
                "The action property is required for with items task.".into(),
            );
        }
    }
}

/// Orquesta's `detect_unreachable_tasks`: a join whose inbound tasks sit
/// behind different splits than the join itself.
fn unreachable_joins(spec: &WorkflowSpec, graph: &Graph, c: &mut Collector) {
    if !spec.tasks.values().any(|t| t.join.is_some()) {
        return;
    }
    #[derive(Default)]
    struct Meta {
        splits: BTreeSet<NodeId>,
        prev: BTreeSet<NodeId>,
    }
    let mut staging: BTreeMap<NodeId, Meta> = BTreeMap::new();
    let mut order: Vec<NodeId> = Vec::new();
    let mut queue: VecDeque<(Option<NodeId>, NodeId, Vec<NodeId>)> =
        graph.roots.iter().map(|r| (None, *r, Vec::new())).collect();
    while let Some((prev, task, mut splits)) = queue.pop_front() {
        if graph.is_command(task) {
            continue;
        }
        if graph.split[task as usize] {
            splits.push(task);
        }
        let meta = staging.entry(task).or_insert_with(|| {
            order.push(task);
            Meta::default()
        });
        meta.splits.extend(splits.iter().copied());
        if let Some(p) = prev.filter(|_| graph.has_barrier(task)) {
            meta.prev.insert(p);
        }
        // The task's transitions in order of target name.
        for e in &graph.out[task as usize] {
            let next = graph.edges[*e as usize].dst;
            if !staging.contains_key(&next) || !graph.in_cycle[next as usize] {
                queue.push_back((Some(task), next, splits.clone()));
            }
        }
    }
    for task in order {
        if !graph.has_barrier(task) {
            continue;
        }
        let meta = &staging[&task];
        for p in &meta.prev {
            if staging.get(p).map(|m| &m.splits) != Some(&meta.splits) {
                c.error(
                    Some(graph.name(task)),
                    "",
                    format!("The join task \"{}\" is unreachable. A join task is determined to be unreachable if there are nested forks from multi-referenced tasks that join on the said task. This is ambiguous to the workflow engine because it does not know at which level should the join occurs.", graph.name(task)),
                );
                break;
            }
        }
    }
}

fn expressions(spec: &WorkflowSpec, c: &mut Collector) {
    for p in &spec.input {
        if let Some(d) = &p.default {
            c.expressions(None, &format!("input.{}", p.name), d);
        }
    }
    for v in &spec.vars {
        c.expressions(None, &format!("vars.{}", v.name), &v.value);
    }
    for o in &spec.output {
        c.expressions(None, &format!("output.{}", o.name), &o.value);
    }
    for (name, task) in &spec.tasks {
        let t = Some(name.as_str());
        if let Some(a) = &task.action {
            c.expressions(t, "action", &Value::String(a.clone()));
        }
        for (k, v) in &task.input {
            c.expressions(t, &format!("input.{k}"), v);
        }
        if let Some(with) = &task.with {
            c.expressions(t, "with.items", &Value::String(with.items.clone()));
            if let Some(conc) = &with.concurrency {
                c.expressions(t, "with.concurrency", conc);
            }
        }
        if let Some(retry) = &task.retry {
            if let Some(when) = &retry.when {
                c.expressions(t, "retry.when", &Value::String(when.clone()));
            }
            c.expressions(t, "retry.count", &retry.count);
            if let Some(delay) = &retry.delay {
                c.expressions(t, "retry.delay", delay);
            }
        }
        if let Some(delay) = &task.delay {
            c.expressions(t, "delay", delay);
        }
        for (i, tr) in task.next.iter().enumerate() {
            if let Some(when) = &tr.when {
                c.expressions(t, &format!("next[{i}].when"), &Value::String(when.clone()));
            }
            for p in &tr.publish {
                c.expressions(t, &format!("next[{i}].publish.{}", p.name), &p.value);
            }
            for target in &tr.targets {
                c.expressions(t, &format!("next[{i}].do"), &Value::String(target.clone()));
            }
        }
    }
}

/// Orquesta's `inspect_context`: variables flow from the caller's context,
/// input and vars through the tasks (breadth-first from the start tasks,
/// each task with the context of the first path that reaches it, a join
/// with the union of its inbound paths) to the output.
fn ctx_checks(spec: &WorkflowSpec, graph: &Graph, context: &[&str], c: &mut Collector) {
    let mut rolling: BTreeSet<String> = context.iter().map(|s| s.to_string()).collect();
    for p in &spec.input {
        let mut item = serde_json::Map::new();
        item.insert(p.name.clone(), p.default.clone().unwrap_or(Value::Null));
        c.context(
            None,
            &format!("input.{}", p.name),
            &Value::Object(item),
            &rolling,
        );
        rolling.insert(p.name.clone());
    }
    for v in &spec.vars {
        let mut item = serde_json::Map::new();
        item.insert(v.name.clone(), v.value.clone());
        c.context(
            None,
            &format!("vars.{}", v.name),
            &Value::Object(item),
            &rolling,
        );
        rolling.insert(v.name.clone());
    }

    let mut joins: BTreeMap<NodeId, BTreeSet<String>> = BTreeMap::new();
    let mut traversed: BTreeSet<NodeId> = BTreeSet::new();
    // Contexts are shared until a publish changes one.
    let start = Rc::new(rolling.clone());
    let mut queue: VecDeque<(NodeId, Option<Rc<BTreeSet<String>>>)> = graph
        .roots
        .iter()
        .map(|r| (*r, Some(start.clone())))
        .collect();
    while let Some((node, ctx)) = queue.pop_front() {
        traversed.insert(node);
        let task_ctx = match ctx {
            Some(ctx) if !ctx.is_empty() => ctx,
            _ => Rc::new(joins.get(&node).cloned().unwrap_or_default()),
        };
        if !task_ctx.is_subset(&rolling) {
            rolling.extend(task_ctx.iter().cloned());
        }
        let Some((name, task)) = spec.tasks.get_index(node as usize) else {
            continue;
        };
        task_context(name, task, &task_ctx, c);
        for (i, tr) in task.next.iter().enumerate() {
            for target in &tr.targets {
                if let Some(when) = tr.when.as_ref().filter(|w| w.contains("ctx(")) {
                    let when = Value::String(when.clone());
                    c.context(Some(name), &format!("next[{i}].when"), &when, &task_ctx);
                }
                let branch = if tr.publish.is_empty() {
                    task_ctx.clone()
                } else {
                    let mut branch = (*task_ctx).clone();
                    for p in &tr.publish {
                        let field = format!("next[{i}].publish.{}", p.name);
                        c.context(Some(name), &field, &p.value, &branch);
                        branch.insert(p.name.clone());
                    }
                    Rc::new(branch)
                };
                if target.contains("ctx(") {
                    let target = Value::String(target.clone());
                    c.context(Some(name), &format!("next[{i}].do"), &target, &branch);
                }
                let Some(next) = graph.node(target) else {
                    continue;
                };
                if traversed.contains(&next) {
                    continue;
                }
                if graph.has_barrier(next) {
                    joins
                        .entry(next)
                        .or_default()
                        .extend(branch.iter().cloned());
                    queue.push_back((next, None));
                } else {
                    queue.push_back((next, Some(branch)));
                }
            }
        }
    }

    for o in &spec.output {
        let mut item = serde_json::Map::new();
        item.insert(o.name.clone(), o.value.clone());
        c.context(
            None,
            &format!("output.{}", o.name),
            &Value::Object(item),
            &rolling,
        );
        rolling.insert(o.name.clone());
    }
}

/// A task's own fields, in Orquesta's order: delay, with, action, input.
fn task_context(name: &str, task: &TaskSpec, ctx: &BTreeSet<String>, c: &mut Collector) {
    let t = Some(name);
    if let Some(delay) = &task.delay {
        c.context(t, "delay", delay, ctx);
    }
    if let Some(with) = &task.with {
        c.context(t, "with.items", &Value::String(with.items.clone()), ctx);
        if let Some(conc) = &with.concurrency {
            c.context(t, "with.concurrency", conc, ctx);
        }
    }
    if let Some(a) = &task.action {
        c.context(t, "action", &Value::String(a.clone()), ctx);
    }
    for (k, v) in &task.input {
        if k.contains("ctx(") || reads_ctx(v) {
            let mut item = serde_json::Map::new();
            item.insert(k.clone(), v.clone());
            c.context(t, &format!("input.{k}"), &Value::Object(item), ctx);
        }
    }
}

/// An expression that does not parse.
fn syntax_message(e: &crate::expr::ExpressionError) -> String {
    format!("invalid expression {:?}: {}", e.expression, e.reason)
}
