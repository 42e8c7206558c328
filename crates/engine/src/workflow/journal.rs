//! A workflow's progress as an event log: each step appends one row of
//! operations (what was fed to the conductor, and what became of the
//! requests it issued), written in the same transaction as the child
//! executions the step created. Now and then the whole state is saved as a
//! snapshot and the rows before it are deleted; after a crash the latest
//! snapshot is read and the rows after it are replayed through the
//! deterministic conductor, so the cost of a step does not grow with the
//! workflow.
//!
//! The conductor reads the datastore (`st2kv`) while it renders; those reads
//! are logged with the operation that made them, so a replay sees the values
//! the original run saw. Reads with `decrypt` are never logged (a decrypted
//! secret never reaches the store): a replay reads them again.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stormdesk_workflow::{Env, TaskHold, TaskKey, TaskRequest, TaskResult, TaskStatus};

/// Snapshots are taken once the rows written since the last one add up to
/// at least this many bytes, and to at least half the last snapshot: the
/// cost of snapshots per step stays constant, and a replay reads at most
/// half a snapshot's worth of rows.
const SNAPSHOT_MIN_LOG_BYTES: usize = 256 * 1024;

/// One `st2kv` read made during an operation.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct KvRead {
    pub key: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decrypt: bool,
    /// The value read (absent: no such key). Never logged for `decrypt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// One operation on a workflow's conducting state, as logged.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Op {
    /// `Conductor::start`.
    Start {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A child execution completed and was fed to the conductor. Its result
    /// is the child's stored result (read back on replay, never copied here).
    Completed {
        child: String,
        key: TaskKey,
        status: TaskStatus,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A request could not start (unknown action, invalid parameters): it is
    /// dropped and its task fails with `message`.
    LaunchFailed {
        key: TaskKey,
        attempt: u32,
        message: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A request started as this child execution.
    Launched {
        key: TaskKey,
        attempt: u32,
        child: String,
    },
    /// A request waits for its `delay`.
    Delayed {
        key: TaskKey,
        attempt: u32,
    },
    /// A delayed request's time came: it starts now.
    Released {
        key: TaskKey,
        attempt: u32,
    },
    Pause,
    Resume {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A child reported a status before completing (`Conductor::on_task_held`):
    /// an Inquiry waiting for its answer, a child workflow that paused.
    Held {
        key: TaskKey,
        hold: TaskHold,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A held child runs again (`Conductor::on_task_resumed`).
    TaskResumed {
        key: TaskKey,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
    /// A re-run from chosen tasks begins: the requests the original's
    /// conductor issued (`Conductor::request_rerun`, whose state is in the
    /// snapshot this follows), and the executions whose children hold the
    /// results of the tasks not run again. Usually applied before the first
    /// snapshot, so it is logged only when a re-run begins another way.
    Rerun {
        requests: Vec<TaskRequest>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        results_from: Vec<String>,
    },
    /// Cancel: requests not started yet are reported canceled.
    Cancel {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kv: Vec<KvRead>,
    },
}

impl Op {
    /// Where the datastore reads of an operation go.
    pub fn kv_mut(&mut self) -> Option<&mut Vec<KvRead>> {
        match self {
            Op::Start { kv }
            | Op::Completed { kv, .. }
            | Op::LaunchFailed { kv, .. }
            | Op::Resume { kv }
            | Op::Held { kv, .. }
            | Op::TaskResumed { kv, .. }
            | Op::Cancel { kv } => Some(kv),
            Op::Launched { .. }
            | Op::Delayed { .. }
            | Op::Released { .. }
            | Op::Pause
            | Op::Rerun { .. } => None,
        }
    }

    /// The reads logged with the operation.
    pub fn take_kv(&mut self) -> Vec<KvRead> {
        self.kv_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// The synthetic result of a request that could not start.
pub(crate) fn launch_failure(key: TaskKey, message: &str) -> TaskResult {
    TaskResult {
        key,
        status: TaskStatus::Failed,
        result: serde_json::json!({ "error": message }),
    }
}

/// The synthetic result of a request canceled before it started.
pub(crate) fn canceled_before_start(key: TaskKey) -> TaskResult {
    TaskResult {
        key,
        status: TaskStatus::Canceled,
        result: serde_json::json!({"error": "canceled before it started"}),
    }
}

/// An [`Env`] that answers from `inner` and remembers what it was asked.
pub(crate) struct Recording<'a> {
    inner: &'a dyn Env,
    reads: Mutex<Vec<KvRead>>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a dyn Env) -> Recording<'a> {
        Recording {
            inner,
            reads: Mutex::new(Vec::new()),
        }
    }

    pub fn take(&self) -> Vec<KvRead> {
        std::mem::take(&mut *self.reads.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Env for Recording<'_> {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        // A read that failed is not logged: a replay asks again.
        let value = self.inner.st2kv(key, decrypt)?;
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(KvRead {
                key: key.to_string(),
                decrypt,
                value: if decrypt { None } else { value.clone() },
            });
        Ok(value)
    }

    fn st2kv_name(&self, key: &str) -> String {
        self.inner.st2kv_name(key)
    }

    fn task_execution(&self, task: &str, route: u32) -> Option<serde_json::Map<String, Value>> {
        self.inner.task_execution(task, route)
    }
}

/// An [`Env`] that answers from an operation's logged reads, in order, and
/// from `live` for what was not logged (decrypted reads, or a replay that
/// asks something the original run did not).
pub(crate) struct Replaying<'a> {
    live: &'a dyn Env,
    reads: Mutex<VecDeque<KvRead>>,
}

impl<'a> Replaying<'a> {
    pub fn new(live: &'a dyn Env, reads: Vec<KvRead>) -> Replaying<'a> {
        Replaying {
            live,
            reads: Mutex::new(reads.into()),
        }
    }
}

impl Env for Replaying<'_> {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let logged = {
            let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
            match reads.front() {
                Some(r) if r.key == key && r.decrypt == decrypt => reads.pop_front(),
                _ => None,
            }
        };
        match logged {
            Some(read) if !decrypt => Ok(read.value),
            _ => self.live.st2kv(key, decrypt),
        }
    }

    fn st2kv_name(&self, key: &str) -> String {
        self.live.st2kv_name(key)
    }

    fn task_execution(&self, task: &str, route: u32) -> Option<serde_json::Map<String, Value>> {
        self.live.task_execution(task, route)
    }
}

/// What of a workflow's log is not written yet, and when the next snapshot
/// is due.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Operations of the current step.
    pub ops: Vec<Op>,
    /// The number of the next row.
    pub next_seq: u64,
    /// Bytes of rows written since the last snapshot.
    pub since_snapshot: usize,
    /// The size of the last snapshot.
    pub snapshot_size: usize,
}

impl Journal {
    /// After a snapshot of `size` bytes that covers the rows before `seq`.
    pub fn snapshotted(&mut self, seq: u64, size: usize) {
        self.next_seq = seq;
        self.since_snapshot = 0;
        self.snapshot_size = size;
    }

    /// Whether the rows written since the last snapshot make a new one worth it.
    pub fn snapshot_due(&self) -> bool {
        self.since_snapshot >= SNAPSHOT_MIN_LOG_BYTES.max(self.snapshot_size / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Kv;
    impl Env for Kv {
        fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
            Ok((key != "missing").then(|| json!(format!("now:{key}"))))
        }
    }

    #[test]
    fn recorded_reads_are_replayed_and_decrypted_ones_read_again() {
        let rec = Recording::new(&Kv);
        assert_eq!(rec.st2kv("a", false), Ok(Some(json!("now:a"))));
        assert_eq!(rec.st2kv("s", true), Ok(Some(json!("now:s"))));
        assert_eq!(rec.st2kv("missing", false), Ok(None));
        let mut reads = rec.take();
        assert_eq!(reads[1].value, None, "a decrypted value is never logged");
        // The datastore changed since: the replay still sees the old value.
        reads[0].value = Some(json!("then:a"));
        let text = serde_json::to_string(&reads).unwrap();
        let reads: Vec<KvRead> = serde_json::from_str(&text).unwrap();
        let replay = Replaying::new(&Kv, reads);
        assert_eq!(replay.st2kv("a", false), Ok(Some(json!("then:a"))));
        assert_eq!(replay.st2kv("s", true), Ok(Some(json!("now:s"))));
        assert_eq!(replay.st2kv("missing", false), Ok(None));
        // Asked for more than was logged: the live datastore answers.
        assert_eq!(replay.st2kv("b", false), Ok(Some(json!("now:b"))));
    }

    #[test]
    fn snapshots_come_when_the_log_outgrows_half_the_last_one() {
        let mut j = Journal::default();
        j.snapshotted(1, 4 * SNAPSHOT_MIN_LOG_BYTES);
        j.since_snapshot = SNAPSHOT_MIN_LOG_BYTES;
        assert!(!j.snapshot_due());
        j.since_snapshot = 2 * SNAPSHOT_MIN_LOG_BYTES;
        assert!(j.snapshot_due());
        j.snapshotted(9, 10);
        assert_eq!(j.next_seq, 9);
        assert!(!j.snapshot_due());
    }
}
