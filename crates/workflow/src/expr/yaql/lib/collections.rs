//! Lists, dicts and sets (`yaql/standard_library/collections.py`).

use indexmap::{IndexMap, IndexSet};

use super::ops::{contains, dict_from_rules};
use super::{o, ov, ov_var, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{collect, iterate};
use crate::expr::yaql::value::{LazyIter, SetKind, V};

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov_var("list", F, &[], Any, |_, a| {
        V::tuple(expand_iterators(a.rest_values())?)
    }),
    ov("toList", M, &[p("collection", Iterable)], |_, a| {
        to_tuple(a.v(0))
    }),
    ov("flatten", M, &[p("collection", Iterable)], |_, a| {
        flatten(a.v(0))
    }),
    Ov {
        name: "dict",
        kind: F,
        params: &[],
        var: Some(Rule),
        kw: None,
        no_kwargs: true,
        f: |_, a| dict_from_rules(a),
    },
    Ov {
        name: "dict",
        kind: F,
        params: &[p("items", Iterable)],
        var: None,
        kw: None,
        no_kwargs: true,
        f: |_, a| dict_from_pairs(a.v(0)),
    },
    ov(
        "toDict",
        M,
        &[
            p("collection", Iterable),
            p("keySelector", Lambda),
            o("valueSelector", Lambda, D::Null),
        ],
        |it, a| {
            let mut m = IndexMap::new();
            for item in collect(a.v(0))? {
                let key = match a.lam(1) {
                    Some(l) => it.call(l, std::slice::from_ref(&item))?,
                    None => a.v(1).clone(),
                };
                let value = match a.lam(2) {
                    Some(l) => it.call(l, &[item])?,
                    None if !a.v(2).is_null() => a.v(2).clone(),
                    None => item,
                };
                m.insert(key, value);
            }
            V::dict(m)
        },
    ),
    ov(
        "get",
        M,
        &[
            p("dict", Mapping),
            p("key", Any),
            o("default", Any, D::Null),
        ],
        |_, a| Ok(a.v(0).map_get(a.v(1)).unwrap_or_else(|| a.v(2).clone())),
    ),
    // Most specific first, as yaql's overload resolution prefers it.
    Ov {
        name: "set",
        kind: M,
        params: &[p("dict", Mapping)],
        var: Some(Rule),
        kw: None,
        no_kwargs: true,
        f: |_, a| {
            let mut m = a.v(0).to_index_map().unwrap_or_default();
            for r in a.rest_values() {
                if let V::Rule(kv) = r {
                    m.insert(kv.0.clone(), kv.1.clone());
                }
            }
            V::dict(m)
        },
    },
    Ov {
        name: "set",
        kind: M,
        params: &[p("dict", Mapping), p("replacements", Mapping)],
        var: None,
        kw: None,
        no_kwargs: true,
        f: |_, a| {
            let mut m = a.v(0).to_index_map().unwrap_or_default();
            m.extend(a.v(1).map_items().unwrap_or_default());
            V::dict(m)
        },
    },
    Ov {
        name: "set",
        kind: M,
        params: &[p("dict", Mapping), p("key", Any), p("value", Any)],
        var: None,
        kw: None,
        no_kwargs: true,
        f: |_, a| {
            let mut m = a.v(0).to_index_map().unwrap_or_default();
            m.insert(a.v(1).clone(), a.v(2).clone());
            V::dict(m)
        },
    },
    ov_var("set", F, &[], Any, |_, a| {
        Ok(V::set(
            expand_iterators(a.rest_values())?.into_iter().collect(),
        ))
    }),
    ov("keys", M, &[p("dict", Mapping)], |_, a| {
        let items = a.v(0).map_items().unwrap_or_default();
        Ok(V::Set(
            std::rc::Rc::new(items.into_iter().map(|(k, _)| k).collect()),
            SetKind::Keys(Box::new(a.v(0).clone())),
        ))
    }),
    ov("values", M, &[p("dict", Mapping)], |_, a| {
        let items = a.v(0).map_items().unwrap_or_default();
        Ok(V::Values(
            std::rc::Rc::new(items.into_iter().map(|(_, v)| v).collect()),
            Box::new(a.v(0).clone()),
        ))
    }),
    ov("items", M, &[p("dict", Mapping)], |_, a| {
        let mut set = IndexSet::new();
        for (k, v) in a.v(0).map_items().unwrap_or_default() {
            set.insert(V::tuple(vec![k, v])?);
        }
        Ok(V::Set(
            std::rc::Rc::new(set),
            SetKind::Items(Box::new(a.v(0).clone())),
        ))
    }),
    ov(
        "contains",
        M,
        &[p("collection", Iterable), p("value", Any)],
        |_, a| contains(a.v(0), a.v(1)).map(V::Bool),
    ),
    ov(
        "containsKey",
        M,
        &[p("dict", Mapping), p("key", Any)],
        |_, a| Ok(V::Bool(a.v(0).map_get(a.v(1)).is_some())),
    ),
    ov(
        "containsValue",
        M,
        &[p("dict", Mapping), p("value", Any)],
        |_, a| {
            let items = a.v(0).map_items().unwrap_or_default();
            Ok(V::Bool(items.iter().any(|(_, v)| v == a.v(1))))
        },
    ),
    ov("isDict", F, &[p("arg", Any)], |_, a| {
        Ok(V::Bool(a.v(0).is_mapping()))
    }),
    ov("isList", F, &[p("arg", Any)], |_, a| {
        Ok(V::Bool(a.v(0).is_sequence()))
    }),
    ov("isSet", F, &[p("arg", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Set(..))))
    }),
    ov("len", FM, &[p("dict", Mapping)], |_, a| {
        Ok(V::Int(a.v(0).map_len().unwrap_or(0) as i64))
    }),
    ov("len", FM, &[p("sequence", Sequence)], |_, a| {
        Ok(V::Int(a.v(0).seq_len().unwrap_or(0) as i64))
    }),
    ov("len", FM, &[p("set", Set)], |_, a| match a.v(0) {
        V::Set(s, _) => Ok(V::Int(s.len() as i64)),
        _ => Ok(V::Int(0)),
    }),
    ov("len", FM, &[p("collection", Iterator)], |_, a| {
        count(a.v(0)).map(V::Int)
    }),
    ov(
        "delete",
        M,
        &[
            p("collection", Iterable),
            p("position", Int),
            o("count", Int, D::I(1)),
        ],
        |_, a| {
            let (pos, n) = (a.int(1), a.int(2));
            let items = collect(a.v(0))?;
            let kept = items.into_iter().enumerate().filter(|(i, _)| {
                let i = *i as i64;
                if n >= 0 {
                    !(pos <= i && i < pos.saturating_add(n))
                } else {
                    i < pos
                }
            });
            Ok(gen(kept.map(|(_, v)| v).collect()))
        },
    ),
    ov_var("delete", M, &[p("dict", Mapping)], Any, |_, a| {
        delete_keys(a.v(0), a.rest_values())
    }),
    ov(
        "deleteAll",
        M,
        &[p("dict", Mapping), p("keys", Iterable)],
        |_, a| delete_keys(a.v(0), collect(a.v(1))?),
    ),
    ov(
        "insert",
        M,
        &[
            p("collection", Sequence),
            p("position", Int),
            p("value", Any),
        ],
        |_, a| {
            let mut items = a.v(0).seq_items().unwrap_or_default();
            let n = items.len() as i64;
            let pos = a.int(1);
            let at = if pos < 0 {
                (pos + n).max(0)
            } else {
                pos.min(n)
            };
            items.insert(at as usize, a.v(2).clone());
            V::list(items)
        },
    ),
    ov(
        "insert",
        M,
        &[
            p("collection", IterableNoSet),
            p("position", Int),
            p("value", Any),
        ],
        |_, a| insert_many(a.v(0), a.int(1), vec![a.v(2).clone()], false),
    ),
    ov(
        "insertMany",
        M,
        &[
            p("collection", Iterable),
            p("position", Int),
            p("values", Iterable),
        ],
        |_, a| insert_many(a.v(0), a.int(1), collect(a.v(2))?, true),
    ),
    ov(
        "replace",
        M,
        &[
            p("collection", Iterable),
            p("position", Int),
            p("value", Any),
            o("count", Int, D::I(1)),
        ],
        |_, a| replace_many(a.v(0), a.int(1), vec![a.v(2).clone()], a.int(3)),
    ),
    ov(
        "replaceMany",
        M,
        &[
            p("collection", Iterable),
            p("position", Int),
            p("values", Iterable),
            o("count", Int, D::I(1)),
        ],
        |_, a| replace_many(a.v(0), a.int(1), collect(a.v(2))?, a.int(3)),
    ),
    ov("toSet", M, &[p("collection", Iterable)], |_, a| {
        Ok(V::set(collect(a.v(0))?.into_iter().collect()))
    }),
    ov("union", M, &[p("left", Set), p("right", Set)], |_, a| {
        set_op(a.v(0), a.v(1), "union")
    }),
    ov(
        "intersect",
        M,
        &[p("left", Set), p("right", Set)],
        |_, a| set_op(a.v(0), a.v(1), "intersect"),
    ),
    ov(
        "difference",
        M,
        &[p("left", Set), p("right", Set)],
        |_, a| set_op(a.v(0), a.v(1), "difference"),
    ),
    ov(
        "symmetricDifference",
        M,
        &[p("left", Set), p("right", Set)],
        |_, a| set_op(a.v(0), a.v(1), "symmetric"),
    ),
    ov_var("add", M, &[p("set", Set)], Any, |_, a| {
        frozen_method(a.v(0), "union")?;
        let mut s = set_items(a.v(0));
        s.extend(a.rest_values());
        Ok(V::set(s))
    }),
    ov_var("remove", M, &[p("set", Set)], Any, |_, a| {
        frozen_method(a.v(0), "difference")?;
        let mut s = set_items(a.v(0));
        for v in a.rest_values() {
            s.shift_remove(&v);
        }
        Ok(V::set(s))
    }),
];

