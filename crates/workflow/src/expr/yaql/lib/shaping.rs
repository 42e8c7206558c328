//! Ordering, grouping, joining and generating (`yaql/standard_library/
//! queries.py`): `orderBy`/`thenBy` (stable, keys compared with yaql's `<`
//! and `>`), `groupBy` (with yaql's aggregator fallback), `join`, `zip`,
//! `zipLongest`, `mergeWith`, `generate`, `generateMany`.

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::{IndexMap, IndexSet};

use super::collections::gen;
use super::ops::{combine_lists, compare};
use super::queries::apply;
use super::{o, ov, ov_var, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{collect, iterate, Args, Interp, Lambda as Lam};
use crate::expr::yaql::value::{Ordering, V};

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov(
        "orderBy",
        M,
        &[p("collection", Iterable), p("selector", Lambda)],
        |it, a| order_by(it, a, true),
    ),
    ov(
        "orderByDescending",
        M,
        &[p("collection", Iterable), p("selector", Lambda)],
        |it, a| order_by(it, a, false),
    ),
    ov(
        "thenBy",
        M,
        &[p("collection", Ordered), p("selector", Lambda)],
        |_, a| then_by(a, true),
    ),
    ov(
        "thenByDescending",
        M,
        &[p("collection", Ordered), p("selector", Lambda)],
        |_, a| then_by(a, false),
    ),
    ov(
        "groupBy",
        M,
        &[
            p("collection", Iterable),
            p("keySelector", Lambda),
            o("valueSelector", Lambda, D::Null),
            o("aggregator", Lambda, D::Null),
        ],
        group_by,
    ),
    ov(
        "join",
        M,
        &[
            p("collection1", Iterable),
            p("collection2", Iterable),
            p("predicate", Lambda),
            p("selector", Lambda),
        ],
        |it, a| {
            let right = collect(a.v(1))?;
            let (pred, sel) = (a.lam(2).cloned(), a.lam(3).cloned());
            let mut out = Vec::new();
            for x in iterate(a.v(0))? {
                let x = x?;
                for y in &right {
                    let pair = [x.clone(), y.clone()];
                    if apply(it, &pred, a.v(2), &pair)?.truthy() {
                        out.push(apply(it, &sel, a.v(3), &pair)?);
                    }
                }
            }
            Ok(gen(out))
        },
    ),
    ov_var("zip", M, &[], Iterable, |_, a| zip(a.rest_values(), None)),
    Ov {
        name: "zipLongest",
        kind: M,
        params: &[],
        var: Some(Iterable),
        kw: Some(Any),
        no_kwargs: false,
        f: |_, a| {
            let fill =
                a.kw.iter()
                    .find(|(k, _)| &**k == "default")
                    .map_or(V::Null, |(_, v)| v.clone());
            zip(a.rest_values(), Some(fill))
        },
    },
    ov(
        "mergeWith",
        M,
        &[
            p("dict", Mapping),
            p("another", Mapping),
            o("listMerger", Lambda, D::Null),
            o("itemMerger", Lambda, D::Null),
            o("maxLevels", Int, D::I(0)),
        ],
        |it, a| {
            let (lm, im) = (a.lam(2).cloned(), a.lam(3).cloned());
            merge(it, a.v(0), a.v(1), &lm, &im, a.int(4))
        },
    ),
    ov(
        "generate",
        F,
        &[
            p("initial", Any),
            p("predicate", Lambda),
            p("producer", Lambda),
            o("selector", Lambda, D::Null),
            o("decycle", Bool, D::B(false)),
        ],
        |it, a| {
            let (pred, prod, sel) = (a.lam(1).cloned(), a.lam(2).cloned(), a.lam(3).cloned());
            let decycle = a.v(4).truthy();
            let mut seen: IndexSet<V<'_>> = IndexSet::new();
            let mut cur = a.v(0).clone();
            let mut out = Vec::new();
            while apply(it, &pred, a.v(1), &[cur.clone()])?.truthy() {
                if decycle && !seen.insert(cur.clone()) {
                    break;
                }
                out.push(match &sel {
                    Some(l) => it.call(l, &[cur.clone()])?,
                    None => cur.clone(),
                });
                if out.len() > super::MAX_ITEMS {
                    return Err(super::too_many());
                }
                cur = apply(it, &prod, a.v(2), &[cur])?;
            }
            Ok(gen(out))
        },
    ),
    ov(
        "generateMany",
        F,
        &[
            p("initial", Any),
            p("producer", Lambda),
            o("selector", Lambda, D::Null),
            o("decycle", Bool, D::B(false)),
            o("depthFirst", Bool, D::B(false)),
        ],
        |it, a| {
            let (prod, sel) = (a.lam(1).cloned(), a.lam(2).cloned());
            let (decycle, depth_first) = (a.v(3).truthy(), a.v(4).truthy());
            let mut seen: IndexSet<V<'_>> = IndexSet::new();
            let mut queue = std::collections::VecDeque::from([a.v(0).clone()]);
            let mut out = Vec::new();
            while let Some(item) = queue.pop_front() {
                if decycle && !seen.insert(item.clone()) {
                    continue;
                }
                out.push(match &sel {
                    Some(l) => it.call(l, std::slice::from_ref(&item))?,
                    None => item.clone(),
                });
                if out.len() + queue.len() > super::MAX_ITEMS {
                    return Err(super::too_many());
                }
                let produced = collect(&apply(it, &prod, a.v(1), &[item])?)?;
                if depth_first {
                    for v in produced.into_iter().rev() {
                        queue.push_front(v);
                    }
                } else {
                    queue.extend(produced);
                }
            }
            Ok(gen(out))
        },
    ),
];

