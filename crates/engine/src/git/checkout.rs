//! Writing a commit's files into an empty directory, on several threads.
//!
//! libgit2's checkout writes one file at a time; for a fresh worktree there is
//! nothing to compare with, so the blobs are split across threads (each with
//! its own repository handle: libgit2 handles are not shared across threads),
//! then the index is written from the tree. Content filters (`.gitattributes`)
//! are not applied here: commits that have one go through libgit2's checkout.

use std::path::{Path, PathBuf};

use git2::{FileMode, Oid, Repository, TreeWalkMode, TreeWalkResult};

pub(crate) enum Failure {
    Io(String),
    Git(&'static str, git2::Error),
}

struct Entry {
    path: PathBuf,
    oid: Oid,
    mode: i32,
}

/// Writes the tree of `commit` into `workdir` (the worktree opened as `wt`)
/// and its index. Returns `false`, having written nothing, when the commit
/// has a `.gitattributes` anywhere: its filters need libgit2's checkout.
pub(crate) fn write_tree(wt: &Repository, commit: Oid, workdir: &Path) -> Result<bool, Failure> {
    let tree = wt
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| Failure::Git("reading the commit", e))?;
    let mut entries = Vec::new();
    let mut dirs = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        let Some(name) = entry.name() else {
            return TreeWalkResult::Skip;
        };
        let path = Path::new(root).join(name);
        match entry.filemode() {
            m if m == i32::from(FileMode::Tree) => dirs.push(path),
            // A submodule: git leaves an empty directory.
            m if m == i32::from(FileMode::Commit) => dirs.push(path),
            mode => entries.push(Entry {
                path,
                oid: entry.id(),
                mode,
            }),
        }
        TreeWalkResult::Ok
    })
    .map_err(|e| Failure::Git("reading the tree", e))?;
    if entries
        .iter()
        .any(|e| e.path.file_name().is_some_and(|n| n == ".gitattributes"))
    {
        return Ok(false);
    }
    for d in &dirs {
        let p = workdir.join(d);
        std::fs::create_dir_all(&p)
            .map_err(|e| Failure::Io(format!("creating {}: {e}", p.display())))?;
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = entries.len().div_ceil(threads).max(1);
    let repo_path = wt.path().to_path_buf();
    std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                let repo_path = repo_path.clone();
                s.spawn(move || write_blobs(&repo_path, part, workdir))
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(Failure::Io("a checkout thread panicked".into())))
        })
    })?;
    let mut index = wt
        .index()
        .map_err(|e| Failure::Git("opening the index", e))?;
    index
        .read_tree(&tree)
        .and_then(|()| index.write())
        .map_err(|e| Failure::Git("writing the index", e))?;
    Ok(true)
}

fn write_blobs(repo_path: &Path, entries: &[Entry], workdir: &Path) -> Result<(), Failure> {
    let repo =
        Repository::open(repo_path).map_err(|e| Failure::Git("opening the repository", e))?;
    let odb = repo
        .odb()
        .map_err(|e| Failure::Git("opening the object database", e))?;
    for e in entries {
        let object = odb
            .read(e.oid)
            .map_err(|err| Failure::Git("reading a file", err))?;
        let path = workdir.join(&e.path);
        let io = |err: std::io::Error| Failure::Io(format!("writing {}: {err}", path.display()));
        if e.mode == i32::from(FileMode::Link) {
            let target = String::from_utf8_lossy(object.data()).to_string();
            std::os::unix::fs::symlink(target, &path).map_err(io)?;
            continue;
        }
        std::fs::write(&path, object.data()).map_err(io)?;
        if e.mode == i32::from(FileMode::BlobExecutable) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
    }
    Ok(())
}
