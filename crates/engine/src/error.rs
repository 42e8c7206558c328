//! The engine's error type and the one error shape that crosses the IPC/HTTP boundary.

use serde::Serialize;

use crate::git::GitError;
use crate::pack::PackError;
use crate::params::ParamError;

/// Errors the engine returns. Each variant says what the caller can do next.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("action '{0}' not found: check the name with `stormdesk action list`; an action added since the engine started appears once the packs are registered again (`stormdesk pack register`, `st2 pack register`)")]
    UnknownAction(String),
    #[error("action '{action}' not found: no pack '{pack}' is loaded. A pack put in place since the engine started loads with `stormdesk pack register` (`st2 pack register`); a removed pack runs again once installed (`stormdesk pack install <url|path>`, `st2 pack install`)")]
    PackNotLoaded { action: String, pack: String },
    #[error("action '{action}' cannot run: {reason}")]
    UnsupportedAction { action: String, reason: String },
    #[error("action '{0}' is disabled in its metadata (enabled: false)")]
    DisabledAction(String),
    #[error("pack '{0}' not found: check the name with `stormdesk pack list`")]
    UnknownPack(String),
    #[error("execution '{0}' not found: list executions with `stormdesk execution list`")]
    UnknownExecution(String),
    #[error("execution '{id}' is {status}, so it cannot be {verb}")]
    NotActive {
        id: String,
        status: String,
        verb: &'static str,
    },
    /// The execution is not completed, but another process runs it (a
    /// `stormdesk run` in its own engine, beside this one on the same data).
    #[error("execution '{id}' is {status} in another process, not in this engine (a `stormdesk run` started in its own engine, e.g. with packs this engine was not given); it can only be {verb} there (Ctrl-C in its terminal cancels it)")]
    NotHere {
        id: String,
        status: String,
        verb: &'static str,
    },
    #[error(transparent)]
    Params(Box<ParamError>),
    #[error(transparent)]
    Pack(Box<PackError>),
    #[error("could not start the runner process '{path}': {source}. Build it with `cargo build -p stormdesk-runner` or set STORMDESK_RUNNER")]
    RunnerSpawn {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store error at {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the store's writer has stopped; restart Stormdesk")]
    StoreClosed,
    /// The store could not commit a write (a full disk, a read-only file).
    #[error("the store at {path} cannot save changes: {message}; free disk space or fix the file's permissions, nothing reported is lost meanwhile")]
    StoreWrite { path: String, message: String },
    /// Try again shortly.
    #[error("{0}")]
    Busy(String),
    /// A configured limit (nesting depth, executions per run) was reached.
    #[error("{0}")]
    Limit(String),
    #[error("could not bind the callback listener on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} at {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Git(Box<GitError>),
    #[error("workflow '{action}' cannot start: {message}")]
    Workflow { action: String, message: String },
    /// An ActionChain's file is unreadable or inconsistent (names the link).
    #[error("action chain '{action}' cannot start: {message}")]
    Chain { action: String, message: String },
    /// An Inquiry refuses a response (StackStorm's messages).
    #[error("{0}")]
    Inquiry(String),
    #[error(transparent)]
    PythonEnv(Box<crate::pyenv::PyEnvError>),
    /// Missing or wrong credentials; the message says which to send.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that may not do this (an action's token outside its scope).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The datastore's encryption key cannot be read or made.
    #[error(transparent)]
    DatastoreKey(#[from] crate::datastore_key::KeyFileError),
    /// A stored secret does not decrypt with the datastore's key (names the key).
    #[error("{0}")]
    Decrypt(String),
    /// A request refused with StackStorm's own wording (no prefix), as
    /// `st2` prints it.
    #[error("{0}")]
    Refused(String),
}

impl From<ParamError> for EngineError {
    fn from(e: ParamError) -> Self {
        EngineError::Params(Box::new(e))
    }
}

impl From<GitError> for EngineError {
    fn from(e: GitError) -> Self {
        EngineError::Git(Box::new(e))
    }
}

impl From<PackError> for EngineError {
    fn from(e: PackError) -> Self {
        EngineError::Pack(Box::new(e))
    }
}

impl EngineError {
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        EngineError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }

    /// A small, stable set of codes that faces branch on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::UnknownAction(_)
            | EngineError::PackNotLoaded { .. }
            | EngineError::UnknownPack(_)
            | EngineError::UnknownExecution(_)
            | EngineError::NotFound(_) => "not_found",
            EngineError::Unauthorized(_) => "unauthorized",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::Params(_)
            | EngineError::BadRequest(_)
            | EngineError::Workflow { .. }
            | EngineError::Chain { .. }
            | EngineError::Inquiry(_)
            | EngineError::Refused(_)
            | EngineError::Limit(_) => "invalid_input",
            EngineError::UnsupportedAction { .. } | EngineError::DisabledAction(_) => "unsupported",
            EngineError::NotActive { .. } | EngineError::NotHere { .. } => "conflict",
            EngineError::Pack(_) => "pack_error",
            EngineError::Git(e) => e.code(),
            EngineError::StoreWrite { .. } | EngineError::Busy(_) => "unavailable",
            EngineError::PythonEnv(e) => e.code(),
            EngineError::RunnerSpawn { .. }
            | EngineError::Store { .. }
            | EngineError::StoreClosed
            | EngineError::Bind { .. }
            | EngineError::Io { .. }
            | EngineError::DatastoreKey(_)
            | EngineError::Decrypt(_) => "internal",
        }
    }

    /// The serialisable form for the UI, the HTTP API and the CLI.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }
}

/// The one error shape across the IPC/HTTP boundary: StackStorm's
/// `{"faultstring": ...}` (its `Error` schema, which `st2client` prints)
/// with Stormdesk's `code`, one of a small stable set faces branch on:
/// `not_found`, `invalid_input`, `unsupported`, `conflict`, `pack_error`,
/// `git_error`, `unauthorized`, `forbidden`, `internal`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    #[serde(rename = "faultstring", alias = "message")]
    pub message: String,
    pub code: String,
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}
