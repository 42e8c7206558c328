//! YAML -> [`WorkflowSpec`]. The document is first read into strict raw
//! structs (unknown keys are rejected with their path and position by
//! serde_yaml), then each flexible field is normalised by hand.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::inline::parse_params;
use super::{
    is_engine_command, Assignment, InputParam, Join, RetrySpec, SpecError, TaskSpec, Transition,
    WithItems, WorkflowSpec,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    #[serde(default)]
    version: Option<Yaml>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input: Option<Yaml>,
    #[serde(default)]
    vars: Option<Yaml>,
    #[serde(default)]
    output: Option<Yaml>,
    tasks: IndexMap<String, Option<RawTask>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    input: Option<Yaml>,
    #[serde(default)]
    next: Option<Vec<RawTransition>>,
    #[serde(default)]
    join: Option<Yaml>,
    #[serde(default)]
    with: Option<Yaml>,
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    delay: Option<Yaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    #[serde(default)]
    when: Option<Yaml>,
    #[serde(default)]
    publish: Option<Yaml>,
    #[serde(default, rename = "do")]
    targets: Option<Yaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    #[serde(default)]
    when: Option<Yaml>,
    count: Yaml,
    #[serde(default)]
    delay: Option<Yaml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWith {
    items: Yaml,
    #[serde(default)]
    concurrency: Option<Yaml>,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

fn yaml_error(e: &serde_yaml::Error) -> SpecError {
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let mut message = e.to_string();
    // serde_yaml appends the position; it is carried in the fields instead.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    SpecError::Yaml {
        message,
        line,
        column,
    }
}

pub fn parse(yaml: &str) -> Result<WorkflowSpec, SpecError> {
    let raw: RawWorkflow = serde_yaml::from_str(yaml).map_err(|e| yaml_error(&e))?;
    let version = match raw.version.as_ref().unwrap_or(&Yaml::Null) {
        Yaml::Null => "1.0".to_string(),
        Yaml::Number(n) if n.as_f64() == Some(1.0) => "1.0".to_string(),
        Yaml::String(s) if s == "1.0" => "1.0".to_string(),
        other => {
            return Err(invalid(
                "version",
                format!("unsupported version {}, expected 1.0", scalar_text(other)),
            ))
        }
    };
    let input = raw
        .input
        .map(|v| named_list(&v, "input"))
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .map(|(name, default)| InputParam { name, default })
        .collect();
    let vars = raw
        .vars
        .map(|v| assignments(&v, "vars", false))
        .transpose()?
        .unwrap_or_default();
    let output = raw
        .output
        .map(|v| assignments(&v, "output", false))
        .transpose()?
        .unwrap_or_default();
    if raw.tasks.is_empty() {
        return Err(invalid("tasks", "a workflow needs at least one task"));
    }
    let mut tasks = IndexMap::with_capacity(raw.tasks.len());
    for (name, task) in raw.tasks {
        if is_engine_command(&name) {
            return Err(invalid(
                format!("task \"{name}\""),
                format!("\"{name}\" is an engine command and cannot name a task"),
            ));
        }
        let task = task_spec(&name, task.unwrap_or_else(empty_task))?;
        tasks.insert(name, task);
    }
    Ok(WorkflowSpec {
        version,
        description: raw.description,
        input,
        vars,
        output,
        tasks,
    })
}

fn empty_task() -> RawTask {
    RawTask {
        action: None,
        input: None,
        next: None,
        join: None,
        with: None,
        retry: None,
        delay: None,
    }
}

fn scalar_text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => format!("\"{s}\""),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".into(),
        _ => "a collection".into(),
    }
}

fn to_json(v: &Yaml, path: &str) -> Result<Value, SpecError> {
    serde_json::to_value(v).map_err(|e| invalid(path, format!("unsupported value: {e}")))
}

