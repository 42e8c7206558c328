//! Between YAQL values and JSON: what yaql's output conversion (`#finalize`:
//! tuples and generators to lists, frozen dicts to dicts) followed by JSON
//! gives, and owned JSON (from `item()`, `st2kv()`) into values.

use indexmap::IndexMap;
use serde_json::{Map, Number, Value as Json};

use super::error::{Error, R};
use super::format::{float_repr, py_str};
use super::interp::collect;
use super::value::V;

/// The JSON form of a result. Sets become lists; dict keys that are not
/// strings become strings as Python's `json` writes them (`1`, `1.5`,
/// `true`, `null`); datetimes and timespans become their `str()`.
pub fn to_json(v: &V<'_>) -> R<Json> {
    Ok(match v {
        V::Null => Json::Null,
        V::Bool(b) => Json::Bool(*b),
        V::Int(i) => Json::from(*i),
        V::Float(f) => Json::Number(Number::from_f64(*f).ok_or_else(|| {
            Error::new(
                "ValueError",
                format!("{} cannot be represented in JSON", float_repr(*f)),
            )
        })?),
        V::Str(s) => Json::String(s.to_string()),
        V::JArr(a) => Json::Array((*a).clone()),
        V::JMap(m) => Json::Object((*m).clone()),
        V::Tuple(items) | V::List(items) | V::Values(items, _) => {
            Json::Array(items.iter().map(to_json).collect::<R<_>>()?)
        }
        V::Set(s, _) => {
            let items = s.iter().map(to_json).collect::<R<Vec<_>>>()?;
            // yaql hands sets out as Python sets of converted items, and
            // lists and dicts cannot be in a set.
            if let Some(bad) = items.iter().find(|i| i.is_array() || i.is_object()) {
                let what = if bad.is_array() { "list" } else { "dict" };
                return Err(Error::new(
                    "TypeError",
                    format!("unhashable type: '{what}'"),
                ));
            }
            Json::Array(items)
        }
        V::Iter(_) | V::Ordered(_) => {
            Json::Array(collect(v)?.iter().map(to_json).collect::<R<_>>()?)
        }
        V::Dict(d) => {
            let mut m = Map::new();
            for (k, val) in d.iter() {
                m.insert(json_key(k)?, to_json(val)?);
            }
            Json::Object(m)
        }
        V::DateTime(_) | V::TimeSpan(_) => Json::String(py_str(v, true)?),
        V::Regex(_) | V::Context(_) | V::Rule(_) => {
            return Err(Error::new(
                "TypeError",
                format!("Object of type {} is not JSON serializable", v.type_name()),
            ))
        }
    })
}

fn json_key(k: &V<'_>) -> R<String> {
    Ok(match k {
        V::Str(s) => s.to_string(),
        V::Int(i) => i.to_string(),
        V::Float(f) => float_repr(*f),
        V::Bool(true) => "true".into(),
        V::Bool(false) => "false".into(),
        V::Null => "null".into(),
        other => {
            return Err(Error::new(
                "TypeError",
                format!(
                    "keys must be str, int, float, bool or None, not {}",
                    other.type_name()
                ),
            ))
        }
    })
}

/// An owned JSON value as a YAQL value (tuples and dicts, as yaql's
/// `convert_input_data` makes them).
pub fn from_owned<'a>(j: Json) -> R<V<'a>> {
    Ok(match j {
        Json::Null => V::Null,
        Json::Bool(b) => V::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => V::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => V::string(s),
        Json::Array(items) => V::tuple(items.into_iter().map(from_owned).collect::<R<_>>()?)?,
        Json::Object(m) => {
            let mut out = IndexMap::with_capacity(m.len());
            for (k, v) in m {
                out.insert(V::string(k), from_owned(v)?);
            }
            V::dict(out)?
        }
    })
}
