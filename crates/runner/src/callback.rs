//! Reporting one run to the engine's callback listener (see [`crate::protocol`]).
//!
//! A [`Reporter`] owns a sender thread: the run loop only pushes onto an
//! unbounded channel, so a slow or unreachable listener never blocks the
//! action's output pipes. Chunks are numbered from 0 without gaps, sent in
//! order in batches of whatever has accumulated, and a failed batch is kept
//! and sent again ahead of newer chunks, so the listener never sees a gap.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::protocol::{Callback, ExecutionUpdate, OutputBatch, OutputChunk, RunnerStatus, Stream};

/// Keeps one POST reasonably small when a lot of output piled up.
const MAX_BATCH_CHUNKS: usize = 1000;
const MAX_BATCH_BYTES: usize = 1 << 20;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `running` waits for the run's next event: an action that ends
/// within it is reported by its final update alone (which carries the pid).
const RUNNING_GRACE: Duration = Duration::from_millis(20);

enum Msg {
    Running(u32),
    Chunk(OutputChunk),
    Final(ExecutionUpdate),
}

/// What reached the listener once the final update was attempted.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The listener acknowledged the final update.
    pub final_delivered: bool,
    /// Chunks the listener never acknowledged, in `seq` order.
    pub undelivered_chunks: Vec<OutputChunk>,
    /// The last delivery failure, for the runner's stderr.
    pub last_error: Option<String>,
}

impl Delivery {
    /// Everything arrived: nothing needs to be spooled.
    pub fn is_complete(&self) -> bool {
        self.final_delivered && self.undelivered_chunks.is_empty()
    }
}

/// Sends `running`, output chunks and the final update for one execution.
pub struct Reporter {
    tx: Sender<Msg>,
    next_seq: u64,
    thread: JoinHandle<Delivery>,
}

/// An HTTP agent with the reporter's timeouts. A runner process serving many
/// requests shares one, so its connection to the listener is kept alive
/// from one run to the next.
pub fn new_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
}

impl Reporter {
    /// A reporter with an HTTP agent of its own.
    pub fn start(execution_id: &str, callback: &Callback) -> Self {
        Self::start_with(new_agent(), execution_id, callback)
    }

    /// A reporter sending through `agent` (see [`new_agent`]).
    pub fn start_with(agent: ureq::Agent, execution_id: &str, callback: &Callback) -> Self {
        let (tx, rx) = mpsc::channel();
        let client = Client::new(agent, execution_id, callback);
        let thread = thread::Builder::new()
            .name("callback".into())
            .spawn(move || client.serve(rx))
            .expect("spawning the callback thread");
        Self {
            tx,
            next_seq: 0,
            thread,
        }
    }

    /// Queues the `running` update with the action's pid (sent unless the
    /// final update follows within [`RUNNING_GRACE`]).
    pub fn running(&self, pid: u32) {
        let _ = self.tx.send(Msg::Running(pid));
    }

    /// Queues a piece of output; never blocks.
    pub fn output(&mut self, stream: Stream, data: &str) {
        let chunk = OutputChunk {
            seq: self.next_seq,
            stream,
            data: data.to_string(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        };
        self.next_seq += 1;
        let _ = self.tx.send(Msg::Chunk(chunk));
    }

    /// Sends the remaining chunks, then the final update, and waits for the
    /// outcome of both.
    pub fn finish(self, update: ExecutionUpdate) -> Delivery {
        let sent = self.tx.send(Msg::Final(update)).is_ok();
        drop(self.tx);
        match self.thread.join() {
            Ok(delivery) if sent => delivery,
            Ok(mut delivery) => {
                delivery.final_delivered = false;
                delivery
            }
            Err(_) => Delivery {
                final_delivered: false,
                undelivered_chunks: Vec::new(),
                last_error: Some("the callback thread panicked".into()),
            },
        }
    }
}

struct Client {
    agent: ureq::Agent,
    /// The listener's base URL; re-read from `discover` when it cannot be reached.
    base: String,
    discover: Option<std::path::PathBuf>,
    /// `/runner/v1/executions/<id>`.
    path: String,
    authorization: String,
    attempts: u32,
    backoff: Duration,
    pending: Vec<OutputChunk>,
    last_error: Option<String>,
}

impl Client {
    fn new(agent: ureq::Agent, execution_id: &str, cb: &Callback) -> Self {
        Self {
            agent,
            base: cb.url.trim_end_matches('/').to_string(),
            discover: cb.discover.clone(),
            path: format!("/runner/v1/executions/{}", percent_encode(execution_id)),
            authorization: format!("Bearer {}", cb.token),
            attempts: cb.attempts.max(1),
            backoff: Duration::from_millis(cb.backoff_ms),
            pending: Vec::new(),
            last_error: None,
        }
    }