fn zip<'a>(collections: Vec<V<'a>>, fill: Option<V<'a>>) -> R<V<'a>> {
    let mut iters = collections.iter().map(iterate).collect::<R<Vec<_>>>()?;
    let mut out = Vec::new();
    if iters.is_empty() {
        return Ok(gen(out));
    }
    loop {
        let mut row = Vec::with_capacity(iters.len());
        let mut live = 0;
        for it in iters.iter_mut() {
            match it.next() {
                Some(v) => {
                    live += 1;
                    row.push(v?);
                }
                None => match &fill {
                    Some(f) => row.push(f.clone()),
                    None => return Ok(gen(out)),
                },
            }
        }
        if live == 0 {
            return Ok(gen(out));
        }
        out.push(V::tuple(row)?);
        if out.len() > super::MAX_ITEMS {
            return Err(super::too_many());
        }
    }
}

fn order_by<'a>(it: &'a Interp<'a>, a: &mut Args<'a>, ascending: bool) -> R<V<'a>> {
    let Some(l) = a.lam(1).cloned() else {
        return Err(error::no_matching_method("orderBy", ""));
    };
    Ok(V::Ordered(Rc::new(Ordering {
        interp: it,
        source: a.v(0).clone(),
        keys: RefCell::new(vec![(l, ascending)]),
        sorted: RefCell::new(None),
    })))
}

fn then_by<'a>(a: &mut Args<'a>, ascending: bool) -> R<V<'a>> {
    let (V::Ordered(o), Some(l)) = (a.v(0), a.lam(1)) else {
        return Err(error::no_matching_method("thenBy", ""));
    };
    o.keys.borrow_mut().push((l.clone(), ascending));
    Ok(V::Ordered(o.clone()))
}

