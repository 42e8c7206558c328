//! Value helpers and the functions shared by the YAQL and Jinja evaluators:
//! truthiness, display, comparison, the Orquesta/StackStorm workflow
//! functions ([`workflow_call`]) and the ones that do not depend on
//! workflow state (`zip`, `json`, `len`, ...).
//!
//! The interface the evaluators use:
//! - [`workflow_call`] for every workflow function (`ctx`, `task`,
//!   `task_status`, `succeeded`, `failed`, `completed`, `result`, `item`,
//!   `zip`, `json`, `st2kv`): call it first; `None` means "not a workflow
//!   function".
//! - [`missing_key`] as the error of a dict key that does not exist, so the
//!   conductor reports Orquesta's "Unable to resolve key" message.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::Scope;

/// Python-like truthiness, as Orquesta applies it to `when` criteria.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// How a value reads when an expression is embedded in surrounding text:
/// strings as they are, everything else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python's `str(value)`, which Orquesta uses to render an expression into
/// surrounding text: `True`, `None`, `1.0`, `['a', 1]`, `{'k': None}`.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            python_repr(other, &mut out);
            out
        }
    }
}

/// Python's `repr`, iteratively (input controls the depth).
fn python_repr(value: &Value, out: &mut String) {
    enum Step<'a> {
        Value(&'a Value),
        Text(&'static str),
        Key(&'a str),
    }
    let mut stack = vec![Step::Value(value)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Key(k) => {
                python_quote(k, out);
                out.push_str(": ");
            }
            Step::Value(v) => match v {
                Value::Null => out.push_str("None"),
                Value::Bool(true) => out.push_str("True"),
                Value::Bool(false) => out.push_str("False"),
                Value::Number(n) => out.push_str(&python_number(n)),
                Value::String(s) => python_quote(s, out),
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Step::Text("]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Step::Value(item));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push('{');
                    stack.push(Step::Text("}"));
                    let entries: Vec<_> = map.iter().collect();
                    for (i, (k, v)) in entries.into_iter().enumerate().rev() {
                        stack.push(Step::Value(v));
                        stack.push(Step::Key(k));
                        if i > 0 {
                            stack.push(Step::Text(", "));
                        }
                    }
                }
            },
        }
    }
}

fn python_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else if f.is_finite() && (f.abs() >= 1e16 || (f != 0.0 && f.abs() < 1e-4)) {
        // Python switches to exponent notation here: 1e+16, 1e-05.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{f:?}")
    }
}

fn python_quote(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Prefix of the reason of a dict key that does not exist.
const MISSING_KEY: &str = "KeyError: '";

/// The evaluation error for a dict key that does not exist (YAQL's
/// `KeyError`). The conductor turns it into Orquesta's "Unable to resolve
/// key 'k' in expression '...' from context.".
pub fn missing_key(key: &str) -> String {
    format!("{MISSING_KEY}{key}'")
}

/// The key of a [`missing_key`] reason.
pub fn missing_key_name(reason: &str) -> Option<&str> {
    reason.strip_prefix(MISSING_KEY)?.strip_suffix('\'')
}

/// Type name used in error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Equality where `1 = 1.0`.
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|other| equals(v, other)))
        }
        _ => a == b,
    }
}

/// Ordering for `<`, `>`, ...: numbers with numbers, strings with strings,
/// lists element-wise. Anything else cannot be ordered.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return Ok(i.cmp(&j));
            }
            let (f, g) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            f.partial_cmp(&g)
                .ok_or_else(|| "cannot compare NaN".to_string())
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = compare(p, q)?;
                if ord != Ordering::Equal {
                    return Ok(ord);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => Err(format!(
            "cannot compare {} with {}",
            type_name(a),
            type_name(b)
        )),
    }
}

/// `needle in haystack`: list membership, dict key, substring.
pub fn contains(haystack: &Value, needle: &Value) -> Result<bool, String> {
    match haystack {
        Value::Array(items) => Ok(items.iter().any(|v| equals(v, needle))),
        Value::Object(map) => match needle {
            Value::String(k) => Ok(map.contains_key(k)),
            _ => Ok(false),
        },
        Value::String(s) => match needle {
            Value::String(n) => Ok(s.contains(n.as_str())),
            other => Err(format!("cannot search a string for a {}", type_name(other))),
        },
        Value::Null => Ok(false),
        other => Err(format!("cannot search in a {}", type_name(other))),
    }
}

pub fn float_value(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a valid number"))
}

/// `zip(a, b, ...)`: like Python's `zip_longest` padded with null, as
/// Orquesta's `zip`; a single list is returned unchanged.
pub fn zip(args: &[Value], pad: Value) -> Result<Value, String> {
    let mut lists = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            Value::Array(items) => lists.push(items.as_slice()),
            Value::Null => lists.push(&[][..]),
            other => return Err(format!("zip expects lists, got a {}", type_name(other))),
        }
    }
    if lists.len() == 1 {
        return Ok(Value::Array(lists[0].to_vec()));
    }
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    let rows = (0..longest)
        .map(|i| {
            Value::Array(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or_else(|| pad.clone()))
                    .collect(),
            )
        })
        .collect();
    Ok(Value::Array(rows))
}

