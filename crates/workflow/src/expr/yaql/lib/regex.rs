//! Regular expressions (`yaql/standard_library/regex.py`) with Python's
//! `re` syntax (look-around and back-references through `fancy-regex`),
//! Python's replacement templates (`\1`, `\g<name>`) and match positions
//! in characters.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use indexmap::IndexMap;

use super::queries::lazy;
use super::{o, ov, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::interp::{Args, Frame, Interp, Lambda as Lam};
use crate::expr::yaql::value::{PyRegex, V};

const IGNORECASE: u32 = 2;
const MULTILINE: u32 = 8;
const DOTALL: u32 = 16;

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov(
        "regex",
        F,
        &[
            p("pattern", Str),
            o("ignoreCase", BoolN, D::B(false)),
            o("multiLine", BoolN, D::B(false)),
            o("dotAll", BoolN, D::B(false)),
        ],
        |_, a| {
            let mut flags = 0;
            if a.v(1).truthy() {
                flags |= IGNORECASE;
            }
            if a.v(2).truthy() {
                flags |= MULTILINE;
            }
            if a.v(3).truthy() {
                flags |= DOTALL;
            }
            compile(a.s(0).unwrap_or(""), flags).map(V::Regex)
        },
    ),
    ov(
        "matches",
        M,
        &[p("regexp", Regex), p("string", Str)],
        |_, a| search_bool(a.v(0), a.v(1)),
    ),
    ov(
        "matches",
        M,
        &[p("string", Str), p("regexp", Str)],
        |_, a| search_bool(a.v(1), a.v(0)),
    ),
    ov(
        "search",
        M,
        &[
            p("regexp", Regex),
            p("string", Str),
            o("selector", LambdaCtx, D::Null),
        ],
        |it, a| {
            let re = regex_of(a.v(0))?;
            let text = a.s(1).unwrap_or("");
            let Some(caps) = re.re.captures(text).map_err(runtime)? else {
                return Ok(V::Null);
            };
            match a.lam(2) {
                None => Ok(V::str(caps.get(0).map_or("", |m| m.as_str()))),
                Some(l) => {
                    let env = Frame::child(&a.env);
                    publish(&env, &caps, text)?;
                    it.call_in(l, &env)
                }
            }
        },
    ),
    ov(
        "searchAll",
        M,
        &[
            p("regexp", Regex),
            p("string", Str),
            o("selector", LambdaCtx, D::Null),
        ],
        |it, a| {
            let re = regex_of(a.v(0))?;
            let text = a.s(1).unwrap_or("");
            let mut out = Vec::new();
            for caps in re.re.captures_iter(text) {
                let caps = caps.map_err(runtime)?;
                out.push(match a.lam(2) {
                    None => V::str(caps.get(0).map_or("", |m| m.as_str())),
                    Some(l) => {
                        let env = Frame::child(&a.env);
                        publish(&env, &caps, text)?;
                        it.call_in(l, &env)?
                    }
                });
            }
            Ok(lazy(out.into_iter().map(Ok)))
        },
    ),
    ov(
        "split",
        M,
        &[
            p("regexp", Regex),
            p("string", Str),
            o("maxSplit", Int, D::I(0)),
        ],
        |_, a| split(a.v(0), a.s(1).unwrap_or(""), a.int(2)),
    ),
    ov(
        "split",
        M,
        &[
            p("string", Str),
            p("regexp", Regex),
            o("maxSplit", Int, D::I(0)),
        ],
        |_, a| split(a.v(1), a.s(0).unwrap_or(""), a.int(2)),
    ),
    ov(
        "replace",
        M,
        &[
            p("regexp", Regex),
            p("string", Str),
            p("repl", Str),
            o("count", Int, D::I(0)),
        ],
        |it, a| sub(it, a, 0, 1, Repl::Template(2), 3),
    ),
    ov(
        "replace",
        M,
        &[
            p("string", Str),
            p("regexp", Regex),
            p("repl", Str),
            o("count", Int, D::I(0)),
        ],
        |it, a| sub(it, a, 1, 0, Repl::Template(2), 3),
    ),
    ov(
        "replaceBy",
        M,
        &[
            p("regexp", Regex),
            p("string", Str),
            p("repl", LambdaCtx),
            o("count", Int, D::I(0)),
        ],
        |it, a| sub(it, a, 0, 1, Repl::Lambda(2), 3),
    ),
    ov(
        "replaceBy",
        M,
        &[
            p("string", Str),
            p("regexp", Regex),
            p("repl", LambdaCtx),
            o("count", Int, D::I(0)),
        ],
        |it, a| sub(it, a, 1, 0, Repl::Lambda(2), 3),
    ),
    ov("escapeRegex", F, &[p("string", Str)], |_, a| {
        let mut out = String::new();
        for c in a.s(0).unwrap_or("").chars() {
            if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        Ok(V::string(out))
    }),
    ov("isRegex", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Regex(_))))
    }),
];

