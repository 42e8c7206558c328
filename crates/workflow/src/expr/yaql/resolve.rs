//! yaql's argument mapping (`yaql/language/specs.py`: `map_args`,
//! `get_delegate`): which argument feeds which parameter of an overload,
//! and whether the values fit the parameter types.

use std::rc::Rc;

use super::interp::{Args, Env, Lambda, A};
use super::lib::{Ov, Ty, D};
use super::parser::Expr;
use super::value::V;

/// One argument of a call before resolution.
pub struct CallArg<'a> {
    pub expr: Option<&'a Expr>,
    /// A `name => value` kept positional (yaql's `no_kwargs` functions).
    pub named: Option<(&'a Expr, &'a Expr)>,
    /// The value, once evaluated (or given).
    pub value: Option<V<'a>>,
    /// A skipped position.
    pub hole: bool,
}

impl<'a> CallArg<'a> {
    pub fn value(v: V<'a>) -> CallArg<'a> {
        CallArg {
            expr: None,
            named: None,
            value: Some(v),
            hole: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    Pos(usize),
    Kw(usize),
    Default,
}

/// yaql's `map_args`: which argument feeds which parameter, or `None` when
/// the call does not fit the overload's parameters.
pub fn map_args(ov: &Ov, pos: &[CallArg<'_>], kw: &[(Rc<str>, CallArg<'_>)]) -> Option<Vec<Slot>> {
    let mut slots = Vec::with_capacity(ov.params.len());
    let mut used_kw = vec![false; kw.len()];
    for (i, p) in ov.params.iter().enumerate() {
        let kw_index = kw.iter().position(|(k, _)| **k == *p.name);
        if i < pos.len() && !pos[i].hole {
            if kw_index.is_some() {
                return None;
            }
            slots.push(Slot::Pos(i));
        } else if let Some(k) = kw_index {
            used_kw[k] = true;
            slots.push(Slot::Kw(k));
        } else if matches!(p.d, D::Req) {
            return None;
        } else {
            slots.push(Slot::Default);
        }
    }
    if pos.len() > ov.params.len()
        && (ov.var.is_none() || pos[ov.params.len()..].iter().any(|a| a.hole))
    {
        return None;
    }
    if used_kw.iter().any(|u| !u) && ov.kw.is_none() {
        return None;
    }
    Some(slots)
}

/// Type-checks the arguments against an overload and builds its `Args`.
pub fn resolve<'a>(
    ov: &Ov,
    slots: &[Slot],
    pos: &[CallArg<'a>],
    kw: &[(Rc<str>, CallArg<'a>)],
    env: &Env<'a>,
) -> Option<Args<'a>> {
    let mut out = Args {
        name: ov.name,
        a: Vec::with_capacity(slots.len()),
        rest: Vec::new(),
        kw: Vec::new(),
        env: env.clone(),
    };
    for (p, slot) in ov.params.iter().zip(slots) {
        let arg = match slot {
            Slot::Pos(i) => Some(&pos[*i]),
            Slot::Kw(k) => Some(&kw[*k].1),
            Slot::Default => None,
        };
        out.a.push(match arg {
            Some(a) => check(p.ty, a, env)?,
            None => match default(p.d) {
                Some(v) => {
                    if !p.ty.is_lazy() && !p.ty.check(&v) {
                        return None;
                    }
                    A::V(v)
                }
                None => A::Absent,
            },
        });
    }
    if let Some(ty) = ov.var {
        for a in pos.iter().skip(ov.params.len()) {
            out.rest.push(check(ty, a, env)?);
        }
    }
    let used: Vec<&str> = ov.params.iter().map(|p| p.name).collect();
    for (k, a) in kw {
        if used.contains(&&**k) {
            continue;
        }
        let ty = ov.kw?;
        match check(ty, a, env)? {
            A::V(v) => out.kw.push((k.clone(), v)),
            _ => return None,
        }
    }
    Some(out)
}

fn check<'a>(ty: Ty, a: &CallArg<'a>, env: &Env<'a>) -> Option<A<'a>> {
    match ty {
        Ty::Lambda | Ty::LambdaCtx => Some(match a.expr {
            Some(e) => A::L(Lambda {
                expr: e,
                env: env.clone(),
            }),
            None => match &a.value {
                Some(V::Null) | None => A::V(V::Null),
                Some(v) => A::V(v.clone()),
            },
        }),
        Ty::LambdaM => match a.expr {
            Some(e @ Expr::Call { written: true, .. }) => Some(A::L(Lambda {
                expr: e,
                env: env.clone(),
            })),
            _ => None,
        },
        Ty::Keyword => match a.expr {
            Some(Expr::Keyword(k)) => Some(A::K(k.clone())),
            _ => None,
        },
        Ty::RuleLazy => a.named.map(|(s, d)| {
            A::Rule(
                Lambda {
                    expr: s,
                    env: env.clone(),
                },
                Lambda {
                    expr: d,
                    env: env.clone(),
                },
            )
        }),
        _ => {
            let v = a.value.as_ref()?;
            ty.check(v).then(|| A::V(v.clone()))
        }
    }
}

fn default<'a>(d: D) -> Option<V<'a>> {
    match d {
        D::Req | D::NoValue => None,
        D::Null => Some(V::Null),
        D::I(i) => Some(V::Int(i)),
        D::B(b) => Some(V::Bool(b)),
        D::S(s) => Some(V::str(s)),
        D::Ts0 => Some(V::TimeSpan(0)),
    }
}
