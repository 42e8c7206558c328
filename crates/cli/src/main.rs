//! `stormdesk`: run StackStorm-style actions, follow executions, serve the API.

mod client;
mod cmd;
mod console;
mod print;
mod tree_tail;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stormdesk",
    version,
    about = "Stormdesk: run and watch StackStorm-style automation"
)]
struct Cli {
    /// A directory of packs (or one pack) to load besides the installed ones; repeatable.
    #[arg(
        long = "packs",
        global = true,
        value_name = "DIR",
        env = "STORMDESK_PACKS",
        value_delimiter = ':'
    )]
    packs: Vec<PathBuf>,
    /// Where Stormdesk keeps its data (overrides the platform directories).
    #[arg(long, global = true, env = "STORMDESK_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an action and wait for it, streaming its output: `stormdesk run examples.hello name=you`.
    Run(cmd::run::RunArgs),
    /// Look at executions.
    #[command(subcommand)]
    Execution(cmd::execution::ExecutionCmd),
    /// List and inspect actions.
    #[command(subcommand)]
    Action(cmd::catalog::ActionCmd),
    /// Inquiries (`core.ask`): list, show and answer what workflows ask.
    #[command(subcommand)]
    Inquiry(cmd::inquiry::InquiryCmd),
    /// The key-value datastore: set, get, list and delete keys.
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// List, install and update packs; list their revisions.
    #[command(subcommand)]
    Pack(cmd::pack::PackCmd),
    /// Run the engine and its HTTP API (and callback listener) until interrupted.
    Serve(cmd::serve::ServeArgs),
    /// Named users of a team server: add, list, remove.
    #[command(subcommand)]
    User(cmd::user::UserCmd),
    /// Internal: act as the runner process (used when no `stormdesk-runner` is installed beside this binary).
    #[command(name = "__runner", hide = true)]
    Runner,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Runner) {
        return stormdesk_runner::process::main();
    }
    init_logging(&cli);
    quiet_on_closed_stdout();
    let ctx = cmd::Ctx {
        packs: cli.packs,
        home: cli.home,
    };
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(&ctx, args),
        Command::Execution(c) => cmd::execution::run(&ctx, c),
        Command::Action(c) => cmd::catalog::action(&ctx, c),
        Command::Key(c) => cmd::key::run(&ctx, c),
        Command::Inquiry(c) => cmd::inquiry::run(&ctx, c),
        Command::Pack(c) => cmd::pack::run(&ctx, c),
        Command::Serve(args) => cmd::serve::run(&ctx, args),
        Command::User(c) => cmd::user::run(&ctx, c),
        Command::Runner => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Warnings to stderr; `serve` also logs to `<data>/logs/stormdesk.log.<date>`.
/// `STORMDESK_LOG` sets the filter (e.g. `debug`).
fn init_logging(cli: &Cli) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let filter = || EnvFilter::try_from_env("STORMDESK_LOG").unwrap_or_else(|_| "warn".into());
    let file = matches!(cli.command, Command::Serve(_))
        .then(|| stormdesk_engine::paths::Paths::resolve(cli.home.as_deref()).ok())
        .flatten()
        .filter(|p| std::fs::create_dir_all(p.logs()).is_ok())
        .and_then(|p| {
            // A log folder that cannot be written (a read-only disk) costs the
            // log file, not the command: the command then says what is wrong.
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("stormdesk.log")
                .build(p.logs())
                .map_err(|e| eprintln!("warning: no log file in {}: {e}", p.logs().display()))
                .ok()
        })
        .map(|appender| {
            fmt::layer()
                .with_ansi(false)
                .with_writer(appender)
                .with_filter(
                    EnvFilter::try_from_env("STORMDESK_LOG").unwrap_or_else(|_| "info".into()),
                )
        });
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        )
        .with(file)
        .init();
}

/// Output piped into a reader that stops early (`| head`) ends the command
/// quietly, as other command-line tools do, instead of with a panic. Rust's
/// `println!` panics on a closed stdout (SIGPIPE is ignored, so the engine's
/// writes to sockets and child pipes get errors instead of a signal).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            // 128 + SIGPIPE, what a shell reports for a reader gone.
            std::process::exit(141);
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of the definition (unique argument names across
    /// global options and subcommands, valid defaults), which otherwise
    /// only fail when a user types the command.
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
