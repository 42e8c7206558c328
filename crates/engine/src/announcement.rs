//! The `announcement` runner (`core.announcement`): broadcasts its action
//! parameters to everyone watching the event stream, as StackStorm's
//! (`contrib/runners/announcement_runner/`, `st2common/transport/
//! announcement.py`): the bus carries [`Event::Announcement`], and the
//! stream names it `st2.announcement__<route>` with the body
//! `{"payload": <action parameters>, "trace_context": ...}`. The runner is
//! experimental in StackStorm: without `experimental: true` it refuses to
//! run. The execution succeeds at once with its action parameters as result.

use serde_json::{json, Value};

use crate::engine::{set_status, Engine, Live};
use crate::error::EngineError;
use crate::model::{Event, Execution, Status};

/// The runner type of announcements.
pub const ANNOUNCEMENT_RUNNER: &str = "announcement";

/// Default routing key, as StackStorm's runner.yaml.
const DEFAULT_ROUTE: &str = "general";

/// Publishes the announcement of execution `id` (just recorded) and
/// completes it.
pub(crate) async fn run(
    engine: &Engine,
    id: &str,
    request: &stormdesk_runner::protocol::RunnerRequest,
) -> Result<(), EngineError> {
    let runner = &request.runner_parameters;
    if !runner
        .get("experimental")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        engine
            .finish(
                id,
                Status::Failed,
                json!({"error": format!("Experimental flag is missing for action {}", request.action_ref)}),
            )
            .await?;
        return Ok(());
    }
    let route = runner
        .get("route")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_ROUTE)
        .to_string();
    let running = {
        let mut live = engine.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get_mut(id).map(|l| {
            set_status(&mut l.execution, Status::Running);
            l.execution.clone()
        })
    };
    let Some(running) = running else {
        return Ok(());
    };
    engine.persist_soon(&running, false)?;
    let mut payload = Value::Object(crate::chain::action_map(&request.action_parameters));
    engine.with_secrets(id, |s| s.mask_value(&mut payload));
    let trace_context = running
        .context
        .get("trace_context")
        .cloned()
        .unwrap_or(Value::Null);
    engine.inner.bus.publish(Event::Announcement {
        route: route.clone(),
        body: json!({"payload": payload, "trace_context": trace_context}),
        execution_id: id.to_string(),
    });
    tracing::info!(execution = %id, route = %route, "announcement published");
    engine.finish(id, Status::Succeeded, payload).await?;
    Ok(())
}

/// Makes a recovered execution live again, so it can be finished.
pub(crate) fn register_live(engine: &Engine, execution: Execution) {
    engine
        .inner
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            execution.id.clone(),
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
}
