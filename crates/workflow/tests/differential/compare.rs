//! Comparing outcomes: values exactly, error lists with the part of an
//! expression error that depends on the expression engine's wording left
//! out.

use serde_json::Value;

pub fn diff_value(what: &str, ours: &Value, theirs: &Value) -> Option<String> {
    (ours != theirs).then(|| format!("{what}:\n  ours:     {ours}\n  orquesta: {theirs}"))
}

/// `Class: Unable to evaluate expression '<expr>'. <engine's words>` keeps
/// the class and the expression; other messages stay whole.
pub fn normalize_message(message: &str) -> String {
    const MARK: &str = "Unable to evaluate expression '";
    let Some(start) = message.find(MARK) else {
        return message.to_string();
    };
    let body = start + MARK.len();
    // The quoted expression ends with its closing delimiter.
    let end = ["%>'. ", "}}'. ", "%}'. "]
        .iter()
        .filter_map(|close| message[body..].find(close).map(|i| body + i + 2))
        .min();
    match end {
        Some(end) => format!("{}'.", &message[..end]),
        None => message.to_string(),
    }
}

fn normalize(errors: &Value) -> Value {
    let mut errors = errors.clone();
    if let Some(list) = errors.as_array_mut() {
        for e in list {
            if let Some(m) = e.get_mut("message") {
                if let Some(s) = m.as_str() {
                    *m = Value::String(normalize_message(s));
                }
            }
        }
    }
    errors
}

pub fn diff_errors(what: &str, ours: &Value, theirs: &Value) -> Option<String> {
    let (o, t) = (normalize(ours), normalize(theirs));
    (o != t).then(|| format!("{what}:\n  ours:     {o}\n  orquesta: {t}"))
}

#[test]
fn messages_keep_class_and_expression() {
    assert_eq!(
        normalize_message("YaqlEvaluationException: Unable to evaluate expression '<% ctx(x) %>'. VariableUndefinedError: The variable \"x\" is undefined."),
        "YaqlEvaluationException: Unable to evaluate expression '<% ctx(x) %>'."
    );
}
