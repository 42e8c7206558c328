//! `stormdesk serve`: the engine and its HTTP API until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;

use super::Ctx;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<ExitCode> {
    ctx.runtime()?.block_on(async {
        let mut opts = ctx.options();
        opts.listen = Some(args.listen);
        opts.prewarm = true;
        let engine = stormdesk_engine::Engine::start(opts).await?;
        // A closed stdout (a supervisor that read the first line and left) must
        // not stop the server, so write errors are ignored.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "stormdesk engine listening on {}", engine.api_url());
        let _ = writeln!(
            out,
            "API token in {} (send it as `Authorization: Bearer <token>`)",
            engine.paths().token_file().display()
        );
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
