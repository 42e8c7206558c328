//! Records written before executions took StackStorm's shape: the action
//! and runner as bare names, `content_version` and `commit` at the top,
//! workflow tasks as `context.task`/`route`/`item`/`attempt`. Read as the
//! current shape so history from an earlier version stays visible.

use serde_json::{json, Map, Value};

use crate::model::{ExecutionAction, ExecutionRunner};

/// True for a record in the earlier shape.
pub(super) fn is_legacy(doc: &Value) -> bool {
    doc.get("action").is_some_and(Value::is_string)
}

/// The record in the current shape.
pub(super) fn upgrade(mut doc: Value) -> Value {
    let Some(obj) = doc.as_object_mut() else {
        return doc;
    };
    let runner = obj
        .get("runner")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    obj.insert(
        "action".into(),
        json!(ExecutionAction::new(&action, &runner)),
    );
    obj.insert("runner".into(), json!(ExecutionRunner::new(&runner)));
    if let Some(id) = obj.get("id").cloned() {
        obj.insert("liveaction_id".into(), id);
    }
    let content_version = obj.remove("content_version");
    let commit = obj.remove("commit");
    if let Some(Value::String(rev)) = content_version {
        let params = obj
            .entry("parameters")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = params.as_object_mut() {
            p.insert("content_version".into(), Value::String(rev));
        }
    }
    let parent = obj.get("parent").cloned().filter(|p| !p.is_null());
    let context = obj
        .entry("context")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(ctx) = context.as_object_mut() {
        if let Some(Value::String(sha)) = commit {
            ctx.insert("commit".into(), Value::String(sha));
        }
        if let Some(task) = ctx.remove("task") {
            let mut orquesta = Map::new();
            orquesta.insert("task_id".into(), task.clone());
            orquesta.insert("task_name".into(), task);
            orquesta.insert("task_route".into(), ctx.remove("route").unwrap_or(json!(0)));
            if let Some(item) = ctx.remove("item") {
                orquesta.insert("item_id".into(), item);
            }
            if let Some(attempt) = ctx.remove("attempt") {
                orquesta.insert("attempt".into(), attempt);
            }
            if let Some(parent) = &parent {
                orquesta.insert("workflow_execution_id".into(), parent.clone());
            }
            ctx.insert("orquesta".into(), Value::Object(orquesta));
        }
        if let Some(parent) = parent {
            ctx.entry("parent")
                .or_insert_with(|| json!({ "execution_id": parent }));
        }
        let pack = action.split('.').next().unwrap_or_default();
        ctx.entry("pack").or_insert_with(|| json!(pack));
    }
    if obj.get("result").is_some_and(Value::is_null) {
        obj.remove("result");
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Execution;

    #[test]
    fn an_earlier_task_record_reads_in_the_current_shape() {
        let old = json!({
            "id": "65f0a0a0a0a0a0a0a0a0a0a0",
            "action": "examples.hello",
            "runner": "local-shell-cmd",
            "parameters": {"name": "ada"},
            "status": "succeeded",
            "start_timestamp": "2024-01-01T00:00:00.000000Z",
            "end_timestamp": "2024-01-01T00:00:01.000000Z",
            "elapsed_seconds": 1.0,
            "result": {"stdout": "hi"},
            "content_version": "v1",
            "commit": "abc123",
            "parent": "65f0a0a0a0a0a0a0a0a0a0ff",
            "children": [],
            "context": {"user": "ada", "task": "greet", "route": 0, "item": 2, "attempt": 1},
            "log": []
        });
        assert!(is_legacy(&old));
        let e: Execution = serde_json::from_value(upgrade(old)).unwrap();
        assert_eq!(e.action_ref(), "examples.hello");
        assert_eq!(e.action.pack, "examples");
        assert_eq!(e.runner_name(), "local-shell-cmd");
        assert_eq!(e.content_version(), Some("v1"));
        assert_eq!(e.commit(), Some("abc123"));
        assert_eq!(e.task_name(), Some("greet"));
        assert_eq!(e.context["orquesta"]["item_id"], json!(2));
        assert_eq!(
            e.context["parent"]["execution_id"],
            json!("65f0a0a0a0a0a0a0a0a0a0ff")
        );
        assert_eq!(e.liveaction_id, e.id);
    }
}