/// A generator over already computed items.
pub fn gen<'a>(items: Vec<V<'a>>) -> V<'a> {
    V::Iter(LazyIter::new(Box::new(items.into_iter().map(Ok))))
}

/// Keys and items views lack the frozenset methods yaql calls.
fn frozen_method(v: &V<'_>, op: &str) -> R<()> {
    if matches!(v, V::Set(_, SetKind::Frozen)) {
        return Ok(());
    }
    let method = match op {
        "intersect" => "intersection",
        "symmetric" => "symmetric_difference",
        other => other,
    };
    Err(Error::new(
        "AttributeError",
        format!("'{}' object has no attribute '{method}'", v.type_name()),
    ))
}

fn set_items<'a>(v: &V<'a>) -> IndexSet<V<'a>> {
    match v {
        V::Set(s, _) => s.as_ref().clone(),
        _ => IndexSet::new(),
    }
}

/// `union`, `intersect`, `difference` or `symmetric` of two sets.
pub fn set_op<'a>(l: &V<'a>, r: &V<'a>, op: &str) -> R<V<'a>> {
    frozen_method(l, op)?;
    let (x, y) = (set_items(l), set_items(r));
    Ok(V::set(match op {
        "union" => x.union(&y).cloned().collect(),
        "intersect" => x.intersection(&y).cloned().collect(),
        "difference" => x.difference(&y).cloned().collect(),
        _ => x.symmetric_difference(&y).cloned().collect(),
    }))
}

