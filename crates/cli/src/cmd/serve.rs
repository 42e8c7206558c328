//! `stormdesk serve`: the engine, its HTTP API and the web console until interrupted.
//!
//! The engine's API listens on a loopback port of its own (runners report
//! there; `listener.json` names it). `--listen` is the console's address: the
//! web UI and the same API, so one URL serves both the page and the API it
//! talks to (see [`crate::console`]). The engine and the API always start;
//! the UI is the one built into the binary, or `--ui DIR`.
//!
//! `--tls-cert` and `--tls-key` serve the console and the API over TLS
//! (rustls, see [`crate::console::tls`]). `--listen` off loopback needs them,
//! or `--insecure-http` saying the network is trusted: the API runs
//! commands, and plain HTTP carries its credentials in the clear.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::Ctx;
use crate::console;

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the console and API (loopback by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve on an address other than loopback over plain HTTP: anyone on
    /// the network path can read the credentials and the output. Only on a
    /// network you trust (otherwise give --tls-cert and --tls-key).
    #[arg(long = "insecure-http", conflicts_with = "tls_cert")]
    insecure_http: bool,
    /// Serve over HTTPS with this certificate chain (PEM: the server's
    /// certificate first, then intermediates). Needs --tls-key.
    #[arg(
        long = "tls-cert",
        value_name = "PEM",
        requires = "tls_key",
        env = "STORMDESK_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long = "tls-key",
        value_name = "PEM",
        requires = "tls_cert",
        env = "STORMDESK_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
    /// A host name the console also answers to (besides the bound address,
    /// localhost, 127.0.0.1 and [::1]); repeatable. Requests for other names
    /// are refused (DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_host: Vec<String>,
    /// The origin (`https://host[:port]`) of a console served elsewhere that
    /// may use this API with its own credentials (CORS, as StackStorm's
    /// `[api] allow_origin`); repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// A built web UI to serve instead of the one built into this binary
    /// (development: `ui/dist`).
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

/// Refuses a `--listen` address off loopback over plain HTTP unless
/// `--insecure-http` was given.
fn check_exposure(listen: SocketAddr, tls: bool, insecure_http: bool) -> anyhow::Result<()> {
    if listen.ip().is_loopback() || tls {
        return Ok(());
    }
    if !insecure_http {
        anyhow::bail!(
            "refusing to serve on {listen} over plain HTTP: that address is reachable from other machines, \
             and the API runs commands, credentials and output in the clear. Give a certificate and its \
             key (--tls-cert PEM --tls-key PEM) to serve HTTPS; or listen on loopback (the default, \
             127.0.0.1:PORT) and reach it through an SSH tunnel; or pass --insecure-http if every machine \
             on that network is trusted."
        );
    }
    let warning = format!(
        "WARNING: --insecure-http: serving the console and the command-running API on {listen} \
         over plain HTTP. Anyone who can reach this address and read the traffic can take the \
         session token and run commands as you. Use it only on a network you trust."
    );
    tracing::warn!("{warning}");
    let rule = "!".repeat(72);
    eprintln!("{rule}\n{warning}\n{rule}");
    Ok(())
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            console::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }
            .server_config()?,
        ),
        _ => None,
    };
    check_exposure(args.listen, tls.is_some(), args.insecure_http)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
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
        let ui = console::UiSource::resolve(args.ui);
        let built = ui.is_built();
        let bound = console::start(
            engine.clone(),
            args.listen,
            ui.clone(),
            &console::Exposure {
                allow_hosts: args.allow_host.clone(),
                allow_origins: args.allow_origin.clone(),
            },
            tls,
        )
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
        // Bound to every interface: the address others use is a name given
        // with --allow-host (the one the certificate is for), not 0.0.0.0.
        let url = match args.allow_host.first() {
            Some(name) if bound.ip().is_unspecified() => {
                format!("{scheme}://{}:{}", name.trim(), bound.port())
            }
            _ => format!("{scheme}://{bound}"),
        };
        engine.set_console_url(Some(url.clone()));
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
        if built {
            let _ = writeln!(out, "console: {url}/?token={}", engine.api_token());
        } else {
            let _ = writeln!(
                out,
                "console not built: {} has no index.html (cd ui && npm ci && npm run build; \
                 release builds embed it; or --ui DIR); the engine and the API run without it",
                ui.describe()
            );
        }
        let _ = out.flush();
        for e in engine.pack_errors() {
            eprintln!("pack not loaded: {e}");
        }
        // A pack given with --packs that replaces a bundled one (StackStorm's
        // own `examples` for Stormdesk's) is said: the bundled one's actions
        // are gone while it is there.
        for p in engine.packs() {
            if let Some(hidden) = &p.shadows {
                eprintln!(
                    "pack {} from {} takes the place of the pack of the same name in {hidden}",
                    p.ref_, p.path
                );
            }
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
