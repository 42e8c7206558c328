//! Running one action process: its own process group, live output, timeout,
//! cancel, and StackStorm's post-processing of shell output.
//!
//! The calling thread owns the loop and the output callback (which need not be
//! `Send`): it polls the child's pipes and a wake-up socket that SIGCHLD and
//! a cancel write to, so a run costs no helper threads. Threads are started
//! only to write a stdin payload and to escalate signals after a timeout or
//! cancel.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::protocol::Stream;
use crate::{CancelHandle, RunEvent};

/// Time between SIGTERM and SIGKILL for the action's process group.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long the pipes may stay silent after the action's process exited
/// before the run ends anyway: a background process it left may hold them
/// open forever. StackStorm waits for them; a leftover daemon must not hang
/// the run.
const PIPE_LINGER: Duration = Duration::from_millis(500);
const READ_BUF: usize = 64 * 1024;

/// What to start.
pub(crate) struct ProcessSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Added on top of the runner's own environment, later entries win.
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// Written to the child's stdin, which is then closed. `None`: /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// Keep stdin open after writing `stdin` until the child exits, so the
    /// child sees EOF only when it is gone (the remote runners' ssh uses
    /// that EOF on the far side to end the remote command).
    pub keep_stdin_open: bool,
    pub group: Group,
    pub timeout: Option<Duration>,
}

/// Which process group the child runs in, and so what a timeout or cancel
/// signals. (Local runners use `Own`, remote ones `Join`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(
        any(
            feature = "local-shell-cmd",
            feature = "local-shell-script",
            feature = "python-script"
        ),
        any(feature = "remote-shell-cmd", feature = "remote-shell-script")
    )),
    allow(dead_code)
)]
pub(crate) enum Group {
    /// A new group led by the child; the whole group is signalled.
    Own,
    /// Join an existing group (shared by several children); only the child
    /// itself is signalled, the group belongs to whoever leads it.
    Join(u32),
}

/// How the process ended and everything it printed.
#[derive(Debug)]
#[cfg_attr(
    not(any(
        feature = "local-shell-cmd",
        feature = "local-shell-script",
        feature = "python-script"
    )),
    allow(dead_code)
)]
pub(crate) struct ProcessOutput {
    pub pid: u32,
    /// Exit code, or minus the signal number when killed by a signal
    /// (Python's `returncode` convention, which StackStorm reports).
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub canceled: bool,
}

/// Unregisters a signal's wake-up when dropped.
struct SignalWake(signal_hook::SigId);

impl Drop for SignalWake {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.0);
    }
}

/// Starts the process and runs it to the end. `Err` only if it could not be
/// started.
pub(crate) fn run_process(
    spec: ProcessSpec,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> io::Result<ProcessOutput> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in &spec.env_remove {
        cmd.env_remove(name);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    // Own process group: cancel and timeout signal the whole tree, and a
    // Ctrl-C meant for the runner does not hit the action directly.
    let pgid = match spec.group {
        Group::Own => 0,
        Group::Join(leader) => i32::try_from(leader).unwrap_or(0),
    };
    std::os::unix::process::CommandExt::process_group(&mut cmd, pgid);

    // The loop sleeps in poll(); SIGCHLD (registered before the child
    // exists, so its exit is never missed) and a cancel wake it.
    let (wake, waker) = UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    waker.set_nonblocking(true)?;
    let _sigchld = SignalWake(signal_hook::low_level::pipe::register(
        signal_hook::consts::SIGCHLD,
        waker.try_clone()?,
    )?);

    let mut child = cmd.spawn()?;
    let pid = child.id();
    on_event(RunEvent::Started { pid });

    let stdin_hold = spawn_stdin_writer(&mut child, spec.stdin, spec.keep_stdin_open);
    let waker = std::sync::Mutex::new(waker);
    let _guard = cancel.on_cancel(move || {
        if let Ok(mut w) = waker.lock() {
            let _ = w.write(&[1]);
        }
    });

    let target = match spec.group {
        Group::Own => KillTarget::Group(pid),
        Group::Join(_) => KillTarget::Process(pid),
    };
    Ok(drive(
        child,
        Watch {
            pid,
            target,
            timeout: spec.timeout,
            stdin_hold,
            wake,
            cancel,
        },
        on_event,
    ))
}

#[derive(Clone, Copy)]
enum KillTarget {
    Group(u32),
    Process(u32),
}

/// What the loop watches besides the child's pipes.
struct Watch<'a> {
    pid: u32,
    target: KillTarget,
    timeout: Option<Duration>,
    /// Keeps the child's stdin open until it exits (see `keep_stdin_open`).
    stdin_hold: Option<Sender<()>>,
    wake: UnixStream,
    cancel: &'a CancelHandle,
}

/// One output pipe of the child, with its UTF-8 decoder.
struct Pipe<R> {
    stream: Stream,
    reader: Option<R>,
    decoder: Utf8Stream,
}

