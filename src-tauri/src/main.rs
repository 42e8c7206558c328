// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use stormdesk_desktop::{build_app, engine_options_from_env, on_run_event, start_engine};

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(stormdesk_desktop::RUNNER_ARG) {
        return stormdesk_runner::process::main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STORMDESK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let engine = match start_engine(engine_options_from_env()) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("stormdesk: could not start the engine: {error}");
            return ExitCode::from(1);
        }
    };
    match build_app(tauri::Builder::default(), engine) {
        Ok(app) => {
            app.run(on_run_event);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("stormdesk: {error}");
            ExitCode::from(1)
        }
    }
}