    fn serve(mut self, rx: Receiver<Msg>) -> Delivery {
        let mut deferred = None;
        loop {
            let msg = match deferred.take() {
                Some(msg) => msg,
                None => match rx.recv() {
                    Ok(msg) => msg,
                    // The reporter went away without a final update.
                    Err(_) => return self.delivery(false),
                },
            };
            match msg {
                Msg::Running(pid) => {
                    // An action that ends at once needs no `running` round
                    // trip: its final update carries the pid. Anything else
                    // (output, or no news for a moment) sends it first.
                    match rx.recv_timeout(RUNNING_GRACE) {
                        Ok(Msg::Final(update)) => {
                            deferred = Some(Msg::Final(update));
                            continue;
                        }
                        Ok(other) => deferred = Some(other),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {}
                    }
                    // A lost `running` is not fatal: the final update follows.
                    self.put(&ExecutionUpdate {
                        status: RunnerStatus::Running,
                        result: None,
                        pid: Some(pid),
                    });
                }
                Msg::Chunk(chunk) => {
                    self.pending.push(chunk);
                    loop {
                        match rx.try_recv() {
                            Ok(Msg::Chunk(chunk)) => self.pending.push(chunk),
                            Ok(other) => {
                                deferred = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    self.flush();
                }
                Msg::Final(update) => {
                    // Output first: the listener may close the execution on
                    // its final update.
                    self.flush();
                    let delivered = self.put(&update);
                    return self.delivery(delivered);
                }
            }
        }
    }

    fn delivery(self, final_delivered: bool) -> Delivery {
        Delivery {
            final_delivered,
            undelivered_chunks: self.pending,
            last_error: self.last_error,
        }
    }

    /// Sends pending chunks in order until all are acknowledged or one batch
    /// fails (it stays pending and goes out again with the next chunks).
    fn flush(&mut self) {
        while !self.pending.is_empty() {
            let mut bytes = 0;
            let len = self
                .pending
                .iter()
                .take(MAX_BATCH_CHUNKS)
                .take_while(|c| {
                    bytes += c.data.len();
                    bytes <= MAX_BATCH_BYTES
                })
                .count()
                .max(1);
            let batch = OutputBatch {
                chunks: self.pending[..len].to_vec(),
            };
            let path = format!("{}/output", self.path);
            let ok = self.with_retries(|agent, base, auth| {
                let sent = agent
                    .post(&format!("{base}{path}"))
                    .set("Authorization", auth)
                    .send_json(&batch);
                classify(sent, "output")
            });
            if !ok {
                return;
            }
            self.pending.drain(..len);
        }
    }

    fn put(&mut self, update: &ExecutionUpdate) -> bool {
        let what = format!("{} update", update.status.as_str());
        let path = self.path.clone();
        self.with_retries(|agent, base, auth| {
            let sent = agent
                .put(&format!("{base}{path}"))
                .set("Authorization", auth)
                .send_json(update);
            classify(sent, &what)
        })
    }

    /// Tries `send` up to `attempts` times, waiting `backoff`, `2 * backoff`, ...
    /// in between (and looking the listener up again), unless the listener
    /// rejects the message outright.
    fn with_retries(&mut self, send: impl Fn(&ureq::Agent, &str, &str) -> Sent) -> bool {
        for attempt in 0..self.attempts {
            if attempt > 0 {
                let factor = 1u32 << (attempt - 1).min(16);
                thread::sleep(self.backoff.saturating_mul(factor).min(MAX_BACKOFF));
                self.rediscover();
            }
            match send(&self.agent, &self.base, &self.authorization) {
                Sent::Acknowledged => return true,
                Sent::Retry(msg) => self.last_error = Some(msg),
                Sent::Rejected(msg) => {
                    self.last_error = Some(msg);
                    return false;
                }
            }
        }
        false
    }

    /// An engine that restarted advertises its new address.
    fn rediscover(&mut self) {
        let Some(file) = &self.discover else { return };
        let Ok(text) = std::fs::read_to_string(file) else {
            return;
        };
        if let Some(url) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_string))
        {
            self.base = url.trim_end_matches('/').to_string();
        }
    }
}

/// The fate of one HTTP attempt.
enum Sent {
    Acknowledged,
    /// Worth trying again (transport error, 5xx, 408, 429).
    Retry(String),
    /// Trying again cannot help (any other 4xx, e.g. a bad token).
    Rejected(String),
}

fn classify(response: Result<ureq::Response, ureq::Error>, what: &str) -> Sent {
    match response {
        Ok(response) => {
            // Read to the end, so the connection goes back to the agent's pool.
            let _ = response.into_string();
            Sent::Acknowledged
        }
        Err(ureq::Error::Status(code, response)) => {
            let body = response.into_string().unwrap_or_default();
            let msg = format!(
                "the listener answered the {what} with HTTP {code}: {}",
                body.trim()
            );
            if (400..500).contains(&code) && code != 408 && code != 429 {
                Sent::Rejected(msg)
            } else {
                Sent::Retry(msg)
            }
        }
        Err(ureq::Error::Transport(e)) => {
            Sent::Retry(format!("could not send the {what} to the listener: {e}"))
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
