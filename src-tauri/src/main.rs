// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use stormdesk_desktop::{build_app, engine_options_from_env, on_run_event, start_engine};

fn main() {
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
            std::process::exit(1);
        }
    };
    match build_app(tauri::Builder::default(), engine) {
        Ok(app) => app.run(on_run_event),
        Err(error) => {
            eprintln!("stormdesk: {error}");
            std::process::exit(1);
        }
    }
}
