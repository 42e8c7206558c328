//! The runner process: runs actions for the engine. The `stormdesk-runner`
//! binary is this; other binaries (the CLI, the desktop app) can act as one by
//! calling [`main`].
//!
//! Two ways to drive it over stdin:
//! - **One run**: one JSON line (a `RunnerRequest`); later lines saying
//!   `cancel` cancel the action; EOF on stdin is not a cancel. The process
//!   exits when the run is reported.
//! - **Serving** (what the engine does): a first line `serve`, then one
//!   request line at a time. Once a run is reported, a line
//!   `{"done": "<execution id>", "code": <code>}` goes to stdout and the next
//!   request is read; `cancel <execution id>` cancels that run (a cancel
//!   naming another run, one already done, is ignored). EOF ends the process
//!   once the current run is reported. One process thus runs many actions
//!   one after another, without a process start-up each (issue 16); each
//!   action still gets processes of its own, in their own process group.
//!
//! Each run is reported to the callback listener, falling back to the spool.
//! SIGTERM and SIGINT cancel the current run (and end a serving process
//! once it is reported). Besides the thread running actions, one thread
//! reads stdin and signals, and one per run reports (see
//! [`crate::callback`]). Without a callback, the final `{"status", "result"}`
//! is printed to stdout and the live output is mirrored to stderr.
//!
//! Exit codes (and `code` of a `done` line): 0 when the outcome was
//! reported or spooled (whatever the action's status), 1 when it could be
//! neither reported nor spooled, 2 when a request on stdin was unreadable.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::callback::Reporter;
use crate::cap::OutputCap;
use crate::mask::{Secrets, StreamMasker};
use crate::protocol::{
    Callback, ExecutionUpdate, RunnerRequest, RunnerStatus, SpoolRecord, Stream,
};
use crate::{run_with_events, spool, CancelHandle, RunError, RunEvent, RunOutcome};
use serde_json::json;

const EXIT_LOST: u8 = 1;
const EXIT_BAD_REQUEST: u8 = 2;

/// The first line that makes this a serving process (see the module docs).
pub const SERVE_LINE: &str = "serve";

/// Runs the runner process to completion; the caller exits with the code.
pub fn main() -> ExitCode {
    // Stdin is read unbuffered, so the control thread can poll it: whatever
    // followed the request line in the same read is handed over with it.
    let mut stdin = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) => return bad_request(&format!("could not read stdin: {e}")),
    };
    let (line, rest) = match read_line(&mut stdin) {
        Ok(Some(split)) => split,
        Ok(None) => return bad_request("stdin closed before a request line arrived"),
        Err(e) => return bad_request(&format!("could not read stdin: {e}")),
    };
    if line.trim_ascii() == SERVE_LINE.as_bytes() {
        return serve(stdin, rest);
    }
    let req: RunnerRequest = match serde_json::from_slice(&line) {
        Ok(req) => req,
        Err(e) => return bad_request(&format!("the request line is not a RunnerRequest: {e}")),
    };
    drop(line);

    let cancel = CancelHandle::new();
    let on_cancel = cancel.clone();
    let on_signal = cancel.clone();
    watch_input(
        stdin,
        rest,
        move |line| {
            if line.trim_ascii() == b"cancel" {
                on_cancel.cancel();
            }
            true
        },
        move || {
            on_signal.cancel();
            false
        },
    );
    ExitCode::from(run_one(&req, &cancel, None))
}

/// The run in progress in a serving process, for `cancel` lines and signals.
type Current = Arc<Mutex<Option<(String, CancelHandle)>>>;

