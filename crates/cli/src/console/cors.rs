//! CORS for consoles served elsewhere (`stormdesk serve --allow-origin
//! ORIGIN`), as StackStorm's API does for st2web (`[api] allow_origin` in
//! `st2.conf`): a page of a listed origin may call `/v1/...` and
//! `/auth/v1/...` with its credentials in headers (`X-Auth-Token`,
//! `St2-Api-Key`, HTTP basic auth for `/auth/v1/tokens`), never cookies.
//! Pages of other origins get no CORS headers, so browsers keep the answers
//! from them.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::guard::normalize_origin;

/// The layer for `origins` (`scheme://host[:port]`); `None` when there are none.
/// An origin that is not a valid header value is an error naming it.
pub fn layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let mut values = Vec::new();
    for o in origins {
        let norm = normalize_origin(o);
        // `https://host[:port]`, or the desktop app's `tauri://localhost`.
        let authority = norm
            .split_once("://")
            .filter(|(scheme, _)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
            })
            .map(|(_, a)| a);
        if authority.is_none_or(|a| a.is_empty() || a.contains('/')) {
            anyhow::bail!(
                "--allow-origin {o}: an origin is `https://host[:port]` (scheme, host and port, no path)"
            );
        }
        values.push(
            HeaderValue::from_str(&norm)
                .map_err(|_| anyhow::anyhow!("--allow-origin {o}: not a valid origin"))?,
        );
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("x-auth-token"),
                HeaderName::from_static("st2-api-key"),
                HeaderName::from_static("last-event-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(layer(&[]).unwrap().is_none());
        assert!(layer(&[
            "https://console.lan:8443".into(),
            "http://127.0.0.1:1/".into()
        ])
        .unwrap()
        .is_some());
        assert!(layer(&["tauri://localhost".into()]).unwrap().is_some());
        for bad in ["console.lan", "https://", "https://a/b", "://a"] {
            let e = layer(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
