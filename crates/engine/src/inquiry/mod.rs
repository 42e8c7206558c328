//! Inquiries: the `inquirer` runner (`core.ask`), which asks a person and
//! waits for an answer that matches a JSON schema.
//!
//! As in StackStorm (`contrib/runners/inquirer_runner/`,
//! `st2common/services/inquiry.py`), an Inquiry is an execution: it runs
//! in-process, goes `pending` with the result `{schema, roles, users, route,
//! ttl}`, and stays so until a response arrives ([`Engine::respond_inquiry`])
//! or its `ttl` (minutes) passes, which gives `timeout`. A workflow task that
//! asks pauses its workflow (the conductor holds the task `pending`); under
//! an ActionChain the root execution is asked to pause. A response resumes
//! what paused (the parent workflow, or the root), then completes the
//! Inquiry with the result plus `response`, which continues the workflow.
//!
//! Pending Inquiries are records in the store: an engine that restarts finds
//! them again ([`recover`]) and re-arms their expiry.

mod schema;

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::engine::{set_status, Engine, Live};
use crate::error::EngineError;
use crate::model::{Execution, ExecutionFilter, Status};

pub use schema::{default_schema, defaults, validate_response, SchemaError};

/// The runner type of Inquiries.
pub const INQUIRY_RUNNER: &str = "inquirer";

/// Default `ttl` (minutes), as StackStorm's runner.yaml.
pub const DEFAULT_TTL: i64 = 1440;

/// StackStorm's `InquiryResponseAPI`: what `GET /v1/inquiries` lists.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Inquiry {
    pub id: String,
    pub route: String,
    /// Minutes from the start until the Inquiry times out; 0 or less: never.
    pub ttl: i64,
    /// Who may answer (empty: anyone).
    pub users: Vec<String>,
    /// Roles that may answer (recorded; Stormdesk has no RBAC, so not enforced).
    pub roles: Vec<String>,
    pub schema: Value,
}

impl Inquiry {
    /// The Inquiry an execution of the `inquirer` runner holds (its result).
    pub fn from_execution(e: &Execution) -> Inquiry {
        let r = &e.result;
        let list = |k: &str| -> Vec<String> {
            r.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Inquiry {
            id: e.id.clone(),
            route: r
                .get("route")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            ttl: r.get("ttl").and_then(Value::as_i64).unwrap_or(DEFAULT_TTL),
            users: list("users"),
            roles: list("roles"),
            schema: r.get("schema").cloned().unwrap_or_else(default_schema),
        }
    }
}

/// The Inquiry's result from its runner parameters (`inquirer_runner.py`
/// `pre_run`/`run`): the schema (StackStorm's default when none), roles,
/// users, route and ttl.
fn initial_result(runner: &Map<String, Value>) -> Value {
    let get = |k: &str| runner.get(k).filter(|v| !v.is_null()).cloned();
    json!({
        "schema": get("schema").unwrap_or_else(default_schema),
        "roles": get("roles").unwrap_or_else(|| json!([])),
        "users": get("users").unwrap_or_else(|| json!([])),
        "route": get("route").unwrap_or_else(|| json!("")),
        "ttl": get("ttl").unwrap_or_else(|| json!(DEFAULT_TTL)),
    })
}

/// Starts an Inquiry whose execution `id` was just recorded: `running`,
/// then `pending` with its result; the parent hears of it, and under an
/// ActionChain (or any parent that is not an Orquesta workflow) the root
/// is asked to pause, as the runner's `post_run` does.
pub(crate) async fn begin(
    engine: &Engine,
    id: &str,
    runner: &Map<String, Value>,
) -> Result<(), EngineError> {
    let result = initial_result(runner);
    let Some(running) = update_live(engine, id, |e| set_status(e, Status::Running)) else {
        return Ok(());
    };
    engine.persist_soon(&running, false)?;
    if running.parent.is_some() && !running.context.contains_key("orquesta") {
        let root = root_of(engine, &running).await;
        let bg = engine.clone();
        // Registered before the Inquiry is pending, so no answer can
        // come first; an answer waits for it ([`Engine::respond_inquiry`]).
        // Spawned: the link that starts the Inquiry holds its chain, which
        // the pause needs.
        let pausing = tokio::spawn(async move {
            if let Err(e) = bg.pause(&root).await {
                tracing::debug!(root = %root, error = %e, "root not paused for the inquiry");
            }
        });
        let mut pauses = engine
            .inner
            .inquiry_pauses
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pauses.retain(|_, p| !p.is_finished());
        pauses.insert(id.to_string(), pausing);
    }
    let Some(pending) = update_live(engine, id, |e| {
        set_status(e, Status::Pending);
        e.result = result.clone();
    }) else {
        return Ok(());
    };
    engine.persist(&pending, false).await?;
    tracing::info!(execution = %id, "inquiry pending");
    crate::nesting::child_held(engine, &pending, stormdesk_workflow::TaskHold::Pending);
    arm_expiry(engine, &pending);
    Ok(())
}

fn update_live(engine: &Engine, id: &str, f: impl FnOnce(&mut Execution)) -> Option<Execution> {
    let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
    let entry = live.get_mut(id)?;
    if entry.execution.status.is_completed() {
        return None;
    }
    f(&mut entry.execution);
    Some(entry.execution.clone())
}

/// The top-level execution above `e` (itself when it has no parent).
pub(crate) async fn root_of(engine: &Engine, e: &Execution) -> String {
    let mut at = e.clone();
    // Bounded by the nesting limit; a loop, never the call stack.
    for _ in 0..=engine.inner.max_depth + 1 {
        let Some(parent) = at.parent.clone() else {
            break;
        };
        match engine.execution(&parent).await {
            Ok(p) => at = p,
            Err(_) => break,
        }
    }
    at.id
}

/// Times the Inquiry out when its ttl (minutes, measured from its start)
/// has passed. A ttl of 0 or less never expires, as in StackStorm.
fn arm_expiry(engine: &Engine, e: &Execution) {
    let ttl = e
        .result
        .get("ttl")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_TTL);
    if ttl <= 0 {
        return;
    }
    let started = chrono::DateTime::parse_from_rfc3339(&e.start_timestamp)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let unit = engine.inner.inquiry_ttl_unit;
    let total = unit.saturating_mul(ttl.min(u32::MAX as i64) as u32);
    let elapsed = (chrono::Utc::now() - started).to_std().unwrap_or_default();
    let wait = total.saturating_sub(elapsed);
    let (engine, id) = (engine.clone(), e.id.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = engine.inner.shutdown.cancelled() => {}
            _ = tokio::time::sleep(wait.min(Duration::from_secs(u32::MAX as u64))) => expire(&engine, &id).await,
        }
    });
}

