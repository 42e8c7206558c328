//! Engine integration tests: real runner processes, real SQLite files, a real listener.

mod api;
mod common;
mod gitpack;
mod keys;
mod lifecycle;
mod limits;
mod packs;
mod params;
mod pyenv;
mod recovery;
mod revisions;
mod scale;
mod workflows;
