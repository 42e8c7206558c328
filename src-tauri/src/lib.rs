//! Stormdesk's desktop face: the Tauri app around `stormdesk-engine`.
//!
//! It exposes the engine to the web UI (`ui/`) as a handful of thin commands
//! (arguments -> engine -> DTO, errors as the engine's `ErrorBody`) and
//! forwards the engine's event bus to the UI as Tauri events. It holds no
//! automation logic: that is the engine's, and the same UI also runs in a
//! browser against the engine's HTTP API.

use std::path::PathBuf;

use stormdesk_engine::{Engine, EngineOptions, ErrorBody};
use tauri::utils::config::WindowConfig;
use tauri::{
    App, AppHandle, Builder, Manager, RunEvent, Runtime, WebviewWindow, WebviewWindowBuilder,
};

pub mod commands;
pub mod connections;
pub mod events;

/// Pack directories used when `STORMDESK_PACKS` is unset: the repository's
/// `packs/` where it exists (a development checkout), so edits to the example
/// pack show without a rebuild. The engine also bundles the example pack.
const DEV_PACKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../packs");

/// The argument that makes this executable act as the runner process.
pub const RUNNER_ARG: &str = "__runner";

/// Engine options from the environment: `STORMDESK_PACKS` (a path list, like
/// `PATH`) replaces the default pack directories. `STORMDESK_HOME` and
/// `STORMDESK_RUNNER` are read by the engine itself.
pub fn engine_options_from_env() -> EngineOptions {
    let pack_dirs = match std::env::var_os("STORMDESK_PACKS") {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => Some(PathBuf::from(DEV_PACKS))
            .filter(|p| p.is_dir())
            .into_iter()
            .collect(),
    };
    // A packaged app has no `stormdesk-runner` beside it: it acts as its own runner.
    let (runner_bin, runner_args) = match stormdesk_engine::default_runner_bin() {
        found if found.is_file() => (Some(found), vec![]),
        _ => (std::env::current_exe().ok(), vec![RUNNER_ARG.to_string()]),
    };
    EngineOptions {
        pack_dirs,
        runner_bin,
        runner_args,
        prewarm: true,
        // Lets `stormdesk execution tail` find the engine of the running app.
        advertise: true,
        ..EngineOptions::default()
    }
}

/// Starts the engine on Tauri's async runtime, so its background tasks live
/// as long as the app.
pub fn start_engine(options: EngineOptions) -> Result<Engine, ErrorBody> {
    tauri::async_runtime::block_on(Engine::start(options)).map_err(|e| e.to_body())
}

/// Builds the app around `engine` on any runtime: `tauri::Builder::default()`
/// for the real window, `tauri::test::mock_builder()` in tests. The engine's
/// events are forwarded from here on; the main window is created when the
/// event loop starts (tests, which run none, call [`create_main_window`]).
pub fn build_app<R: Runtime>(builder: Builder<R>, engine: Engine) -> tauri::Result<App<R>> {
    let for_window = engine.clone();
    let app = builder
        .plugin(tauri_plugin_notification::init())
        // Size, position and maximised state of the main window, across runs,
        // kept with the engine's data so `STORMDESK_HOME` covers it too (an
        // absolute name replaces the plugin's config directory).
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_filename(
                    engine
                        .paths()
                        .data
                        .join("window-state.json")
                        .to_string_lossy(),
                )
                .build(),
        )
        .manage(engine.clone())
        .manage(commands::connections::Connections::open(
            &engine.paths().config,
        ))
        .manage(connections::remote::RemoteClients::default())
        .manage(commands::remote::RemoteStreams::default())
        // A page that loads again (switching connections reloads it) drops
        // the remote streams the previous page opened.
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Started {
                if let Some(streams) = webview.try_state::<commands::remote::RemoteStreams>() {
                    streams.close_for(webview.label());
                }
            }
        })
        .setup(move |app| {
            create_main_window(app.handle(), &for_window)?;
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::actions::list_packs,
            commands::actions::list_actions,
            commands::actions::get_action,
            commands::actions::list_revisions,
            commands::executions::run_action,
            commands::executions::get_execution,
            commands::executions::list_executions,
            commands::executions::re_run_execution,
            commands::executions::cancel_execution,
            commands::executions::pause_execution,
            commands::executions::resume_execution,
            commands::executions::execution_descendants,
            commands::executions::workflow_graph,
            commands::executions::execution_output,
            commands::inquiries::list_inquiries,
            commands::inquiries::get_inquiry,
            commands::inquiries::respond_inquiry,
            commands::packs::install_packs,
            commands::packs::update_packs,
            commands::files::save_log,
            commands::connections::list_connections,
            commands::connections::save_connection,
            commands::connections::remove_connection,
            commands::connections::connection_credentials,
            commands::connections::connection_sign_in,
            commands::connections::connection_use_api_key,
            commands::connections::connection_renew,
            commands::connections::connection_sign_out,
            commands::remote::remote_request,
            commands::remote::remote_stream_open,
            commands::remote::remote_stream_close,
            commands::remote::remote_pack_revisions,
        ])
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    app.manage(events::EventForwarder::start(app.handle().clone(), &engine));
    Ok(app)
}

/// The window the UI lives in; its capability is in `capabilities/default.json`.
pub const MAIN_WINDOW: &str = "main";

/// Creates the main window as configured in tauri.conf.json (`create: false`
/// there), with the webview's own data (storage, caches) under the engine's
/// data directory, so `STORMDESK_HOME` covers it too.
pub fn create_main_window<R: Runtime, M: Manager<R>>(
    manager: &M,
    engine: &Engine,
) -> tauri::Result<WebviewWindow<R>> {
    let config = manager
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
        .unwrap_or_else(|| WindowConfig {
            label: MAIN_WINDOW.into(),
            ..WindowConfig::default()
        });
    WebviewWindowBuilder::from_config(manager, &config)?
        .data_directory(engine.paths().data.join("webview"))
        .build()
}

/// Pass to `App::run`: stops the engine's listener and background work on
/// exit. Runners still going report to the next engine (or spool).
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::Exit = event {
        if let Some(engine) = app.try_state::<Engine>() {
            engine.shutdown();
        }
    }
}
