//! Strings (`yaql/standard_library/strings.py`). Positions and lengths
//! count characters, as Python's do.

use super::{o, ov, ov_var, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, R};
use crate::expr::yaql::format::py_str;
use crate::expr::yaql::interp::{collect, Args};
use crate::expr::yaql::value::V;

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov("len", FM, &[p("string", Str)], |_, a| {
        Ok(V::Int(s(a, 0).chars().count() as i64))
    }),
    ov("toUpper", M, &[p("string", Str)], |_, a| {
        Ok(V::string(s(a, 0).to_uppercase()))
    }),
    ov("toLower", M, &[p("string", Str)], |_, a| {
        Ok(V::string(s(a, 0).to_lowercase()))
    }),
    ov(
        "split",
        M,
        &[
            p("string", Str),
            o("separator", StrN, D::Null),
            o("maxSplits", Int, D::I(-1)),
        ],
        |_, a| split(s(a, 0), a.s(1), a.int(2), false),
    ),
    ov(
        "rightSplit",
        M,
        &[
            p("string", Str),
            o("separator", StrN, D::Null),
            o("maxSplits", Int, D::I(-1)),
        ],
        |_, a| split(s(a, 0), a.s(1), a.int(2), true),
    ),
    ov(
        "join",
        M,
        &[p("sequence", Iterable), p("separator", Str)],
        |_, a| join(a.v(0), s(a, 1)),
    ),
    ov(
        "join",
        M,
        &[p("separator", Str), p("sequence", Iterable)],
        |_, a| join(a.v(1), s(a, 0)),
    ),
    ov("str", F, &[p("value", Any)], |_, a| {
        to_str(a.v(0)).map(V::string)
    }),
    ov_var("concat", F, &[], Str, |_, a| {
        Ok(V::string(
            a.rest_values()
                .iter()
                .map(|v| match v {
                    V::Str(x) => x.to_string(),
                    _ => String::new(),
                })
                .collect(),
        ))
    }),
    ov(
        "trim",
        M,
        &[p("string", Str), o("chars", StrN, D::Null)],
        |_, a| Ok(V::string(strip(s(a, 0), a.s(1), true, true))),
    ),
    ov(
        "trimLeft",
        M,
        &[p("string", Str), o("chars", StrN, D::Null)],
        |_, a| Ok(V::string(strip(s(a, 0), a.s(1), true, false))),
    ),
    ov(
        "trimRight",
        M,
        &[p("string", Str), o("chars", StrN, D::Null)],
        |_, a| Ok(V::string(strip(s(a, 0), a.s(1), false, true))),
    ),
    ov(
        "norm",
        FM,
        &[p("string", StrN), o("chars", StrN, D::Null)],
        |_, a| {
            let Some(x) = a.s(0) else {
                return Ok(V::Null);
            };
            let t = strip(x, a.s(1), true, true);
            Ok(if t.is_empty() { V::Null } else { V::string(t) })
        },
    ),
    ov(
        "isEmpty",
        FM,
        &[
            p("string", StrN),
            o("trim", Bool, D::B(true)),
            o("chars", StrN, D::Null),
        ],
        |_, a| {
            let Some(x) = a.s(0) else {
                return Ok(V::Bool(true));
            };
            let t = if a.v(1).truthy() {
                strip(x, a.s(2), true, true)
            } else {
                x.to_string()
            };
            Ok(V::Bool(t.is_empty()))
        },
    ),
    ov(
        "replace",
        M,
        &[
            p("string", Str),
            p("old", Str),
            p("new", Str),
            o("count", Int, D::I(-1)),
        ],
        |_, a| Ok(V::string(replace(s(a, 0), s(a, 1), s(a, 2), a.int(3)))),
    ),
    ov(
        "replace",
        M,
        &[
            p("string", Str),
            p("replacements", Mapping),
            o("count", Int, D::I(-1)),
        ],
        |_, a| {
            let mut out = s(a, 0).to_string();
            for (k, v) in a.v(1).map_items().unwrap_or_default() {
                out = replace(&out, &to_str(&k)?, &to_str(&v)?, a.int(2));
            }
            Ok(V::string(out))
        },
    ),
    ov(
        "substring",
        M,
        &[
            p("string", Str),
            p("start", Int),
            o("length", Int, D::I(-1)),
        ],
        |_, a| {
            let chars: Vec<char> = s(a, 0).chars().collect();
            let n = chars.len() as i64;
            let mut start = a.int(1);
            let mut length = a.int(2);
            if length < 0 {
                length = n;
            }
            if start < 0 {
                start += n;
            }
            let (from, to) = slice_bounds(n, start, start.saturating_add(length));
            Ok(V::string(chars[from..to.max(from)].iter().collect()))
        },
    ),
    ov(
        "indexOf",
        M,
        &[p("string", Str), p("sub", Str), o("start", Int, D::I(0))],
        |_, a| Ok(V::Int(find(s(a, 0), s(a, 1), a.int(2), None, false))),
    ),
    ov(
        "indexOf",
        M,
        &[
            p("string", Str),
            p("sub", Str),
            p("start", Int),
            p("length", Int),
        ],
        |_, a| {
            let (start, end) = window(s(a, 0), a.int(2), a.int(3));
            Ok(V::Int(find(s(a, 0), s(a, 1), start, Some(end), false)))
        },
    ),
    ov(
        "lastIndexOf",
        M,
        &[p("string", Str), p("sub", Str), o("start", Int, D::I(0))],
        |_, a| Ok(V::Int(find(s(a, 0), s(a, 1), a.int(2), None, true))),
    ),
    ov(
        "lastIndexOf",
        M,
        &[
            p("string", Str),
            p("sub", Str),
            p("start", Int),
            p("length", Int),
        ],
        |_, a| {
            let (start, end) = window(s(a, 0), a.int(2), a.int(3));
            Ok(V::Int(find(s(a, 0), s(a, 1), start, Some(end), true)))
        },
    ),
    ov("toCharArray", M, &[p("string", Str)], |_, a| {
        V::tuple(s(a, 0).chars().map(|c| V::string(c.to_string())).collect())
    }),
    ov(
        "characters",
        F,
        &[
            o("digits", BoolN, D::B(false)),
            o("hexdigits", BoolN, D::B(false)),
            o("asciiLowercase", BoolN, D::B(false)),
            o("asciiUppercase", BoolN, D::B(false)),
            o("asciiLetters", BoolN, D::B(false)),
            o("letters", BoolN, D::B(false)),
            o("octdigits", BoolN, D::B(false)),
            o("punctuation", BoolN, D::B(false)),
            o("printable", BoolN, D::B(false)),
            o("lowercase", BoolN, D::B(false)),
            o("uppercase", BoolN, D::B(false)),
            o("whitespace", BoolN, D::B(false)),
        ],
        characters,
    ),
    ov("isString", F, &[p("arg", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Str(_))))
    }),
    ov_var("startsWith", M, &[p("string", Str)], Str, |_, a| {
        let x = s(a, 0);
        Ok(V::Bool(a.rest_values().iter().any(|p| match p {
            V::Str(p) => x.starts_with(&**p),
            _ => false,
        })))
    }),
    ov_var("endsWith", M, &[p("string", Str)], Str, |_, a| {
        let x = s(a, 0);
        Ok(V::Bool(a.rest_values().iter().any(|p| match p {
            V::Str(p) => x.ends_with(&**p),
            _ => false,
        })))
    }),
    ov("hex", F, &[p("num", NumN)], |_, a| match a.v(0) {
        V::Int(i) => Ok(V::string(if *i < 0 {
            format!("-0x{:x}", i.unsigned_abs())
        } else {
            format!("0x{i:x}")
        })),
        other => Err(error::type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ))),
    }),
];

