//! What can go wrong making a Python environment; each message says what to do.

use std::path::PathBuf;

/// Errors of [`super::PyEnvs`]. Clone, so every run that waited for a failed
/// build gets the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PyEnvError {
    /// No interpreter to build from.
    #[error("no Python interpreter to build environments with ({python}: {message}); install Python 3 with its venv module (Debian: apt-get install python3 python3-venv) or point STORMDESK_PYTHON at one")]
    NoPython { python: String, message: String },
    /// The requirements file itself is wrong (unreadable, bad include).
    #[error("pack '{pack}': {}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Requirements {
        pack: String,
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// One requirement could not be installed; `line` is the line of the
    /// pack's requirements that asked for it (directly or through its
    /// dependencies), when known.
    #[error("pack '{pack}': requirement '{requirement}'{} could not be installed: {reason}. Fix {} and run `stormdesk pack setup-venv {pack}`{}\n{details}",
        at.as_ref().map(|(f, l, t)| format!(" ({} line {l}: {t})", f.display())).unwrap_or_default(),
        at.as_ref().map(|(f, _, _)| f.display().to_string()).unwrap_or_else(|| "the requirement".into()),
        revision.as_ref().map(|r| format!(" --content-version {r}")).unwrap_or_default())]
    Requirement {
        pack: String,
        requirement: String,
        /// (file, line number, line text) of the pack's line.
        at: Option<(PathBuf, usize, String)>,
        reason: String,
        /// The revision the requirements came from, when not the checked-out one.
        revision: Option<String>,
        /// The installer's own error lines.
        details: String,
    },
    /// The installer failed without naming a requirement (network, disk, tool).
    #[error("{env}: {tool} failed while {doing}: {details}")]
    Tool {
        env: String,
        tool: String,
        doing: String,
        details: String,
    },
    #[error("cannot {doing} {}: {message}", path.display())]
    Io {
        doing: String,
        path: PathBuf,
        message: String,
    },
}

impl PyEnvError {
    pub(crate) fn io(doing: &str, path: &std::path::Path, e: std::io::Error) -> PyEnvError {
        PyEnvError::Io {
            doing: doing.to_string(),
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// `pack_error` for what the pack's files cause, `internal` for the rest.
    pub fn code(&self) -> &'static str {
        match self {
            PyEnvError::Requirements { .. } | PyEnvError::Requirement { .. } => "pack_error",
            PyEnvError::NoPython { .. } | PyEnvError::Tool { .. } | PyEnvError::Io { .. } => {
                "internal"
            }
        }
    }
}
