//! Worktrees on disk: one detached checkout per commit under
//! `<data>/worktrees/<pack>/<sha>`, laid out exactly as `git worktree add
//! --detach` lays them out, so git tools see them.
//!
//! A worktree is built in a temporary directory next to its final place and
//! renamed into place, so a crash or a full disk never leaves a half-made
//! worktree where a run would use it. Its administrative directory in
//! `.git/worktrees/` is removed with it on failure, and `prune` removes the
//! entries of worktrees that are gone (what `git worktree prune` does).

use std::fs;
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{Oid, Repository, WorktreePruneOptions};

use super::checkout::{write_tree, Failure};
use super::GitError;

const TMP_PREFIX: &str = ".tmp-";

/// Makes sure `<root>/<sha>` holds the commit; returns its path.
pub(crate) fn ensure(
    repo: &Repository,
    pack: &str,
    rev: &str,
    oid: Oid,
    root: &Path,
) -> Result<PathBuf, GitError> {
    let sha = oid.to_string();
    let dest = root.join(&sha);
    if dest.join(".git").is_file() {
        return Ok(dest);
    }
    let fail = |message: String| GitError::Worktree {
        pack: pack.to_string(),
        rev: rev.to_string(),
        sha: sha.clone(),
        message,
    };
    fs::create_dir_all(root).map_err(|e| fail(format!("{}: {e}", root.display())))?;
    let nonce = nonce();
    let tmp = root.join(format!("{TMP_PREFIX}{sha}-{nonce}"));
    let admin = repo
        .commondir()
        .join("worktrees")
        .join(format!("{}-{nonce}", &sha[..12]));
    let built = build(oid, &tmp, &admin, &dest);
    let built = built.and_then(|()| match fs::rename(&tmp, &dest) {
        Ok(()) => Ok(true),
        // Another process finished the same commit first: use theirs.
        Err(_) if dest.join(".git").is_file() => Ok(false),
        Err(e) => Err(Failure::Io(format!(
            "moving it into place at {}: {e}",
            dest.display()
        ))),
    });
    match built {
        Ok(true) => Ok(dest),
        Ok(false) => {
            let _ = fs::remove_dir_all(&tmp);
            let _ = fs::remove_dir_all(&admin);
            Ok(dest)
        }
        Err(Failure::Git(doing, e)) => {
            let _ = fs::remove_dir_all(&tmp);
            let _ = fs::remove_dir_all(&admin);
            match GitError::classify(pack, rev, doing, e) {
                GitError::Other { message, .. } => Err(fail(format!("{doing}: {message}"))),
                classified => Err(classified),
            }
        }
        Err(Failure::Io(message)) => {
            let _ = fs::remove_dir_all(&tmp);
            let _ = fs::remove_dir_all(&admin);
            Err(fail(message))
        }
    }
}

/// Writes the worktree's administrative files and checks the commit out into `tmp`.
fn build(oid: Oid, tmp: &Path, admin: &Path, dest: &Path) -> Result<(), Failure> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Failure::Io(format!("{what} {}: {e}", path.display()))
    };
    fs::create_dir_all(admin).map_err(|e| io("creating", admin, e))?;
    let write =
        |path: PathBuf, text: String| fs::write(&path, text).map_err(|e| io("writing", &path, e));
    write(admin.join("HEAD"), format!("{oid}\n"))?;
    write(admin.join("commondir"), "../..\n".to_string())?;
    // libgit2 takes a worktree's directory from `gitdir`: point it at the
    // temporary directory for the checkout, then at the final place.
    write(
        admin.join("gitdir"),
        format!("{}\n", tmp.join(".git").display()),
    )?;
    fs::create_dir(tmp).map_err(|e| io("creating", tmp, e))?;
    write(tmp.join(".git"), format!("gitdir: {}\n", admin.display()))?;
    let wt = Repository::open(tmp).map_err(|e| Failure::Git("opening the new worktree", e))?;
    // The directory is new and empty: files are written on several threads,
    // unless the commit's `.gitattributes` asks for content filters.
    if !write_tree(&wt, oid, tmp)? {
        let commit = wt
            .find_commit(oid)
            .map_err(|e| Failure::Git("reading the commit", e))?;
        let mut checkout = CheckoutBuilder::new();
        checkout.force().refresh(false);
        wt.checkout_tree(commit.as_object(), Some(&mut checkout))
            .map_err(|e| Failure::Git("checking out", e))?;
    }
    wt.set_head_detached(oid)
        .map_err(|e| Failure::Git("setting HEAD", e))?;
    write(
        admin.join("gitdir"),
        format!("{}\n", dest.join(".git").display()),
    )?;
    Ok(())
}

/// Removes one worktree and its administrative directory.
pub(crate) fn remove(path: &Path) -> std::io::Result<()> {
    if let Ok(text) = fs::read_to_string(path.join(".git")) {
        if let Some(admin) = text.trim().strip_prefix("gitdir:") {
            let admin = Path::new(admin.trim());
            if admin.join("commondir").is_file() {
                let _ = fs::remove_dir_all(admin);
            }
        }
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes half-made worktrees left by a crash under `root`, then the
/// repository's entries for worktrees that no longer exist.
pub(crate) fn prune(repo: &Repository, root: &Path) {
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = remove(&entry.path());
            }
        }
    }
    let Ok(names) = repo.worktrees() else { return };
    for name in names.iter().flatten() {
        let Ok(wt) = repo.find_worktree(name) else {
            continue;
        };
        if wt.validate().is_err() {
            let _ = wt.prune(Some(WorktreePruneOptions::new().valid(false)));
        }
    }
}

/// The worktrees under `root` (directories named by a commit SHA).
pub(crate) fn list(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(root) else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            (name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (name, e.path()))
        })
        .collect()
}

fn nonce() -> String {
    use rand::Rng;
    format!("{:08x}", rand::thread_rng().gen::<u32>())
}
