//! The window's traffic to a remote server, carried by the desktop app
//! instead of the webview's `fetch`: API requests and the event stream go
//! through a client built for the connection (the web's roots plus its CA
//! certificate, [`super::http::tls_config`]), with the credentials added
//! here from the keyring, so a server whose certificate a private CA signs
//! works without that CA in the system's trust store, and the page never
//! holds the token or API key.
//!
//! Only URLs under the connection's API or stream URL are requested
//! ([`check_url`]): the credentials never go anywhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde::Serialize;
use serde_json::Value;

use super::sse::{SseMessage, SseParser};
use super::{http, Connection, ConnectionError, Credentials};

/// How long to wait for a server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an API request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stream may stay silent: the servers send a keep-alive comment
/// every 15 seconds (`st2stream`'s heartbeat, Stormdesk's `KeepAlive`), so a
/// stream silent for this long is dead (a network gone without a FIN).
const STREAM_SILENCE: Duration = Duration::from_secs(45);
/// The first and the longest wait between reconnects (as the UI's EventStream).
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// One HTTP client per connection, built again when the connection changes
/// (a new CA certificate, other URLs).
#[derive(Clone, Default)]
pub struct RemoteClients {
    clients: Arc<Mutex<HashMap<String, (Connection, reqwest::Client)>>>,
}

impl RemoteClients {
    /// The client for `c`: trusts the web's roots and `c`'s CA certificate.
    pub fn client(&self, c: &Connection) -> Result<reqwest::Client, ConnectionError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kept, client)) = clients.get(&c.id) {
            if kept == c {
                return Ok(client.clone());
            }
        }
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(http::tls_config(c)?)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(STREAM_SILENCE)
            .build()
            .map_err(|e| ConnectionError::Invalid(format!("{}: {e}", c.name)))?;
        clients.insert(c.id.clone(), (c.clone(), client.clone()));
        Ok(client)
    }
}

/// What a remote answered: any status (a 401 or a 404 is the caller's to
/// read), the body as text.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteResponse {
    pub status: u16,
    /// The `Content-Type` header, or empty.
    pub content_type: String,
    pub body: String,
}

/// `url` parsed, when it lies under `c`'s API URL or stream URL (same
/// scheme, host and port, and the path below theirs after `..` is resolved).
pub fn check_url(c: &Connection, url: &str) -> Result<Url, ConnectionError> {
    let parsed = Url::parse(url)
        .map_err(|e| ConnectionError::Invalid(format!("{url:?} is not a URL: {e}")))?;
    for base in [c.api(), c.stream()] {
        let Ok(base) = Url::parse(&base) else {
            continue;
        };
        let path = base.path().trim_end_matches('/');
        if parsed.origin() == base.origin()
            && (parsed.path() == path || parsed.path().starts_with(&format!("{path}/")))
        {
            return Ok(parsed);
        }
    }
    Err(ConnectionError::Invalid(format!(
        "{url} is not under {}'s API URL ({}) or stream URL ({}): the desktop app sends its credentials there only",
        c.name,
        c.api(),
        c.stream()
    )))
}

/// The header StackStorm takes the credentials in: `St2-Api-Key` or `X-Auth-Token`.
pub fn auth_header(creds: &Credentials) -> Option<(&'static str, String)> {
    if let Some(key) = &creds.api_key {
        return Some(("St2-Api-Key", key.clone()));
    }
    creds.token.clone().map(|t| ("X-Auth-Token", t))
}

/// Every message in an error's chain, outermost first (reqwest's own
/// message is only "error sending request").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        // An io::Error wrapping rustls' error shows it in its Display but
        // hides it from `source()`.
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            parts.push(inner.to_string());
        }
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

/// A failure to talk to the server at all: its certificate not trusted, or
/// it cannot be reached. Both name the connection and the URL.
pub fn transport_error(c: &Connection, url: &str, e: &reqwest::Error) -> ConnectionError {
    let detail = chain(e);
    if http::is_certificate_error(&detail) {
        return http::untrusted(c, url, &detail);
    }
    ConnectionError::Unreachable(format!(
        "cannot reach {} at {url}: {detail}. Check that the server is up and the URL is right.",
        c.name
    ))
}

/// One API request to `c` with `creds`: `method` on `url` (under its API
/// URL), a JSON `body` when given, `accept` as the `Accept` header. Any HTTP
/// status is an answer; only a server not reached is an error.
pub async fn request(
    client: &reqwest::Client,
    c: &Connection,
    creds: Option<&Credentials>,
    method: &str,
    url: &str,
    body: Option<&Value>,
    accept: &str,
) -> Result<RemoteResponse, ConnectionError> {
    let parsed = check_url(c, url)?;
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| ConnectionError::Invalid(format!("{method:?} is not an HTTP method")))?;
    let mut req = client
        .request(method, parsed)
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::ACCEPT, accept);
    if let Some((name, value)) = creds.and_then(auth_header) {
        req = req.header(name, value);
    }
    if let Some(body) = body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.map_err(|e| transport_error(c, url, &e))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.text().await.map_err(|e| transport_error(c, url, &e))?;
    Ok(RemoteResponse {
        status,
        content_type,
        body,
    })
}

