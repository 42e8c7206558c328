//! The runner process: runs one action for the engine. The `stormdesk-runner`
//! binary is this; other binaries (the CLI) can act as one by calling [`main`].
//!
//! Reads one JSON line (a `RunnerRequest`) from stdin, runs the action and
//! reports it to the callback listener, falling back to the spool. Later
//! stdin lines saying `cancel` cancel the action; EOF on stdin is not a
//! cancel. SIGTERM and SIGINT to this process also cancel the action.
//! Without a callback, the final `{"status", "result"}` is printed to stdout
//! and the live output is mirrored to stderr.
//!
//! Exit codes: 0 when the outcome was reported or spooled (whatever the
//! action's status), 1 when it could be neither reported nor spooled, 2 when
//! the request on stdin was unreadable.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::thread;

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
    let mut line = String::new();
    // `Stdin` buffers globally, so whatever followed the request line is
    // still there for the watcher thread.
    let req: RunnerRequest = match io::stdin().read_line(&mut line) {
        Ok(0) => return bad_request("stdin closed before a request line arrived"),
        Ok(_) => match serde_json::from_str(&line) {
            Ok(req) => req,
            Err(e) => return bad_request(&format!("the request line is not a RunnerRequest: {e}")),
        },
        Err(e) => return bad_request(&format!("could not read stdin: {e}")),
    };
    drop(line);

    let cancel = CancelHandle::new();
    watch_stdin(cancel.clone());
    watch_signals(cancel.clone());

    match req.callback.clone() {
        Some(callback) => run_reported(&req, &callback, &cancel),
        None => run_unreported(&req, &cancel),
    }
}

fn bad_request(reason: &str) -> ExitCode {
    eprintln!(
        "stormdesk-runner: {reason}; expected one JSON line with the execution request on stdin"
    );
    ExitCode::from(EXIT_BAD_REQUEST)
}

/// `cancel` lines cancel; EOF only means the engine will not write again.
fn watch_stdin(cancel: CancelHandle) {
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            match line {
                Ok(line) if line.trim() == "cancel" => cancel.cancel(),
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
}

fn watch_signals(cancel: CancelHandle) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(mut signals) => {
            thread::spawn(move || {
                for _ in signals.forever() {
                    cancel.cancel();
                }
            });
        }
        Err(e) => eprintln!(
            "stormdesk-runner: cannot handle SIGTERM/SIGINT ({e}); cancel through stdin instead"
        ),
    }
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
