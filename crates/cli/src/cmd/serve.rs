//! `stormdesk serve`: the engine, its HTTP API and the web console until interrupted.
//!
//! The engine's API listens on a loopback port of its own (runners report
//! there; `listener.json` names it). `--listen` is the console's address: the
//! built UI, with every `/v1/...` request passed through to the API, so one
//! URL serves both the page and the API it talks to (see `static_ui`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{static_ui, Ctx};

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the console and API (loopback by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The built web UI (`ui/dist`); default: beside the executable, then the source checkout.
    #[arg(long, env = "STORMDESK_UI", value_name = "DIR")]
    ui: Option<PathBuf>,
    /// How a task's completion reaches its workflow: `push` (at once) or
    /// `poll` (a tracker reads the store every `--poll-interval`, as
    /// StackStorm's results tracker did).
    #[arg(long = "completion-mode", env = "STORMDESK_COMPLETION_MODE", default_value = "push", value_parser = ["push", "poll"])]
    completion_mode: String,
    /// Poll interval in milliseconds for `--completion-mode poll`.
    #[arg(
        long = "poll-interval",
        env = "STORMDESK_COMPLETION_POLL_INTERVAL",
        default_value_t = 1000,
        value_name = "MS"
    )]
    poll_interval: u64,
    /// Deepest nesting of workflows before a task is refused (a workflow
    /// that calls itself stops here).
    #[arg(long = "max-depth", env = "STORMDESK_MAX_DEPTH", default_value_t = stormdesk_engine::engine_limits::DEFAULT_MAX_DEPTH)]
    max_depth: usize,
    /// Most executions running at once under one top-level run.
    #[arg(long = "max-live-per-root", env = "STORMDESK_MAX_LIVE_PER_ROOT", default_value_t = stormdesk_engine::engine_limits::DEFAULT_MAX_LIVE_PER_ROOT)]
    max_live_per_root: usize,
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<ExitCode> {
    ctx.runtime()?.block_on(async {
        let mut opts = ctx.options();
        opts.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        opts.prewarm = true;
        opts.max_depth = Some(args.max_depth);
        opts.max_live_per_root = Some(args.max_live_per_root);
        if args.completion_mode == "poll" {
            opts.completion = stormdesk_engine::workflow::CompletionMode::Poll(
                std::time::Duration::from_millis(args.poll_interval.max(1)),
            );
        }
        let engine = stormdesk_engine::Engine::start(opts).await?;
        let api: SocketAddr = engine
            .api_url()
            .trim_start_matches("http://")
            .parse()
            .context("the engine's API address")?;
        let ui_dir = static_ui::find_ui_dir(args.ui);
        let bound = static_ui::start(args.listen, api, ui_dir.clone())
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let url = format!("http://{bound}");
        if ui_dir.is_some() {
            engine.set_console_url(Some(url.clone()));
        }
        // A closed stdout (a supervisor that read the first line and left) must
        // not stop the server, so write errors are ignored.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "stormdesk engine listening on {url}");
        let _ = writeln!(
            out,
            "API token in {} (send it as `Authorization: Bearer <token>` or `X-Auth-Token`)",
            engine.paths().token_file().display()
        );
        let _ = writeln!(
            out,
            "StackStorm clients: ST2_API_URL={url}/v1 ST2_AUTH_URL={url}/auth/v1 ST2_STREAM_URL={url}/v1 (user and password for `st2 auth` in {})",
            engine.paths().credentials_file().display()
        );
        match &ui_dir {
            Some(_) => {
                let _ = writeln!(out, "console: {url}/?token={}", engine.api_token());
            }
            None => {
                let _ = writeln!(
                    out,
                    "console not built (cd ui && npm ci && npm run build, or --ui DIR)"
                );
            }
        }
        let _ = out.flush();
        for e in engine.pack_errors() {
            eprintln!("pack not loaded: {e}");
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        eprintln!("stopping");
        engine.shutdown();
        Ok(ExitCode::SUCCESS)
    })
}