thread_local! {
    static CACHE: RefCell<HashMap<(String, u32), Rc<PyRegex>>> = RefCell::new(HashMap::new());
}

/// Compiles a Python pattern (cached per thread, as Python's `re` caches).
pub fn compile(pattern: &str, flags: u32) -> R<Rc<PyRegex>> {
    let key = (pattern.to_string(), flags);
    if let Some(r) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let mut prefix = String::new();
    if flags & (IGNORECASE | MULTILINE | DOTALL) != 0 {
        prefix.push_str("(?");
        if flags & IGNORECASE != 0 {
            prefix.push('i');
        }
        if flags & MULTILINE != 0 {
            prefix.push('m');
        }
        if flags & DOTALL != 0 {
            prefix.push('s');
        }
        prefix.push(')');
    }
    let translated = translate(pattern, flags & MULTILINE != 0);
    let re = fancy_regex::Regex::new(&format!("{prefix}{translated}"))
        .map_err(|e| Error::new("error", format!("{e} (pattern {pattern:?})")))?;
    let r = Rc::new(PyRegex {
        pattern: pattern.to_string(),
        flags,
        re,
    });
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(key, r.clone());
    });
    Ok(r)
}

/// Python's `re` syntax in `fancy-regex` terms: `\Z` is `\z`; `(?P=name)`
/// is `\k<name>`; inside a class `[`, `&` and `~` are literal (no POSIX
/// classes or set operations in Python); `$` without MULTILINE also
/// matches before a final newline.
fn translate(pattern: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let chars: Vec<char> = pattern.chars().collect();
    let multiline = multiline || pattern.contains("(?m") || pattern.contains("(?im");
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            if chars[i + 1] == 'Z' && !in_class {
                out.push_str("\\z");
            } else {
                out.push(c);
                out.push(chars[i + 1]);
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' => in_class = false,
                '[' | '&' | '~' => out.push('\\'),
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            i += 1;
            // A `]` (after an optional `^`) right at the start is literal.
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i) == Some(&']') {
                out.push_str("\\]");
                i += 1;
            }
            continue;
        }
        if chars[i..].starts_with(&['(', '?', 'P', '=']) {
            if let Some(end) = chars[i..].iter().position(|c| *c == ')') {
                let name: String = chars[i + 4..i + end].iter().collect();
                out.push_str(&format!("\\k<{name}>"));
                i += end + 1;
                continue;
            }
        }
        if c == '$' && !multiline {
            out.push_str("(?=\\n?\\z)");
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn runtime(e: fancy_regex::Error) -> Error {
    Error::new("error", e.to_string())
}

fn regex_of(v: &V<'_>) -> R<Rc<PyRegex>> {
    match v {
        V::Regex(r) => Ok(r.clone()),
        V::Str(s) => compile(s, 0),
        other => Err(error::type_error(format!(
            "first argument must be string or compiled pattern, not {}",
            other.type_name()
        ))),
    }
}

/// `re.search(pattern, string) is not None`.
pub fn search_bool<'a>(pattern: &V<'a>, string: &V<'a>) -> R<V<'a>> {
    let re = regex_of(pattern)?;
    let text = match string {
        V::Str(s) => s.clone(),
        _ => return Err(error::type_error("expected string")),
    };
    Ok(V::Bool(re.re.is_match(&text).map_err(runtime)?))
}

fn char_pos(text: &str, byte: usize) -> i64 {
    text[..byte].chars().count() as i64
}

/// Publishes a match as yaql does: `$1` is the whole match, `$2`... the
/// groups, each `{value, start, end}`.
fn publish<'a>(env: &Frame<'a>, caps: &fancy_regex::Captures<'_>, text: &str) -> R<()> {
    for i in 0..caps.len() {
        let mut rec = IndexMap::new();
        let (value, start, end) = match caps.get(i) {
            Some(m) => (
                V::str(m.as_str()),
                char_pos(text, m.start()),
                char_pos(text, m.end()),
            ),
            None => (V::Null, -1, -1),
        };
        rec.insert(V::str("value"), value);
        rec.insert(V::str("start"), V::Int(start));
        rec.insert(V::str("end"), V::Int(end));
        env.set(&format!("${}", i + 1), V::dict(rec)?);
    }
    Ok(())
}

