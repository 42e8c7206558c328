//! The window's traffic to a remote server (see
//! [`crate::connections::remote`]): API requests, the event stream over a
//! `Channel`, and the revision picker's data where the server lacks
//! Stormdesk's revisions endpoint ([`crate::connections::revisions`]).
//! The credentials are read here from the keyring (renewed when close to
//! expiry); the page never sees them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stormdesk_engine::ErrorBody;
use tauri::ipc::Channel;
use tauri::{Runtime, State, Webview};

use super::connections::{current, Connections};
use super::CommandResult;
use crate::connections::remote::{
    follow_stream, request, CredentialSource, RemoteClients, RemoteResponse, StreamMessage,
};
use crate::connections::revisions::{list_from_metadata, RevisionsError};
use crate::connections::{Connection, ConnectionError, Credentials};

fn err(e: ConnectionError) -> ErrorBody {
    ErrorBody {
        message: e.to_string(),
        code: e.code().to_string(),
    }
}

/// The open streams, by id, with the label of the webview that opened each
/// (a page that reloads or navigates drops its streams:
/// [`RemoteStreams::close_for`]).
#[derive(Default)]
pub struct RemoteStreams {
    next: AtomicU64,
    open: Mutex<OpenStreams>,
}

/// Stream id -> (the label of the webview that opened it, its task).
type OpenStreams = HashMap<u64, (String, tauri::async_runtime::JoinHandle<()>)>;

