//! `http-request` against a real HTTP/1.1 server on 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stormdesk_runner::protocol::{RunnerRequest, RunnerStatus};
use stormdesk_runner::{run, CancelHandle, RunError};

use crate::support::{dead_url, final_json, finish, named, request, run_lib, spawn_runner, WAIT};

/// A test server. Routes:
/// - `/echo...`: 200, JSON of the request (method, path, query, headers, body);
/// - `/text`: 200, `text/plain`;
/// - `/badjson`: 200, `application/json` that is not JSON;
/// - `/status/N`: status N with a JSON body;
/// - `/redirect`: 302 to `/echo/redirected`;
/// - `/cookies`: two `Set-Cookie` headers;
/// - `/slow`: never answers (reports on `slow` that the request arrived).
struct Server {
    url: String,
    slow: Receiver<()>,
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (slow_tx, slow) = mpsc::channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let slow_tx = slow_tx.clone();
            thread::spawn(move || handle(conn, &slow_tx));
        }
    });
    Server { url, slow }
}

fn handle(conn: TcpStream, slow: &Sender<()>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut extra = String::new();
    let (status, content_type, reply) = match path {
        "/text" => (200, "text/plain; charset=utf-8", "plain text\n".to_string()),
        "/badjson" => (200, "application/json", "{not json".to_string()),
        "/redirect" => {
            extra.push_str("Location: /echo/redirected\r\n");
            (302, "text/plain", "moved".to_string())
        }
        "/cookies" => {
            extra.push_str("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n");
            (200, "text/plain", String::new())
        }
        "/slow" => {
            let _ = slow.send(());
            // Hold the connection without answering until the client leaves.
            let _ = reader.read_to_end(&mut Vec::new());
            return;
        }
        p if p.starts_with("/status/") => (
            p["/status/".len()..].parse().unwrap(),
            "application/json; charset=utf-8",
            json!({"error": "nope"}).to_string(),
        ),
        _ => (
            200,
            "application/json",
            json!({
                "method": method,
                "path": path,
                "query": query,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            })
            .to_string(),
        ),
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\
         Connection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = conn.flush();
}

fn http(params: Value) -> RunnerRequest {
    request("http-request", params)
}

#[test]
fn get_returns_stackstorms_result_with_the_json_body_parsed() {
    let server = serve();
    let (outcome, streamed) = run_lib(&http(json!({
        "url": format!("{}/echo?x=1", server.url),
        "params": {"q": "a b", "n": 2},
        "headers": {"X-Test": "yes"},
        "cookies": {"sid": "abc", "t": 1},
    })));
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.pid, None);
    let result = outcome.result.as_object().unwrap();
    // Key order depends on serde_json's `preserve_order`, which the engine
    // enables in a workspace build: compare as a set.
    let mut keys: Vec<&String> = result.keys().collect();
    keys.sort();
    assert_eq!(keys, ["body", "headers", "parsed", "status_code"]);
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["parsed"], true);
    assert_eq!(result["headers"]["content-type"], "application/json");
    let body = &result["body"];
    assert_eq!(body["method"], "GET");
    assert_eq!(body["path"], "/echo");
    // Parameters after those already in the URL. Their order follows the
    // parameter object's, which depends on serde_json's `preserve_order`
    // (enabled by the engine in a workspace build).
    let query = body["query"].as_str().unwrap();
    let (first, rest) = query.split_once('&').unwrap();
    assert_eq!(first, "x=1");
    let mut rest: Vec<&str> = rest.split('&').collect();
    rest.sort();
    assert_eq!(rest, ["n=2", "q=a+b"]);
    assert_eq!(body["headers"]["x-test"], "yes");
    assert_eq!(body["headers"]["cookie"], "sid=abc; t=1");
    assert_eq!(body["headers"]["x-stanley-action"], "myaction");
    assert!(body["headers"]["user-agent"]
        .as_str()
        .unwrap()
        .starts_with("stormdesk/"));
    assert_eq!(body["body"], "");
    // StackStorm's HTTP runner streams nothing.
    assert_eq!(streamed.events, 0);
}

#[test]
fn object_body_is_sent_as_json_and_defaults_to_post() {
    let server = serve();
    let (outcome, _) = run_lib(&http(json!({
        "url": format!("{}/echo", server.url),
        "body": {"name": "x", "n": [1, 2]},
    })));
    let body = &outcome.result["body"];
    assert_eq!(body["method"], "POST");
    assert_eq!(body["headers"]["content-type"], "application/json");
    let sent: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, json!({"name": "x", "n": [1, 2]}));
}

#[test]
fn text_body_method_and_timeout_may_be_action_parameters() {
    let server = serve();
    // As in StackStorm's core.http: body, method and timeout are action
    // parameters; url and headers runner parameters.
    let mut req = http(json!({
        "url": format!("{}/echo", server.url),
        "headers": {"Content-Type": "text/plain"},
    }));
    req.action_parameters = vec![
        named("method", json!("put")),
        named("body", json!("hello, server")),
        named("timeout", json!(5)),
    ];
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    let body = &outcome.result["body"];
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["body"], "hello, server");
    assert_eq!(body["headers"]["content-type"], "text/plain");
}

