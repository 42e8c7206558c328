//! Which requests the console's listener answers.
//!
//! - **Host**: a web page on another site can point a name it controls at
//!   127.0.0.1 (DNS rebinding) and then talk to this listener as if it were
//!   its own origin. Such requests carry that name in `Host`, so only the
//!   names this listener is known by are answered: the bound address,
//!   `localhost`, `127.0.0.1`, `[::1]` (with the bound port or none) and the
//!   names given with `--allow-host`; when bound to every interface
//!   (`0.0.0.0`, `[::]`), IP addresses too (a rebinding needs a name).
//!   Others get `421 Misdirected Request` saying what to do.
//! - **Origin**: a request that changes something (anything but GET, HEAD,
//!   OPTIONS) and names another origin in `Origin` is refused with `403`,
//!   whatever credentials it carries.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The names and addresses the listener answers to.
#[derive(Debug, Clone)]
pub struct HostGuard {
    bound: SocketAddr,
    /// `--allow-host` names, lower case, without a port.
    allowed: Vec<String>,
    /// `--allow-origin` origins (`scheme://host[:port]`, lower case): consoles
    /// served elsewhere that may change things through the API (with tokens
    /// in headers; see [`super::cors`]).
    origins: Vec<String>,
}

impl HostGuard {
    pub fn new(bound: SocketAddr, allow_hosts: &[String]) -> HostGuard {
        HostGuard {
            bound,
            allowed: allow_hosts
                .iter()
                .map(|h| {
                    let (name, _) = split_port(h.trim());
                    name.trim_matches(['[', ']']).to_ascii_lowercase()
                })
                .filter(|h| !h.is_empty())
                .collect(),
            origins: Vec::new(),
        }
    }

    /// Also lets the API take changes from pages of these origins.
    pub fn with_origins(mut self, origins: &[String]) -> HostGuard {
        self.origins = origins.iter().map(|o| normalize_origin(o)).collect();
        self
    }

    /// Whether a request whose `Host` is `host` is for this listener.
    pub fn allows(&self, host: &str) -> bool {
        let (name, port) = split_port(host.trim());
        if port.is_some_and(|p| p != self.bound.port()) {
            return false;
        }
        let name = name.trim_matches(['[', ']']).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return ip == self.bound.ip()
                || ip.is_loopback()
                || self.bound.ip().is_unspecified()
                || self.allowed.iter().any(|a| a.parse::<IpAddr>() == Ok(ip));
        }
        name == "localhost" || self.allowed.contains(&name)
    }

    fn refusal(&self, host: &str) -> String {
        format!(
            "this server does not answer to the host name '{host}': it answers to {}, localhost, \
             127.0.0.1 and [::1], and to the names given with `stormdesk serve --allow-host NAME` \
             (a check against DNS rebinding: a web page must not reach the engine under a name of its own)",
            self.bound
        )
    }
}

/// `host[:port]` or `[v6]:port` -> (`host`, port).
fn split_port(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (
                &host[..ip.len() + 2],
                tail.strip_prefix(':').and_then(|p| p.parse().ok()),
            ),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        // A bare IPv6 address has more than one colon: no port.
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (host, None),
    }
}

/// The host a request was sent to: `Host`, or the URI's authority (HTTP/2).
fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
}

/// An origin as browsers send it: lower case, no trailing slash.
pub fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// `scheme://host[:port]` of an `Origin` header -> `host[:port]`.
fn origin_authority(headers: &HeaderMap) -> Option<Option<String>> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok().unwrap_or("null");
    Some(
        text.split_once("://")
            .map(|(_, authority)| authority.trim_end_matches('/').to_ascii_lowercase()),
    )
}

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/") || path == "/auth/v1" || path.starts_with("/auth/v1/")
}

fn refuse(status: StatusCode, path: &str, message: String) -> Response {
    if is_api(path) {
        let code = if status == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "misdirected"
        };
        (
            status,
            Json(serde_json::json!({ "faultstring": message, "code": code })),
        )
            .into_response()
    } else {
        (status, format!("{message}\n")).into_response()
    }
}

/// The middleware: checks `Host` on every request and `Origin` on those
/// that change something.
pub async fn check(State(guard): State<Arc<HostGuard>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let Some(host) = request_host(&request) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            &path,
            "the request has no Host header".to_string(),
        );
    };
    if !guard.allows(&host) {
        tracing::warn!(host = %host, path = %path, "request for another host name refused");
        return refuse(StatusCode::MISDIRECTED_REQUEST, &path, guard.refusal(&host));
    }
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let listed = is_api(&path)
        && request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| guard.origins.contains(&normalize_origin(o)));
    if !safe && !listed {
        if let Some(origin) = origin_authority(request.headers()) {
            if origin.as_deref() != Some(host.to_ascii_lowercase().as_str()) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    &path,
                    format!(
                        "a request from another origin ({}) cannot change anything here; \
                         use the console at http://{host}/ or a client that sends no Origin",
                        origin.as_deref().unwrap_or("null")
                    ),
                );
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(bound: &str, allow: &[&str]) -> HostGuard {
        HostGuard::new(
            bound.parse().unwrap(),
            &allow.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn hosts_are_checked_by_name_and_port() {
        let g = guard("127.0.0.1:9101", &["stormdesk.lan", "Box:9101"]);
        for ok in [
            "127.0.0.1:9101",
            "127.0.0.1",
            "localhost:9101",
            "LOCALHOST",
            "[::1]:9101",
            "[::1]",
            "stormdesk.lan:9101",
            "box",
        ] {
            assert!(g.allows(ok), "{ok} should be allowed");
        }
        for refused in [
            "evil.example:9101",
            "evil.example",
            "127.0.0.1:9102",
            "localhost:80",
            "127.0.0.1.nip.io:9101",
            "localhost.evil.example:9101",
            "",
            "10.0.0.5:9101",
        ] {
            assert!(!g.allows(refused), "{refused} should be refused");
        }
    }

    #[test]
    fn on_every_interface_addresses_are_allowed_but_names_are_not() {
        let g = guard("0.0.0.0:9101", &[]);
        assert!(g.allows("10.0.0.5:9101"));
        assert!(g.allows("192.168.1.20"));
        assert!(!g.allows("attacker.example:9101"));
        let g6 = guard("[::]:9101", &["ops-box"]);
        assert!(g6.allows("[fe80::1]:9101"));
        assert!(g6.allows("ops-box:9101"));
        assert!(!g6.allows("other-box:9101"));
    }

    #[test]
    fn ports_split_from_names_and_v6_addresses() {
        assert_eq!(split_port("a.b:80"), ("a.b", Some(80)));
        assert_eq!(split_port("a.b"), ("a.b", None));
        assert_eq!(split_port("[::1]:80"), ("[::1]", Some(80)));
        assert_eq!(split_port("[::1]"), ("[::1]", None));
        assert_eq!(split_port("::1"), ("::1", None));
    }
}
