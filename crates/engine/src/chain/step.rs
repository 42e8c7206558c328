//! One step of a chain: feed it one event (start, a link's completion or
//! hold, pause, resume, cancel, a restart), launch the next link, save the
//! state, settle the execution's status. Steps of one chain are serialised
//! by its async mutex; a step never waits for another chain's or
//! workflow's lock (notifications go through spawned tasks).

use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::MutexGuard;

use super::render;
use super::run::{After, ChainRun, Current, Phase};
use crate::engine::{set_status, Engine};
use crate::model::{Execution, RunRequest, Status};
use crate::store::WriteOp;

pub(crate) enum ChainStep {
    Start,
    /// A link's execution completed.
    ChildDone {
        child: String,
        status: Status,
        result: Value,
    },
    /// A link's execution reported `pending` or `paused`.
    Held {
        child: String,
        status: Status,
    },
    Pause,
    Resume,
    Cancel,
    /// After a restart, with the chain's child executions from the store.
    Relaunch {
        children: Vec<Execution>,
    },
}

/// How a step ends.
enum Flow {
    /// A link runs; wait for it.
    Wait,
    /// The chain pauses here.
    Paused,
    /// The chain is done, with this status.
    Finish(Status),
}

/// Boxed with an explicit `Send`: a step launches links, and a link can be
/// a chain whose own steps the compiler would otherwise have to see through.
pub(crate) fn advance<'a>(
    engine: &'a Engine,
    id: &'a str,
    step: ChainStep,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(advance_inner(engine, id, step))
}

async fn advance_inner(engine: &Engine, id: &str, step: ChainStep) {
    let Some(slot) = engine.inner.chains.get(id) else {
        return;
    };
    let mut guard = slot.lock().await;
    let Some(run) = guard.as_mut() else {
        return;
    };
    let flow = match step {
        ChainStep::Start => start(engine, id, run).await,
        ChainStep::ChildDone {
            child,
            status,
            result,
        } => match run.current.as_ref().filter(|c| c.child == child) {
            Some(_) => link_done(engine, id, run, status, result).await,
            // Already fed (push and a restart both saw it), or not ours.
            None => return,
        },
        ChainStep::Held { child, status } => held(engine, run, &child, status).await,
        ChainStep::Pause => pause(engine, run),
        ChainStep::Resume => resume(engine, id, run).await,
        ChainStep::Cancel => cancel(engine, run),
        ChainStep::Relaunch { children } => relaunch(engine, id, run, children).await,
    };
    settle(engine, id, guard, flow).await;
}

/// Makes the datastore secrets a rendering decrypted secrets of chain `id`:
/// masked in its result and state and in the links it starts from now on.
fn hold_decrypted(engine: &Engine, id: &str, store: &crate::params::datastore::KvStore) {
    let clear = store.take_clear_values();
    if !clear.is_empty() {
        engine.add_secrets(id, clear);
    }
}

/// The datastore as the chain's user sees it.
fn datastore(engine: &Engine, run: &ChainRun) -> Arc<crate::params::datastore::KvStore> {
    let user = run
        .parent_context
        .get("user")
        .and_then(Value::as_str)
        .map(str::to_string);
    Arc::new(crate::params::datastore::KvStore::for_user(
        engine.inner.paths.db(),
        engine.inner.datastore_key.clone(),
        user,
    ))
}

fn action_context(run: &ChainRun) -> Value {
    json!({ "parent": run.parent_context })
}

/// Renders `vars` and runs the default link.
async fn start(engine: &Engine, id: &str, run: &mut ChainRun) -> Flow {
    if !run.started {
        let store = datastore(engine, run);
        let env = render::environment(Some(store.clone()));
        let ctx = render::vars_context(&run.parameters, &action_context(run));
        let vars = render::render(&env, &run.spec.vars, &ctx, "chain variable", "");
        hold_decrypted(engine, id, &store);
        match vars {
            Ok(vars) => run.vars = vars,
            Err(e) => {
                run.fail(format!("Failed initializing ``vars`` in chain.. {e}"));
                return Flow::Finish(Status::Failed);
            }
        }
        run.started = true;
    }
    let first = run.spec.default.clone();
    go(engine, id, run, Some(first)).await
}

