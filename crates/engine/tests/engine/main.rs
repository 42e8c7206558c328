//! Engine integration tests: real runner processes, real SQLite files, a real listener.

mod api;
mod claims;
mod common;
mod disk;
mod faults;
mod fuzz;
mod gitpack;
mod keys;
mod lifecycle;
mod limits;
mod packs;
mod params;
mod pyenv;
mod recovery;
mod rerun;
mod revisions;
mod workflows;
