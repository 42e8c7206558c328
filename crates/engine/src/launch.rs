//! Hands executions to `stormdesk-runner` processes and watches them.
//!
//! Runner processes serve one run after another (the serving protocol of
//! `stormdesk_runner::process`): the request goes as one JSON line on the
//! runner's stdin, a later `cancel <id>` line asks it to cancel, and a
//! `done` line on its stdout says the run is reported and the runner is
//! free for the next. Results come back through the callback listener (or
//! the spool); this module only handles what the runner could not report
//! itself: a crash, or a cancel it did not honour in time.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
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

/// A runner process started in serving mode (see
/// `stormdesk_runner::process`): it takes one request at a time on stdin and
/// answers each with a `done` line on stdout.
pub(crate) struct Runner {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// The last [`STDERR_TAIL`] bytes of its stderr, for crash reports.
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Reads stderr until the process (and whatever holds its stderr) is gone.
    stderr_reader: tokio::task::JoinHandle<()>,
    /// Requests sent to it so far.
    served: usize,
    /// When it last began to wait for a request.
    idle_since: std::time::Instant,
}

/// Most runner processes kept waiting at once.
const POOL_MAX: usize = 8;

/// Runs one runner process serves before it is replaced by a fresh one: a
/// bound on whatever a long-lived process might hold on to.
const MAX_SERVED: usize = 1000;

/// Runner processes waiting for a request: returned after each run (they
/// serve one run after another), started ahead of need for the next run of
/// a long-lived engine (`prewarm`), and one more started in the background
/// when a workflow's task found none waiting. Runners waiting beyond that
/// are dismissed when the last workflow completes.
#[derive(Default)]
pub(crate) struct WarmPool {
    /// Oldest first: a run takes the runner that has waited longest, so the
    /// runners waiting take turns.
    idle: std::collections::VecDeque<Runner>,
    /// Being started in the background.
    starting: usize,
}

