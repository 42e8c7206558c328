//! The revision picker against a server without Stormdesk's revisions
//! endpoint: a small HTTP server on 127.0.0.1 answering as StackStorm does
//! (404 for `/v1/packs/{pack}/revisions`, the pack's metadata with its
//! `repo_url`), and a real git repository made here, listed by the app with
//! `git ls-remote` (git2).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stormdesk_desktop::connections::revisions::ls_remote;
use stormdesk_desktop::connections::sse::{SseMessage, SseParser};
use stormdesk_engine::git::RevisionKind;

use super::desktop;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A pack repository: `v1.0.0` (annotated) on the first commit, `1.2.0`
/// (lightweight) and `main` on the second, `feature/x` on the first, and a
/// tag that is no version. Returns the SHAs of the two commits.
fn pack_repo(dir: &Path) -> (String, String) {
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("pack.yaml"), "ref: mypack\nversion: 1.0.0\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    let first = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["tag", "-a", "v1.0.0", "-m", "one"]);
    git(dir, &["branch", "feature/x"]);
    git(dir, &["tag", "nightly"]);
    std::fs::write(dir.join("pack.yaml"), "ref: mypack\nversion: 1.2.0\n").unwrap();
    git(dir, &["commit", "-q", "-am", "second"]);
    let second = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["tag", "1.2.0"]);
    (first, second)
}

/// A server answering like StackStorm for the routes the picker reads;
/// records each request's line and `St2-Api-Key`.
fn stackstorm_like(routes: Vec<(&'static str, u16, Value)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut key = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("st2-api-key:") {
                    key = v.trim().to_string();
                }
            }
            let target = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(format!("{target} key={key}"));
            let (status, body) = if key != "key-1" {
                (
                    401,
                    json!({"faultstring": "Unauthorized - API key is invalid"}),
                )
            } else {
                routes
                    .iter()
                    .find(|(path, _, _)| *path == target)
                    .map(|(_, s, b)| (*s, b.clone()))
                    .unwrap_or((
                        404,
                        json!({"faultstring": format!("No route for {target}")}),
                    ))
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn ls_remote_lists_tags_newest_version_first_then_branches_default_first() {
    let repo = tempfile::tempdir().unwrap();
    let (first, second) = pack_repo(repo.path());
    let url = format!("file://{}", repo.path().display());
    let refs = ls_remote("mypack", &url).expect("ls-remote");
    let listed: Vec<(RevisionKind, &str, &str)> = refs
        .iter()
        .map(|r| (r.kind, r.name.as_str(), r.sha.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (RevisionKind::Tag, "1.2.0", second.as_str()),
            // The annotated tag's commit, not the tag object.
            (RevisionKind::Tag, "v1.0.0", first.as_str()),
            (RevisionKind::Tag, "nightly", first.as_str()),
            (RevisionKind::Branch, "main", second.as_str()),
            (RevisionKind::Branch, "feature/x", first.as_str()),
        ]
    );
    // A path works as well as a file:// URL.
    assert_eq!(
        ls_remote("mypack", repo.path().to_str().unwrap()).unwrap(),
        refs
    );

    let err = ls_remote("mypack", "file:///nonexistent/stormdesk-repo.git").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("mypack") && message.contains("/nonexistent/stormdesk-repo.git"),
        "{message}"
    );
    assert!(message.contains("reachable from this machine"), "{message}");
}

