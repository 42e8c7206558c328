//! Several people on one team server: `stormdesk user add`, each signing in
//! with `POST /auth/v1/tokens` (over TLS), each execution recording who ran
//! it (`context.user`), the API filtering by `user` as StackStorm's does,
//! API keys acting as their owner.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::tls::TlsServer;
use crate::{stderr, stdout, stormdesk};

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn two_users_sign_in_run_and_are_told_apart() {
    let server = TlsServer::start(&[]);
    let home = server.home.path();

    // Added while the server runs: alice with a password of her own, bob with a generated one.
    let mut add = stormdesk(home)
        .args(["user", "add", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"alice's secret\n")
        .unwrap();
    let o = add.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("secret"), "{}", stdout(&o));
    let o = stormdesk(home)
        .args(["user", "add", "bob"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let bob_password = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no generated password in {}", stdout(&o)))
        .to_string();
    let o = stormdesk(home).args(["user", "list"]).output().unwrap();
    assert_eq!(stdout(&o), "alice\nbob\n");
    let text = std::fs::read_to_string(home.join("config/users")).unwrap();
    assert!(!text.contains(&bob_password) && !text.contains("alice's secret"));

    let agent = server.agent();
    let url = &server.url;
    // Wrong passwords and unknown users are refused.
    for (u, p) in [
        ("alice", "wrong"),
        ("carol", "alice's secret"),
        ("bob", "alice's secret"),
    ] {
        let r = agent
            .post(&format!("{url}/auth/v1/tokens"))
            .set("Authorization", &basic(u, p))
            .send_json(json!({}));
        match r {
            Err(ureq::Error::Status(401, resp)) => {
                let body: Value = resp.into_json().unwrap();
                assert!(
                    body["faultstring"]
                        .as_str()
                        .unwrap()
                        .contains("stormdesk user add"),
                    "{body}"
                );
            }
            other => panic!("{u}/{p}: expected 401, got {other:?}"),
        }
    }
    let alice = server.token("alice", "alice's secret");
    let bob = server.token("bob", &bob_password);

    let whoami = |token: &str| -> Value {
        agent
            .get(&format!("{url}/v1/user"))
            .set("X-Auth-Token", token)
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    };
    assert_eq!(whoami(&alice)["username"], "alice");
    assert_eq!(whoami(&bob)["username"], "bob");

    let run = |header: &str, value: &str, msg: &str| -> String {
        let e: Value = agent
            .post(&format!("{url}/v1/executions"))
            .set(header, value)
            .send_json(
                json!({"action": "core.local", "parameters": {"cmd": format!("echo {msg}")}}),
            )
            .unwrap()
            .into_json()
            .unwrap();
        e["id"].as_str().unwrap().to_string()
    };
    let a1 = run("X-Auth-Token", &alice, "alice one");
    let b1 = run("X-Auth-Token", &bob, "bob one");
    // An API key alice makes acts as alice.
    let key: Value = agent
        .post(&format!("{url}/v1/apikeys"))
        .set("X-Auth-Token", &alice)
        .send_json(json!({"metadata": {"for": "ci"}}))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(key["user"], "alice");
    let a2 = run("St2-Api-Key", key["key"].as_str().unwrap(), "alice by key");

    let list = |query: &str| -> Vec<(String, String)> {
        let all: Value = agent
            .get(&format!("{url}/v1/executions?{query}"))
            .set("X-Auth-Token", &bob)
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        let mut pairs: Vec<(String, String)> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap().to_string(),
                    e["context"]["user"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    let mut alices = vec![
        (a1.clone(), "alice".to_string()),
        (a2.clone(), "alice".to_string()),
    ];
    alices.sort();
    assert_eq!(list("user=alice"), alices);
    assert_eq!(list("user=bob"), vec![(b1.clone(), "bob".to_string())]);
    assert_eq!(list("user=carol"), vec![]);
    assert_eq!(list("").len(), 3);

    // Removed, bob can no longer sign in.
    let o = stormdesk(home)
        .args(["user", "remove", "bob"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = agent
        .post(&format!("{url}/auth/v1/tokens"))
        .set("Authorization", &basic("bob", &bob_password))
        .send_json(json!({}));
    assert!(matches!(r, Err(ureq::Error::Status(401, _))), "{r:?}");
    let o = stormdesk(home)
        .args(["user", "remove", "bob"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no user bob"), "{}", stderr(&o));
}

/// The users file is an htpasswd file as StackStorm's `flat_file` auth
/// backend reads it (passlib's `HtpasswdFile`; passlib 1.7.4 with bcrypt
/// 4.0.1 from PyPI as the reference): what `stormdesk user add` writes,
/// passlib checks; what passlib writes (`htpasswd -B`'s format), the server
/// signs in with.
#[test]
fn the_users_file_is_the_htpasswd_file_passlib_reads_and_writes() {
    let Some(python) = crate::st2::venv("passlib", &["passlib==1.7.4", "bcrypt==4.0.1"]) else {
        return;
    };
    let server = TlsServer::start(&[]);
    let home = server.home.path();
    let users = home.join("config/users");
    let mut add = stormdesk(home)
        .args(["user", "add", "ada", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"ada pw\n").unwrap();
    assert!(add.wait().unwrap().success());

    let script = r#"
import sys
from passlib.apache import HtpasswdFile
path = sys.argv[1]
ours = HtpasswdFile(path)
print(ours.check_password("ada", "ada pw"), ours.check_password("ada", "wrong"))
theirs = HtpasswdFile(path, default_scheme="bcrypt")
theirs.set_password("bob", "bob pw")
theirs.save()
"#;
    let o = Command::new(&python)
        .args(["-c", script])
        .arg(&users)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "True False");
    let text = std::fs::read_to_string(&users).unwrap();
    assert!(text.contains("bob:$2"), "{text}");

    // Both sign in; a wrong password for passlib's user is refused.
    let bob = server.token("bob", "bob pw");
    let ada = server.token("ada", "ada pw");
    assert_ne!(bob, ada);
    let r = server
        .agent()
        .post(&format!("{}/auth/v1/tokens", server.url))
        .set("Authorization", &basic("bob", "nope"))
        .send_json(json!({}));
    assert!(matches!(r, Err(ureq::Error::Status(401, _))), "{r:?}");
}