/// `json(s)`: parse a JSON string; a dict passes through.
pub fn json(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(_) => Ok(arg.clone()),
        Value::String(s) => serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}")),
        _ => Err("Given object is not typeof string.".into()),
    }
}

pub fn len(arg: &Value) -> Result<Value, String> {
    let n = match arg {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("len() of a {}", type_name(other))),
    };
    Ok(Value::from(n))
}

pub fn to_int(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(Value::from(i)),
            None => Ok(Value::from(n.as_f64().unwrap_or(0.0).trunc() as i64)),
        },
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("cannot convert \"{s}\" to an integer")),
        Value::Null => Ok(Value::from(0)),
        other => Err(format!(
            "cannot convert a {} to an integer",
            type_name(other)
        )),
    }
}

pub fn to_float(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Number(n) => float_value(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => float_value(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("cannot convert \"{s}\" to a float"))
            .and_then(float_value),
        Value::Null => float_value(0.0),
        other => Err(format!("cannot convert a {} to a float", type_name(other))),
    }
}

pub fn keys(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(o) => Ok(Value::Array(o.keys().cloned().map(Value::String).collect())),
        other => Err(format!("keys() of a {}", type_name(other))),
    }
}

pub fn values(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(o) => Ok(Value::Array(o.values().cloned().collect())),
        other => Err(format!("values() of a {}", type_name(other))),
    }
}

/// `join(list, sep)`; also accepts `join(sep, list)` (YAQL's `sep.join(list)`).
pub fn join(a: &Value, b: &Value) -> Result<Value, String> {
    let (list, sep) = match (a, b) {
        (Value::Array(l), Value::String(s)) | (Value::String(s), Value::Array(l)) => (l, s),
        _ => {
            return Err(format!(
                "join expects a list and a separator, got a {} and a {}",
                type_name(a),
                type_name(b)
            ))
        }
    };
    let parts: Vec<String> = list.iter().map(display).collect();
    Ok(Value::String(parts.join(sep)))
}

/// `dict(...)` from a list of `[key, value]` pairs or a dict.
pub fn dict_from(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(_) => Ok(arg.clone()),
        Value::Array(pairs) => {
            let mut map = Map::new();
            for pair in pairs {
                match pair {
                    Value::Array(kv) if kv.len() == 2 => {
                        map.insert(display(&kv[0]), kv[1].clone());
                    }
                    other => {
                        return Err(format!(
                            "dict() expects [key, value] pairs, got a {}",
                            type_name(other)
                        ))
                    }
                }
            }
            Ok(Value::Object(map))
        }
        other => Err(format!("cannot make a dict from a {}", type_name(other))),
    }
}

/// A workflow function call: Orquesta's (`ctx`, `task_status`,
/// `succeeded`, `failed`, `completed`, `result`, `item`, `zip`, `json`,
/// from `orquesta/expressions/functions/`) and StackStorm's (`st2kv` with
/// `decrypt` and `default`, `task(name, route)`). `None` when `name` is not
/// one of them; argument errors read like Python's.
pub fn workflow_call(
    name: &str,
    args: &[Value],
    kwargs: &[(&str, Value)],
    scope: &Scope<'_>,
) -> Option<Result<Value, String>> {
    let allowed: &[&str] = match name {
        "ctx" => &["key"],
        "result" | "succeeded" | "failed" | "completed" => &[],
        "task_status" => &["task_id", "route"],
        "task" => &["task_id", "route"],
        "item" => &["key"],
        "zip" => &["pad"],
        "json" => &["s"],
        "st2kv" => &["key", "decrypt", "default"],
        _ => return None,
    };
    Some(classed(
        name,
        call_workflow_function(name, allowed, args, kwargs, scope),
    ))
}

/// An error of a workflow function: Python's exception class and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `VariableUndefinedError`, `VariableInaccessibleError`,
    /// `ExpressionEvaluationException`, `TypeError`, `JSONDecodeError`,
    /// `KeyError` (message: the key's repr, `'id'`).
    pub class: &'static str,
    pub message: String,
}

/// [`workflow_call`] with the error split into class and message, for an
/// evaluator that keeps them apart (the YAQL evaluator's `Error`).
pub fn workflow_call_parts(
    name: &str,
    args: &[Value],
    kwargs: &[(&str, Value)],
    scope: &Scope<'_>,
) -> Option<Result<Value, FunctionError>> {
    const CLASSES: [&str; 6] = [
        "VariableUndefinedError",
        "VariableInaccessibleError",
        "ExpressionEvaluationException",
        "TypeError",
        "JSONDecodeError",
        "KeyError",
    ];
    let result = workflow_call(name, args, kwargs, scope)?;
    Some(result.map_err(|m| {
        let (class, message) = m
            .split_once(": ")
            .unwrap_or(("ExpressionEvaluationException", &m));
        let class = CLASSES
            .iter()
            .find(|c| **c == class)
            .copied()
            .unwrap_or("ExpressionEvaluationException");
        FunctionError {
            class,
            message: message.to_string(),
        }
    }))
}

