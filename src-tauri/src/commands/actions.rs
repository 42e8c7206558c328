//! Packs and actions: the catalogue the UI browses and builds forms from,
//! and the revisions of git packs.

use stormdesk_engine::git::Revisions;
use stormdesk_engine::{ActionDetail, ActionSummary, Engine, PackSummary};
use tauri::State;

use super::{body, CommandResult};

#[tauri::command]
pub fn list_packs(engine: State<'_, Engine>) -> Vec<PackSummary> {
    engine.packs()
}

#[tauri::command]
pub fn list_actions(engine: State<'_, Engine>) -> Vec<ActionSummary> {
    engine.actions()
}

/// One action with its effective parameter schema, in metadata order; at
/// `content_version` (a tag, branch or commit of its pack) when given.
#[tauri::command]
pub async fn get_action(
    engine: State<'_, Engine>,
    action_ref: String,
    content_version: Option<String>,
) -> CommandResult<ActionDetail> {
    engine
        .action_at(&action_ref, content_version.as_deref())
        .await
        .map_err(body)
}

/// Tags (newest first), branches and recent commits of a pack; none for a
/// pack that is not a git repository.
#[tauri::command]
pub async fn list_revisions(engine: State<'_, Engine>, pack: String) -> CommandResult<Revisions> {
    engine.revisions(&pack).await.map_err(body)
}
