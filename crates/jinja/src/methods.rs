//! Python methods on template values (`names_csv.split(',')`,
//! `d.items()`, `'{}-{}'.format(a, b)`), as Jinja2 exposes them.
//!
//! `minijinja-contrib`'s `pycompat` callback is the base. This module
//! answers first where Python's behaviour differs from it or it has no
//! method: character (not byte) offsets, `split`/`splitlines`/`strip` with
//! Python's whitespace rules, `is*` false on empty text, `format` and
//! `join` with Python's `str()`, `dict` views and tuples that print as
//! Python's, `zfill`/`center`/`ljust`/`rjust`/`partition`/`index`/...

use minijinja::value::{from_args, Kwargs, Rest, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use crate::pyformat::str_format;
use crate::pyobjects::{KvLookup, PyTuple, PyView, ViewKind};

fn op(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's `str.isspace()` for one character.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// `str.split(sep, maxsplit)` / `str.rsplit(...)`.
pub fn py_split(
    s: &str,
    sep: Option<&str>,
    maxsplit: i64,
    from_right: bool,
) -> Result<Vec<String>, Error> {
    let max = if maxsplit < 0 {
        usize::MAX
    } else {
        maxsplit as usize
    };
    match sep {
        Some("") => Err(op("empty separator (ValueError)")),
        Some(sep) => {
            if from_right {
                let mut parts: Vec<String> = s
                    .rsplitn(max.saturating_add(1), sep)
                    .map(str::to_string)
                    .collect();
                parts.reverse();
                Ok(parts)
            } else {
                Ok(s.splitn(max.saturating_add(1), sep)
                    .map(str::to_string)
                    .collect())
            }
        }
        None => {
            let chars: Vec<char> = s.chars().collect();
            let mut out = Vec::new();
            if !from_right {
                let mut i = 0;
                while i < chars.len() {
                    while i < chars.len() && py_isspace(chars[i]) {
                        i += 1;
                    }
                    if i >= chars.len() {
                        break;
                    }
                    if out.len() == max {
                        out.push(chars[i..].iter().collect());
                        break;
                    }
                    let start = i;
                    while i < chars.len() && !py_isspace(chars[i]) {
                        i += 1;
                    }
                    out.push(chars[start..i].iter().collect());
                }
            } else {
                let mut i = chars.len();
                while i > 0 {
                    while i > 0 && py_isspace(chars[i - 1]) {
                        i -= 1;
                    }
                    if i == 0 {
                        break;
                    }
                    if out.len() == max {
                        out.push(chars[..i].iter().collect());
                        break;
                    }
                    let end = i;
                    while i > 0 && !py_isspace(chars[i - 1]) {
                        i -= 1;
                    }
                    out.push(chars[i..end].iter().collect());
                }
                out.reverse();
            }
            Ok(out)
        }
    }
}

fn splitlines(s: &str, keepends: bool) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if is_line_break(chars[i]) {
            let mut end = i + 1;
            if chars[i] == '\r' && chars.get(i + 1) == Some(&'\n') {
                end += 1;
            }
            let stop = if keepends { end } else { i };
            out.push(chars[start..stop].iter().collect());
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    if start < chars.len() {
        out.push(chars[start..].iter().collect());
    }
    out
}

fn strip(s: &str, chars: Option<&str>, left: bool, right: bool) -> String {
    let test = |c: char| match chars {
        Some(set) => set.contains(c),
        None => py_isspace(c),
    };
    let mut t = s;
    if left {
        t = t.trim_start_matches(test);
    }
    if right {
        t = t.trim_end_matches(test);
    }
    t.to_string()
}

/// Python's `str.title()`.
pub fn py_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_cased = false;
    for c in s.chars() {
        let cased = c.is_lowercase() || c.is_uppercase();
        if cased {
            if prev_cased {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
        } else {
            out.push(c);
        }
        prev_cased = cased;
    }
    out
}

/// Python's `str.capitalize()`.
pub fn py_capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
    }
}

