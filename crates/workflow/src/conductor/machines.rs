//! Orquesta's statuses (`orquesta/statuses.py`) and the workflow and task
//! status machines (`orquesta/machines.py`): events are named as Orquesta
//! names them (`action_succeeded_task_dormant_items_completed`,
//! `task_remediated_workflow_active_incomplete`, ...) and looked up in the
//! transition tables of [`super::tables`].

use std::collections::HashMap;
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

type Table = Vec<HashMap<&'static str, St>>;

fn build(rows: &'static [(&'static str, &'static str, &'static str)]) -> Table {
    let mut table: Table = vec![HashMap::new(); ALL.len()];
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

/// The `_items_...` suffix of an item event: the other items' statuses
/// (Orquesta's `add_context_to_task_item_event`).
pub fn item_event(status: St, others: impl Iterator<Item = St> + Clone) -> String {
    let base = format!("action_{}", status.as_str());
    let contextual = matches!(
        status,
        St::Resuming
            | St::Pending
            | St::Paused
            | St::Succeeded
            | St::Failed
            | St::Timeout
            | St::Abandoned
            | St::Canceled
    );
    if !contextual {
        return base;
    }
    let active = others.clone().any(St::is_active);
    let mut name = base
        + if active {
            "_task_active"
        } else {
            "_task_dormant"
        };
    if !active {
        if others
            .clone()
            .any(|s| matches!(s, St::Pending | St::Paused))
        {
            return name + "_items_paused";
        }
        if others.clone().any(|s| s == St::Canceled) {
            return name + "_items_canceled";
        }
        if others.clone().any(St::is_abended) {
            return name + "_items_failed";
        }
    }
    let incomplete = others.clone().any(|s| !s.is_completed());
    name.push_str(if incomplete {
        "_items_incomplete"
    } else {
        "_items_completed"
    });
    name
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

    #[test]
    fn item_events_carry_the_other_items() {
        let e = item_event(St::Failed, [St::Unset, St::Succeeded].into_iter());
        assert_eq!(e, "action_failed_task_dormant_items_incomplete");
        let e = item_event(St::Succeeded, [St::Running].into_iter());
        assert_eq!(e, "action_succeeded_task_active_items_incomplete");
    }
}
