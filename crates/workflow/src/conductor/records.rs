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
    pub itemized: bool,
    pub status: St,
    /// `{}` or the action's result; `{"items": [{status, result} | null]}`
    /// for with-items.
    pub result: Value,
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
                .is_some_and(|r| r.itemized && r.status == St::Running);
        if reuse {
            return;
        }
        let result = match items {
            Some(n) => json!({ "items": vec![Value::Null; n] }),
            None => Value::Object(Map::new()),
        };
        self.state.records.insert(
            key,
            Record {
                itemized: items.is_some(),
                status: St::Running,
                result,
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
        let items = record
            .result
            .get_mut("items")
            .and_then(Value::as_array_mut)
            .filter(|i| record.itemized && !i.is_empty());
        let (Some(items), Some(item)) = (items, item) else {
            record.status = status;
            if truthy(result) {
                record.result = result.clone();
            }
            return;
        };
        if let Some(slot) = items.get_mut(item) {
            *slot = json!({"status": status.as_str(), "result": result});
        }
        let statuses: Vec<Option<&str>> = items
            .iter()
            .map(|i| i.get("status").and_then(Value::as_str))
            .collect();
        let completed = ["succeeded", "failed", "timeout", "abandoned", "canceled"];
        if statuses
            .iter()
            .all(|s| s.is_some_and(|s| completed.contains(&s)))
        {
            record.status = if statuses.iter().all(|s| *s == Some("succeeded")) {
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
            .and_then(|r| r.result.get("items"))
            .and_then(Value::as_array);
        Value::Array(
            items
                .map(|items| {
                    items
                        .iter()
                        .map(|i| i.get("result").cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}
