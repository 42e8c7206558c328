//! Static checks of a [`WorkflowSpec`] before it runs, in the spirit of
//! Orquesta's spec inspection. Every error names the task and field.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expr::{self, functions::closest};
use crate::graph::Graph;
use crate::spec::{is_engine_command, WorkflowSpec};

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

struct Collector {
    errors: Vec<InspectionError>,
    /// (task, field, variable) for every ctx() read.
    reads: Vec<(Option<String>, String, String)>,
}

impl Collector {
    fn error(&mut self, task: Option<&str>, field: String, message: String) {
        self.errors.push(InspectionError {
            task: task.map(String::from),
            field,
            message,
        });
    }

    /// Check every expression inside a value, at any depth.
    fn value(&mut self, task: Option<&str>, field: &str, value: &Value) {
        match value {
            Value::String(s) => match expr::check_str(s) {
                Ok(vars) => {
                    for var in vars {
                        self.reads
                            .push((task.map(String::from), field.to_string(), var));
                    }
                }
                Err(e) => self.error(
                    task,
                    field.to_string(),
                    format!("invalid expression {:?}: {}", e.expression, e.reason),
                ),
            },
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.value(task, &format!("{field}[{i}]"), v);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.value(task, &format!("{field}.{k}"), v);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, task: Option<&str>, field: &str, s: &str) {
        self.value(task, field, &Value::String(s.to_string()));
    }
}

/// Inspect a workflow; `Err` lists every problem found.
pub fn inspect(spec: &WorkflowSpec) -> Result<(), Vec<InspectionError>> {
    inspect_graph(spec, &Graph::new(spec))
}

/// [`inspect`] with the graph already built.
pub(crate) fn inspect_graph(
    spec: &WorkflowSpec,
    graph: &Graph,
) -> Result<(), Vec<InspectionError>> {
    let mut c = Collector {
        errors: Vec::new(),
        reads: Vec::new(),
    };
    let names: Vec<&str> = spec.tasks.keys().map(String::as_str).collect();

    if graph.starts.is_empty() {
        c.error(
            None,
            "tasks".into(),
            "no start task: every task is the target of a transition".into(),
        );
    }

    let mut defined: BTreeSet<&str> = BTreeSet::new();
    for p in &spec.input {
        defined.insert(&p.name);
        if let Some(d) = &p.default {
            c.value(None, &format!("input.{}", p.name), d);
        }
    }
    for v in &spec.vars {
        defined.insert(&v.name);
        c.value(None, &format!("vars.{}", v.name), &v.value);
    }
    for o in &spec.output {
        c.value(None, &format!("output.{}", o.name), &o.value);
    }

    for (t, (name, task)) in spec.tasks.iter().enumerate() {
        let task_name = Some(name.as_str());
        for (k, v) in &task.input {
            c.value(task_name, &format!("input.{k}"), v);
        }
        if let Some(with) = &task.with {
            c.text(task_name, "with.items", &with.items);
            if let Some(conc) = &with.concurrency {
                c.value(task_name, "with.concurrency", conc);
            }
        }
        if let Some(retry) = &task.retry {
            if let Some(when) = &retry.when {
                c.text(task_name, "retry.when", when);
            }
            c.value(task_name, "retry.count", &retry.count);
            if let Some(delay) = &retry.delay {
                c.value(task_name, "retry.delay", delay);
            }
        }
        if let Some(delay) = &task.delay {
            c.value(task_name, "delay", delay);
        }
        for (i, transition) in task.next.iter().enumerate() {
            if let Some(when) = &transition.when {
                c.text(task_name, &format!("next[{i}].when"), when);
            }
            for p in &transition.publish {
                defined.insert(&p.name);
                c.value(
                    task_name,
                    &format!("next[{i}].publish.{}", p.name),
                    &p.value,
                );
            }
            for target in &transition.targets {
                if !is_engine_command(target) && !spec.tasks.contains_key(target) {
                    let hint = closest(target, names.iter().copied())
                        .map(|n| format!(" (did you mean \"{n}\"?)"))
                        .unwrap_or_default();
                    c.error(
                        task_name,
                        format!("next[{i}].do"),
                        format!("undefined task \"{target}\"{hint}"),
                    );
                }
            }
        }
        if task.join.is_some() {
            let inbound = graph.inbound_sources[t];
            if inbound < 2 {
                c.error(
                    task_name,
                    "join".into(),
                    format!("a join needs at least 2 inbound tasks, this task has {inbound}"),
                );
            } else if let Some(required) = graph.join_requirement(spec, t) {
                if required > inbound {
                    c.error(
                        task_name,
                        "join".into(),
                        format!("join: {required} can never be met, the task has {inbound} inbound tasks"),
                    );
                }
            }
        }
    }

    // Reachability from the start tasks.
    let mut seen = vec![false; spec.tasks.len()];
    let mut todo: Vec<usize> = graph.starts.clone();
    for &s in &graph.starts {
        seen[s] = true;
    }
    while let Some(t) = todo.pop() {
        for next in graph.successors(t) {
            if !seen[next] {
                seen[next] = true;
                todo.push(next);
            }
        }
    }
    if !graph.starts.is_empty() {
        for (t, name) in names.iter().enumerate() {
            if !seen[t] {
                c.error(
                    Some(name),
                    String::new(),
                    "unreachable: no path leads to it from a start task (it is only reachable from a cycle of its own)".into(),
                );
            }
        }
    }

    let reads = std::mem::take(&mut c.reads);
    for (task, field, var) in reads {
        if !defined.contains(var.as_str()) {
            let hint = closest(&var, defined.iter().copied())
                .map(|n| format!(" (did you mean \"{n}\"?)"))
                .unwrap_or_default();
            c.error(
                task.as_deref(),
                field,
                format!("ctx variable \"{var}\" is never defined by input, vars or publish{hint}"),
            );
        }
    }

    if c.errors.is_empty() {
        Ok(())
    } else {
        Err(c.errors)
    }
}
