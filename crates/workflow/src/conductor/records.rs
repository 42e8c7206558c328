//! StackStorm's task execution records (`st2common/services/workflows.py`
//! `request_task_execution` / `update_task_execution`), which the workflow
//! engine keeps beside the conductor: what `task()` reports and where the
//! results of with-items items accumulate.
//!
//! A record is opened each time a task is handed out, except that a
//! with-items task whose latest record is still running keeps it (its next
//! items, or a retry after an item failed before all items ran, add to the
//! same list, as in StackStorm).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::machines::St;
use super::state::Key;
use super::Conductor;
use crate::expr::functions::truthy;
use crate::graph::NodeId;

/// The latest execution record of a task on a route.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Record {
    pub status: St,
    /// `{}` or the action's result (a plain task).
    #[serde(default)]
    pub result: Value,
    /// For with-items: (status, result) of each item that reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Option<(St, Value)>>>,
    /// The action's result was not kept here (see
    /// [`Conductor::keep_results_elsewhere`]): `task()` asks the [`Env`](crate::Env).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
    /// Items that reported, and of those the ones that succeeded.
    #[serde(default)]
    reported: usize,
    #[serde(default)]
    succeeded: usize,
}

impl Record {
    /// The result StackStorm stores: `{"items": [{status, result} | null]}`
    /// for with-items.
    pub fn result_value(&self) -> Value {
        match &self.items {
            None => self.result.clone(),
            Some(items) => json!({
                "items": items
                    .iter()
                    .map(|i| match i {
                        None => Value::Null,
                        Some((s, r)) => json!({"status": s.as_str(), "result": r}),
                    })
                    .collect::<Vec<_>>()
            }),
        }
    }
}

impl Conductor {
    /// A task is handed out: open its record (`items`: the item count of a
    /// with-items task).
    pub(super) fn open_record(&mut self, node: NodeId, route: u32, items: Option<usize>) {
        let key = Key(node, route);
        let reuse = items.is_some_and(|n| n > 0)
            && self
                .state
                .records
                .get(&key)
                .is_some_and(|r| r.items.is_some() && r.status == St::Running);
        if reuse {
            return;
        }
        self.state.records.insert(
            key,
            Record {
                status: St::Running,
                result: Value::Object(Map::new()),
                items: items.map(|n| vec![None; n]),
                elsewhere: false,
                reported: 0,
                succeeded: 0,
            },
        );
    }

    /// An action execution of the task completed.
    pub(super) fn close_record(
        &mut self,
        node: NodeId,
        route: u32,
        item: Option<usize>,
        status: St,
        result: &Value,
    ) {
        let Some(record) = self.state.records.get_mut(&Key(node, route)) else {
            return;
        };
        let (Some(items), Some(item)) = (record.items.as_mut().filter(|i| !i.is_empty()), item)
        else {
            record.status = status;
            if truthy(result) {
                if self.results_elsewhere {
                    record.elsewhere = true;
                } else {
                    record.result = result.clone();
                }
            }
            return;
        };
        let Some(slot) = items.get_mut(item) else {
            return;
        };
        // An item that reported a hold (pending, paused) before did not count.
        if let Some((old, _)) = slot.as_ref().filter(|(old, _)| old.is_completed()) {
            record.reported -= 1;
            if *old == St::Succeeded {
                record.succeeded -= 1;
            }
        }
        *slot = Some((status, result.clone()));
        if status.is_completed() {
            record.reported += 1;
            if status == St::Succeeded {
                record.succeeded += 1;
            }
        }
        if record.reported == items.len() {
            record.status = if record.succeeded == items.len() {
                St::Succeeded
            } else {
                St::Failed
            };
        }
    }

    /// The item results of a with-items task so far (null for items that
    /// did not report): StackStorm's accumulated result.
    pub(super) fn accumulated(&self, node: NodeId, route: u32) -> Value {
        let items = self
            .state
            .records
            .get(&Key(node, route))
            .and_then(|r| r.items.as_ref());
        Value::Array(
            items
                .map(|items| {
                    items
                        .iter()
                        .map(|i| i.as_ref().map_or(Value::Null, |(_, r)| r.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}