fn split<'a>(re: &V<'a>, text: &str, max: i64) -> R<V<'a>> {
    let re = regex_of(re)?;
    let mut out = Vec::new();
    let mut last = 0;
    let mut n = 0;
    for caps in re.re.captures_iter(text) {
        if max > 0 && n >= max {
            break;
        }
        let caps = caps.map_err(runtime)?;
        let Some(m) = caps.get(0) else { continue };
        out.push(V::str(&text[last..m.start()]));
        for g in 1..caps.len() {
            out.push(caps.get(g).map_or(V::Null, |x| V::str(x.as_str())));
        }
        last = m.end();
        n += 1;
    }
    out.push(V::str(&text[last..]));
    V::list(out)
}

enum Repl {
    Template(usize),
    Lambda(usize),
}

/// `re.sub(pattern, repl, string, count)` with a template or a lambda.
fn sub<'a>(
    it: &'a Interp<'a>,
    a: &Args<'a>,
    re_at: usize,
    text_at: usize,
    repl: Repl,
    count_at: usize,
) -> R<V<'a>> {
    let re = regex_of(a.v(re_at))?;
    let text = a.s(text_at).unwrap_or("").to_string();
    let count = a.int(count_at);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut n = 0;
    for caps in re.re.captures_iter(&text) {
        if count > 0 && n >= count {
            break;
        }
        let caps = caps.map_err(runtime)?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        match repl {
            Repl::Template(i) => expand(a.s(i).unwrap_or(""), &caps, &mut out)?,
            Repl::Lambda(i) => {
                let l: &Lam<'a> = a
                    .lam(i)
                    .ok_or_else(|| error::type_error("replaceBy needs an expression"))?;
                publish(&a.env, &caps, &text)?;
                let env = Frame::child(&a.env);
                match it.call_in(l, &env)? {
                    V::Str(s) => out.push_str(&s),
                    other => {
                        return Err(error::type_error(format!(
                            "expected str instance, {} found",
                            other.type_name()
                        )))
                    }
                }
            }
        }
        last = m.end();
        n += 1;
    }
    out.push_str(&text[last..]);
    Ok(V::string(out))
}

/// Python's replacement template: `\1`, `\g<1>`, `\g<name>`, escapes.
fn expand(template: &str, caps: &fancy_regex::Captures<'_>, out: &mut String) -> R<()> {
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    let group = |g: usize, out: &mut String| -> R<()> {
        if g >= caps.len() {
            return Err(Error::new("error", format!("invalid group reference {g}")));
        }
        if let Some(m) = caps.get(g) {
            out.push_str(m.as_str());
        }
        Ok(())
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = chars[i + 1];
        match n {
            '0'..='9' => {
                let mut j = i + 1;
                while j < chars.len() && j < i + 3 && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let g: usize = chars[i + 1..j]
                    .iter()
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0);
                group(g, out)?;
                i = j;
            }
            'g' if chars.get(i + 2) == Some(&'<') => {
                let end = chars[i..]
                    .iter()
                    .position(|c| *c == '>')
                    .ok_or_else(|| Error::new("error", "missing >, unterminated name"))?;
                let name: String = chars[i + 3..i + end].iter().collect();
                match name.parse::<usize>() {
                    Ok(g) => group(g, out)?,
                    Err(_) => match caps.name(&name) {
                        Some(m) => out.push_str(m.as_str()),
                        None => {
                            return Err(Error::new(
                                "IndexError",
                                format!("unknown group name '{name}'"),
                            ))
                        }
                    },
                }
                i += end + 1;
            }
            'n' => {
                out.push('\n');
                i += 2;
            }
            't' => {
                out.push('\t');
                i += 2;
            }
            'r' => {
                out.push('\r');
                i += 2;
            }
            '\\' => {
                out.push('\\');
                i += 2;
            }
            c if c.is_ascii_alphabetic() => {
                return Err(Error::new("error", format!("bad escape \\{c}")));
            }
            c => {
                out.push('\\');
                out.push(c);
                i += 2;
            }
        }
    }
    Ok(())
}
