//! `stormdesk-workflow`: an Orquesta-compatible workflow engine core.
//!
//! - [`spec`]: the Orquesta native workflow definition (`version: 1.0`),
//!   parsed from YAML with positions on errors.
//! - [`inspect()`]: static checks (undefined and unreachable tasks,
//!   expression syntax, undefined context variables, joins, start tasks).
//! - [`expr`]: YAQL (`<% %>`, the whole language) and Jinja (`{{ }}`, via minijinja) with
//!   Orquesta's and StackStorm's workflow functions.
//! - [`Conductor`]: the deterministic state machine that turns task results
//!   into task requests; its state serialises so a run survives a restart.
//!
//! What it is not: it performs no IO, spawns nothing, reads no clock and
//! has no async runtime. Launching actions, waiting for delays and reading
//! the datastore (`st2kv`, through [`Env`]) are the caller's job.
//! See `README.md` for the driver contract and where YAQL and Orquesta differ.

pub mod conductor;
pub mod expr;
mod graph;
mod hash;
pub mod inspect;
pub mod spec;

pub use conductor::{
    Conductor, ErrorEntry, RerunError, RerunOptions, TaskHold, TaskKey, TaskNode, TaskRequest,
    TaskResult, TaskStatus, WorkflowError, WorkflowStatus,
};
pub use expr::{Env, ExpressionError, NoKv};
pub use inspect::{inspect, InspectionError};
pub use spec::{SpecError, WorkflowSpec};
