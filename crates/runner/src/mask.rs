//! Keeps secret parameter values out of output, results and errors. Used by
//! the runner process (before anything leaves it) and by the engine.

use serde_json::Value;

pub const MASK: &str = "********";

/// The values to hide. Very short values are skipped: masking every "a" or "1"
/// in the output would destroy it and protect nothing.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut v: Vec<String> = values.into_iter().filter(|s| s.len() >= 3).collect();
        // Longest first, so a secret containing another is masked whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Secrets(v)
    }

    /// The values, longest first.
    pub fn values(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn mask_str(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// Masks every string in `v` (keys are names, not values, and stay), and
    /// every number whose text holds a secret (output that is JSON, such as
    /// a secret PIN printed alone, is parsed into a number): it becomes the
    /// masked text. Booleans stay: a secret spelt `true` is no secret.
    /// Walks with an explicit stack: depth never reaches the call stack.
    pub fn mask_value(&self, v: &mut Value) {
        if self.0.is_empty() {
            return;
        }
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) if self.0.iter().any(|sec| s.contains(sec.as_str())) => {
                    *s = self.mask_str(s);
                }
                Value::Number(n) => {
                    let text = n.to_string();
                    if self.0.iter().any(|sec| text.contains(sec.as_str())) {
                        *v = Value::String(self.mask_str(&text));
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => stack.extend(map.values_mut()),
                _ => {}
            }
        }
    }

    /// The longest secret, in bytes (0 when there is none).
    pub fn longest(&self) -> usize {
        self.0.first().map_or(0, String::len)
    }
}

/// The string forms under which a secret value, or any part of it, could show
/// up: the value as text (JSON for arrays and objects, as StackStorm renders
/// them into templates) and every string, number and boolean inside it.
pub fn secret_strings(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Value::Null => return out,
        // Text that is a JSON object or array (a credentials document kept
        // as one secret) shows up parsed, member by member, when output that
        // prints it is read as JSON.
        Value::String(s) => {
            return match serde_json::from_str::<Value>(s) {
                Ok(inner @ (Value::Array(_) | Value::Object(_))) => {
                    let mut all = vec![s.clone()];
                    all.extend(secret_strings(&inner));
                    all
                }
                _ => vec![s.clone()],
            };
        }
        Value::Array(_) | Value::Object(_) => {
            out.push(v.to_string());
            out.push(crate::pyfmt::py_str(v));
        }
        other => return vec![other.to_string()],
    }
    let mut stack: Vec<(&Value, bool)> = vec![(v, true)];
    while let Some((v, root)) = stack.pop() {
        match v {
            Value::Null => {}
            Value::String(s) => out.push(s.clone()),
            Value::Array(_) | Value::Object(_) => {
                if !root {
                    out.push(v.to_string());
                    out.push(crate::pyfmt::py_str(v));
                }
                match v {
                    Value::Array(items) => stack.extend(items.iter().map(|i| (i, false))),
                    Value::Object(map) => stack.extend(map.values().map(|i| (i, false))),
                    _ => {}
                }
            }
            other => out.push(other.to_string()),
        }
    }
    out
}

/// Masks secrets in a stream that arrives in pieces: a secret split across two
/// chunks (or printed one character at a time) is still masked. The end of a
/// chunk that could be the start of a secret is held back until the next chunk
/// says whether it is; everything else goes out at once, so live output is not
/// delayed unless it looks like the beginning of a secret.
#[derive(Debug, Default)]
pub struct StreamMasker {
    held: String,
}

impl StreamMasker {
    /// The masked text that can go out now.
    pub fn push(&mut self, secrets: &Secrets, data: &str) -> String {
        if secrets.is_empty() {
            return data.to_string();
        }
        self.held.push_str(data);
        let masked = secrets.mask_str(&self.held);
        let keep = partial_suffix(secrets, &masked);
        let split = masked.len() - keep;
        self.held = masked[split..].to_string();
        masked[..split].to_string()
    }

    /// Whatever is still held back, at the end of the stream.
    pub fn finish(&mut self, secrets: &Secrets) -> String {
        secrets.mask_str(&std::mem::take(&mut self.held))
    }
}

/// The length of the longest suffix of `s` that is a proper prefix of a
/// secret (and may become one when more text arrives).
fn partial_suffix(secrets: &Secrets, s: &str) -> usize {
    let max = secrets.longest().saturating_sub(1).min(s.len());
    (1..=max)
        .rev()
        .filter(|n| s.is_char_boundary(s.len() - n))
        .find(|n| {
            let tail = &s[s.len() - n..];
            secrets.values().iter().any(|sec| sec.starts_with(tail))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_split_across_chunks_is_masked() {
        let secrets = Secrets::new(["hunter2".to_string()]);
        let mut m = StreamMasker::default();
        let mut out = String::new();
        for c in "pw: hunter2 and hunt, then h-u".chars() {
            out.push_str(&m.push(&secrets, &c.to_string()));
        }
        out.push_str(&m.finish(&secrets));
        assert_eq!(out, "pw: ******** and hunt, then h-u");
        // Text that cannot start a secret is not held back.
        let mut m = StreamMasker::default();
        assert_eq!(m.push(&secrets, "plain text\n"), "plain text\n");
        assert_eq!(m.push(&secrets, "ends with hun"), "ends with ");
        assert_eq!(m.push(&secrets, "ter2!"), "********!");
    }

    #[test]
    fn every_part_of_a_structured_secret_is_a_secret() {
        let v =
            json!({"user": "ops", "password": "s3cr3t", "port": 2222, "keys": ["k-one", "k-two"]});
        let parts = secret_strings(&v);
        for p in ["ops", "s3cr3t", "2222", "k-one", "k-two"] {
            assert!(parts.iter().any(|s| s == p), "{p} in {parts:?}");
        }
        let secrets = Secrets::new(parts);
        let mut out = json!({"stdout": "login s3cr3t with k-two", "list": ["k-one"]});
        secrets.mask_value(&mut out);
        assert_eq!(
            out,
            json!({"stdout": "login ******** with ********", "list": ["********"]})
        );
    }

    #[test]
    fn output_read_as_json_is_masked_in_every_form() {
        // A PIN printed alone is read as a number; a JSON credentials
        // document kept as one text secret is read as an object.
        let secrets = Secrets::new(
            ["918273645", r#"{"u": "adminuser", "p": "hunter2xyz"}"#]
                .iter()
                .flat_map(|s| secret_strings(&json!(s))),
        );
        let mut out = json!({
            "pin": 918273645,
            "pin_in_list": [1, 918273645],
            "return_code": 0,
            "creds": {"u": "adminuser", "p": "hunter2xyz"},
            "succeeded": true,
        });
        secrets.mask_value(&mut out);
        assert_eq!(
            out,
            json!({
                "pin": "********",
                "pin_in_list": [1, "********"],
                "return_code": 0,
                "creds": {"u": "********", "p": "********"},
                "succeeded": true,
            })
        );
    }
}

#[cfg(test)]
mod short_secrets {
    use super::*;

    /// README: values shorter than 3 characters are not masked.
    #[test]
    fn secrets_shorter_than_three_characters_are_not_masked() {
        let s = Secrets::new(["ab".to_string(), "x".to_string(), "abc".to_string()]);
        assert_eq!(s.values(), ["abc"]);
        assert_eq!(s.mask_str("ab x abc"), "ab x ********");
    }
}
