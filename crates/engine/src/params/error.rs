//! Why a set of parameters was refused, worded for the person who typed them.
//!
//! No variant ever holds the value of a secret parameter (or of a parameter
//! rendered from one): those fields are `None` and the message says so.

use serde_json::Value;

use crate::pack::with_article;

/// Longest rendering of a value shown in a message.
const SHOWN_MAX: usize = 80;

/// A parameter value as shown in a message: JSON, shortened.
pub(crate) fn show_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > SHOWN_MAX {
        format!("{}...", s.chars().take(SHOWN_MAX - 3).collect::<String>())
    } else {
        s
    }
}

fn got(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("got {v}"),
        None => "got a value not shown here (secret parameter)".to_string(),
    }
}

fn got_typed(found: &str, value: &Option<String>) -> String {
    match value {
        Some(v) => format!("got {} ({v})", with_article(found)),
        None => format!(
            "got {} (value not shown: secret parameter)",
            with_article(found)
        ),
    }
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean '{}'?)", s.join("' or '"))
    }
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural(names: &[String]) -> &'static str {
    if names.len() == 1 {
        ""
    } else {
        "s"
    }
}

fn cycle(names: &[String]) -> String {
    let mut path = names.to_vec();
    if let Some(first) = names.first() {
        path.push(first.clone());
    }
    path.join(" -> ")
}

fn show_variable(v: &Option<String>) -> String {
    match v {
        Some(v) if v == "st2kv" => {
            "'st2kv' (the StackStorm datastore is not available in parameter templates here)"
                .to_string()
        }
        Some(v) => format!("'{v}'"),
        None => "a name (not shown: the template belongs to a secret parameter)".to_string(),
    }
}

/// Why parameters were refused. Every message names the action and the
/// parameter and says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("action {action} has no parameter '{name}'{}; valid parameters: {}", did_you_mean(suggestions), valid.join(", "))]
    Unknown {
        action: String,
        name: String,
        suggestions: Vec<String>,
        valid: Vec<String>,
    },
    #[error("action {action} is missing required parameter{} {}: give {} a value (name=value)", plural(names), list(names), if names.len() == 1 { "it" } else { "each" })]
    MissingRequired { action: String, names: Vec<String> },
    #[error("parameter '{name}' of action {action} is immutable: the action metadata fixes its value; remove '{name}' from the parameters")]
    Immutable { action: String, name: String },
    #[error(
        "parameter '{name}' of action {action} must be {}, {}; give {} value",
        with_article(expected),
        got_typed(found, value),
        with_article(expected)
    )]
    WrongType {
        action: String,
        name: String,
        expected: String,
        found: String,
        /// `None` when the value is secret.
        value: Option<String>,
    },
    #[error(
        "parameter '{name}' of action {action} must be {}, {}: {reason}",
        with_article(expected),
        got(value)
    )]
    Coercion {
        action: String,
        name: String,
        expected: String,
        /// `None` when the value is secret.
        value: Option<String>,
        reason: String,
    },
    #[error("parameter '{name}' of action {action} must be one of {}; {}", allowed.join(", "), got(value))]
    NotInEnum {
        action: String,
        name: String,
        /// `None` when the value is secret.
        value: Option<String>,
        allowed: Vec<String>,
    },
    #[error("parameters of action {action} depend on each other in a cycle: {}; give one of them a plain value instead of a template", cycle(names))]
    Cycle { action: String, names: Vec<String> },
    #[error("parameter '{name}' of action {action} uses {} in its template, which is neither a parameter of the action nor config_context; declare it as a parameter or fix the template", show_variable(variable))]
    UndefinedVariable {
        action: String,
        name: String,
        /// `None` when the template is a secret parameter's value.
        variable: Option<String>,
    },
    #[error("parameter '{name}' of action {action} is nested more than {limit} levels deep (arrays and objects); pass deep data as a JSON string (or a file) instead")]
    TooDeep {
        action: String,
        name: String,
        limit: usize,
    },
    #[error("parameter '{name}' of action {action} could not be rendered: {message}")]
    Template {
        action: String,
        name: String,
        message: String,
    },
}

impl ParamError {
    /// The parameter the error is about, when there is one.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            ParamError::Unknown { name, .. }
            | ParamError::Immutable { name, .. }
            | ParamError::WrongType { name, .. }
            | ParamError::Coercion { name, .. }
            | ParamError::NotInEnum { name, .. }
            | ParamError::UndefinedVariable { name, .. }
            | ParamError::TooDeep { name, .. }
            | ParamError::Template { name, .. } => Some(name),
            ParamError::MissingRequired { names, .. } | ParamError::Cycle { names, .. } => {
                names.first().map(String::as_str)
            }
        }
    }

    /// Replaces any occurrence of a secret in the free-text fields. Messages
    /// are built not to carry secrets; this is the second line of defence.
    pub(crate) fn scrub(mut self, secrets: &[String]) -> Self {
        let clean = |s: &mut String| {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "********");
                }
            }
        };
        match &mut self {
            ParamError::WrongType { value, .. } | ParamError::NotInEnum { value, .. } => {
                if let Some(v) = value {
                    clean(v)
                }
            }
            ParamError::Coercion { value, reason, .. } => {
                if let Some(v) = value {
                    clean(v)
                }
                clean(reason);
            }
            ParamError::Template { message, .. } => clean(message),
            ParamError::UndefinedVariable { variable, .. } => {
                if let Some(v) = variable {
                    clean(v)
                }
            }
            ParamError::Unknown { .. }
            | ParamError::MissingRequired { .. }
            | ParamError::Immutable { .. }
            | ParamError::TooDeep { .. }
            | ParamError::Cycle { .. } => {}
        }
        self
    }
}