/// Arguments with generators expanded into their items (`list()`, `set()`).
fn expand_iterators<'a>(args: Vec<V<'a>>) -> R<Vec<V<'a>>> {
    let mut out = Vec::new();
    for a in args {
        if matches!(a, V::Iter(_)) {
            out.extend(collect(&a)?);
        } else {
            out.push(a);
        }
    }
    Ok(out)
}

/// `toList()`: the items as a tuple.
pub fn to_tuple<'a>(v: &V<'a>) -> R<V<'a>> {
    match v {
        V::Tuple(_) | V::JArr(_) => Ok(v.clone()),
        _ => V::tuple(collect(v)?),
    }
}

/// Pulls every item and counts them.
pub fn count(v: &V<'_>) -> R<i64> {
    let mut n = 0;
    for item in iterate(v)? {
        item?;
        n += 1;
        if n as usize > super::MAX_ITEMS {
            return Err(super::too_many());
        }
    }
    Ok(n)
}

/// Everything nested in iterables, depth first, without recursion.
fn flatten<'a>(v: &V<'a>) -> R<V<'a>> {
    let mut out = Vec::new();
    let mut stack = vec![iterate(v)?];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            None => {
                stack.pop();
            }
            Some(item) => {
                let item = item?;
                if item.is_iterable() {
                    stack.push(iterate(&item)?);
                } else {
                    out.push(item);
                    if out.len() > super::MAX_ITEMS {
                        return Err(super::too_many());
                    }
                }
            }
        }
    }
    Ok(gen(out))
}

