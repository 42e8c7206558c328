//! Operators: arithmetic (`yaql/standard_library/math.py`, with Python's
//! integer semantics: `/` on two ints floors, `mod` takes the divisor's
//! sign), comparisons (`common.py`: null sorts first), `+` on strings,
//! lists, sets and dicts, `*` repetition, `in`, indexers and the list and
//! dict literals (`collections.py`).

use indexmap::{IndexMap, IndexSet};

use super::{ov, ov_var, p, Kind::*, Ov, Ty::*};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{iterate, key_error, Args};
use crate::expr::yaql::value::{LazyIter, Num, SetKind, V};

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov(
        "#operator_+",
        F,
        &[p("left", Mapping), p("right", Mapping)],
        |_, a| {
            let mut m = a.v(0).to_index_map().unwrap_or_default();
            for (k, v) in a.v(1).map_items().unwrap_or_default() {
                m.insert(k, v);
            }
            V::dict(m)
        },
    ),
    ov(
        "#operator_+",
        F,
        &[p("left", Iterable), p("right", Iterable)],
        |_, a| combine_lists(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_+",
        F,
        &[p("dt", DateTime), p("ts", TimeSpan)],
        |_, a| super::datetime::add(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_+",
        F,
        &[p("ts", TimeSpan), p("dt", DateTime)],
        |_, a| super::datetime::add(a.v(1), a.v(0)),
    ),
    ov(
        "#operator_+",
        F,
        &[p("ts1", TimeSpan), p("ts2", TimeSpan)],
        |_, a| super::datetime::add(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_+",
        F,
        &[p("left", Num), p("right", Num)],
        |_, a| arith('+', a.v(0), a.v(1)),
    ),
    ov_var("#operator_+", F, &[], Str, |_, a| {
        let mut s = String::new();
        for v in a.rest_values() {
            if let V::Str(x) = v {
                s.push_str(&x);
            }
        }
        Ok(V::string(s))
    }),
    ov(
        "#operator_-",
        F,
        &[p("left", Set), p("right", Set)],
        |_, a| super::collections::set_op(a.v(0), a.v(1), "difference"),
    ),
    ov(
        "#operator_-",
        F,
        &[p("dt1", DateTime), p("dt2", DateTime)],
        |_, a| super::datetime::sub(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_-",
        F,
        &[p("dt", DateTime), p("ts", TimeSpan)],
        |_, a| super::datetime::sub(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_-",
        F,
        &[p("ts1", TimeSpan), p("ts2", TimeSpan)],
        |_, a| super::datetime::sub(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_-",
        F,
        &[p("left", Num), p("right", Num)],
        |_, a| arith('-', a.v(0), a.v(1)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("left", Int), p("right", Sequence)],
        |_, a| repeat_seq(a.v(1), a.int(0)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("left", Sequence), p("right", Int)],
        |_, a| repeat_seq(a.v(0), a.int(1)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("n", Num), p("ts", TimeSpan)],
        |_, a| super::datetime::scale(a.v(1), a.v(0)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("ts", TimeSpan), p("n", Num)],
        |_, a| super::datetime::scale(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("left", Num), p("right", Num)],
        |_, a| arith('*', a.v(0), a.v(1)),
    ),
    ov(
        "#operator_*",
        F,
        &[p("left", Int), p("right", Str)],
        |_, a| {
            Ok(V::string(
                a.s(1).unwrap_or("").repeat(a.int(0).max(0) as usize),
            ))
        },
    ),
    ov(
        "#operator_*",
        F,
        &[p("left", Str), p("right", Int)],
        |_, a| {
            Ok(V::string(
                a.s(0).unwrap_or("").repeat(a.int(1).max(0) as usize),
            ))
        },
    ),
    ov(
        "#operator_/",
        F,
        &[p("ts", TimeSpan), p("n", Num)],
        |_, a| super::datetime::div(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_/",
        F,
        &[p("ts1", TimeSpan), p("ts2", TimeSpan)],
        |_, a| super::datetime::div(a.v(0), a.v(1)),
    ),
    ov(
        "#operator_/",
        F,
        &[p("left", Num), p("right", Num)],
        |_, a| arith('/', a.v(0), a.v(1)),
    ),
    ov(
        "#operator_mod",
        F,
        &[p("left", Num), p("right", Num)],
        |_, a| arith('%', a.v(0), a.v(1)),
    ),
    ov("#unary_operator_+", F, &[p("ts", TimeSpan)], |_, a| {
        Ok(a.v(0).clone())
    }),
    ov("#unary_operator_+", F, &[p("op", Num)], |_, a| {
        Ok(a.v(0).clone())
    }),
    ov(
        "#unary_operator_-",
        F,
        &[p("ts", TimeSpan)],
        |_, a| match a.v(0) {
            V::TimeSpan(t) => Ok(V::TimeSpan(t.checked_neg().ok_or_else(error::overflow)?)),
            _ => Err(error::no_matching_function("#unary_operator_-")),
        },
    ),
    ov("#unary_operator_-", F, &[p("op", Num)], |_, a| {
        match a.v(0) {
            V::Int(i) => Ok(V::Int(i.checked_neg().ok_or_else(error::overflow)?)),
            V::Float(f) => Ok(V::Float(-f)),
            _ => Err(error::no_matching_function("#unary_operator_-")),
        }
    }),
    ov(
        "#operator_<",
        F,
        &[p("left", Any), p("right", Any)],
        |_, a| compare("<", a.v(0), a.v(1)).map(V::Bool),
    ),
    ov(
        "#operator_<=",
        F,
        &[p("left", Any), p("right", Any)],
        |_, a| compare("<=", a.v(0), a.v(1)).map(V::Bool),
    ),
    ov(
        "#operator_>",
        F,
        &[p("left", Any), p("right", Any)],
        |_, a| compare(">", a.v(0), a.v(1)).map(V::Bool),
    ),
    ov(
        "#operator_>=",
        F,
        &[p("left", Any), p("right", Any)],
        |_, a| compare(">=", a.v(0), a.v(1)).map(V::Bool),
    ),
    ov(
        "#operator_in",
        F,
        &[p("value", Any), p("collection", Iterable)],
        |_, a| contains(a.v(1), a.v(0)).map(V::Bool),
    ),
    ov(
        "#operator_in",
        F,
        &[p("left", Str), p("right", Str)],
        |_, a| Ok(V::Bool(a.s(1).unwrap_or("").contains(a.s(0).unwrap_or("")))),
    ),
    ov(
        "#indexer",
        F,
        &[p("dict", Mapping), p("key", Any)],
        |_, a| a.v(0).map_get(a.v(1)).ok_or_else(|| key_error(a.v(1))),
    ),
    ov(
        "#indexer",
        F,
        &[p("dict", Mapping), p("key", Any), p("default", Any)],
        |_, a| Ok(a.v(0).map_get(a.v(1)).unwrap_or_else(|| a.v(2).clone())),
    ),
    ov(
        "#indexer",
        F,
        &[p("list", Sequence), p("index", Int)],
        |_, a| index(a.v(0), a.int(1)),
    ),
    ov_var("#list", F, &[], Any, |_, a| V::tuple(a.rest_values())),
    Ov {
        name: "#map",
        kind: F,
        params: &[],
        var: Some(Rule),
        kw: None,
        no_kwargs: true,
        f: |_, a| dict_from_rules(a),
    },
    ov(
        "#operator_=~",
        F,
        &[p("string", Str), p("regexp", Regex)],
        |_, a| super::regex::search_bool(a.v(1), a.v(0)),
    ),
    ov(
        "#operator_=~",
        F,
        &[p("string", Str), p("pattern", Str)],
        |_, a| super::regex::search_bool(a.v(1), a.v(0)),
    ),
    ov(
        "#operator_!~",
        F,
        &[p("string", Str), p("regexp", Regex)],
        |_, a| super::regex::search_bool(a.v(1), a.v(0)).map(|b| V::Bool(!b.truthy())),
    ),
    ov(
        "#operator_!~",
        F,
        &[p("string", Str), p("pattern", Str)],
        |_, a| super::regex::search_bool(a.v(1), a.v(0)).map(|b| V::Bool(!b.truthy())),
    ),
];

/// `{k => v, ...}` and `dict(k => v, ...)`.
pub fn dict_from_rules<'a>(a: &Args<'a>) -> R<V<'a>> {
    let mut m = IndexMap::new();
    for r in a.rest_values() {
        if let V::Rule(kv) = r {
            m.insert(kv.0.clone(), kv.1.clone());
        }
    }
    V::dict(m)
}

/// `seq[i]`, negative from the end; `IndexError` outside.
pub fn index<'a>(seq: &V<'a>, i: i64) -> R<V<'a>> {
    let len = seq.seq_len().unwrap_or(0) as i64;
    let pos = if i < 0 { len + i } else { i };
    if pos < 0 || pos >= len {
        let what = if matches!(seq, V::List(_)) {
            "list"
        } else {
            "tuple"
        };
        return Err(Error::new(
            "IndexError",
            format!("{what} index out of range"),
        ));
    }
    Ok(seq.seq_get(pos as usize).unwrap_or(V::Null))
}

fn repeat_seq<'a>(seq: &V<'a>, n: i64) -> R<V<'a>> {
    let items = seq.seq_items().unwrap_or_default();
    let n = n.max(0) as usize;
    if items.len().saturating_mul(n) > super::MAX_ITEMS {
        return Err(super::too_many());
    }
    let mut out = Vec::with_capacity(items.len() * n);
    for _ in 0..n {
        out.extend(items.iter().cloned());
    }
    if matches!(seq, V::List(_)) {
        V::list(out)
    } else {
        V::tuple(out)
    }
}