fn start_process(engine: &Engine) -> Result<Runner, EngineError> {
    let bin = &engine.inner.runner_bin;
    let mut child = Command::new(bin)
        .args(&engine.inner.runner_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so cancel and crash clean-up reach every descendant.
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| EngineError::RunnerSpawn {
            path: bin.display().to_string(),
            source,
        })?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let tail = Arc::new(Mutex::new(Vec::new()));
    let stderr_reader = tokio::spawn({
        let tail = Arc::clone(&tail);
        async move {
            let mut buf = vec![0u8; 4096];
            loop {
                match stderr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut tail = lock(&tail);
                        tail.extend_from_slice(&buf[..n]);
                        if tail.len() > 2 * STDERR_TAIL {
                            let cut = tail.len() - STDERR_TAIL;
                            tail.drain(..cut);
                        }
                    }
                }
            }
        }
    });
    Ok(Runner {
        child,
        stdin,
        stdout,
        stderr: tail,
        stderr_reader,
        served: 0,
        idle_since: std::time::Instant::now(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pool(engine: &Engine) -> std::sync::MutexGuard<'_, WarmPool> {
    lock(&engine.inner.warm)
}

/// A waiting runner if one is still alive, else a new one. Then one more is
/// started in the background when a workflow's task (`for_task`) found none
/// waiting, or to keep one waiting with `prewarm`, so process start-up is
/// off the path of the next run.
fn take_process(engine: &Engine, for_task: bool) -> Result<Runner, EngineError> {
    let mut waiting = None;
    {
        let mut pool = pool(engine);
        while let Some(mut runner) = pool.idle.pop_front() {
            if let Ok(None) = runner.child.try_wait() {
                waiting = Some(runner);
                break;
            }
        }
    }
    let fresh = waiting.is_none();
    let runner = match waiting {
        Some(runner) => runner,
        None => start_process(engine)?,
    };
    let target = usize::from(engine.inner.prewarm).max(usize::from(for_task && fresh));
    if target > 0 && !engine.inner.shutdown.is_cancelled() {
        let wanted = {
            let mut pool = pool(engine);
            let room = pool.idle.len() + pool.starting < target;
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
    Ok(runner)
}

fn add_idle(engine: &Engine) {
    let started = start_process(engine);
    let mut pool = pool(engine);
    pool.starting = pool.starting.saturating_sub(1);
    match started {
        Ok(runner) if !engine.inner.shutdown.is_cancelled() => pool.idle.push_back(runner),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not pre-start a runner"),
    }
}

/// After a run it reported: back to the pool for the next run, unless it has
/// served its share, the pool is full, the engine stops or runners are
/// single-use ([`crate::EngineOptions::single_use_runners`]). A runner not
/// kept is told to exit (stdin closed) and waited for.
async fn give_back(engine: &Engine, mut runner: Runner) {
    runner.idle_since = std::time::Instant::now();
    let keep = !engine.inner.single_use_runners
        && runner.served < MAX_SERVED
        && !engine.inner.shutdown.is_cancelled();
    let retired = if keep {
        let mut pool = pool(engine);
        if pool.idle.len() < POOL_MAX {
            pool.idle.push_back(runner);
            None
        } else {
            Some(runner)
        }
    } else {
        Some(runner)
    };
    if let Some(runner) = retired {
        retire(runner).await;
    }
}

/// Closes its stdin (a serving runner exits at EOF) and waits for it.
async fn retire(runner: Runner) {
    let Runner {
        mut child, stdin, ..
    } = runner;
    drop(stdin);
    let _ = child.wait().await;
}

/// Starts a runner to wait for the next run, unless one is already waiting.
pub(crate) fn prewarm(engine: &Engine) {
    let mut pool = pool(engine);
    if !pool.idle.is_empty() {
        return;
    }
    match start_process(engine) {
        Ok(runner) => pool.idle.push_back(runner),
        Err(e) => tracing::warn!(error = %e, "could not pre-start a runner"),
    }
}

/// No workflow runs any more: runners waiting beyond the one `prewarm`
/// keeps are dismissed (with stdin closed a waiting runner exits).
pub(crate) fn trim_warm(engine: &Engine) {
    let keep = usize::from(engine.inner.prewarm);
    let dismissed: Vec<Runner> = {
        let mut pool = pool(engine);
        let n = pool.idle.len().saturating_sub(keep);
        pool.idle.drain(..n).collect()
    };
    drop(dismissed);
}

/// How long a runner may wait for a request before it is dismissed (beyond
/// the one `prewarm` keeps): a burst of parallel runs leaves up to
/// [`POOL_MAX`] runners waiting, which a quiet engine does not need.
pub(crate) const IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Dismisses the runners that have waited longer than `limit`, keeping the
/// one `prewarm` keeps (the newest). Returns how many were dismissed.
pub(crate) fn trim_idle(engine: &Engine, limit: std::time::Duration) -> usize {
    let keep = usize::from(engine.inner.prewarm);
    let dismissed: Vec<Runner> = {
        let mut pool = pool(engine);
        // Oldest first: the ones at the front have waited longest.
        let stale = pool
            .idle
            .iter()
            .take_while(|r| r.idle_since.elapsed() > limit)
            .count();
        let n = stale.min(pool.idle.len().saturating_sub(keep));
        pool.idle.drain(..n).collect()
    };
    dismissed.len()
}

/// How many runner processes wait for a request.
pub(crate) fn waiting(engine: &Engine) -> usize {
    pool(engine).idle.len()
}

/// Tells every waiting runner to exit and waits for them.
pub(crate) async fn retire_idle(engine: &Engine) {
    let idle = std::mem::take(&mut pool(engine).idle);
    for runner in idle {
        retire(runner).await;
    }
}

/// Ends the waiting runners: with stdin closed they exit.
pub(crate) fn drop_warm(engine: &Engine) {
    let dismissed = std::mem::take(&mut pool(engine).idle);
    drop(dismissed);
}

/// How a run on a runner ended.
enum End {
    /// The runner said it is done with the run; its exit-code-like `code`
    /// (0: reported or spooled).
    Done(u8),
    /// The runner process ended first.
    Exited(std::io::Result<std::process::ExitStatus>),
}

/// Sends `request` to a runner (a waiting one when there is one) and
/// watches the run to its end; `for_task`: the execution is a workflow's
/// task.
pub(crate) async fn spawn(
    engine: &Engine,
    request: RunnerRequest,
    for_task: bool,
) -> Result<(), EngineError> {
    let mut line = serde_json::to_vec(&request)
        .map_err(|e| EngineError::BadRequest(format!("cannot encode the runner request: {e}")))?;
    line.push(b'\n');
    let mut runner = take_process(engine, for_task)?;
    let runner_pid = runner.child.id();
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
        let end = run_on(
            &engine,
            &mut runner,
            &line,
            &id,
            runner_pid,
            &mut control_rx,
        )
        .await;
        match end {
            End::Done(0) => {
                give_back(&engine, runner).await;
                settle(
                    &engine,
                    &id,
                    || json!({ "error": "the runner finished the run without reporting a result" }),
                )
                .await;
            }
            End::Done(code) => {
                // Neither reported nor spooled: its stderr says why.
                let stderr = stderr_tail(&runner);
                retire(runner).await;
                settle(&engine, &id, || {
                    json!({
                        "error": format!(
                            "the runner could neither report nor spool the result (code {code})"
                        ),
                        "runner_stderr": stderr,
                    })
                })
                .await;
            }
            End::Exited(status) => {
                // All it said before it went, then its tail.
                let _ = (&mut runner.stderr_reader).await;
                let stderr = stderr_tail(&runner);
                on_runner_exit(&engine, &id, status, stderr).await;
            }
        }
    });
    Ok(())
}

/// Sends the request line (with `serve` first to a fresh runner) and waits
/// for the runner's `done` line for `id` or its exit, passing cancels on.
async fn run_on(
    engine: &Engine,
    runner: &mut Runner,
    line: &[u8],
    id: &str,
    runner_pid: Option<u32>,
    control_rx: &mut mpsc::UnboundedReceiver<Control>,
) -> End {
    let fresh = runner.served == 0;
    if !fresh {
        // What it said during earlier runs is not this run's.
        lock(&runner.stderr).clear();
    }
    runner.served += 1;
    // Large requests (a 50 MB parameter) are written while the runner reads;
    // a runner that is gone shows as its exit below.
    let write = async {
        if fresh {
            runner
                .stdin
                .write_all(format!("{}\n", stormdesk_runner::process::SERVE_LINE).as_bytes())
                .await?;
        }
        runner.stdin.write_all(line).await?;
        runner.stdin.flush().await
    };
    if let Err(e) = write.await {
        tracing::warn!(execution = %id, error = %e, "could not send the request to the runner");
    }
    let mut canceled_at = None;
    loop {
        let grace = async {
            match canceled_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = runner.stdout.next_line() => match next {
                Ok(Some(text)) => {
                    if let Some(code) = done_code(&text, id) {
                        return End::Done(code);
                    }
                }
                Ok(None) | Err(_) => return End::Exited(runner.child.wait().await),
            },
            Some(Control::Cancel) = control_rx.recv() => {
                let cancel = format!("cancel {id}\n");
                let _ = runner.stdin.write_all(cancel.as_bytes()).await;
                let _ = runner.stdin.flush().await;
                canceled_at = Some(tokio::time::Instant::now() + CANCEL_GRACE);
            }
            _ = grace => {
                let child_pid = {
                    let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                    live.get(id).and_then(|l| l.child_pid)
                };
                kill_groups(runner_pid, child_pid);
                canceled_at = None;
            }
        }
    }
}

/// The code of a `{"done": id, "code": n}` line for `id`; other lines
/// (a run without a callback prints its result) are not for the engine.
fn done_code(line: &str, id: &str) -> Option<u8> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("done")?.as_str()? != id {
        return None;
    }
    value
        .get("code")
        .and_then(serde_json::Value::as_u64)
        .map(|c| u8::try_from(c).unwrap_or(u8::MAX))
}

fn stderr_tail(runner: &Runner) -> String {
    tail_of(&String::from_utf8_lossy(&lock(&runner.stderr)))
}

/// The last [`STDERR_TAIL`] bytes of `text`, cut at a character boundary.
fn tail_of(text: &str) -> String {
    let mut start = text.len().saturating_sub(STDERR_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// A run its runner is done with: output may be spooled even when the final
/// status got through, so the spool is applied; its secrets are forgotten.
/// An execution still not completed then fails with the result `failure()`
/// (is canceled, when a cancel was asked).
async fn settle(engine: &Engine, id: &str, failure: impl FnOnce() -> serde_json::Value) {
    if let Err(e) = crate::reconcile::spool_file(engine, id).await {
        tracing::warn!(execution = %id, error = %e, "spool reconcile failed");
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
    lock(&engine.inner.secrets).remove(id);
    let still_live = lock(&engine.inner.live)
        .get(id)
        .map(|l| (l.execution.status, l.child_pid));
    let Some((current, child_pid)) = still_live else {
        return;
    };
    kill_groups(None, child_pid);
    let (final_status, mut result) = if current == Status::Canceling {
        (Status::Canceled, json!({ "error": "canceled by user" }))
    } else {
        (Status::Failed, failure())
    };
    // What the action printed before its runner died is in its output;
    // the result keeps it, as a report would have.
    let (stdout, stderr) = printed(engine, id).await;
    if let Some(map) = result.as_object_mut() {
        map.insert("stdout".into(), stdout.into());
        map.insert("stderr".into(), stderr.into());
    }
    if let Err(e) = engine.finish(id, final_status, result).await {
        tracing::error!(execution = %id, error = %e, "could not record the end of the run");
    }
}

/// The action's stdout and stderr as recorded from its output chunks, each
/// without its last line break (as the local runners strip it). Empty when
/// nothing was printed or the store cannot be read.
async fn printed(engine: &Engine, id: &str) -> (String, String) {
    // The writer keeps order: once this empty batch is committed, every
    // chunk received before it is readable.
    let _ = engine
        .inner
        .store
        .write(crate::store::WriteOp::Batch(Vec::new()))
        .await;
    let chunks = match engine.inner.store.output(id, None).await {
        Ok(chunks) => chunks,
        Err(e) => {
            tracing::warn!(execution = %id, error = %e, "output not readable for the result");
            return (String::new(), String::new());
        }
    };
    let (mut out, mut err) = (String::new(), String::new());
    for c in chunks {
        match c.stream {
            crate::model::Stream::Stdout => out.push_str(&c.data),
            crate::model::Stream::Stderr => err.push_str(&c.data),
            crate::model::Stream::Other => {}
        }
    }
    let strip = |s: String| {
        s.strip_suffix("\r\n")
            .or_else(|| s.strip_suffix('\n'))
            .map(str::to_string)
            .unwrap_or(s)
    };
    (strip(out), strip(err))
}

/// The runner has exited during a run. If it neither reported nor spooled,
/// the execution failed (or is canceled, when a cancel was asked).
async fn on_runner_exit(
    engine: &Engine,
    id: &str,
    status: std::io::Result<std::process::ExitStatus>,
    stderr: String,
) {
    settle(engine, id, || {
        let how = match &status {
            Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(s)) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                _ => "exited".to_string(),
            },
            Err(e) => format!("could not be waited for ({e})"),
        };
        json!({
            "error": format!("the runner process {how} before reporting a result"),
            "runner_stderr": stderr,
        })
    })
    .await;
}

/// SIGKILL to the runner's and the action's process groups, ignoring groups already gone.
pub(crate) fn kill_groups(runner_pid: Option<u32>, child_pid: Option<u32>) {
    for pid in [runner_pid, child_pid].into_iter().flatten() {
        if pid > 1 {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
