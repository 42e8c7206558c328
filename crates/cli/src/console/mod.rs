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
pub mod cors;
pub mod guard;
pub mod session;
pub mod tls;

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
pub use tls::TlsFiles;

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    engine: Engine,
    ui: Arc<UiSource>,
    api: Router,
    /// The session cookie's name (per port).
    cookie: String,
    /// Served over TLS: the session cookie is `Secure`.
    secure: bool,
}

/// Who may reach the listener, and how.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// `--allow-host` names.
    pub allow_hosts: Vec<String>,
    /// `--allow-origin` origins: consoles served elsewhere that use the API.
    pub allow_origins: Vec<String>,
}

/// The console's routes for a listener bound to `bound` (`secure`: over TLS).
pub fn router(
    engine: Engine,
    ui: UiSource,
    bound: SocketAddr,
    exposure: &Exposure,
    secure: bool,
) -> anyhow::Result<Router> {
    let console = Console {
        api: stormdesk_engine::api::router(engine.clone()),
        engine,
        ui: Arc::new(ui),
        cookie: session::cookie_name(bound.port()),
        secure,
    };
    let guard = Arc::new(
        HostGuard::new(bound, &exposure.allow_hosts).with_origins(&exposure.allow_origins),
    );
    let router = Router::new()
        .route(
            "/console/session",
            post(session::create).delete(session::end),
        )
        .route("/console/info", get(session::info))
        .fallback(dispatch)
        .with_state(console)
        .layer(axum::middleware::from_fn_with_state(guard, guard::check));
    // Outermost: preflights are answered before anything else.
    Ok(match cors::layer(&exposure.allow_origins)? {
        Some(cors) => router.layer(cors),
        None => router,
    })
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
/// process ends, over TLS when `tls` is given. Returns the bound address.
pub async fn start(
    engine: Engine,
    listen: SocketAddr,
    ui: UiSource,
    exposure: &Exposure,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = router(engine, ui, bound, exposure, tls.is_some())?;
    match tls {
        None => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the console's listener stopped");
                }
            });
        }
        Some(config) => {
            let listener = listener.into_std()?;
            let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
            let server = axum_server::from_tcp_rustls(listener, config);
            tokio::spawn(async move {
                if let Err(e) = server.serve(app.into_make_service()).await {
                    tracing::error!(error = %e, "the console's TLS listener stopped");
                }
            });
        }
    }
    Ok(bound)
}
