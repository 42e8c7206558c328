//! YAQL values: the Python objects yaql computes with, over borrowed JSON.
//!
//! Input data is borrowed (`JArr`, `JMap`), never copied, until an
//! operation builds something new. Lists keep Python's distinction between
//! a tuple (literals, input data, `toList()`) and a list (`split()`,
//! `insert()`, ...): `[1] = 'a'.split(',')` is false in yaql as in Python.
//! Lazy results (`select`, `where`, `range`, ...) are single-pass iterators
//! shared by reference, like Python generators.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use chrono::{DateTime, FixedOffset};
use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value as Json};

use super::error::{Error, R};
use super::interp::{Env, Interp, Lambda};

/// Nesting limit for values built by expressions (lists of lists of ...),
/// so that comparing, hashing and converting them cannot exhaust the stack.
pub const MAX_VALUE_DEPTH: usize = 200;

/// One item a generator yields.
pub type Item<'a> = R<V<'a>>;
/// A generator's iterator.
pub type DynIter<'a> = Box<dyn Iterator<Item = Item<'a>> + 'a>;

/// A Python generator: pulled once, shared by every reference to it.
pub struct LazyIter<'a> {
    inner: RefCell<DynIter<'a>>,
}

impl<'a> LazyIter<'a> {
    pub fn new(it: DynIter<'a>) -> Rc<Self> {
        Rc::new(LazyIter {
            inner: RefCell::new(it),
        })
    }

    pub fn pull(&self) -> Option<Item<'a>> {
        match self.inner.try_borrow_mut() {
            Ok(mut it) => it.next(),
            Err(_) => Some(Err(Error::new("ValueError", "generator already executing"))),
        }
    }
}

/// `orderBy(...)` result: sorted on first use; `thenBy` adds keys before.
pub struct Ordering<'a> {
    pub interp: &'a Interp<'a>,
    pub source: V<'a>,
    pub keys: RefCell<Vec<(Lambda<'a>, bool)>>,
    pub sorted: RefCell<Option<Rc<Vec<V<'a>>>>>,
}

/// A compiled regular expression with the pattern it came from.
pub struct PyRegex {
    pub pattern: String,
    pub flags: u32,
    pub re: fancy_regex::Regex,
}