/// StackStorm's garbage collector for Inquiries (`purge_inquiries`): a
/// pending Inquiry past its ttl is `timeout`, its result unchanged; its
/// parent hears of it, then the root resumes ([`crate::nesting`]).
async fn expire(engine: &Engine, id: &str) {
    let Ok(current) = engine.execution(id).await else {
        return;
    };
    if current.status != Status::Pending {
        return;
    }
    tracing::info!(execution = %id, "inquiry ttl expired");
    if let Err(e) = engine.finish(id, Status::Timeout, current.result).await {
        tracing::error!(execution = %id, error = %e, "inquiry timeout not recorded");
    }
}

/// After a restart, first: pending Inquiries are live again (so a parent
/// workflow catching up sees them pending).
pub(crate) fn register(engine: &Engine, inquiries: &[Execution]) {
    let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
    for e in inquiries {
        live.insert(
            e.id.clone(),
            Live {
                execution: e.clone(),
                token: String::new(),
                action_token_hash: None,
                runner_pid: None,
                child_pid: None,
                control: None,
                adopted: false,
                finishing: false,
            },
        );
    }
}

/// After a restart, once parents are back: pending Inquiries expire on
/// time; one stopped before it went pending asks again.
pub(crate) fn recover(engine: &Engine, inquiries: Vec<Execution>) {
    for e in inquiries {
        if e.status == Status::Pending {
            tracing::info!(execution = %e.id, "inquiry still pending after restart");
            arm_expiry(engine, &e);
        } else {
            // Stopped between its start and `pending`: ask again.
            let engine = engine.clone();
            tokio::spawn(async move {
                let runner = e.result.as_object().cloned().unwrap_or_default();
                let params = if runner.is_empty() {
                    e.parameters.clone()
                } else {
                    runner
                };
                if let Err(err) = begin(&engine, &e.id, &params).await {
                    tracing::error!(execution = %e.id, error = %err, "inquiry not restarted");
                }
            });
        }
    }
}

fn refuse(message: String) -> EngineError {
    EngineError::Inquiry(message)
}

