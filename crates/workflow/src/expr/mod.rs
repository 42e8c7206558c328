//! Expressions inside workflow strings: YAQL between `<% %>` and Jinja
//! between `{{ }}` / `{% %}`.
//!
//! A string that is exactly one expression evaluates to the expression's
//! value with its type (a list stays a list); an expression mixed with
//! text is rendered into the text (strings as they are, other values as
//! JSON). Values are walked recursively, so expressions may sit at any depth
//! of a dict or list.

pub mod functions;
pub mod jinja;
pub mod yaql;

use serde_json::{Map, Value};

/// Answers `st2kv(key, decrypt=>...)` lookups; supplied by the caller so the
/// crate never touches a datastore itself.
pub trait Env {
    fn st2kv(&self, key: &str, decrypt: bool) -> Option<Value>;
}

/// An [`Env`] with an empty datastore.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKv;

impl Env for NoKv {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Option<Value> {
        None
    }
}

/// Status of other tasks as seen from the task being evaluated
/// (`task_status(name)`, `succeeded()`, ...). Status names are StackStorm's.
pub trait TaskStatusLookup {
    fn status_of(&self, task: &str) -> Option<&'static str>;
}

/// A lookup for expressions evaluated outside any task (input, vars, output).
pub struct NoTasks;

impl TaskStatusLookup for NoTasks {
    fn status_of(&self, _task: &str) -> Option<&'static str> {
        None
    }
}

/// An expression that failed to parse or evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expression {expression:?}: {reason}")]
pub struct ExpressionError {
    /// The expression as written, delimiters included.
    pub expression: String,
    pub reason: String,
}

/// Everything an expression can read.
pub struct Scope<'a> {
    pub ctx: &'a Map<String, Value>,
    /// The task whose `next`, `retry` or input is being evaluated.
    pub task: Option<&'a str>,
    pub result: Option<&'a Value>,
    pub item: Option<&'a Value>,
    pub statuses: &'a dyn TaskStatusLookup,
    pub env: &'a dyn Env,
}

const COMPLETED: [&str; 5] = ["succeeded", "failed", "timeout", "abandoned", "canceled"];

impl<'a> Scope<'a> {
    /// A scope with only a context (workflow input, vars and output).
    pub fn workflow(ctx: &'a Map<String, Value>, env: &'a dyn Env) -> Scope<'a> {
        Scope {
            ctx,
            task: None,
            result: None,
            item: None,
            statuses: &NoTasks,
            env,
        }
    }

    pub(crate) fn ctx_var(&self, name: &str) -> Result<&'a Value, String> {
        self.ctx.get(name).ok_or_else(|| {
            let hint = functions::closest(name, self.ctx.keys().map(String::as_str))
                .map(|c| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            format!("variable \"{name}\" is not defined in ctx{hint}")
        })
    }

    pub(crate) fn current_status_is(&self, which: &str) -> Result<bool, String> {
        let task = self
            .task
            .ok_or_else(|| format!("{which}() is only available in task transitions"))?;
        let status = self.statuses.status_of(task);
        Ok(match which {
            "succeeded" => status == Some("succeeded"),
            "failed" => status == Some("failed"),
            _ => status.is_some_and(|s| COMPLETED.contains(&s)),
        })
    }

    pub(crate) fn task_status(&self, task: &str) -> Value {
        self.statuses
            .status_of(task)
            .map_or(Value::Null, |s| Value::String(s.to_string()))
    }

    pub(crate) fn item(&self, key: Option<&str>) -> Result<Value, String> {
        let item = self
            .item
            .ok_or("item() is only available in a task with items")?;
        match key {
            None => Ok(item.clone()),
            Some(key) => match item {
                Value::Object(map) => map
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("the item has no key \"{key}\"")),
                other => Err(format!(
                    "item({key}) needs named items (\"{key} in ...\"), but the item is a {}",
                    functions::type_name(other)
                )),
            },
        }
    }

    pub(crate) fn st2kv(&self, key: &str, decrypt: bool) -> Result<Value, String> {
        self.env
            .st2kv(key, decrypt)
            .ok_or_else(|| format!("st2kv key \"{key}\" does not exist"))
    }
}

