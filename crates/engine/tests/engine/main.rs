//! Engine integration tests: real runner processes, real SQLite files, a real listener.

mod api;
mod chains;
mod claims;
mod common;
mod disk;
mod faults;
mod fuzz;
mod gitpack;
mod inquiries;
mod keys;
mod lifecycle;
mod limits;
mod packs;
mod params;
mod pyenv;
mod recovery;
mod rerun;
mod revisions;
mod runners;
mod scale;
// The runner tests' loopback sshd, shared (its ssh config aliases are theirs).
#[allow(dead_code)]
#[path = "../../../runner/tests/runner/sshd.rs"]
mod sshd;
mod st2;
mod st2_actions;
mod st2_packs;
mod st2_scenarios;
mod st2_workflows;
mod winrm;
mod workflows;
// The runner tests' loopback WS-Management endpoint.
#[path = "../../../runner/tests/runner/wsman.rs"]
mod wsman;
