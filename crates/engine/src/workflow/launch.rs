//! A task request becomes a child execution.

use serde_json::{json, Map, Value};
use stormdesk_workflow::TaskRequest;

use super::Run;
use crate::engine::{Engine, Prepared};
use crate::model::RunRequest;

/// Prepares the child execution of `req` (nothing written or started yet:
/// the step commits its record with the step's log row, then starts it);
/// or says why it cannot start.
pub(crate) async fn task(
    engine: &Engine,
    workflow: &str,
    run: &Run,
    req: &TaskRequest,
) -> Result<Prepared, String> {
    let mut parameters = req.input.clone();
    // A task may pick its own revision; otherwise tasks of the workflow's pack
    // run at the commit the top-level run asked for.
    let content_version = match parameters.remove("content_version") {
        Some(Value::String(rev)) if !rev.is_empty() => Some(rev),
        _ => {
            let same_pack = req
                .action
                .split_once('.')
                .is_some_and(|(pack, _)| pack == run.pack);
            run.commit.clone().filter(|_| same_pack)
        }
    };
    let request = RunRequest {
        action: req.action.clone(),
        parameters,
        content_version,
        ..Default::default()
    };
    Box::pin(engine.prepare_run(
        request,
        Some(workflow.to_string()),
        context(workflow, run, req),
        None,
    ))
    .await
    .map_err(|e| e.to_string())
}

/// Ancestors a task's `context.parent` chain keeps. StackStorm nests every
/// ancestor's context, so a record grows a level per level of nesting; past
/// a few levels nobody reads them, and a record nested too deep could not be
/// read back (JSON parsers stop at 128 levels). `root_id` names the top.
const PARENT_CHAIN: usize = 8;

/// Cuts a `parent` chain to [`PARENT_CHAIN`] levels, naming the top in `root_id`.
pub(crate) fn truncate_parents(parent: &mut Map<String, Value>) {
    // The top of the chain, wherever it is cut.
    let mut root = parent.get("execution_id").cloned();
    let mut at: &Map<String, Value> = parent;
    while let Some(Value::Object(up)) = at.get("parent") {
        if let Some(id) = up.get("execution_id") {
            root = Some(id.clone());
        }
        if let Some(r) = up.get("root_id") {
            root = Some(r.clone());
        }
        at = up;
    }
    let mut level = 0;
    let mut cur = parent;
    loop {
        level += 1;
        if level >= PARENT_CHAIN {
            if cur.remove("parent").is_some() {
                if let Some(root) = &root {
                    cur.insert("root_id".into(), root.clone());
                }
            }
            break;
        }
        match cur.get_mut("parent") {
            Some(Value::Object(up)) => cur = up,
            _ => break,
        }
    }
}

/// What every task of a workflow inherits from the workflow's context, built
/// once per workflow: `user`, and `parent` (the workflow's execution id,
/// user and pack, and its own `parent`, cut to [`PARENT_CHAIN`] levels).
pub(crate) fn inherited(
    workflow: &str,
    workflow_context: &Map<String, Value>,
) -> Map<String, Value> {
    let mut parent = Map::new();
    parent.insert("execution_id".into(), json!(workflow));
    for key in ["user", "pack", "api_user", "source_channel", "parent"] {
        if let Some(v) = workflow_context.get(key) {
            parent.insert(key.into(), v.clone());
        }
    }
    truncate_parents(&mut parent);
    let mut context = Map::new();
    if let Some(user) = workflow_context.get("user") {
        context.insert("user".into(), user.clone());
    }
    context.insert("parent".into(), Value::Object(parent));
    context
}

/// A task's execution context as StackStorm's workflow service builds it
/// (`st2common/services/workflows.py`, `request_action_execution`): the
/// workflow's user, `parent` (see [`inherited`]), and `orquesta` naming the
/// task, route and with-items index; plus Stormdesk's `orquesta.attempt`
/// (the retry count) and `orquesta.items_count` (a with-items task's number
/// of items).
pub(crate) fn context(workflow: &str, run: &Run, req: &TaskRequest) -> Map<String, Value> {
    let mut orquesta = Map::new();
    orquesta.insert("workflow_execution_id".into(), json!(workflow));
    orquesta.insert("task_name".into(), json!(req.key.task));
    orquesta.insert("task_id".into(), json!(req.key.task));
    orquesta.insert("task_route".into(), json!(req.key.route));
    if let Some(item) = req.key.item {
        orquesta.insert("item_id".into(), json!(item));
        // Stormdesk's: how many items the task has, for "2 of 4" in consoles.
        if let Some(count) = req.items_count {
            orquesta.insert("items_count".into(), json!(count));
        }
    }
    orquesta.insert("attempt".into(), json!(req.attempt));
    let mut context = run.parent_context.clone();
    context.insert("orquesta".into(), Value::Object(orquesta));
    context
}
