//! The engine's side of git packs: running at a revision, listing revisions,
//! installing and updating packs.

use std::path::PathBuf;

use crate::catalog::{self, ActionDetail};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::git::{self, Checkout, GitError, Installed, Revisions, Updated, WorktreeLease};
use crate::internal_runs::InternalOutput;
use crate::pack::{close_matches, Action, Pack};

/// The action `action_ref` as it is at the checkout's revision.
pub(crate) fn action_in_checkout<'c>(
    checkout: &'c Checkout,
    action_ref: &str,
    rev: &str,
) -> Result<(&'c Pack, &'c Action), EngineError> {
    let (pack_name, action_name) = action_ref
        .split_once('.')
        .ok_or_else(|| EngineError::UnknownAction(action_ref.to_string()))?;
    let pack = &checkout.pack;
    match catalog::find_action(pack, action_ref, action_name) {
        Err(EngineError::UnknownAction(_)) => Err(GitError::ActionNotAtRevision {
            pack: pack_name.to_string(),
            rev: rev.to_string(),
            action: action_ref.to_string(),
            closest: close_matches(action_name, pack.actions.keys().map(String::as_str))
                .into_iter()
                .map(|a| format!("{pack_name}.{a}"))
                .collect(),
        }
        .into()),
        other => other.map(|a| (pack, a)),
    }
}

impl Engine {
    /// The installed pack's name and directory, by pack name or action ref.
    pub(crate) fn pack_location(
        &self,
        pack_or_action: &str,
    ) -> Result<(String, PathBuf), EngineError> {
        let pack_name = pack_or_action
            .split_once('.')
            .map(|(p, _)| p)
            .unwrap_or(pack_or_action);
        let catalog = self.inner.catalog.read().unwrap_or_else(|e| e.into_inner());
        let pack = catalog.pack(pack_name).map_err(|_| {
            if pack_or_action.contains('.') {
                EngineError::UnknownAction(pack_or_action.to_string())
            } else {
                EngineError::UnknownPack(pack_or_action.to_string())
            }
        })?;
        Ok((pack.name.clone(), pack.dir.clone()))
    }

    /// The worktree of the action's pack at `rev`, created on first use.
    pub(crate) async fn checkout_for(
        &self,
        action_ref: &str,
        rev: &str,
    ) -> Result<WorktreeLease, EngineError> {
        let (name, dir) = self.pack_location(action_ref)?;
        let lease = self.inner.worktrees.checkout(&name, &dir, rev).await?;
        if lease.fresh() {
            let engine = self.clone();
            tokio::task::spawn_blocking(move || engine.inner.worktrees.prune(&name, &dir));
        }
        Ok(lease)
    }

    /// Holds the worktree until the execution completes.
    pub(crate) fn keep_worktree(&self, id: &str, lease: WorktreeLease) {
        self.inner
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), lease);
    }

    /// Tags, branches and recent commits of a pack.
    pub async fn revisions(&self, pack: &str) -> Result<Revisions, EngineError> {
        let (name, dir) = self.pack_location(pack)?;
        Ok(git::blocking(move || git::list_revisions(&name, &dir)).await?)
    }

    /// An action's detail, at `content_version` when given.
    pub async fn action_at(
        &self,
        action_ref: &str,
        content_version: Option<&str>,
    ) -> Result<ActionDetail, EngineError> {
        let Some(rev) = content_version.filter(|r| !r.is_empty()) else {
            return self.action(action_ref);
        };
        let lease = self.checkout_for(action_ref, rev).await?;
        let (pack, action) = action_in_checkout(lease.checkout(), action_ref, rev)?;
        Ok(catalog::detail(pack, action))
    }

    /// Installs a pack from git into `<data>/packs` and loads it.
    pub async fn install_pack(
        &self,
        source: &str,
        rev: Option<&str>,
        force: bool,
    ) -> Result<Installed, EngineError> {
        self.install_pack_reporting(source, rev, force, &InternalOutput::discard())
            .await
    }

    /// [`Engine::install_pack`], reporting progress (the clone's transfer,
    /// what loaded, the Python environment's build) to `out`.
    pub async fn install_pack_reporting(
        &self,
        source: &str,
        rev: Option<&str>,
        force: bool,
        out: &InternalOutput,
    ) -> Result<Installed, EngineError> {
        let packs = self.inner.paths.packs();
        let (source, rev) = (source.to_string(), rev.map(str::to_string));
        let transfer = out.clone();
        let installed = git::blocking(move || {
            let mut progress = crate::pack_jobs::transfer_progress(&transfer);
            git::install_pack(&packs, &source, rev.as_deref(), force, &mut progress)
        })
        .await?;
        if force {
            self.inner.worktrees.remove_all(&installed.pack);
        }
        self.reload_packs();
        // As `st2 pack install`: the pack's requirements go into its environment.
        self.setup_python_env(
            &installed.pack,
            None,
            false,
            crate::pack_jobs::env_progress(out),
        )
        .await?;
        Ok(installed)
    }

    /// Fetches a pack's origin and fast-forwards its branch, then reloads it.
    pub async fn update_pack(&self, pack: &str) -> Result<Updated, EngineError> {
        self.update_pack_reporting(pack, &InternalOutput::discard())
            .await
    }

    /// [`Engine::update_pack`], reporting progress to `out`.
    pub async fn update_pack_reporting(
        &self,
        pack: &str,
        out: &InternalOutput,
    ) -> Result<Updated, EngineError> {
        let (name, dir) = self.pack_location(pack)?;
        let transfer = out.clone();
        let updated = git::blocking(move || {
            let mut progress = crate::pack_jobs::transfer_progress(&transfer);
            git::update_pack(&name, &dir, &mut progress)
        })
        .await?;
        self.reload_packs();
        self.setup_python_env(
            &updated.pack,
            None,
            false,
            crate::pack_jobs::env_progress(out),
        )
        .await?;
        Ok(updated)
    }
}