impl RemoteStreams {
    fn add(&self, webview: &str, task: tauri::async_runtime::JoinHandle<()>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().insert(id, (webview.to_string(), task));
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpenStreams> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops stream `id`; false when there is none.
    pub fn close(&self, id: u64) -> bool {
        match self.lock().remove(&id) {
            Some((_, task)) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    /// Stops every stream `webview` opened (its page is being replaced).
    pub fn close_for(&self, webview: &str) {
        self.lock().retain(|_, (label, task)| {
            let keep = label != webview;
            if !keep {
                task.abort();
            }
            keep
        });
    }

    /// How many streams are open (for tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The connection and its current credentials (read and renewed off the async runtime).
async fn connection_and_credentials(
    state: &Connections,
    id: &str,
) -> Result<(Connection, Option<Credentials>), ConnectionError> {
    let c = state.file.get(id)?;
    let state = state.clone();
    let for_creds = c.clone();
    let creds = tauri::async_runtime::spawn_blocking(move || current(&state, &for_creds))
        .await
        .map_err(|e| ConnectionError::Unreachable(format!("the keyring: {e}")))??;
    Ok((c, creds))
}

/// One API request to connection `id`: `method` on `url` (under its API
/// URL), a JSON `body` when given, `accept` (default `application/json`).
/// Answers with any HTTP status and the body as text; fails with
/// `unavailable` (not reached), `untrusted_certificate` (its certificate is
/// not trusted: the message names the connection's CA certificate field) or
/// `invalid_input` (a URL elsewhere).
#[tauri::command]
pub async fn remote_request(
    state: State<'_, Connections>,
    clients: State<'_, RemoteClients>,
    id: String,
    method: String,
    url: String,
    body: Option<Value>,
    accept: Option<String>,
) -> CommandResult<RemoteResponse> {
    let (c, creds) = connection_and_credentials(&state, &id).await.map_err(err)?;
    let client = clients.client(&c).map_err(err)?;
    request(
        &client,
        &c,
        creds.as_ref(),
        &method,
        &url,
        body.as_ref(),
        accept.as_deref().unwrap_or("application/json"),
    )
    .await
    .map_err(err)
}

/// Follows connection `id`'s event stream at `url` (its `/stream` with the
/// query), sending each message to `channel` (see [`StreamMessage`]);
/// reconnects and resumes with `Last-Event-ID` until closed. Returns the
/// stream's id for [`remote_stream_close`].
#[tauri::command]
pub async fn remote_stream_open<R: Runtime>(
    webview: Webview<R>,
    state: State<'_, Connections>,
    clients: State<'_, RemoteClients>,
    streams: State<'_, RemoteStreams>,
    id: String,
    url: String,
    channel: Channel<StreamMessage>,
) -> CommandResult<u64> {
    let c = state.file.get(&id).map_err(err)?;
    let client = clients.client(&c).map_err(err)?;
    let source: CredentialSource = {
        let state = state.inner().clone();
        let c = c.clone();
        Arc::new(move || current(&state, &c))
    };
    let task = tauri::async_runtime::spawn(follow_stream(client, c, url, source, move |m| {
        channel.send(m).is_ok()
    }));
    Ok(streams.add(webview.label(), task))
}

/// Stops a stream [`remote_stream_open`] started (the UI's last subscriber left).
#[tauri::command]
pub fn remote_stream_close(streams: State<'_, RemoteStreams>, stream: u64) -> CommandResult<()> {
    streams.close(stream);
    Ok(())
}

fn revisions_error(e: RevisionsError) -> ErrorBody {
    ErrorBody {
        message: e.to_string(),
        code: "revisions_unavailable".into(),
    }
}

/// GET `url` on `c` with `creds`: the status and the body as JSON (null when not JSON).
async fn get_json(
    client: &reqwest::Client,
    c: &Connection,
    creds: Option<&Credentials>,
    url: &str,
) -> Result<(u16, Value), ErrorBody> {
    let resp = request(client, c, creds, "GET", url, None, "application/json")
        .await
        .map_err(err)?;
    if resp.status == 401 || resp.status == 403 {
        return Err(err(ConnectionError::Refused(format!(
            "{} refused the credentials: {}",
            c.name, resp.body
        ))));
    }
    Ok((
        resp.status,
        serde_json::from_str(&resp.body).unwrap_or(Value::Null),
    ))
}

/// The revision picker's data for `pack` on connection `id`: the server's
/// own (`GET {api}/packs/{pack}/revisions`, Stormdesk), or where it answers
/// 404 (StackStorm has no such route) the tags and branches of the pack's
/// `repo_url` by `git ls-remote` from this machine, marked `ls_remote`.
/// Fails with `revisions_unavailable` (no `repo_url`, the repository not
/// reachable) or the transport's codes.
#[tauri::command]
pub async fn remote_pack_revisions(
    state: State<'_, Connections>,
    clients: State<'_, RemoteClients>,
    id: String,
    pack: String,
) -> CommandResult<Value> {
    let (c, creds) = connection_and_credentials(&state, &id).await.map_err(err)?;
    let client = clients.client(&c).map_err(err)?;
    let api = c.api();
    let segment = percent(&pack);
    let (status, own) = get_json(
        &client,
        &c,
        creds.as_ref(),
        &format!("{api}/packs/{segment}/revisions"),
    )
    .await?;
    if status == 200 {
        return Ok(own);
    }
    if status != 404 {
        return Err(err(ConnectionError::Unreachable(format!(
            "{}: {status} from {api}/packs/{segment}/revisions: {own}",
            c.name
        ))));
    }
    let (status, mut metadata) = get_json(
        &client,
        &c,
        creds.as_ref(),
        &format!("{api}/packs/{segment}"),
    )
    .await?;
    let mut found = status == 200;
    if status == 404 {
        let listed;
        (listed, metadata) = get_json(
            &client,
            &c,
            creds.as_ref(),
            &format!("{api}/packs?ref={segment}"),
        )
        .await?;
        found = listed == 200;
    }
    if !found || metadata.is_null() || metadata.as_array().is_some_and(|a| a.is_empty()) {
        return Err(ErrorBody {
            message: format!("{} has no pack '{pack}'", c.name),
            code: "not_found".into(),
        });
    }
    tauri::async_runtime::spawn_blocking(move || list_from_metadata(&pack, &metadata))
        .await
        .map_err(|e| ErrorBody {
            message: format!("listing revisions failed: {e}"),
            code: "internal".into(),
        })?
        .map_err(revisions_error)
        .map(|listed| serde_json::to_value(listed).unwrap_or(Value::Null))
}

/// A pack ref as one URL path segment (refs are word characters; anything
/// else is escaped).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
