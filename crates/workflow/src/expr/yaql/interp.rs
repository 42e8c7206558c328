//! Evaluation: contexts (`$`, `$1`, `$name`), lambdas, the `.` operator,
//! and yaql's overload resolution (`yaql/language/runner.py`): a call picks
//! the overloads of its name that are functions (or methods, after `.`),
//! keeps those its arguments fit by count and name, evaluates the
//! non-lambda arguments once, then runs the first overload whose parameter
//! types accept them. Nothing fits: `NoMatchingFunctionException` (or
//! `...Method...`); no overload of that kind at all:
//! `NoFunctionRegisteredException` (or `NoMethodRegisteredException`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::error::{self, Error, R};
use super::lib::{self, Ov};
use super::parser::{Arg, Expr, Lit};
use super::resolve::{map_args, resolve, CallArg, Slot};
use super::value::{DynIter, V};
use crate::expr::Scope;

/// Deepest nesting of calls and lambdas during evaluation (a recursive
/// `def` stops here with `RecursionError` instead of exhausting the stack).
pub const MAX_EVAL_DEPTH: usize = 512;

/// A context and its parents.
pub type Env<'a> = Rc<Frame<'a>>;

/// One yaql context: variables and `def` functions, over a parent.
pub struct Frame<'a> {
    vars: RefCell<Vec<(Rc<str>, V<'a>)>>,
    funcs: RefCell<Vec<(Rc<str>, Lambda<'a>)>>,
    parent: Option<Env<'a>>,
}

impl<'a> Frame<'a> {
    pub fn root() -> Env<'a> {
        Rc::new(Frame {
            vars: RefCell::new(Vec::new()),
            funcs: RefCell::new(Vec::new()),
            parent: None,
        })
    }

    pub fn child(parent: &Env<'a>) -> Env<'a> {
        Rc::new(Frame {
            vars: RefCell::new(Vec::new()),
            funcs: RefCell::new(Vec::new()),
            parent: Some(parent.clone()),
        })
    }

    /// Sets `$name` (`$` is `$1`, as in yaql).
    pub fn set(&self, name: &str, value: V<'a>) {
        let name = normalize(name);
        let mut vars = self.vars.borrow_mut();
        match vars.iter_mut().find(|(k, _)| **k == *name) {
            Some(slot) => slot.1 = value,
            None => vars.push((Rc::from(name.as_ref()), value)),
        }
    }

    fn get(&self, name: &str) -> Option<V<'a>> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some((_, v)) = f.vars.borrow().iter().find(|(k, _)| **k == *name) {
                return Some(v.clone());
            }
            frame = f.parent.as_deref();
        }
        None
    }

    pub fn define(&self, name: &str, body: Lambda<'a>) {
        self.funcs.borrow_mut().push((Rc::from(name), body));
    }

    fn user_fn(&self, name: &str) -> Option<Lambda<'a>> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some((_, l)) = f.funcs.borrow().iter().rev().find(|(k, _)| **k == *name) {
                return Some(l.clone());
            }
            frame = f.parent.as_deref();
        }
        None
    }
}

fn normalize(name: &str) -> std::borrow::Cow<'_, str> {
    if name == "$" {
        "$1".into()
    } else if name.starts_with('$') {
        name.into()
    } else {
        format!("${name}").into()
    }
}

/// An unevaluated argument (yaql's `Lambda` parameter) with the context it
/// was written in.
#[derive(Clone)]
pub struct Lambda<'a> {
    pub expr: &'a Expr,
    pub env: Env<'a>,
}

/// The evaluator for one expression.
pub struct Interp<'a> {
    pub scope: &'a Scope<'a>,
    depth: Cell<usize>,
}

