//! Queries over collections (`yaql/standard_library/queries.py`): lazy
//! where yaql returns a generator (`where`, `select`, `skip`, `take`,
//! `range`, `sequence`, ...), so `sequence().where($ > 3).take(2)` ends.
//! Ordering, grouping and joining are in [`super::shaping`].

use indexmap::IndexSet;

use super::collections::{count, gen, to_tuple};
use super::ops::compare;
use super::{o, ov, ov_var, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{collect, iterate, Args, Interp, Lambda as Lam, A};
use crate::expr::yaql::value::{DynIter, LazyIter, V};

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov(
        "where",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        where_,
    ),
    ov(
        "filter",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        where_,
    ),
    ov(
        "select",
        M,
        &[p("collection", Iterable), p("selector", Lambda)],
        select,
    ),
    ov(
        "map",
        M,
        &[p("collection", Iterable), p("selector", Lambda)],
        select,
    ),
    ov(
        "limit",
        M,
        &[p("collection", Iterable), p("count", Int)],
        limit,
    ),
    ov(
        "take",
        M,
        &[p("collection", Iterable), p("count", Int)],
        limit,
    ),
    ov(
        "skip",
        M,
        &[p("collection", Iterable), p("count", Int)],
        |_, a| {
            let n = a.int(1);
            if n < 0 {
                return Err(error::value_error(
                    "Indices for islice() must be None or an integer: 0 <= x <= sys.maxsize.",
                ));
            }
            Ok(lazy(iterate(a.v(0))?.skip(n as usize)))
        },
    ),
    ov_var("append", FM, &[p("collection", Iterable)], Any, |_, a| {
        let extra = a.rest_values();
        Ok(lazy(iterate(a.v(0))?.chain(extra.into_iter().map(Ok))))
    }),
    ov(
        "distinct",
        FM,
        &[p("collection", Iterable), o("keySelector", Lambda, D::Null)],
        |it, a| {
            let key = a.lam(1).cloned();
            let mut seen: IndexSet<V<'_>> = IndexSet::new();
            let src = iterate(a.v(0))?;
            Ok(lazy(src.filter_map(move |item| {
                let item = match item {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                };
                let k = match &key {
                    Some(l) => match it.call(l, std::slice::from_ref(&item)) {
                        Ok(k) => k,
                        Err(e) => return Some(Err(e)),
                    },
                    None => item.clone(),
                };
                seen.insert(k).then_some(Ok(item))
            })))
        },
    ),
    ov(
        "enumerate",
        FM,
        &[p("collection", Iterable), o("start", IntN, D::I(0))],
        |_, a| {
            let start = a.int(1);
            let it = iterate(a.v(0))?
                .enumerate()
                .map(move |(i, v)| v.and_then(|v| V::list(vec![V::Int(start + i as i64), v])));
            Ok(lazy(it))
        },
    ),
    ov(
        "any",
        FM,
        &[p("collection", Iterable), o("predicate", Lambda, D::Null)],
        |it, a| {
            for item in iterate(a.v(0))? {
                let item = item?;
                let hit = match a.lam(1) {
                    Some(l) => it.call(l, &[item])?.truthy(),
                    None => true,
                };
                if hit {
                    return Ok(V::Bool(true));
                }
            }
            Ok(V::Bool(false))
        },
    ),
    ov(
        "all",
        FM,
        &[p("collection", Iterable), o("predicate", Lambda, D::Null)],
        |it, a| {
            for item in iterate(a.v(0))? {
                let item = item?;
                let ok = match a.lam(1) {
                    Some(l) => it.call(l, &[item])?.truthy(),
                    None => item.truthy(),
                };
                if !ok {
                    return Ok(V::Bool(false));
                }
            }
            Ok(V::Bool(true))
        },
    ),
    ov_var("concat", FM, &[], Iterable, |_, a| {
        let mut chain: DynIter<'_> = Box::new(std::iter::empty());
        for c in a.rest_values() {
            chain = Box::new(chain.chain(iterate(&c)?));
        }
        Ok(lazy(chain))
    }),
    ov("count", M, &[p("collection", Iterable)], |_, a| {
        count(a.v(0)).map(V::Int)
    }),
    ov("memorize", M, &[p("collection", Iterable)], |_, a| {
        to_tuple(a.v(0))
    }),
    ov(
        "sum",
        M,
        &[p("collection", Iterable), o("initial", Any, D::NoValue)],
        |it, a| {
            let env = a.env.clone();
            aggregate(a, |acc, x| {
                it.call_values("#operator_+", vec![acc, x], Vec::new(), &env)
            })
        },
    ),
    ov(
        "max",
        M,
        &[p("collection", Iterable), o("initial", Any, D::NoValue)],
        |_, a| {
            aggregate(a, |acc, x| {
                Ok(if compare(">", &x, &acc)? { x } else { acc })
            })
        },
    ),
    ov(
        "min",
        M,
        &[p("collection", Iterable), o("initial", Any, D::NoValue)],
        |_, a| {
            aggregate(a, |acc, x| {
                Ok(if compare(">", &x, &acc)? { acc } else { x })
            })
        },
    ),
    ov(
        "first",
        M,
        &[p("collection", Iterable), o("default", Any, D::NoValue)],
        |_, a| match iterate(a.v(0))?.next() {
            Some(v) => v,
            None if a.absent(1) => Err(Error::new("StopIteration", "")),
            None => Ok(a.v(1).clone()),
        },
    ),
    ov("single", M, &[p("collection", Iterable)], |_, a| {
        let mut it = iterate(a.v(0))?;
        let first = it.next().ok_or_else(|| Error::new("StopIteration", ""))??;
        match it.next() {
            None => Ok(first),
            Some(_) => Err(Error::new(
                "StopIteration",
                "Collection contains more than one item",
            )),
        }
    }),
    ov(
        "last",
        M,
        &[p("collection", Iterable), o("default", Any, D::NoValue)],
        |_, a| {
            let mut last = None;
            for item in iterate(a.v(0))? {
                last = Some(item?);
            }
            match last {
                Some(v) => Ok(v),
                None if a.absent(1) => Err(Error::new("StopIteration", "")),
                None => Ok(a.v(1).clone()),
            }
        },
    ),
    ov(
        "selectMany",
        M,
        &[p("collection", Iterable), p("selector", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let k = a.v(1).clone();
            let src = iterate(a.v(0))?;
            Ok(lazy(src.flat_map(move |item| {
                let inner = item.and_then(|v| apply(it, &l, &k, &[v]));
                let items: Vec<R<V<'_>>> = match inner {
                    Ok(inner) if inner.is_iterable() => match collect(&inner) {
                        Ok(items) => items.into_iter().map(Ok).collect(),
                        Err(e) => vec![Err(e)],
                    },
                    other => vec![other],
                };
                items
            })))
        },
    ),
    ov("range", F, &[p("stop", Int)], |_, a| range(0, a.int(0), 1)),
    ov(
        "range",
        F,
        &[p("start", Int), p("stop", Int), o("step", Int, D::I(1))],
        |_, a| range(a.int(0), a.int(1), a.int(2)),
    ),
    ov(
        "sequence",
        F,
        &[o("start", Int, D::I(0)), o("step", Int, D::I(1))],
        |_, a| {
            let (start, step) = (a.int(0), a.int(1));
            let it = (0i64..).map(move |i| {
                i.checked_mul(step)
                    .and_then(|d| start.checked_add(d))
                    .map(V::Int)
                    .ok_or_else(error::overflow)
            });
            Ok(lazy(bounded(it)))
        },
    ),
    ov(
        "repeat",
        M,
        &[p("value", Any), o("times", Int, D::I(-1))],
        |_, a| {
            let (v, times) = (a.v(0).clone(), a.int(1));
            let it = std::iter::repeat(v).map(Ok);
            Ok(if times < 0 {
                lazy(bounded(it))
            } else {
                lazy(it.take(times as usize))
            })
        },
    ),
    ov("cycle", M, &[p("collection", Iterable)], |_, a| {
        let items = collect(a.v(0))?;
        Ok(lazy(bounded(
            items
                .into_iter()
                .map(Ok)
                .collect::<Vec<_>>()
                .into_iter()
                .cycle(),
        )))
    }),
    ov(
        "takeWhile",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let k = a.v(1).clone();
            let mut done = false;
            let src = iterate(a.v(0))?;
            Ok(lazy(src.map_while(move |x| {
                if done {
                    return None;
                }
                let x = match x {
                    Ok(x) => x,
                    Err(e) => return Some(Err(e)),
                };
                match apply(it, &l, &k, std::slice::from_ref(&x)) {
                    Ok(r) if r.truthy() => Some(Ok(x)),
                    Ok(_) => {
                        done = true;
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            })))
        },
    ),
    ov(
        "skipWhile",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let k = a.v(1).clone();
            let mut skipping = true;
            let src = iterate(a.v(0))?;
            Ok(lazy(src.filter_map(move |x| {
                let x = match x {
                    Ok(x) => x,
                    Err(e) => return Some(Err(e)),
                };
                if skipping {
                    match apply(it, &l, &k, std::slice::from_ref(&x)) {
                        Ok(r) if r.truthy() => return None,
                        Ok(_) => skipping = false,
                        Err(e) => return Some(Err(e)),
                    }
                }
                Some(Ok(x))
            })))
        },
    ),
    ov(
        "indexOf",
        M,
        &[p("collection", Iterable), p("item", Any)],
        |_, a| {
            for (i, x) in iterate(a.v(0))?.enumerate() {
                if x? == *a.v(1) {
                    return Ok(V::Int(i as i64));
                }
            }
            Ok(V::Int(-1))
        },
    ),
    ov(
        "lastIndexOf",
        M,
        &[p("collection", Iterable), p("item", Any)],
        |_, a| {
            let mut found = -1;
            for (i, x) in iterate(a.v(0))?.enumerate() {
                if x? == *a.v(1) {
                    found = i as i64;
                }
            }
            Ok(V::Int(found))
        },
    ),
    ov(
        "indexWhere",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            for (i, x) in iterate(a.v(0))?.enumerate() {
                if apply(it, &l, a.v(1), &[x?])?.truthy() {
                    return Ok(V::Int(i as i64));
                }
            }
            Ok(V::Int(-1))
        },
    ),
    ov(
        "lastIndexWhere",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let mut found = -1;
            for (i, x) in iterate(a.v(0))?.enumerate() {
                if apply(it, &l, a.v(1), &[x?])?.truthy() {
                    found = i as i64;
                }
            }
            Ok(V::Int(found))
        },
    ),
    ov(
        "slice",
        M,
        &[p("collection", Iterable), p("length", Int)],
        |_, a| {
            let n = a.int(1);
            if n < 0 {
                return Err(error::value_error(
                    "Stop argument for islice() must be None or an integer: 0 <= x <= sys.maxsize.",
                ));
            }
            let items = collect(a.v(0))?;
            let mut out = Vec::new();
            if n > 0 {
                for chunk in items.chunks(n as usize) {
                    out.push(V::tuple(chunk.to_vec())?);
                }
            }
            Ok(gen(out))
        },
    ),
    ov(
        "splitWhere",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let items = collect(a.v(0))?;
            let mut out = Vec::new();
            let mut start = 0;
            for (end, x) in items.iter().enumerate() {
                if apply(it, &l, a.v(1), std::slice::from_ref(x))?.truthy() {
                    out.push(V::tuple(items[start..end].to_vec())?);
                    start = end + 1;
                }
            }
            if start != items.len() {
                out.push(V::tuple(items[start..].to_vec())?);
            }
            Ok(gen(out))
        },
    ),
    ov(
        "sliceWhere",
        M,
        &[p("collection", Iterable), p("predicate", Lambda)],
        |it, a| {
            let l = a.lam(1).cloned();
            let items = collect(a.v(0))?;
            let mut out = Vec::new();
            let mut start = 0;
            let mut prev: Option<V<'_>> = None;
            for (end, x) in items.iter().enumerate() {
                let cur = apply(it, &l, a.v(1), std::slice::from_ref(x))?;
                if let Some(p) = &prev {
                    if *p != cur {
                        out.push(V::tuple(items[start..end].to_vec())?);
                        start = end;
                    }
                }
                prev = Some(cur);
            }
            if start != items.len() {
                out.push(V::tuple(items[start..].to_vec())?);
            }
            Ok(gen(out))
        },
    ),
    ov(
        "splitAt",
        M,
        &[p("collection", Iterable), p("index", Int)],
        |_, a| {
            let items = collect(a.v(0))?;
            let (from, _) =
                super::strings::slice_bounds(items.len() as i64, a.int(1), items.len() as i64);
            V::list(vec![
                V::tuple(items[..from].to_vec())?,
                V::tuple(items[from..].to_vec())?,
            ])
        },
    ),
    ov(
        "aggregate",
        M,
        &[
            p("collection", Iterable),
            p("selector", Lambda),
            o("seed", Any, D::NoValue),
        ],
        reduce,
    ),
    ov(
        "reduce",
        M,
        &[
            p("collection", Iterable),
            p("selector", Lambda),
            o("seed", Any, D::NoValue),
        ],
        reduce,
    ),
    ov(
        "accumulate",
        M,
        &[
            p("collection", Iterable),
            p("selector", Lambda),
            o("seed", Any, D::NoValue),
        ],
        |it, a| {
            let l = a.lam(1).cloned();
            let mut items = iterate(a.v(0))?;
            let mut total = if a.absent(2) {
                match items.next() {
                    Some(v) => v?,
                    None => {
                        return Err(error::type_error(
                            "accumulate() of empty sequence with no initial value",
                        ))
                    }
                }
            } else {
                a.v(2).clone()
            };
            let mut out = vec![total.clone()];
            for x in items {
                total = apply(it, &l, a.v(1), &[total, x?])?;
                out.push(total.clone());
            }
            Ok(gen(out))
        },
    ),
    ov("reverse", M, &[p("collection", Iterable)], |_, a| {
        let mut items = collect(a.v(0))?;
        items.reverse();
        Ok(gen(items))
    }),
    ov("isIterable", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(a.v(0).is_iterable()))
    }),
    ov(
        "defaultIfEmpty",
        M,
        &[p("collection", Iterable), p("default", Iterable)],
        |_, a| {
            let c = a.v(0);
            if let Some(n) = c.seq_len() {
                return Ok(if n == 0 { a.v(1).clone() } else { c.clone() });
            }
            if let V::Set(s, _) = c {
                return Ok(if s.is_empty() {
                    a.v(1).clone()
                } else {
                    c.clone()
                });
            }
            let items = collect(c)?;
            Ok(if items.is_empty() {
                a.v(1).clone()
            } else {
                to_tuple(&V::tuple(items)?)?
            })
        },
    ),
];

