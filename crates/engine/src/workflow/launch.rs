//! A task request becomes a child execution.

use serde_json::{json, Map, Value};
use stormdesk_workflow::TaskRequest;

use super::Run;
use crate::engine::Engine;
use crate::model::RunRequest;

/// Starts the child execution of `req`; returns its id, or why it could not start.
pub(crate) async fn task(
    engine: &Engine,
    workflow: &str,
    run: &Run,
    req: &TaskRequest,
) -> Result<String, String> {
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
    };
    Box::pin(engine.run_with_parent(request, Some(workflow.to_string()), context(req)))
        .await
        .map(|e| e.id)
        .map_err(|e| e.to_string())
}

pub(crate) fn context(req: &TaskRequest) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("task".into(), json!(req.key.task));
    context.insert("route".into(), json!(req.key.route));
    if let Some(item) = req.key.item {
        context.insert("item".into(), json!(item));
    }
    context.insert("attempt".into(), json!(req.attempt));
    context
}