#[test]
fn the_picker_lists_a_stackstorm_packs_repo_url_when_revisions_are_missing() {
    let d = desktop();
    let repo = tempfile::tempdir().unwrap();
    let (first, second) = pack_repo(repo.path());
    let repo_url = format!("file://{}", repo.path().display());
    let (server, seen) = stackstorm_like(vec![
        ("/v1/user", 200, json!({"username": "ada"})),
        (
            "/v1/packs/mypack",
            200,
            json!({"ref": "mypack", "name": "mypack", "version": "1.2.0", "repo_url": repo_url}),
        ),
        (
            "/v1/packs?ref=listed",
            200,
            json!([{"ref": "listed", "name": "listed", "version": "1.0.0", "repo_url": repo.path()}]),
        ),
        (
            "/v1/packs/norepo",
            200,
            json!({"ref": "norepo", "name": "norepo", "version": "0.1.0"}),
        ),
        (
            "/v1/packs/gone",
            200,
            json!({"ref": "gone", "version": "0.1.0", "repo_url": "file:///nonexistent/gone.git"}),
        ),
    ]);
    let saved = d
        .invoke(
            "save_connection",
            json!({"connection": {"name": "st2", "api_url": format!("{server}/v1")}}),
        )
        .expect("save_connection");
    let id = saved["id"].as_str().unwrap().to_string();
    d.invoke(
        "connection_use_api_key",
        json!({"id": id, "apiKey": "key-1"}),
    )
    .expect("API key accepted");

    let listed = d
        .invoke("remote_pack_revisions", json!({"id": id, "pack": "mypack"}))
        .expect("revisions from repo_url");
    assert_eq!(listed["pack"], "mypack");
    assert_eq!(listed["git"], true);
    assert_eq!(listed["ls_remote"], true);
    assert_eq!(listed["origin"], repo_url.as_str());
    // The tag of the pack's version is the installed one.
    assert_eq!(
        listed["checked_out"],
        json!({"sha": second, "name": "1.2.0"})
    );
    let options: Vec<(String, String, String, bool)> = listed["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
                r["sha"].as_str().unwrap().to_string(),
                r["checked_out"].as_bool().unwrap(),
            )
        })
        .collect();
    let o = |k: &str, n: &str, s: &str, c: bool| (k.to_string(), n.to_string(), s.to_string(), c);
    assert_eq!(
        options,
        [
            o("tag", "1.2.0", &second, true),
            o("tag", "v1.0.0", &first, false),
            o("tag", "nightly", &first, false),
            o("branch", "main", &second, false),
            o("branch", "feature/x", &first, false),
        ]
    );
    // The revisions route was asked first, with the API key the app keeps.
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests.contains(&"/v1/packs/mypack/revisions key=key-1".to_string())
            && requests.contains(&"/v1/packs/mypack key=key-1".to_string()),
        "{requests:?}"
    );

    // Where `/v1/packs/{ref}` is not routed: `/v1/packs?ref=`.
    let listed = d
        .invoke("remote_pack_revisions", json!({"id": id, "pack": "listed"}))
        .expect("revisions via ?ref=");
    assert_eq!(listed["revisions"][0]["name"], "1.2.0");
    assert_eq!(listed["checked_out"]["name"], "v1.0.0");

    let err = d
        .invoke("remote_pack_revisions", json!({"id": id, "pack": "norepo"}))
        .expect_err("no repo_url");
    assert_eq!(err["code"], "revisions_unavailable", "{err:#}");
    assert!(
        err["faultstring"].as_str().unwrap().contains("no repo_url"),
        "{err:#}"
    );

    let err = d
        .invoke("remote_pack_revisions", json!({"id": id, "pack": "gone"}))
        .expect_err("repository not reachable");
    assert_eq!(err["code"], "revisions_unavailable", "{err:#}");
    assert!(
        err["faultstring"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/gone.git"),
        "{err:#}"
    );

    let err = d
        .invoke("remote_pack_revisions", json!({"id": id, "pack": "nope"}))
        .expect_err("unknown pack");
    assert_eq!(err["code"], "not_found", "{err:#}");
}

/// The stream reader: messages split across chunks anywhere, CRLF and CR
/// line ends, comments, multi-line data, ids carried over.
#[test]
fn sse_messages_survive_any_chunking() {
    let body = b": keep-alive\r\nid: 7\r\nevent: st2.execution__update\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: other\rdata: x\r\rdata: plain\n\n";
    let expected = vec![
        SseMessage {
            id: Some("7".into()),
            event: "st2.execution__update".into(),
            data: "{\"a\":\n1}".into(),
        },
        SseMessage {
            id: Some("7".into()),
            event: "other".into(),
            data: "x".into(),
        },
        SseMessage {
            id: Some("7".into()),
            event: "message".into(),
            data: "plain".into(),
        },
    ];
    for size in 1..=body.len() {
        let mut parser = SseParser::new();
        let got: Vec<SseMessage> = body.chunks(size).flat_map(|c| parser.push(c)).collect();
        assert_eq!(got, expected, "chunks of {size}");
        assert_eq!(parser.last_id(), Some("7"));
    }
}
