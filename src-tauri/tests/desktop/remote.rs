//! The window's remote traffic through the app (`remote_request`, the event
//! stream): against a real `stormdesk serve` over TLS whose certificate a CA
//! made here signs (in no trust store: only the connection's CA field
//! makes it trusted), signed in as a user made with `stormdesk user add`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;

use serde_json::{json, Value};
use stormdesk_desktop::connections::remote::{
    follow_stream, CredentialSource, RemoteClients, StreamMessage,
};
use stormdesk_desktop::connections::Connection;

use super::{desktop, runner_bin, Desktop, TIMEOUT};

/// `target/<profile>/stormdesk`, built with the runner (`cargo build --workspace --bins`).
fn stormdesk_bin() -> PathBuf {
    let bin = runner_bin().with_file_name(format!("stormdesk{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        bin.display()
    );
    bin
}

/// A CA (PEM) and a certificate for `localhost`/`127.0.0.1` it signs, written to `dir`.
fn make_certs(dir: &Path) -> (String, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "desktop remote test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_cert.pem(), cert_path, key_path)
}

/// `stormdesk serve` over TLS on a loopback port, with user `ada`.
struct TlsServer {
    child: Child,
    /// `https://127.0.0.1:PORT`.
    url: String,
    ca_pem: String,
    _home: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADA_PASSWORD: &str = "ada's password";

fn tls_server() -> TlsServer {
    let home = tempfile::tempdir().unwrap();
    let (ca_pem, cert, key) = make_certs(home.path());
    let stormdesk = || {
        let mut cmd = Command::new(stormdesk_bin());
        cmd.env("STORMDESK_HOME", home.path())
            .env("STORMDESK_RUNNER", runner_bin())
            .env_remove("STORMDESK_PACKS");
        cmd
    };
    let mut add = stormdesk()
        .args(["user", "add", "ada", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{ADA_PASSWORD}").unwrap();
    assert!(add.wait().unwrap().success(), "stormdesk user add");
    let mut child = stormdesk()
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    let url = url.split('/').take(3).collect::<Vec<_>>().join("/");
    TlsServer {
        child,
        url,
        ca_pem,
        _home: home,
    }
}

fn save(d: &Desktop, name: &str, api: &str, ca: Option<&str>) -> String {
    let saved = d
        .invoke(
            "save_connection",
            json!({"connection": {"name": name, "api_url": api, "ca_cert": ca}}),
        )
        .expect("save_connection");
    saved["id"].as_str().unwrap().to_string()
}

fn request(d: &Desktop, id: &str, method: &str, url: &str, body: Value) -> Result<Value, Value> {
    d.invoke(
        "remote_request",
        json!({"id": id, "method": method, "url": url, "body": body, "accept": "application/json"}),
    )
}

#[test]
fn the_windows_requests_and_stream_go_through_the_app_with_the_connections_ca() {
    let d = desktop();
    let server = tls_server();
    let api = format!("{}/v1", server.url);
    let id = save(&d, "team", &api, Some(&server.ca_pem));
    d.invoke(
        "connection_sign_in",
        json!({"id": id, "user": "ada", "password": ADA_PASSWORD}),
    )
    .expect("sign in as ada");

    // The credentials are the app's: the request names none.
    let who = request(&d, &id, "GET", &format!("{api}/user"), Value::Null).expect("GET /user");
    assert_eq!(who["status"], 200, "{who:#}");
    let body: Value = serde_json::from_str(who["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["username"], "ada", "{body:#}");

    // The stream, followed as the window does (the command forwards these
    // messages over a Channel): opened before the run, so it sees it all.
    let connection: Connection =
        serde_json::from_value(d.invoke("list_connections", json!({})).unwrap()[0].clone())
            .unwrap();
    let (tx, rx) = mpsc::channel::<StreamMessage>();
    let client = RemoteClients::default().client(&connection).unwrap();
    let stream_url = format!(
        "{api}/stream?events=st2.execution__create,st2.execution__update,st2.execution.output__create"
    );
    // As the command does: the credentials the app keeps (the page has none).
    let creds: CredentialSource = {
        let secret =
            stormdesk_desktop::connections::secrets::SecretStore::open(&d._engine.paths().config)
                .get(&id)
                .unwrap()
                .expect("kept credentials");
        let creds = stormdesk_desktop::connections::Credentials {
            user: secret.user,
            token: secret.token,
            expiry: secret.expiry,
            api_key: secret.api_key,
        };
        Arc::new(move || Ok(Some(creds.clone())))
    };
    let task = tauri::async_runtime::spawn(follow_stream(
        client,
        connection.clone(),
        stream_url,
        creds,
        move |m| tx.send(m).is_ok(),
    ));
    match rx.recv_timeout(TIMEOUT).expect("the stream opens") {
        StreamMessage::Open { again } => assert!(!again),
        other => panic!("expected open, got {other:?}"),
    }

    let run = request(
        &d,
        &id,
        "POST",
        &format!("{api}/executions"),
        json!({"action": "examples.hello", "parameters": {"name": "remote"}}),
    )
    .expect("POST /executions");
    assert_eq!(run["status"], 201, "{run:#}");
    let execution: Value = serde_json::from_str(run["body"].as_str().unwrap()).unwrap();
    let exec_id = execution["id"].as_str().unwrap().to_string();
    assert_eq!(execution["context"]["user"], "ada", "{execution:#}");

    let mut output = String::new();
    let mut last_event_id = None;
    loop {
        let message = rx
            .recv_timeout(TIMEOUT)
            .expect("stream events until completion");
        let StreamMessage::Event(event) = message else {
            panic!("unexpected {message:?}");
        };
        last_event_id = event.id.clone().or(last_event_id);
        let data: Value = serde_json::from_str(&event.data).unwrap();
        if event.event == "st2.execution.output__create" && data["execution_id"] == exec_id.as_str()
        {
            output.push_str(data["data"].as_str().unwrap_or_default());
        }
        if event.event == "st2.execution__update"
            && data["id"] == exec_id.as_str()
            && data["status"] == "succeeded"
        {
            break;
        }
    }
    task.abort();
    assert_eq!(output.trim_end(), "Hello, remote");
    assert!(last_event_id.is_some(), "events carry ids to resume from");

    // Text output, as the console reads a StackStorm's.
    let text = d
        .invoke(
            "remote_request",
            json!({"id": id, "method": "GET", "url": format!("{api}/executions/{exec_id}/output"), "accept": "text/plain"}),
        )
        .expect("GET output");
    assert_eq!(text["status"], 200);
    assert!(
        text["body"].as_str().unwrap().contains("Hello, remote"),
        "{text:#}"
    );

    // An HTTP error is an answer: the status and the server's message.
    let missing = request(
        &d,
        &id,
        "GET",
        &format!("{api}/executions/000000000000000000000000"),
        Value::Null,
    )
    .expect("a 404 is an answer");
    assert_eq!(missing["status"], 404, "{missing:#}");

    // The credentials go to this server's URLs only.
    let elsewhere = request(
        &d,
        &id,
        "GET",
        "https://example.invalid/v1/user",
        Value::Null,
    )
    .expect_err("another origin");
    assert_eq!(elsewhere["code"], "invalid_input", "{elsewhere:#}");
    let escape = request(
        &d,
        &id,
        "GET",
        &format!("{}/console/info", server.url),
        Value::Null,
    )
    .expect_err("outside the API URL");
    assert_eq!(escape["code"], "invalid_input", "{escape:#}");

    // The same server without its CA: refused, naming the connection and the field.
    let untrusted = save(&d, "team without CA", &api, None);
    let err = request(&d, &untrusted, "GET", &format!("{api}/user"), Value::Null)
        .expect_err("certificate not trusted");
    assert_eq!(err["code"], "untrusted_certificate", "{err:#}");
    let message = err["faultstring"].as_str().unwrap();
    assert!(message.contains("team without CA"), "{message}");
    assert!(message.contains("CA certificate field"), "{message}");

    // A server that is gone: unavailable, naming it.
    drop(server);
    let err =
        request(&d, &id, "GET", &format!("{api}/user"), Value::Null).expect_err("server gone");
    assert_eq!(err["code"], "unavailable", "{err:#}");
    assert!(
        err["faultstring"].as_str().unwrap().contains("team"),
        "{err:#}"
    );
}

/// Without credentials the stream says so and stops (the window asks to sign in).
#[test]
fn a_stream_without_credentials_stops_with_unauthorized() {
    let server = tls_server();
    let connection = Connection {
        id: "c1".into(),
        name: "team".into(),
        api_url: format!("{}/v1", server.url),
        auth_url: None,
        stream_url: None,
        ca_cert: Some(server.ca_pem.clone()),
    };
    let client = RemoteClients::default().client(&connection).unwrap();
    let (tx, rx) = mpsc::channel();
    let refused: CredentialSource = Arc::new(|| {
        Ok(Some(stormdesk_desktop::connections::Credentials {
            token: Some("not-a-token".into()),
            ..Default::default()
        }))
    });
    tauri::async_runtime::block_on(follow_stream(
        client,
        connection.clone(),
        format!("{}/v1/stream", server.url),
        refused,
        move |m| tx.send(m).is_ok(),
    ));
    let messages: Vec<StreamMessage> = rx.try_iter().collect();
    assert!(
        matches!(messages.as_slice(), [StreamMessage::Failed { code, message }] if code == "unauthorized" && message.contains("team")),
        "{messages:?}"
    );
}

/// The stream reconnects after the server drops it and resumes from the
/// last event's id (`Last-Event-ID`), telling the window it connected again.
/// A real listener on 127.0.0.1 serving `text/event-stream`: the first
/// connection sends one event and closes, the second records its headers.
#[test]
fn the_stream_reconnects_and_resumes_with_last_event_id() {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (seen_tx, seen_rx) = mpsc::channel::<Vec<String>>();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push(line.trim_end().to_ascii_lowercase());
            }
            let _ = seen_tx.send(headers);
            let event = format!(
                "id: {}\nevent: st2.execution__update\ndata: {{\"n\": {n}}}\n\n",
                5 + n
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n: hello\n\n{event}"
            );
            let _ = stream.flush();
            if n == 0 {
                // Gone: the first stream ends after its event.
                drop(stream);
            } else {
                kept.push(stream);
            }
        }
    });
    let connection = Connection {
        id: "c2".into(),
        name: "flaky".into(),
        api_url: format!("{base}/v1"),
        auth_url: None,
        stream_url: None,
        ca_cert: None,
    };
    let client = RemoteClients::default().client(&connection).unwrap();
    let creds: CredentialSource = Arc::new(|| {
        Ok(Some(stormdesk_desktop::connections::Credentials {
            token: Some("t0k3n".into()),
            ..Default::default()
        }))
    });
    let (tx, rx) = mpsc::channel();
    let task = tauri::async_runtime::spawn(follow_stream(
        client,
        connection,
        format!("{base}/v1/stream?events=st2.execution__update"),
        creds,
        move |m| tx.send(m).is_ok(),
    ));
    let mut messages = Vec::new();
    while messages.len() < 5 {
        messages.push(rx.recv_timeout(TIMEOUT).expect("stream messages"));
    }
    task.abort();
    let summary: Vec<String> = messages
        .iter()
        .map(|m| match m {
            StreamMessage::Open { again } => format!("open again={again}"),
            StreamMessage::Event(e) => format!("event {:?} {}", e.id, e.data),
            StreamMessage::Failed { code, .. } => format!("failed {code}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "open again=false",
            "event Some(\"5\") {\"n\": 0}",
            "failed unavailable",
            "open again=true",
            "event Some(\"6\") {\"n\": 1}",
        ]
    );
    let first = seen_rx.recv_timeout(TIMEOUT).unwrap();
    let second = seen_rx.recv_timeout(TIMEOUT).unwrap();
    assert!(
        first.contains(&"x-auth-token: t0k3n".to_string()),
        "{first:?}"
    );
    assert!(
        !first.iter().any(|h| h.starts_with("last-event-id")),
        "{first:?}"
    );
    assert!(
        second.contains(&"last-event-id: 5".to_string()),
        "{second:?}"
    );
    assert!(
        second.contains(&"accept: text/event-stream".to_string()),
        "{second:?}"
    );
}