#[test]
fn non_json_responses_are_kept_as_text() {
    let server = serve();
    let (outcome, _) = run_lib(&http(json!({"url": format!("{}/text", server.url)})));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(outcome.result["body"], "plain text\n");
    assert_eq!(outcome.result["parsed"], false);

    let (outcome, _) = run_lib(&http(json!({"url": format!("{}/badjson", server.url)})));
    assert_eq!(outcome.result["body"], "{not json");
    assert_eq!(outcome.result["parsed"], false);

    let (outcome, _) = run_lib(&http(json!({"url": format!("{}/cookies", server.url)})));
    assert_eq!(outcome.result["headers"]["set-cookie"], "a=1, b=2");
}

#[test]
fn basic_auth_is_sent() {
    let server = serve();
    let (outcome, _) = run_lib(&http(json!({
        "url": format!("{}/echo", server.url),
        "username": "alice",
        "password": "open-sesame",
    })));
    assert_eq!(
        outcome.result["body"]["headers"]["authorization"],
        "Basic YWxpY2U6b3Blbi1zZXNhbWU="
    );
}

#[test]
fn the_password_is_masked_in_what_the_runner_process_reports() {
    let server = serve();
    let mut req = http(json!({
        "url": format!("{}/echo", server.url),
        "username": "alice",
        "password": "open-sesame",
        "body": "my password is open-sesame",
    }));
    req.secrets = vec!["open-sesame".into()];
    let out = finish(spawn_runner(&req));
    let final_ = final_json(&out);
    assert_eq!(final_["status"], "succeeded");
    let text = final_.to_string();
    assert!(!text.contains("open-sesame"), "{text}");
    assert_eq!(final_["result"]["body"]["body"], "my password is ********");
}

#[test]
fn redirects_are_followed_only_when_allowed() {
    let server = serve();
    let url = format!("{}/redirect", server.url);
    let (outcome, _) = run_lib(&http(json!({"url": url})));
    // StackStorm: 302 is not a success code.
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(outcome.result["status_code"], 302);
    assert_eq!(outcome.result["headers"]["location"], "/echo/redirected");

    let (outcome, _) = run_lib(&http(json!({"url": url, "allow_redirects": true})));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
    assert_eq!(outcome.result["body"]["path"], "/echo/redirected");
}

#[test]
fn error_statuses_fail_with_the_response_in_the_result() {
    let server = serve();
    for code in [404, 500, 207] {
        let (outcome, _) = run_lib(&http(
            json!({"url": format!("{}/status/{code}", server.url)}),
        ));
        assert_eq!(outcome.status, RunnerStatus::Failed, "{code}");
        assert_eq!(outcome.result["status_code"], code);
        assert_eq!(outcome.result["body"], json!({"error": "nope"}));
        assert_eq!(outcome.result["parsed"], true);
    }
    let (outcome, _) = run_lib(&http(json!({"url": format!("{}/status/204", server.url)})));
    assert_eq!(outcome.status, RunnerStatus::Succeeded);
}

#[test]
fn a_slow_server_times_out() {
    let server = serve();
    let started = Instant::now();
    let (outcome, _) = run_lib(&http(
        json!({"url": format!("{}/slow", server.url), "timeout": 1}),
    ));
    assert_eq!(outcome.status, RunnerStatus::Timeout, "{}", outcome.result);
    let error = outcome.result["error"].as_str().unwrap();
    assert!(error.contains("/slow timed out after 1 seconds"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn connection_refused_names_the_url() {
    let url = format!("{}/anything", dead_url());
    let (outcome, _) = run_lib(&http(json!({"url": url})));
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let error = outcome.result["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("could not connect to {url}")),
        "{error}"
    );
}

#[test]
fn cancel_returns_at_once() {
    let server = serve();
    let req = http(json!({"url": format!("{}/slow", server.url), "timeout": 600}));
    let cancel = CancelHandle::new();
    let (done_tx, done_rx) = mpsc::channel();
    let runner_cancel = cancel.clone();
    thread::spawn(move || {
        let _ = done_tx.send(run(&req, &mut |_, _| {}, &runner_cancel));
    });
    server
        .slow
        .recv_timeout(WAIT)
        .expect("the request never reached the server");
    cancel.cancel();
    let outcome = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("run did not return after cancel")
        .unwrap();
    assert_eq!(outcome.status, RunnerStatus::Canceled);
}

#[test]
fn missing_or_bad_parameters_are_errors_before_any_request() {
    let err = run(&http(json!({})), &mut |_, _| {}, &CancelHandle::new()).unwrap_err();
    assert!(matches!(
        err,
        RunError::MissingRunnerParameter { name: "url", .. }
    ));
    let err = run(
        &http(json!({"url": "http://127.0.0.1:9/", "headers": "nope"})),
        &mut |_, _| {},
        &CancelHandle::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("`headers`"), "{err}");
    let err = run(
        &http(json!({"url": "not a url"})),
        &mut |_, _| {},
        &CancelHandle::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a url"), "{err}");
}
