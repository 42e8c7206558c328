//! The `action-chain` runner: StackStorm's ActionChains
//! (`contrib/runners/action_chain_runner/`), run in-process.
//!
//! A chain runs its links one at a time, each a child execution (context
//! `parent` and `chain`, as StackStorm's), from the `default` link on,
//! following `on-success` / `on-failure`. Parameters, `vars` and `publish`
//! are Jinja ([`render`]); the result is StackStorm's `{"tasks": [...],
//! "published": {...}}` (`published` with `display_published`, the
//! default). A link's completion advances the chain at once (push). The
//! file is read and checked before anything is recorded ([`prepare`]):
//! links that lead nowhere and `ref`s that name no runnable action are
//! errors naming the link.
//!
//! Cancel, pause and resume are StackStorm's: a canceled chain waits for
//! the running link to finish (a child workflow or Inquiry is canceled with
//! it), then is `canceled`; a paused chain pauses once the running link
//! completes (a child workflow is paused with it) and, resumed, goes on
//! from its last entry. A link that reports `pending` (an Inquiry) or
//! `paused` pauses the chain. The chain's state is saved after every step
//! and taken up again after a restart.

mod render;
mod run;
mod spec;
mod step;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::engine::{set_status, Engine, Live};
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, Status};

pub use spec::{parse, ChainSpec, Link};

pub(crate) use run::ChainRun;
pub(crate) use step::{advance, ChainStep};

/// The runner type of ActionChains.
pub const CHAIN_RUNNER: &str = "action-chain";

/// The chains this engine runs.
#[derive(Default)]
pub(crate) struct Chains {
    runs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<ChainRun>>>>>,
}