/// Why a link did not start.
enum NotStarted {
    /// The chain stops (StackStorm's top-level errors).
    Fatal(String),
    /// The link fails and the chain follows `on-failure`.
    Failed(String),
}

/// Runs links from `next` on until one is running, the chain must pause or
/// stop, or there is no next link.
async fn go(engine: &Engine, id: &str, run: &mut ChainRun, mut next: Option<String>) -> Flow {
    loop {
        let Some(name) = next.take() else {
            return Flow::Finish(run.chain_status);
        };
        match run.phase {
            Phase::Canceling => return Flow::Finish(Status::Canceled),
            Phase::Pausing | Phase::Paused => {
                run.phase = Phase::Paused;
                // Resumed, it starts at the link after the last entry.
                return Flow::Paused;
            }
            Phase::Running => {}
        }
        let Some(link) = run.spec.link(&name).cloned() else {
            run.fail(format!("Unable to find node with name \"{name}\"."));
            return Flow::Finish(Status::Failed);
        };
        let created_at = crate::model::now_rfc3339();
        match launch(engine, id, run, &link).await {
            Ok(child) => {
                run.current = Some(Current {
                    link: link.name.clone(),
                    child,
                    created_at,
                    held: None,
                    held_result: Value::Null,
                });
                return Flow::Wait;
            }
            Err(NotStarted::Fatal(message)) => {
                run.fail(message);
                return Flow::Finish(Status::Failed);
            }
            Err(NotStarted::Failed(message)) => {
                let error = json!({ "error": message });
                run.record(&link.name, None, &created_at, Status::Failed, error);
                next = match run.next_after(&link, Status::Failed) {
                    After::Next(n) => Some(n),
                    After::Stop if run.error.is_some() => return Flow::Finish(Status::Failed),
                    After::Stop => None,
                };
            }
        }
    }
}

/// Renders a link's parameters and starts its execution.
async fn launch(
    engine: &Engine,
    id: &str,
    run: &ChainRun,
    link: &super::Link,
) -> Result<String, NotStarted> {
    if let Err(e) = engine.catalog().action(&link.ref_) {
        return Err(NotStarted::Fatal(format!(
            "Failed to run task \"{}\". Action with reference \"{}\" doesn't exist.. Task :: {} - Action with ref {} not registered ({e}).",
            link.name, link.ref_, link.name, link.ref_
        )));
    }
    let store = datastore(engine, run);
    let env = render::environment(Some(store.clone()));
    let ctx = render::params_context(
        &run.parameters,
        &run.results,
        &run.vars,
        &action_context(run),
        &run.config,
    );
    let rendered = render::render(&env, &link.parameters, &ctx, "action parameter", &link.name);
    // Before the link starts, so it inherits them.
    hold_decrypted(engine, id, &store);
    let mut parameters = rendered.map_err(|e| {
        NotStarted::Fatal(format!(
            "Failed to run task \"{}\". Parameter rendering failed.. {e}",
            link.name
        ))
    })?;
    // A link may pick its own revision; otherwise links of the chain's pack
    // run at the commit the chain was run at.
    let content_version = match parameters.remove("content_version") {
        Some(Value::String(rev)) if !rev.is_empty() => Some(rev),
        _ => {
            let same_pack = link
                .ref_
                .split_once('.')
                .is_some_and(|(pack, _)| pack == run.pack);
            run.commit.clone().filter(|_| same_pack)
        }
    };
    let mut context = Map::new();
    if let Some(user) = run.parent_context.get("user") {
        context.insert("user".into(), user.clone());
    }
    context.insert("parent".into(), Value::Object(run.parent_context.clone()));
    context.insert("chain".into(), link.context());
    let request = RunRequest {
        action: link.ref_.clone(),
        parameters,
        content_version,
        ..Default::default()
    };
    Box::pin(engine.run_with_parent(request, Some(id.to_string()), context))
        .await
        .map(|e| e.id)
        .map_err(|e| NotStarted::Failed(format!("Failed running task \"{}\".. {e}", link.name)))
}

