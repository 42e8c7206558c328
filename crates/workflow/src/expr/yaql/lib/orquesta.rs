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
    ov("result", F, &[], call),
    ov(
        "task",
        F,
        &[o("task_id", Any, D::Null), o("route", Any, D::Null)],
        call,
    ),
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
    match f::workflow_call(name, &args, &kwargs, it.scope) {
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
