//! Forwards the engine's event bus to the UI as Tauri events.
//!
//! Event names and payloads (the UI's `TauriBackend` listens to these):
//! - `execution`: an execution (StackStorm's `ActionExecutionAPI` shape)
//!   whenever one is created or changes, as `st2.execution__create` and
//!   `st2.execution__update` carry it on the HTTP stream;
//! - `output`: an `ExecutionOutput` for every output chunk of any
//!   execution, as `st2.execution.output__create` carries it;
//! - `resync`: the number of events missed because the UI fell behind the
//!   bus; the UI should refetch what it shows.

use stormdesk_engine::{Engine, Event};
use tauri::{async_runtime::JoinHandle, AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

pub const EXECUTION_EVENT: &str = "execution";
pub const OUTPUT_EVENT: &str = "output";
/// An announcement (`core.announcement`): `{route, body, execution_id}`.
pub const ANNOUNCEMENT_EVENT: &str = "announcement";
pub const RESYNC_EVENT: &str = "resync";

/// Owns the forwarding task: dropping it (with the app's state) stops it.
pub struct EventForwarder {
    task: JoinHandle<()>,
}

impl EventForwarder {
    pub fn start<R: Runtime>(app: AppHandle<R>, engine: &Engine) -> Self {
        let mut bus = engine.subscribe();
        let task = tauri::async_runtime::spawn(async move {
            loop {
                let sent = match bus.recv().await {
                    Ok(bus_event) => emit(&app, bus_event.event),
                    Err(RecvError::Lagged(missed)) => app.emit(RESYNC_EVENT, missed),
                    Err(RecvError::Closed) => break,
                };
                // Emitting only fails when the app is going away.
                if sent.is_err() {
                    break;
                }
            }
        });
        EventForwarder { task }
    }
}

impl Drop for EventForwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn emit<R: Runtime>(app: &AppHandle<R>, event: Event) -> tauri::Result<()> {
    match event {
        Event::Execution { execution, .. } => app.emit(EXECUTION_EVENT, execution),
        Event::Output { output } => app.emit(OUTPUT_EVENT, output),
        Event::Announcement {
            route,
            body,
            execution_id,
        } => app.emit(
            ANNOUNCEMENT_EVENT,
            serde_json::json!({"route": route, "body": body, "execution_id": execution_id}),
        ),
    }
}
