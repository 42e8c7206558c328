//! Checks on given and resolved parameter values against their schemas.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::coerce::coerce;
use super::error::{show_value, ParamError};
use crate::pack::{close_matches, json_type_name, value_matches_type, ParamSpec};

/// Rejects names the action does not have and values for immutable
/// parameters. Giving an immutable parameter its own default is accepted:
/// forms and re-runs send every field back.
pub(crate) fn check_given(
    action: &str,
    specs: &IndexMap<String, ParamSpec>,
    given: &Map<String, Value>,
) -> Result<(), ParamError> {
    for (name, value) in given {
        let Some(spec) = specs.get(name) else {
            return Err(ParamError::Unknown {
                action: action.to_string(),
                name: name.clone(),
                suggestions: close_matches(name, specs.keys().map(String::as_str)),
                valid: specs.keys().cloned().collect(),
            });
        };
        if spec.immutable && !value.is_null() && spec.default.as_ref() != Some(value) {
            return Err(ParamError::Immutable {
                action: action.to_string(),
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// Converts a value toward its parameter's type; `hide` keeps it out of the error.
pub(crate) fn coerce_param(
    action: &str,
    name: &str,
    spec: &ParamSpec,
    value: Value,
    hide: bool,
) -> Result<Value, ParamError> {
    let Some(ty) = spec.type_.as_deref() else {
        return Ok(value);
    };
    let shown = (!hide).then(|| show_value(&value));
    coerce(ty, spec.items_type(), value).map_err(|reason| ParamError::Coercion {
        action: action.to_string(),
        name: name.to_string(),
        expected: ty.to_string(),
        value: shown,
        reason,
    })
}

/// Type and enum checks of one resolved value.
pub(crate) fn check_value(
    action: &str,
    name: &str,
    spec: &ParamSpec,
    value: &Value,
    hide: bool,
) -> Result<(), ParamError> {
    let shown = || (!hide).then(|| show_value(value));
    if let Some(ty) = spec.type_.as_deref() {
        if !value_matches_type(ty, value) {
            return Err(ParamError::WrongType {
                action: action.to_string(),
                name: name.to_string(),
                expected: ty.to_string(),
                found: json_type_name(value).to_string(),
                value: shown(),
            });
        }
    }
    if let Some(allowed) = &spec.enum_ {
        if !allowed.iter().any(|a| same_value(a, value)) {
            return Err(ParamError::NotInEnum {
                action: action.to_string(),
                name: name.to_string(),
                value: shown(),
                allowed: allowed.iter().map(show_value).collect(),
            });
        }
    }
    Ok(())
}

/// JSON equality where 1 and 1.0 are the same number.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
