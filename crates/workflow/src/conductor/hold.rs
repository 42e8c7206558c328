//! Statuses an action execution reports before it completes. StackStorm's
//! workflow engine feeds them to the conductor too
//! (`handle_action_execution_pending`, `handle_action_execution_pause` and
//! `handle_action_execution_resume` in `st2common/services/workflows.py`):
//! an Inquiry waiting for its answer is `pending`, a child workflow that
//! paused is `paused`. The task stays active (its execution will still
//! report), and Orquesta's status machines pause the workflow once nothing
//! else is running (`task_pending_workflow_dormant` -> `paused`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::machines::St;
use super::state::Key;
use super::update::Event;
use super::{Conductor, TaskKey, TaskRequest};
use crate::expr::Env;

/// A status an action execution reports while it has not finished.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TaskHold {
    /// Waiting for something outside the workflow (an Inquiry's answer).
    Pending,
    /// The execution paused (a child workflow).
    Paused,
}

impl TaskHold {
    fn st(self) -> St {
        match self {
            TaskHold::Pending => St::Pending,
            TaskHold::Paused => St::Paused,
        }
    }
}

impl Conductor {
    /// An execution handed out for `key` reports `hold` and keeps going
    /// (it reports again later). The workflow pauses once no other task is
    /// active, as Orquesta's status machine does; nothing new is handed out.
    /// Reports for keys that are not active are ignored.
    pub fn on_task_held(&mut self, key: &TaskKey, hold: TaskHold, env: &dyn Env) {
        let Some(node) = self.graph.node(&key.task) else {
            return;
        };
        if !self
            .active
            .contains((node, key.route, key.item.map(|i| i as u32)))
        {
            return;
        }
        let status = hold.st();
        self.close_record(node, key.route, key.item, status, &Value::Null);
        let event = match key.item {
            None => Event::Action {
                status,
                result: Value::Null,
            },
            Some(item) => Event::Item {
                item,
                status,
                result: Value::Null,
            },
        };
        self.update_task_state(node, key.route, event, env);
        self.after_event(env);
    }

    /// Whether the task of `key` is held (its latest status is `pending` or
    /// `paused`). A held `paused` task must run again
    /// ([`Conductor::on_task_resumed`]) before its result counts: Orquesta's
    /// status machine ignores a completion while a task is paused.
    pub fn task_hold(&self, key: &TaskKey) -> Option<TaskHold> {
        let node = self.graph.node(&key.task)?;
        match self.state.entry(node, key.route)?.status {
            St::Pending => Some(TaskHold::Pending),
            St::Paused => Some(TaskHold::Paused),
            _ => None,
        }
    }

    /// A held execution runs again (a paused child workflow resumed): the
    /// task and the workflow go back to running, as StackStorm's
    /// `resume_task_execution` and `resume_workflow_execution` do. As there,
    /// nothing new is handed out until the next result arrives, so this
    /// returns no requests today; the signature leaves room for that.
    pub fn on_task_resumed(&mut self, key: &TaskKey, env: &dyn Env) -> Vec<TaskRequest> {
        let Some(node) = self.graph.node(&key.task) else {
            return Vec::new();
        };
        if !self
            .active
            .contains((node, key.route, key.item.map(|i| i as u32)))
        {
            return Vec::new();
        }
        if let Some(record) = self.state.records.get_mut(&Key(node, key.route)) {
            record.status = St::Running;
        }
        self.request_workflow_status(St::Running, env);
        let event = match key.item {
            None => Event::Action {
                status: St::Running,
                result: Value::Null,
            },
            Some(item) => Event::Item {
                item,
                status: St::Running,
                result: Value::Null,
            },
        };
        self.update_task_state(node, key.route, event, env);
        self.after_event(env);
        Vec::new()
    }
}