#[derive(Clone)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// A JSON array of the input data (a tuple).
    JArr(&'a Vec<Json>),
    /// A JSON object of the input data (a frozen dict).
    JMap(&'a Map<String, Json>),
    Tuple(Rc<Vec<V<'a>>>),
    List(Rc<Vec<V<'a>>>),
    Dict(Rc<IndexMap<V<'a>, V<'a>>>),
    /// A frozenset, or a dict's keys or items view (also sets in Python,
    /// without the frozenset methods).
    Set(Rc<IndexSet<V<'a>>>, SetKind<'a>),
    Iter(Rc<LazyIter<'a>>),
    /// `dict.values()`: re-iterable, but neither a sequence nor a set.
    Values(Rc<Vec<V<'a>>>, Box<V<'a>>),
    Ordered(Rc<Ordering<'a>>),
    DateTime(DateTime<FixedOffset>),
    /// A `timedelta`, in microseconds.
    TimeSpan(i64),
    Regex(Rc<PyRegex>),
    /// A context object (`let(...)`, `with(...)`) for `->`.
    Context(Env<'a>),
    /// `key => value` evaluated (an argument of `dict()`, `{}`, `set()`).
    Rule(Rc<(V<'a>, V<'a>)>),
}

impl<'a> V<'a> {
    pub fn str(s: &str) -> V<'a> {
        V::Str(Rc::from(s))
    }

    pub fn string(s: String) -> V<'a> {
        V::Str(Rc::from(s))
    }

    pub fn tuple(items: Vec<V<'a>>) -> R<V<'a>> {
        check_depth(&items)?;
        Ok(V::Tuple(Rc::new(items)))
    }

    pub fn list(items: Vec<V<'a>>) -> R<V<'a>> {
        check_depth(&items)?;
        Ok(V::List(Rc::new(items)))
    }

    pub fn dict(map: IndexMap<V<'a>, V<'a>>) -> R<V<'a>> {
        for v in map.values() {
            if depth(v) >= MAX_VALUE_DEPTH {
                return Err(too_deep());
            }
        }
        Ok(V::Dict(Rc::new(map)))
    }

    pub fn set(set: IndexSet<V<'a>>) -> V<'a> {
        V::Set(Rc::new(set), SetKind::Frozen)
    }

    pub fn from_json(j: &'a Json) -> V<'a> {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => V::Int(i),
                None => V::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => V::str(s),
            Json::Array(a) => V::JArr(a),
            Json::Object(m) => V::JMap(m),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, V::Null)
    }

    /// Python's type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            V::Null => "NoneType",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float",
            V::Str(_) => "str",
            V::JArr(_) | V::Tuple(_) => "tuple",
            V::List(_) => "list",
            V::JMap(_) | V::Dict(_) => "dict",
            V::Set(_, SetKind::Frozen) => "frozenset",
            V::Set(_, SetKind::Keys(_)) => "KeysView",
            V::Set(_, SetKind::Items(_)) => "ItemsView",
            V::Iter(_) => "generator",
            V::Values(..) => "ValuesView",
            V::Ordered(_) => "OrderingIterable",
            V::DateTime(_) => "datetime",
            V::TimeSpan(_) => "timedelta",
            V::Regex(_) => "Pattern",
            V::Context(_) => "Context",
            V::Rule(_) => "MappingRule",
        }
    }

    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            V::Null => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::JArr(a) => !a.is_empty(),
            V::JMap(m) => !m.is_empty(),
            V::Tuple(t) | V::List(t) => !t.is_empty(),
            V::Dict(d) => !d.is_empty(),
            V::Set(s, _) => !s.is_empty(),
            V::TimeSpan(t) => *t != 0,
            _ => true,
        }
    }

    /// The number of a `bool`, `int` or `float` (Python's numeric tower).
    pub fn num(&self) -> Option<Num> {
        match self {
            V::Bool(b) => Some(Num::I(i64::from(*b))),
            V::Int(i) => Some(Num::I(*i)),
            V::Float(f) => Some(Num::F(*f)),
            _ => None,
        }
    }

    /// Items of a tuple, list or JSON array (without copying for tuples).
    pub fn seq_items(&self) -> Option<Vec<V<'a>>> {
        match self {
            V::Tuple(t) | V::List(t) => Some(t.as_ref().clone()),
            V::JArr(a) => Some(a.iter().map(V::from_json).collect()),
            _ => None,
        }
    }

    pub fn seq_len(&self) -> Option<usize> {
        match self {
            V::Tuple(t) | V::List(t) => Some(t.len()),
            V::JArr(a) => Some(a.len()),
            _ => None,
        }
    }

    pub fn seq_get(&self, i: usize) -> Option<V<'a>> {
        match self {
            V::Tuple(t) | V::List(t) => t.get(i).cloned(),
            V::JArr(a) => a.get(i).map(V::from_json),
            _ => None,
        }
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self, V::JMap(_) | V::Dict(_))
    }

    /// `(key, value)` pairs of a mapping, in order.
    pub fn map_items(&self) -> Option<Vec<(V<'a>, V<'a>)>> {
        match self {
            V::JMap(m) => Some(
                m.iter()
                    .map(|(k, v)| (V::str(k), V::from_json(v)))
                    .collect(),
            ),
            V::Dict(d) => Some(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            _ => None,
        }
    }

    pub fn map_len(&self) -> Option<usize> {
        match self {
            V::JMap(m) => Some(m.len()),
            V::Dict(d) => Some(d.len()),
            _ => None,
        }
    }

    /// Mapping lookup (`None` when the key is absent).
    pub fn map_get(&self, key: &V<'a>) -> Option<V<'a>> {
        match self {
            V::JMap(m) => match key {
                V::Str(k) => m.get(k.as_ref()).map(V::from_json),
                _ => None,
            },
            V::Dict(d) => d.get(key).cloned(),
            _ => None,
        }
    }

    /// The dict as an owned, ordered map.
    pub fn to_index_map(&self) -> Option<IndexMap<V<'a>, V<'a>>> {
        match self {
            V::Dict(d) => Some(d.as_ref().clone()),
            V::JMap(_) => self.map_items().map(|items| items.into_iter().collect()),
            _ => None,
        }
    }

    /// Iterable in yaql's sense: not a string, not a mapping.
    pub fn is_iterable(&self) -> bool {
        matches!(
            self,
            V::JArr(_)
                | V::Tuple(_)
                | V::List(_)
                | V::Set(..)
                | V::Iter(_)
                | V::Values(..)
                | V::Ordered(_)
        )
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, V::JArr(_) | V::Tuple(_) | V::List(_))
    }
}

/// What a set value is in Python.
#[derive(Clone)]
pub enum SetKind<'a> {
    Frozen,
    /// `dict.keys()` of this mapping.
    Keys(Box<V<'a>>),
    /// `dict.items()` of this mapping.
    Items(Box<V<'a>>),
}

/// A Python number.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    I(i64),
    F(f64),
}