/// An endless generator that stops with `CollectionTooLargeException`
/// after [`super::MAX_ITEMS`] items, so that no query over it (`any`,
/// `join`, `where` that never matches) can loop forever.
fn bounded<'a>(
    it: impl std::iter::Iterator<Item = R<V<'a>>> + 'a,
) -> impl std::iter::Iterator<Item = R<V<'a>>> + 'a {
    it.take(super::MAX_ITEMS)
        .chain(std::iter::once_with(|| Err(super::too_many())))
}

/// A generator over `it`.
pub fn lazy<'a>(it: impl std::iter::Iterator<Item = R<V<'a>>> + 'a) -> V<'a> {
    V::Iter(LazyIter::new(Box::new(it)))
}

/// Calls a lambda argument, or yields the value given in its place.
pub(super) fn apply<'a>(
    it: &'a Interp<'a>,
    l: &Option<Lam<'a>>,
    v: &V<'a>,
    args: &[V<'a>],
) -> R<V<'a>> {
    match l {
        Some(l) => it.call(l, args),
        None => Ok(v.clone()),
    }
}

fn where_<'a>(it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let l = a.lam(1).cloned();
    let k = a.v(1).clone();
    let src = iterate(a.v(0))?;
    Ok(lazy(src.filter_map(move |x| match x {
        Err(e) => Some(Err(e)),
        Ok(v) => match apply(it, &l, &k, std::slice::from_ref(&v)) {
            Ok(r) if r.truthy() => Some(Ok(v)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        },
    })))
}