/// A resolved argument of an overload.
#[derive(Clone)]
pub enum A<'a> {
    V(V<'a>),
    L(Lambda<'a>),
    /// A keyword (`Keyword` parameter): the name as written.
    K(Rc<str>),
    /// A `key => value` kept unevaluated (`switch`).
    Rule(Lambda<'a>, Lambda<'a>),
    /// A parameter left at yaql's "no value" default.
    Absent,
}

/// The arguments an overload receives, in parameter order, then the extra
/// positional ones (`*args`) and extra named ones (`**kwargs`).
pub struct Args<'a> {
    /// The function's name.
    pub name: &'static str,
    pub a: Vec<A<'a>>,
    pub rest: Vec<A<'a>>,
    pub kw: Vec<(Rc<str>, V<'a>)>,
    /// The context of the call site (a child of it, as yaql makes).
    pub env: Env<'a>,
}

impl<'a> Args<'a> {
    pub fn v(&self, i: usize) -> &V<'a> {
        match &self.a[i] {
            A::V(v) => v,
            _ => &V::Null,
        }
    }

    pub fn absent(&self, i: usize) -> bool {
        matches!(self.a[i], A::Absent)
    }

    pub fn lam(&self, i: usize) -> Option<&Lambda<'a>> {
        match &self.a[i] {
            A::L(l) => Some(l),
            _ => None,
        }
    }

    pub fn int(&self, i: usize) -> i64 {
        match self.v(i) {
            V::Int(n) => *n,
            V::Bool(b) => i64::from(*b),
            _ => 0,
        }
    }

    pub fn s(&self, i: usize) -> Option<&str> {
        match self.v(i) {
            V::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn rest_values(&self) -> Vec<V<'a>> {
        self.rest
            .iter()
            .map(|a| match a {
                A::V(v) => v.clone(),
                _ => V::Null,
            })
            .collect()
    }
}

fn mapping_translation() -> Error {
    Error::new(
        "MappingTranslationException",
        "Cannot convert mapping to keyword argument",
    )
}

fn repr_of(v: &V<'_>) -> String {
    let mut s = String::new();
    let _ = super::format::repr(v, false, &mut s);
    s
}