impl<R: Read> Pipe<R> {
    /// Reads what is there (poll said so); at EOF the pipe is closed.
    fn read(&mut self, buf: &mut [u8], out: &mut String, on_event: &mut dyn FnMut(RunEvent<'_>)) {
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let text = match reader.read(buf) {
            Ok(0) | Err(_) => {
                self.reader = None;
                self.decoder.finish()
            }
            Ok(n) => self.decoder.push(&buf[..n]),
        };
        if !text.is_empty() {
            on_event(RunEvent::Output {
                stream: self.stream,
                data: &text,
            });
            out.push_str(&text);
        }
    }
}

fn drive(
    mut child: Child,
    mut watch: Watch<'_>,
    on_event: &mut dyn FnMut(RunEvent<'_>),
) -> ProcessOutput {
    let started = Instant::now();
    let deadline = watch.timeout.map(|t| started + t);
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut out_pipe: Pipe<ChildStdout> = Pipe {
        stream: Stream::Stdout,
        reader: child.stdout.take(),
        decoder: Utf8Stream::default(),
    };
    let mut err_pipe: Pipe<ChildStderr> = Pipe {
        stream: Stream::Stderr,
        reader: child.stderr.take(),
        decoder: Utf8Stream::default(),
    };
    let mut buf = vec![0u8; READ_BUF];
    let mut exit: Option<i32> = None;
    let mut linger_until: Option<Instant> = None;
    let mut killer: Option<JoinHandle<()>> = None;
    let mut timed_out = false;
    let mut canceled = false;
    let mut cancel_seen = false;

    loop {
        let open_pipes =
            usize::from(out_pipe.reader.is_some()) + usize::from(err_pipe.reader.is_some());
        if exit.is_none() {
            let status = match child.try_wait() {
                Ok(Some(status)) => Some(exit_code(status)),
                Ok(None) => None,
                Err(_) => Some(-1),
            };
            if status.is_some() {
                exit = status;
                // The child is gone: its stdin may close now.
                watch.stdin_hold = None;
                if open_pipes > 0 {
                    linger_until = Some(Instant::now() + PIPE_LINGER);
                }
            }
        }
        if !cancel_seen && watch.cancel.is_canceled() {
            cancel_seen = true;
            // A cancel that arrives after the exit does not change the
            // outcome, but whatever the action left in its group still goes.
            if exit.is_none() && !timed_out {
                canceled = true;
            }
            if killer.is_none() {
                killer = Some(spawn_killer(watch.target));
            }
        }
        if exit.is_some() && open_pipes == 0 {
            break;
        }
        let now = Instant::now();
        if let Some(until) = linger_until {
            if now >= until {
                break;
            }
        }
        if exit.is_none() && killer.is_none() && deadline.is_some_and(|d| now >= d) {
            timed_out = true;
            killer = Some(spawn_killer(watch.target));
            continue;
        }
        let wake_at = [
            linger_until,
            deadline.filter(|_| exit.is_none() && killer.is_none()),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = match wake_at {
            // Rounded up, so the loop never spins on a deadline a fraction
            // of a millisecond away.
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_micros().div_ceil(1000);
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let ready = |flags: Option<PollFlags>| {
            flags.is_some_and(|f| {
                f.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let (woken, out_ready, err_ready) = {
            let mut fds = vec![PollFd::new(watch.wake.as_fd(), PollFlags::POLLIN)];
            let out_at = out_pipe.reader.as_ref().map(|r| {
                fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let err_at = err_pipe.reader.as_ref().map(|r| {
                fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => {
                    // Cannot wait any more: take what is there and stop.
                    break;
                }
            }
            (
                ready(fds[0].revents()),
                out_at.is_some_and(|i| ready(fds[i].revents())),
                err_at.is_some_and(|i| ready(fds[i].revents())),
            )
        };
        if woken {
            // Drain: the next round looks at the child and the cancel flag.
            let mut sink = [0u8; 64];
            while matches!((&watch.wake).read(&mut sink), Ok(n) if n > 0) {}
        }
        if out_ready {
            out_pipe.read(&mut buf, &mut stdout, on_event);
        }
        if err_ready {
            err_pipe.read(&mut buf, &mut stderr, on_event);
        }
        if (out_ready || err_ready) && linger_until.is_some() {
            // Still draining what the action wrote: only an idle pipe
            // counts as held open by a leftover process.
            linger_until = Some(Instant::now() + PIPE_LINGER);
        }
    }
    if let Some(killer) = killer {
        // After a timeout or cancel, return only once the whole group is gone.
        let _ = killer.join();
    }
    if exit.is_none() {
        // The loop stopped without the exit (poll failed): collect it.
        exit = child.wait().ok().map(exit_code);
    }
    ProcessOutput {
        pid: watch.pid,
        exit_code: exit.unwrap_or(-(Signal::SIGKILL as i32)),
        stdout,
        stderr,
        timed_out,
        canceled,
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        (None, None) => -1,
    }
}

/// Not joined: if the child never reads its stdin and something it left
/// behind keeps the pipe open, the write may block, and the run must still end.
/// With `keep_open`, the pipe stays open until the returned sender is dropped
/// (by the run loop, once the child has exited).
fn spawn_stdin_writer(
    child: &mut Child,
    data: Option<Vec<u8>>,
    keep_open: bool,
) -> Option<Sender<()>> {
    let (Some(mut pipe), Some(data)) = (child.stdin.take(), data) else {
        return None;
    };
    let (hold_tx, hold_rx) = mpsc::channel::<()>();
    // A thread, because a large stdin (a 50 MB parameter) fills the pipe while
    // the child is also filling stdout.
    thread::spawn(move || {
        let _ = pipe.write_all(&data);
        let _ = pipe.flush();
        if keep_open {
            // Returns when the waiter drops the sender: the child is gone.
            let _ = hold_rx.recv();
        }
        // Dropping `pipe` closes it: the child sees EOF.
    });
    Some(hold_tx)
}

/// SIGTERM to the group (or process), SIGKILL after [`KILL_GRACE`] if
/// anything is left.
fn spawn_killer(target: KillTarget) -> JoinHandle<()> {
    thread::spawn(move || match target {
        KillTarget::Group(pgid) => terminate_group(pgid, KILL_GRACE),
        KillTarget::Process(pid) => terminate_process(pid, KILL_GRACE),
    })
}

/// SIGTERM to one process, SIGKILL after `grace` if it is still alive. Its
/// exit is collected by the waiter thread, so "gone" includes "zombie".
fn terminate_process(pid: u32, grace: Duration) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let pid = Pid::from_raw(raw);
    if nix::sys::signal::kill(pid, Signal::SIGTERM) == Err(Errno::ESRCH) {
        return;
    }
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if !process_alive(raw) {
            return;
        }
        // Polling, as in `terminate_group`: no portable exit notification
        // for a process another thread waits for.
        thread::sleep(Duration::from_millis(20));
    }
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
}

fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok(),
    }
}

pub(crate) fn terminate_group(pgid: u32, grace: Duration) {
    let Ok(raw) = i32::try_from(pgid) else {
        return;
    };
    let group = Pid::from_raw(raw);
    if killpg(group, Signal::SIGTERM) == Err(Errno::ESRCH) {
        return;
    }
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if !group_alive(group) {
            return;
        }
        // Polling a process table, not waiting for an event: there is no
        // portable notification for "a process group became empty".
        thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL);
}

/// Whether the group still has a member that is not a zombie. Zombies can
/// linger when the reaper (PID 1 in a container) does not wait for orphans.
fn group_alive(group: Pid) -> bool {
    if killpg(group, None) == Err(Errno::ESRCH) {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        if let Some(alive) = linux_group_has_live_member(group.as_raw()) {
            return alive;
        }
    }
    true
}

#[cfg(target_os = "linux")]
fn linux_group_has_live_member(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != Some("Z") && state != Some("X") {
            return Some(true);
        }
    }
    Some(false)
}

/// Decodes a byte stream as UTF-8 across read boundaries; invalid bytes become
/// U+FFFD, as in Python's `errors="replace"`.
#[derive(Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            out.push('\u{fffd}');
                            rest = &after[bad..];
                        }
                        // An incomplete sequence at the end: wait for more bytes.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg_attr(
    not(any(
        feature = "local-shell-cmd",
        feature = "local-shell-script",
        feature = "remote-shell-cmd",
        feature = "remote-shell-script"
    )),
    allow(dead_code)
)]
/// StackStorm's `strip_shell_chars`: drop one trailing `\n`, then one `\r`.
pub(crate) fn strip_shell_chars(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

#[cfg_attr(
    not(any(
        feature = "local-shell-cmd",
        feature = "local-shell-script",
        feature = "remote-shell-cmd",
        feature = "remote-shell-script"
    )),
    allow(dead_code)
)]
/// StackStorm's `jsonify.json_loads` on one field: the parsed value when the
/// whole text is JSON, else the text itself.
pub(crate) fn json_or_string(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_trailing_newline() {
        assert_eq!(strip_shell_chars("a\n"), "a");
        assert_eq!(strip_shell_chars("a\n\n"), "a\n");
        assert_eq!(strip_shell_chars("a\r\n"), "a");
        assert_eq!(strip_shell_chars("a\r"), "a");
        assert_eq!(strip_shell_chars("a"), "a");
        assert_eq!(strip_shell_chars(""), "");
    }

    #[test]
    fn utf8_split_across_reads_is_kept_whole() {
        let bytes = "héllo€".as_bytes();
        let mut d = Utf8Stream::default();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&d.push(std::slice::from_ref(b)));
        }
        out.push_str(&d.finish());
        assert_eq!(out, "héllo€");
        let mut d = Utf8Stream::default();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
    }
}
