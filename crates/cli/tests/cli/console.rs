//! `stormdesk serve`'s console listener: refused off loopback without
//! `--insecure-http`, the `Host` check against DNS rebinding, the `Origin`
//! check, the cookie session, and the engine and API running without a
//! built console. Real processes, raw HTTP over real sockets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use super::{stderr, stormdesk};

/// A `stormdesk serve` with its announced URL and token; killed when dropped.
struct Console {
    child: Child,
    addr: String,
    token: String,
    lines: Vec<String>,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` with `args` and reads its banner up to the console line.
fn console(home: &Path, args: &[&str]) -> Console {
    let mut child = stormdesk(home)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let (mut addr, mut token) = (String::new(), String::new());
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "serve ended: {lines:?}"
        );
        if let Some(url) = line
            .trim()
            .strip_prefix("stormdesk engine listening on http://")
        {
            addr = url.to_string();
        }
        if let Some((_, t)) = line.trim().split_once("?token=") {
            token = t.to_string();
        }
        let last = line.starts_with("console");
        lines.push(line);
        if last {
            break;
        }
    }
    if token.is_empty() {
        // No console link (no built UI): the token file it names.
        let file = lines
            .iter()
            .find_map(|l| l.strip_prefix("API token in "))
            .and_then(|l| l.split(" (").next())
            .unwrap();
        token = std::fs::read_to_string(file.trim())
            .unwrap()
            .trim()
            .to_string();
    }
    Console {
        child,
        addr,
        token,
        lines,
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request with `headers` (a `Host` among them when wanted).
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    conn.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn listening_off_loopback_needs_insecure_http_and_warns() {
    let home = tempfile::tempdir().unwrap();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let o = stormdesk(home.path())
            .args(["serve", "--listen", listen])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{listen}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("refusing to serve on"), "{err}");
        assert!(err.contains("--insecure-http"), "{err}");
    }
    // With the opt-in it serves, after a warning on stderr.
    let mut child = stormdesk(home.path())
        .args(["serve", "--listen", "0.0.0.0:0", "--insecure-http"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut warning = String::new();
    for _ in 0..3 {
        err.read_line(&mut warning).unwrap();
    }
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(warning.contains("WARNING: --insecure-http"), "{warning}");
    assert!(warning.contains("plain HTTP"), "{warning}");
    assert!(line.contains("listening on http://0.0.0.0:"), "{line}");
}

#[test]
fn only_the_names_of_this_server_are_answered() {
    let home = tempfile::tempdir().unwrap();
    let c = console(home.path(), &["--allow-host", "stormdesk.lan"]);
    let port = c.addr.rsplit(':').next().unwrap().to_string();
    let bearer = format!("Bearer {}", c.token);
    for host in [
        c.addr.clone(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("stormdesk.lan:{port}"),
    ] {
        let r = http(
            &c.addr,
            "GET",
            "/v1/packs",
            &[("Host", &host), ("Authorization", &bearer)],
            "",
        );
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    // A name a web page controls, pointed at 127.0.0.1 (DNS rebinding): refused.
    for host in [
        format!("attacker.example:{port}"),
        format!("127.0.0.1.attacker.example:{port}"),
        format!("localhost:{}", port.parse::<u16>().unwrap().wrapping_add(1)),
    ] {
        let r = http(
            &c.addr,
            "GET",
            "/v1/packs",
            &[("Host", &host), ("Authorization", &bearer)],
            "",
        );
        assert_eq!(r.status, 421, "{host}: {}", r.body);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            body["faultstring"]
                .as_str()
                .unwrap()
                .contains("--allow-host"),
            "{body}"
        );
        // The console's pages too.
        let page = http(&c.addr, "GET", "/", &[("Host", &host)], "");
        assert_eq!(page.status, 421, "{host}");
        assert!(page.body.contains("DNS rebinding"), "{}", page.body);
    }
    let r = http(
        &c.addr,
        "GET",
        "/v1/packs",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.status, 400, "no Host: {}", r.body);
}

#[test]
fn the_session_cookie_stands_for_the_token_and_other_origins_change_nothing() {
    let home = tempfile::tempdir().unwrap();
    let c = console(home.path(), &[]);
    let host = c.addr.clone();
    let origin = format!("http://{host}");

    // Without credentials: 401.
    let r = http(&c.addr, "GET", "/v1/executions", &[("Host", &host)], "");
    assert_eq!(r.status, 401, "{}", r.body);
    // /console/info says where the token is, without credentials.
    let r = http(&c.addr, "GET", "/console/info", &[("Host", &host)], "");
    let info: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(info["signed_in"], false);
    assert!(
        info["token_file"].as_str().unwrap().ends_with("token"),
        "{info}"
    );

    // A wrong token makes no session.
    let r = http(
        &c.addr,
        "POST",
        "/console/session",
        &[("Host", &host), ("Origin", &origin)],
        r#"{"token":"nope"}"#,
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(header(&r, "set-cookie").is_none());
    assert!(r.body.contains("token"), "{}", r.body);

    // The token, presented once, becomes an HttpOnly, SameSite=Strict cookie.
    let body = format!(r#"{{"token":"{}"}}"#, c.token);
    let r = http(
        &c.addr,
        "POST",
        "/console/session",
        &[("Host", &host), ("Origin", &origin)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let set = header(&r, "set-cookie").unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let pair = set.split(';').next().unwrap().to_string();
    assert!(
        !pair.contains(&c.token),
        "the cookie is not the API token: {pair}"
    );

    // It opens the API, the stream included.
    let r = http(
        &c.addr,
        "GET",
        "/v1/executions",
        &[("Host", &host), ("Cookie", &pair)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        &c.addr,
        "GET",
        "/console/info",
        &[("Host", &host), ("Cookie", &pair)],
        "",
    );
    assert!(r.body.contains(r#""signed_in":true"#), "{}", r.body);
    let run = http(
        &c.addr,
        "POST",
        "/v1/executions",
        &[("Host", &host), ("Cookie", &pair), ("Origin", &origin)],
        r#"{"action":"examples.true","parameters":{}}"#,
    );
    assert_eq!(run.status, 201, "{}", run.body);

    // A page of another origin cannot change anything, cookie or not.
    let r = http(
        &c.addr,
        "POST",
        "/v1/executions",
        &[
            ("Host", &host),
            ("Cookie", &pair),
            ("Origin", "http://attacker.example"),
        ],
        r#"{"action":"examples.true","parameters":{}}"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("another origin"), "{}", r.body);

    // Signing out clears the cookie.
    let r = http(
        &c.addr,
        "DELETE",
        "/console/session",
        &[("Host", &host), ("Origin", &origin)],
        "",
    );
    assert_eq!(r.status, 204);
    assert!(header(&r, "set-cookie").unwrap().contains("Max-Age=0"));
}

#[test]
fn without_a_built_console_the_engine_and_api_still_serve() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let c = console(home.path(), &["--ui", empty.path().to_str().unwrap()]);
    let banner = c.lines.join("");
    assert!(banner.contains("console not built"), "{banner}");
    assert!(banner.contains("npm run build"), "{banner}");
    let host = c.addr.clone();
    let page = http(&c.addr, "GET", "/", &[("Host", &host)], "");
    assert_eq!(page.status, 503);
    assert!(
        page.body.contains("npm ci &amp;&amp; npm run build"),
        "{}",
        page.body
    );
    let bearer = format!("Bearer {}", c.token);
    let run = http(
        &c.addr,
        "POST",
        "/v1/executions",
        &[("Host", &host), ("Authorization", &bearer)],
        r#"{"action":"examples.true","parameters":{}}"#,
    );
    assert_eq!(run.status, 201, "{}", run.body);
}

#[test]
fn the_built_in_console_is_served_with_its_assets() {
    // The binary serves ui/dist: embedded in release builds, from the
    // checkout in debug builds. Skipped (with a note) when it is not built.
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist/index.html");
    if !dist.is_file() {
        eprintln!("ui/dist is not built: skipping (cd ui && npm run build)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let c = console(home.path(), &[]);
    let host = c.addr.clone();
    let page = http(&c.addr, "GET", "/", &[("Host", &host)], "");
    assert_eq!(page.status, 200);
    assert_eq!(header(&page, "x-frame-options"), Some("DENY"));
    let script = page
        .body
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .trim_start_matches("./")
        .to_string();
    let asset = http(
        &c.addr,
        "GET",
        &format!("/{script}"),
        &[("Host", &host)],
        "",
    );
    assert_eq!(asset.status, 200, "{script}");
    assert!(header(&asset, "content-type")
        .unwrap()
        .starts_with("text/javascript"));
}
