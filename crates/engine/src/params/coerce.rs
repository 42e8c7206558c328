//! Turning text into typed values, as StackStorm's CLI does for `name=value`
//! arguments and as its parameter rendering does for rendered templates.

use serde_json::{Map, Number, Value};

/// Converts `value` toward type `ty` when it is text (or an integral float
/// for an integer). Values already of another JSON type are returned as is:
/// the type check that follows reports them.
pub(crate) fn coerce(ty: &str, items_type: Option<&str>, value: Value) -> Result<Value, String> {
    match (ty, value) {
        ("string", v) => Ok(v),
        ("integer", Value::Number(n)) => Ok(Value::Number(normalize_integer(n))),
        (_, Value::String(s)) => from_text(ty, items_type, &s),
        (_, v) => Ok(v),
    }
}

fn normalize_integer(n: Number) -> Number {
    match n.as_f64() {
        Some(f) if !(n.is_i64() || n.is_u64()) && f.fract() == 0.0 && f.abs() < 9.0e15 => {
            Number::from(f as i64)
        }
        _ => n,
    }
}

/// Parses text as a value of type `ty`.
pub(crate) fn from_text(ty: &str, items_type: Option<&str>, s: &str) -> Result<Value, String> {
    let t = s.trim();
    match ty {
        "integer" => parse_integer(t).map(Value::from).ok_or_else(|| {
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                "a whole number beyond 64 bits (from -9223372036854775808 to 9223372036854775807)"
                    .to_string()
            } else {
                "not a whole number".to_string()
            }
        }),
        "number" => parse_number(t).ok_or_else(|| "not a number".to_string()),
        "boolean" => parse_bool(t)
            .map(Value::Bool)
            .ok_or_else(|| "use true or false (also yes/no, 1/0)".to_string()),
        "array" => parse_array(t, items_type),
        "object" => parse_object(t),
        "null" => match t {
            "" | "null" | "None" | "none" => Ok(Value::Null),
            _ => Err("only null is allowed".to_string()),
        },
        _ => Ok(Value::String(s.to_string())),
    }
}

fn parse_integer(t: &str) -> Option<i64> {
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let f = t.parse::<f64>().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn parse_number(t: &str) -> Option<Value> {
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f = t.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(f).map(Value::Number)
}

fn parse_bool(t: &str) -> Option<bool> {
    match t.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_array(t: &str, items_type: Option<&str>) -> Result<Value, String> {
    if t.starts_with('[') {
        return match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Array(_)) => Ok(v),
            Ok(_) | Err(_) => {
                Err("not a valid JSON array; write [\"a\", \"b\"] or a,b".to_string())
            }
        };
    }
    if t.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let mut items = Vec::new();
    // Reasons never quote the item: the whole value may be secret.
    for (i, part) in t.split(',').map(str::trim).enumerate() {
        let item = match items_type {
            Some(it) if it != "string" => from_text(it, None, part)
                .map_err(|reason| format!("item {} is not of type {it}: {reason}", i + 1))?,
            _ => Value::String(part.to_string()),
        };
        items.push(item);
    }
    Ok(Value::Array(items))
}

fn parse_object(t: &str) -> Result<Value, String> {
    if t.starts_with('{') {
        return match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) | Err(_) => Err(
                "not a valid JSON object; write {\"key\": \"value\"} or key=value,key2=value2"
                    .to_string(),
            ),
        };
    }
    if t.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let mut map = Map::new();
    for pair in t.split(',') {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(
                "not an object; write {\"key\": \"value\"} or key=value,key2=value2".to_string(),
            );
        };
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_to_types() {
        assert_eq!(from_text("integer", None, "5").unwrap(), json!(5));
        assert_eq!(from_text("integer", None, " -7 ").unwrap(), json!(-7));
        assert_eq!(from_text("integer", None, "5.0").unwrap(), json!(5));
        assert!(from_text("integer", None, "5.5").is_err());
        assert!(from_text("integer", None, "five").is_err());
        assert_eq!(from_text("number", None, "1.5").unwrap(), json!(1.5));
        assert_eq!(from_text("number", None, "2").unwrap(), json!(2));
        assert!(from_text("number", None, "NaN").is_err());
        for (t, b) in [
            ("true", true),
            ("False", false),
            ("yes", true),
            ("no", false),
            ("1", true),
            ("0", false),
        ] {
            assert_eq!(from_text("boolean", None, t).unwrap(), json!(b), "{t}");
        }
        assert!(from_text("boolean", None, "maybe").is_err());
        assert_eq!(
            from_text("array", None, "[1, \"a\"]").unwrap(),
            json!([1, "a"])
        );
        assert_eq!(
            from_text("array", None, "a, b,c").unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            from_text("array", Some("integer"), "1,2").unwrap(),
            json!([1, 2])
        );
        let e = from_text("array", Some("integer"), "1,x").unwrap_err();
        assert!(e.starts_with("item 2 is not of type integer"), "{e}");
        assert!(from_text("array", None, "[1,").is_err());
        assert_eq!(
            from_text("object", None, "{\"a\": 1}").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            from_text("object", None, "A=1, B=two").unwrap(),
            json!({"A": "1", "B": "two"})
        );
        assert!(from_text("object", None, "nope").is_err());
        assert!(from_text("object", None, "[1]").is_err());
    }

    #[test]
    fn non_text_values_pass_through() {
        assert_eq!(coerce("integer", None, json!(3.0)).unwrap(), json!(3));
        assert_eq!(coerce("integer", None, json!(true)).unwrap(), json!(true));
        assert_eq!(coerce("string", None, json!(5)).unwrap(), json!(5));
        assert_eq!(coerce("boolean", None, json!("yes")).unwrap(), json!(true));
    }
}
