//! Checking an Inquiry's response against its JSON schema as StackStorm
//! does (`validate_response` in `st2common/services/inquiry.py`, which calls
//! `st2common/util/schema.validate` with StackStorm's `CustomValidator`,
//! `use_default=True` and `allow_default_none=True`).
//!
//! StackStorm's validator is Draft 4 except for `properties`, which it takes
//! from Draft 3: a property whose schema says `required: true` (any truthy
//! `required`) must be there, and an object-level `required` list is not
//! checked at all. Before checking, StackStorm lets optional properties and
//! properties whose default is null be null too, and fills in defaults for
//! missing (or null) properties, also in nested objects and in the objects
//! of arrays. Here the schema is rewritten into plain Draft 4 with those
//! meanings and handed to the `jsonschema` crate.

use serde_json::{Map, Value};

/// Deepest schema nesting accepted (the rewriting walks it with a stack).
const MAX_DEPTH: usize = 100;

/// Why a response is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The schema itself is not usable.
    #[error("the inquiry's schema is invalid: {0}")]
    Schema(String),
    /// The response does not match the schema; the message says where.
    #[error("{0}")]
    Response(String),
}

/// Checks `response` against `schema` with StackStorm's rules. The
/// response itself is not changed (StackStorm stores it as given).
pub fn validate_response(schema: &Value, response: &Value) -> Result<(), SchemaError> {
    if !schema.is_object() {
        return Err(SchemaError::Schema(format!(
            "it must be an object, not {schema}"
        )));
    }
    let mut schema = schema.clone();
    allow_default_none(&mut schema, 0)?;
    let mut instance = response.clone();
    if schema.get("type").and_then(Value::as_str) == Some("object") && instance.is_object() {
        assign_defaults(&mut instance, &schema, 0)?;
    }
    let draft4 = to_draft4(schema)?;
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&draft4)
        .map_err(|e| SchemaError::Schema(e.to_string()))?;
    let messages: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{e} (at {at})")
            }
        })
        .collect();
    if messages.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Response(messages.join("; ")))
    }
}

fn too_deep() -> SchemaError {
    SchemaError::Schema(format!(
        "it nests deeper than {MAX_DEPTH} levels; flatten it"
    ))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

fn is_type(property: &Value, name: &str) -> bool {
    match property.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

fn nullable(types: &[Value]) -> bool {
    types
        .iter()
        .any(|t| t == "null" || t.get("type").and_then(Value::as_str).unwrap_or("string") == "null")
}

/// StackStorm's `modify_schema_allow_default_none`: a property that is
/// optional or defaults to null also accepts null (a property without a
/// type counts as a string). Nested object properties and the properties of
/// array items get the same treatment; nesting is bounded by the schema's
/// own depth, capped at [`MAX_DEPTH`].
fn allow_default_none(schema: &mut Value, depth: usize) -> Result<(), SchemaError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return Ok(());
    };
    for property in properties.values_mut() {
        let Value::Object(p) = property else {
            continue;
        };
        let optional = !truthy(p.get("required"));
        let default_null = p.get("default").is_none_or(Value::is_null);
        if (p.contains_key("default") || optional) && default_null {
            if let Some(Value::Array(any)) = p.get_mut("anyOf") {
                if !nullable(any) {
                    any.push(serde_json::json!({"type": "null"}));
                }
            } else if let Some(Value::Array(one)) = p.get_mut("oneOf") {
                if !nullable(one) {
                    one.push(serde_json::json!({"type": "null"}));
                }
            } else if let Some(Value::Array(types)) = p.get_mut("type") {
                if !types.iter().any(|t| t == "null") {
                    types.push(Value::String("null".into()));
                }
            } else {
                let single = p
                    .get("type")
                    .cloned()
                    .unwrap_or(Value::String("string".into()));
                if single != "null" {
                    p.insert(
                        "type".into(),
                        Value::Array(vec![single, Value::String("null".into())]),
                    );
                }
            }
        }
        if is_type(property, "array")
            && property
                .get("items")
                .and_then(|i| i.get("properties"))
                .is_some_and(truthy_value)
        {
            if let Some(items) = property.get_mut("items") {
                allow_default_none(items, depth + 1)?;
            }
        }
        if is_type(property, "object") && property.get("properties").is_some_and(truthy_value) {
            allow_default_none(property, depth + 1)?;
        }
    }
    Ok(())
}

fn truthy_value(v: &Value) -> bool {
    truthy(Some(v))
}

