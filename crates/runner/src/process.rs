//! The runner process: runs one action for the engine. The `stormdesk-runner`
//! binary is this; other binaries (the CLI) can act as one by calling [`main`].
//!
//! Reads one JSON line (a `RunnerRequest`) from stdin, runs the action and
//! reports it to the callback listener, falling back to the spool. Later
//! stdin lines saying `cancel` cancel the action; EOF on stdin is not a
//! cancel. SIGTERM and SIGINT to this process also cancel the action. Besides
//! the thread running the action, one thread watches for a cancel and one
//! reports (see [`crate::callback`]).
//! Without a callback, the final `{"status", "result"}` is printed to stdout
//! and the live output is mirrored to stderr.
//!
//! Exit codes: 0 when the outcome was reported or spooled (whatever the
//! action's status), 1 when it could be neither reported nor spooled, 2 when
//! the request on stdin was unreadable.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
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
    let req: RunnerRequest = match serde_json::from_slice(&line) {
        Ok(req) => req,
        Err(e) => return bad_request(&format!("the request line is not a RunnerRequest: {e}")),
    };
    drop(line);

    let cancel = CancelHandle::new();
    watch_control(stdin, rest, cancel.clone());

    match req.callback.clone() {
        Some(callback) => run_reported(&req, &callback, &cancel),
        None => run_unreported(&req, &cancel),
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

/// One thread watches for a cancel: a `cancel` line on stdin (EOF only means
/// the engine will not write again), or SIGTERM/SIGINT to this process.
fn watch_control(mut stdin: std::fs::File, mut pending: Vec<u8>, cancel: CancelHandle) {
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
        let mut stdin_open = true;
        let mut buf = [0u8; 4096];
        loop {
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                if line.trim_ascii() == b"cancel" {
                    cancel.cancel();
                }
            }
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
                cancel.cancel();
            }
            if input {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => stdin_open = false,
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

fn run_unreported(req: &RunnerRequest, cancel: &CancelHandle) -> ExitCode {
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
    ExitCode::SUCCESS
}

fn print_final(update: &ExecutionUpdate) {
    let line = json!({ "status": update.status, "result": update.result });
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn run_reported(req: &RunnerRequest, callback: &Callback, cancel: &CancelHandle) -> ExitCode {
    let secrets = Secrets::new(req.secrets.iter().cloned());
    let mut reporter = Reporter::start(&req.execution_id, callback);
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
        return ExitCode::SUCCESS;
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
        return ExitCode::from(EXIT_LOST);
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "stormdesk-runner: execution {}: {reason}; spooling to {} failed too: {e}; the \
                 outcome is printed here and lost to the engine",
                req.execution_id,
                spool_dir.display()
            );
            print_final(&record.update);
            ExitCode::from(EXIT_LOST)
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
