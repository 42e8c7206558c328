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

    pub fn mask_value(&self, v: &mut Value) {
        if self.0.is_empty() {
            return;
        }
        match v {
            Value::String(s) if self.0.iter().any(|sec| s.contains(sec.as_str())) => {
                *s = self.mask_str(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.mask_value(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.mask_value(i)),
            _ => {}
        }
    }
}

/// The string forms under which a secret value could show up.
pub fn secret_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}