/// Which language a string uses, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Yaql,
    Jinja,
}

pub fn language(s: &str) -> Option<Language> {
    if s.contains("<%") {
        Some(Language::Yaql)
    } else if s.contains("{{") || s.contains("{%") {
        Some(Language::Jinja)
    } else {
        None
    }
}

/// The `<% ... %>` segments of a string as (start, end, inner) byte ranges.
fn yaql_segments(s: &str) -> Result<Vec<(usize, usize, &str)>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find("<%") {
        let start = from + open;
        let Some(close) = s[start + 2..].find("%>") else {
            return Err("\"<%\" without a closing \"%>\"".into());
        };
        let end = start + 2 + close + 2;
        out.push((start, end, &s[start + 2..end - 2]));
        from = end;
    }
    Ok(out)
}

fn err(s: &str, reason: impl Into<String>) -> ExpressionError {
    ExpressionError {
        expression: s.to_string(),
        reason: reason.into(),
    }
}

/// Evaluate a string that may contain expressions.
pub fn evaluate_str(s: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    match language(s) {
        None => Ok(Value::String(s.to_string())),
        Some(Language::Jinja) => jinja::evaluate(s, scope).map_err(|r| err(s, r)),
        Some(Language::Yaql) => yaql::evaluate_text(s, scope).map_err(|e| ExpressionError {
            reason: e.message(),
            expression: e.expression,
        }),
    }
}

/// Evaluate every expression in a value, at any depth.
pub fn evaluate_value(value: &Value, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    match value {
        Value::String(s) => evaluate_str(s, scope),
        Value::Array(items) => items
            .iter()
            .map(|v| evaluate_value(v, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), evaluate_value(v, scope)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// True when any string in the value holds an expression.
pub fn has_expression(value: &Value) -> bool {
    match value {
        Value::String(s) => language(s).is_some(),
        Value::Array(items) => items.iter().any(has_expression),
        Value::Object(map) => map.values().any(has_expression),
        _ => false,
    }
}

/// Parse every expression in the string without evaluating it, and return
/// the context variables it reads.
pub fn check_str(s: &str) -> Result<Vec<String>, ExpressionError> {
    match language(s) {
        None => Ok(Vec::new()),
        Some(Language::Jinja) => jinja::check(s).map_err(|r| err(s, r)),
        Some(Language::Yaql) => {
            if s.contains("{{") || s.contains("{%") {
                return Err(err(s, "YAQL and Jinja cannot be mixed in one string"));
            }
            let mut refs = Vec::new();
            for (start, end, inner) in yaql_segments(s).map_err(|r| err(s, r))? {
                let expr = yaql::parse(inner).map_err(|r| err(&s[start..end], r))?;
                yaql::ctx_references(&expr, &mut refs);
            }
            Ok(refs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_with(s: &str, ctx: Value) -> Result<Value, ExpressionError> {
        let Value::Object(ctx) = ctx else { panic!() };
        evaluate_str(s, &Scope::workflow(&ctx, &NoKv))
    }

    #[test]
    fn whole_expression_keeps_type() {
        assert_eq!(
            eval_with("<% ctx(xs) %>", json!({"xs": [1, 2]})).unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            eval_with(" {{ ctx('xs') }} ", json!({"xs": [1, 2]})).unwrap(),
            json!([1, 2])
        );
    }

    #[test]
    fn mixed_text_is_rendered() {
        assert_eq!(
            eval_with(
                "n=<% ctx(n) %>, xs=<% ctx(xs) %>",
                json!({"n": 3, "xs": [1]})
            )
            .unwrap(),
            json!("n=3, xs=[1]")
        );
    }

    #[test]
    fn unknown_variable_is_a_clear_error() {
        let e = eval_with("<% ctx(nme) %>", json!({"name": 1})).unwrap_err();
        assert_eq!(e.expression, "<% ctx(nme) %>");
        assert!(e.reason.contains("\"nme\" is not defined"), "{}", e.reason);
        assert!(e.reason.contains("did you mean \"name\""), "{}", e.reason);
    }
}