/// `[name, {name: default}]`: a bare name has no value.
fn named_list(v: &Yaml, path: &str) -> Result<Vec<(String, Option<Value>)>, SpecError> {
    let Yaml::Sequence(items) = v else {
        return Err(invalid(path, "expected a list of names or single-key maps"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{path}[{i}]");
        match item {
            Yaml::String(name) => out.push((name.clone(), None)),
            Yaml::Mapping(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                let Yaml::String(name) = k else {
                    return Err(invalid(here, "the name must be a string"));
                };
                out.push((name.clone(), Some(to_json(v, &here)?)));
            }
            _ => return Err(invalid(here, "expected a name or a single-key map")),
        }
    }
    Ok(out)
}

/// Publish (a list of single-key maps or an inline `k=v` string) and
/// output/vars (a list of single-key maps only), as Orquesta's schema has them.
fn assignments(v: &Yaml, path: &str, inline: bool) -> Result<Vec<Assignment>, SpecError> {
    let pairs = match v {
        Yaml::Null => Vec::new(),
        Yaml::String(s) if inline && !s.is_empty() => parse_params(s),
        Yaml::Mapping(_) => {
            return Err(invalid(
                path,
                "expected a list of single-key maps (`- name: value`), not a map",
            ))
        }
        Yaml::Sequence(_) => named_list(v, path)?
            .into_iter()
            .enumerate()
            .map(|(i, (name, value))| {
                value.map(|value| (name.clone(), value)).ok_or_else(|| {
                    invalid(format!("{path}[{i}]"), format!("\"{name}\" has no value"))
                })
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid(path, "expected a list of single-key maps")),
    };
    Ok(pairs
        .into_iter()
        .map(|(name, value)| Assignment { name, value })
        .collect())
}

fn task_spec(name: &str, raw: RawTask) -> Result<TaskSpec, SpecError> {
    let at = |field: &str| format!("task \"{name}\" {field}");
    let mut input = Map::new();
    let mut action = None;
    // Orquesta: inline parameters, when there are any, become the input
    // (replacing `input:`) and the action is the text before the first space.
    let mut inline = None;
    if let Some(a) = raw.action {
        if a.is_empty() {
            return Err(invalid(at("action"), "empty action reference"));
        }
        let params = parse_params(&a);
        if params.is_empty() {
            action = Some(a);
        } else {
            let reference = a.split(' ').next().unwrap_or_default();
            action = Some(reference.to_string());
            inline = Some(params.into_iter().collect::<Map<String, Value>>());
        }
    }
    match raw.input {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(m)) if m.is_empty() => {
            return Err(invalid(
                at("input"),
                "expected at least one action parameter",
            ))
        }
        Some(Yaml::Mapping(m)) => {
            for (k, v) in &m {
                let Yaml::String(k) = k else {
                    return Err(invalid(at("input"), "input names must be strings"));
                };
                input.insert(k.clone(), to_json(v, &at("input"))?);
            }
        }
        Some(_) => return Err(invalid(at("input"), "expected a map of action parameters")),
    }
    if let Some(params) = inline {
        input = params;
    }
    let next = raw
        .next
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| transition(name, i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let join = match raw.join {
        None => None,
        Some(Yaml::String(s)) if s == "all" => Some(Join::All),
        Some(Yaml::Number(n)) => match n.as_u64() {
            Some(k) if k <= u64::from(u32::MAX) => Some(Join::Count(k as u32)),
            _ => {
                return Err(invalid(
                    at("join"),
                    "expected \"all\" or a positive integer",
                ))
            }
        },
        Some(_) => {
            return Err(invalid(
                at("join"),
                "expected \"all\" or a positive integer",
            ))
        }
    };
    let with = raw.with.map(|w| with_items(&w, &at("with"))).transpose()?;
    let retry = match raw.retry {
        None => None,
        Some(r) => Some(RetrySpec {
            when: r
                .when
                .map(|w| expr_text(&w, &at("retry.when")))
                .transpose()?,
            count: number_or_expr(&r.count, &at("retry.count"))?,
            delay: r
                .delay
                .map(|d| number_or_expr(&d, &at("retry.delay")))
                .transpose()?,
        }),
    };
    let delay = raw
        .delay
        .map(|d| number_or_expr(&d, &at("delay")))
        .transpose()?;
    Ok(TaskSpec {
        action,
        input,
        next,
        join,
        with,
        retry,
        delay,
    })
}

fn expr_text(v: &Yaml, path: &str) -> Result<String, SpecError> {
    match v {
        Yaml::String(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(
            path,
            "expected a non-empty string (an expression such as <% succeeded() %>)",
        )),
    }
}

/// A non-negative integer or an expression (Orquesta's
/// `STRING_OR_POSITIVE_INTEGER`).
fn number_or_expr(v: &Yaml, path: &str) -> Result<Value, SpecError> {
    match v {
        Yaml::Number(n) if n.as_u64().is_some() => to_json(v, path),
        Yaml::Number(n) => Err(invalid(
            path,
            format!("expected a whole number of 0 or more, or an expression, got {n}"),
        )),
        Yaml::String(s) if crate::expr::language(s).is_some() => Ok(Value::String(s.clone())),
        Yaml::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| {
                invalid(
                    path,
                    format!("expected a number or an expression, got \"{s}\""),
                )
            }),
        _ => Err(invalid(path, "expected a number or an expression")),
    }
}

fn transition(task: &str, i: usize, raw: RawTransition) -> Result<Transition, SpecError> {
    let at = |field: &str| format!("task \"{task}\" next[{i}].{field}");
    let when = raw.when.map(|w| expr_text(&w, &at("when"))).transpose()?;
    let publish = match raw.publish {
        None => Vec::new(),
        Some(p) => assignments(&p, &at("publish"), true)?,
    };
    let targets = match raw.targets {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|item| match item {
                Yaml::String(s) => Ok(s.trim().to_string()),
                _ => Err(invalid(at("do"), "task names must be strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(invalid(
                at("do"),
                "expected a task name or a list of task names",
            ))
        }
    };
    // Orquesta: a transition without `do` continues.
    let targets = if targets.is_empty() {
        vec!["continue".to_string()]
    } else {
        targets
    };
    Ok(Transition {
        when,
        publish,
        targets,
    })
}

/// `with: <% ... %>`, `with: x, y in <% ... %>` or `with: {items, concurrency}`.
fn with_items(v: &Yaml, path: &str) -> Result<WithItems, SpecError> {
    let (items, concurrency) = match v {
        Yaml::String(s) => (s.clone(), None),
        Yaml::Mapping(_) => {
            let raw: RawWith =
                serde_yaml::from_value(v.clone()).map_err(|e| invalid(path, e.to_string()))?;
            let Yaml::String(items) = raw.items else {
                return Err(invalid(
                    format!("{path}.items"),
                    "expected an expression string",
                ));
            };
            let concurrency = raw
                .concurrency
                .map(|c| number_or_expr(&c, &format!("{path}.concurrency")))
                .transpose()?;
            (items, concurrency)
        }
        _ => {
            return Err(invalid(
                path,
                "expected an items expression or {items, concurrency}",
            ))
        }
    };
    let (vars, items) = split_item_names(&items);
    if crate::expr::language(&items).is_none() {
        return Err(invalid(
            path,
            format!("the items must be an expression such as <% ctx(list) %>, got \"{items}\""),
        ));
    }
    Ok(WithItems {
        items,
        vars,
        concurrency,
    })
}

/// `a, b in <% zip(...) %>` -> (["a", "b"], "<% zip(...) %>").
fn split_item_names(s: &str) -> (Vec<String>, String) {
    let trimmed = s.trim();
    if let Some((names, expr)) = trimmed.split_once(" in ") {
        let expr = expr.trim();
        let names: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
        let valid = names.iter().all(|n| {
            !n.is_empty()
                && n.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        });
        if valid && (expr.starts_with("<%") || expr.starts_with("{{")) {
            return (names, expr.to_string());
        }
    }
    (Vec::new(), trimmed.to_string())
}