impl Engine {
    /// Open Inquiries (pending executions of the `inquirer` runner), newest
    /// first: StackStorm's `GET /v1/inquiries`.
    pub async fn inquiries(&self, limit: Option<u32>) -> Result<Vec<Inquiry>, EngineError> {
        let mut out: Vec<Execution> = self
            .executions(ExecutionFilter {
                status: Some(Status::Pending),
                limit: Some(u32::MAX),
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|e| e.runner_name() == INQUIRY_RUNNER)
            .collect();
        if let Some(n) = limit {
            out.truncate(n as usize);
        }
        Ok(out.iter().map(Inquiry::from_execution).collect())
    }

    /// One Inquiry: StackStorm's `GET /v1/inquiries/{id}`, which refuses an
    /// execution that is not an Inquiry, one that timed out and one that
    /// was answered (`check_inquiry`).
    pub async fn inquiry(&self, id: &str) -> Result<Inquiry, EngineError> {
        let e = self.execution(id).await.map_err(|err| match err {
            EngineError::UnknownExecution(_) => EngineError::NotFound(format!(
                "inquiry '{id}' not found: list open inquiries with `stormdesk inquiry list`"
            )),
            other => other,
        })?;
        check(&e)?;
        Ok(Inquiry::from_execution(&e))
    }

    /// Answers an Inquiry as `requester`: StackStorm's `PUT
    /// /v1/inquiries/{id}` (`st2api/controllers/v1/inquiries.py` and
    /// `st2common/services/inquiry.py` `respond`). Checks that it is still
    /// pending, that `requester` is among its `users` (when it names any)
    /// and that `response` matches its schema; resumes the paused parent
    /// workflow (or, outside an Orquesta workflow, the root) first, then
    /// completes the Inquiry with `response` in its result. Returns
    /// `{"id", "response"}`.
    pub async fn respond_inquiry(
        &self,
        id: &str,
        response: Value,
        requester: &str,
    ) -> Result<Value, EngineError> {
        let e = self.execution(id).await.map_err(|err| match err {
            EngineError::UnknownExecution(_) => EngineError::NotFound(format!(
                "inquiry '{id}' not found: list open inquiries with `stormdesk inquiry list`"
            )),
            other => other,
        })?;
        check(&e)?;
        let inquiry = Inquiry::from_execution(&e);
        if !inquiry.users.is_empty() && !inquiry.users.iter().any(|u| u == requester) {
            return Err(EngineError::Forbidden(format!(
                "User \"{requester}\" does not have permission to respond to inquiry \"{id}\"; it may be answered by: {}",
                inquiry.users.join(", ")
            )));
        }
        if !response.is_object() {
            return Err(refuse(format!(
                "Response for inquiry \"{id}\" did not pass schema validation. the response must be an object, not {response}"
            )));
        }
        validate_response(&inquiry.schema, &response).map_err(|err| {
            refuse(format!(
                "Response for inquiry \"{id}\" did not pass schema validation. {err}"
            ))
        })?;
        // The root pause this Inquiry asked for goes first: resumed before
        // it lands, the root would stop again and never go on (StackStorm
        // requests that pause in the Inquiry runner's `post_run`, before
        // anyone can answer).
        let pausing = self
            .inner
            .inquiry_pauses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if let Some(pausing) = pausing {
            let _ = pausing.await;
        }
        if let Some(parent) = e.parent.clone() {
            let target = if e.context.contains_key("orquesta") {
                parent
            } else {
                root_of(self, &e).await
            };
            let paused = self
                .execution(&target)
                .await
                .is_ok_and(|t| matches!(t.status, Status::Paused | Status::Pausing));
            if paused {
                if let Err(err) = self.resume(&target).await {
                    tracing::debug!(target = %target, error = %err, "parent not resumed for the inquiry");
                }
            }
        }
        let mut result = e.result.clone();
        if let Value::Object(map) = &mut result {
            map.insert("response".into(), response.clone());
        }
        match self.finish(id, Status::Succeeded, result).await? {
            Some(_) => {
                tracing::info!(execution = %id, user = %requester, "inquiry answered");
                Ok(json!({"id": id, "response": response}))
            }
            None => Err(refuse(format!(
                "Inquiry \"{id}\" has already been responded to."
            ))),
        }
    }
}

/// StackStorm's `check_inquiry`.
fn check(e: &Execution) -> Result<(), EngineError> {
    if e.runner_name() != INQUIRY_RUNNER {
        return Err(refuse(format!(
            "Action execution \"{}\" is not an inquiry.",
            e.id
        )));
    }
    if e.status == Status::Timeout {
        return Err(refuse(format!(
            "Inquiry \"{}\" timed out and cannot be responded to.",
            e.id
        )));
    }
    if e.status != Status::Pending {
        return Err(refuse(format!(
            "Inquiry \"{}\" has already been responded to.",
            e.id
        )));
    }
    Ok(())
}
