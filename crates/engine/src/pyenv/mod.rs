//! Python environments for packs, as StackStorm's `st2 pack install` makes
//! them (`st2common/util/virtualenvs.py`: `setup_pack_virtualenv`), keyed by
//! revision.
//!
//! - A pack's `requirements.txt` is installed into a virtualenv. The key is
//!   the SHA-256 of the normalised requirements (with the files they
//!   include), the interpreter and the base layer, so every revision of a
//!   pack gets its own dependencies and revisions with the same
//!   requirements share one environment: `<data>/virtualenvs/packs/<pack>/<key>`.
//! - Every environment sits on the base layer, `<data>/virtualenvs/base/<key>`:
//!   what StackStorm's own environment gives packs without declaring it
//!   ([`BASE_REQUIREMENTS`]). A `.pth` file in the pack's environment adds
//!   the base's site-packages after its own (StackStorm's
//!   `inject_st2_pth_into_virtualenv` does the same with its own
//!   environment), so the pack's pins win. A pack with no requirements runs
//!   on the base layer itself.
//! - Built once with uv (from `PATH`, else `python3 -m uv`), else the
//!   interpreter's `venv` module and pip (`STORMDESK_PYENV_TOOL` forces one),
//!   from the interpreter `STORMDESK_PYTHON` names (default `python3`). An
//!   environment never includes the interpreter's own site-packages, so what
//!   the machine's Python has installed does not matter. Downloads are cached
//!   in `<data>/cache/python` (or `STORMDESK_PYENV_CACHE`).
//! - Built in a temporary directory and renamed into place; concurrent runs
//!   wait for one build (a lock per key in the process, a lock file across
//!   processes); runs that waited for a failed build get its error.
//! - Leased while a run uses it; beyond [`DEFAULT_KEEP`] per pack, the least
//!   recently used unleased environments are removed after a build.
//!
//! Blocking code: the engine calls it on blocking threads.

mod build;
mod envs;
mod error;
mod failure;
mod interpreter;
mod requirements;
mod tool;

use std::path::PathBuf;

use serde::Serialize;

pub use build::{site_packages, BASE_PTH, MARKER};
pub use envs::{list, Env, PyEnvLease, PyEnvs};
pub use error::{PyEnvError, RequirementFailure};
pub use failure::{diagnose, Diagnosis};
pub use interpreter::{Interpreter, PYTHON_VAR};
pub use requirements::{RequirementLine, Requirements, REQUIREMENTS_FILE};
pub use tool::{ToolChoice, TOOL_VAR};

/// What StackStorm's environment gives every pack without declaring it:
/// the real `st2client` (3.9.0, the latest StackStorm release) and the
/// versions of `six`, `PyYAML` and `requests` it pins; `setuptools` before
/// `pkg_resources` was removed, as StackStorm's virtualenvs carry it
/// (`include_setuptools=True`) and older packs import `pkg_resources`;
/// `eventlet` at StackStorm's pin (`fixed-requirements.txt`), which
/// StackStorm's Python runner puts on every action's path with the rest of
/// its own environment (StackStorm's `examples.python-mock-create-vm`
/// imports it); and `pywinrm` at StackStorm's pin
/// (`contrib/runners/winrm_runner/requirements.txt`), StackStorm's
/// WS-Management client, which the WinRM runners drive from this layer and
/// which StackStorm's actions could import from its environment too.
pub const BASE_REQUIREMENTS: &[&str] = &[
    "st2client==3.9.0",
    "six==1.17.0",
    "PyYAML==6.0.3",
    "requests==2.32.4",
    "setuptools==75.8.0",
    "eventlet==0.33.3",
    "pywinrm==0.5.0",
];

/// Unused environments kept per pack.
pub const DEFAULT_KEEP: usize = 8;

/// `STORMDESK_PYENV_CACHE`: where downloads and built wheels are cached
/// (default `<data>/cache/python`).
pub const CACHE_VAR: &str = "STORMDESK_PYENV_CACHE";

/// How environments are built; everything has a default.
#[derive(Debug, Clone, Default)]
pub struct PyEnvOptions {
    /// The interpreter to build from (default `STORMDESK_PYTHON`, else `python3` on `PATH`).
    pub python: Option<PathBuf>,
    /// The download cache (default `STORMDESK_PYENV_CACHE`, else `<data>/cache/python`).
    pub cache_dir: Option<PathBuf>,
    /// Unused environments kept per pack (default [`DEFAULT_KEEP`]).
    pub keep: Option<usize>,
    /// The installer (default `STORMDESK_PYENV_TOOL`, else uv when installed).
    pub tool: Option<ToolChoice>,
}

/// Progress of a build, for a progress line or a log.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EnvEvent {
    /// A build starts: `env` is `base` or the pack's name.
    Building {
        env: String,
        key: String,
        tool: String,
        /// Requirement lines to install.
        requirements: usize,
    },
    /// One line the installer printed.
    Output { env: String, line: String },
    /// The environment is ready at `dir`.
    Built {
        env: String,
        key: String,
        dir: PathBuf,
        millis: u64,
    },
}

/// Where build progress goes.
pub type Progress<'a> = &'a (dyn Fn(&EnvEvent) + Send + Sync);

/// Progress that goes to the log only.
pub fn log_progress(event: &EnvEvent) {
    match event {
        EnvEvent::Building {
            env,
            key,
            tool,
            requirements,
        } => tracing::info!(%env, %key, %tool, requirements, "building a Python environment"),
        EnvEvent::Output { env, line } => tracing::debug!(%env, "{line}"),
        EnvEvent::Built {
            env, dir, millis, ..
        } => tracing::info!(%env, dir = %dir.display(), millis, "Python environment ready"),
    }
}
