//! What expressions see of the running workflow: task statuses looked up
//! across routes (Orquesta's `task_status_`) and StackStorm's `task()`.

use serde_json::{Map, Value};

use super::state::Key;
use super::Conductor;
use crate::expr::{Env, TaskLookup};
use crate::graph::NodeId;

pub struct StateView<'a> {
    c: &'a Conductor,
}

impl<'a> StateView<'a> {
    pub fn new(c: &'a Conductor) -> StateView<'a> {
        StateView { c }
    }

    /// The latest entry of `node` on `route`, else on the nearest earlier
    /// route whose split transitions are all on this one.
    fn resolve(&self, node: NodeId, mut route: u32) -> Option<usize> {
        let state = &self.c.state;
        loop {
            if let Some(i) = state.tasks.get(&Key(node, route)) {
                return Some(*i);
            }
            if route == 0 {
                return None;
            }
            let current = state.routes.get(route as usize)?;
            let earlier = state.routes.get(..route as usize)?;
            let found = earlier
                .iter()
                .enumerate()
                .rev()
                .find(|(_, prev)| prev.iter().all(|step| current.contains(step)))
                .map(|(i, _)| i as u32)?;
            route = found;
        }
    }
}

impl TaskLookup for StateView<'_> {
    fn status_of(&self, task: &str, route: u32) -> &'static str {
        self.c
            .graph
            .node(task)
            .and_then(|n| self.resolve(n, route))
            .map_or("null", |i| self.c.state.sequence[i].status.as_str())
    }

    fn task(&self, task: &str, route: u32, env: &dyn Env) -> Option<Value> {
        let node = self.c.graph.node(task)?;
        let entry = &self.c.state.sequence[self.resolve(node, route)?];
        let extra = env.task_execution(task, entry.route).unwrap_or_default();
        let workflow_execution_id = self
            .c
            .state
            .contexts
            .first()
            .and_then(|c| c.get("st2"))
            .and_then(|s| s.get("workflow_execution_id"))
            .cloned()
            .unwrap_or(Value::Null);
        let record = self.c.state.records.get(&Key(node, entry.route));
        let status = record.map_or(entry.status, |r| r.status);
        let mut out = Map::new();
        let field = |k: &str| extra.get(k).cloned().unwrap_or(Value::Null);
        out.insert("task_execution_id".into(), field("task_execution_id"));
        out.insert("workflow_execution_id".into(), workflow_execution_id);
        out.insert("task_name".into(), Value::String(task.to_string()));
        out.insert("task_id".into(), Value::String(task.to_string()));
        out.insert("route".into(), Value::from(entry.route));
        let result = match record {
            Some(r) if r.elsewhere => extra
                .get("result")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
            Some(r) => r.result_value(),
            None => Value::Object(Map::new()),
        };
        out.insert("result".into(), result);
        out.insert("status".into(), Value::String(status.as_str().to_string()));
        out.insert("start_timestamp".into(), field("start_timestamp"));
        out.insert("end_timestamp".into(), field("end_timestamp"));
        Some(Value::Object(out))
    }
}
