//! Packs and actions: the catalogue the UI browses and builds forms from.

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

/// One action with its effective parameter schema, in metadata order.
#[tauri::command]
pub fn get_action(engine: State<'_, Engine>, action_ref: String) -> CommandResult<ActionDetail> {
    engine.action(&action_ref).map_err(body)
}
