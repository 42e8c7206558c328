//! Jinja expressions through StackStorm's Jinja (`stormdesk-jinja` over
//! minijinja), with the workflow functions of
//! [`workflow_call`](super::functions::workflow_call) and the context also
//! bound to `_`, evaluated as Orquesta's `JinjaEvaluator` does: each
//! `{{ }}` alone when the text has no `{% %}` block (an expression whose
//! value is undefined stays in the text and fails with "There are
//! unresolved variables"), the whole text as a template otherwise.
//!
//! minijinja functions must be `'static`, but `st2kv`, `task` and
//! `task_status` have to ask the caller's borrowed [`Env`](super::Env) and
//! task lookup. So those functions answer from a cache; a miss is
//! recorded, answered once outside minijinja, and the expression is
//! evaluated again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use serde_json::Value;

use super::{delimited, functions as f, ErrorKind as Kind, ExpressionError, Language, Scope};

/// Rounds of "evaluate, then answer missing lookups" before giving up.
const MAX_LOOKUP_ROUNDS: usize = 32;

/// A call that needs the caller: (function, arguments as JSON).
type LookupKey = (&'static str, String);

/// A call to answer: its key, positional and named arguments.
type Missing = (LookupKey, Vec<Value>, Vec<(String, Value)>);

#[derive(Default)]
struct Lookups {
    answers: BTreeMap<LookupKey, Result<Value, String>>,
    missing: Vec<Missing>,
}

struct Data {
    ctx: JValue,
    result: Result<Value, String>,
    item: Option<Value>,
    current: Result<(bool, bool, bool), String>,
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

/// Register a function answered through the lookup cache.
fn add_lookup(env: &mut Environment<'static>, data: &Arc<Data>, name: &'static str) {
    let d = data.clone();
    env.add_function(
        name,
        move |args: Rest<JValue>, kwargs: Kwargs| -> Result<JValue, Error> {
            let args = args.iter().map(from_j).collect::<Result<Vec<_>, _>>()?;
            let mut named = Vec::new();
            for k in kwargs.args() {
                let v: JValue = kwargs.get(k)?;
                named.push((k.to_string(), from_j(&v)?));
            }
            kwargs.assert_all_used()?;
            let key = (
                name,
                serde_json::to_string(&(&args, &named)).unwrap_or_default(),
            );
            let mut l = lock(&d.lookups);
            match l.answers.get(&key) {
                Some(Ok(v)) => Ok(to_j(v)),
                Some(Err(e)) => Err(op_err(e.clone())),
                None => {
                    l.missing.push((key, args, named));
                    Err(op_err(PENDING))
                }
            }
        },
    );
}

/// StackStorm's Orquesta Jinja environment (`stormdesk-jinja`: Python
/// methods and `str()`, StackStorm's functions as filters and functions),
/// with the workflow functions that read this evaluation's scope.
fn environment(data: &Arc<Data>) -> Environment<'static> {
    let mut env = stormdesk_jinja::environment(&stormdesk_jinja::Options::orquesta());

    let d = data.clone();
    env.add_function(
        "ctx",
        move |name: Option<String>| -> Result<JValue, Error> {
            match name.filter(|n| !n.is_empty()) {
                None => Ok(d.ctx.clone()),
                Some(name) => match d.ctx.get_attr(&name) {
                    Ok(v) if !v.is_undefined() => Ok(v),
                    _ => Err(op_err(format!(
                        "VariableUndefinedError: The variable \"{name}\" is undefined."
                    ))),
                },
            }
        },
    );
    let d = data.clone();
    env.add_function("result", move || -> Result<JValue, Error> {
        d.result.as_ref().map(to_j).map_err(|e| op_err(e.clone()))
    });
    for which in ["succeeded", "failed", "completed"] {
        let d = data.clone();
        env.add_function(which, move || -> Result<bool, Error> {
            match &d.current {
                Err(e) => Err(op_err(e.clone())),
                Ok((s, fl, c)) => Ok(match which {
                    "succeeded" => *s,
                    "failed" => *fl,
                    _ => *c,
                }),
            }
        });
    }
    let d = data.clone();
    env.add_function(
        "item",
        move |key: Option<String>| -> Result<JValue, Error> {
            let item = d.item.as_ref().unwrap_or(&Value::Null);
            match key.filter(|k| !k.is_empty()) {
                None => Ok(to_j(item)),
                Some(key) => match item {
                    Value::Object(map) => map.get(&key).map(to_j).ok_or_else(|| {
                        op_err(format!(
                            "ExpressionEvaluationException: Item does not have key \"{key}\"."
                        ))
                    }),
                    _ => Err(op_err(
                        "ExpressionEvaluationException: Item is not type of collections.Mapping.",
                    )),
                },
            }
        },
    );
    for name in ["st2kv", "task", "task_status"] {
        add_lookup(&mut env, data, name);
    }
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

/// `{{ x }}` -> `x`, as Orquesta strips the delimiter characters.
/// `compile_expression`, refusing text with a template delimiter first:
/// minijinja 2.24's lexer panics on some (`}} {{`), where Jinja2 reports a
/// syntax error.
fn compile<'env, 'source>(
    env: &'env Environment<'source>,
    expr: &'source str,
) -> Result<minijinja::Expression<'env, 'source>, minijinja::Error> {
    if let Some(d) = ["{{", "}}", "{%", "%}", "{#", "#}"]
        .iter()
        .find(|d| expr.contains(**d))
    {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            format!("unexpected '{d}' in an expression"),
        ));
    }
    env.compile_expression(expr)
}

