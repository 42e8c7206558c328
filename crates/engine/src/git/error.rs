//! What can go wrong with a pack's git repository, each error naming the pack,
//! the revision and what to do next.

use std::path::PathBuf;

fn did_you_mean(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!(" (closest: {})", candidates.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("pack '{pack}' at {} is not a git repository, so it has no revision '{rev}': install it from git with `stormdesk pack install <url|path>`", dir.display())]
    NotARepo {
        pack: String,
        dir: PathBuf,
        rev: String,
    },
    #[error("revision '{rev}' not found in pack '{pack}'{}: list its revisions with `stormdesk pack revisions {pack}`; a tag or commit pushed since the pack was installed arrives with `stormdesk pack update {pack}`", did_you_mean(.closest))]
    UnknownRevision {
        pack: String,
        rev: String,
        closest: Vec<String>,
    },
    #[error("revision '{rev}' not found in '{source_}'{}: give one of its tags, branches or commits (`git ls-remote {source_}` lists them), or leave the revision out for its default branch", did_you_mean(.closest))]
    UnknownSourceRevision {
        source_: String,
        rev: String,
        closest: Vec<String>,
    },
    #[error("revision '{rev}' of pack '{pack}' is ambiguous ({message}): give more characters of the commit, or a tag or branch name")]
    AmbiguousRevision {
        pack: String,
        rev: String,
        message: String,
    },
    #[error("the git repository of pack '{pack}' is corrupt ({message}) while reading revision '{rev}': reinstall the pack with `stormdesk pack install --force <url|path>`")]
    Corrupt {
        pack: String,
        rev: String,
        message: String,
    },
    #[error("the git repository of pack '{pack}' is locked by another git process ({message}): wait for it to finish, or remove the stale `.lock` file if no git process is running")]
    Locked { pack: String, message: String },
    #[error("could not create the worktree of pack '{pack}' at revision '{rev}' ({sha}): {message}; nothing was left behind, so the run can be retried once this is fixed")]
    Worktree {
        pack: String,
        rev: String,
        sha: String,
        message: String,
    },
    #[error("action '{action}' does not exist at revision '{rev}' of pack '{pack}'{}", did_you_mean(.closest))]
    ActionNotAtRevision {
        pack: String,
        rev: String,
        action: String,
        closest: Vec<String>,
    },
    #[error("pack '{pack}' at revision '{rev}' cannot be loaded: {message}")]
    PackAtRevision {
        pack: String,
        rev: String,
        message: String,
    },
    #[error("could not clone '{source_}': {message}")]
    Clone { source_: String, message: String },
    #[error("'{source_}' holds no StackStorm pack{}: a pack has `pack.yaml` at the top of the repository", rev.as_ref().map(|r| format!(" at revision '{r}'")).unwrap_or_default())]
    NotAPack {
        source_: String,
        rev: Option<String>,
    },
    #[error("the pack in '{source_}' cannot be loaded: {message}")]
    BadPack { source_: String, message: String },
    #[error("pack '{pack}' is already installed at {}: update it with `stormdesk pack update {pack}`, or replace it with `--force`", dir.display())]
    AlreadyInstalled { pack: String, dir: PathBuf },
    #[error("pack '{pack}' is not installed from git under {}: install it with `stormdesk pack install <url|path>`", dir.display())]
    NotInstalled { pack: String, dir: PathBuf },
    #[error("pack '{pack}' has no remote 'origin' to update from: it was not installed with `stormdesk pack install`")]
    NoOrigin { pack: String },
    #[error("could not fetch pack '{pack}' from its origin: {message}")]
    Fetch { pack: String, message: String },
    #[error("pack '{pack}': local branch '{branch}' and origin/{branch} have diverged; new revisions were fetched, but the checkout was left as it is: reset or reinstall the pack")]
    Diverged { pack: String, branch: String },
    #[error("pack '{pack}' has local changes that the update would overwrite ({message}): commit or discard them, then update again")]
    LocalChanges { pack: String, message: String },
    #[error("git error in pack '{pack}' while {doing}: {message}")]
    Other {
        pack: String,
        doing: String,
        message: String,
    },
    #[error("{what} at {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    /// Turns a libgit2 error into the variant an operator can act on.
    pub(crate) fn classify(pack: &str, rev: &str, doing: &str, e: git2::Error) -> GitError {
        use git2::{ErrorClass, ErrorCode};
        let message = e.message().to_string();
        // libgit2 reports a held `.lock` file with the Locked code, or (for
        // references during a fetch) only in its message.
        if e.code() == ErrorCode::Locked || message.contains("failed to lock file") {
            return GitError::Locked {
                pack: pack.to_string(),
                message,
            };
        }
        match e.class() {
            ErrorClass::Odb | ErrorClass::Zlib | ErrorClass::Object | ErrorClass::Index
                if e.code() != ErrorCode::NotFound || e.class() == ErrorClass::Odb =>
            {
                GitError::Corrupt {
                    pack: pack.to_string(),
                    rev: rev.to_string(),
                    message,
                }
            }
            _ => GitError::Other {
                pack: pack.to_string(),
                doing: doing.to_string(),
                message,
            },
        }
    }

    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        GitError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The engine's error code for faces.
    pub fn code(&self) -> &'static str {
        match self {
            GitError::UnknownRevision { .. }
            | GitError::ActionNotAtRevision { .. }
            | GitError::NotInstalled { .. } => "not_found",
            GitError::NotARepo { .. }
            | GitError::AmbiguousRevision { .. }
            | GitError::UnknownSourceRevision { .. }
            | GitError::NotAPack { .. }
            | GitError::BadPack { .. }
            | GitError::NoOrigin { .. }
            | GitError::Clone { .. } => "invalid_input",
            GitError::AlreadyInstalled { .. }
            | GitError::Locked { .. }
            | GitError::Diverged { .. }
            | GitError::LocalChanges { .. } => "conflict",
            GitError::PackAtRevision { .. } => "pack_error",
            GitError::Corrupt { .. }
            | GitError::Worktree { .. }
            | GitError::Fetch { .. }
            | GitError::Other { .. }
            | GitError::Io { .. } => "git_error",
        }
    }
}