/// The running link completed: record it, publish, pick the next link.
async fn link_done(
    engine: &Engine,
    id: &str,
    run: &mut ChainRun,
    status: Status,
    result: Value,
) -> Flow {
    let Some(current) = run.current.take() else {
        return Flow::Wait;
    };
    let Some(link) = run.spec.link(&current.link).cloned() else {
        return Flow::Finish(Status::Failed);
    };
    run.record(
        &link.name,
        Some(&current.child),
        &current.created_at,
        status,
        result.clone(),
    );
    if current.held == Some(Status::Pending) {
        // StackStorm's resume keeps the result the link had when it went
        // pending and puts the final one under `result` (`context_result[
        // name]["result"] = ...`): `{{ task1.result.response.x }}`.
        let mut seen = current.held_result.clone();
        if let Value::Object(map) = &mut seen {
            map.insert("result".into(), result.clone());
            run.results.insert(link.name.clone(), seen);
        }
    }
    if !link.publish.is_empty() {
        let store = datastore(engine, run);
        let env = render::environment(Some(store.clone()));
        let ctx = render::publish_context(
            &run.parameters,
            &link.name,
            &result,
            &run.results,
            &run.vars,
            &action_context(run),
        );
        let published = render::render(&env, &link.publish, &ctx, "publish parameter", &link.name);
        hold_decrypted(engine, id, &store);
        match published {
            Ok(published) => {
                for (k, v) in published {
                    run.vars.insert(k.clone(), v.clone());
                    if run.display_published {
                        run.published.insert(k, v);
                    }
                }
            }
            Err(e) => {
                // StackStorm's runner raises here: the chain fails with the
                // error alone as its result.
                run.tasks.clear();
                run.display_published = false;
                run.fail(e);
                return Flow::Finish(Status::Failed);
            }
        }
    }
    let next = match run.next_after(&link, status) {
        After::Next(n) => Some(n),
        After::Stop => None,
    };
    if run.chain_status == Status::Canceled && next.is_none() {
        return Flow::Finish(Status::Canceled);
    }
    if run.error.is_some() {
        return Flow::Finish(Status::Failed);
    }
    match run.phase {
        Phase::Canceling => Flow::Finish(Status::Canceled),
        Phase::Pausing | Phase::Paused => {
            run.phase = Phase::Paused;
            Flow::Paused
        }
        Phase::Running => go(engine, id, run, next).await,
    }
}

/// The running link reported `pending` (an Inquiry) or `paused`: the chain
/// pauses, its result listing the link with that state.
async fn held(engine: &Engine, run: &mut ChainRun, child: &str, status: Status) -> Flow {
    let Some(current) = run.current.as_mut().filter(|c| c.child == child) else {
        return Flow::Wait;
    };
    if run.phase == Phase::Canceling || current.held == Some(status) {
        return Flow::Wait;
    }
    let hold = match status {
        Status::Pending => stormdesk_workflow::TaskHold::Pending,
        _ => stormdesk_workflow::TaskHold::Paused,
    };
    if !crate::workflow::still_held(engine, child, hold) {
        return Flow::Wait;
    }
    current.held = Some(status);
    let (link, created_at) = (current.link.clone(), current.created_at.clone());
    let result = engine
        .execution(child)
        .await
        .map(|e| e.result)
        .unwrap_or(Value::Null);
    if let Some(current) = run.current.as_mut() {
        current.held_result = result.clone();
    }
    if run
        .tasks
        .last()
        .is_some_and(|t| t["execution_id"].as_str() == Some(child))
    {
        run.tasks.pop();
    }
    run.tasks.push(ChainRun::entry(
        &link,
        Some(child),
        &created_at,
        status,
        &result,
    ));
    run.phase = Phase::Paused;
    Flow::Paused
}

fn runs_children(runner: &str) -> bool {
    matches!(
        runner,
        crate::workflow::WORKFLOW_RUNNER | super::CHAIN_RUNNER | crate::inquiry::INQUIRY_RUNNER
    )
}

