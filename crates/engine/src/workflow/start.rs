//! A workflow execution begins: its definition is read and checked before
//! anything is recorded, then its conductor starts.

use std::path::Path;

use serde_json::{Map, Value};
use stormdesk_workflow::{Conductor, WorkflowSpec};

use super::{advance, Run, Step};
use crate::engine::{set_status, Engine};
use crate::error::EngineError;
use crate::model::{Execution, Status};
use crate::store::WriteOp;

/// Reads and checks the workflow definition at `path` and creates its
/// conductor with the action parameters that the workflow declares as input.
pub(crate) fn prepare(
    action: &str,
    path: Option<&Path>,
    parameters: &Map<String, Value>,
) -> Result<Conductor, EngineError> {
    let fail = |message: String| EngineError::Workflow {
        action: action.to_string(),
        message,
    };
    let path = path.ok_or_else(|| {
        fail("its metadata has no entry_point: point it at the workflow definition (e.g. workflows/deploy.yaml)".into())
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let spec =
        WorkflowSpec::from_yaml(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    // Every declared parameter arrives, null when unset, as StackStorm's
    // `render_final_params` gives them to Orquesta (`inputs=action_params`,
    // st2common/services/workflows.py); Orquesta takes a given input, even
    // null, over the spec's default (`render_input`).
    let input: Map<String, Value> = parameters
        .iter()
        .filter(|(name, _)| spec.input.iter().any(|i| &i.name == *name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut conductor =
        Conductor::new(spec, input).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    // Results stay in the store: `task()` reads them there (workflow/kv.rs).
    conductor.keep_results_elsewhere();
    Ok(conductor)
}

/// Readies a workflow's conducting state before its record is written: what
/// its tasks inherit from its context, and its first snapshot (added to
/// `ops`, committed with the record).
pub(crate) fn prepare_run(
    engine: &Engine,
    execution: &Execution,
    mut run: Run,
    ops: &mut Vec<WriteOp>,
) -> Run {
    run.user = execution.user().map(str::to_string);
    run.parent_context = super::launch::inherited(&execution.id, &execution.context);
    if let Some(op) = super::step::snapshot(engine, &execution.id, &mut run) {
        ops.push(op);
    }
    run
}

/// Marks the workflow running and starts conducting it (on its own task, so
/// the caller gets the record back at once).
pub(crate) fn begin(engine: &Engine, id: &str, run: Run) {
    engine.inner.workflows.insert(id, run);
    let running = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get_mut(id).map(|entry| {
            set_status(&mut entry.execution, Status::Running);
            entry.execution.clone()
        })
    };
    if let Some(execution) = running {
        if let Err(e) = engine.persist_soon(&execution, false) {
            tracing::error!(workflow = %id, error = %e, "workflow status not saved");
        }
    }
    let (engine, id) = (engine.clone(), id.to_string());
    tokio::spawn(async move { advance(&engine, &id, Step::Start).await });
}
