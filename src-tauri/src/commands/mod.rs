//! Tauri commands, one module per UI area. Each is a few lines: arguments ->
//! engine -> DTO. Errors cross the boundary as the engine's `ErrorBody`
//! (`{code, message}`), never as bare strings.

use stormdesk_engine::{EngineError, ErrorBody};

pub mod actions;
pub mod connections;
pub mod executions;
pub mod files;
pub mod inquiries;
pub mod packs;
pub mod remote;

/// The error every command returns.
pub type CommandResult<T> = Result<T, ErrorBody>;

pub(crate) fn body(error: EngineError) -> ErrorBody {
    error.to_body()
}
