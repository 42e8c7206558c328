//! Contexts and control flow (`yaql/standard_library/system.py`,
//! `branching.py`): `let`, `with`, `def`, `unpack` (used with `->`),
//! `assert`, `call`, `switch`, `selectCase`, `switchCase`,
//! `selectAllCases`, `examine`, `coalesce`.

use std::rc::Rc;

use super::queries::lazy;
use super::{o, ov, ov_var, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{collect, iterate, Args, Interp, A};
use crate::expr::yaql::value::V;

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    Ov {
        name: "let",
        kind: F,
        params: &[],
        var: Some(Any),
        kw: Some(Any),
        no_kwargs: false,
        f: |_, a| {
            for (i, v) in a.rest_values().into_iter().enumerate() {
                a.env.set(&format!("${}", i + 1), v);
            }
            for (k, v) in a.kw.clone() {
                a.env.set(&k, v);
            }
            Ok(V::Context(a.env.clone()))
        },
    },
    ov_var("with", F, &[], Any, |_, a| {
        for (i, v) in a.rest_values().into_iter().enumerate() {
            a.env.set(&format!("${}", i + 1), v);
        }
        Ok(V::Context(a.env.clone()))
    }),
    ov("def", F, &[p("name", Str), p("func", Lambda)], |_, a| {
        if let (Some(name), Some(body)) = (a.s(0), a.lam(1)) {
            a.env.define(name, body.clone());
        }
        Ok(V::Context(a.env.clone()))
    }),
    ov_var("unpack", M, &[p("sequence", Iterable)], Str, |_, a| {
        let names: Vec<Rc<str>> = a
            .rest_values()
            .into_iter()
            .filter_map(|v| match v {
                V::Str(s) => Some(s),
                _ => None,
            })
            .collect();
        let mut items = iterate(a.v(0))?;
        let mut head = Vec::new();
        for _ in 0..=names.len() {
            match items.next() {
                Some(v) => head.push(v?),
                None => break,
            }
        }
        if !names.is_empty() && names.len() != head.len() {
            return Err(error::value_error(format!(
                "Cannot unpack {} elements into {}",
                head.len(),
                names.len()
            )));
        }
        if names.is_empty() {
            let all = match a.v(0) {
                V::Iter(_) => {
                    let mut all = head;
                    for v in items {
                        all.push(v?);
                    }
                    all
                }
                other => collect(other)?,
            };
            for (i, v) in all.into_iter().enumerate() {
                a.env.set(&format!("${}", i + 1), v);
            }
        } else {
            for (n, v) in names.iter().zip(head) {
                a.env.set(n, v);
            }
        }
        Ok(V::Context(a.env.clone()))
    }),
    ov(
        "assert",
        M,
        &[
            p("obj", Any),
            p("condition", Lambda),
            o("message", Str, D::S("Assertion failed")),
        ],
        |it, a| {
            let obj = match a.v(0) {
                V::Iter(_) => V::tuple(collect(a.v(0))?)?,
                other => other.clone(),
            };
            let ok = match a.lam(1) {
                Some(l) => it.call(l, std::slice::from_ref(&obj))?.truthy(),
                None => a.v(1).truthy(),
            };
            if !ok {
                return Err(Error::new("AssertionError", a.s(2).unwrap_or("")));
            }
            Ok(obj)
        },
    ),
    ov(
        "call",
        F,
        &[p("name", Str), p("args", Sequence), p("kwargs", Mapping)],
        |it, a| {
            let name = a.s(0).unwrap_or("").to_string();
            let args = a.v(1).seq_items().unwrap_or_default();
            let kwargs = a
                .v(2)
                .map_items()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| match k {
                    V::Str(k) if is_keyword(&k) => Some((k, v)),
                    _ => None,
                })
                .collect();
            let env = a.env.clone();
            it.call_values(&name, args, kwargs, &env)
        },
    ),
    Ov {
        name: "switch",
        kind: F,
        params: &[],
        var: Some(RuleLazy),
        kw: None,
        no_kwargs: true,
        f: |it, a| {
            for r in &a.rest {
                if let A::Rule(cond, value) = r {
                    if it.call(cond, &[])?.truthy() {
                        return it.call(value, &[]);
                    }
                }
            }
            Ok(V::Null)
        },
    },
    ov_var("selectCase", F, &[], Lambda, |it, a| {
        for i in 0..a.rest.len() {
            if eval_rest(it, a, i)?.truthy() {
                return Ok(V::Int(i as i64));
            }
        }
        Ok(V::Int(a.rest.len() as i64))
    }),
    ov_var("switchCase", M, &[p("case", Int)], Lambda, |it, a| {
        let case = a.int(0);
        let n = a.rest.len() as i64;
        if n == 0 {
            return Ok(V::Null);
        }
        let i = if (0..n).contains(&case) { case } else { n - 1 };
        eval_rest(it, a, i as usize)
    }),
    ov_var("selectAllCases", F, &[], Lambda, |it, a| {
        let results = lambdas(it, a)?;
        let hits: Vec<V<'_>> = results
            .iter()
            .enumerate()
            .filter(|(_, v)| v.truthy())
            .map(|(i, _)| V::Int(i as i64))
            .collect();
        Ok(lazy(hits.into_iter().map(Ok)))
    }),
    ov_var("examine", F, &[], Lambda, |it, a| {
        let results = lambdas(it, a)?;
        Ok(lazy(results.into_iter().map(|v| Ok(V::Bool(v.truthy())))))
    }),
    ov_var("coalesce", F, &[], Lambda, |it, a| {
        for i in 0..a.rest.len() {
            let v = eval_rest(it, a, i)?;
            if !v.is_null() {
                return Ok(v);
            }
        }
        Ok(V::Null)
    }),
];

fn eval_rest<'a>(it: &'a Interp<'a>, a: &Args<'a>, i: usize) -> R<V<'a>> {
    match &a.rest[i] {
        A::L(l) => it.call(l, &[]),
        A::V(v) => Ok(v.clone()),
        _ => Ok(V::Null),
    }
}

/// Every lambda of `*args`, evaluated in order.
fn lambdas<'a>(it: &'a Interp<'a>, a: &Args<'a>) -> R<Vec<V<'a>>> {
    (0..a.rest.len()).map(|i| eval_rest(it, a, i)).collect()
}

fn is_keyword(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if (c.is_alphabetic() || c == '_') && !s.starts_with("__") => {
            chars.all(|c| c.is_alphanumeric() || c == '_')
        }
        _ => false,
    }
}
