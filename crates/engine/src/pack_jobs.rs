//! Installing and updating packs as executions of the engine's own work:
//! `packs.install` (StackStorm's `POST /v1/packs/install` answers with one)
//! and Stormdesk's `packs.update`. Their output is the progress: the git
//! transfer, what of the pack loaded and what did not, the Python
//! environment's build. Consoles follow it like any run's output.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::git::{Installed, Progress};
use crate::internal_runs::InternalOutput;
use crate::model::Execution;
use crate::pyenv::EnvEvent;
use crate::python_envs::EnvProgress;

/// Where StackStorm's `st2 pack install NAME[=VERSION]` takes a pack from: a
/// git URL or path as given, else the StackStorm Exchange repository of that
/// name (`StackStorm-Exchange/stackstorm-<name>`).
pub fn pack_source(spec: &str) -> (String, Option<String>) {
    // NAME=VERSION or URL=VERSION; an `=` in a URL's query is no version.
    let (source, version) = match spec.rsplit_once('=') {
        Some((s, v)) if !s.is_empty() && !v.is_empty() && !v.contains('/') && !s.contains('?') => {
            (s.to_string(), Some(v.to_string()))
        }
        _ => (spec.to_string(), None),
    };
    let looks_like_location = source.contains("://")
        || source.starts_with('/')
        || source.starts_with('.')
        || source.starts_with("git@");
    if looks_like_location {
        (source, version)
    } else {
        (
            format!("https://github.com/StackStorm-Exchange/stackstorm-{source}"),
            version,
        )
    }
}

/// A git transfer's progress as lines: one per tenth of the objects, and the last.
pub(crate) fn transfer_progress(out: &InternalOutput) -> impl FnMut(Progress) {
    let out = out.clone();
    let mut last_tenth = None;
    move |p: Progress| {
        if p.total_objects == 0 {
            return;
        }
        let tenth = p.received_objects * 10 / p.total_objects;
        if last_tenth == Some(tenth) {
            return;
        }
        last_tenth = Some(tenth);
        out.line(format!(
            "receiving objects: {}% ({}/{}), {:.1} KiB",
            p.received_objects * 100 / p.total_objects,
            p.received_objects,
            p.total_objects,
            p.received_bytes as f64 / 1024.0
        ));
    }
}

/// The Python environment's build as lines.
pub(crate) fn env_progress(out: &InternalOutput) -> EnvProgress {
    let out = out.clone();
    Arc::new(move |event: &EnvEvent| {
        match event {
        EnvEvent::Building {
            env,
            tool,
            requirements,
            ..
        } => out.line(format!(
            "python environment for {env}: installing {requirements} requirement line(s) with {tool}"
        )),
        EnvEvent::Output { line, .. } => out.line(format!("  {line}")),
        EnvEvent::Built { env, millis, .. } => out.line(format!(
            "python environment for {env} ready ({:.1} s)",
            *millis as f64 / 1000.0
        )),
    }
    })
}

/// What loaded of an installed pack, as lines (problems on stderr).
fn report(out: &InternalOutput, installed: &Installed) {
    let r = &installed.report;
    out.line(format!(
        "pack {} at {}{}: {} action(s) can run",
        installed.pack,
        installed
            .sha
            .as_deref()
            .map_or("a plain directory".to_string(), |s| s[..s.len().min(12)]
                .to_string()),
        installed
            .revision
            .as_deref()
            .map_or(String::new(), |r| format!(" ({r})")),
        r.actions
    ));
    for e in &r.errors {
        out.warn(format!("not loaded: {e}"));
    }
    for u in &r.unsupported {
        out.warn(format!("unsupported: {u}"));
    }
    for i in &r.ignored {
        out.line(format!("ignored: {i}"));
    }
}

impl Engine {
    /// Installs each of `specs` (a git URL or path, `NAME` from the
    /// Exchange, `SPEC=VERSION`) in a `packs.install` execution by `user`;
    /// returns the execution at once. Its result lists what was installed.
    pub async fn install_packs_run(
        &self,
        specs: Vec<String>,
        force: bool,
        user: &str,
    ) -> Result<Execution, EngineError> {
        let mut parameters = Map::new();
        parameters.insert("packs".into(), json!(specs));
        parameters.insert("force".into(), json!(force));
        let worker = self.clone();
        self.run_internal("packs.install", parameters, user, move |out| async move {
            let mut installed = Vec::new();
            let mut packs_list = Vec::new();
            let mut warning_list = Vec::new();
            for spec in specs {
                let (source, version) = pack_source(&spec);
                out.line(format!(
                    "installing {source}{}",
                    version
                        .as_deref()
                        .map_or(String::new(), |v| format!(" at {v}"))
                ));
                let done = worker
                    .install_pack_reporting(&source, version.as_deref(), force, &out)
                    .await?;
                report(&out, &done);
                let r = &done.report;
                warning_list.extend(
                    r.errors
                        .iter()
                        .map(|e| format!("pack {}: not loaded: {e}", done.pack)),
                );
                warning_list.extend(
                    r.unsupported
                        .iter()
                        .map(|u| format!("pack {}: unsupported: {u}", done.pack)),
                );
                packs_list.push(done.pack.clone());
                installed.push(json!({
                    "pack": done.pack, "sha": done.sha, "revision": done.revision, "source": source,
                }));
            }
            // `output` as StackStorm's `packs.install` workflow gives it
            // (`contrib/packs/actions/workflows/install.yaml`): `st2 pack
            // install` reads `packs_list` and prints `warning_list`.
            Ok(json!({
                "installed": installed,
                "output": {
                    "packs_list": packs_list,
                    "message": "Successfully installed packs",
                    "conflict_list": null,
                    "warning_list": warning_list,
                },
            }))
        })
        .await
    }

