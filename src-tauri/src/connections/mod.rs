//! Remote servers the desktop console connects to: a team's `stormdesk
//! serve` or a StackStorm cluster, anything that speaks StackStorm's API.
//!
//! - The connections (name, API URL, optional auth and stream URLs, a CA
//!   certificate) are kept in `<config>/connections.json`.
//! - Credentials are StackStorm's: a token from `POST {auth}/tokens` (HTTP
//!   basic auth; `st2auth/controllers/v1/auth.py`) or an API key. They are
//!   kept per connection in the OS keyring, or a 0600 file where no keyring
//!   service runs ([`secrets`]), with the password that renews the token.
//! - A token is renewed before it expires ([`needs_renewal`]): when a fifth
//!   of its life, or five minutes, is left.

pub mod http;
pub mod remote;
pub mod revisions;
pub mod secrets;
pub mod sse;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A remote server. URLs as StackStorm's clients take them (`ST2_API_URL`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Chosen here when the connection is saved.
    #[serde(default)]
    pub id: String,
    pub name: String,
    /// `https://host/api/v1` (StackStorm behind its nginx) or `https://host:port/v1`.
    pub api_url: String,
    /// Where `POST /tokens` is; derived from `api_url` when absent.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Where `/stream` is; derived from `api_url` when absent.
    #[serde(default)]
    pub stream_url: Option<String>,
    /// A PEM CA certificate trusted for this server, besides the usual roots.
    #[serde(default)]
    pub ca_cert: Option<String>,
}

/// What a server accepts from us, as the UI gets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub expiry: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
}

/// Why a connection cannot be used; `code` is the UI's error code.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    /// The server's certificate is not trusted (no CA, or the wrong one).
    #[error("{0}")]
    Certificate(String),
    #[error("{what} {path}: {message}")]
    Io {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("no connection '{0}': add it from the title bar's connection list")]
    Unknown(String),
}

impl ConnectionError {
    /// The code the UI sees (`{code, faultstring}`).
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionError::Invalid(_) => "invalid_input",
            ConnectionError::Refused(_) => "unauthorized",
            ConnectionError::Unreachable(_) => "unavailable",
            ConnectionError::Certificate(_) => "untrusted_certificate",
            ConnectionError::Io { .. } => "io_error",
            ConnectionError::Unknown(_) => "not_found",
        }
    }
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

impl Connection {
    /// The API URL, without a trailing slash.
    pub fn api(&self) -> String {
        trim_url(&self.api_url)
    }

    /// The auth URL: given, or `<root>/auth/v1` where the API is `<root>/api/v1` or `<root>/v1`.
    pub fn auth(&self) -> String {
        if let Some(a) = self.auth_url.as_deref().filter(|a| !a.trim().is_empty()) {
            return trim_url(a);
        }
        let api = self.api();
        let root = api
            .strip_suffix("/api/v1")
            .or_else(|| api.strip_suffix("/v1"))
            .unwrap_or(&api);
        format!("{root}/auth/v1")
    }

    /// The stream URL (where `/stream` is): given, or `<root>/stream/v1`
    /// where the API is `<root>/api/v1` (StackStorm behind its nginx), or the
    /// API URL itself (`stormdesk serve`). As the UI's `endpoints()`.
    pub fn stream(&self) -> String {
        if let Some(s) = self.stream_url.as_deref().filter(|s| !s.trim().is_empty()) {
            return trim_url(s);
        }
        let api = self.api();
        match api.strip_suffix("/api/v1") {
            Some(root) => format!("{root}/stream/v1"),
            None => api,
        }
    }

    /// Checks the fields; the message names the field and what to do.
    pub fn validate(&self) -> Result<(), ConnectionError> {
        if self.name.trim().is_empty() {
            return Err(ConnectionError::Invalid(
                "name: give the connection a name".into(),
            ));
        }
        for (field, value) in [
            ("api_url", Some(self.api_url.as_str())),
            ("auth_url", self.auth_url.as_deref()),
            ("stream_url", self.stream_url.as_deref()),
        ] {
            let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
                if field == "api_url" {
                    return Err(ConnectionError::Invalid(
                        "api_url: the server's API, e.g. https://stormdesk.example:9443/v1 or https://st2.example/api/v1".into(),
                    ));
                }
                continue;
            };
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(ConnectionError::Invalid(format!(
                    "{field} {v:?}: an https:// (or http://) URL"
                )));
            }
        }
        if let Some(pem) = self.ca_cert.as_deref().filter(|p| !p.trim().is_empty()) {
            http::parse_ca(pem)?;
        }
        Ok(())
    }
}

/// `<config>/connections.json`.
#[derive(Clone)]
pub struct ConnectionsFile {
    path: PathBuf,
}

impl ConnectionsFile {
    pub fn new(config_dir: &Path) -> ConnectionsFile {
        ConnectionsFile {
            path: config_dir.join("connections.json"),
        }
    }

    pub fn list(&self) -> Result<Vec<Connection>, ConnectionError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ConnectionError::Io {
                    what: "cannot read",
                    path: self.path.clone(),
                    message: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text).map_err(|e| ConnectionError::Io {
            what: "cannot parse",
            path: self.path.clone(),
            message: format!("{e}; fix or delete the file"),
        })
    }

    pub fn get(&self, id: &str) -> Result<Connection, ConnectionError> {
        self.list()?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| ConnectionError::Unknown(id.to_string()))
    }

    fn write(&self, all: &[Connection]) -> Result<(), ConnectionError> {
        let io = |what, e: std::io::Error| ConnectionError::Io {
            what,
            path: self.path.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        }
        let text = serde_json::to_string_pretty(all).unwrap_or_else(|_| "[]".into());
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| io("cannot write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io("cannot write", e))
    }

    /// Saves `c` (a new id when it has none); returns it as saved.
    pub fn save(&self, mut c: Connection) -> Result<Connection, ConnectionError> {
        c.validate()?;
        if c.id.is_empty() {
            c.id = stormdesk_engine::model::new_execution_id();
        }
        let mut all = self.list()?;
        match all.iter_mut().find(|x| x.id == c.id) {
            Some(x) => *x = c.clone(),
            None => all.push(c.clone()),
        }
        self.write(&all)?;
        Ok(c)
    }

    pub fn remove(&self, id: &str) -> Result<(), ConnectionError> {
        let mut all = self.list()?;
        all.retain(|c| c.id != id);
        self.write(&all)
    }
}

/// Whether a token that expires at `expiry` should be renewed at `now`: when
/// less than a fifth of `lifetime_secs`, or less than five minutes, is left.
pub fn needs_renewal(expiry: &str, lifetime_secs: i64, now: DateTime<Utc>) -> bool {
    let Ok(expiry) = DateTime::parse_from_rfc3339(expiry) else {
        return true;
    };
    let left = expiry.with_timezone(&Utc) - now;
    left.num_seconds() < (lifetime_secs / 5).max(300)
}
