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

/// Most runner processes kept waiting at once.
const POOL_MAX: usize = 8;

/// Runner processes started ahead of need: one for the next run of a
/// long-lived engine (`prewarm`), and while workflows run, one for each task
/// started recently, so the next tasks (a with-items task's next items, a
/// chain's next task) do not wait for a process to start. Runners waiting
/// beyond that are dismissed when the last workflow completes.
#[derive(Default)]
pub(crate) struct WarmPool {
    idle: Vec<Idle>,
    /// Being started in the background.
    starting: usize,
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

fn pool(engine: &Engine) -> std::sync::MutexGuard<'_, WarmPool> {
    engine.inner.warm.lock().unwrap_or_else(|e| e.into_inner())
}

/// A waiting runner if one is still alive, else a new one. Then one more
/// is started in the background when `for_task` (a workflow's task) or
/// with `prewarm`, so process start-up is off the path of the next run.
fn take_process(engine: &Engine, for_task: bool) -> Result<Idle, EngineError> {
    let mut waiting = None;
    {
        let mut pool = pool(engine);
        while let Some(mut idle) = pool.idle.pop() {
            if let Ok(None) = idle.child.try_wait() {
                waiting = Some(idle);
                break;
            }
        }
    }
    let process = match waiting {
        Some(idle) => idle,
        None => start_process(engine)?,
    };
    if (for_task || engine.inner.prewarm) && !engine.inner.shutdown.is_cancelled() {
        let wanted = {
            let mut pool = pool(engine);
            let base = usize::from(engine.inner.prewarm);
            let room = pool.idle.len() + pool.starting < if for_task { POOL_MAX } else { base };
            if room {
                pool.starting += 1;
            }
            room
        };
        if wanted {
            let engine = engine.clone();
            tokio::spawn(async move { add_idle(&engine) });
        }
    }
    Ok(process)
}

fn add_idle(engine: &Engine) {
    let started = start_process(engine);
    let mut pool = pool(engine);
    pool.starting = pool.starting.saturating_sub(1);
    match started {
        Ok(idle) if !engine.inner.shutdown.is_cancelled() => pool.idle.push(idle),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not pre-start a runner"),
    }
}

/// Starts a runner to wait for the next run, unless one is already waiting.
pub(crate) fn prewarm(engine: &Engine) {
    let mut pool = pool(engine);
    if !pool.idle.is_empty() {
        return;
    }
    match start_process(engine) {
        Ok(idle) => pool.idle.push(idle),
        Err(e) => tracing::warn!(error = %e, "could not pre-start a runner"),
    }
}

/// No workflow runs any more: runners waiting beyond the one `prewarm`
/// keeps are dismissed (with stdin closed before a request, a runner exits).
pub(crate) fn trim_warm(engine: &Engine) {
    let keep = usize::from(engine.inner.prewarm);
    let dismissed: Vec<Idle> = {
        let mut pool = pool(engine);
        let n = pool.idle.len().saturating_sub(keep);
        pool.idle.drain(..n).collect()
    };
    drop(dismissed);
}

/// Ends the waiting runners: with stdin closed before a request they exit.
pub(crate) fn drop_warm(engine: &Engine) {
    let dismissed = std::mem::take(&mut pool(engine).idle);
    drop(dismissed);
}

/// Starts the runner of `request` (a waiting one when there is one);
/// `for_task`: the execution is a workflow's task.
pub(crate) async fn spawn(
    engine: &Engine,
    request: RunnerRequest,
    for_task: bool,
) -> Result<(), EngineError> {
    let mut line = serde_json::to_vec(&request)
        .map_err(|e| EngineError::BadRequest(format!("cannot encode the runner request: {e}")))?;
    line.push(b'\n');
    let Idle { mut child } = take_process(engine, for_task)?;
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
