//! Orquesta's functions in YAQL (`orquesta/expressions/functions/`,
//! registered as plain functions): `ctx`, `result`, `succeeded`, `failed`,
//! `completed`, `task_status`, `item`, `st2kv`, `zip`, `json`. The data
//! they read comes from [`Scope`](crate::expr::Scope) and the shared
//! helpers in `expr/functions.rs`.

use super::{o, ov, p, Kind::*, Ov, Ty::*, D};
use crate::expr::functions as f;
use crate::expr::yaql::convert::{from_owned, to_json};
use crate::expr::yaql::error::{Error, R};
use crate::expr::yaql::format::py_str;
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
    ov("result", F, &[], |it, _| {
        Ok(it.scope.result.map_or(V::Null, V::from_json))
    }),
    ov("succeeded", F, &[], |it, _| status(it.scope, "succeeded")),
    ov("failed", F, &[], |it, _| status(it.scope, "failed")),
    ov("completed", F, &[], |it, _| status(it.scope, "completed")),
    ov(
        "task_status",
        F,
        &[p("task_id", Any), o("route", Any, D::Null)],
        |it, a| {
            let name = py_str(a.v(0), false)?;
            from_owned(it.scope.task_status(&name))
        },
    ),
    ov("item", F, &[o("key", Any, D::Null)], |it, a| {
        let key = match a.v(0) {
            V::Null => None,
            V::Str(s) if s.is_empty() => None,
            other => Some(py_str(other, false)?),
        };
        it.scope
            .item(key.as_deref())
            .map_err(|m| Error::new("ExpressionEvaluationException", m))
            .and_then(from_owned)
    }),
    ov(
        "st2kv",
        F,
        &[
            p("key", Any),
            o("decrypt", Any, D::B(false)),
            o("default", Any, D::NoValue),
        ],
        |it, a| {
            let key = py_str(a.v(0), false)?;
            match it.scope.st2kv(&key, a.v(1).truthy()) {
                Ok(v) => from_owned(v),
                Err(_) if !a.absent(2) => Ok(a.v(2).clone()),
                Err(m) => Err(Error::new("ExpressionEvaluationException", m)),
            }
        },
    ),
    super::Ov {
        name: "zip",
        kind: F,
        params: &[],
        var: Some(Any),
        kw: Some(Any),
        no_kwargs: false,
        f: |_, a| {
            let args = a.rest_values().iter().map(to_json).collect::<R<Vec<_>>>()?;
            let pad = match a.kw.iter().find(|(k, _)| &**k == "pad") {
                Some((_, v)) => to_json(v)?,
                None => serde_json::Value::Null,
            };
            let zipped = f::zip(&args, pad).map_err(|m| Error::new("TypeError", m))?;
            from_owned(zipped)
        },
    },
    ov("json", F, &[p("s", Any)], |_, a| {
        let arg = to_json(a.v(0))?;
        let parsed = f::json(&arg).map_err(|m| {
            let class = if m.starts_with("invalid JSON") {
                "JSONDecodeError"
            } else {
                "TypeError"
            };
            Error::new(class, m)
        })?;
        from_owned(parsed)
    }),
];

fn status<'a>(scope: &crate::expr::Scope<'_>, which: &str) -> R<V<'a>> {
    scope
        .current_status_is(which)
        .map(V::Bool)
        .map_err(|m| Error::new("ExpressionEvaluationException", m))
}