impl Chains {
    pub fn get(&self, id: &str) -> Option<Arc<tokio::sync::Mutex<Option<ChainRun>>>> {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn insert(&self, id: &str, run: ChainRun) {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), Arc::new(tokio::sync::Mutex::new(Some(run))));
    }

    fn remove(&self, id: &str) {
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// A runner request's action parameters as a mapping.
pub(crate) fn action_map(args: &[stormdesk_runner::protocol::ActionArg]) -> Map<String, Value> {
    args.iter()
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect()
}

/// Is `id` a chain this engine runs?
pub(crate) fn is_chain(engine: &Engine, id: &str) -> bool {
    engine.inner.chains.get(id).is_some()
}

/// Reads and checks the chain file at `path` before anything is recorded.
/// Besides StackStorm's checks, every link's `ref` must name an action that
/// can run (in the catalogue, or at the revision the chain runs at).
pub(crate) fn prepare(
    catalog: &Catalog,
    checkout: Option<&crate::git::Checkout>,
    action: &str,
    path: Option<&Path>,
) -> Result<ChainSpec, EngineError> {
    let fail = |message: String| EngineError::Chain {
        action: action.to_string(),
        message,
    };
    let path = path.ok_or_else(|| {
        fail(
            "its metadata has no entry_point: point it at the chain file (e.g. chains/deploy.yaml)"
                .into(),
        )
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let list = |errors: Vec<String>| {
        fail(format!(
            "{} has errors:\n{}",
            path.display(),
            errors
                .iter()
                .map(|e| format!("  - {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    };
    let spec = parse(&text).map_err(list)?;
    let pack = action.split_once('.').map_or("", |(p, _)| p);
    let mut errors = Vec::new();
    for (i, link) in spec.links.iter().enumerate() {
        let at_revision =
            checkout.filter(|_| link.ref_.split_once('.').is_some_and(|(p, _)| p == pack));
        let found = match at_revision {
            Some(checkout) => {
                crate::pack_revisions::action_in_checkout(checkout, &link.ref_, "").map(|_| ())
            }
            None => catalog.action(&link.ref_).map(|_| ()),
        };
        if let Err(e) = found {
            errors.push(format!("link \"{}\" (#{}): {e}", link.name, i + 1));
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(list(errors))
    }
}

/// Starts the chain whose execution `id` was just recorded.
pub(crate) fn begin(
    engine: &Engine,
    id: &str,
    spec: ChainSpec,
    request: &stormdesk_runner::protocol::RunnerRequest,
    pack: String,
    commit: Option<String>,
) {
    let (execution, context) = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = live.get_mut(id) else {
            return;
        };
        set_status(&mut entry.execution, Status::Running);
        (entry.execution.clone(), entry.execution.context.clone())
    };
    let mut parent_context = Map::new();
    parent_context.insert("execution_id".into(), Value::String(id.to_string()));
    for (k, v) in context {
        parent_context.insert(k, v);
    }
    crate::workflow::truncate_parents(&mut parent_context);
    let runner = &request.runner_parameters;
    let run = ChainRun {
        spec,
        parameters: action_map(&request.action_parameters),
        config: request.pack_config.clone(),
        parent_context,
        pack,
        commit,
        display_published: runner
            .get("display_published")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        vars: Map::new(),
        results: Map::new(),
        tasks: Vec::new(),
        published: Map::new(),
        phase: run::Phase::Running,
        chain_status: Status::Failed,
        error: None,
        current: None,
        has_secrets: !request.secrets.is_empty(),
        started: false,
    };
    engine.inner.chains.insert(id, run);
    if let Err(e) = engine.persist_soon(&execution, false) {
        tracing::error!(chain = %id, error = %e, "chain status not saved");
    }
    let (engine, id) = (engine.clone(), id.to_string());
    tokio::spawn(async move { advance(&engine, &id, ChainStep::Start).await });
}

/// A link's execution completed (push completion, on a task of its own).
pub(crate) fn child_completed(engine: &Engine, execution: &Execution) {
    let Some(parent) = execution.parent.clone() else {
        return;
    };
    if !execution.context.contains_key("chain") || !is_chain(engine, &parent) {
        return;
    }
    let (engine, execution) = (engine.clone(), execution.clone());
    tokio::spawn(async move { child_done(&engine, &parent, &execution).await });
}

/// Feeds a completed link execution to its chain (awaited).
pub(crate) async fn child_done(engine: &Engine, chain: &str, execution: &Execution) {
    advance(
        engine,
        chain,
        ChainStep::ChildDone {
            child: execution.id.clone(),
            status: execution.status,
            result: execution.result.clone(),
        },
    )
    .await;
}

/// A link's execution reported `pending` or `paused`.
pub(crate) fn child_held(
    engine: &Engine,
    chain: &str,
    child: &str,
    hold: stormdesk_workflow::TaskHold,
) {
    let status = match hold {
        stormdesk_workflow::TaskHold::Pending => Status::Pending,
        stormdesk_workflow::TaskHold::Paused => Status::Paused,
    };
    let (engine, chain, child) = (engine.clone(), chain.to_string(), child.to_string());
    tokio::spawn(async move { advance(&engine, &chain, ChainStep::Held { child, status }).await });
}

/// Cancels a chain (StackStorm's `ActionChainRunner.cancel`).
pub(crate) async fn cancel(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if current.status.is_completed() || !is_chain(engine, id) {
        return Err(engine.cannot_control(id, current.status, "canceled"));
    }
    advance(engine, id, ChainStep::Cancel).await;
    engine.execution(id).await
}

/// Pauses a running chain (StackStorm's `ActionChainRunner.pause`).
pub(crate) async fn pause(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if !matches!(current.status, Status::Running | Status::Resuming) || !is_chain(engine, id) {
        return Err(engine.cannot_control(id, current.status, "paused"));
    }
    advance(engine, id, ChainStep::Pause).await;
    engine.execution(id).await
}

/// Resumes a paused chain (StackStorm's `ActionChainRunner.resume`).
pub(crate) async fn resume(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    let current = engine.execution(id).await?;
    if !matches!(current.status, Status::Paused | Status::Pausing) || !is_chain(engine, id) {
        return Err(engine.cannot_control(id, current.status, "resumed"));
    }
    advance(engine, id, ChainStep::Resume).await;
    engine.execution(id).await
}

/// A workflow's pause reaches the running chains among its children.
pub(crate) async fn cascade_pause(engine: &Engine, children: &[String]) {
    for child in children.iter().filter(|c| is_chain(engine, c)) {
        if let Err(e) = pause(engine, child).await {
            tracing::debug!(chain = %child, error = %e, "chain not paused");
        }
    }
}

/// A workflow's resume reaches the paused chains among its children.
pub(crate) async fn cascade_resume(engine: &Engine, children: &[String]) {
    for child in children.iter().filter(|c| is_chain(engine, c)) {
        if let Err(e) = resume(engine, child).await {
            tracing::debug!(chain = %child, error = %e, "chain not resumed");
        }
    }
}

/// After a restart: chains left running are registered again from their
/// saved state (a chain with secret parameters, whose state holds none,
/// fails saying so). Returns the ids to catch up.
pub(crate) async fn register(
    engine: &Engine,
    chains: Vec<Execution>,
) -> Result<Vec<String>, EngineError> {
    let mut ids = Vec::new();
    for execution in chains {
        let id = execution.id.clone();
        engine
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Live {
                    execution,
                    token: String::new(),
                    action_token_hash: None,
                    runner_pid: None,
                    child_pid: None,
                    control: None,
                    adopted: false,
                    finishing: false,
                },
            );
        let state = engine.inner.store.workflow_state(&id).await?;
        let failure = match state.map(|s| serde_json::from_str::<ChainRun>(&s)) {
            Some(Ok(run)) if !run.has_secrets => {
                engine.inner.chains.insert(&id, run);
                ids.push(id);
                continue;
            }
            Some(Ok(_)) => "the engine stopped while this chain ran; it held secrets (secret parameters or decrypted datastore values), which are never stored, so it cannot resume: run it again".to_string(),
            Some(Err(e)) => format!("the saved state of this chain cannot be read ({e}); run it again"),
            None => "the engine stopped before this chain's state was saved; run it again".to_string(),
        };
        engine
            .finish(&id, Status::Failed, serde_json::json!({"error": failure}))
            .await?;
    }
    Ok(ids)
}

/// After a restart: a link that completed while no engine listened is fed
/// from the store; a link started just before the stop is adopted; a chain
/// that stopped between links goes on.
pub(crate) async fn catch_up(engine: &Engine, ids: Vec<String>) {
    for id in ids {
        tracing::info!(chain = %id, "resuming after restart");
        let children = engine
            .executions(ExecutionFilter {
                parent: Some(id.clone()),
                limit: Some(u32::MAX),
                ..Default::default()
            })
            .await
            .unwrap_or_default();
        advance(engine, &id, ChainStep::Relaunch { children }).await;
    }
}