fn s<'b>(a: &'b Args<'_>, i: usize) -> &'b str {
    a.s(i).unwrap_or("")
}

/// yaql's `str()`: null, true and false as written in YAQL, anything else
/// as Python's `str()`.
pub fn to_str(v: &V<'_>) -> R<String> {
    Ok(match v {
        V::Null => "null".into(),
        V::Bool(true) => "true".into(),
        V::Bool(false) => "false".into(),
        other => py_str(other, false)?,
    })
}

fn join<'a>(seq: &V<'a>, sep: &str) -> R<V<'a>> {
    let parts = collect(seq)?
        .iter()
        .map(to_str)
        .collect::<R<Vec<String>>>()?;
    Ok(V::string(parts.join(sep)))
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

/// Python's `strip`/`lstrip`/`rstrip` (whitespace, or any of `chars`).
pub fn strip(x: &str, chars: Option<&str>, left: bool, right: bool) -> String {
    let pred = |c: char| match chars {
        Some(set) => set.contains(c),
        None => is_py_space(c),
    };
    let mut t = x;
    if left {
        t = t.trim_start_matches(pred);
    }
    if right {
        t = t.trim_end_matches(pred);
    }
    t.to_string()
}

fn replace(x: &str, old: &str, new: &str, count: i64) -> String {
    if count < 0 {
        x.replace(old, new)
    } else {
        x.replacen(old, new, count as usize)
    }
}

