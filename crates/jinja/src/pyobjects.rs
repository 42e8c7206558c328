//! Python values that minijinja has no type for: tuples, `dict.keys()` /
//! `values()` / `items()` views and StackStorm's datastore lookups
//! (`st2kv.system.key`). Each prints as Python prints it.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::datastore::{Datastore, KvScope};

/// A Python tuple: a sequence that prints as `('a', 1)`. Methods such as
/// `dict.items()` and `str.partition()` return these; a named tuple (the
/// groups of `groupby`) also answers its field names.
#[derive(Debug, Clone)]
pub struct PyTuple(pub Vec<Value>, pub &'static [&'static str]);

impl PyTuple {
    /// Wraps the items into a template value.
    pub fn value(items: Vec<Value>) -> Value {
        Value::from_object(PyTuple(items, &[]))
    }

    /// A named tuple: `fields[i]` reads item `i`.
    pub fn named(items: Vec<Value>, fields: &'static [&'static str]) -> Value {
        Value::from_object(PyTuple(items, fields))
    }

    /// The tuple's items.
    pub fn items(&self) -> &[Value] {
        &self.0
    }
}

impl Object for PyTuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(name) = key.as_str() {
            let i = self.1.iter().position(|f| *f == name)?;
            return self.0.get(i).cloned();
        }
        let i = key.as_i64()?;
        let len = self.0.len() as i64;
        let i = if i < 0 { i + len } else { i };
        self.0.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::pyrepr::py_repr(&Value::from_dyn_object(
            self.clone(),
        )))
    }
}

/// Which dictionary view a [`PyView`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// `dict.keys()`
    Keys,
    /// `dict.values()`
    Values,
    /// `dict.items()` (items are [`PyTuple`] pairs)
    Items,
}

/// A `dict.keys()`, `dict.values()` or `dict.items()` view: iterable,
/// with a length, printed as `dict_keys(['a', 'b'])`.
#[derive(Debug, Clone)]
pub struct PyView {
    kind: ViewKind,
    items: Vec<Value>,
}

impl PyView {
    /// A view of `kind` over `items`.
    pub fn value(kind: ViewKind, items: Vec<Value>) -> Value {
        Value::from_object(PyView { kind, items })
    }

    /// Python's type name (`dict_keys`, `dict_values`, `dict_items`).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ViewKind::Keys => "dict_keys",
            ViewKind::Values => "dict_values",
            ViewKind::Items => "dict_items",
        }
    }

    /// The view's items, in the dictionary's order.
    pub fn items(&self) -> &[Value] {
        &self.items
    }
}

impl Object for PyView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(self.items.clone().into_iter()))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::pyrepr::py_repr(&Value::from_dyn_object(
            self.clone(),
        )))
    }
}

/// StackStorm's `KeyValueLookup` (`st2common/services/keyvalues.py`):
/// `st2kv.system.a.b` reads the key `a.b`; the lookup prints as the stored
/// value, or as the empty string when the key does not exist.
pub struct KvLookup {
    store: Arc<dyn Datastore>,
    scope: KvScope,
    key: String,
}

impl fmt::Debug for KvLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvLookup")
            .field("scope", &self.scope)
            .field("key", &self.key)
            .finish()
    }
}

impl KvLookup {
    /// The `st2kv` namespace: `{system: <lookup>, user: <lookup>}`.
    pub fn namespace(store: Arc<dyn Datastore>) -> Value {
        let system = KvLookup {
            store: store.clone(),
            scope: KvScope::System,
            key: String::new(),
        };
        let user = KvLookup {
            store,
            scope: KvScope::User,
            key: String::new(),
        };
        Value::from_iter([
            ("system", Value::from_object(system)),
            ("user", Value::from_object(user)),
        ])
    }

    /// The full key this lookup reads (`a.b` for `st2kv.system.a.b`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lookup's scope.
    pub fn scope(&self) -> KvScope {
        self.scope
    }

    /// The stored value, `None` when the key does not exist (or on a read
    /// error, which StackStorm also renders as the empty string).
    pub fn stored(&self) -> Option<String> {
        if self.key.is_empty() {
            return None;
        }
        self.store.get(self.scope, &self.key, false).ok().flatten()
    }

    /// What the lookup prints as: the stored value or `""`.
    pub fn text(&self) -> String {
        self.stored().unwrap_or_default()
    }
}

impl Object for KvLookup {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let key = if self.key.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.key)
        };
        Some(Value::from_object(KvLookup {
            store: self.store.clone(),
            scope: self.scope,
            key,
        }))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.text().is_empty()
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}
