//! Nothing is lost: spooled results, runners that outlived an engine, and the
//! `listener.json` that tells other processes where this engine listens.

use std::path::Path;

use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::engine::{Engine, Live};
use crate::error::EngineError;
use crate::model::{Execution, Status};
use crate::paths::Paths;
use stormdesk_runner::protocol::SpoolRecord;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct ListenerInfo {
    pub url: String,
    pub pid: u32,
    /// The address people use for this engine (`stormdesk serve --listen`),
    /// when it has one; `url` is its runners' and tools' own listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
}

/// Reads `<data>/listener.json` if the engine that wrote it is still alive.
pub fn live_listener(paths: &Paths) -> Option<ListenerInfo> {
    let text = std::fs::read_to_string(paths.listener_file()).ok()?;
    let info: ListenerInfo = serde_json::from_str(&text).ok()?;
    pid_alive(info.pid).then_some(info)
}

/// Publishes this engine's URL unless another live engine already has.
pub(crate) fn advertise(
    paths: &Paths,
    url: &str,
    console: Option<&str>,
) -> Result<(), EngineError> {
    if let Some(other) = live_listener(paths) {
        if other.pid != std::process::id() {
            return Ok(());
        }
    }
    let info = ListenerInfo {
        url: url.to_string(),
        pid: std::process::id(),
        console: console.map(str::to_string),
    };
    let path = paths.listener_file();
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&info).unwrap_or_default())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| EngineError::io("cannot write listener file", &path, e))
}

pub(crate) fn unadvertise(paths: &Paths, url: &str) {
    if let Some(info) = live_listener(paths) {
        if info.pid == std::process::id() && info.url == url {
            let _ = std::fs::remove_file(paths.listener_file());
        }
    }
}

pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid <= 1 {
        return false;
    }
    match kill(Pid::from_raw(pid as i32), None) {
        Ok(()) => !is_zombie(pid),
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(false)
}

/// At start: adopt executions left running by an earlier engine, apply the
/// spool, and abandon what nobody can finish any more. Returns what the
/// engine runs itself (workflows, chains, Inquiries), which
/// [`crate::nesting::recover`] takes up again.
pub(crate) async fn at_start(engine: &Engine) -> Result<Vec<Execution>, EngineError> {
    let mut workflows = Vec::new();
    for u in engine.inner.store.unfinished().await? {
        if crate::nesting::in_process(u.execution.runner_name()) {
            workflows.push(u.execution);
            continue;
        }
        let child_pid = u
            .execution
            .context
            .get("pid")
            .and_then(Value::as_u64)
            .map(|p| p as u32);
        engine
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                u.execution.id.clone(),
                Live {
                    execution: u.execution,
                    token: crate::token::stored_callback_token(u.callback_token),
                    action_token_hash: u.action_token_hash,
                    runner_pid: u.runner_pid,
                    child_pid,
                    control: None,
                    adopted: true,
                    finishing: false,
                },
            );
    }
    sweep(engine, true).await?;
    Ok(workflows)
}

/// Applies every spool file, then abandons adopted executions whose runner is gone.
pub(crate) async fn periodic(engine: &Engine) -> Result<(), EngineError> {
    sweep(engine, false).await
}

/// At start, an adopted execution whose runner pid was never saved (the engine
/// died right after starting it) is given until the next sweep: its runner may
/// be alive and will report to this engine (runners look the listener up again).
async fn sweep(engine: &Engine, at_start: bool) -> Result<(), EngineError> {
    let dir = engine.inner.paths.spool();
    let entries =
        std::fs::read_dir(&dir).map_err(|e| EngineError::io("cannot read spool", &dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
            if let Err(e) = spool_file(engine, id).await {
                tracing::warn!(file = %path.display(), error = %e, "spool file not applied");
            }
        }
    }
    let orphans: Vec<String> = {
        let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.iter()
            .filter(|(_, l)| {
                l.adopted
                    && match l.runner_pid {
                        Some(pid) => !pid_alive(pid),
                        None => !at_start,
                    }
            })
            .map(|(id, _)| id.clone())
            .collect()
    };
    for id in orphans {
        // The runner may have spooled just before exiting.
        spool_file(engine, &id).await?;
        engine
            .finish(
                &id,
                Status::Abandoned,
                json!({"error": "the runner stopped while no engine was listening and left no result"}),
            )
            .await?;
    }
    Ok(())
}

/// Applies `<spool>/<id>.json` if present, then removes it. A file that can
/// never be applied (not a runner record) is moved to `<spool>/rejected/`
/// and its execution fails with a message saying where the file is: it is
/// neither retried for ever nor lost.
pub(crate) async fn spool_file(engine: &Engine, id: &str) -> Result<(), EngineError> {
    let path = engine.inner.paths.spool().join(format!("{id}.json"));
    let record = match read_spool(&path) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(()),
        Err(e) => return reject_spool(engine, id, &path, e).await,
    };
    engine.apply_output(id, record.chunks).await?;
    engine.apply_update(id, record.update).await?;
    std::fs::remove_file(&path).map_err(|e| EngineError::io("cannot remove spool file", &path, e))
}

async fn reject_spool(
    engine: &Engine,
    id: &str,
    path: &Path,
    e: EngineError,
) -> Result<(), EngineError> {
    if matches!(e, EngineError::Io { .. }) {
        return Err(e);
    }
    let dir = engine.inner.paths.spool().join("rejected");
    std::fs::create_dir_all(&dir)
        .map_err(|e| EngineError::io("cannot move a spool file aside", &dir, e))?;
    let kept = dir.join(format!("{id}.json"));
    std::fs::rename(path, &kept)
        .map_err(|e| EngineError::io("cannot move a spool file aside", &kept, e))?;
    tracing::error!(execution = %id, file = %kept.display(), error = %e, "a spooled result could not be read; moved aside");
    engine
        .finish(
            id,
            Status::Failed,
            json!({"error": format!("the runner's spooled result could not be read ({e}); the file is kept at {}", kept.display())}),
        )
        .await?;
    Ok(())
}

fn read_spool(path: &Path) -> Result<Option<SpoolRecord>, EngineError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io("cannot read spool file", path, e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        EngineError::BadRequest(format!(
            "spool file {} is not a valid record ({e}); it was left in place for inspection",
            path.display()
        ))
    })
}