impl<'a> Interp<'a> {
    pub fn new(scope: &'a Scope<'a>) -> Interp<'a> {
        Interp {
            scope,
            depth: Cell::new(0),
        }
    }

    fn enter(&self) -> R<()> {
        let d = self.depth.get() + 1;
        if d > MAX_EVAL_DEPTH {
            return Err(Error::new(
                "RecursionError",
                format!(
                    "maximum recursion depth exceeded (calls nested deeper than {MAX_EVAL_DEPTH})"
                ),
            ));
        }
        self.depth.set(d);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get() - 1);
    }

    pub fn eval(&'a self, e: &'a Expr, env: &Env<'a>) -> R<V<'a>> {
        match e {
            Expr::Const(lit) => Ok(lit_value(lit)),
            Expr::Keyword(k) => Ok(V::Str(k.clone())),
            Expr::Var(name) => Ok(self.var(name, env)),
            Expr::Wrap(inner) => self.eval(inner, env),
            Expr::Call { .. } => {
                self.enter()?;
                let r = grow(|| self.eval_call(e, env, None));
                self.leave();
                r
            }
        }
    }

    fn var(&self, name: &str, env: &Env<'a>) -> V<'a> {
        let name = normalize(name);
        if let Some(v) = env.get(&name) {
            return v;
        }
        // Orquesta keeps its data in `$__vars` of the root context.
        if name == "$__vars" {
            return V::JMap(self.scope.ctx);
        }
        V::Null
    }

    /// Calls a lambda with positional parameters published as `$1`, `$2`,
    /// ... (and `$`), in a child of the context it was written in.
    pub fn call(&'a self, l: &Lambda<'a>, args: &[V<'a>]) -> R<V<'a>> {
        let env = Frame::child(&l.env);
        for (i, a) in args.iter().enumerate() {
            env.set(&format!("${}", i + 1), a.clone());
        }
        self.eval(l.expr, &env)
    }

    /// Calls a lambda as a method (`receiver.expr`).
    pub fn call_method(&'a self, l: &Lambda<'a>, receiver: V<'a>) -> R<V<'a>> {
        let env = Frame::child(&l.env);
        self.enter()?;
        let r = grow(|| self.eval_call(l.expr, &env, Some(receiver)));
        self.leave();
        r
    }

    /// Evaluates a lambda in a given context (yaql's `with_context`).
    pub fn call_in(&'a self, l: &Lambda<'a>, env: &Env<'a>) -> R<V<'a>> {
        self.eval(l.expr, env)
    }

    fn eval_call(&'a self, e: &'a Expr, env: &Env<'a>, receiver: Option<V<'a>>) -> R<V<'a>> {
        let Expr::Call {
            name,
            args,
            written,
        } = e
        else {
            return self.eval(e, env);
        };
        if !*written {
            if let Some(v) = self.operator(name, args, env)? {
                return Ok(v);
            }
        }
        self.dispatch(name, args, env, receiver)
    }

    /// Operators with evaluation rules of their own (lazy operands, the
    /// `.` operator); `None` for the others.
    fn operator(&'a self, name: &str, args: &'a [Arg], env: &Env<'a>) -> R<Option<V<'a>>> {
        let pos = |i: usize| match args.get(i) {
            Some(Arg::Pos(e)) => Some(e),
            _ => None,
        };
        Ok(Some(match (name, pos(0), pos(1)) {
            ("#operator_.", Some(left), Some(right)) => {
                let recv = self.eval(left, env)?;
                self.dot(recv, right, env)?
            }
            ("#operator_?.", Some(left), Some(right)) => {
                let recv = self.eval(left, env)?;
                if recv.is_null() {
                    V::Null
                } else {
                    self.dot(recv, right, env)?
                }
            }
            ("#operator_and", Some(l), Some(r)) => {
                let left = self.eval(l, &Frame::child(env))?;
                if !left.truthy() {
                    left
                } else {
                    self.eval(r, &Frame::child(env))?
                }
            }
            ("#operator_or", Some(l), Some(r)) => {
                let left = self.eval(l, &Frame::child(env))?;
                if left.truthy() {
                    left
                } else {
                    self.eval(r, &Frame::child(env))?
                }
            }
            ("#operator_->", Some(l), Some(r)) => match self.eval(l, env)? {
                V::Context(ctx) => self.eval(r, &ctx)?,
                _ => return Err(error::no_matching_function("#operator_->")),
            },
            ("*equal", Some(l), Some(r)) => {
                let (a, b) = (self.eval(l, env)?, self.eval(r, env)?);
                V::Bool(super::value::py_eq(&a, &b))
            }
            ("*not_equal", Some(l), Some(r)) => {
                let (a, b) = (self.eval(l, env)?, self.eval(r, env)?);
                V::Bool(!super::value::py_eq(&a, &b))
            }
            ("#unary_operator_not", Some(x), None) => V::Bool(!self.eval(x, env)?.truthy()),
            _ => return Ok(None),
        }))
    }

    /// `receiver.right`: a method call, a dict key, a key of every item of a
    /// collection, or a property (`#property#name`).
    pub fn dot(&'a self, recv: V<'a>, right: &'a Expr, env: &Env<'a>) -> R<V<'a>> {
        match right {
            Expr::Call { written: true, .. } => {
                let env = Frame::child(env);
                self.enter()?;
                let r = grow(|| self.eval_call(right, &env, Some(recv)));
                self.leave();
                r
            }
            Expr::Keyword(key) => self.attribute(recv, key),
            _ => Err(error::no_matching_function("#operator_.")),
        }
    }

    pub fn attribute(&'a self, recv: V<'a>, key: &Rc<str>) -> R<V<'a>> {
        if recv.is_mapping() {
            return recv
                .map_get(&V::Str(key.clone()))
                .ok_or_else(|| key_error(&V::Str(key.clone())));
        }
        if recv.is_iterable() {
            let key = key.clone();
            let items = iterate(&recv)?;
            let out = items.map(move |item| item.and_then(|v| self.attribute(v, &key)));
            return Ok(V::Iter(super::value::LazyIter::new(Box::new(out))));
        }
        lib::datetime::property(&recv, key)
    }

    /// Resolves and runs `name(args)` (with `receiver` first for a method).
    fn dispatch(
        &'a self,
        name: &Rc<str>,
        args: &'a [Arg],
        env: &Env<'a>,
        receiver: Option<V<'a>>,
    ) -> R<V<'a>> {
        let is_method = receiver.is_some();
        if !is_method {
            if let Some(body) = env.user_fn(name) {
                return self.call_user(&body, args, env);
            }
        }
        let overloads = self.candidates(name, receiver.as_ref())?;
        let no_kwargs = overloads[0].no_kwargs;
        let mut pos: Vec<CallArg<'a>> = Vec::with_capacity(args.len() + 1);
        if let Some(r) = receiver {
            pos.push(CallArg::value(r));
        }
        let mut kw: Vec<(Rc<str>, CallArg<'a>)> = Vec::new();
        for a in args {
            match a {
                Arg::Pos(e) => pos.push(CallArg {
                    expr: Some(e),
                    named: None,
                    value: None,
                    hole: false,
                }),
                Arg::Hole => pos.push(CallArg {
                    expr: None,
                    named: None,
                    value: None,
                    hole: true,
                }),
                Arg::Named(src, dst) => {
                    if no_kwargs {
                        pos.push(CallArg {
                            expr: None,
                            named: Some((src, dst)),
                            value: None,
                            hole: false,
                        });
                    } else {
                        let Expr::Keyword(k) = src else {
                            return Err(mapping_translation());
                        };
                        // A repeated name overwrites the earlier one, as in yaql.
                        kw.retain(|(n, _)| n != k);
                        kw.push((
                            k.clone(),
                            CallArg {
                                expr: Some(dst),
                                named: None,
                                value: None,
                                hole: false,
                            },
                        ));
                    }
                }
            }
        }
        self.run(name, &overloads, pos, kw, env, is_method)
    }

    /// The overloads of `name` callable as a function (or as a method when
    /// there is a receiver); an error when there are none.
    fn candidates(&self, name: &str, receiver: Option<&V<'a>>) -> R<Vec<&'static Ov>> {
        let is_method = receiver.is_some();
        let overloads: Vec<&'static Ov> = lib::overloads(name)
            .iter()
            .filter(|o| {
                if is_method {
                    o.kind.method()
                } else {
                    o.kind.function()
                }
            })
            .copied()
            .collect();
        if overloads.is_empty() {
            return Err(match receiver {
                Some(r) => error::no_method(name, &repr_of(r)),
                None => error::no_function(name),
            });
        }
        Ok(overloads)
    }

    /// Calls `name` with evaluated arguments (yaql's delegates: `sum()`
    /// calls `#operator_+`, `call(name, args, kwargs)`, ...).
    pub fn call_values(
        &'a self,
        name: &str,
        values: Vec<V<'a>>,
        kwargs: Vec<(Rc<str>, V<'a>)>,
        env: &Env<'a>,
    ) -> R<V<'a>> {
        if let Some(body) = env.user_fn(name) {
            let frame = Frame::child(&body.env);
            for (i, v) in values.into_iter().enumerate() {
                frame.set(&format!("${}", i + 1), v);
            }
            for (k, v) in kwargs {
                frame.set(&k, v);
            }
            return self.eval(body.expr, &frame);
        }
        let overloads = self.candidates(name, None)?;
        let pos = values.into_iter().map(CallArg::value).collect();
        let kw = kwargs
            .into_iter()
            .map(|(k, v)| (k, CallArg::value(v)))
            .collect();
        self.run(name, &overloads, pos, kw, env, false)
    }

    fn run(
        &'a self,
        name: &str,
        overloads: &[&'static Ov],
        mut pos: Vec<CallArg<'a>>,
        mut kw: Vec<(Rc<str>, CallArg<'a>)>,
        env: &Env<'a>,
        is_method: bool,
    ) -> R<V<'a>> {
        let not_found = |pos: &[CallArg<'a>]| {
            if is_method {
                let r = pos.first().and_then(|a| a.value.as_ref());
                error::no_matching_method(name, &r.map(repr_of).unwrap_or_default())
            } else {
                error::no_matching_function(name)
            }
        };
        // A skipped position among `*args` hands yaql's NO_VALUE marker to
        // the function, which no result can hold.
        if pos.iter().any(|a| a.hole)
            && overloads.iter().all(|o| {
                o.var.is_some() && o.params.len() <= pos.iter().position(|a| a.hole).unwrap_or(0)
            })
        {
            return Err(Error::new(
                "TypeError",
                "Object of type MarkerClass is not JSON serializable (a skipped argument has no value)",
            ));
        }
        if overloads[0].no_kwargs {
            if let Some((k, _)) = kw.first() {
                return Err(Error::new(
                    "ArgumentException",
                    format!("Invalid argument {k}"),
                ));
            }
        }
        // yaql finds both `concat`s equally good for no arguments.
        if name == "concat" && pos.is_empty() && kw.is_empty() && !is_method {
            return Err(Error::new(
                "AmbiguousFunctionException",
                "Ambiguous function \"concat\"",
            ));
        }
        // Overloads the arguments fit by count and name.
        let mapped: Vec<(&'static Ov, Vec<Slot>)> = overloads
            .iter()
            .filter_map(|o| map_args(o, &pos, &kw).map(|m| (*o, m)))
            .collect();
        let Some((first, first_map)) = mapped.first() else {
            return Err(not_found(&pos));
        };
        // Evaluate the non-lazy arguments once, in the call site's context.
        let lazy_pos = |i: usize| {
            first_map
                .iter()
                .enumerate()
                .any(|(p, s)| *s == Slot::Pos(i) && first.param_ty(p).is_lazy())
                || (i >= first.params.len() && first.var.is_some_and(|t| t.is_lazy()))
        };
        for (i, a) in pos.iter_mut().enumerate() {
            if a.value.is_some() || a.hole || lazy_pos(i) {
                continue;
            }
            a.value = Some(match (a.expr, a.named) {
                (Some(e), _) => self.eval(e, env)?,
                (None, Some((s, d))) => {
                    let key = self.eval(s, env)?;
                    let value = self.eval(d, env)?;
                    V::Rule(Rc::new((key, value)))
                }
                _ => V::Null,
            });
        }
        for (k, a) in kw.iter_mut() {
            let lazy = first
                .params
                .iter()
                .any(|p| p.name == &**k && p.ty.is_lazy());
            if !lazy {
                if let Some(e) = a.expr {
                    a.value = Some(self.eval(e, env)?);
                }
            }
        }
        let call_env = Frame::child(env);
        for (ov, slots) in &mapped {
            if let Some(mut resolved) = resolve(ov, slots, &pos, &kw, &call_env) {
                return (ov.f)(self, &mut resolved);
            }
        }
        Err(not_found(&pos))
    }

    /// A function defined with `def(name, body)`: any arguments, published
    /// as `$1`, `$2`, ... and `$name`.
    fn call_user(&'a self, body: &Lambda<'a>, args: &'a [Arg], env: &Env<'a>) -> R<V<'a>> {
        let frame = Frame::child(&body.env);
        let mut n = 0;
        for a in args {
            match a {
                Arg::Pos(e) => {
                    n += 1;
                    frame.set(&format!("${n}"), self.eval(e, env)?);
                }
                Arg::Hole => n += 1,
                Arg::Named(src, dst) => {
                    let Expr::Keyword(k) = src else {
                        return Err(Error::new(
                            "MappingTranslationException",
                            "Cannot convert mapping to keyword argument",
                        ));
                    };
                    frame.set(k, self.eval(dst, env)?);
                }
            }
        }
        self.enter()?;
        let r = self.eval(body.expr, &frame);
        self.leave();
        r
    }
}

/// Runs `f` with at least 128 KiB of stack left, growing the stack first
/// when needed (evaluation recurses once per nesting level, which is
/// limited, but debug builds have large frames).
pub fn grow<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, f)
}

/// The value of a literal.
pub fn lit_value<'a>(lit: &Lit) -> V<'a> {
    match lit {
        Lit::Null => V::Null,
        Lit::Bool(b) => V::Bool(*b),
        Lit::Int(i) => V::Int(*i),
        Lit::Float(f) => V::Float(*f),
        Lit::Str(s) => V::Str(s.clone()),
    }
}

/// Python's `KeyError(key)`: its message is the key's repr.
pub fn key_error(key: &V<'_>) -> Error {
    let mut s = String::new();
    let _ = super::format::repr(key, false, &mut s);
    Error::new("KeyError", s)
}

/// Iterates a yaql iterable (tuple, list, set, generator, ordering).
pub fn iterate<'a>(v: &V<'a>) -> R<DynIter<'a>> {
    Ok(match v {
        V::Tuple(t) | V::List(t) => {
            let t = t.clone();
            Box::new((0..t.len()).map(move |i| Ok(t[i].clone())))
        }
        V::JArr(a) => Box::new(a.iter().map(|j| Ok(V::from_json(j)))),
        V::Set(s, _) => {
            let s = s.clone();
            Box::new((0..s.len()).map(move |i| Ok(s[i].clone())))
        }
        V::Values(t, _) => {
            let t = t.clone();
            Box::new((0..t.len()).map(move |i| Ok(t[i].clone())))
        }
        V::Iter(it) => {
            let it = it.clone();
            Box::new(std::iter::from_fn(move || it.pull()))
        }
        V::Ordered(o) => {
            let sorted = lib::shaping::sorted(o)?;
            Box::new((0..sorted.len()).map(move |i| Ok(sorted[i].clone())))
        }
        other => {
            return Err(error::type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    })
}

/// Every item of an iterable, pulled now.
pub fn collect<'a>(v: &V<'a>) -> R<Vec<V<'a>>> {
    match v {
        V::Tuple(t) | V::List(t) => Ok(t.as_ref().clone()),
        _ => {
            let mut out = Vec::new();
            for item in iterate(v)? {
                out.push(item?);
                if out.len() > lib::MAX_ITEMS {
                    return Err(lib::too_many());
                }
            }
            Ok(out)
        }
    }
}
