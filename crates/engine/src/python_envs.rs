//! The engine's side of Python environments: the environment of each
//! `python-script` run (its revision's `requirements.txt`), held until the
//! execution completes, and building them when a pack is installed or
//! updated, or on demand (`stormdesk pack setup-venv`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::pyenv::{log_progress, EnvEvent, PyEnvError, PyEnvLease, REQUIREMENTS_FILE};

/// StackStorm's runner type of Python actions.
pub(crate) const PYTHON_RUNNER: &str = "python-script";

/// Runner types that drive pywinrm in the base layer (`crates/runner`'s
/// `winrm` module).
pub(crate) const WINRM_RUNNERS: &[&str] = &["winrm-cmd", "winrm-ps-cmd", "winrm-ps-script"];

/// Progress callbacks the engine's callers pass (the CLI's progress line).
pub type EnvProgress = Arc<dyn Fn(&EnvEvent) + Send + Sync>;

/// A pack's environment after `setup_python_env`.
#[derive(Debug, Clone, Serialize)]
pub struct PythonEnvSummary {
    pub pack: String,
    /// The commit the requirements were read at, when the pack is a git repository.
    pub commit: Option<String>,
    /// The pack's requirements file, `None` when it has none (the base layer alone).
    pub requirements: Option<PathBuf>,
    /// The environment's key and directory.
    pub key: String,
    pub dir: PathBuf,
    /// The interpreter actions run with.
    pub python: PathBuf,
    /// The base layer under it.
    pub base: PathBuf,
    /// Built by this call (else it existed).
    pub built: bool,
}

fn task_failed(e: tokio::task::JoinError) -> EngineError {
    PyEnvError::Io {
        doing: "finish the task building".into(),
        path: PathBuf::from("the Python environment"),
        message: e.to_string(),
    }
    .into()
}

impl From<PyEnvError> for EngineError {
    fn from(e: PyEnvError) -> Self {
        EngineError::PythonEnv(Box::new(e))
    }
}

impl Engine {
    /// The engine's Python environments (to list, prune or count builds).
    pub fn python_envs(&self) -> &crate::pyenv::PyEnvs {
        &self.inner.pyenvs
    }

    /// The environment a Python action of `pack` runs with when the pack's
    /// files are at `pack_dir` (a revision's worktree or the pack itself).
    pub(crate) async fn python_env_for_run(
        &self,
        pack: &str,
        pack_dir: &Path,
        revision: Option<&str>,
    ) -> Result<PyEnvLease, EngineError> {
        let engine = self.clone();
        let (pack, dir, rev) = (
            pack.to_string(),
            pack_dir.to_path_buf(),
            revision.map(str::to_string),
        );
        let lease = tokio::task::spawn_blocking(move || {
            engine
                .inner
                .pyenvs
                .for_pack(&pack, &dir, rev.as_deref(), &log_progress)
        })
        .await
        .map_err(task_failed)??;
        Ok(lease)
    }

    /// The base layer, for the WinRM runners' driver (pywinrm), built on
    /// first use.
    pub(crate) async fn python_base_for_run(&self) -> Result<PyEnvLease, EngineError> {
        let engine = self.clone();
        let lease = tokio::task::spawn_blocking(move || engine.inner.pyenvs.base(&log_progress))
            .await
            .map_err(task_failed)??;
        Ok(lease)
    }

    /// Holds the environment until the execution completes.
    pub(crate) fn keep_python_env(&self, id: &str, lease: PyEnvLease) {
        self.inner
            .pyenv_leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), lease);
    }

    /// Builds (or, with `rebuild`, makes anew) the environment of `pack` at
    /// `content_version` (default: as checked out), with progress.
    pub async fn setup_python_env(
        &self,
        pack: &str,
        content_version: Option<&str>,
        rebuild: bool,
        progress: EnvProgress,
    ) -> Result<PythonEnvSummary, EngineError> {
        let (name, dir, commit, worktree) = match content_version.filter(|r| !r.is_empty()) {
            Some(rev) => {
                let lease = self.checkout_for(pack, rev).await?;
                let checkout = lease.checkout();
                (
                    checkout.pack.name.clone(),
                    checkout.dir.clone(),
                    Some(checkout.sha.clone()),
                    Some(lease),
                )
            }
            None => {
                let (name, dir) = {
                    let catalog = self.inner.catalog.read().unwrap_or_else(|e| e.into_inner());
                    let p = catalog
                        .pack(pack)
                        .map_err(|_| EngineError::UnknownPack(pack.to_string()))?;
                    (p.name.clone(), p.dir.clone())
                };
                let commit = crate::git::head_commit(&dir);
                (name, dir, commit, None)
            }
        };
        let engine = self.clone();
        let rev = content_version.map(str::to_string);
        let (n, d) = (name.clone(), dir.clone());
        let lease = tokio::task::spawn_blocking(move || {
            let report = |e: &EnvEvent| {
                log_progress(e);
                progress(e);
            };
            let envs = &engine.inner.pyenvs;
            if rebuild {
                envs.rebuild_for_pack(&n, &d, rev.as_deref(), &report)
            } else {
                envs.for_pack(&n, &d, rev.as_deref(), &report)
            }
        })
        .await
        .map_err(task_failed)??;
        drop(worktree);
        let requirements = dir.join(REQUIREMENTS_FILE);
        let base = lease
            .base()
            .map(|b| b.env().dir.clone())
            .unwrap_or_else(|| lease.env().dir.clone());
        Ok(PythonEnvSummary {
            pack: name,
            commit,
            requirements: requirements.is_file().then_some(requirements),
            key: lease.env().key.clone(),
            dir: lease.env().dir.clone(),
            python: lease.python().to_path_buf(),
            base,
            built: lease.fresh() || lease.base().is_some_and(|b| b.fresh()),
        })
    }

    /// Starts building the base layer in the background (long-lived engines),
    /// so the first Python run does not wait for it.
    pub(crate) fn prewarm_python(&self) {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = engine.inner.pyenvs.base(&log_progress) {
                tracing::warn!(error = %e, "the base Python environment could not be built");
            }
        });
    }
}
