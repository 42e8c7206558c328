//! The console's files: the built web UI (`ui/dist`).
//!
//! Release builds carry it inside the binary (`rust-embed`), so one
//! `stormdesk` file serves the console; debug builds read the checkout's
//! `ui/dist` at each request, so a rebuilt UI shows on reload. `--ui DIR`
//! (or `STORMDESK_UI`) serves another directory instead. Without a built UI,
//! `/` says how to build it; the API works either way.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// `ui/dist` as it was when this binary was built (release), or as it is
/// now in the checkout the binary was built from (debug).
#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../ui/dist/"]
#[allow_missing = true]
struct Built;

/// Where the console's files come from.
#[derive(Debug, Clone)]
pub enum UiSource {
    /// A directory given with `--ui` / `STORMDESK_UI`.
    Dir(PathBuf),
    /// The UI built into this binary (release) or the checkout's `ui/dist` (debug).
    Builtin,
}

impl UiSource {
    /// `--ui DIR` when given, else the built-in console.
    pub fn resolve(explicit: Option<PathBuf>) -> UiSource {
        explicit.map_or(UiSource::Builtin, UiSource::Dir)
    }

    /// Whether there is a console to serve (its `index.html` exists).
    pub fn is_built(&self) -> bool {
        self.read("index.html").is_some()
    }

    /// For the start banner: where the files come from.
    pub fn describe(&self) -> String {
        match self {
            UiSource::Dir(dir) => dir.display().to_string(),
            UiSource::Builtin if cfg!(debug_assertions) => {
                format!("{} (debug build: read from disk)", builtin_dir().display())
            }
            UiSource::Builtin => "built into this binary".to_string(),
        }
    }

    /// The bytes of `relative` (a path below the UI's root, already checked).
    fn read(&self, relative: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            UiSource::Dir(dir) => std::fs::read(dir.join(relative)).ok().map(Cow::Owned),
            UiSource::Builtin => Built::get(relative).map(|f| f.data),
        }
    }
}

/// The checkout's `ui/dist`, which release builds embed.
pub fn builtin_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/dist"))
}

/// The response for a request outside the API: the file at `path`, or
/// `index.html` for a path without an extension (the console keeps its
/// place in the address's `#` part), or the page saying how to build the UI.
pub fn respond(ui: &UiSource, method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "The console's pages take GET only; the API is under /v1/.\n",
        )
            .into_response();
    }
    let relative = path.trim_start_matches('/');
    let safe = Path::new(relative)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return not_found();
    }
    let wants_page = relative.is_empty() || Path::new(relative).extension().is_none();
    let (name, body) = match ui.read(relative).filter(|_| !relative.is_empty()) {
        Some(body) => (relative, body),
        None if wants_page => match ui.read("index.html") {
            Some(body) => ("index.html", body),
            None => return not_built(ui),
        },
        None => return not_found(),
    };
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    // Vite names bundled assets by content hash: they never change.
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if method == Method::HEAD {
        let mut r = ().into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        r
    } else {
        body.into_owned().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(ext)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The console is never framed by another site (clickjacking).
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn not_built(ui: &UiSource) -> Response {
    let where_ = match ui {
        UiSource::Dir(dir) => format!(
            "<p><code>{}</code> (given with <code>--ui</code> or <code>STORMDESK_UI</code>) has no <code>index.html</code>.</p>",
            html_escape(&dir.display().to_string())
        ),
        UiSource::Builtin if cfg!(debug_assertions) => format!(
            "<p>This debug build serves the console from <code>{}</code>, which has no <code>index.html</code> yet.</p>",
            html_escape(&builtin_dir().display().to_string())
        ),
        UiSource::Builtin => {
            "<p>This binary was built without the console (<code>ui/dist</code> was missing when it was compiled).</p>"
                .to_string()
        }
    };
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Stormdesk: console not built</title>\
<h1>The Stormdesk console is not built</h1>{where_}\
<p>Build it with <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reload this page \
(a release build embeds <code>ui/dist</code> when it is compiled: build the UI first, then \
<code>cargo build --release</code>), or start <code>stormdesk serve --ui DIR</code> with a built copy.</p>\
<p>The engine and its HTTP API are running: the API is at <code>/v1/</code>.</p>\n"
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    async fn body(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn pages_fall_back_to_the_index_and_files_are_served_as_they_are() {
        let dir = dir_with(&[("index.html", "<p>console</p>"), ("assets/a.js", "js")]);
        let ui = UiSource::Dir(dir.path().to_path_buf());
        assert!(ui.is_built());
        let (status, text) = body(respond(&ui, &Method::GET, "/")).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "<p>console</p>"));
        let (status, text) = body(respond(&ui, &Method::GET, "/history")).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "<p>console</p>"));
        let r = respond(&ui, &Method::GET, "/assets/a.js");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(body(r).await.1, "js");
        assert_eq!(
            respond(&ui, &Method::GET, "/assets/missing.js").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(&ui, &Method::GET, "/../secret").status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(&ui, &Method::POST, "/").status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[tokio::test]
    async fn without_a_built_console_the_page_says_how_to_build_it() {
        let dir = dir_with(&[]);
        let ui = UiSource::Dir(dir.path().to_path_buf());
        assert!(!ui.is_built());
        let (status, text) = body(respond(&ui, &Method::GET, "/")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("npm run build"), "{text}");
        assert!(text.contains("/v1/"), "{text}");
    }
}
