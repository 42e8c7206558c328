//! Opening a pack's repository and resolving a revision to a commit.

use std::path::Path;

use git2::{ErrorCode, Oid, Repository};

use super::GitError;
use crate::pack::close_matches;

/// True when `dir` is the top of a git working tree (a `.git` directory or file).
pub fn is_git_repo(dir: &Path) -> bool {
    dir.join(".git").exists()
}

/// Opens the repository at the pack's directory (never a parent's).
pub(crate) fn open(pack: &str, dir: &Path, rev: &str) -> Result<Repository, GitError> {
    if !is_git_repo(dir) {
        return Err(GitError::NotARepo {
            pack: pack.to_string(),
            dir: dir.to_path_buf(),
            rev: rev.to_string(),
        });
    }
    Repository::open(dir).map_err(|e| {
        if e.code() == ErrorCode::NotFound {
            GitError::NotARepo {
                pack: pack.to_string(),
                dir: dir.to_path_buf(),
                rev: rev.to_string(),
            }
        } else {
            GitError::classify(pack, rev, "opening the repository", e)
        }
    })
}

/// Resolves a tag, branch (local, or origin's), full or short commit SHA, or
/// any git revision expression to a commit.
pub(crate) fn resolve(repo: &Repository, pack: &str, rev: &str) -> Result<Oid, GitError> {
    let rev = rev.trim();
    if rev.is_empty() || rev.starts_with('-') {
        return Err(unknown(repo, pack, rev));
    }
    let mut last = None;
    for candidate in [rev.to_string(), format!("origin/{rev}")] {
        match repo.revparse_single(&candidate) {
            Ok(obj) => {
                return obj
                    .peel_to_commit()
                    .map(|c| c.id())
                    .map_err(|e| match e.code() {
                        ErrorCode::NotFound | ErrorCode::InvalidSpec | ErrorCode::Peel => {
                            unknown(repo, pack, rev)
                        }
                        _ => GitError::classify(pack, rev, "resolving the revision", e),
                    });
            }
            Err(e) if e.code() == ErrorCode::Ambiguous => {
                return Err(GitError::AmbiguousRevision {
                    pack: pack.to_string(),
                    rev: rev.to_string(),
                    message: e.message().to_string(),
                })
            }
            Err(e)
                if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec)
                    && e.class() != git2::ErrorClass::Odb
                    && e.class() != git2::ErrorClass::Zlib =>
            {
                last = Some(e)
            }
            Err(e) => return Err(GitError::classify(pack, rev, "resolving the revision", e)),
        }
    }
    drop(last);
    Err(unknown(repo, pack, rev))
}

fn unknown(repo: &Repository, pack: &str, rev: &str) -> GitError {
    let names = ref_names(repo);
    GitError::UnknownRevision {
        pack: pack.to_string(),
        rev: rev.to_string(),
        closest: close_matches(rev, names.iter().map(String::as_str)),
    }
}

/// Tag and branch names (origin's branches without the `origin/` prefix).
pub(crate) fn ref_names(repo: &Repository) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            let Some(name) = r.name() else { continue };
            let short = if let Some(t) = name.strip_prefix("refs/tags/") {
                t
            } else if let Some(b) = name.strip_prefix("refs/heads/") {
                b
            } else if let Some(b) = name.strip_prefix("refs/remotes/origin/") {
                if b == "HEAD" {
                    continue;
                }
                b
            } else {
                continue;
            };
            names.push(short.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The commit checked out in the pack's directory, if it is a git repository.
pub fn head_commit(dir: &Path) -> Option<String> {
    if !is_git_repo(dir) {
        return None;
    }
    let repo = Repository::open(dir).ok()?;
    let head = repo.head().ok()?;
    head.peel_to_commit().ok().map(|c| c.id().to_string())
}
