//! A workflow execution begins: its definition is read and checked before
//! anything is recorded, then its conductor starts.

use std::path::Path;

use serde_json::{Map, Value};
use stormdesk_workflow::{Conductor, RerunOptions, WorkflowError, WorkflowSpec};

use super::journal::Op;
use super::{advance, Run, Step};
use crate::engine::{set_status, Engine};
use crate::error::EngineError;
use crate::model::{Execution, Status};
use crate::store::WriteOp;

/// Reads and checks the workflow definition at `path` and creates its
/// conductor with the action parameters that the workflow declares as input
/// and StackStorm's workflow context (`ctx().st2`, `ctx().parent`). Besides
/// Orquesta's inspection, StackStorm's check of the tasks' actions and
/// inputs ([`super::contents`]) runs against `own` (the workflow's pack, at
/// its revision) and `catalog`; every error of both is reported.
pub(crate) fn prepare(
    action: &str,
    path: Option<&Path>,
    parameters: &Map<String, Value>,
    context: Map<String, Value>,
    own: &crate::pack::Pack,
    catalog: &crate::catalog::Catalog,
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
    let contents = super::contents::inspect_contents(&spec, own, catalog);
    let invalid = |errors| {
        fail(format!(
            "{}: {}",
            path.display(),
            WorkflowError::Inspection(errors)
        ))
    };
    let mut conductor = match Conductor::with_context(spec, input, context) {
        Ok(conductor) if contents.is_empty() => conductor,
        Ok(_) => return Err(invalid(contents)),
        Err(WorkflowError::Inspection(errors)) => {
            let mut all = contents;
            all.extend(errors);
            return Err(invalid(all));
        }
        Err(e) => return Err(fail(format!("{}: {e}", path.display()))),
    };
    // Results stay in the store: `task()` reads them there (workflow/kv.rs).
    conductor.keep_results_elsewhere();
    Ok(conductor)
}

/// Readies a workflow's conducting state before its record is written: what
/// its tasks inherit from its context, and its first snapshot (added to
/// `ops`, committed with the record). A re-run's first step
/// ([`Step::Rerun`]) is applied here, so the first snapshot already holds
/// the requests the original's conductor issued (a restart launches them,
/// never starts the conductor anew); it becomes [`Step::Relaunch`].
pub(crate) fn prepare_run(
    engine: &Engine,
    execution: &Execution,
    mut run: Run,
    first: Step,
    ops: &mut Vec<WriteOp>,
) -> (Run, Step) {
    run.user = execution.user().map(str::to_string);
    run.parent_context = super::launch::inherited(&execution.id, &execution.context);
    let first = match first {
        Step::Rerun {
            requests,
            results_from,
        } => {
            let op = Op::Rerun {
                requests,
                results_from,
            };
            run.apply(&op, &stormdesk_workflow::NoKv, None);
            Step::Relaunch
        }
        other => other,
    };
    if let Some(op) = super::step::snapshot(engine, &execution.id, &mut run) {
        ops.push(op);
    }
    (run, first)
}

/// Marks the workflow running and starts conducting it (on its own task, so
/// the caller gets the record back at once).
pub(crate) fn begin(engine: &Engine, id: &str, run: Run, first: Step) {
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
    tokio::spawn(async move { advance(&engine, &id, first).await });
}

/// What a workflow re-run from chosen tasks continues from: the original
/// execution and StackStorm's `tasks` and `reset`.
pub(crate) struct RerunFrom {
    pub original: String,
    /// The original's state as its log last left it (see
    /// [`super::saved_state`]): `None` when it saved none, an error when it
    /// cannot be read.
    pub saved: Option<Result<Run, String>>,
    pub options: RerunOptions,
}

/// The original's conductor, re-run from the chosen tasks, as StackStorm's
/// workflow service does for `st2 execution re-run <id> --tasks ...`
/// (`st2common/services/workflows.py`, `request_rerun`): completed tasks
/// keep their results, the chosen ones run again with the context they had.
/// Unknown task names, a workflow that has not completed or one that saved
/// secrets masked are refused before anything is recorded. The first step
/// ([`Step::Rerun`]) carries the requests issued and where the results of
/// tasks not run again are (the original's children, and those of the
/// executions it continued from).
pub(crate) fn rerun_conductor(
    engine: &Engine,
    action: &str,
    user: Option<String>,
    from: RerunFrom,
) -> Result<(Conductor, Step), EngineError> {
    let fail = |message: String| EngineError::Workflow {
        action: action.to_string(),
        message,
    };
    let saved = from.saved.ok_or_else(|| {
        fail(format!(
            "execution {} has no saved workflow state to re-run from; re-run it whole",
            from.original
        ))
    })?;
    let saved = saved.map_err(|e| {
        fail(format!(
            "the saved state of execution {} cannot be read ({e}); re-run it whole",
            from.original
        ))
    })?;
    if saved.has_secrets {
        return Err(fail(format!(
            "execution {} has secret inputs, which are never stored, so it cannot continue from its tasks; re-run it whole",
            from.original
        )));
    }
    let mut results_from = vec![from.original.clone()];
    results_from.extend(saved.results_from);
    let mut conductor = saved.conductor;
    let env = super::kv::KvEnv::new(engine, &from.original, user).with_earlier(&results_from[1..]);
    let requests = conductor
        .request_rerun(&from.options, &env)
        .map_err(|e| fail(format!("cannot re-run execution {}: {e}", from.original)))?;
    Ok((
        conductor,
        Step::Rerun {
            requests,
            results_from,
        },
    ))
}
