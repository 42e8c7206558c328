//! Python's `json.dumps` as StackStorm's data filters call it
//! (`st2common/expressions/functions/data.py`): `ensure_ascii`, Python's
//! float text, `indent`, `separators`, `sort_keys`. Written with an
//! explicit stack, so nesting depth is not limited by the Rust stack.

use serde_json::Value;

use crate::pyrepr::float_repr;

/// Options of one `json.dumps` call.
pub struct DumpOptions<'a> {
    /// `indent`: `None` for one line, else the text put per level.
    pub indent: Option<String>,
    /// Between items (`", "` by default, `","` with an indent).
    pub item_sep: &'a str,
    /// Between a key and its value.
    pub key_sep: &'a str,
    /// `sort_keys`.
    pub sort_keys: bool,
}

impl Default for DumpOptions<'_> {
    fn default() -> Self {
        DumpOptions {
            indent: None,
            item_sep: ", ",
            key_sep: ": ",
            sort_keys: false,
        }
    }
}

/// JSON string literal with Python's `ensure_ascii=True` escapes.
pub fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn number(n: &serde_json::Number, out: &mut String) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        if f.is_nan() {
            out.push_str("NaN");
        } else if f.is_infinite() {
            out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            out.push_str(&float_repr(f));
        }
    } else {
        out.push_str(&n.to_string());
    }
}

enum Work<'v> {
    Value(&'v Value, usize),
    Text(String),
}

/// `json.dumps(value, **options)`.
pub fn dumps(value: &Value, opts: &DumpOptions<'_>) -> String {
    let mut out = String::new();
    let mut stack = vec![Work::Value(value, 0)];
    let newline = |level: usize| -> Option<String> {
        opts.indent
            .as_ref()
            .map(|ind| format!("\n{}", ind.repeat(level)))
    };
    while let Some(work) = stack.pop() {
        let (v, level) = match work {
            Work::Text(t) => {
                out.push_str(&t);
                continue;
            }
            Work::Value(v, level) => (v, level),
        };
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => number(n, &mut out),
            Value::String(s) => quote(s, &mut out),
            Value::Array(items) if items.is_empty() => out.push_str("[]"),
            Value::Object(map) if map.is_empty() => out.push_str("{}"),
            Value::Array(items) => {
                out.push('[');
                let inner = newline(level + 1);
                stack.push(Work::Text(format!(
                    "{}]",
                    newline(level).unwrap_or_default()
                )));
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push(Work::Value(item, level + 1));
                    let sep = if i > 0 { opts.item_sep } else { "" };
                    stack.push(Work::Text(format!(
                        "{sep}{}",
                        inner.clone().unwrap_or_default()
                    )));
                }
            }
            Value::Object(map) => {
                out.push('{');
                let inner = newline(level + 1);
                stack.push(Work::Text(format!(
                    "{}}}",
                    newline(level).unwrap_or_default()
                )));
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if opts.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                for (i, (k, item)) in entries.into_iter().enumerate().rev() {
                    stack.push(Work::Value(item, level + 1));
                    let mut key = String::new();
                    let sep = if i > 0 { opts.item_sep } else { "" };
                    key.push_str(sep);
                    key.push_str(&inner.clone().unwrap_or_default());
                    quote(k, &mut key);
                    key.push_str(opts.key_sep);
                    stack.push(Work::Text(key));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_like_python() {
        let v = json!({"b": [1, 2.5, "é"], "a": {}});
        assert_eq!(
            dumps(&v, &DumpOptions::default()),
            r#"{"b": [1, 2.5, "\u00e9"], "a": {}}"#
        );
        let opts = DumpOptions {
            indent: Some("  ".into()),
            item_sep: ",",
            key_sep: ": ",
            sort_keys: true,
        };
        assert_eq!(
            dumps(&v, &opts),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    \"\\u00e9\"\n  ]\n}"
        );
    }
}
