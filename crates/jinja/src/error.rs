//! Errors: template failures keep Jinja2's error class, the message and
//! the location; function failures name the function and Python's
//! exception kind. No message quotes a template value: StackStorm
//! parameters can be secrets (`secret: true`), and callers can redact known
//! secret values from any message with [`Error::redacted`].

/// The class of a template failure, as Jinja2 would raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The template does not parse (`TemplateSyntaxError`).
    Syntax,
    /// A variable, attribute, method or function is not defined
    /// (`UndefinedError`).
    Undefined,
    /// The template uses a filter that does not exist
    /// (`TemplateAssertionError: No filter named ...`).
    UnknownFilter,
    /// The template uses a test that does not exist.
    UnknownTest,
    /// Evaluation failed: a type error, a bad value, a filter's own error
    /// (Python's `TypeError`, `ValueError`, `IndexError`, ...).
    Runtime,
}

impl ErrorClass {
    /// A stable lower-case name (`syntax`, `undefined`, `unknown_filter`,
    /// `unknown_test`, `runtime`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Syntax => "syntax",
            ErrorClass::Undefined => "undefined",
            ErrorClass::UnknownFilter => "unknown_filter",
            ErrorClass::UnknownTest => "unknown_test",
            ErrorClass::Runtime => "runtime",
        }
    }
}

/// Python's exception kind for a failing StackStorm function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionErrorKind {
    /// Wrong argument types or counts (`TypeError`).
    Type,
    /// A bad value: invalid JSON/YAML/JSONPath/SemVer/regex (`ValueError`
    /// and the libraries' own errors).
    Value,
    /// An index out of range (`IndexError`).
    Index,
    /// The datastore has no such key, or no datastore was given.
    Datastore,
}

/// A StackStorm function failed (see [`crate::functions::call`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function}: {message}")]
pub struct FunctionError {
    /// The function's name (`to_json_string`, `st2kv`, ...).
    pub function: String,
    /// Python's exception kind.
    pub kind: FunctionErrorKind,
    /// What went wrong; never contains the argument values.
    pub message: String,
}

impl FunctionError {
    pub(crate) fn new(function: &str, kind: FunctionErrorKind, message: impl Into<String>) -> Self {
        FunctionError {
            function: function.to_string(),
            kind,
            message: message.into(),
        }
    }
}

/// A failure to compile or render a template, or of a function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The template failed to parse or render.
    #[error("{message}{}", location(.name, .line))]
    Template {
        /// Jinja2's class of the failure.
        class: ErrorClass,
        /// What went wrong (minijinja's detail, with its causes).
        message: String,
        /// The template's name, when it has one other than `<string>`.
        name: Option<String>,
        /// The 1-based line in the template.
        line: Option<usize>,
    },
    /// A StackStorm function failed when called directly.
    #[error(transparent)]
    Function(#[from] FunctionError),
    /// Rendering the value of `key` failed (`render_values`).
    #[error("while rendering `{key}`: {error}")]
    Key {
        /// The mapping key whose value failed.
        key: String,
        /// The failure.
        error: Box<Error>,
    },
}

fn location(name: &Option<String>, line: &Option<usize>) -> String {
    match (name, line) {
        (Some(n), Some(l)) => format!(" (in {n}, line {l})"),
        (None, Some(l)) => format!(" (line {l})"),
        (Some(n), None) => format!(" (in {n})"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// The Jinja2 class of the failure (function failures are `Runtime`).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Template { class, .. } => *class,
            Error::Function(_) => ErrorClass::Runtime,
            Error::Key { error, .. } => error.class(),
        }
    }

    /// The same error with every occurrence of the given secret values
    /// replaced by `********` (empty values are ignored).
    pub fn redacted(&self, secrets: &[&str]) -> Error {
        let scrub = |s: &str| {
            let mut s = s.to_string();
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                s = s.replace(secret, "********");
            }
            s
        };
        match self {
            Error::Template {
                class,
                message,
                name,
                line,
            } => Error::Template {
                class: *class,
                message: scrub(message),
                name: name.clone(),
                line: *line,
            },
            Error::Function(f) => Error::Function(FunctionError {
                message: scrub(&f.message),
                ..f.clone()
            }),
            Error::Key { key, error } => Error::Key {
                key: key.clone(),
                error: Box::new(error.redacted(secrets)),
            },
        }
    }
}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        use minijinja::ErrorKind as K;
        let class = match e.kind() {
            K::SyntaxError | K::BadEscape => ErrorClass::Syntax,
            K::UndefinedError | K::UnknownFunction | K::UnknownMethod => ErrorClass::Undefined,
            K::UnknownFilter => ErrorClass::UnknownFilter,
            K::UnknownTest => ErrorClass::UnknownTest,
            _ => ErrorClass::Runtime,
        };
        let mut message = match e.detail() {
            Some(d) => format!("{}: {d}", e.kind()),
            None => e.kind().to_string(),
        };
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        let name = e
            .name()
            .filter(|n| *n != "<string>" && *n != "<expression>")
            .map(str::to_string);
        Error::Template {
            class,
            message,
            name,
            line: e.line(),
        }
    }
}