/// Add Orquesta's exception class to a message of the [`Scope`] methods.
fn classed(name: &str, result: Result<Value, String>) -> Result<Value, String> {
    result.map_err(|m| {
        if missing_key_name(&m).is_some() || m.starts_with("TypeError: ") {
            return m;
        }
        let class = match name {
            "ctx" if m.contains("inaccessible") => "VariableInaccessibleError",
            "ctx" => "VariableUndefinedError",
            "json" if m.starts_with("invalid JSON") => "JSONDecodeError",
            "json" | "zip" => "TypeError",
            _ => "ExpressionEvaluationException",
        };
        format!("{class}: {m}")
    })
}

fn call_workflow_function(
    name: &str,
    allowed: &[&str],
    args: &[Value],
    kwargs: &[(&str, Value)],
    scope: &Scope<'_>,
) -> Result<Value, String> {
    if let Some((k, _)) = kwargs.iter().find(|(k, _)| !allowed.contains(k)) {
        return Err(format!(
            "TypeError: {name}_() got an unexpected keyword argument '{k}'"
        ));
    }
    // Positional and named arguments bound to the parameter list, as Python does.
    let params: &[&str] = if name == "zip" { &[] } else { allowed };
    if name != "zip" && args.len() > params.len() {
        return Err(format!(
            "TypeError: {name}_() takes {} positional argument(s) but {} were given",
            params.len(),
            args.len()
        ));
    }
    let arg = |i: usize| -> Option<&Value> {
        args.get(i)
            .or_else(|| kwargs.iter().find(|(k, _)| *k == params[i]).map(|(_, v)| v))
    };
    let route_arg = |v: Option<&Value>| -> Result<Option<u32>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(|r| Some(r as u32)).ok_or_else(|| {
                format!(
                    "TypeError: the route must be an integer, got {}",
                    python_str(v)
                )
            }),
        }
    };
    match name {
        "ctx" => match arg(0).filter(|k| truthy(k)) {
            None => Ok(Value::Object(
                scope
                    .ctx
                    .iter()
                    .filter(|(k, _)| !k.starts_with("__"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )),
            Some(key) => scope.ctx_var(&python_str(key)).cloned(),
        },
        "result" => scope.result_value(),
        "succeeded" | "failed" | "completed" => scope.current_status_is(name).map(Value::Bool),
        "task_status" => {
            let task = arg(0).ok_or(
                "TypeError: task_status_() missing 1 required positional argument: 'task_id'",
            )?;
            let route = route_arg(arg(1))?;
            let route = route.unwrap_or_else(|| scope.task.map_or(0, |t| t.route));
            Ok(Value::String(
                scope
                    .statuses
                    .status_of(&python_str(task), route)
                    .to_string(),
            ))
        }
        "task" => {
            let task = arg(0).filter(|t| !t.is_null()).map(python_str);
            let route = route_arg(arg(1))?;
            scope.task_info(task.as_deref(), route)
        }
        "item" => match arg(0).filter(|k| truthy(k)) {
            None => scope.item(None),
            Some(key) => scope.item(Some(&python_str(key))),
        },
        "zip" => zip(
            args,
            kwargs
                .iter()
                .find(|(k, _)| *k == "pad")
                .map_or(Value::Null, |(_, v)| v.clone()),
        ),
        "json" => {
            json(arg(0).ok_or("TypeError: json_() missing 1 required positional argument: 's'")?)
        }
        "st2kv" => {
            let key = match arg(0) {
                Some(Value::String(k)) => k.clone(),
                Some(_) => return Err("TypeError: Given key is not typeof string.".into()),
                None => {
                    return Err(
                        "TypeError: st2kv_() missing 1 required positional argument: 'key'".into(),
                    )
                }
            };
            let decrypt = match arg(1) {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err("TypeError: Decrypt parameter is not typeof bool.".into()),
            };
            let default = kwargs
                .iter()
                .find(|(k, _)| *k == "default")
                .map(|(_, v)| v.clone())
                .or_else(|| args.get(2).cloned());
            scope.st2kv_or(&key, decrypt, default)
        }
        _ => Err(format!(
            "NoFunctionRegisteredException: Unknown function \"{name}\""
        )),
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_python() {
        assert!(!truthy(&json!(0)));
        assert!(!truthy(&json!("")));
        assert!(!truthy(&json!([])));
        assert!(truthy(&json!({"a": 1})));
        assert!(truthy(&json!(0.5)));
    }

    #[test]
    fn zip_pads_with_null() {
        let z = zip(&[json!([1, 2]), json!(["a"])], Value::Null).unwrap();
        assert_eq!(z, json!([[1, "a"], [2, null]]));
    }

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("restat", ["restart", "deploy"]), Some("restart"));
        assert_eq!(closest("xyz", ["restart"]), None);
    }
}
