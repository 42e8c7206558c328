//! One module per command group.

pub mod catalog;
pub mod execution;
pub mod inquiry;
pub mod key;
pub mod pack;
pub mod run;
pub mod serve;
pub mod user;

use std::path::PathBuf;

use anyhow::Context;
use stormdesk_engine::{Engine, EngineOptions};

/// What every command gets from the global flags.
pub struct Ctx {
    pub packs: Vec<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Ctx {
    pub fn options(&self) -> EngineOptions {
        let runner = runner_command();
        EngineOptions {
            home: self.home.clone(),
            pack_dirs: self.packs.clone(),
            runner_bin: Some(runner.0),
            runner_args: runner.1,
            advertise: true,
            ..Default::default()
        }
    }

    pub fn paths(&self) -> anyhow::Result<stormdesk_engine::paths::Paths> {
        Ok(stormdesk_engine::paths::Paths::resolve(
            self.home.as_deref(),
        )?)
    }

    pub fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    }

    /// The running engine (`stormdesk serve`, the desktop app) to ask what
    /// it has loaded, when no `--packs` asks for this command's own view.
    pub fn running_engine(&self) -> anyhow::Result<Option<crate::client::Client>> {
        if !self.packs.is_empty() {
            return Ok(None);
        }
        crate::client::Client::find(&self.paths()?)
    }

    pub async fn engine(&self) -> anyhow::Result<Engine> {
        Engine::start(self.options())
            .await
            .context("starting the engine")
    }
}

/// `stormdesk-runner` when it is installed; otherwise this binary acts as one.
fn runner_command() -> (PathBuf, Vec<String>) {
    let found = stormdesk_engine::default_runner_bin();
    if found.is_file() {
        return (found, vec![]);
    }
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("stormdesk"));
    (me, vec!["__runner".to_string()])
}
