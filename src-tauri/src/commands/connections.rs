//! Remote connections for the console's title bar (see
//! [`crate::connections`]): saved under the config directory, credentials in
//! the keyring (or a 0600 file), sign-in and renewal done here so the
//! password never has to stay in the page. The page is told who is signed in
//! and until when, never the token or API key: the window's requests to the
//! server carry them from here ([`super::remote`]).

use chrono::{DateTime, Utc};
use stormdesk_engine::ErrorBody;
use tauri::State;

use super::CommandResult;
use crate::connections::http;
use crate::connections::secrets::{Backend, Secret, SecretStore};
use crate::connections::{
    needs_renewal, Connection, ConnectionError, ConnectionsFile, Credentials,
};

/// What the connection commands share (managed state).
#[derive(Clone)]
pub struct Connections {
    pub file: ConnectionsFile,
    pub secrets: SecretStore,
}

impl Connections {
    pub fn open(config_dir: &std::path::Path) -> Connections {
        Connections {
            file: ConnectionsFile::new(config_dir),
            secrets: SecretStore::open(config_dir),
        }
    }

    /// `keyring`, or the directory of the secret files.
    pub fn secrets_backend(&self) -> String {
        match self.secrets.backend() {
            Backend::Keyring => "keyring".into(),
            Backend::File(dir) => dir.display().to_string(),
        }
    }
}

fn err(e: ConnectionError) -> ErrorBody {
    ErrorBody {
        message: e.to_string(),
        code: e.code().to_string(),
    }
}

fn credentials(s: &Secret) -> Credentials {
    Credentials {
        user: s.user.clone(),
        token: s.token.clone(),
        expiry: s.expiry.clone(),
        api_key: s.api_key.clone(),
    }
}

/// What the page gets: the user and the expiry, without the token or API key.
fn for_page(c: Credentials) -> Credentials {
    Credentials {
        token: None,
        api_key: None,
        ..c
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Signs in and keeps the token with the password that renews it.
fn sign_in(
    state: &Connections,
    c: &Connection,
    user: &str,
    password: &str,
    ttl: Option<u64>,
) -> Result<Credentials, ConnectionError> {
    let issued = http::sign_in(c, user, password, ttl)?;
    let secret = Secret {
        user: Some(issued.user),
        password: Some(password.to_string()),
        token: Some(issued.token),
        expiry: Some(issued.expiry),
        issued_at: Some(now().to_rfc3339()),
        api_key: None,
    };
    state.secrets.put(&c.id, &secret)?;
    Ok(credentials(&secret))
}

/// A fresh token from the kept password; `None` when none is kept.
fn renew(state: &Connections, c: &Connection) -> Result<Option<Credentials>, ConnectionError> {
    let Some(secret) = state.secrets.get(&c.id)? else {
        return Ok(None);
    };
    match (&secret.user, &secret.password) {
        (Some(user), Some(password)) => sign_in(state, c, user, password, None).map(Some),
        _ => Ok(None),
    }
}

fn lifetime(secret: &Secret) -> i64 {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (parse(&secret.issued_at), parse(&secret.expiry)) {
        (Some(issued), Some(expiry)) => (expiry - issued).num_seconds(),
        _ => 0,
    }
}

/// The credentials for `c`, renewed first when the token is close to its
/// expiry; `None` when there are none, or the token expired and cannot be renewed.
pub(crate) fn current(
    state: &Connections,
    c: &Connection,
) -> Result<Option<Credentials>, ConnectionError> {
    let Some(secret) = state.secrets.get(&c.id)? else {
        return Ok(None);
    };
    if secret.api_key.is_some() {
        return Ok(Some(credentials(&secret)));
    }
    let Some(expiry) = secret.expiry.as_deref() else {
        return Ok(None);
    };
    if !needs_renewal(expiry, lifetime(&secret), now()) {
        return Ok(Some(credentials(&secret)));
    }
    match renew(state, c) {
        Ok(Some(fresh)) => Ok(Some(fresh)),
        // The server cannot be reached now: the token is good until it expires.
        Err(ConnectionError::Unreachable(_)) | Ok(None)
            if DateTime::parse_from_rfc3339(expiry).is_ok_and(|e| e > now()) =>
        {
            Ok(Some(credentials(&secret)))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConnectionError> + Send + 'static,
) -> CommandResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| ErrorBody {
            message: format!("the connection task failed: {e}"),
            code: "internal".into(),
        })?
        .map_err(err)
}

/// The saved remote servers.
#[tauri::command]
pub fn list_connections(state: State<'_, Connections>) -> CommandResult<Vec<Connection>> {
    state.file.list().map_err(err)
}

/// Adds or replaces a connection; returns it with its id.
#[tauri::command]
pub fn save_connection(
    state: State<'_, Connections>,
    connection: Connection,
) -> CommandResult<Connection> {
    state.file.save(connection).map_err(err)
}

/// Removes a connection and its credentials.
#[tauri::command]
pub fn remove_connection(state: State<'_, Connections>, id: String) -> CommandResult<()> {
    state.secrets.delete(&id).map_err(err)?;
    state.file.remove(&id).map_err(err)
}

/// Whether the connection has credentials (renewed when close to expiry):
/// the user and expiry, or null. The token and API key stay here.
#[tauri::command]
pub async fn connection_credentials(
    state: State<'_, Connections>,
    id: String,
) -> CommandResult<Option<Credentials>> {
    let c = state.file.get(&id).map_err(err)?;
    let state = state.inner().clone();
    blocking(move || current(&state, &c).map(|o| o.map(for_page))).await
}

/// `POST {auth}/tokens` with `user` and `password` (`ttl` seconds when given).
#[tauri::command]
pub async fn connection_sign_in(
    state: State<'_, Connections>,
    id: String,
    user: String,
    password: String,
    ttl: Option<u64>,
) -> CommandResult<Credentials> {
    let c = state.file.get(&id).map_err(err)?;
    let state = state.inner().clone();
    blocking(move || sign_in(&state, &c, &user, &password, ttl).map(for_page)).await
}

/// Keeps an API key after checking it (`GET {api}/user`).
#[tauri::command]
pub async fn connection_use_api_key(
    state: State<'_, Connections>,
    id: String,
    api_key: String,
) -> CommandResult<Credentials> {
    let c = state.file.get(&id).map_err(err)?;
    let state = state.inner().clone();
    blocking(move || {
        let user = http::whoami(&c, "St2-Api-Key", &api_key)?;
        let secret = Secret {
            user: Some(user),
            api_key: Some(api_key),
            ..Secret::default()
        };
        state.secrets.put(&c.id, &secret)?;
        Ok(for_page(credentials(&secret)))
    })
    .await
}

/// A fresh token now (from the kept password); null when there is none to renew with.
#[tauri::command]
pub async fn connection_renew(
    state: State<'_, Connections>,
    id: String,
) -> CommandResult<Option<Credentials>> {
    let c = state.file.get(&id).map_err(err)?;
    let state = state.inner().clone();
    blocking(move || renew(&state, &c).map(|o| o.map(for_page))).await
}

/// Forgets the connection's credentials.
#[tauri::command]
pub fn connection_sign_out(state: State<'_, Connections>, id: String) -> CommandResult<()> {
    state.secrets.delete(&id).map_err(err)
}