/// What the stream task tells the window.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamMessage {
    /// Connected; `again` after a reconnect (events may have been missed:
    /// the window reads what it shows again).
    Open { again: bool },
    /// One event of the stream.
    Event(SseMessage),
    /// A connection attempt failed. `code` is `unauthorized` (the stream
    /// stops: sign in again), `untrusted_certificate` or `unavailable`
    /// (it retries).
    Failed { code: String, message: String },
}

/// Where the stream task gets credentials (read again at each reconnect: a
/// token may have been renewed meanwhile).
pub type CredentialSource =
    Arc<dyn Fn() -> Result<Option<Credentials>, ConnectionError> + Send + Sync>;

async fn credentials_now(
    source: &CredentialSource,
) -> Result<Option<Credentials>, ConnectionError> {
    let source = source.clone();
    tauri::async_runtime::spawn_blocking(move || source())
        .await
        .unwrap_or_else(|e| Err(ConnectionError::Unreachable(format!("the keyring: {e}"))))
}

/// Follows `url` (`c`'s `/stream`) until `send` returns false or the server
/// refuses the credentials: connects, forwards each event, and reconnects
/// after a failure with a growing wait (0.5 s doubling to 10 s), resuming
/// with `Last-Event-ID` from the last event that had an id. Cancelled by
/// dropping (aborting) the task that runs it.
pub async fn follow_stream(
    client: reqwest::Client,
    c: Connection,
    url: String,
    credentials: CredentialSource,
    mut send: impl FnMut(StreamMessage) -> bool,
) {
    let parsed = match check_url(&c, &url) {
        Ok(u) => u,
        Err(e) => {
            send(StreamMessage::Failed {
                code: e.code().into(),
                message: e.to_string(),
            });
            return;
        }
    };
    let mut last_id: Option<String> = None;
    let mut connected_before = false;
    let mut delay = BACKOFF_FIRST;
    loop {
        let failure = match credentials_now(&credentials).await {
            Ok(None) => {
                send(StreamMessage::Failed {
                    code: "unauthorized".into(),
                    message: format!("{}: not signed in; sign in again", c.name),
                });
                return;
            }
            Err(e) => Some(e),
            Ok(Some(creds)) => {
                let mut req = client
                    .get(parsed.clone())
                    .header(reqwest::header::ACCEPT, "text/event-stream");
                if let Some((name, value)) = auth_header(&creds) {
                    req = req.header(name, value);
                }
                if let Some(id) = &last_id {
                    req = req.header("Last-Event-ID", id.as_str());
                }
                match req.send().await {
                    Err(e) => Some(transport_error(&c, &url, &e)),
                    Ok(resp) if resp.status() == 401 || resp.status() == 403 => {
                        let said = resp.text().await.unwrap_or_default();
                        send(StreamMessage::Failed {
                            code: "unauthorized".into(),
                            message: format!("{} refused the credentials: {said}", c.name),
                        });
                        return;
                    }
                    Ok(resp) if !resp.status().is_success() => {
                        let status = resp.status();
                        let said = resp.text().await.unwrap_or_default();
                        Some(ConnectionError::Unreachable(format!(
                            "{}: {status} from {url}: {said}",
                            c.name
                        )))
                    }
                    Ok(mut resp) => {
                        if !send(StreamMessage::Open {
                            again: connected_before,
                        }) {
                            return;
                        }
                        connected_before = true;
                        delay = BACKOFF_FIRST;
                        let mut parser = SseParser::new();
                        let ended = loop {
                            match resp.chunk().await {
                                Ok(Some(bytes)) => {
                                    for message in parser.push(&bytes) {
                                        if !send(StreamMessage::Event(message)) {
                                            return;
                                        }
                                    }
                                    if let Some(id) = parser.last_id() {
                                        last_id = Some(id.to_string());
                                    }
                                }
                                Ok(None) => {
                                    break ConnectionError::Unreachable(format!(
                                        "{} closed the stream at {url}",
                                        c.name
                                    ))
                                }
                                Err(e) => break transport_error(&c, &url, &e),
                            }
                        };
                        Some(ended)
                    }
                }
            }
        };
        if let Some(e) = failure {
            if !send(StreamMessage::Failed {
                code: e.code().into(),
                message: e.to_string(),
            }) {
                return;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
}
