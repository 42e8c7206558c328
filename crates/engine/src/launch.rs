//! Starts a `stormdesk-runner` process for one execution and watches it.
//!
//! The request goes as one JSON line on the runner's stdin; a later `cancel` line
//! asks it to cancel. Results come back through the callback listener (or the
//! spool); this module only handles what the runner could not report itself: a
//! crash, or a cancel it did not honour in time.

use std::path::PathBuf;
use std::process::Stdio;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::engine::{Engine, CANCEL_GRACE};
use crate::error::EngineError;
use crate::model::Status;
use stormdesk_runner::protocol::RunnerRequest;

/// The runner's own stderr kept for crash reports.
const STDERR_TAIL: usize = 4096;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    Cancel,
}

/// `STORMDESK_RUNNER`, else `stormdesk-runner` beside the current executable
/// (or one level up, for test binaries in `target/*/deps`).
pub fn default_runner_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STORMDESK_RUNNER") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            for candidate in [
                dir.join("stormdesk-runner"),
                dir.join("../stormdesk-runner"),
            ] {
                if candidate.is_file() {
                    return candidate;
                }
            }
        }
    }
    PathBuf::from("stormdesk-runner")
}

/// A started runner process waiting for its request on stdin.
pub(crate) struct Idle {
    child: Child,
}

fn start_process(engine: &Engine) -> Result<Idle, EngineError> {
    let bin = &engine.inner.runner_bin;
    let child = Command::new(bin)
        .args(&engine.inner.runner_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own group, so cancel and crash clean-up reach every descendant.
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| EngineError::RunnerSpawn {
            path: bin.display().to_string(),
            source,
        })?;
    Ok(Idle { child })
}

/// The pre-started runner if it is still alive, else a new one. With
/// `prewarm`, the next one is started in the background, so process start-up
/// is off the path of the run after this one.
fn take_process(engine: &Engine) -> Result<Idle, EngineError> {
    let warm = engine
        .inner
        .warm
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let process = match warm {
        Some(mut idle) => match idle.child.try_wait() {
            Ok(None) => idle,
            _ => start_process(engine)?,
        },
        None => start_process(engine)?,
    };
    if engine.inner.prewarm && !engine.inner.shutdown.is_cancelled() {
        let engine = engine.clone();
        tokio::spawn(async move { prewarm(&engine) });
    }
    Ok(process)
}

/// Starts a runner to wait for the next run, unless one is already waiting.
pub(crate) fn prewarm(engine: &Engine) {
    let mut warm = engine.inner.warm.lock().unwrap_or_else(|e| e.into_inner());
    if warm.is_some() {
        return;
    }
    match start_process(engine) {
        Ok(idle) => *warm = Some(idle),
        Err(e) => tracing::warn!(error = %e, "could not pre-start a runner"),
    }
}

/// Ends the waiting runner: with its stdin closed before a request it exits.
pub(crate) fn drop_warm(engine: &Engine) {
    engine
        .inner
        .warm
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
}

pub(crate) async fn spawn(engine: &Engine, request: RunnerRequest) -> Result<(), EngineError> {
    let mut line = serde_json::to_vec(&request)
        .map_err(|e| EngineError::BadRequest(format!("cannot encode the runner request: {e}")))?;
    line.push(b'\n');
    let Idle { mut child } = take_process(engine)?;
    let runner_pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let id = request.execution_id.clone();
    let (control_tx, mut control_rx) = mpsc::unbounded_channel();
    {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = live.get_mut(&id) {
            entry.runner_pid = runner_pid;
            if let Some(pid) = runner_pid {
                entry
                    .execution
                    .context
                    .insert("runner_pid".into(), serde_json::Value::from(pid));
            }
            entry.control = Some(control_tx);
        }
    }

    let engine = engine.clone();
    let tracker = engine.inner.runners.clone();
    tracker.spawn(async move {
        // Large requests (a 50 MB parameter) are written while the runner reads.
        let write = async {
            stdin.write_all(&line).await?;
            stdin.flush().await
        };
        let stderr_tail = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = (&mut stderr).take(1 << 20).read_to_end(&mut buf).await;
            let start = buf.len().saturating_sub(STDERR_TAIL);
            String::from_utf8_lossy(&buf[start..]).into_owned()
        });
        if let Err(e) = write.await {
            tracing::warn!(execution = %id, error = %e, "could not send the request to the runner");
        }
        let mut canceled_at = None;
        let status = loop {
            let grace = async {
                match canceled_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = child.wait() => break status,
                Some(Control::Cancel) = control_rx.recv() => {
                    let _ = stdin.write_all(b"cancel\n").await;
                    let _ = stdin.flush().await;
                    canceled_at = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                }
                _ = grace => {
                    let child_pid = {
                        let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                        live.get(&id).and_then(|l| l.child_pid)
                    };
                    kill_groups(runner_pid, child_pid);
                    canceled_at = None;
                }
            }
        };
        drop(stdin);
        let stderr_text = stderr_tail.await.unwrap_or_default();
        on_runner_exit(&engine, &id, status, stderr_text).await;
    });
    Ok(())
}

/// The runner has exited. If it neither reported nor spooled, the execution
/// failed (or is canceled, when a cancel was asked).
async fn on_runner_exit(
    engine: &Engine,
    id: &str,
    status: std::io::Result<std::process::ExitStatus>,
    stderr: String,
) {
    // Output may be spooled even when the final status got through.
    if let Err(e) = crate::reconcile::spool_file(engine, id).await {
        tracing::warn!(execution = %id, error = %e, "spool reconcile failed");
        // The result is in the spool and the periodic sweep applies it when
        // the store can take it: the runner's exit says nothing more.
        if engine
            .inner
            .paths
            .spool()
            .join(format!("{id}.json"))
            .exists()
        {
            return;
        }
    }
    engine
        .inner
        .secrets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id);
    let still_live = {
        let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(id).map(|l| (l.execution.status, l.child_pid))
    };
    let Some((current, child_pid)) = still_live else {
        return;
    };
    // Whatever the runner left behind goes with it.
    kill_groups(None, child_pid);
    let how = match &status {
        Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(s)) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => "exited".to_string(),
        },
        Err(e) => format!("could not be waited for ({e})"),
    };
    let (final_status, result) = if current == Status::Canceling {
        (Status::Canceled, json!({ "error": "canceled by user" }))
    } else {
        (
            Status::Failed,
            json!({
                "error": format!("the runner process {how} before reporting a result"),
                "runner_stderr": stderr,
            }),
        )
    };
    if let Err(e) = engine.finish(id, final_status, result).await {
        tracing::error!(execution = %id, error = %e, "could not record the runner's exit");
    }
}

/// SIGKILL to the runner's and the action's process groups, ignoring groups already gone.
pub(crate) fn kill_groups(runner_pid: Option<u32>, child_pid: Option<u32>) {
    for pid in [runner_pid, child_pid].into_iter().flatten() {
        if pid > 1 {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