/// Python's slice bounds (`start`, `end` may be negative or missing) as
/// character positions.
fn bounds(len: usize, start: Option<i64>, end: Option<i64>) -> (usize, usize) {
    let len_i = len as i64;
    let norm = |x: i64| if x < 0 { (x + len_i).max(0) } else { x.min(len_i) } as usize;
    (start.map_or(0, norm), end.map_or(len, norm))
}

fn char_find(hay: &[char], needle: &[char], start: usize, end: usize, rev: bool) -> Option<usize> {
    if end < start || end - start < needle.len() {
        return None;
    }
    let last = end - needle.len();
    let matches = |i: usize| hay[i..i + needle.len()] == *needle;
    if rev {
        (start..=last).rev().find(|i| matches(*i))
    } else {
        (start..=last).find(|i| matches(*i))
    }
}

fn opt_i64(v: Option<&Value>) -> Result<Option<i64>, Error> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| op("slice indices must be integers or None")),
    }
}

fn width_fill(args: &[Value]) -> Result<(usize, char), Error> {
    let width = args
        .first()
        .and_then(Value::as_i64)
        .ok_or_else(|| op("the width must be an integer"))?;
    let fill = match args.get(1) {
        None => ' ',
        Some(f) => {
            let s = f
                .as_str()
                .ok_or_else(|| op("the fill character must be a string"))?;
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => c,
                _ => return Err(op("The fill character must be exactly one character long")),
            }
        }
    };
    Ok((width.max(0) as usize, fill))
}