/// StackStorm's `assign_default_values`: a missing or null property with a
/// default gets it; nested objects and the objects of arrays too.
fn assign_defaults(instance: &mut Value, schema: &Value, depth: usize) -> Result<(), SchemaError> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Ok(());
    };
    for (name, property) in properties {
        if let Some(default) = property.get("default") {
            match instance {
                Value::Object(map) if map.get(name).is_none_or(Value::is_null) => {
                    map.insert(name.clone(), default.clone());
                }
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        if let Value::Object(map) = item {
                            if map.get(name).is_none_or(Value::is_null) {
                                map.insert(name.clone(), default.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let nested_items = is_type(property, "array")
            && property
                .get("items")
                .and_then(|i| i.get("properties"))
                .is_some_and(truthy_value);
        let nested_object =
            is_type(property, "object") && property.get("properties").is_some_and(truthy_value);
        if !(nested_items || nested_object) {
            continue;
        }
        let sub_schema = if nested_items {
            property.get("items").cloned().unwrap_or_default()
        } else {
            property.clone()
        };
        if let Some(value) = instance.get_mut(name).filter(|v| !v.is_null()) {
            assign_defaults(value, &sub_schema, depth + 1)?;
        }
    }
    Ok(())
}

/// Escapes one JSON pointer segment.
fn segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Rewrites StackStorm's schema into Draft 4: every `required` keyword is
/// dropped (StackStorm's validator checks no `required` list), and each
/// object schema with `properties` gets a `required` list of the properties
/// whose schema has a truthy `required`. Walked top-down with a stack of
/// JSON pointers: a parent reads its properties' markers before they are
/// rewritten.
fn to_draft4(mut schema: Value) -> Result<Value, SchemaError> {
    let mut stack: Vec<(String, usize)> = vec![(String::new(), 0)];
    while let Some((path, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let Some(Value::Object(node)) = schema.pointer_mut(&path) else {
            continue;
        };
        let required: Vec<Value> = match node.get("properties") {
            Some(Value::Object(props)) => props
                .iter()
                .filter(|(_, p)| truthy(p.get("required")))
                .map(|(name, _)| Value::String(name.clone()))
                .collect(),
            _ => Vec::new(),
        };
        node.remove("required");
        if !required.is_empty() {
            node.insert("required".into(), Value::Array(required));
        }
        for key in [
            "properties",
            "patternProperties",
            "dependencies",
            "definitions",
        ] {
            if let Some(Value::Object(children)) = node.get(key) {
                for (name, child) in children {
                    if child.is_object() {
                        stack.push((format!("{path}/{key}/{}", segment(name)), depth + 1));
                    }
                }
            }
        }
        for key in ["allOf", "anyOf", "oneOf", "items"] {
            if let Some(Value::Array(children)) = node.get(key) {
                for i in 0..children.len() {
                    stack.push((format!("{path}/{key}/{i}"), depth + 1));
                }
            }
        }
        for key in ["items", "additionalProperties", "additionalItems", "not"] {
            if node.get(key).is_some_and(Value::is_object) {
                stack.push((format!("{path}/{key}"), depth + 1));
            }
        }
    }
    Ok(schema)
}

/// StackStorm's default inquiry schema (`inquirer` runner): one required
/// boolean, `continue`.
pub fn default_schema() -> Value {
    serde_json::json!({
        "title": "response_data",
        "type": "object",
        "properties": {
            "continue": {
                "type": "boolean",
                "description": "Would you like to continue the workflow?",
                "required": true
            }
        }
    })
}

/// The response a form starts from: each property's default, when it has one.
pub fn defaults(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, p)| p.get("default").map(|d| (k.clone(), d.clone())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn draft3_required_is_checked_and_object_required_lists_are_not() {
        let schema = default_schema();
        assert!(validate_response(&schema, &json!({"continue": true})).is_ok());
        let err = validate_response(&schema, &json!({})).unwrap_err();
        assert!(err.to_string().contains("continue"), "{err}");
        assert!(validate_response(&schema, &json!({"continue": "yes"})).is_err());
        let list =
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}});
        assert!(validate_response(&list, &json!({})).is_ok());
    }

    #[test]
    fn optional_properties_accept_null_and_defaults_fill_in() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer"},
            "d": {"type": "integer", "default": 3, "required": true},
        }});
        assert!(validate_response(&schema, &json!({"n": null})).is_ok());
        assert!(validate_response(&schema, &json!({"n": "x"})).is_err());
    }

    #[test]
    fn deep_schemas_are_refused_with_a_clear_error() {
        let mut schema = json!({"type": "string"});
        for _ in 0..150 {
            schema = json!({"type": "object", "properties": {"x": schema}});
        }
        let err = validate_response(&schema, &json!({})).unwrap_err();
        assert!(err.to_string().contains("deeper than"), "{err}");
    }
}
