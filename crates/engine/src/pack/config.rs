//! Pack configuration: `config.schema.yaml` in the pack and the operator's
//! `{configs_dir}/{pack}.yaml`, as in StackStorm (`/opt/stackstorm/configs`).
//!
//! The schema maps each top-level key to `type`, `default`, `required`,
//! `secret`, `description` and, for objects, nested `properties`.

use std::path::Path;

use serde_json::{Map, Value};

use super::action::{json_type_name, value_matches_type};
use super::{Pack, PackError};

/// Reads `config.schema.yaml` of the pack in `dir`, if it has one.
pub(crate) fn read_config_schema(dir: &Path) -> Result<Option<Map<String, Value>>, PackError> {
    let file = ["config.schema.yaml", "config.schema.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(&file).map_err(|source| PackError::Io {
        path: file.clone(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(Some(Map::new()));
    }
    let value: Value = serde_yaml::from_str(&text).map_err(|e| PackError::yaml(&file, &e))?;
    match value {
        Value::Object(map) => {
            for (key, item) in &map {
                if !item.is_object() {
                    return Err(PackError::InvalidConfig {
                        file,
                        message: format!(
                            "schema entry '{key}' must be a mapping (type, default, required, secret, description)"
                        ),
                    });
                }
            }
            Ok(Some(map))
        }
        Value::Null => Ok(Some(Map::new())),
        other => Err(PackError::InvalidConfig {
            file,
            message: format!(
                "the schema must be a mapping of config keys, not a {}",
                json_type_name(&other)
            ),
        }),
    }
}

/// The pack's config: `{configs_dir}/{pack}.yaml` when present, with the
/// schema's defaults filled in. Without a config file, the schema defaults
/// (or `{}`). A config file is checked against the schema: required keys
/// present, top-level types right.
pub fn load_pack_config(pack: &Pack, configs_dir: &Path) -> Result<Value, PackError> {
    let file = configs_dir.join(format!("{}.yaml", pack.name));
    let empty = Map::new();
    let schema = pack.config_schema.as_ref().unwrap_or(&empty);
    if !file.is_file() {
        let mut config = Map::new();
        apply_defaults(&mut config, schema);
        return Ok(Value::Object(config));
    }
    let text = std::fs::read_to_string(&file).map_err(|source| PackError::Io {
        path: file.clone(),
        source,
    })?;
    let mut config = if text.trim().is_empty() {
        Map::new()
    } else {
        match serde_yaml::from_str::<Value>(&text).map_err(|e| PackError::yaml(&file, &e))? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(PackError::InvalidConfig {
                    file,
                    message: format!(
                        "the config must be a mapping of keys to values, not a {}",
                        json_type_name(&other)
                    ),
                })
            }
        }
    };
    apply_defaults(&mut config, schema);
    check(&config, schema, "").map_err(|message| PackError::InvalidConfig {
        file: file.clone(),
        message,
    })?;
    Ok(Value::Object(config))
}

/// Top-level config keys marked `secret: true` in the schema.
pub fn secret_config_keys(pack: &Pack) -> Vec<String> {
    pack.config_schema
        .iter()
        .flatten()
        .filter(|(_, item)| item.get("secret").and_then(Value::as_bool) == Some(true))
        .map(|(k, _)| k.clone())
        .collect()
}

fn apply_defaults(config: &mut Map<String, Value>, schema: &Map<String, Value>) {
    for (key, item) in schema {
        if let Some(default) = item.get("default") {
            if !config.contains_key(key) {
                config.insert(key.clone(), default.clone());
            }
        }
        if let Some(Value::Object(props)) = item.get("properties") {
            let is_object = item.get("type").and_then(Value::as_str) == Some("object");
            match config.get_mut(key) {
                Some(Value::Object(inner)) => apply_defaults(inner, props),
                None if is_object => {
                    let mut inner = Map::new();
                    apply_defaults(&mut inner, props);
                    if !inner.is_empty() {
                        config.insert(key.clone(), Value::Object(inner));
                    }
                }
                _ => {}
            }
        }
    }
}

fn check(
    config: &Map<String, Value>,
    schema: &Map<String, Value>,
    prefix: &str,
) -> Result<(), String> {
    for (key, item) in schema {
        let path = format!("{prefix}{key}");
        let required = item.get("required").and_then(Value::as_bool) == Some(true);
        match config.get(key) {
            None | Some(Value::Null) if required => {
                return Err(format!(
                    "required key '{path}' is missing: add `{key}: <value>`"
                ));
            }
            Some(v) if !v.is_null() => {
                if let Some(ty) = item.get("type").and_then(Value::as_str) {
                    if !value_matches_type(ty, v) {
                        let secret = item.get("secret").and_then(Value::as_bool) == Some(true);
                        let shown = if secret {
                            String::new()
                        } else {
                            format!(" ({})", short(v))
                        };
                        return Err(format!(
                            "key '{path}' should be {} but is {}{shown}",
                            with_article(ty),
                            with_article(json_type_name(v))
                        ));
                    }
                }
                if let (Some(Value::Object(props)), Value::Object(inner)) =
                    (item.get("properties"), v)
                {
                    check(inner, props, &format!("{path}."))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

pub(crate) fn with_article(ty: &str) -> String {
    match ty {
        "integer" | "array" | "object" => format!("an {ty}"),
        "null" => "null".to_string(),
        _ => format!("a {ty}"),
    }
}