fn string_method(
    s: &str,
    method: &str,
    args: &[Value],
    kwargs: &Kwargs,
) -> Option<Result<Value, Error>> {
    let chars = || s.chars().collect::<Vec<char>>();
    let arg_str = |i: usize| args.get(i).and_then(Value::as_str);
    let r = (|| -> Result<Value, Error> {
        Ok(match method {
            "format" => Value::from(str_format(s, args, kwargs)?),
            "join" => {
                let items = args
                    .first()
                    .ok_or_else(|| op("join() takes exactly one argument"))?;
                let mut parts = Vec::new();
                for (i, item) in items.try_iter()?.enumerate() {
                    match item.as_str() {
                        Some(t) => parts.push(t.to_string()),
                        None => {
                            return Err(op(format!(
                                "sequence item {i}: expected str instance, {} found (TypeError)",
                                item.kind()
                            )))
                        }
                    }
                }
                Value::from(parts.join(s))
            }
            "split" | "rsplit" => {
                let sep: Option<Value> = kwargs.get("sep")?;
                let maxsplit: Option<i64> = kwargs.get("maxsplit")?;
                let sep = sep.or_else(|| args.first().cloned());
                let sep = sep.filter(|v| !v.is_none());
                let sep_s = match &sep {
                    Some(v) => Some(
                        v.as_str()
                            .ok_or_else(|| op("must be str or None, not a number (TypeError)"))?
                            .to_string(),
                    ),
                    None => None,
                };
                let maxsplit = maxsplit
                    .or(args.get(1).and_then(Value::as_i64))
                    .unwrap_or(-1);
                let parts = py_split(s, sep_s.as_deref(), maxsplit, method == "rsplit")?;
                Value::from(parts)
            }
            "splitlines" => {
                let keep: Option<bool> = kwargs.get("keepends")?;
                let keep = keep.or(args.first().map(Value::is_true)).unwrap_or(false);
                Value::from(splitlines(s, keep))
            }
            "strip" | "lstrip" | "rstrip" => {
                let set = arg_str(0);
                if args
                    .first()
                    .is_some_and(|a| !a.is_none() && a.as_str().is_none())
                {
                    return Err(op(format!("{method} arg must be None or str (TypeError)")));
                }
                Value::from(strip(s, set, method != "rstrip", method != "lstrip"))
            }
            "upper" => Value::from(s.to_uppercase()),
            "lower" => Value::from(s.to_lowercase()),
            "casefold" => Value::from(s.to_lowercase()),
            "swapcase" => Value::from(
                s.chars()
                    .flat_map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<Vec<_>>()
                        } else {
                            c.to_uppercase().collect::<Vec<_>>()
                        }
                    })
                    .collect::<String>(),
            ),
            "title" => Value::from(py_title(s)),
            "capitalize" => Value::from(py_capitalize(s)),
            "isdigit" | "isnumeric" | "isdecimal" => {
                Value::from(!s.is_empty() && s.chars().all(|c| c.is_numeric()))
            }
            "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
            "isalnum" => Value::from(!s.is_empty() && s.chars().all(char::is_alphanumeric)),
            "isspace" => Value::from(!s.is_empty() && s.chars().all(py_isspace)),
            "islower" => {
                Value::from(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))
            }
            "isupper" => {
                Value::from(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))
            }
            "istitle" => Value::from(
                !s.is_empty() && py_title(s) == s && s.chars().any(|c| c.is_uppercase()),
            ),
            "find" | "rfind" | "index" | "rindex" | "count" => {
                let needle: Vec<char> = arg_str(0)
                    .ok_or_else(|| op(format!("{method}() argument must be str (TypeError)")))?
                    .chars()
                    .collect();
                let hay = chars();
                let (start, end) = bounds(hay.len(), opt_i64(args.get(1))?, opt_i64(args.get(2))?);
                if method == "count" {
                    if end < start {
                        return Ok(Value::from(0));
                    }
                    if needle.is_empty() {
                        return Ok(Value::from(end - start + 1));
                    }
                    let mut n = 0;
                    let mut i = start;
                    while let Some(p) = char_find(&hay, &needle, i, end, false) {
                        n += 1;
                        i = p + needle.len();
                    }
                    return Ok(Value::from(n));
                }
                let rev = method.starts_with('r');
                match char_find(&hay, &needle, start, end, rev) {
                    Some(i) => Value::from(i),
                    None if method.ends_with("find") => Value::from(-1),
                    None => return Err(op("substring not found (ValueError)")),
                }
            }
            "zfill" => {
                let width = args
                    .first()
                    .and_then(Value::as_i64)
                    .ok_or_else(|| op("the width must be an integer"))?;
                let n = s.chars().count();
                let width = width.max(0) as usize;
                if n >= width {
                    Value::from(s)
                } else {
                    let pad = "0".repeat(width - n);
                    match s.chars().next() {
                        Some(c @ ('+' | '-')) => Value::from(format!("{c}{pad}{}", &s[1..])),
                        _ => Value::from(format!("{pad}{s}")),
                    }
                }
            }
            "center" | "ljust" | "rjust" => {
                let (width, fill) = width_fill(args)?;
                let n = s.chars().count();
                if n >= width {
                    Value::from(s)
                } else {
                    let total = width - n;
                    let (left, right) = match method {
                        "ljust" => (0, total),
                        "rjust" => (total, 0),
                        // CPython: left = pad/2 + (pad & width & 1).
                        _ => {
                            let left = total / 2 + (total & width & 1);
                            (left, total - left)
                        }
                    };
                    let f = |k: usize| std::iter::repeat_n(fill, k).collect::<String>();
                    Value::from(format!("{}{s}{}", f(left), f(right)))
                }
            }
            "partition" | "rpartition" => {
                let sep = arg_str(0).ok_or_else(|| op("must be str (TypeError)"))?;
                if sep.is_empty() {
                    return Err(op("empty separator (ValueError)"));
                }
                let found = if method == "partition" {
                    s.find(sep)
                } else {
                    s.rfind(sep)
                };
                let parts = match found {
                    Some(i) => [&s[..i], sep, &s[i + sep.len()..]],
                    None if method == "partition" => [s, "", ""],
                    None => ["", "", s],
                };
                PyTuple::value(parts.iter().map(|p| Value::from(*p)).collect())
            }
            "startswith" | "endswith" => {
                let hay = chars();
                let (start, end) = bounds(hay.len(), opt_i64(args.get(1))?, opt_i64(args.get(2))?);
                let part: String = if start <= end {
                    hay[start..end].iter().collect()
                } else {
                    String::new()
                };
                let test = |p: &str| {
                    if method == "startswith" {
                        part.starts_with(p)
                    } else {
                        part.ends_with(p)
                    }
                };
                let what = args
                    .first()
                    .ok_or_else(|| op(format!("{method}() takes at least 1 argument")))?;
                if let Some(p) = what.as_str() {
                    Value::from(test(p))
                } else {
                    let mut any = false;
                    for p in what.try_iter()? {
                        let p = p.as_str().ok_or_else(|| {
                            op(format!(
                                "tuple for {method} must only contain str (TypeError)"
                            ))
                        })?;
                        any |= test(p);
                    }
                    Value::from(any)
                }
            }
            "expandtabs" => {
                let size = args.first().and_then(Value::as_i64).unwrap_or(8).max(0) as usize;
                let mut out = String::new();
                let mut col = 0;
                for c in s.chars() {
                    match c {
                        '\t' if size > 0 => {
                            let n = size - col % size;
                            out.push_str(&" ".repeat(n));
                            col += n;
                        }
                        '\t' => {}
                        '\n' | '\r' => {
                            out.push(c);
                            col = 0;
                        }
                        c => {
                            out.push(c);
                            col += 1;
                        }
                    }
                }
                Value::from(out)
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    })();
    match r {
        Err(e) if e.kind() == ErrorKind::UnknownMethod => None,
        r => Some(r),
    }
}