/// Serves request lines one at a time until stdin ends (or a signal).
fn serve(stdin: std::fs::File, rest: Vec<u8>) -> ExitCode {
    let current: Current = Arc::default();
    let (tx, rx) = mpsc::channel::<Result<(RunnerRequest, CancelHandle), String>>();
    let on_line = {
        let current = Arc::clone(&current);
        move |line: Vec<u8>| -> bool {
            let text = line.trim_ascii();
            if text.is_empty() {
                return true;
            }
            if let Some(id) = text.strip_prefix(b"cancel") {
                let id = id.trim_ascii();
                if let Some((running, cancel)) = lock(&current).as_ref() {
                    if id.is_empty() || id == running.as_bytes() {
                        cancel.cancel();
                    }
                }
                return true;
            }
            let item = match serde_json::from_slice::<RunnerRequest>(text) {
                Ok(req) => {
                    // Registered here, before the run starts, so a cancel
                    // right behind the request is never missed.
                    let cancel = CancelHandle::new();
                    *lock(&current) = Some((req.execution_id.clone(), cancel.clone()));
                    Ok((req, cancel))
                }
                Err(e) => Err(format!("the request line is not a RunnerRequest: {e}")),
            };
            tx.send(item).is_ok()
        }
    };
    let on_signal = {
        let current = Arc::clone(&current);
        move || {
            if let Some((_, cancel)) = lock(&current).as_ref() {
                cancel.cancel();
            }
            // No new run after a signal: the process ends once this one is reported.
            true
        }
    };
    watch_input(stdin, rest, on_line, on_signal);

    let agent = crate::callback::new_agent();
    for item in rx {
        let (req, cancel) = match item {
            Ok(run) => run,
            Err(reason) => return bad_request(&reason),
        };
        let code = run_one(&req, &cancel, Some(&agent));
        *lock(&current) = None;
        let done = json!({ "done": req.execution_id, "code": code });
        let mut stdout = io::stdout().lock();
        if writeln!(stdout, "{done}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            // Nobody reads any more: the engine is gone.
            return ExitCode::from(code);
        }
    }
    ExitCode::SUCCESS
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs one request; the process exit code it calls for.
fn run_one(req: &RunnerRequest, cancel: &CancelHandle, agent: Option<&ureq::Agent>) -> u8 {
    match req.callback.clone() {
        Some(callback) => run_reported(req, &callback, cancel, agent),
        None => run_unreported(req, cancel),
    }
}

/// The first line of `input` (without its newline) and what was read after
/// it; `None` when the input ends before any byte.
fn read_line(input: &mut impl Read) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    // Only what was read last is searched: a 50 MB request line is read in
    // one pass.
    let mut searched = 0;
    loop {
        if let Some(i) = data[searched..].iter().position(|b| *b == b'\n') {
            let rest = data.split_off(searched + i + 1);
            data.truncate(searched + i);
            return Ok(Some((data, rest)));
        }
        searched = data.len();
        match input.read(&mut buf) {
            Ok(0) if data.is_empty() => return Ok(None),
            Ok(0) => return Ok(Some((data, Vec::new()))),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn bad_request(reason: &str) -> ExitCode {
    eprintln!(
        "stormdesk-runner: {reason}; expected one JSON line with the execution request on stdin"
    );
    ExitCode::from(EXIT_BAD_REQUEST)
}

/// One thread reads stdin and SIGTERM/SIGINT: each complete line goes to
/// `on_line` (false: read no more), each signal to `on_signal` (true: read
/// no more). Once stdin is read no more (EOF included), `on_line` is dropped,
/// with whatever it holds (a serving process's request channel); signals
/// are still watched.
fn watch_input<L>(
    mut stdin: std::fs::File,
    mut pending: Vec<u8>,
    on_line: L,
    on_signal: impl Fn() -> bool + Send + 'static,
) where
    L: FnMut(Vec<u8>) -> bool + Send + 'static,
{
    use signal_hook::consts::{SIGINT, SIGTERM};
    let signals = UnixStream::pair().and_then(|(read, write)| {
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for sig in [SIGTERM, SIGINT] {
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        Ok(read)
    });
    let signals = match signals {
        Ok(read) => Some(read),
        Err(e) => {
            eprintln!(
                "stormdesk-runner: cannot handle SIGTERM/SIGINT ({e}); cancel through stdin instead"
            );
            None
        }
    };
    thread::spawn(move || {
        let mut on_line = Some(on_line);
        let mut buf = vec![0u8; 64 * 1024];
        // Only what was read last is searched for a newline: a 50 MB
        // request line is read in one pass.
        let mut searched = 0;
        loop {
            while let Some(i) = pending[searched..].iter().position(|b| *b == b'\n') {
                let rest = pending.split_off(searched + i + 1);
                let mut line = std::mem::replace(&mut pending, rest);
                line.pop();
                searched = 0;
                if !on_line.as_mut().is_some_and(|f| f(line)) {
                    on_line = None;
                    pending.clear();
                    break;
                }
            }
            let stdin_open = on_line.is_some();
            searched = pending.len();
            let (signal, input) = {
                let mut fds = Vec::with_capacity(2);
                if let Some(s) = &signals {
                    fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
                }
                if stdin_open {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                }
                if fds.is_empty() {
                    return;
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return,
                }
                let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
                let signal = signals.is_some() && ready(&fds[0]);
                let input = stdin_open && ready(&fds[fds.len() - 1]);
                (signal, input)
            };
            if signal {
                if let Some(mut s) = signals.as_ref() {
                    let mut sink = [0u8; 64];
                    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                }
                if on_signal() {
                    on_line = None;
                    continue;
                }
            }
            if input {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        // A last line without a newline still counts.
                        if let (Some(f), false) = (on_line.as_mut(), pending.is_empty()) {
                            f(std::mem::take(&mut pending));
                        }
                        on_line = None;
                    }
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
}

fn final_update(outcome: Result<RunOutcome, RunError>) -> ExecutionUpdate {
    match outcome {
        Ok(mut outcome) => ExecutionUpdate {
            status: outcome.status,
            result: Some({
                crate::depth::cap_depth(&mut outcome.result, crate::depth::MAX_RESULT_DEPTH);
                outcome.result
            }),
            pid: outcome.pid,
        },
        // As StackStorm reports a runner that failed before the action ran.
        Err(e) => ExecutionUpdate {
            status: RunnerStatus::Failed,
            result: Some(json!({ "error": e.to_string() })),
            pid: None,
        },
    }
}

/// One [`StreamMasker`] per output stream.
#[derive(Default)]
struct Maskers([StreamMasker; 3]);

impl Maskers {
    fn of(&mut self, stream: Stream) -> &mut StreamMasker {
        &mut self.0[match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
            Stream::Other => 2,
        }]
    }

    /// What each stream still holds back, at the end of the run.
    fn finish(&mut self, secrets: &Secrets) -> Vec<(Stream, String)> {
        [Stream::Stdout, Stream::Stderr, Stream::Other]
            .into_iter()
            .map(|s| (s, self.of(s).finish(secrets)))
            .filter(|(_, rest)| !rest.is_empty())
            .collect()
    }
}

fn run_unreported(req: &RunnerRequest, cancel: &CancelHandle) -> u8 {
    let secrets = Secrets::new(req.secrets.iter().cloned());
    let mut stderr = io::stderr();
    let mut maskers = Maskers::default();
    let outcome = run_with_events(
        req,
        &mut |event| {
            if let RunEvent::Output { stream, data } = event {
                let out = maskers.of(stream).push(&secrets, data);
                let _ = stderr.write_all(out.as_bytes());
            }
        },
        cancel,
    );
    for (_, rest) in maskers.finish(&secrets) {
        let _ = stderr.write_all(rest.as_bytes());
    }
    let mut update = final_update(outcome);
    if let Some(result) = update.result.as_mut() {
        secrets.mask_value(result);
    }
    print_final(&update);
    0
}

fn print_final(update: &ExecutionUpdate) {
    let line = json!({ "status": update.status, "result": update.result });
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn run_reported(
    req: &RunnerRequest,
    callback: &Callback,
    cancel: &CancelHandle,
    agent: Option<&ureq::Agent>,
) -> u8 {
    let secrets = Secrets::new(req.secrets.iter().cloned());
    let mut reporter = match agent {
        Some(agent) => Reporter::start_with(agent.clone(), &req.execution_id, callback),
        None => Reporter::start(&req.execution_id, callback),
    };
    let mut maskers = Maskers::default();
    let mut cap = OutputCap::new(
        req.max_output_bytes
            .unwrap_or(crate::cap::DEFAULT_MAX_OUTPUT_BYTES),
    );
    let outcome = run_with_events(
        req,
        &mut |event| match event {
            RunEvent::Started { pid } => reporter.running(pid),
            RunEvent::Output { stream, data } => {
                let out = if secrets.is_empty() {
                    data.to_string()
                } else {
                    maskers.of(stream).push(&secrets, data)
                };
                if let Some(kept) = cap.take(&out).filter(|k| !k.is_empty()) {
                    reporter.output(stream, &kept);
                }
            }
        },
        cancel,
    );
    for (stream, rest) in maskers.finish(&secrets) {
        if let Some(kept) = cap.take(&rest).filter(|k| !k.is_empty()) {
            reporter.output(stream, &kept);
        }
    }
    let mut update = final_update(outcome);
    if let Some(result) = update.result.as_mut() {
        secrets.mask_value(result);
        cap.cap_result(result);
    }
    let delivery = reporter.finish(update.clone());
    if delivery.is_complete() {
        return 0;
    }

    let reason = delivery
        .last_error
        .clone()
        .unwrap_or_else(|| "the listener did not acknowledge every update".into());
    let Some(spool_dir) = &req.spool_dir else {
        eprintln!(
            "stormdesk-runner: execution {}: {reason}; no spool_dir was given, so the outcome \
             is printed here and lost to the engine",
            req.execution_id
        );
        print_final(&update);
        return EXIT_LOST;
    };
    let record = SpoolRecord {
        execution_id: req.execution_id.clone(),
        chunks: delivery.undelivered_chunks,
        update,
    };
    match spool::write(spool_dir, &record) {
        Ok(path) => {
            eprintln!(
                "stormdesk-runner: execution {}: {reason}; outcome spooled to {}",
                req.execution_id,
                path.display()
            );
            0
        }
        Err(e) => {
            eprintln!(
                "stormdesk-runner: execution {}: {reason}; spooling to {} failed too: {e}; the \
                 outcome is printed here and lost to the engine",
                req.execution_id,
                spool_dir.display()
            );
            print_final(&record.update);
            EXIT_LOST
        }
    }
}

#[cfg(test)]
mod tests {
    use super::read_line;

    #[test]
    fn the_request_line_and_what_followed_it_are_split() {
        let mut input: &[u8] = b"{\"a\": 1}\ncancel\n";
        let (line, rest) = read_line(&mut input).unwrap().unwrap();
        assert_eq!(line, b"{\"a\": 1}");
        assert_eq!(rest, b"cancel\n");
        let mut empty: &[u8] = b"";
        assert!(read_line(&mut empty).unwrap().is_none());
        let mut unterminated: &[u8] = b"{}";
        assert_eq!(read_line(&mut unterminated).unwrap().unwrap().0, b"{}");
    }

    #[test]
    fn a_long_line_arriving_in_pieces_is_read_once() {
        // A reader that hands out 1 KB at a time.
        struct Trickle(Vec<u8>, usize);
        impl std::io::Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1024).min(self.0.len() - self.1);
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut data = vec![b'a'; 3 * 1024 * 1024];
        data.extend_from_slice(b"\nrest");
        let (line, rest) = read_line(&mut Trickle(data, 0)).unwrap().unwrap();
        assert_eq!(line.len(), 3 * 1024 * 1024);
        assert_eq!(rest, b"rest");
    }
}
