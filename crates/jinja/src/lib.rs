//! StackStorm's Jinja for Stormdesk: one minijinja environment that renders
//! StackStorm content as StackStorm's Jinja2 does, shared by parameter
//! rendering and Orquesta workflows, and StackStorm's expression functions
//! callable by name for the YAQL evaluator.
//!
//! - [`environment`] builds a `minijinja::Environment` configured as
//!   `st2common/util/jinja.py` configures Jinja2 ([`Options::st2`]) or as
//!   Orquesta's Jinja evaluator ([`Options::orquesta`]).
//! - [`call`] runs a StackStorm function (`to_json_string`, `regex_replace`,
//!   `st2kv`, ...) over `serde_json::Value`s.
//! - [`Datastore`] is the caller's key-value store for `st2kv` and
//!   `decrypt_kv`; this crate does no IO.
//!
//! What it is not: Orquesta's expression evaluation rules (which text is an
//! expression, `ctx()`, `task()`), parameter dependency ordering or casting;
//! those stay with their callers. Deliberate differences from StackStorm
//! are listed in the crate README.

mod builtins;
mod datastore;
mod environment;
mod error;
mod functions;
mod methods;
mod pyformat;
mod pyobjects;
mod pyrepr;
mod render;

pub use datastore::{split_scope, Datastore, KvScope};
pub use environment::{environment, Options};
pub use error::{Error, ErrorClass, FunctionError, FunctionErrorKind};
pub use functions::{
    call, value_str, CallContext, NONE_MAGIC_VALUE, ORQUESTA_FUNCTIONS, ST2_FILTERS,
};
pub use pyobjects::{KvLookup, PyTuple, PyView};
pub use pyrepr::{float_repr, py_repr, py_str};
pub use render::{
    compile_expression, eval_expression, is_jinja_expression, render_str, render_values,
};

/// The minijinja version this crate builds on, re-exported so callers use
/// the same types.
pub use minijinja;
