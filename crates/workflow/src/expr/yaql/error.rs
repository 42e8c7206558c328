//! YAQL errors, each named for the Python exception class yaql (or Python
//! under it) raises for the same input, so that messages read as Orquesta's
//! (`Unable to evaluate expression '<% ... %>'. NoMatchingFunctionException:
//! ...`) and differential tests can compare classes.

use std::fmt;

/// An error from parsing or evaluating a YAQL expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The Python class: `YaqlGrammarException`, `YaqlLexicalException`,
    /// `NoFunctionRegisteredException`, `NoMethodRegisteredException`,
    /// `NoMatchingFunctionException`, `NoMatchingMethodException`,
    /// `MappingTranslationException`, `KeyError`, `IndexError`, `TypeError`,
    /// `ValueError`, `ZeroDivisionError`, `StopIteration`, `RecursionError`,
    /// `OverflowError`, `AssertionError`, `VariableUndefinedError`, ...
    pub class: &'static str,
    /// Python's `str(exception)`: for `KeyError` the key's repr.
    pub message: String,
}

/// A YAQL result.
pub type R<T> = Result<T, Error>;

impl Error {
    pub fn new(class: &'static str, message: impl Into<String>) -> Error {
        Error {
            class,
            message: message.into(),
        }
    }

    /// True for errors that Orquesta reports as a key it could not resolve.
    pub fn is_key_error(&self) -> bool {
        self.class == "KeyError"
    }

    /// Whether this error is one of yaql's own (`YaqlException`) or Python's
    /// `ValueError`/`TypeError`: Orquesta strips quotes from their messages.
    fn strips_quotes(&self) -> bool {
        !matches!(
            self.class,
            "ZeroDivisionError"
                | "IndexError"
                | "StopIteration"
                | "RecursionError"
                | "OverflowError"
                | "AssertionError"
                | "AttributeError"
                | "VariableUndefinedError"
                | "VariableInaccessibleError"
                | "ExpressionEvaluationException"
                | "UnicodeDecodeError"
                | "error"
        )
    }

    /// Orquesta's message for this error in `expression` (delimiters
    /// included), as `orquesta/expressions/yql.py` words it.
    pub fn orquesta_message(&self, expression: &str) -> String {
        if self.is_key_error() {
            return format!(
                "Unable to resolve key '{}' in expression '{expression}' from context.",
                self.message.trim_matches('\'')
            );
        }
        let message = if self.strips_quotes() {
            self.message.trim_matches('\'')
        } else {
            self.message.as_str()
        };
        format!(
            "Unable to evaluate expression '{expression}'. {}: {message}",
            self.class
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

impl std::error::Error for Error {}

/// `NoFunctionRegisteredException`: no function of that name.
pub fn no_function(name: &str) -> Error {
    Error::new(
        "NoFunctionRegisteredException",
        format!("Unknown function \"{name}\""),
    )
}

/// `NoMethodRegisteredException`: no method of that name.
pub fn no_method(name: &str, receiver: &str) -> Error {
    Error::new(
        "NoMethodRegisteredException",
        format!("Unknown method \"{name}\" for receiver {receiver}"),
    )
}

/// `NoMatchingFunctionException`: no overload fits the arguments.
pub fn no_matching_function(name: &str) -> Error {
    Error::new(
        "NoMatchingFunctionException",
        format!("No function \"{name}\" matches supplied arguments"),
    )
}

/// `NoMatchingMethodException`: no method overload fits.
pub fn no_matching_method(name: &str, receiver: &str) -> Error {
    Error::new(
        "NoMatchingMethodException",
        format!("No method \"{name}\" for receiver {receiver} matches supplied arguments"),
    )
}

/// Python's `TypeError`.
pub fn type_error(message: impl Into<String>) -> Error {
    Error::new("TypeError", message)
}

/// Python's `ValueError`.
pub fn value_error(message: impl Into<String>) -> Error {
    Error::new("ValueError", message)
}

/// An integer result beyond 64 bits.
pub fn overflow() -> Error {
    Error::new(
        "OverflowError",
        "integer result does not fit in 64 bits (Stormdesk's YAQL integers are 64-bit)",
    )
}
