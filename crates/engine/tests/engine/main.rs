//! Engine integration tests: real runner processes, real SQLite files, a real listener.

mod api;
mod chains;
mod common;
mod gitpack;
mod inquiries;
mod keys;
mod lifecycle;
mod limits;
mod packs;
mod params;
mod pyenv;
mod recovery;
mod revisions;
mod workflows;