/// The items of an `orderBy` in order (stable, as Python's `sorted`).
pub fn sorted<'a>(o: &Ordering<'a>) -> R<Rc<Vec<V<'a>>>> {
    if let Some(s) = o.sorted.borrow().as_ref() {
        return Ok(s.clone());
    }
    let items = collect(&o.source)?;
    let keys = o.keys.borrow().clone();
    let mut keyed = Vec::with_capacity(items.len());
    for item in items {
        let mut k = Vec::with_capacity(keys.len());
        for (l, _) in &keys {
            k.push(o.interp.call(l, std::slice::from_ref(&item))?);
        }
        keyed.push((k, item));
    }
    let mut failure: Option<Error> = None;
    keyed.sort_by(|(x, _), (y, _)| {
        use std::cmp::Ordering as O;
        if failure.is_some() {
            return O::Equal;
        }
        for (i, (_, asc)) in keys.iter().enumerate() {
            let ord = match compare("<", &x[i], &y[i]) {
                Ok(true) => O::Less,
                Ok(false) => match compare(">", &x[i], &y[i]) {
                    Ok(true) => O::Greater,
                    Ok(false) => continue,
                    Err(e) => {
                        failure = Some(e);
                        return O::Equal;
                    }
                },
                Err(e) => {
                    failure = Some(e);
                    return O::Equal;
                }
            };
            return if *asc { ord } else { ord.reverse() };
        }
        O::Equal
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let sorted = Rc::new(keyed.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    *o.sorted.borrow_mut() = Some(sorted.clone());
    Ok(sorted)
}

fn group_by<'a>(it: &'a Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    let (key, value, agg) = (a.lam(1).cloned(), a.lam(2).cloned(), a.lam(3).cloned());
    let mut groups: IndexMap<V<'a>, Vec<V<'a>>> = IndexMap::new();
    for item in iterate(a.v(0))? {
        let item = item?;
        let v = match &value {
            Some(l) => it.call(l, std::slice::from_ref(&item))?,
            None => item.clone(),
        };
        let k = apply(it, &key, a.v(1), &[item])?;
        groups.entry(k).or_default().push(v);
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut failure: Option<Error> = None;
    let mut allow_fallback = true;
    for (k, values) in groups {
        let values = V::list(values)?;
        let pair = V::tuple(vec![k.clone(), values.clone()])?;
        let Some(agg) = &agg else {
            out.push(pair);
            continue;
        };
        if failure.is_none() {
            match it.call(agg, std::slice::from_ref(&values)) {
                Ok(result) => {
                    let n = values.seq_len().unwrap_or(0);
                    let shaped = n == 2
                        && result.is_sequence()
                        && result.seq_len() == Some(2)
                        && result.seq_get(0) == values.seq_get(0);
                    if !shaped {
                        allow_fallback = false;
                    }
                    out.push(V::tuple(vec![k, result])?);
                    continue;
                }
                Err(e)
                    if matches!(
                        e.class,
                        "NoMatchingMethodException" | "NoMatchingFunctionException" | "IndexError"
                    ) =>
                {
                    failure = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        if allow_fallback {
            if let Ok(result) = it.call(agg, &[pair]) {
                if result.seq_len() == Some(2) || result.map_len() == Some(2) {
                    out.push(result);
                    continue;
                }
            }
        }
        return Err(failure.unwrap_or_else(|| error::type_error("groupBy aggregator failed")));
    }
    Ok(gen(out))
}

/// `mergeWith`: nested dicts merge, lists go through `listMerger` (by
/// default: distinct items of both), other values through `itemMerger`
/// (by default: the second wins).
fn merge<'a>(
    it: &'a Interp<'a>,
    d1: &V<'a>,
    d2: &V<'a>,
    lm: &Option<Lam<'a>>,
    im: &Option<Lam<'a>>,
    max_levels: i64,
) -> R<V<'a>> {
    let mut result: IndexMap<V<'a>, V<'a>> = IndexMap::new();
    for (k, v1) in d1.map_items().unwrap_or_default() {
        let merged = match d2.map_get(&k) {
            None => v1,
            Some(v2) => {
                if max_levels != 1 && v2.is_mapping() {
                    if !v1.is_mapping() {
                        return Err(error::type_error(format!(
                            "Cannot merge <class '{}'> with <class '{}'>",
                            v1.type_name(),
                            v2.type_name()
                        )));
                    }
                    let next = if max_levels == 0 { 0 } else { max_levels - 1 };
                    merge(it, &v1, &v2, lm, im, next)?
                } else if max_levels != 1 && v2.is_sequence() {
                    if !v1.is_sequence() {
                        return Err(error::type_error(format!(
                            "Cannot merge <class '{}'> with <class '{}'>",
                            v1.type_name(),
                            v2.type_name()
                        )));
                    }
                    match lm {
                        Some(l) => it.call(l, &[v1, v2])?,
                        None => {
                            if matches!(v1, V::List(_)) != matches!(v2, V::List(_)) {
                                return Err(error::type_error(format!(
                                    "can only concatenate {} (not \"{}\") to {}",
                                    v1.type_name(),
                                    v2.type_name(),
                                    v1.type_name()
                                )));
                            }
                            let both = combine_lists(&v1, &v2)?;
                            let mut seen = IndexSet::new();
                            for x in collect(&both)? {
                                seen.insert(x);
                            }
                            V::tuple(seen.into_iter().collect())?
                        }
                    }
                } else {
                    match im {
                        Some(l) => it.call(l, &[v1, v2])?,
                        None => v2,
                    }
                }
            }
        };
        result.insert(k, merged);
    }
    for (k, v2) in d2.map_items().unwrap_or_default() {
        if !result.contains_key(&k) {
            result.insert(k, v2);
        }
    }
    V::dict(result)
}
