//! Jinja2's built-in filters where minijinja's give a different output:
//! `string`, `join`, `lower`, `upper`, `capitalize`, `title`, `trim`,
//! `replace`, `center` (all through Python's `str()`), `tojson` (sorted
//! keys, Python's separators, HTML-safe escapes), `round` (Python's
//! rounding, float result), `int`/`float` (Jinja2's fallbacks to the
//! default), `escape` (markupsafe's entities), `format` (printf-style) and
//! `wordcount`. Behaviours follow Jinja2 2.11's `jinja2/filters.py`.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::environment::to_json;
use crate::functions::{json_dumps, DumpOptions};
use crate::methods::{py_capitalize, py_isspace};
use crate::pyformat::percent_format;
use crate::pyrepr::py_str;

fn op(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn text(state: &State, v: &Value) -> Result<String, Error> {
    if v.is_undefined() && state.undefined_behavior() == minijinja::UndefinedBehavior::Strict {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(py_str(v))
}

/// Python's `str.center`.
fn center(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        return s.to_string();
    }
    let total = width - n;
    let left = total / 2 + (total & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(total - left))
}

/// Python's `round(x, ndigits)` for floats: correctly rounded, ties to even.
fn py_round(f: f64, ndigits: i32) -> f64 {
    if !f.is_finite() {
        return f;
    }
    if ndigits >= 0 {
        let s = format!("{:.*}", ndigits as usize, f);
        s.parse().unwrap_or(f)
    } else {
        let p = 10f64.powi(-ndigits);
        let q = f / p;
        let r = q.round();
        let r = if (q - q.trunc()).abs() == 0.5 {
            2.0 * (q / 2.0).round()
        } else {
            r
        };
        r * p
    }
}

/// Python's `int(text, base)`: surrounding whitespace and `_` between
/// digits allowed, `0x`/`0o`/`0b` prefixes with base 0 or their base.
fn parse_py_int(s: &str, base: u32) -> Option<i128> {
    let t = s.trim_matches(py_isspace);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = t.to_lowercase();
    let (digits, base) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (&t[2..], 16),
        (8 | 0, Some("0o")) => (&t[2..], 8),
        (2 | 0, Some("0b")) => (&t[2..], 2),
        (0, _) => (t, 10),
        (b, _) => (t, b),
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| base != 10)
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n = i128::from_str_radix(&clean, base).ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(text)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(py_isspace);
    let lower = t.to_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return lower.parse::<f64>().ok().or(Some(f64::NAN));
    }
    if t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    if clean.is_empty()
        || !clean
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
    {
        return None;
    }
    clean.parse().ok()
}

fn float_of(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::String => parse_py_float(v.as_str().unwrap_or_default()),
        _ => None,
    }
}

fn markup_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    out
}

