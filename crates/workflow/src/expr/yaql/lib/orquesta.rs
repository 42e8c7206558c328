//! Orquesta's and StackStorm's workflow functions in YAQL
//! (`orquesta/expressions/functions/`, registered as plain functions):
//! `ctx`, `result`, `succeeded`, `failed`, `completed`, `task_status`,
//! `item`, `st2kv`, `zip`, `json`.
//!
//! The overloads here give yaql's resolution (a wrong argument count is
//! `NoMatchingFunctionException`, as in Orquesta); `ctx` and `result` read
//! the data in place; the others run through [`workflow_call`], the one
//! seam to the workflow function set shared with Jinja.

use std::rc::Rc;

use serde_json::Value;

use super::{o, ov, p, Kind::*, Ov, Ty::*, D};
use crate::expr::functions as f;
use crate::expr::yaql::convert::{from_owned, to_json};
use crate::expr::yaql::error::{Error, R};
use crate::expr::yaql::format::py_str;
use crate::expr::yaql::interp::{Args, Interp};
use crate::expr::yaql::value::V;
use crate::expr::Scope;

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov("ctx", F, &[o("key", Any, D::Null)], |it, a| {
        let key = a.v(0);
        if !key.truthy() {
            return Ok(V::JMap(it.scope.ctx));
        }
        let name = match key {
            V::Str(s) => s.to_string(),
            other => py_str(other, false)?,
        };
        if name.starts_with("__") && it.scope.ctx.contains_key(&name) {
            return Err(Error::new(
                "VariableInaccessibleError",
                format!("The variable \"{name}\" is for internal use and inaccessible."),
            ));
        }
        it.scope
            .ctx_var(&name)
            .map(V::from_json)
            .map_err(|m| Error::new("VariableUndefinedError", m))
    }),
    ov("result", F, &[], |it, _| {
        Ok(it.scope.result.map_or(V::Null, V::from_json))
    }),
    ov("succeeded", F, &[], call),
    ov("failed", F, &[], call),
    ov("completed", F, &[], call),
    ov(
        "task_status",
        F,
        &[p("task_id", Any), o("route", Any, D::Null)],
        call,
    ),
    ov("item", F, &[o("key", Any, D::Null)], call),
    ov(
        "st2kv",
        F,
        &[
            p("key", Any),
            o("decrypt", Any, D::NoValue),
            o("default", Any, D::NoValue),
        ],
        call,
    ),
    Ov {
        name: "zip",
        kind: F,
        params: &[],
        var: Some(Any),
        kw: Some(Any),
        no_kwargs: false,
        f: call,
    },
    ov("json", F, &[p("s", Any)], call),
];

/// Runs a workflow function through [`workflow_call`] with the arguments as
/// JSON, named ones by name.
fn call<'a>(it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let name = a.name;
    let ov = super::overloads(name)
        .first()
        .copied()
        .ok_or_else(|| Error::new("NoFunctionRegisteredException", name))?;
    let mut args: Vec<Value> = Vec::new();
    let mut kwargs: Vec<(Rc<str>, Value)> = Vec::new();
    for (i, p) in ov.params.iter().enumerate() {
        if a.absent(i) {
            continue;
        }
        let v = to_json(a.v(i))?;
        if i == args.len() && !(v.is_null() && matches!(p.d, D::Null)) {
            args.push(v);
        } else if !v.is_null() {
            kwargs.push((Rc::from(p.name), v));
        }
    }
    for v in a.rest_values() {
        args.push(to_json(&v)?);
    }
    for (k, v) in &a.kw {
        kwargs.push((k.clone(), to_json(v)?));
    }
    let kwargs: Vec<(&str, Value)> = kwargs.iter().map(|(k, v)| (&**k, v.clone())).collect();
    match workflow_call(name, &args, &kwargs, it.scope) {
        Some(Ok(v)) => from_owned(v),
        Some(Err(m)) => Err(classed(&m)),
        None => Err(Error::new(
            "NoFunctionRegisteredException",
            format!("Unknown function \"{name}\""),
        )),
    }
}

/// An error message worded `Class: message` back into an [`Error`].
fn classed(message: &str) -> Error {
    const CLASSES: [&str; 7] = [
        "VariableUndefinedError",
        "VariableInaccessibleError",
        "ExpressionEvaluationException",
        "TypeError",
        "JSONDecodeError",
        "KeyError",
        "ValueError",
    ];
    for class in CLASSES {
        if let Some(rest) = message
            .strip_prefix(class)
            .and_then(|r| r.strip_prefix(": "))
        {
            return Error::new(class, rest);
        }
    }
    Error::new("ExpressionEvaluationException", message)
}

/// Orquesta's (`succeeded`, `failed`, `completed`, `task_status`, `item`,
/// `zip`, `json`) and StackStorm's (`st2kv`) functions on JSON values;
/// errors are worded `Class: message`. `None` for any other name.
fn workflow_call(
    name: &str,
    args: &[Value],
    kwargs: &[(&str, Value)],
    scope: &Scope<'_>,
) -> Option<Result<Value, String>> {
    let arg = |i: usize, key: &str| -> Option<&Value> {
        args.get(i)
            .or_else(|| kwargs.iter().find(|(k, _)| *k == key).map(|(_, v)| v))
    };
    let text = |v: Option<&Value>| v.map(f::display).unwrap_or_default();
    let classed = |class: &str, r: Result<Value, String>| r.map_err(|m| format!("{class}: {m}"));
    Some(match name {
        "succeeded" | "failed" | "completed" => classed(
            "ExpressionEvaluationException",
            scope.current_status_is(name).map(Value::Bool),
        ),
        "task_status" => Ok(scope.task_status(&text(arg(0, "task_id")))),
        "item" => {
            let key = arg(0, "key").filter(|k| f::truthy(k)).map(f::display);
            classed("ExpressionEvaluationException", scope.item(key.as_deref()))
        }
        "st2kv" => {
            let decrypt = arg(1, "decrypt").is_some_and(f::truthy);
            match (
                scope.st2kv(&text(arg(0, "key")), decrypt),
                arg(2, "default"),
            ) {
                (Ok(v), _) => Ok(v),
                (Err(_), Some(d)) => Ok(d.clone()),
                (Err(m), None) => Err(format!("ExpressionEvaluationException: {m}")),
            }
        }
        "zip" => {
            let pad = kwargs
                .iter()
                .find(|(k, _)| *k == "pad")
                .map_or(Value::Null, |(_, v)| v.clone());
            classed("TypeError", f::zip(args, pad))
        }
        "json" => f::json(&args.first().cloned().unwrap_or(Value::Null)).map_err(|m| {
            let class = if m.starts_with("invalid JSON") {
                "JSONDecodeError"
            } else {
                "TypeError"
            };
            format!("{class}: {m}")
        }),
        _ => return None,
    })
}