fn child_runner(engine: &Engine, child: &str) -> Option<(String, Status)> {
    let live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
    live.get(child)
        .map(|l| (l.execution.runner.name.clone(), l.execution.status))
}

fn pause(engine: &Engine, run: &mut ChainRun) -> Flow {
    if run.phase != Phase::Running {
        return Flow::Wait;
    }
    let Some(current) = run.current.as_ref() else {
        run.phase = Phase::Paused;
        return Flow::Paused;
    };
    if current.held.is_some() {
        run.phase = Phase::Paused;
        return Flow::Paused;
    }
    run.phase = Phase::Pausing;
    // StackStorm's chain pauses the workflows it runs; an action finishes.
    if let Some((runner, Status::Running)) = child_runner(engine, &current.child) {
        if runner == crate::workflow::WORKFLOW_RUNNER || runner == super::CHAIN_RUNNER {
            let (engine, child) = (engine.clone(), current.child.clone());
            tokio::spawn(async move {
                if let Err(e) = engine.pause(&child).await {
                    tracing::debug!(child = %child, error = %e, "link not paused");
                }
            });
        }
    }
    Flow::Wait
}

async fn resume(engine: &Engine, id: &str, run: &mut ChainRun) -> Flow {
    if !matches!(run.phase, Phase::Paused | Phase::Pausing) {
        return Flow::Wait;
    }
    run.phase = Phase::Running;
    match run.current.as_mut() {
        Some(current) => {
            if current.held == Some(Status::Paused) {
                current.held = None;
                let (engine, child) = (engine.clone(), current.child.clone());
                tokio::spawn(async move {
                    if let Err(e) = engine.resume(&child).await {
                        tracing::debug!(child = %child, error = %e, "link not resumed");
                    }
                });
            }
            // A pending Inquiry completes when it is answered.
            Flow::Wait
        }
        None => {
            let next = run.next_on_resume();
            if run.error.is_some() {
                return Flow::Finish(Status::Failed);
            }
            if run.chain_status == Status::Canceled && next.is_none() {
                return Flow::Finish(Status::Canceled);
            }
            go(engine, id, run, next).await
        }
    }
}

fn cancel(engine: &Engine, run: &mut ChainRun) -> Flow {
    let Some(current) = run.current.as_ref() else {
        return Flow::Finish(Status::Canceled);
    };
    run.phase = Phase::Canceling;
    // StackStorm's chain cancels the workflows it runs; an action finishes.
    // An Inquiry it waits on is canceled too.
    if let Some((runner, _)) = child_runner(engine, &current.child) {
        if runs_children(&runner) {
            let (engine, child) = (engine.clone(), current.child.clone());
            tokio::spawn(async move {
                if let Err(e) = engine.cancel(&child).await {
                    tracing::debug!(child = %child, error = %e, "link not canceled");
                }
            });
        }
    }
    Flow::Wait
}

/// After a restart: catch up with the links' executions in the store.
async fn relaunch(engine: &Engine, id: &str, run: &mut ChainRun, children: Vec<Execution>) -> Flow {
    if let Some(current) = run.current.clone() {
        let Some(child) = children.iter().find(|c| c.id == current.child) else {
            return Flow::Wait;
        };
        if child.status.is_completed() {
            return link_done(engine, id, run, child.status, child.result.clone()).await;
        }
        if matches!(child.status, Status::Pending | Status::Paused) {
            return held(engine, run, &child.id, child.status).await;
        }
        return Flow::Wait;
    }
    if run.phase == Phase::Paused {
        return Flow::Paused;
    }
    if !run.started {
        return start(engine, id, run).await;
    }
    // A link started just before the stop, but not yet saved: adopt it.
    let known = |c: &&Execution| {
        run.tasks
            .iter()
            .any(|t| t["execution_id"].as_str() == Some(c.id.as_str()))
    };
    let adopted = children
        .iter()
        .filter(|c| !known(c))
        .max_by(|a, b| a.start_timestamp.cmp(&b.start_timestamp))
        .cloned();
    if let Some(child) = adopted {
        let link = child
            .context
            .get("chain")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if run.spec.link(&link).is_some() {
            run.current = Some(Current {
                link,
                child: child.id.clone(),
                created_at: child.start_timestamp.clone(),
                held: None,
                held_result: Value::Null,
            });
            if child.status.is_completed() {
                return link_done(engine, id, run, child.status, child.result.clone()).await;
            }
            return Flow::Wait;
        }
    }
    let next = run.next_on_resume();
    go(engine, id, run, next).await
}

