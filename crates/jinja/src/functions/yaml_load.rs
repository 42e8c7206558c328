//! `from_yaml_string`: PyYAML's `yaml.load(text, Loader=CSafeLoader)` as
//! StackStorm calls it (`st2common/expressions/functions/data.py`).
//!
//! yaml-rust2 parses the text into events; plain scalars are typed by
//! PyYAML's YAML 1.1 resolver (`yes` is `True`, `010` is 8, `1e5` is a
//! string), `<<` merges mappings, one document at most. Construction keeps
//! its nesting on an explicit stack, and aliases are limited so a small
//! text cannot expand into a huge value.

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::yaml_resolve::{construct_float, construct_int, resolve_plain, Implicit};
use crate::pyrepr::float_repr;

/// Most values an input may expand to through aliases.
const MAX_NODES: usize = 1_000_000;

enum Key {
    Merge,
    Text(String),
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map {
        entries: Map<String, Value>,
        merges: Vec<Value>,
        key: Option<Key>,
        anchor: usize,
    },
}

fn number_from_f64(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn scalar(value: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<(Value, bool), String> {
    let kind = match tag {
        Some(t) if t.handle == "!!" || t.handle == "tag:yaml.org,2002:" => {
            match t.suffix.as_str() {
                "str" => Implicit::Str,
                "int" => Implicit::Int,
                "float" => Implicit::Float,
                "bool" => Implicit::Bool,
                "null" => Implicit::Null,
                "timestamp" => Implicit::Timestamp,
                other => {
                    return Err(format!(
                        "could not determine a constructor for the tag 'tag:yaml.org,2002:{other}'"
                    ))
                }
            }
        }
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Implicit::Str,
        Some(t) => {
            return Err(format!(
                "could not determine a constructor for the tag '{}{}'",
                t.handle, t.suffix
            ))
        }
        None if style == TScalarStyle::Plain => resolve_plain(&value),
        None => Implicit::Str,
    };
    let bad = |what: &str| format!("invalid {what} value in YAML");
    let v = match kind {
        Implicit::Null => Value::Null,
        Implicit::Bool => match value.to_lowercase().as_str() {
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => return Err(bad("bool")),
        },
        Implicit::Int => {
            let n = construct_int(&value).ok_or_else(|| bad("int"))?;
            match i64::try_from(n) {
                Ok(i) => Value::Number(i.into()),
                Err(_) => match u64::try_from(n) {
                    Ok(u) => Value::Number(u.into()),
                    Err(_) => number_from_f64(n as f64),
                },
            }
        }
        Implicit::Float => number_from_f64(construct_float(&value).ok_or_else(|| bad("float"))?),
        Implicit::Merge => return Ok((Value::String(value), true)),
        // Dates stay text (see the crate README).
        Implicit::Timestamp | Implicit::Value | Implicit::Str => Value::String(value),
    };
    Ok((v, false))
}

/// A mapping key as `json.dumps` would write a non-string key.
fn key_text(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => float_repr(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        _ => return Err("found unhashable key (a list or mapping used as a mapping key)".into()),
    })
}

fn count_nodes(v: &Value) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    n
}

/// Parses one YAML document (`None`/null for an empty text).
pub fn load(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<Option<Value>> = Vec::new();
    let mut documents = 0;
    let mut result = Value::Null;
    let mut nodes = 0usize;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("invalid YAML: {e}"))?;
        let done: Option<(Value, usize, bool)> = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(format!(
                        "expected a single document in the stream, but found another document (line {})",
                        mark.line()
                    ));
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::Alias(id) => {
                let v = anchors
                    .get(id)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| format!("found undefined alias (line {})", mark.line()))?;
                nodes += count_nodes(&v);
                Some((v, 0, false))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let (v, merge) = scalar(value, style, tag.as_ref())?;
                nodes += 1;
                Some((v, anchor, merge))
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq")?;
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map")?;
                stack.push(Frame::Map {
                    entries: Map::new(),
                    merges: Vec::new(),
                    key: None,
                    anchor,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    nodes += 1;
                    Some((Value::Array(items), anchor, false))
                }
                _ => return Err("unbalanced YAML sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    merges,
                    anchor,
                    ..
                }) => {
                    nodes += 1;
                    Some((merged(entries, merges)?, anchor, false))
                }
                _ => return Err("unbalanced YAML mapping".into()),
            },
        };
        if nodes > MAX_NODES {
            return Err(format!(
                "the YAML expands to more than {MAX_NODES} values (through aliases); refusing it"
            ));
        }
        let Some((v, anchor, is_merge_key)) = done else {
            continue;
        };
        if anchor > 0 {
            if anchors.len() <= anchor {
                anchors.resize(anchor + 1, None);
            }
            anchors[anchor] = Some(v.clone());
        }
        match stack.last_mut() {
            None => result = v,
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                None => {
                    *key = Some(if is_merge_key {
                        Key::Merge
                    } else {
                        Key::Text(key_text(&v)?)
                    });
                }
                Some(Key::Merge) => merges.push(v),
                Some(Key::Text(k)) => {
                    entries.insert(k, v);
                }
            },
        }
    }
    Ok(result)
}

fn check_collection_tag(tag: Option<&Tag>, kind: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(t) if (t.handle == "!!" || t.handle == "tag:yaml.org,2002:") && t.suffix == kind => {
            Ok(())
        }
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Ok(()),
        Some(t) => Err(format!(
            "could not determine a constructor for the tag '{}{}'",
            t.handle, t.suffix
        )),
    }
}

/// Applies `<<` merges as PyYAML's `flatten_mapping`: merged keys come
/// first, the mapping's own keys win, and of several merged mappings the
/// earlier ones win.
fn merged(entries: Map<String, Value>, merges: Vec<Value>) -> Result<Value, String> {
    if merges.is_empty() {
        return Ok(Value::Object(entries));
    }
    let mut sources: Vec<Map<String, Value>> = Vec::new();
    for m in merges {
        match m {
            Value::Object(map) => sources.push(map),
            Value::Array(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item {
                        Value::Object(map) => maps.push(map),
                        _ => {
                            return Err(
                                "expected a mapping for merging, but found another value".into()
                            )
                        }
                    }
                }
                maps.reverse();
                sources.extend(maps);
            }
            _ => return Err("expected a mapping or list of mappings for merging".into()),
        }
    }
    let mut out = Map::new();
    for src in sources {
        for (k, v) in src {
            out.insert(k, v);
        }
    }
    for (k, v) in entries {
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loads_yaml_11() {
        let v = load("a: yes\nb: 010\nc: 1e5\nd: ~\ne: [1, 'x']\n").unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": 8, "c": "1e5", "d": null, "e": [1, "x"]})
        );
        assert_eq!(load("").unwrap(), Value::Null);
        assert!(load("a\n---\nb\n").is_err());
        let m = load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(m["d"], json!({"x": 1, "y": 3}));
    }
}
