//! Value helpers and the functions shared by the YAQL and Jinja evaluators:
//! truthiness, display, comparison and the Orquesta/StackStorm function set
//! that does not depend on workflow state (`zip`, `json`, `len`, ...).

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// Python-like truthiness, as Orquesta applies it to `when` criteria.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// How a value reads when an expression is embedded in surrounding text:
/// strings as they are, everything else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Type name used in error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Equality where `1 = 1.0`.
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|other| equals(v, other)))
        }
        _ => a == b,
    }
}

/// Ordering for `<`, `>`, ...: numbers with numbers, strings with strings,
/// lists element-wise. Anything else cannot be ordered.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return Ok(i.cmp(&j));
            }
            let (f, g) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            f.partial_cmp(&g)
                .ok_or_else(|| "cannot compare NaN".to_string())
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ord = compare(p, q)?;
                if ord != Ordering::Equal {
                    return Ok(ord);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => Err(format!(
            "cannot compare {} with {}",
            type_name(a),
            type_name(b)
        )),
    }
}

/// `needle in haystack`: list membership, dict key, substring.
pub fn contains(haystack: &Value, needle: &Value) -> Result<bool, String> {
    match haystack {
        Value::Array(items) => Ok(items.iter().any(|v| equals(v, needle))),
        Value::Object(map) => match needle {
            Value::String(k) => Ok(map.contains_key(k)),
            _ => Ok(false),
        },
        Value::String(s) => match needle {
            Value::String(n) => Ok(s.contains(n.as_str())),
            other => Err(format!("cannot search a string for a {}", type_name(other))),
        },
        Value::Null => Ok(false),
        other => Err(format!("cannot search in a {}", type_name(other))),
    }
}

pub fn float_value(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a valid number"))
}

/// `zip(a, b, ...)`: like Python's `zip_longest` padded with null, as
/// Orquesta's `zip`; a single list is returned unchanged.
pub fn zip(args: &[Value], pad: Value) -> Result<Value, String> {
    let mut lists = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            Value::Array(items) => lists.push(items.as_slice()),
            Value::Null => lists.push(&[][..]),
            other => return Err(format!("zip expects lists, got a {}", type_name(other))),
        }
    }
    if lists.len() == 1 {
        return Ok(Value::Array(lists[0].to_vec()));
    }
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    let rows = (0..longest)
        .map(|i| {
            Value::Array(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or_else(|| pad.clone()))
                    .collect(),
            )
        })
        .collect();
    Ok(Value::Array(rows))
}

/// `json(s)`: parse a JSON string; a dict passes through.
pub fn json(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(_) => Ok(arg.clone()),
        Value::String(s) => serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}")),
        other => Err(format!("json expects a string, got a {}", type_name(other))),
    }
}

pub fn len(arg: &Value) -> Result<Value, String> {
    let n = match arg {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(format!("len() of a {}", type_name(other))),
    };
    Ok(Value::from(n))
}

pub fn to_int(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(Value::from(i)),
            None => Ok(Value::from(n.as_f64().unwrap_or(0.0).trunc() as i64)),
        },
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("cannot convert \"{s}\" to an integer")),
        Value::Null => Ok(Value::from(0)),
        other => Err(format!(
            "cannot convert a {} to an integer",
            type_name(other)
        )),
    }
}

pub fn to_float(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Number(n) => float_value(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => float_value(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("cannot convert \"{s}\" to a float"))
            .and_then(float_value),
        Value::Null => float_value(0.0),
        other => Err(format!("cannot convert a {} to a float", type_name(other))),
    }
}

pub fn keys(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(o) => Ok(Value::Array(o.keys().cloned().map(Value::String).collect())),
        other => Err(format!("keys() of a {}", type_name(other))),
    }
}

pub fn values(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(o) => Ok(Value::Array(o.values().cloned().collect())),
        other => Err(format!("values() of a {}", type_name(other))),
    }
}

/// `join(list, sep)`; also accepts `join(sep, list)` (YAQL's `sep.join(list)`).
pub fn join(a: &Value, b: &Value) -> Result<Value, String> {
    let (list, sep) = match (a, b) {
        (Value::Array(l), Value::String(s)) | (Value::String(s), Value::Array(l)) => (l, s),
        _ => {
            return Err(format!(
                "join expects a list and a separator, got a {} and a {}",
                type_name(a),
                type_name(b)
            ))
        }
    };
    let parts: Vec<String> = list.iter().map(display).collect();
    Ok(Value::String(parts.join(sep)))
}

/// `dict(...)` from a list of `[key, value]` pairs or a dict.
pub fn dict_from(arg: &Value) -> Result<Value, String> {
    match arg {
        Value::Object(_) => Ok(arg.clone()),
        Value::Array(pairs) => {
            let mut map = Map::new();
            for pair in pairs {
                match pair {
                    Value::Array(kv) if kv.len() == 2 => {
                        map.insert(display(&kv[0]), kv[1].clone());
                    }
                    other => {
                        return Err(format!(
                            "dict() expects [key, value] pairs, got a {}",
                            type_name(other)
                        ))
                    }
                }
            }
            Ok(Value::Object(map))
        }
        other => Err(format!("cannot make a dict from a {}", type_name(other))),
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within a small edit distance.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_python() {
        assert!(!truthy(&json!(0)));
        assert!(!truthy(&json!("")));
        assert!(!truthy(&json!([])));
        assert!(truthy(&json!({"a": 1})));
        assert!(truthy(&json!(0.5)));
    }

    #[test]
    fn zip_pads_with_null() {
        let z = zip(&[json!([1, 2]), json!(["a"])], Value::Null).unwrap();
        assert_eq!(z, json!([[1, "a"], [2, null]]));
    }

    #[test]
    fn closest_finds_typos() {
        assert_eq!(closest("restat", ["restart", "deploy"]), Some("restart"));
        assert_eq!(closest("xyz", ["restart"]), None);
    }
}