fn select<'a>(it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let l = a.lam(1).cloned();
    let k = a.v(1).clone();
    let src = iterate(a.v(0))?;
    Ok(lazy(
        src.map(move |x| x.and_then(|v| apply(it, &l, &k, &[v]))),
    ))
}

fn limit<'a>(_: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let n = a.int(1);
    if n < 0 {
        return Err(error::value_error(
            "Stop argument for islice() must be None or an integer: 0 <= x <= sys.maxsize.",
        ));
    }
    Ok(lazy(iterate(a.v(0))?.take(n as usize)))
}

fn range<'a>(start: i64, stop: i64, step: i64) -> R<V<'a>> {
    if step == 0 {
        return Err(error::value_error("range() arg 3 must not be zero"));
    }
    let it = std::iter::successors(Some(start), move |i| i.checked_add(step))
        .take_while(move |i| if step > 0 { *i < stop } else { *i > stop })
        .map(|i| Ok(V::Int(i)));
    Ok(lazy(it))
}

/// `functools.reduce` over the collection with `f` (the seed, if given,
/// is the `initial` argument at index 1).
fn aggregate<'a>(a: &Args<'a>, mut f: impl FnMut(V<'a>, V<'a>) -> R<V<'a>>) -> R<V<'a>> {
    let mut items = iterate(a.v(0))?;
    let mut acc = if a.absent(1) {
        match items.next() {
            Some(v) => v?,
            None => {
                return Err(error::type_error(
                    "reduce() of empty iterable with no initial value",
                ))
            }
        }
    } else {
        a.v(1).clone()
    };
    for x in items {
        acc = f(acc, x?)?;
    }
    Ok(acc)
}

fn reduce<'a>(it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let l = a.lam(1).cloned();
    let k = a.v(1).clone();
    let seed_absent = a.absent(2);
    let seed = a.v(2).clone();
    let shifted = Args {
        name: a.name,
        a: vec![
            a.a[0].clone(),
            if seed_absent { A::Absent } else { A::V(seed) },
        ],
        rest: Vec::new(),
        kw: Vec::new(),
        env: a.env.clone(),
    };
    aggregate(&shifted, |acc, x| apply(it, &l, &k, &[acc, x]))
}