/// `left + right` for iterables: tuples concatenate, sets unite, anything
/// else chains lazily (as `itertools.chain`).
pub fn combine_lists<'a>(l: &V<'a>, r: &V<'a>) -> R<V<'a>> {
    let tuple_like = |v: &V<'_>| matches!(v, V::Tuple(_) | V::JArr(_));
    if tuple_like(l) && tuple_like(r) {
        let mut items = l.seq_items().unwrap_or_default();
        items.extend(r.seq_items().unwrap_or_default());
        return V::tuple(items);
    }
    if let (V::Set(x, SetKind::Frozen), V::Set(y, SetKind::Frozen)) = (l, r) {
        let mut s: IndexSet<V<'a>> = x.as_ref().clone();
        s.extend(y.iter().cloned());
        return Ok(V::set(s));
    }
    let it = iterate(l)?.chain(iterate(r)?);
    Ok(V::Iter(LazyIter::new(Box::new(it))))
}

/// Python's `value in collection`.
pub fn contains<'a>(collection: &V<'a>, value: &V<'a>) -> R<bool> {
    if let V::Set(s, _) = collection {
        return Ok(s.contains(value));
    }
    for item in iterate(collection)? {
        if item? == *value {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `+ - * / %` on two numbers, with Python's int and float rules.
pub fn arith<'a>(op: char, a: &V<'a>, b: &V<'a>) -> R<V<'a>> {
    let (Some(x), Some(y)) = (a.num(), b.num()) else {
        return Err(error::type_error("unsupported operand types"));
    };
    match (x, y) {
        (Num::I(i), Num::I(j)) => {
            let r = match op {
                '+' => i.checked_add(j),
                '-' => i.checked_sub(j),
                '*' => i.checked_mul(j),
                '/' | '%' if j == 0 => {
                    let what = if op == '/' {
                        "integer division or modulo by zero"
                    } else {
                        "integer modulo by zero"
                    };
                    return Err(Error::new("ZeroDivisionError", what));
                }
                '/' => {
                    let q = i.checked_div(j).ok_or_else(error::overflow)?;
                    Some(if i % j != 0 && ((i < 0) != (j < 0)) {
                        q - 1
                    } else {
                        q
                    })
                }
                _ => {
                    let r = i.checked_rem(j).unwrap_or(0);
                    Some(if r != 0 && ((r < 0) != (j < 0)) {
                        r + j
                    } else {
                        r
                    })
                }
            };
            r.map(V::Int).ok_or_else(error::overflow)
        }
        _ => {
            let (p, q) = (x.f(), y.f());
            Ok(V::Float(match op {
                '+' => p + q,
                '-' => p - q,
                '*' => p * q,
                '/' | '%' if q == 0.0 => {
                    let what = if op == '/' {
                        "float division by zero"
                    } else {
                        "float modulo"
                    };
                    return Err(Error::new("ZeroDivisionError", what));
                }
                '/' => p / q,
                _ => {
                    let mut r = p % q;
                    if r != 0.0 && ((r < 0.0) != (q < 0.0)) {
                        r += q;
                    } else if r == 0.0 {
                        r = 0.0f64.copysign(q);
                    }
                    r
                }
            }))
        }
    }
}

/// The comparison operators with yaql's overloads: numbers, strings,
/// datetimes, timespans, sets (subset order) and null (below everything).
/// Anything else: `NoMatchingFunctionException` for `#operator_<op>`.
pub fn compare<'a>(op: &str, a: &V<'a>, b: &V<'a>) -> R<bool> {
    use std::cmp::Ordering::*;
    let ord = match (a, b) {
        (V::Null, V::Null) => Equal,
        (V::Null, _) => Less,
        (_, V::Null) => Greater,
        (V::Set(x, _), V::Set(y, _)) => {
            let sub = x.iter().all(|v| y.contains(v));
            let sup = y.iter().all(|v| x.contains(v));
            return Ok(match op {
                "<" => sub && x.len() < y.len(),
                "<=" => sub,
                ">" => sup && x.len() > y.len(),
                _ => sup,
            });
        }
        (V::Str(x), V::Str(y)) => x.cmp(y),
        (V::DateTime(x), V::DateTime(y)) => x.cmp(y),
        (V::TimeSpan(x), V::TimeSpan(y)) => x.cmp(y),
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::Int(_) | V::Float(_), V::Int(_) | V::Float(_)) => {
            let (x, y) = (a.num().map(Num::f), b.num().map(Num::f));
            match x.partial_cmp(&y) {
                Some(o) => o,
                None => return Ok(false),
            }
        }
        _ => {
            return Err(error::no_matching_function(&format!("#operator_{op}")));
        }
    };
    Ok(match op {
        "<" => ord == Less,
        "<=" => ord != Greater,
        ">" => ord == Greater,
        _ => ord != Less,
    })
}
