//! Orquesta's statuses (`orquesta/statuses.py`) and the workflow and task
//! status machines (`orquesta/machines.py`): events are named as Orquesta
//! names them (`action_succeeded_task_dormant_items_completed`,
//! `task_remediated_workflow_active_incomplete`, ...) and looked up in the
//! transition tables of [`super::tables`].

use crate::hash::FxHashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::tables;

/// A workflow or task status, with Orquesta's names (`null` is unset).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum St {
    #[serde(rename = "null")]
    Unset,
    Requested,
    Scheduled,
    Delayed,
    Running,
    Pending,
    Pausing,
    Paused,
    Resuming,
    Succeeded,
    Failed,
    Timeout,
    Abandoned,
    Retrying,
    Canceling,
    Canceled,
}

pub const ALL: [St; 16] = [
    St::Unset,
    St::Requested,
    St::Scheduled,
    St::Delayed,
    St::Running,
    St::Pending,
    St::Pausing,
    St::Paused,
    St::Resuming,
    St::Succeeded,
    St::Failed,
    St::Timeout,
    St::Abandoned,
    St::Retrying,
    St::Canceling,
    St::Canceled,
];

impl St {
    pub fn as_str(self) -> &'static str {
        match self {
            St::Unset => "null",
            St::Requested => "requested",
            St::Scheduled => "scheduled",
            St::Delayed => "delayed",
            St::Running => "running",
            St::Pending => "pending",
            St::Pausing => "pausing",
            St::Paused => "paused",
            St::Resuming => "resuming",
            St::Succeeded => "succeeded",
            St::Failed => "failed",
            St::Timeout => "timeout",
            St::Abandoned => "abandoned",
            St::Retrying => "retrying",
            St::Canceling => "canceling",
            St::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> St {
        ALL.into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or_else(|| panic!("unknown status {s:?} in the status tables"))
    }

    /// Orquesta's `ACTIVE_STATUSES`.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            St::Requested
                | St::Scheduled
                | St::Delayed
                | St::Running
                | St::Resuming
                | St::Pausing
                | St::Canceling
        )
    }

    /// `COMPLETED_STATUSES`.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            St::Succeeded | St::Failed | St::Timeout | St::Abandoned | St::Canceled
        )
    }

    /// `ABENDED_STATUSES`.
    pub fn is_abended(self) -> bool {
        matches!(self, St::Failed | St::Timeout | St::Abandoned)
    }

    /// `RUNNING_STATUSES` (the workflow may hand out tasks).
    pub fn is_running(self) -> bool {
        matches!(
            self,
            St::Requested | St::Scheduled | St::Delayed | St::Running | St::Resuming | St::Retrying
        )
    }

    /// The action event of this status (`action_succeeded`, ...).
    pub fn action_event(self) -> &'static str {
        match self {
            St::Unset => "action_null",
            St::Requested => "action_requested",
            St::Scheduled => "action_scheduled",
            St::Delayed => "action_delayed",
            St::Running => "action_running",
            St::Pending => "action_pending",
            St::Pausing => "action_pausing",
            St::Paused => "action_paused",
            St::Resuming => "action_resuming",
            St::Succeeded => "action_succeeded",
            St::Failed => "action_failed",
            St::Timeout => "action_timeout",
            St::Abandoned => "action_abandoned",
            St::Retrying => "action_retrying",
            St::Canceling => "action_canceling",
            St::Canceled => "action_canceled",
        }
    }

    /// `STARTING_STATUSES`.
    pub fn is_starting(self) -> bool {
        matches!(
            self,
            St::Requested | St::Scheduled | St::Delayed | St::Running | St::Pending
        )
    }

    pub fn is_pause(self) -> bool {
        matches!(self, St::Pausing | St::Paused)
    }

    pub fn is_cancel(self) -> bool {
        matches!(self, St::Canceling | St::Canceled)
    }
}

/// An event name built without allocating (the longest is under 64 bytes).
pub struct EventName {
    buf: [u8; 96],
    len: usize,
}

impl EventName {
    pub fn new(start: &str) -> EventName {
        let mut e = EventName {
            buf: [0; 96],
            len: 0,
        };
        e.push(start);
        e
    }

    pub fn push(&mut self, part: &str) {
        let end = (self.len + part.len()).min(self.buf.len());
        self.buf[self.len..end].copy_from_slice(&part.as_bytes()[..end - self.len]);
        self.len = end;
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

type Table = Vec<FxHashMap<&'static str, St>>;

fn build(rows: &'static [(&'static str, &'static str, &'static str)]) -> Table {
    let mut table: Table = vec![FxHashMap::default(); ALL.len()];
    for (from, event, to) in rows {
        table[St::parse(from) as usize].insert(*event, St::parse(to));
    }
    table
}

/// The workflow status after `event`, `None` when the event changes nothing.
pub fn workflow_next(current: St, event: &str) -> Option<St> {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| build(tables::WORKFLOW))[current as usize]
        .get(event)
        .copied()
}

/// The task status after `event`, `None` when the event changes nothing.
pub fn task_next(current: St, event: &str) -> Option<St> {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| build(tables::TASK))[current as usize]
        .get(event)
        .copied()
}

/// Engine commands as task events (`orquesta/events.py`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Continue,
    Fail,
    Noop,
    Retry,
}

impl Command {
    pub fn event(self) -> &'static str {
        match self {
            Command::Continue => "task_continue_requested",
            Command::Fail => "task_fail_requested",
            Command::Noop => "task_noop_requested",
            Command::Retry => "task_retry_requested",
        }
    }

    /// The status the event carries.
    pub fn status(self) -> St {
        match self {
            Command::Continue | Command::Noop => St::Succeeded,
            Command::Fail => St::Failed,
            Command::Retry => St::Retrying,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_answer_known_transitions() {
        assert_eq!(
            workflow_next(St::Running, "task_failed_workflow_active"),
            Some(St::Failed)
        );
        assert_eq!(task_next(St::Running, "action_timeout"), Some(St::Failed));
        assert_eq!(
            task_next(St::Failed, "task_retry_requested"),
            Some(St::Retrying)
        );
        assert_eq!(task_next(St::Succeeded, "action_running"), None);
    }
}
