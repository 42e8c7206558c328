//! `pack.yaml`: the pack's identity and description.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The contents of `pack.yaml`. Only `ref` or `name` is needed; the rest is
/// descriptive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackMeta {
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub description: Option<String>,
    /// Kept as text even when YAML reads it as a number (`version: 1.0`).
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub version: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub author: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_string_vec")]
    pub keywords: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string_vec")]
    pub dependencies: Vec<String>,
    #[serde(default, deserialize_with = "lenient_opt_string")]
    pub stackstorm_version: Option<String>,
    #[serde(default, deserialize_with = "lenient_string_vec")]
    pub python_versions: Vec<String>,
    #[serde(default, deserialize_with = "lenient_string_vec")]
    pub contributors: Vec<String>,
    /// Any other keys, as written.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn scalar_to_string(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

fn lenient_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_to_string(Value::deserialize(d)?))
}

fn lenient_string_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.into_iter().filter_map(scalar_to_string).collect(),
        Value::Null => Vec::new(),
        other => scalar_to_string(other).into_iter().collect(),
    })
}

/// StackStorm's rule for pack refs: lowercase letters, digits and underscores.
pub fn is_valid_pack_ref(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A valid ref close to `s`, to suggest in messages.
pub fn suggest_pack_ref(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("my_pack");
    }
    out
}

impl PackMeta {
    /// The pack's identity: `ref` when present, else `name`. The message of
    /// the error says what to change in `pack.yaml`.
    pub fn pack_ref(&self) -> Result<String, String> {
        if let Some(r) = self.ref_.as_deref() {
            return if is_valid_pack_ref(r) {
                Ok(r.to_string())
            } else {
                Err(format!(
                    "`ref: {r}` is not a valid pack ref: use only lowercase letters, digits and underscores, e.g. `ref: {}`",
                    suggest_pack_ref(r)
                ))
            };
        }
        match self.name.as_deref() {
            Some(n) if is_valid_pack_ref(n) => Ok(n.to_string()),
            Some(n) => Err(format!(
                "the pack has no `ref` and its name '{n}' cannot serve as one (only lowercase letters, digits and underscores): add `ref: {}`",
                suggest_pack_ref(n)
            )),
            None => Err(
                "neither `ref` nor `name` is set: add `ref: <pack>` (lowercase letters, digits, underscores) and `name`"
                    .to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(yaml: &str) -> PackMeta {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn ref_wins_over_name() {
        let m = meta("ref: my_pack\nname: My Pack\nversion: 1.0\nkeywords: [a, 2]\n");
        assert_eq!(m.pack_ref().unwrap(), "my_pack");
        assert_eq!(m.version.as_deref(), Some("1.0"));
        assert_eq!(m.keywords, vec!["a", "2"]);
    }

    #[test]
    fn name_is_the_ref_when_valid() {
        assert_eq!(meta("name: tools_2\n").pack_ref().unwrap(), "tools_2");
    }

    #[test]
    fn invalid_refs_say_what_to_write() {
        let e = meta("ref: My-Pack\n").pack_ref().unwrap_err();
        assert!(e.contains("ref: my_pack"), "{e}");
        let e = meta("name: My Pack\n").pack_ref().unwrap_err();
        assert!(e.contains("add `ref: my_pack`"), "{e}");
        let e = meta("description: x\n").pack_ref().unwrap_err();
        assert!(e.contains("neither `ref` nor `name`"), "{e}");
    }

    #[test]
    fn ref_rule() {
        assert!(is_valid_pack_ref("a_1"));
        assert!(!is_valid_pack_ref("A"));
        assert!(!is_valid_pack_ref("a.b"));
        assert!(!is_valid_pack_ref("a-b"));
        assert!(!is_valid_pack_ref(""));
    }
}
