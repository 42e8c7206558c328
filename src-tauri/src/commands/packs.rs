//! Installing and updating packs from the console's Packs screen. Each
//! returns at once with the engine's `packs.install` / `packs.update`
//! execution; its output (live, like any run's) is the progress.

use stormdesk_engine::{Engine, Execution};
use tauri::State;

use super::{body, CommandResult};

/// Installs each of `packs` (a git URL or path, an Exchange name,
/// `SPEC=VERSION`); `force` replaces an installed pack of the same name.
#[tauri::command]
pub async fn install_packs(
    engine: State<'_, Engine>,
    packs: Vec<String>,
    force: Option<bool>,
) -> CommandResult<Execution> {
    let user = engine.local_user().to_string();
    engine
        .install_packs_run(packs, force.unwrap_or(false), &user)
        .await
        .map_err(body)
}

/// Updates each of `packs` from its origin (fetch, fast-forward, environment).
#[tauri::command]
pub async fn update_packs(
    engine: State<'_, Engine>,
    packs: Vec<String>,
) -> CommandResult<Execution> {
    let user = engine.local_user().to_string();
    engine.update_packs_run(packs, &user).await.map_err(body)
}
