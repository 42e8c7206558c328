//! StackStorm packs on disk: `pack.yaml`, action metadata, runner types and
//! pack config.
//!
//! This module only reads files; it neither resolves revisions (git) nor runs
//! anything. A pack with a broken or unsupported action still loads: the
//! action is listed with the reason, so the operator can see what to fix.

mod action;
mod config;
mod load;
mod meta;
pub mod runner_types;
mod suggest;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

pub use action::{
    json_type_name, value_matches_type, Action, ParamSpec, PARAM_TYPES,
    RUNNER_PARAM_OVERRIDABLE_ATTRS,
};
pub(crate) use config::with_article;
pub use config::{load_pack_config, secret_config_keys};
pub use load::{load_pack, load_packs_dir};
pub use meta::{is_valid_pack_ref, PackMeta};
pub use runner_types::{runner_type, supported_runner_types, RunnerType};
pub use suggest::close_matches;

/// The example pack shipped in the repository (`packs/examples`), for tests
/// and development builds.
pub fn bundled_examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/examples")
}

/// One loaded pack.
#[derive(Debug, Clone, Serialize)]
pub struct Pack {
    /// The pack's ref (`ref` from pack.yaml, else `name`).
    pub name: String,
    pub dir: PathBuf,
    pub meta: PackMeta,
    /// Runnable (or disabled) actions by action name.
    pub actions: BTreeMap<String, Action>,
    /// Actions whose runner type Stormdesk cannot run (yet).
    pub unsupported: Vec<UnsupportedAction>,
    /// Metadata files that could not be read as actions.
    pub errors: Vec<ActionFileError>,
    /// `config.schema.yaml`, key by key, when the pack has one.
    pub config_schema: Option<Map<String, Value>>,
    /// Content StackStorm would load that Stormdesk does not run.
    pub ignored: Vec<IgnoredContent>,
}

/// A kind of pack content Stormdesk does not run (sensors, rules, ...), how
/// many files of it the pack holds, and why it is not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredContent {
    /// The pack subdirectory: `sensors`, `rules`, `aliases`, `policies`, `triggers`.
    pub kind: &'static str,
    /// Metadata files found there.
    pub files: usize,
    pub reason: &'static str,
}

impl fmt::Display for IgnoredContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} file{}): {}",
            self.kind,
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.reason
        )
    }
}

/// An action the pack declares but Stormdesk cannot run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsupportedAction {
    pub name: String,
    pub file: PathBuf,
    pub runner_type: String,
    pub reason: String,
}

/// A metadata file in `actions/` that is not a valid action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionFileError {
    pub file: PathBuf,
    /// The action's name, when it could be read.
    pub name: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ActionFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            location(&self.file, self.line, self.column),
            self.message
        )
    }
}

fn location(file: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", file.display()),
        (Some(l), None) => format!("{}:{l}", file.display()),
        _ => file.display().to_string(),
    }
}

fn suggestion_text(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// Why a pack, its config or one of its actions cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{} is not a directory: give the path of a pack directory (the one holding pack.yaml)", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{} is not a pack: it has no pack.yaml. Add one with at least `ref: <pack>` (lowercase letters, digits, underscores), `name`, `description` and `version`", dir.display())]
    MissingMeta { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid YAML: {message}; fix the file and reload", location(file, *line, *column))]
    Yaml {
        file: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("{}: {message}", file.display())]
    InvalidMeta { file: PathBuf, message: String },
    #[error("pack config {}: {message}", file.display())]
    InvalidConfig { file: PathBuf, message: String },
    #[error("two packs claim the ref '{name}': {} and {}; give one of them another `ref` in its pack.yaml", first.display(), second.display())]
    DuplicatePack {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "pack '{pack}' has no action '{action}'{}",
        suggestion_text(suggestions)
    )]
    UnknownAction {
        pack: String,
        action: String,
        suggestions: Vec<String>,
    },
    #[error("action '{action_ref}' cannot run: {reason}")]
    UnsupportedAction { action_ref: String, reason: String },
    #[error("action '{action_ref}' is disabled in its metadata (enabled: false); set `enabled: true` in {} to run it", file.display())]
    DisabledAction { action_ref: String, file: PathBuf },
    #[error("action '{action_ref}' has invalid metadata: {error}")]
    BrokenAction {
        action_ref: String,
        error: Box<ActionFileError>,
    },
}

impl PackError {
    pub(crate) fn yaml(file: &Path, e: &serde_yaml::Error) -> Self {
        let loc = e.location();
        PackError::Yaml {
            file: file.to_path_buf(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: action::strip_yaml_location(&e.to_string()),
        }
    }
}

impl Pack {
    /// The action `name` if it can run, else why not (unsupported runner,
    /// disabled, broken metadata, or unknown with close matches).
    pub fn get_action(&self, name: &str) -> Result<&Action, PackError> {
        let action_ref = format!("{}.{name}", self.name);
        if let Some(a) = self.actions.get(name) {
            if !a.enabled {
                return Err(PackError::DisabledAction {
                    action_ref,
                    file: a.meta_file.clone(),
                });
            }
            return Ok(a);
        }
        if let Some(u) = self.unsupported.iter().find(|u| u.name == name) {
            return Err(PackError::UnsupportedAction {
                action_ref,
                reason: u.reason.clone(),
            });
        }
        if let Some(e) = self.errors.iter().find(|e| e.name.as_deref() == Some(name)) {
            return Err(PackError::BrokenAction {
                action_ref,
                error: Box::new(e.clone()),
            });
        }
        let known = self
            .actions
            .keys()
            .map(String::as_str)
            .chain(self.unsupported.iter().map(|u| u.name.as_str()));
        Err(PackError::UnknownAction {
            pack: self.name.clone(),
            action: name.to_string(),
            suggestions: close_matches(name, known),
        })
    }

    /// Top-level config keys marked secret in `config.schema.yaml`.
    pub fn secret_config_keys(&self) -> Vec<String> {
        secret_config_keys(self)
    }
}
