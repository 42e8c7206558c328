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
    /// One requirement could not be installed.
    #[error("{0}")]
    Requirement(Box<RequirementFailure>),
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

/// A requirement the installer could not install, and where the pack asks for it.
#[derive(Debug, Clone)]
pub struct RequirementFailure {
    pub pack: String,
    /// As the installer named it, e.g. `tabulate==99.0`.
    pub requirement: String,
    /// (file relative to the pack, line number, line text) of the pack's
    /// line, when it is a direct requirement.
    pub at: Option<(PathBuf, usize, String)>,
    /// The installer's own sentence.
    pub reason: String,
    /// The revision the requirements came from, when not the checked-out one.
    pub revision: Option<String>,
    /// The installer's own error lines.
    pub details: String,
}

impl std::fmt::Display for RequirementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&requirement_message(
            &self.pack,
            &self.requirement,
            self.at.as_ref(),
            &self.reason,
            self.revision.as_deref(),
            &self.details,
        ))
    }
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

fn requirement_message(
    pack: &str,
    requirement: &str,
    at: Option<&(PathBuf, usize, String)>,
    reason: &str,
    revision: Option<&str>,
    details: &str,
) -> String {
    let (place, file) = match at {
        Some((file, line, text)) if text == requirement => (
            format!(" ({} line {line})", file.display()),
            file.display().to_string(),
        ),
        Some((file, line, text)) => (
            format!(" ({} line {line}: {text})", file.display()),
            file.display().to_string(),
        ),
        None => (
            " (a dependency of the pack's requirements)".to_string(),
            "requirements.txt".to_string(),
        ),
    };
    let retry = match revision {
        Some(rev) => format!(
            "Fix {file} (in a new commit: this revision's stays as it is) and retry with `stormdesk pack setup-venv {pack} --content-version {rev}`"
        ),
        None => format!("Fix {file} and retry with `stormdesk pack setup-venv {pack}`"),
    };
    let mut msg = format!(
        "pack '{pack}': requirement '{requirement}'{place} could not be installed: {}. {retry}.",
        reason.trim_end_matches('.')
    );
    if !details.trim().is_empty() {
        msg.push_str("\ninstaller output:\n");
        msg.push_str(details);
    }
    msg
}