/// Python's `str.split` / `str.rsplit`.
fn split<'a>(x: &str, sep: Option<&str>, max: i64, right: bool) -> R<V<'a>> {
    let max = if max < 0 { usize::MAX } else { max as usize };
    let parts: Vec<String> = match sep {
        Some("") => return Err(error::value_error("empty separator")),
        Some(sep) => {
            if right {
                let mut v: Vec<String> = x
                    .rsplitn(max.saturating_add(1), sep)
                    .map(String::from)
                    .collect();
                v.reverse();
                v
            } else {
                x.splitn(max.saturating_add(1), sep)
                    .map(String::from)
                    .collect()
            }
        }
        None => whitespace_split(x, max, right),
    };
    V::list(parts.into_iter().map(V::string).collect())
}

fn whitespace_split(x: &str, max: usize, right: bool) -> Vec<String> {
    let chars: Vec<char> = if right {
        x.chars().rev().collect()
    } else {
        x.chars().collect()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && is_py_space(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if out.len() == max {
            // The rest keeps its spacing, as in Python.
            out.push(chars[i..].to_vec());
            break;
        }
        let start = i;
        while i < chars.len() && !is_py_space(chars[i]) {
            i += 1;
        }
        out.push(chars[start..i].to_vec());
    }
    let mut out: Vec<String> = out
        .into_iter()
        .map(|w| {
            if right {
                w.into_iter().rev().collect()
            } else {
                w.into_iter().collect()
            }
        })
        .collect();
    if right {
        out.reverse();
    }
    out
}

/// Python's slice bounds `[start:end]` over `n` items.
pub fn slice_bounds(n: i64, start: i64, end: i64) -> (usize, usize) {
    let clamp = |i: i64| {
        let i = if i < 0 { (i + n).max(0) } else { i };
        i.min(n) as usize
    };
    (clamp(start), clamp(end))
}

fn window(x: &str, start: i64, length: i64) -> (i64, i64) {
    let n = x.chars().count() as i64;
    let start = if start < 0 { start + n } else { start };
    let length = if length < 0 { n - start } else { length };
    (start, start + length)
}

/// Python's `str.find` / `str.rfind` in characters.
fn find(x: &str, sub: &str, start: i64, end: Option<i64>, last: bool) -> i64 {
    let hay: Vec<char> = x.chars().collect();
    let needle: Vec<char> = sub.chars().collect();
    let n = hay.len() as i64;
    let (from, to) = slice_bounds(n, start, end.unwrap_or(n));
    if start > n || to < from || to - from < needle.len() {
        return -1;
    }
    let positions = from..=to - needle.len();
    let matches = |i: &usize| hay[*i..*i + needle.len()] == needle[..];
    let found = if last {
        positions.rev().find(matches)
    } else {
        positions.into_iter().find(matches)
    };
    found.map_or(-1, |i| i as i64)
}

fn characters<'a>(_: &'a crate::expr::yaql::interp::Interp<'a>, a: &mut Args<'a>) -> R<V<'a>> {
    const SETS: [&str; 12] = [
        "0123456789",
        "0123456789abcdefABCDEF",
        "abcdefghijklmnopqrstuvwxyz",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "",
        "01234567",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\u{b}\u{c}",
        "",
        "",
        " \t\n\r\u{b}\u{c}",
    ];
    const MISSING: [(usize, &str); 3] = [(5, "letters"), (9, "lowercase"), (10, "uppercase")];
    let mut out: indexmap::IndexSet<char> = indexmap::IndexSet::new();
    for (i, set) in SETS.iter().enumerate() {
        if a.v(i).truthy() {
            if let Some((_, name)) = MISSING.iter().find(|(j, _)| *j == i) {
                return Err(crate::expr::yaql::error::Error::new(
                    "AttributeError",
                    format!("module 'string' has no attribute '{name}'"),
                ));
            }
            out.extend(set.chars());
        }
    }
    V::tuple(out.into_iter().map(|c| V::string(c.to_string())).collect())
}
