//! Query parameters as StackStorm's API takes them (repeated or
//! comma-separated lists), and its `include_attributes` /
//! `exclude_attributes`: which fields of a resource a response carries.
//! Names are top-level fields or dotted paths (`action.ref`); `id` is always
//! included, as StackStorm's queries do.

use serde_json::{Map, Value};

use super::{bad, ApiError};

/// The decoded query string.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(query.map(super::url_pairs).unwrap_or_default())
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A whole number, or an error naming the parameter.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(format!("{name}={v}: expected a whole number")))
            })
            .transpose()
    }

    /// StackStorm's booleans (`true`/`false`, `1`/`0`, `yes`/`no`, any case).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") | Some("0") | Some("no") => Ok(false),
            Some("true") | Some("1") | Some("yes") => Ok(true),
            Some(other) => Err(bad(format!("{name}={other}: use true or false"))),
        }
    }

    /// `include_attributes` and `exclude_attributes`.
    pub fn fields(&self) -> Fields {
        Fields::new(
            &self.all("include_attributes"),
            &self.all("exclude_attributes"),
        )
    }
}

/// The attributes asked for, from the query.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    include: Option<Vec<String>>,
    exclude: Vec<String>,
}

fn split(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

impl Fields {
    /// From every `include_attributes` and `exclude_attributes` value
    /// (comma-separated lists, repeated or not).
    pub fn new(include: &[String], exclude: &[String]) -> Fields {
        let include = split(include);
        Fields {
            include: (!include.is_empty()).then_some(include),
            exclude: split(exclude),
        }
    }

    /// True when the top-level field `name` is asked for explicitly.
    pub fn names(&self, name: &str) -> bool {
        self.include.as_ref().is_some_and(|inc| {
            inc.iter()
                .any(|p| p == name || p.starts_with(&format!("{name}.")))
        })
    }

    /// The resource with only the asked attributes.
    pub fn apply(&self, value: Value) -> Value {
        let Value::Object(obj) = value else {
            return value;
        };
        let mut out = match &self.include {
            Some(paths) => {
                let mut out = Map::new();
                if let Some(id) = obj.get("id") {
                    out.insert("id".into(), id.clone());
                }
                for path in paths {
                    copy_path(&obj, &mut out, path);
                }
                out
            }
            None => obj,
        };
        for path in &self.exclude {
            remove_path(&mut out, path);
        }
        Value::Object(out)
    }
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str) {
    let mut src = from;
    let mut dst = to;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(value) = src.get(part) else {
            return;
        };
        if parts.peek().is_none() {
            dst.insert(part.to_string(), value.clone());
            return;
        }
        let Value::Object(next) = value else {
            return;
        };
        src = next;
        let slot = dst
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(slot) = slot else {
            return;
        };
        dst = slot;
    }
}

fn remove_path(obj: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            obj.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = obj.get_mut(head) {
                remove_path(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_keeps_the_id_and_dotted_paths() {
        let doc = json!({"id": "1", "action": {"ref": "a.b", "name": "b"}, "status": "ok", "result": {"x": 1}});
        let f = Fields::new(&["action.ref,status".into()], &[]);
        assert_eq!(
            f.apply(doc.clone()),
            json!({"id": "1", "action": {"ref": "a.b"}, "status": "ok"})
        );
        assert!(!f.names("result"));
        let f = Fields::new(&[], &["result".into(), "action.name".into()]);
        assert_eq!(
            f.apply(doc),
            json!({"id": "1", "action": {"ref": "a.b"}, "status": "ok"})
        );
        assert!(Fields::new(&["result".into()], &[]).names("result"));
    }
}
