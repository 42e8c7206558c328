//! The web console for `stormdesk serve`: one listener that serves the built
//! UI (`ui/dist`) and passes every `/v1/...` (and `/auth/v1/...`) request through to the engine's
//! API, so the browser sees one origin (no CORS) and the page finds the API at
//! its own address.
//!
//! It speaks just enough HTTP/1.1 for that: static files with keep-alive, and
//! for the API a byte-for-byte pass-through of the request and the response
//! (SSE included) on a connection closed afterwards. It is not a general proxy.
//! The UI is read from disk (see [`find_ui_dir`]), so a rebuilt UI shows on
//! reload without restarting the server.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head read; API request bodies pass through unbuffered.
const MAX_HEAD: usize = 64 * 1024;

/// Where the built UI is: `--ui` / `STORMDESK_UI`, then `ui/` or
/// `../share/stormdesk/ui` beside the executable (an installed copy), then the
/// checkout this binary was built from.
pub fn find_ui_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir);
    }
    let mut candidates = Vec::new();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(exe_dir.join("ui"));
        candidates.push(exe_dir.join("../share/stormdesk/ui"));
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ui/dist"
    )));
    candidates
        .into_iter()
        .find(|dir| dir.join("index.html").is_file())
}

/// Binds `listen` and serves the UI and the API pass-through in the background.
/// Returns the bound address.
pub async fn start(
    listen: SocketAddr,
    api: SocketAddr,
    ui_dir: Option<PathBuf>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            let _ = conn.set_nodelay(true);
            let ui_dir = ui_dir.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(conn, api, ui_dir.as_deref()).await {
                    tracing::debug!(error = %e, "console connection ended");
                }
            });
        }
    });
    Ok(bound)
}

/// One request head: the request line and headers, as received.
struct Head {
    method: String,
    target: String,
    raw: Vec<u8>,
    content_length: usize,
}

async fn handle(
    mut conn: TcpStream,
    api: SocketAddr,
    ui_dir: Option<&Path>,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let Some(head) = read_head(&mut conn, &mut buf).await? else {
            return Ok(());
        };
        let path = head.target.split(['?', '#']).next().unwrap_or("/");
        if path == "/v1" || path.starts_with("/v1/") || path.starts_with("/auth/v1/") {
            // The rest of the connection belongs to the API.
            return pass_through(conn, api, head, std::mem::take(&mut buf)).await;
        }
        // Static requests have no body worth reading; skip any.
        let skip = head.content_length.min(buf.len());
        buf.drain(..skip);
        let response = static_response(&head.method, path, ui_dir);
        conn.write_all(&response).await?;
    }
}

/// Reads one request head into a [`Head`], leaving what follows it in `buf`.
/// `None` when the client closed the connection between requests.
async fn read_head(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Head>> {
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let raw: Vec<u8> = buf.drain(..end + 4).collect();
            return parse_head(raw).map(Some);
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed mid-request"))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_head(raw: Vec<u8>) -> std::io::Result<Head> {
    let text = std::str::from_utf8(&raw).map_err(|_| invalid("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let mut request = lines.next().unwrap_or_default().split(' ');
    let method = request.next().unwrap_or_default().to_string();
    let target = request.next().unwrap_or("/").to_string();
    let mut content_length = 0;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    Ok(Head {
        method,
        target,
        raw,
        content_length,
    })
}

/// Sends the request (head with `Connection: close`, then whatever the client
/// sends) to the engine and its response back, until either side closes.
async fn pass_through(
    mut conn: TcpStream,
    api: SocketAddr,
    head: Head,
    rest: Vec<u8>,
) -> std::io::Result<()> {
    let mut upstream = match TcpStream::connect(api).await {
        Ok(s) => s,
        Err(e) => {
            let body = format!(
                r#"{{"code":"unavailable","message":"the engine's API is not reachable: {e}"}}"#
            );
            conn.write_all(&response(
                502,
                "Bad Gateway",
                "application/json",
                &[],
                body.as_bytes(),
            ))
            .await?;
            return Ok(());
        }
    };
    let _ = upstream.set_nodelay(true);
    upstream
        .write_all(&with_connection_close(&head.raw, true))
        .await?;
    upstream.write_all(&rest).await?;

    let (mut client_read, mut client_write) = conn.split();
    let (mut up_read, mut up_write) = upstream.split();
    let to_engine = tokio::io::copy(&mut client_read, &mut up_write);
    let to_client = async {
        // The response head gains `Connection: close` so the browser opens a
        // new connection for its next request.
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = up_read.read(&mut chunk).await?;
            if n == 0 {
                client_write.write_all(&buf).await?;
                return Ok::<(), std::io::Error>(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let mut out = with_connection_close(&buf[..end + 4], false);
                out.extend_from_slice(&buf[end + 4..]);
                client_write.write_all(&out).await?;
                break;
            }
            if buf.len() > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
        }
        loop {
            let n = up_read.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            client_write.write_all(&chunk[..n]).await?;
        }
        client_write.shutdown().await
    };
    tokio::select! {
        r = to_client => r,
        // The client went away (a closed SSE stream): drop the engine's side too.
        _ = to_engine => Ok(()),
    }
}

/// `head` with any `Connection` (and, for requests, `Keep-Alive`) header
/// replaced by `Connection: close`.
fn with_connection_close(head: &[u8], request: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection")
            || (request && name.eq_ignore_ascii_case("keep-alive"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// The file for `path` under the UI directory; paths without a file fall back
/// to `index.html` (the page keeps its state in the query string).
fn static_response(method: &str, path: &str, ui_dir: Option<&Path>) -> Vec<u8> {
    if method != "GET" && method != "HEAD" {
        return response(405, "Method Not Allowed", "text/plain", &[], b"GET only\n");
    }
    let Some(dir) = ui_dir else {
        return response(
            503,
            "Service Unavailable",
            "text/html; charset=utf-8",
            &[("Cache-Control", "no-store")],
            NO_UI_PAGE.as_bytes(),
        );
    };
    let relative = path.trim_start_matches('/');
    let safe = Path::new(relative)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return response(404, "Not Found", "text/plain", &[], b"not found\n");
    }
    let mut file = dir.join(relative);
    if relative.is_empty() || (!file.is_file() && Path::new(relative).extension().is_none()) {
        file = dir.join("index.html");
    }
    let Ok(body) = std::fs::read(&file) else {
        return response(404, "Not Found", "text/plain", &[], b"not found\n");
    };
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    // Vite names bundled assets by content hash: they never change.
    let cache = if relative.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut out = response(
        200,
        "OK",
        content_type(ext),
        &[
            ("Cache-Control", cache),
            ("X-Content-Type-Options", "nosniff"),
        ],
        &body,
    );
    if method == "HEAD" {
        let end = find(&out, b"\r\n\r\n").map_or(out.len(), |e| e + 4);
        out.truncate(end);
    }
    out
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

fn response(
    status: u16,
    reason: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

const NO_UI_PAGE: &str = "<!doctype html><meta charset=utf-8><title>Stormdesk</title>\
<h1>The Stormdesk console is not built</h1>\
<p>Build it with <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, \
or point <code>stormdesk serve --ui DIR</code> (or <code>STORMDESK_UI</code>) at a built copy. \
The HTTP API is at <code>/v1/</code>.</p>\n";
