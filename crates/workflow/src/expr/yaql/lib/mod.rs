//! yaql's standard library as Orquesta configures it
//! (`yaql.create_context()` with its defaults, `YaqlFactory().create()`
//! without options: no iterator or memory limits, output converted to
//! plain data) and Orquesta's own functions.
//!
//! Every function is a list of overloads with yaql's parameter names and
//! types (`yaql/standard_library/*.py`), so a call resolves exactly as in
//! yaql: same overload, or the same resolution error.

pub mod collections;
pub mod datetime;
pub mod math;
pub mod ops;
pub mod orquesta;
pub mod queries;
pub mod regex;
pub mod shaping;
pub mod st2;
pub mod strings;
pub mod system;

use std::collections::HashMap;
use std::sync::OnceLock;

use super::error::{Error, R};
use super::interp::{Args, Interp};
use super::value::V;

/// Most items any collection may hold (yaql has no limit under Orquesta;
/// this stops `sequence()` and `repeat()` from consuming all memory).
pub const MAX_ITEMS: usize = 1_000_000;

/// The error for a collection over [`MAX_ITEMS`].
pub fn too_many() -> Error {
    Error::new(
        "CollectionTooLargeException",
        format!("Collection length exceeds {MAX_ITEMS} elements"),
    )
}

/// Whether an overload is a function, a method (`x.f()`), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    F,
    M,
    FM,
}

impl Kind {
    pub fn function(self) -> bool {
        matches!(self, Kind::F | Kind::FM)
    }

    pub fn method(self) -> bool {
        matches!(self, Kind::M | Kind::FM)
    }
}

/// A parameter type, as yaql's `yaqltypes` checks it. `N` = nullable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `object`, null allowed.
    Any,
    /// `object`, null refused.
    AnyNN,
    /// Only null.
    NoneT,
    Str,
    StrN,
    /// Python `int` (a `bool` is one).
    Int,
    IntN,
    /// `yaqltypes.Integer`: an int that is not a bool.
    Integer,
    /// `yaqltypes.Number`: int or float, not bool.
    Num,
    NumN,
    Bool,
    BoolN,
    /// Not a string, not a mapping.
    Iterable,
    /// Iterable but not a set (`insert`).
    IterableNoSet,
    /// A generator.
    Iterator,
    /// A tuple or list.
    Sequence,
    Mapping,
    Set,
    DateTime,
    TimeSpan,
    TimeSpanN,
    Regex,
    /// The result of `orderBy` (for `thenBy`).
    Ordered,
    /// A context object (`let(...)`).
    Context,
    /// An evaluated `key => value`.
    Rule,
    /// Unevaluated argument (yaql's `Lambda`).
    Lambda,
    /// Unevaluated, evaluated in a given context (`->`, regex selectors).
    LambdaCtx,
    /// A call written after `.` (yaql's `Lambda(method=True)`).
    LambdaM,
    /// A bare name.
    Keyword,
    /// An unevaluated `key => value` (`switch`).
    RuleLazy,
}

impl Ty {
    pub fn is_lazy(self) -> bool {
        matches!(
            self,
            Ty::Lambda | Ty::LambdaCtx | Ty::LambdaM | Ty::RuleLazy | Ty::Keyword
        )
    }

