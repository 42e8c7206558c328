//! Stormdesk's engine: packs and their actions, parameter validation, the
//! execution store, the event bus, the runner processes, and the HTTP API
//! (StackStorm's v1 API, with its auth; see `docs/api.md`) that also serves
//! the runners' callback routes.
//!
//! It is a plain tokio library with no UI dependency: the desktop app, the CLI
//! and `stormdesk serve` are thin faces over [`Engine`]. It does not run actions
//! itself; each runs in a `stormdesk-runner` process (crate `stormdesk-runner`).

mod announcement;
pub mod api;
pub mod auth;
pub mod bundled;
mod callbacks;
pub mod catalog;
pub mod chain;
pub mod datastore_key;
mod engine;
pub mod error;
pub mod events;
pub mod git;
pub mod inquiry;
pub mod internal_runs;
pub mod keys;
mod launch;
pub mod mask;
pub mod model;
mod nesting;
pub mod pack;
mod pack_jobs;
pub mod pack_register;
mod pack_revisions;
pub mod params;
pub mod paths;
pub mod pyenv;
mod python_envs;
pub mod reconcile;
mod rerun;
pub mod store;
pub mod token;
pub mod users;
pub mod workflow;

pub use auth::Identity;
pub use catalog::{ActionDetail, ActionSummary, PackSummary};
pub use engine::{Engine, EngineOptions};
/// Defaults of the limits in [`EngineOptions`].
pub mod engine_limits {
    pub use crate::engine::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_LIVE_PER_ROOT};
}
pub use error::{EngineError, ErrorBody};
pub use events::BusEvent;
pub use launch::default_runner_bin;
pub use model::{
    Event, Execution, ExecutionAction, ExecutionFilter, ExecutionOutput, ExecutionRunner,
    OutputChunk, RunRequest, SortOrder, Status, Stream,
};
pub use pack_jobs::pack_source;
pub use rerun::ReRun;
