//! Results nested deeper than a report can carry.
//!
//! Reports travel as JSON and serde_json (the engine's parser) refuses
//! documents nested more than 128 levels. An action can print JSON nested
//! that deep, and its result then sits two or three levels further down in
//! the report, so it would be refused and the result lost. Every subtree
//! below [`MAX_RESULT_DEPTH`] is therefore kept as its JSON text instead: the
//! result is stored whole, and nothing is parsed or walked recursively
//! beyond what the parser itself allowed.

use serde_json::Value;

/// Levels of nesting a result keeps as JSON values; deeper parts become text.
pub const MAX_RESULT_DEPTH: usize = 100;

/// Replaces every array or object found at `max` levels down with its JSON
/// text. Walks with an explicit stack, so depth never reaches the call stack.
pub fn cap_depth(value: &mut Value, max: usize) {
    let mut stack: Vec<(&mut Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(_) | Value::Object(_) if depth >= max => {
                let text = serde_json::to_string(v).unwrap_or_default();
                *v = Value::String(text);
            }
            Value::Array(items) => stack.extend(items.iter_mut().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values_mut().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn deep_parts_become_text_and_shallow_results_stay() {
        let mut shallow: Value = serde_json::from_str(&nested(3)).unwrap();
        let before = shallow.clone();
        cap_depth(&mut shallow, 10);
        assert_eq!(shallow, before);

        let mut deep: Value = serde_json::from_str(&nested(126)).unwrap();
        cap_depth(&mut deep, MAX_RESULT_DEPTH);
        let mut v = &deep;
        for _ in 0..MAX_RESULT_DEPTH {
            v = &v[0];
        }
        assert_eq!(v, &Value::String(nested(26)));
        // The whole report now parses again with serde_json's limit.
        let report = serde_json::json!({"status": "succeeded", "result": {"stdout": deep}});
        let text = serde_json::to_string(&report).unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }
}
