//! Jinja expressions through minijinja, with Orquesta's functions
//! (`ctx`, `result`, `succeeded`, `failed`, `completed`, `task_status`,
//! `item`, `zip`, `json`, `st2kv`) and the context also bound to `_`.
//!
//! minijinja functions must be `'static`, but `st2kv` and `task_status`
//! have to ask the caller's borrowed [`Env`](super::Env) and status lookup.
//! So those functions answer from a cache; a miss is recorded, the caller is
//! asked once outside minijinja, and the expression is evaluated again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_json::Value;

use super::{functions as f, Scope};

/// Rounds of "evaluate, then answer missing lookups" before giving up.
const MAX_LOOKUP_ROUNDS: usize = 32;

#[derive(Default)]
struct Lookups {
    kv: BTreeMap<(String, bool), Option<Value>>,
    statuses: BTreeMap<String, Option<&'static str>>,
    missing_kv: Vec<(String, bool)>,
    missing_status: Vec<String>,
}

struct Data {
    ctx: JValue,
    result: JValue,
    item: Option<Value>,
    current: Option<Result<(bool, bool, bool), String>>,
    lookups: Mutex<Lookups>,
}

fn lock(m: &Mutex<Lookups>) -> MutexGuard<'_, Lookups> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn op_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The sentinel error for "lookup recorded, evaluate again".
const PENDING: &str = "\u{0}pending lookup";

fn to_j(v: &Value) -> JValue {
    JValue::from_serialize(v)
}

fn from_j(v: &JValue) -> Result<Value, Error> {
    if v.is_undefined() {
        return Ok(Value::Null);
    }
    serde_json::to_value(v).map_err(|e| op_err(e.to_string()))
}

fn environment(data: &Arc<Data>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);

    let d = data.clone();
    env.add_function(
        "ctx",
        move |name: Option<String>| -> Result<JValue, Error> {
            match name {
                None => Ok(d.ctx.clone()),
                Some(name) => match d.ctx.get_attr(&name) {
                    Ok(v) if !v.is_undefined() => Ok(v),
                    _ => Err(op_err(format!("variable \"{name}\" is not defined in ctx"))),
                },
            }
        },
    );
    let d = data.clone();
    env.add_function("result", move || d.result.clone());
    for which in ["succeeded", "failed", "completed"] {
        let d = data.clone();
        env.add_function(which, move || -> Result<bool, Error> {
            match &d.current {
                None => Err(op_err(format!(
                    "{which}() is only available in task transitions"
                ))),
                Some(Err(e)) => Err(op_err(e.clone())),
                Some(Ok((s, fl, c))) => Ok(match which {
                    "succeeded" => *s,
                    "failed" => *fl,
                    _ => *c,
                }),
            }
        });
    }
    let d = data.clone();
    env.add_function(
        "task_status",
        move |name: String| -> Result<JValue, Error> {
            let mut l = lock(&d.lookups);
            match l.statuses.get(&name) {
                Some(status) => Ok(status.map_or(JValue::from(()), JValue::from)),
                None => {
                    l.missing_status.push(name);
                    Err(op_err(PENDING))
                }
            }
        },
    );
    let d = data.clone();
    env.add_function(
        "item",
        move |key: Option<String>| -> Result<JValue, Error> {
            let item = d
                .item
                .as_ref()
                .ok_or_else(|| op_err("item() is only available in a task with items"))?;
            match key {
                None => Ok(to_j(item)),
                Some(key) => item
                    .get(&key)
                    .map(to_j)
                    .ok_or_else(|| op_err(format!("the item has no key \"{key}\""))),
            }
        },
    );
    let d = data.clone();
    env.add_function(
        "st2kv",
        move |key: String, kwargs: Kwargs| -> Result<JValue, Error> {
            let decrypt: Option<bool> = kwargs.get("decrypt")?;
            kwargs.assert_all_used()?;
            let k = (key, decrypt.unwrap_or(false));
            let mut l = lock(&d.lookups);
            match l.kv.get(&k) {
                Some(Some(v)) => Ok(to_j(v)),
                Some(None) => Err(op_err(format!("st2kv key \"{}\" does not exist", k.0))),
                None => {
                    l.missing_kv.push(k);
                    Err(op_err(PENDING))
                }
            }
        },
    );
    env.add_function(
        "zip",
        |lists: Rest<JValue>, kwargs: Kwargs| -> Result<JValue, Error> {
            let pad: Option<JValue> = kwargs.get("pad")?;
            kwargs.assert_all_used()?;
            let args = lists.iter().map(from_j).collect::<Result<Vec<_>, _>>()?;
            let pad = pad.as_ref().map(from_j).transpose()?.unwrap_or(Value::Null);
            f::zip(&args, pad).map(|v| to_j(&v)).map_err(op_err)
        },
    );
    env.add_function("json", |s: JValue| -> Result<JValue, Error> {
        f::json(&from_j(&s)?).map(|v| to_j(&v)).map_err(op_err)
    });
    env
}