fn dict_from_pairs<'a>(items: &V<'a>) -> R<V<'a>> {
    let mut m = IndexMap::new();
    for pair in collect(items)? {
        let parts: Vec<V<'a>> = match &pair {
            V::Str(s) => s
                .chars()
                .take(2)
                .map(|c| V::string(c.to_string()))
                .collect(),
            V::JMap(_) | V::Dict(_) => pair
                .map_items()
                .unwrap_or_default()
                .into_iter()
                .take(2)
                .map(|(k, _)| k)
                .collect(),
            p if p.is_iterable() => iterate(p)?.take(2).collect::<R<Vec<_>>>()?,
            other => {
                return Err(error::type_error(format!(
                    "'{}' object is not iterable",
                    other.type_name()
                )))
            }
        };
        let mut parts = parts.into_iter();
        let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
            return Err(Error::new("StopIteration", ""));
        };
        m.insert(k, v);
    }
    V::dict(m)
}

fn delete_keys<'a>(d: &V<'a>, keys: Vec<V<'a>>) -> R<V<'a>> {
    let mut m = d.to_index_map().unwrap_or_default();
    for k in keys {
        m.shift_remove(&k);
    }
    V::dict(m)
}

fn insert_many<'a>(c: &V<'a>, pos: i64, values: Vec<V<'a>>, many: bool) -> R<V<'a>> {
    let items = collect(c)?;
    let mut out = Vec::with_capacity(items.len() + values.len());
    if many && pos < 0 {
        out.extend(values.iter().cloned());
    }
    let mut last = -1i64;
    for (i, t) in items.into_iter().enumerate() {
        if i as i64 == pos {
            out.extend(values.iter().cloned());
        }
        out.push(t);
        last = i as i64;
    }
    if pos > last {
        out.extend(values);
    }
    Ok(gen(out))
}

fn replace_many<'a>(c: &V<'a>, pos: i64, values: Vec<V<'a>>, count: i64) -> R<V<'a>> {
    let mut out = Vec::new();
    let mut yielded = false;
    for (i, t) in collect(c)?.into_iter().enumerate() {
        let i = i as i64;
        let hit = i >= pos && (count < 0 || i < pos.saturating_add(count));
        if hit {
            if !yielded {
                yielded = true;
                out.extend(values.iter().cloned());
            }
        } else {
            out.push(t);
        }
    }
    Ok(gen(out))
}