fn map_method(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let kind = match method {
        "keys" => ViewKind::Keys,
        "values" => ViewKind::Values,
        "items" => ViewKind::Items,
        "copy" => return Some(Ok(value.clone())),
        _ => return None,
    };
    if !args.is_empty() {
        return Some(Err(op(format!(
            "{method}() takes no arguments (TypeError)"
        ))));
    }
    let r = (|| -> Result<Value, Error> {
        let mut items = Vec::new();
        for k in value.try_iter()? {
            let v = value.get_item(&k)?;
            items.push(match kind {
                ViewKind::Keys => k,
                ViewKind::Values => v,
                ViewKind::Items => PyTuple::value(vec![k, v]),
            });
        }
        Ok(PyView::value(kind, items))
    })();
    Some(r)
}

fn seq_method(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    match method {
        "index" => {
            let what = args.first()?;
            let r = value
                .try_iter()
                .and_then(|mut it| {
                    it.position(|x| &x == what)
                        .map(Value::from)
                        .ok_or_else(|| op("the value is not in the list (ValueError)"))
                });
            Some(r)
        }
        "copy" => Some(Ok(value.clone())),
        "append" | "extend" | "insert" | "pop" | "remove" | "clear" | "sort" | "reverse" | "update"
        | "setdefault" | "popitem" => Some(Err(op(format!(
            "{method}() changes a list or dict in place, which templates here cannot do; build a new value instead (e.g. `x + [item]`)"
        )))),
        _ => None,
    }
}

/// The unknown-method callback installed in the environment.
pub fn unknown_method_callback(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    let (pos, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
    if let Some(kv) = value.downcast_object_ref::<KvLookup>() {
        let text = Value::from(kv.text());
        return unknown_method_callback(state, &text, method, args);
    }
    let answered = match value.kind() {
        ValueKind::String => {
            string_method(value.as_str().unwrap_or_default(), method, &pos, &kwargs)
        }
        ValueKind::Map => map_method(value, method, &pos),
        ValueKind::Seq | ValueKind::Iterable => seq_method(value, method, &pos),
        _ => None,
    };
    match answered {
        Some(r) => {
            let r = r?;
            kwargs.assert_all_used()?;
            Ok(r)
        }
        None => minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_python() {
        assert_eq!(
            py_split("  a b  c ", None, 1, false).unwrap(),
            vec!["a", "b  c "]
        );
        assert_eq!(
            py_split("a,,b", Some(","), -1, false).unwrap(),
            vec!["a", "", "b"]
        );
        assert_eq!(py_split("a b c", None, 1, true).unwrap(), vec!["a b", "c"]);
        assert_eq!(py_title("hello 1st o'neil"), "Hello 1St O'Neil");
        assert_eq!(splitlines("a\r\nb\n\nc", false), vec!["a", "b", "", "c"]);
    }
}