/// Split `{{ expr }}` when the whole (trimmed) string is that one expression.
fn single_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || t.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

pub fn evaluate(s: &str, scope: &Scope<'_>) -> Result<Value, String> {
    let current = scope.task.map(|_| {
        Ok((
            scope.current_status_is("succeeded")?,
            scope.current_status_is("failed")?,
            scope.current_status_is("completed")?,
        ))
    });
    let data = Arc::new(Data {
        ctx: to_j(&Value::Object(scope.ctx.clone())),
        result: scope.result.map_or(JValue::from(()), to_j),
        item: scope.item.cloned(),
        current,
        lookups: Mutex::new(Lookups::default()),
    });
    let env = environment(&data);
    let vars = JValue::from_iter([("_", data.ctx.clone())]);
    for _ in 0..MAX_LOOKUP_ROUNDS {
        let outcome = match single_expression(s) {
            Some(expr) => env
                .compile_expression(expr)
                .and_then(|e| e.eval(&vars))
                .and_then(|v| from_j(&v)),
            None => env.render_str(s, &vars).map(Value::String),
        };
        let mut l = lock(&data.lookups);
        if l.missing_kv.is_empty() && l.missing_status.is_empty() {
            return outcome.map_err(describe);
        }
        for key in std::mem::take(&mut l.missing_kv) {
            let value = scope.env.st2kv(&key.0, key.1);
            l.kv.insert(key, value);
        }
        for task in std::mem::take(&mut l.missing_status) {
            let status = scope.statuses.status_of(&task);
            l.statuses.insert(task, status);
        }
    }
    Err("too many st2kv/task_status lookups".into())
}

fn describe(e: Error) -> String {
    let mut msg = match e.detail() {
        Some(detail) => detail.to_string(),
        None => e.to_string(),
    };
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        msg.push_str(": ");
        msg.push_str(&inner.to_string());
        source = inner.source();
    }
    msg
}

/// Syntax check; returns the context variables read via `ctx('x')`,
/// `ctx().x` and `_.x`.
pub fn check(s: &str) -> Result<Vec<String>, String> {
    let env = Environment::new();
    match single_expression(s) {
        Some(expr) => env.compile_expression(expr).map(|_| ()),
        None => env.template_from_str(s).map(|_| ()),
    }
    .map_err(describe)?;
    Ok(references(s))
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i);
    (end > 0).then(|| &s[..end])
}

fn references(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    for (i, _) in s.match_indices("ctx(") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let rest = s[i + 4..].trim_start();
        if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
            if let Some(end) = rest[1..].find(q) {
                out.push(rest[1..1 + end].to_string());
            }
        } else if let Some(after) = rest.strip_prefix(')') {
            if let Some(name) = after.strip_prefix('.').and_then(ident_at) {
                out.push(name.to_string());
            }
        }
    }
    for (i, _) in s.match_indices("_.") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        if let Some(name) = ident_at(&s[i + 2..]) {
            out.push(name.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found() {
        let refs = references("{{ ctx('a') ~ ctx().b ~ _.c ~ my_ctx('z') }}");
        assert_eq!(refs, vec!["a", "b", "c"]);
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(check("{{ ctx('a' }}").is_err());
        assert!(check("{% if %}").is_err());
        assert!(check("{{ ctx('a') }}").is_ok());
    }
}