impl Num {
    pub fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }

    pub fn value<'a>(self) -> V<'a> {
        match self {
            Num::I(i) => V::Int(i),
            Num::F(f) => V::Float(f),
        }
    }
}

fn too_deep() -> Error {
    Error::new(
        "RecursionError",
        format!("value nested deeper than {MAX_VALUE_DEPTH} levels"),
    )
}

fn check_depth(items: &[V<'_>]) -> R<()> {
    if items.iter().any(|v| depth(v) >= MAX_VALUE_DEPTH) {
        return Err(too_deep());
    }
    Ok(())
}

/// Nesting depth of a built value (borrowed JSON counts as flat: serde_json
/// bounds its own nesting when parsing).
pub fn depth(v: &V<'_>) -> usize {
    match v {
        V::Tuple(t) | V::List(t) => 1 + t.iter().map(depth).max().unwrap_or(0),
        V::Dict(d) => 1 + d.values().map(depth).max().unwrap_or(0),
        V::Set(s, _) => 1 + s.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

// ---------------------------------------------------------------- equality

/// Python `==`.
pub fn py_eq<'a>(a: &V<'a>, b: &V<'a>) -> bool {
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return match (x, y) {
            (Num::I(i), Num::I(j)) => i == j,
            _ => x.f() == y.f(),
        };
    }
    match (a, b) {
        (V::Null, V::Null) => true,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Tuple(_) | V::JArr(_), V::Tuple(_) | V::JArr(_)) | (V::List(_), V::List(_)) => {
            let (x, y) = (a.seq_items_ref(), b.seq_items_ref());
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| py_eq(p, q))
        }
        (V::JMap(_) | V::Dict(_), V::JMap(_) | V::Dict(_)) => {
            let (Some(n), Some(m)) = (a.map_len(), b.map_len()) else {
                return false;
            };
            n == m
                && a.map_items()
                    .unwrap_or_default()
                    .iter()
                    .all(|(k, v)| b.map_get(k).is_some_and(|w| py_eq(v, &w)))
        }
        (V::Set(x, _), V::Set(y, _)) => x.len() == y.len() && x.iter().all(|v| y.contains(v)),
        (V::Iter(x), V::Iter(y)) => Rc::ptr_eq(x, y),
        (V::Values(x, _), V::Values(y, _)) => Rc::ptr_eq(x, y),
        (V::Ordered(x), V::Ordered(y)) => Rc::ptr_eq(x, y),
        (V::DateTime(x), V::DateTime(y)) => x == y,
        (V::TimeSpan(x), V::TimeSpan(y)) => x == y,
        (V::Regex(x), V::Regex(y)) => x.pattern == y.pattern && x.flags == y.flags,
        (V::Context(x), V::Context(y)) => Rc::ptr_eq(x, y),
        (V::Rule(x), V::Rule(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

impl<'a> V<'a> {
    /// Sequence items as owned values (cheap clones of `Rc`s).
    fn seq_items_ref(&self) -> Vec<V<'a>> {
        self.seq_items().unwrap_or_default()
    }
}

impl PartialEq for V<'_> {
    fn eq(&self, other: &Self) -> bool {
        py_eq(self, other)
    }
}

impl Eq for V<'_> {}

impl Hash for V<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            V::Null => 0u8.hash(state),
            V::Bool(_) | V::Int(_) | V::Float(_) => {
                1u8.hash(state);
                let f = self.num().map(Num::f).unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    (f as i64).hash(state);
                } else if let V::Int(i) = self {
                    i.hash(state);
                } else {
                    f.to_bits().hash(state);
                }
            }
            V::Str(s) => s.hash(state),
            V::JArr(_) | V::Tuple(_) | V::List(_) => {
                3u8.hash(state);
                for v in self.seq_items_ref() {
                    v.hash(state);
                }
            }
            V::JMap(_) | V::Dict(_) => {
                // Order-independent, like FrozenDict's XOR of item hashes.
                4u8.hash(state);
                self.map_len().hash(state);
            }
            V::Set(s, _) => {
                5u8.hash(state);
                s.len().hash(state);
            }
            V::DateTime(d) => d.hash(state),
            V::TimeSpan(t) => t.hash(state),
            V::Regex(r) => r.pattern.hash(state),
            V::Iter(_) | V::Values(..) | V::Ordered(_) | V::Context(_) | V::Rule(_) => {
                9u8.hash(state)
            }
        }
    }
}
