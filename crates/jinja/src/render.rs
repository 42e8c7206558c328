//! Rendering helpers over JSON values: one template, one expression, and
//! StackStorm's `render_values` (`st2common/util/jinja.py`).

use minijinja::Environment;
use serde_json::{Map, Value};

use crate::error::Error;

/// `{{` or `{%` appears in the text (StackStorm's `is_jinja_expression`).
pub fn is_jinja_expression(value: &str) -> bool {
    value.contains("{{") || value.contains("{%")
}

/// Renders `template` with the JSON `context` (an object; other values
/// give an empty context).
pub fn render_str(env: &Environment<'_>, template: &str, context: &Value) -> Result<String, Error> {
    let ctx = minijinja::Value::from_serialize(context);
    env.render_str(template, ctx).map_err(Error::from)
}

/// Evaluates one expression (the text between `{{ }}`) to a JSON value.
/// Python tuples become arrays; an undefined result is an error.
pub fn eval_expression(env: &Environment<'_>, expr: &str, context: &Value) -> Result<Value, Error> {
    let compiled = compile_expression(env, expr)?;
    let v = compiled.eval(minijinja::Value::from_serialize(context))?;
    if v.is_undefined() {
        return Err(Error::from(minijinja::Error::from(
            minijinja::ErrorKind::UndefinedError,
        )));
    }
    serde_json::to_value(&v).map_err(|e| {
        Error::from(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            e.to_string(),
        ))
    })
}

/// Template delimiters, which an expression cannot hold.
const DELIMITERS: [&str; 6] = ["{{", "}}", "{%", "%}", "{#", "#}"];

/// minijinja's `compile_expression`, made safe for any input: text with a
/// template delimiter is a syntax error (as Jinja2's `compile_expression`
/// says), which minijinja 2.24's lexer would otherwise meet with a panic
/// ("empty lexer stack", found by `tests/jinja/fuzz.rs` with `}} {{`).
pub fn compile_expression<'env, 'source>(
    env: &'env Environment<'source>,
    expr: &'source str,
) -> Result<minijinja::Expression<'env, 'source>, Error> {
    if let Some(d) = DELIMITERS.iter().find(|d| expr.contains(**d)) {
        return Err(Error::from(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            format!("unexpected '{d}' in an expression"),
        )));
    }
    Ok(env.compile_expression(expr)?)
}

/// StackStorm's `render_values(mapping, context)`: each value is rendered
/// against the context (plus `__context`, the whole context). Lists and
/// dicts are rendered as their compact JSON text and parsed back; other
/// values as Python's `str()`. A value whose text does not change keeps its
/// original type. A failure names the key.
pub fn render_values(
    env: &Environment<'_>,
    mapping: &Map<String, Value>,
    context: &Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    if mapping.is_empty() || context.is_empty() {
        return Ok(mapping.clone());
    }
    let mut super_context = Map::new();
    super_context.insert("__context".into(), Value::Object(context.clone()));
    for (k, v) in context {
        super_context.insert(k.clone(), v.clone());
    }
    let ctx = Value::Object(super_context);
    let mut out = Map::new();
    for (k, v) in mapping {
        let (text, reverse) = match v {
            Value::Array(_) | Value::Object(_) => {
                (serde_json::to_string(v).unwrap_or_default(), true)
            }
            other => (crate::functions::value_str(other), false),
        };
        let rendered = render_str(env, &text, &ctx).map_err(|e| Error::Key {
            key: k.clone(),
            error: Box::new(e),
        })?;
        if rendered == text {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let value = if reverse {
            serde_json::from_str(&rendered).map_err(|e| Error::Key {
                key: k.clone(),
                error: Box::new(Error::from(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("the rendered list or dict is not valid JSON: {e}"),
                ))),
            })?
        } else {
            Value::String(rendered)
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}