fn strip_delimiter(expr: &str) -> &str {
    expr.trim_matches(|c| c == '{' || c == '}').trim()
}

/// One evaluation attempt of the text; `Err` carries the error and, for
/// "unresolved" outcomes, the expressions left.
enum Outcome {
    Value(Value),
    Unresolved(Vec<String>),
    Failed(String, String),
}

fn attempt(env: &Environment<'static>, s: &str, vars: &JValue) -> Outcome {
    let blocks = delimited(s, "{%", "%}").next().is_some();
    if blocks {
        return match env.render_str(s, vars) {
            Ok(text) => Outcome::Value(Value::String(text)),
            Err(e) => Outcome::Failed(s.to_string(), describe(e)),
        };
    }
    let segments: Vec<(usize, usize)> = delimited(s, "{{", "}}").collect();
    let whole = segments.len() == 1 && segments[0] == (0, s.len());
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut unresolved = Vec::new();
    for (start, end) in segments {
        let text = &s[start..end];
        let value = compile(env, strip_delimiter(text)).and_then(|e| e.eval(vars));
        let value = match value {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(text.to_string(), describe(e)),
        };
        out.push_str(&s[last..start]);
        last = end;
        if value.is_undefined() {
            unresolved.push(strip_delimiter(text).to_string());
            out.push_str(text);
            continue;
        }
        let value = match from_j(&value) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(text.to_string(), describe(e)),
        };
        if whole {
            return Outcome::Value(value);
        }
        out.push_str(&f::python_str(&value));
    }
    if !unresolved.is_empty() {
        return Outcome::Unresolved(unresolved);
    }
    out.push_str(&s[last..]);
    Outcome::Value(Value::String(out))
}

/// Evaluate a Jinja string (one expression keeps its type).
pub fn evaluate(s: &str, scope: &Scope<'_>) -> Result<Value, ExpressionError> {
    let classed = |m: String| format!("ExpressionEvaluationException: {m}");
    let current = (|| {
        Ok((
            scope.current_status_is("succeeded")?,
            scope.current_status_is("failed")?,
            scope.current_status_is("completed")?,
        ))
    })()
    .map_err(classed);
    let data = Arc::new(Data {
        ctx: to_j(&Value::Object(scope.ctx.clone())),
        result: scope.result_value().map_err(classed),
        item: scope.item.cloned(),
        current,
        lookups: Mutex::new(Lookups::default()),
    });
    let env = environment(&data);
    let vars = JValue::from_iter([("_", data.ctx.clone())]);
    let error = |expression: String, reason: String, kind: Kind| ExpressionError {
        expression,
        reason,
        kind,
        language: Language::Jinja,
    };
    for _ in 0..MAX_LOOKUP_ROUNDS {
        let outcome = attempt(&env, s, &vars);
        let mut l = lock(&data.lookups);
        if l.missing.is_empty() {
            return match outcome {
                Outcome::Value(v) => Ok(v),
                Outcome::Unresolved(list) => {
                    Err(error(s.to_string(), list.join(", "), Kind::Unresolved))
                }
                Outcome::Failed(expr, reason) => Err(error(expr, reason, Kind::Evaluate)),
            };
        }
        for (key, args, named) in std::mem::take(&mut l.missing) {
            let named: Vec<(&str, Value)> =
                named.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let answer = f::workflow_call(key.0, &args, &named, scope)
                .unwrap_or_else(|| Err(format!("unknown function {}()", key.0)));
            l.answers.insert(key, answer);
        }
    }
    Err(error(
        s.to_string(),
        "too many st2kv/task/task_status lookups".into(),
        Kind::Evaluate,
    ))
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

/// Syntax check as Orquesta's `validate`: the whole text as a template,
/// then each `{{ }}` as an expression.
pub fn check(s: &str) -> Result<(), ExpressionError> {
    let env = Environment::new();
    env.template_from_str(s)
        .map_err(|e| ExpressionError::syntax(Language::Jinja, s, describe(e)))?;
    for (start, end) in delimited(s, "{{", "}}") {
        let text = &s[start..end];
        compile(&env, strip_delimiter(text))
            .map_err(|e| ExpressionError::syntax(Language::Jinja, text, describe(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_reported() {
        assert!(check("{{ ctx('a' }}").is_err());
        assert!(check("{% if %}").is_err());
        assert!(check("{{ ctx('a') }}").is_ok());
    }
}
