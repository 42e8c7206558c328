//! The engine's worktrees: each commit of each pack is checked out once,
//! shared by every run that asks for it, and pruned least recently used first
//! when a pack has more than the limit and they are not in use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::OnceCell;

use super::repo::{open, resolve};
use super::{blocking, worktree, GitError};
use crate::pack::{self, Pack};

/// Default number of unused worktrees kept per pack.
pub const DEFAULT_KEEP: usize = 16;

/// A pack checked out at one commit, with its metadata read from there.
#[derive(Debug)]
pub struct Checkout {
    pub pack: Pack,
    pub sha: String,
    pub dir: PathBuf,
}

#[derive(Default)]
struct Slot {
    checkout: OnceCell<Arc<Checkout>>,
    leases: AtomicUsize,
    last_used: Mutex<Option<Instant>>,
}

/// Keeps a worktree from being pruned while a run uses it.
pub struct WorktreeLease {
    slot: Arc<Slot>,
    checkout: Arc<Checkout>,
    fresh: bool,
}

impl WorktreeLease {
    pub fn checkout(&self) -> &Checkout {
        &self.checkout
    }

    /// This call created the worktree (it was not on disk or was not known yet).
    pub fn fresh(&self) -> bool {
        self.fresh
    }
}

impl Drop for WorktreeLease {
    fn drop(&mut self) {
        *self
            .slot
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.slot.leases.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for WorktreeLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorktreeLease({})", self.checkout.dir.display())
    }
}

type Key = (String, String);

pub struct Worktrees {
    root: PathBuf,
    keep: usize,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

impl Worktrees {
    /// Worktrees live under `root/<pack>/<sha>`.
    pub fn new(root: PathBuf, keep: usize) -> Worktrees {
        Worktrees {
            root,
            keep: keep.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `rev` in the pack's repository and returns its checkout,
    /// creating the worktree the first time that commit is asked for.
    pub async fn checkout(
        &self,
        pack_name: &str,
        pack_dir: &Path,
        rev: &str,
    ) -> Result<WorktreeLease, GitError> {
        let (name, dir, r) = (
            pack_name.to_string(),
            pack_dir.to_path_buf(),
            rev.to_string(),
        );
        let sha = blocking(move || {
            let repo = open(&name, &dir, &r)?;
            resolve(&repo, &name, &r).map(|oid| oid.to_string())
        })
        .await?;
        let key = (pack_name.to_string(), sha.clone());
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let entry = slots.entry(key).or_default();
            // Removed from disk behind this engine's back (the pack removed
            // or installed again from the command line while it runs): made
            // again instead of handing out a directory that is gone.
            if entry.checkout.get().is_some_and(|c| !c.dir.is_dir()) {
                *entry = Arc::new(Slot::default());
            }
            let slot = entry.clone();
            slot.leases.fetch_add(1, Ordering::AcqRel);
            slot
        };
        let fresh = std::sync::atomic::AtomicBool::new(false);
        let made = slot
            .checkout
            .get_or_try_init(|| {
                fresh.store(true, Ordering::Relaxed);
                let (name, dir, r, root) = (
                    pack_name.to_string(),
                    pack_dir.to_path_buf(),
                    rev.to_string(),
                    self.root.join(pack_name),
                );
                blocking(move || create(&name, &dir, &r, &sha, &root))
            })
            .await;
        let checkout = match made {
            Ok(c) => c.clone(),
            Err(e) => {
                slot.leases.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
        };
        *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(WorktreeLease {
            slot,
            checkout,
            fresh: fresh.into_inner(),
        })
    }

    /// Removes the least recently used worktrees of `pack` beyond the limit
    /// that no run holds, then prunes the repository's worktree entries.
    pub fn prune(&self, pack_name: &str, pack_dir: &Path) -> Vec<PathBuf> {
        let root = self.root.join(pack_name);
        let mut candidates: Vec<(Option<Instant>, SystemTime, String, PathBuf)> = Vec::new();
        let mut removed = Vec::new();
        {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let on_disk = worktree::list(&root);
            let total = on_disk.len();
            if total <= self.keep {
                return removed;
            }
            for (sha, path) in on_disk {
                let key = (pack_name.to_string(), sha.clone());
                let last = match slots.get(&key) {
                    Some(slot) if slot.leases.load(Ordering::Acquire) > 0 => continue,
                    Some(slot) => *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()),
                    None => None,
                };
                let mtime = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                candidates.push((last, mtime, sha, path));
            }
            let excess = total.saturating_sub(self.keep);
            // Worktrees unused since this engine started first (oldest on
            // disk first), then the least recently used.
            candidates.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, _, sha, path) in candidates.into_iter().take(excess) {
                slots.remove(&(pack_name.to_string(), sha));
                removed.push(path);
            }
        }
        for path in &removed {
            if let Err(e) = worktree::remove(path) {
                tracing::warn!(path = %path.display(), error = %e, "could not remove worktree");
            }
        }
        if let Ok(repo) = open(pack_name, pack_dir, "HEAD") {
            worktree::prune(&repo, &root);
        }
        removed
    }

    /// At start: removes half-made worktrees and stale repository entries.
    pub fn clean(&self, pack_name: &str, pack_dir: &Path) {
        if let Ok(repo) = open(pack_name, pack_dir, "HEAD") {
            worktree::prune(&repo, &self.root.join(pack_name));
        }
    }

    /// Forgets every worktree of a pack (it was reinstalled): removes them all.
    pub fn remove_all(&self, pack_name: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| k.0 != pack_name);
        let dir = self.root.join(pack_name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %dir.display(), error = %e, "the pack's worktrees were left behind");
            }
        }
    }
}

fn create(
    name: &str,
    dir: &Path,
    rev: &str,
    sha: &str,
    root: &Path,
) -> Result<Arc<Checkout>, GitError> {
    let repo = open(name, dir, rev)?;
    let oid = git2::Oid::from_str(sha)
        .map_err(|e| GitError::classify(name, rev, "reading the commit id", e))?;
    let path = worktree::ensure(&repo, name, rev, oid, root)?;
    let pack = pack::load_pack(&path).map_err(|e| GitError::PackAtRevision {
        pack: name.to_string(),
        rev: rev.to_string(),
        message: e.to_string(),
    })?;
    Ok(Arc::new(Checkout {
        pack,
        sha: sha.to_string(),
        dir: path,
    }))
}
