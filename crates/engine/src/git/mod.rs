//! Packs as git repositories, through libgit2 (git2) and never the `git`
//! command: installing and updating, listing revisions, resolving a
//! `content_version` to a commit, and worktrees keyed by commit.

mod checkout;
mod error;
mod install;
mod repo;
mod revisions;
mod worktree;
mod worktrees;

pub use error::GitError;
pub use install::{install_pack, update_pack, Installed, PackReport, Progress, Updated};
pub use repo::{head_commit, is_git_repo};
pub use revisions::{
    list_revisions, tag_version, CheckedOut, Revision, RevisionKind, Revisions, RECENT_COMMITS,
};
pub use worktrees::{Checkout, WorktreeLease, Worktrees, DEFAULT_KEEP};

/// Runs git work (blocking libgit2 calls) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(GitError::Other {
            pack: String::new(),
            doing: "running a git task".into(),
            message: e.to_string(),
        })
    })
}
