//! The console's listener for `stormdesk serve`: one address that serves
//! the web UI ([`assets`]) and the engine's HTTP API (`/v1/...`,
//! `/auth/v1/...`, the same router the engine's own loopback listener
//! runs), so the page talks to its own origin only.
//!
//! Every request passes [`guard::check`] (the `Host` allow-list against DNS
//! rebinding, `Origin` on requests that change something); API requests
//! without credentials of their own take the session's token
//! ([`session`]).

pub mod assets;
pub mod guard;
pub mod session;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use stormdesk_engine::Engine;
use tower::ServiceExt;

pub use assets::UiSource;
pub use guard::HostGuard;

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    engine: Engine,
    ui: Arc<UiSource>,
    api: Router,
    /// The session cookie's name (per port).
    cookie: String,
}

/// The console's routes for a listener bound to `bound`.
pub fn router(engine: Engine, ui: UiSource, bound: SocketAddr, allow_hosts: &[String]) -> Router {
    let console = Console {
        api: stormdesk_engine::api::router(engine.clone()),
        engine,
        ui: Arc::new(ui),
        cookie: session::cookie_name(bound.port()),
    };
    let guard = Arc::new(HostGuard::new(bound, allow_hosts));
    Router::new()
        .route(
            "/console/session",
            post(session::create).delete(session::end),
        )
        .route("/console/info", get(session::info))
        .fallback(dispatch)
        .with_state(console)
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/") || path == "/auth/v1" || path.starts_with("/auth/v1/")
}

/// The API for `/v1` and `/auth/v1`, the UI's files for the rest.
async fn dispatch(State(console): State<Console>, request: Request) -> Response {
    if is_api(request.uri().path()) {
        let request = session::with_session_token(request, &console.cookie);
        let response: Result<Response, Infallible> = console.api.clone().oneshot(request).await;
        return match response {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    assets::respond(&console.ui, request.method(), request.uri().path()).into_response()
}

/// Binds `listen` and serves the console there in the background until the
/// process ends. Returns the bound address.
pub async fn start(
    engine: Engine,
    listen: SocketAddr,
    ui: UiSource,
    allow_hosts: &[String],
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = router(engine, ui, bound, allow_hosts);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the console's listener stopped");
        }
    });
    Ok(bound)
}