/// Jinja2's `do_title`: capitalizes after `-`, whitespace, `(`, `{`, `[`, `<`.
fn jinja_title(s: &str) -> String {
    let is_sep = |c: char| c == '-' || py_isspace(c) || "({[<".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if is_sep(c) {
            out.push(c);
            at_start = true;
        } else if at_start {
            out.extend(c.to_uppercase());
            at_start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn as_i128(v: &Value) -> Option<i128> {
    match v.kind() {
        ValueKind::Bool => Some(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
        _ => None,
    }
}

fn float_of_number(v: &Value) -> Option<f64> {
    matches!(v.kind(), ValueKind::Number | ValueKind::Bool)
        .then(|| float_of(v))
        .flatten()
}

/// Jinja2's `make_attrgetter`: dotted names, integer parts index.
fn attr_path(v: &Value, path: &str) -> Result<Value, Error> {
    let mut v = v.clone();
    for part in path.split('.') {
        v = match part.parse::<i64>() {
            Ok(i) => v.get_item(&Value::from(i))?,
            Err(_) => v.get_attr(part)?,
        };
    }
    Ok(v)
}

fn min_max(v: Value, kwargs: Kwargs, want_max: bool) -> Result<Value, Error> {
    let case_sensitive: Option<bool> = kwargs.get("case_sensitive")?;
    let attribute: Option<String> = kwargs.get("attribute")?;
    kwargs.assert_all_used()?;
    let key = |item: &Value| -> Result<Value, Error> {
        let k = match &attribute {
            Some(a) => attr_path(item, a)?,
            None => item.clone(),
        };
        Ok(match (k.as_str(), case_sensitive.unwrap_or(false)) {
            (Some(s), false) => Value::from(s.to_lowercase()),
            _ => k,
        })
    };
    let mut best: Option<(Value, Value)> = None;
    for item in v.try_iter()? {
        let k = key(&item)?;
        let better = match &best {
            None => true,
            Some((bk, _)) if want_max => k > *bk,
            Some((bk, _)) => k < *bk,
        };
        if better {
            best = Some((k, item));
        }
    }
    // Jinja2 returns an undefined value for an empty sequence.
    Ok(best.map_or(Value::UNDEFINED, |(_, item)| item))
}

fn pprint_fits(v: &Value) -> Option<String> {
    // pprint.pformat sorts dict keys; short values print on one line.
    let sorted = sort_maps(v);
    let s = crate::pyrepr::py_repr(&sorted);
    (s.chars().count() <= 80).then_some(s)
}

fn sort_maps(v: &Value) -> Value {
    match v.kind() {
        ValueKind::Map => {
            let mut pairs: Vec<(Value, Value)> = v
                .try_iter()
                .map(|keys| {
                    keys.map(|k| (k.clone(), v.get_item(&k).unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::from_iter(pairs.into_iter().map(|(k, val)| (k, sort_maps(&val))))
        }
        ValueKind::Seq
            if v.downcast_object_ref::<crate::pyobjects::PyTuple>()
                .is_none() =>
        {
            Value::from(
                v.try_iter()
                    .map(|it| it.map(|x| sort_maps(&x)).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        }
        _ => v.clone(),
    }
}

/// Installs the overrides.
pub fn register(env: &mut Environment<'static>) {
    env.add_test("sequence", |v: Value| -> bool {
        // Jinja2: anything with a length and items (text, lists, dicts).
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map
        )
    });
    env.add_filter("sum", |v: Value, kwargs: Kwargs| -> Result<Value, Error> {
        let attribute: Option<String> = kwargs.get("attribute")?;
        let start: Option<Value> = kwargs.get("start")?;
        kwargs.assert_all_used()?;
        let mut total = start.unwrap_or(Value::from(0));
        for item in v.try_iter()? {
            let item = match &attribute {
                Some(a) => attr_path(&item, a)?,
                None => item,
            };
            total = match (as_i128(&total), as_i128(&item)) {
                (Some(a), Some(b)) => Value::from(a + b),
                _ => match (float_of_number(&total), float_of_number(&item)) {
                    (Some(a), Some(b)) => Value::from(a + b),
                    _ => {
                        return Err(op(format!(
                            "unsupported operand type(s) for +: '{}' and '{}' (TypeError)",
                            total.kind(),
                            item.kind()
                        )))
                    }
                },
            };
        }
        Ok(total)
    });
    env.add_filter("min", |v: Value, kwargs: Kwargs| min_max(v, kwargs, false));
    env.add_filter("max", |v: Value, kwargs: Kwargs| min_max(v, kwargs, true));
    env.add_filter(
        "groupby",
        |v: Value, attribute: Option<String>, kwargs: Kwargs| -> Result<Value, Error> {
            let groups = minijinja::filters::groupby(v, attribute.as_deref(), kwargs)?;
            let mut out = Vec::new();
            for g in groups.try_iter()? {
                let grouper = g.get_attr("grouper")?;
                let list: Vec<Value> = g.get_attr("list")?.try_iter()?.collect();
                out.push(crate::pyobjects::PyTuple::named(
                    vec![grouper, Value::from(list)],
                    &["grouper", "list"],
                ));
            }
            Ok(Value::from(out))
        },
    );
    env.add_filter(
        "wordwrap",
        |v: Value, args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            // Jinja2 also takes these positionally.
            let names = [
                "width",
                "break_long_words",
                "wrapstring",
                "break_on_hyphens",
            ];
            let mut all: Vec<(String, Value)> = Vec::new();
            for (name, value) in names.iter().zip(args.iter()) {
                all.push((name.to_string(), value.clone()));
            }
            for k in kwargs.args() {
                all.push((k.to_string(), kwargs.get::<Value>(k)?));
            }
            minijinja_contrib::filters::wordwrap(&v, Kwargs::from_iter(all))
        },
    );
    env.add_filter(
        "forceescape",
        |state: &State, v: Value| -> Result<Value, Error> {
            Ok(Value::from_safe_string(markup_escape(&text(state, &v)?)))
        },
    );
    env.add_filter(
        "pprint",
        |state: &State, v: Value| -> Result<String, Error> {
            if v.is_undefined()
                && state.undefined_behavior() == minijinja::UndefinedBehavior::Strict
            {
                return Err(Error::from(ErrorKind::UndefinedError));
            }
            pprint_fits(&v)
                .ok_or_else(|| op("pprint of values wider than 80 columns is not supported"))
        },
    );
    env.add_filter("string", |state: &State, v: Value| text(state, &v));
    env.add_filter(
        "join",
        |state: &State, v: Value, d: Option<String>, kwargs: Kwargs| -> Result<String, Error> {
            let attribute: Option<String> = kwargs.get("attribute")?;
            let d = match d {
                Some(d) => Some(d),
                None => kwargs.get("d")?,
            };
            kwargs.assert_all_used()?;
            let sep = d.unwrap_or_default();
            let mut parts = Vec::new();
            let items: Vec<Value> = match v.as_str() {
                Some(s) => s.chars().map(Value::from).collect(),
                None => {
                    if v.is_undefined()
                        && state.undefined_behavior() == minijinja::UndefinedBehavior::Strict
                    {
                        return Err(Error::from(ErrorKind::UndefinedError));
                    }
                    v.try_iter()?.collect()
                }
            };
            for item in items {
                let item = match &attribute {
                    Some(a) => item.get_attr(a)?,
                    None => item,
                };
                parts.push(text(state, &item)?);
            }
            Ok(parts.join(&sep))
        },
    );
    env.add_filter("lower", |state: &State, v: Value| {
        Ok::<_, Error>(text(state, &v)?.to_lowercase())
    });
    env.add_filter("upper", |state: &State, v: Value| {
        Ok::<_, Error>(text(state, &v)?.to_uppercase())
    });
    env.add_filter("capitalize", |state: &State, v: Value| {
        Ok::<_, Error>(py_capitalize(&text(state, &v)?))
    });
    env.add_filter("title", |state: &State, v: Value| {
        Ok::<_, Error>(jinja_title(&text(state, &v)?))
    });
    env.add_filter(
        "trim",
        |state: &State, v: Value, chars: Option<String>| -> Result<String, Error> {
            let s = text(state, &v)?;
            Ok(match chars {
                Some(set) => s.trim_matches(|c| set.contains(c)).to_string(),
                None => s.trim_matches(py_isspace).to_string(),
            })
        },
    );
    env.add_filter(
        "replace",
        |state: &State,
         v: Value,
         old: String,
         new: String,
         count: Option<i64>|
         -> Result<String, Error> {
            let s = text(state, &v)?;
            Ok(match count {
                Some(n) if n >= 0 => s.replacen(&old, &new, n as usize),
                _ => s.replace(&old, &new),
            })
        },
    );
    env.add_filter(
        "center",
        |state: &State, v: Value, width: Option<i64>| -> Result<String, Error> {
            Ok(center(
                &text(state, &v)?,
                width.unwrap_or(80).max(0) as usize,
            ))
        },
    );
    let escape = |state: &State, v: Value| -> Result<Value, Error> {
        if v.is_safe() {
            return Ok(v);
        }
        Ok(Value::from_safe_string(markup_escape(&text(state, &v)?)))
    };
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter(
        "tojson",
        |state: &State, v: Value, indent: Option<i64>, kwargs: Kwargs| -> Result<Value, Error> {
            let indent = match indent {
                Some(i) => Some(i),
                None => kwargs.get("indent")?,
            };
            kwargs.assert_all_used()?;
            let json = to_json(state, &v)?;
            let opts = DumpOptions {
                indent: indent.map(|n| " ".repeat(n.max(0) as usize)),
                item_sep: if indent.is_some() { "," } else { ", " },
                key_sep: ": ",
                sort_keys: true,
            };
            let s = json_dumps(&json, &opts)
                .replace('<', "\\u003c")
                .replace('>', "\\u003e")
                .replace('&', "\\u0026")
                .replace('\'', "\\u0027");
            Ok(Value::from_safe_string(s))
        },
    );
    env.add_filter(
        "round",
        |v: Value, precision: Option<i32>, method: Option<String>| -> Result<Value, Error> {
            let precision = precision.unwrap_or(0);
            let method = method.unwrap_or_else(|| "common".into());
            if !["common", "ceil", "floor"].contains(&method.as_str()) {
                return Err(op("method must be common, ceil or floor"));
            }
            if v.is_integer() && method == "common" {
                return Ok(v);
            }
            let f = float_of(&v)
                .filter(|_| v.kind() != ValueKind::String)
                .ok_or_else(|| {
                    op(format!(
                        "type {} doesn't define __round__ method (TypeError)",
                        v.kind()
                    ))
                })?;
            let p = 10f64.powi(precision);
            Ok(Value::from(match method.as_str() {
                "ceil" => (f * p).ceil() / p,
                "floor" => (f * p).floor() / p,
                _ => py_round(f, precision),
            }))
        },
    );
    env.add_filter(
        "int",
        |v: Value, default: Option<Value>, base: Option<u32>| -> Result<Value, Error> {
            let default = default.unwrap_or(Value::from(0));
            let base = base.unwrap_or(10);
            let direct = match v.kind() {
                ValueKind::String => parse_py_int(v.as_str().unwrap_or_default(), base),
                ValueKind::Bool => Some(i128::from(v.is_true())),
                ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
                _ => None,
            };
            if let Some(n) = direct {
                return Ok(Value::from(n));
            }
            match float_of(&v) {
                Some(f) if f.is_finite() => Ok(Value::from(f.trunc() as i128)),
                Some(f) if f.is_infinite() => Err(op(
                    "cannot convert float infinity to integer (OverflowError)",
                )),
                Some(_) => Err(op("cannot convert float NaN to integer (ValueError)")),
                None => Ok(default),
            }
        },
    );
    env.add_filter("float", |v: Value, default: Option<Value>| -> Value {
        match float_of(&v) {
            Some(f) => Value::from(f),
            None => default.unwrap_or(Value::from(0.0)),
        }
    });
    env.add_filter(
        "format",
        |state: &State, v: Value, args: Rest<Value>, kwargs: Kwargs| -> Result<String, Error> {
            let template = text(state, &v)?;
            let names: Vec<String> = kwargs.args().map(str::to_string).collect();
            if !names.is_empty() && !args.is_empty() {
                return Err(op(
                    "can't handle positional and keyword arguments at the same time",
                ));
            }
            if names.is_empty() {
                return percent_format(&template, &args, None);
            }
            let mut map = Vec::new();
            for n in names {
                let v: Value = kwargs.get(&n)?;
                map.push((n, v));
            }
            let mapping = Value::from_iter(map);
            percent_format(&template, &[], Some(&mapping))
        },
    );
    env.add_filter(
        "dictsort",
        |v: Value, kwargs: Kwargs| -> Result<Value, Error> {
            // Jinja2 returns (key, value) tuples.
            let sorted = minijinja::filters::dictsort(&v, kwargs)?;
            let mut pairs = Vec::new();
            for p in sorted.try_iter()? {
                pairs.push(crate::pyobjects::PyTuple::value(p.try_iter()?.collect()));
            }
            Ok(Value::from(pairs))
        },
    );
    env.add_filter(
        "truncate",
        |state: &State, v: Value, args: Rest<Value>, kwargs: Kwargs| -> Result<String, Error> {
            let pick = |i: usize, name: &str| -> Result<Option<Value>, Error> {
                match args.get(i) {
                    Some(v) => Ok(Some(v.clone())),
                    None => kwargs.get(name),
                }
            };
            let length = pick(0, "length")?.and_then(|v| v.as_usize());
            let killwords = pick(1, "killwords")?.map(|v| v.is_true());
            let end = pick(2, "end")?.and_then(|v| v.as_str().map(str::to_string));
            let leeway = pick(3, "leeway")?.and_then(|v| v.as_usize());
            kwargs.assert_all_used()?;
            let s = text(state, &v)?;
            let length = length.unwrap_or(255);
            let end = end.unwrap_or_else(|| "...".into());
            let leeway = leeway.unwrap_or(5);
            let end_len = end.chars().count();
            if length < end_len {
                return Err(op(format!(
                    "expected length >= {end_len}, got {length} (AssertionError)"
                )));
            }
            let chars: Vec<char> = s.chars().collect();
            if chars.len() <= length + leeway {
                return Ok(s);
            }
            let head: String = chars[..length - end_len].iter().collect();
            if killwords.unwrap_or(false) {
                return Ok(head + &end);
            }
            let cut = match head.rfind(' ') {
                Some(i) => head[..i].to_string(),
                None => head,
            };
            Ok(cut + &end)
        },
    );
    env.add_filter(
        "attr",
        |state: &State, v: Value, name: String| -> Result<Value, Error> {
            // Jinja2's `attr` reads Python attributes only, never dict keys.
            if v.kind() == ValueKind::Map {
                if state.undefined_behavior() == minijinja::UndefinedBehavior::Strict {
                    return Err(Error::new(
                        ErrorKind::UndefinedError,
                        format!("'dict object' has no attribute '{name}'"),
                    ));
                }
                return Ok(Value::UNDEFINED);
            }
            v.get_attr(&name)
        },
    );
    env.add_filter(
        "wordcount",
        |state: &State, v: Value| -> Result<usize, Error> {
            let s = text(state, &v)?;
            let mut n = 0;
            let mut in_word = false;
            for c in s.chars() {
                let w = c.is_alphanumeric() || c == '_';
                if w && !in_word {
                    n += 1;
                }
                in_word = w;
            }
            Ok(n)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_numbers() {
        assert_eq!(py_round(2.5, 0), 2.0);
        assert_eq!(py_round(2.675, 2), 2.67);
        assert_eq!(parse_py_int(" 1_000 ", 10), Some(1000));
        assert_eq!(parse_py_int("0x1f", 16), Some(31));
        assert_eq!(parse_py_float("1e3"), Some(1000.0));
        assert_eq!(jinja_title("hello o'neil-smith"), "Hello O'neil-Smith");
    }
}