/// Saves the state (queued: the writer keeps order). Secret parameters
/// are masked; such a chain cannot resume after a restart.
fn save(engine: &Engine, id: &str, run: &ChainRun) {
    let mut state = match serde_json::to_value(run) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(chain = %id, error = %e, "chain state not serialisable");
            return;
        }
    };
    // Datastore secrets the chain decrypted count as its secrets too.
    if run.has_secrets || engine.has_secrets(id) {
        engine.with_secrets(id, |s| s.mask_value(&mut state));
        if let Some(flag) = state.get_mut("has_secrets") {
            *flag = Value::Bool(true);
        }
    }
    // Saved whole every time (a chain has no log): a snapshot at row 0.
    if let Err(e) = engine.inner.store.write_nowait(WriteOp::WorkflowSnapshot {
        id: id.to_string(),
        seq: 0,
        state: state.to_string(),
    }) {
        tracing::error!(chain = %id, error = %e, "chain state not saved");
    }
}

/// Saves the state and brings the execution's status in line; finishes the
/// chain when it is done.
async fn settle(
    engine: &Engine,
    id: &str,
    mut guard: MutexGuard<'_, Option<ChainRun>>,
    flow: Flow,
) {
    let Some(run) = guard.as_mut() else {
        return;
    };
    if let Flow::Finish(status) = flow {
        let mut result = run.result();
        engine.with_secrets(id, |s| s.mask_value(&mut result));
        save(engine, id, run);
        *guard = None;
        drop(guard);
        engine.inner.chains.remove(id);
        if let Err(e) = engine.finish(id, status, result).await {
            tracing::error!(chain = %id, error = %e, "chain completion not recorded");
        }
        return;
    }
    save(engine, id, run);
    let want = match run.phase {
        Phase::Running => Status::Running,
        Phase::Pausing => Status::Pausing,
        Phase::Paused => Status::Paused,
        Phase::Canceling => Status::Canceling,
    };
    let mut paused_result = None;
    if want == Status::Paused {
        // StackStorm's paused chain holds its result so far and its vars.
        let mut result = run.result();
        engine.with_secrets(id, |s| s.mask_value(&mut result));
        paused_result = Some((result, Value::Object(run.vars.clone())));
    }
    // Set, saved and published while the chain is still held, so a later
    // step's status is never overwritten by this one (as in a workflow's
    // settle). Nothing below awaits.
    let changed = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        match live.get_mut(id) {
            Some(entry) if !entry.execution.status.is_completed() => {
                let before = entry.execution.status;
                if let Some((result, vars)) = paused_result {
                    entry.execution.result = result;
                    let mut vars = vars;
                    engine.with_secrets(id, |s| s.mask_value(&mut vars));
                    entry.execution.context.insert("vars".into(), vars);
                }
                if before != want {
                    set_status(&mut entry.execution, want);
                }
                (before != want || want == Status::Paused)
                    .then(|| (before, entry.execution.clone()))
            }
            _ => None,
        }
    };
    let Some((before, execution)) = changed else {
        return;
    };
    if let Err(e) = engine.persist_soon(&execution, false) {
        tracing::error!(chain = %id, error = %e, "chain status not saved");
    }
    if before != want {
        if want == Status::Paused {
            crate::nesting::child_held(engine, &execution, stormdesk_workflow::TaskHold::Paused);
        } else if want == Status::Running && matches!(before, Status::Paused | Status::Pausing) {
            crate::nesting::child_resumed(engine, &execution);
        }
    }
    drop(guard);
}