    /// Updates each of `packs` (fetch, fast-forward, environment) in a
    /// `packs.update` execution by `user`; returns the execution at once.
    pub async fn update_packs_run(
        &self,
        packs: Vec<String>,
        user: &str,
    ) -> Result<Execution, EngineError> {
        for pack in &packs {
            // Unknown packs are refused before anything runs.
            self.pack_location(pack)?;
        }
        let mut parameters = Map::new();
        parameters.insert("packs".into(), json!(packs));
        let worker = self.clone();
        self.run_internal("packs.update", parameters, user, move |out| async move {
            let mut updated = Vec::new();
            for pack in packs {
                out.line(format!("updating {pack}"));
                let done = worker.update_pack_reporting(&pack, &out).await?;
                let short = |s: &str| s[..s.len().min(12)].to_string();
                out.line(if done.before == done.after {
                    format!("{pack} is up to date at {}", short(&done.after))
                } else {
                    format!("{pack}: {} -> {}", short(&done.before), short(&done.after))
                });
                if !done.new_tags.is_empty() {
                    out.line(format!("new tags: {}", done.new_tags.join(", ")));
                }
                updated.push(serde_json::to_value(&done).unwrap_or(Value::Null));
            }
            Ok(json!({ "updated": updated }))
        })
        .await
    }
}

/// StackStorm's system packs (`st2common/constants/pack.py`,
/// `SYSTEM_PACK_NAMES`), which `packs.uninstall` refuses to remove.
const SYSTEM_PACKS: [&str; 4] = ["chatops", "core", "packs", "linux"];

impl Engine {
    /// Removes an installed pack (StackStorm's `packs.delete`): its
    /// directory under `<data>/packs`, its worktrees and its Python
    /// environments; then the packs load again. Returns the directory
    /// removed. Errors: a system pack (StackStorm's message), a pack that is
    /// not loaded, or one that lives elsewhere (bundled with Stormdesk, or in
    /// a directory given with `--packs`: not Stormdesk's to delete).
    pub fn uninstall_pack(&self, name: &str) -> Result<std::path::PathBuf, EngineError> {
        if SYSTEM_PACKS.contains(&name) {
            return Err(EngineError::BadRequest(format!(
                "Uninstall includes an uninstallable pack - {name}. ({} are StackStorm's system packs)",
                SYSTEM_PACKS.join(", ")
            )));
        }
        let installed = self.paths().packs().join(name);
        let dir = self.pack_location(name)?.1;
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        };
        if !same(&dir, &installed) {
            return Err(EngineError::BadRequest(format!(
                "pack '{name}' is loaded from {}, which Stormdesk did not install (it was bundled, or its directory was given with --packs); only packs in {} are removed. Remove it there yourself, or stop giving its directory",
                dir.display(),
                self.paths().packs().display()
            )));
        }
        std::fs::remove_dir_all(&installed)
            .map_err(|e| EngineError::io("cannot remove the pack", &installed, e))?;
        // Its worktrees, and what this engine knows of them.
        self.inner.worktrees.remove_all(name);
        let envs = self.paths().virtualenvs().join("packs").join(name);
        if let Err(e) = std::fs::remove_dir_all(&envs) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %envs.display(), error = %e, "left behind by the pack's removal");
            }
        }
        self.reload_packs();
        Ok(installed)
    }

    /// Removes each of `packs` in a `packs.uninstall` execution by `user`
    /// (StackStorm's `POST /v1/packs/uninstall`); returns the execution at
    /// once. A pack that cannot be removed fails it, after the ones before.
    pub async fn uninstall_packs_run(
        &self,
        packs: Vec<String>,
        user: &str,
    ) -> Result<Execution, EngineError> {
        let mut parameters = Map::new();
        parameters.insert("packs".into(), json!(packs));
        let worker = self.clone();
        self.run_internal("packs.uninstall", parameters, user, move |out| async move {
            let mut removed = Vec::new();
            for pack in packs {
                let dir = worker.uninstall_pack(&pack)?;
                out.line(format!("removed pack {pack} ({})", dir.display()));
                removed.push(pack);
            }
            Ok(json!({ "uninstalled": removed }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::pack_source;

    #[test]
    fn pack_names_come_from_the_exchange() {
        assert_eq!(
            pack_source("csv"),
            (
                "https://github.com/StackStorm-Exchange/stackstorm-csv".into(),
                None
            )
        );
        assert_eq!(
            pack_source("csv=1.2.0"),
            (
                "https://github.com/StackStorm-Exchange/stackstorm-csv".into(),
                Some("1.2.0".into())
            )
        );
        assert_eq!(pack_source("/tmp/my-pack"), ("/tmp/my-pack".into(), None));
        assert_eq!(
            pack_source("https://example.com/p.git=v1"),
            ("https://example.com/p.git".into(), Some("v1".into()))
        );
    }
}
