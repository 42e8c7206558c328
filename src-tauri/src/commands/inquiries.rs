//! Inquiries: what workflows ask (`core.ask`), and the answers. The same
//! engine calls as StackStorm's `/v1/inquiries` API behind
//! `stormdesk serve` (`crates/engine/src/api/inquiries.rs`).

use serde_json::Value;
use stormdesk_engine::inquiry::Inquiry;
use stormdesk_engine::Engine;
use tauri::State;

use super::{body, CommandResult};

/// Open Inquiries (pending executions of the `inquirer` runner), newest first.
#[tauri::command]
pub async fn list_inquiries(engine: State<'_, Engine>) -> CommandResult<Vec<Inquiry>> {
    engine.inquiries(None).await.map_err(body)
}

/// One open Inquiry; `not_found` for an unknown id, `invalid_input` when
/// it was answered, timed out or is no Inquiry.
#[tauri::command]
pub async fn get_inquiry(engine: State<'_, Engine>, id: String) -> CommandResult<Inquiry> {
    engine.inquiry(&id).await.map_err(body)
}

/// Answers an Inquiry as the desktop's user (the engine's local user, who
/// also runs what the desktop starts). Refused, with the engine's message,
/// when the answer does not match the schema or the user is not among the
/// Inquiry's `users`. Returns `{"id", "response"}`.
#[tauri::command]
pub async fn respond_inquiry(
    engine: State<'_, Engine>,
    id: String,
    response: Value,
) -> CommandResult<Value> {
    let user = engine.local_user().to_string();
    engine
        .respond_inquiry(&id, response, &user)
        .await
        .map_err(body)
}