    pub fn check(self, v: &V<'_>) -> bool {
        let null = v.is_null();
        match self {
            Ty::Any => true,
            Ty::AnyNN => !null,
            Ty::NoneT => null,
            Ty::Str => matches!(v, V::Str(_)),
            Ty::StrN => null || matches!(v, V::Str(_)),
            Ty::Int => matches!(v, V::Int(_) | V::Bool(_)),
            Ty::IntN => null || matches!(v, V::Int(_) | V::Bool(_)),
            Ty::Integer => matches!(v, V::Int(_)),
            Ty::Num => matches!(v, V::Int(_) | V::Float(_)),
            Ty::NumN => null || matches!(v, V::Int(_) | V::Float(_)),
            Ty::Bool => matches!(v, V::Bool(_)),
            Ty::BoolN => null || matches!(v, V::Bool(_)),
            Ty::Iterable => v.is_iterable(),
            Ty::IterableNoSet => v.is_iterable() && !matches!(v, V::Set(..)),
            Ty::Iterator => matches!(v, V::Iter(_)),
            Ty::Sequence => v.is_sequence(),
            Ty::Mapping => v.is_mapping(),
            Ty::Set => matches!(v, V::Set(..)),
            Ty::DateTime => matches!(v, V::DateTime(_)),
            Ty::TimeSpan => matches!(v, V::TimeSpan(_)),
            Ty::TimeSpanN => null || matches!(v, V::TimeSpan(_)),
            Ty::Regex => matches!(v, V::Regex(_)),
            Ty::Ordered => matches!(v, V::Ordered(_)),
            Ty::Context => matches!(v, V::Context(_)),
            Ty::Rule => matches!(v, V::Rule(_)),
            Ty::Lambda | Ty::LambdaCtx | Ty::LambdaM | Ty::Keyword | Ty::RuleLazy => true,
        }
    }
}

/// A parameter default.
#[derive(Debug, Clone, Copy)]
pub enum D {
    /// Required.
    Req,
    /// yaql's `NO_VALUE` (e.g. `first()` without a default).
    NoValue,
    Null,
    I(i64),
    B(bool),
    S(&'static str),
    /// `timedelta(0)`.
    Ts0,
}

#[derive(Debug, Clone, Copy)]
pub struct P {
    /// The name a named argument uses (yaql's camelCase alias).
    pub name: &'static str,
    pub ty: Ty,
    pub d: D,
}

/// A required parameter.
pub const fn p(name: &'static str, ty: Ty) -> P {
    P {
        name,
        ty,
        d: D::Req,
    }
}

/// A parameter with a default.
pub const fn o(name: &'static str, ty: Ty, d: D) -> P {
    P { name, ty, d }
}

/// An overload's implementation.
pub type Imp = for<'a> fn(&'a Interp<'a>, &mut Args<'a>) -> R<V<'a>>;

/// One overload of a yaql function.
pub struct Ov {
    pub name: &'static str,
    pub kind: Kind,
    pub params: &'static [P],
    /// Type of `*args`, if the function takes them.
    pub var: Option<Ty>,
    /// Type of `**kwargs`, if the function takes them.
    pub kw: Option<Ty>,
    /// yaql's `no_kwargs`: `name => value` stays a positional argument.
    pub no_kwargs: bool,
    pub f: Imp,
}

impl Ov {
    pub fn param_ty(&self, i: usize) -> Ty {
        self.params[i].ty
    }
}

/// An overload with fixed parameters.
pub const fn ov(name: &'static str, kind: Kind, params: &'static [P], f: Imp) -> Ov {
    Ov {
        name,
        kind,
        params,
        var: None,
        kw: None,
        no_kwargs: false,
        f,
    }
}

/// An overload that also takes `*args` of type `var`.
pub const fn ov_var(name: &'static str, kind: Kind, params: &'static [P], var: Ty, f: Imp) -> Ov {
    Ov {
        name,
        kind,
        params,
        var: Some(var),
        kw: None,
        no_kwargs: false,
        f,
    }
}

fn registry() -> &'static HashMap<&'static str, Vec<&'static Ov>> {
    static REG: OnceLock<HashMap<&'static str, Vec<&'static Ov>>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut map: HashMap<&'static str, Vec<&'static Ov>> = HashMap::new();
        for table in [
            orquesta::OVERLOADS,
            ops::OVERLOADS,
            math::OVERLOADS,
            strings::OVERLOADS,
            collections::OVERLOADS,
            queries::OVERLOADS,
            shaping::OVERLOADS,
            regex::OVERLOADS,
            system::OVERLOADS,
            datetime::OVERLOADS,
            st2::OVERLOADS,
        ] {
            for o in table {
                map.entry(o.name).or_default().push(o);
            }
        }
        map
    })
}

/// Every overload of `name`, most specific first.
pub fn overloads(name: &str) -> &'static [&'static Ov] {
    registry().get(name).map_or(&[], Vec::as_slice)
}

/// Names of every function and method (for documentation and tests).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry().keys().copied().collect();
    names.sort_unstable();
    names
}
