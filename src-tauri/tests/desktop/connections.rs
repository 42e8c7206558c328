//! Remote connections through the app's commands: saved under the config
//! directory, signed in against a real engine's auth endpoint (a second
//! engine on a loopback port), credentials kept in the keyring or, where no
//! keyring service runs (as on a headless machine), a 0600 file; tokens
//! renewed before they expire; refusals and unreachable servers reported
//! with their own codes.

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};
use stormdesk_desktop::connections::secrets::{Backend, Secret, SecretStore};
use stormdesk_desktop::start_engine;
use stormdesk_engine::{Engine, EngineOptions};

use super::{desktop, runner_bin, Desktop};

/// The token the app keeps for connection `id` (the page is never given it).
fn kept_token(d: &Desktop, id: &str) -> String {
    SecretStore::open(&d._engine.paths().config)
        .get(id)
        .unwrap()
        .and_then(|s| s.token)
        .expect("a kept token")
}

/// A second engine with its API on a loopback port, and its local user.
fn remote() -> (Engine, tempfile::TempDir, String, String) {
    let home = tempfile::tempdir().unwrap();
    let engine = start_engine(EngineOptions {
        home: Some(home.path().to_path_buf()),
        runner_bin: Some(runner_bin()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..EngineOptions::default()
    })
    .expect("remote engine starts");
    let text = std::fs::read_to_string(home.path().join("config/credentials")).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .unwrap()
            .to_string()
    };
    let (user, password) = (field("username"), field("password"));
    (engine, home, user, password)
}

fn whoami(api: &str, token: &str) -> Value {
    ureq::get(&format!("{api}/user"))
        .set("X-Auth-Token", token)
        .call()
        .unwrap()
        .into_json()
        .unwrap()
}

#[test]
fn secrets_go_to_the_keyring_or_a_0600_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::open(dir.path());
    let secret = Secret {
        user: Some("ada".into()),
        password: Some("pw".into()),
        token: Some("t0k3n".into()),
        expiry: Some("2099-01-01T00:00:00Z".into()),
        ..Secret::default()
    };
    store.put("conn-1", &secret).unwrap();
    assert_eq!(store.get("conn-1").unwrap(), Some(secret.clone()));
    assert!(!format!("{secret:?}").contains("t0k3n"));
    if let Backend::File(files) = store.backend() {
        let path = files.join("conn-1.json");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        let dir_mode = std::fs::metadata(files).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert!(std::fs::read_to_string(&path).unwrap().contains("t0k3n"));
    }
    // Without a keyring service (no D-Bus session here), the file is used.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            matches!(store.backend(), Backend::File(_)),
            "{:?}",
            store.backend()
        );
    }
    store.delete("conn-1").unwrap();
    assert_eq!(store.get("conn-1").unwrap(), None);
    store.delete("conn-1").unwrap();
    assert!(store.put("../escape", &secret).is_err());
}

#[test]
fn signs_in_keeps_and_renews_the_token() {
    let d = desktop();
    let (remote, _remote_home, user, password) = remote();
    let api = format!("{}/v1", remote.api_url());

    // A bad URL is refused with what to do.
    let bad = d
        .invoke(
            "save_connection",
            json!({"connection": {"name": "x", "api_url": "st2.example"}}),
        )
        .unwrap_err();
    assert_eq!(bad["code"], "invalid_input", "{bad}");

    let saved = d
        .invoke(
            "save_connection",
            json!({"connection": {"name": "team", "api_url": api}}),
        )
        .expect("save_connection");
    let id = saved["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    let listed = d.invoke("list_connections", json!({})).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        d.invoke("connection_credentials", json!({"id": id}))
            .unwrap(),
        Value::Null
    );

    // Refused: the server's own message, code `unauthorized`.
    let refused = d
        .invoke(
            "connection_sign_in",
            json!({"id": id, "user": user, "password": "wrong"}),
        )
        .unwrap_err();
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    assert!(
        refused["faultstring"]
            .as_str()
            .unwrap()
            .contains("team refused the credentials"),
        "{refused}"
    );

    // Signed in for a day: kept; the page is told who and until when, not the token.
    let creds = d
        .invoke(
            "connection_sign_in",
            json!({"id": id, "user": user, "password": password}),
        )
        .expect("sign in");
    assert_eq!(creds["user"], user.as_str(), "{creds}");
    assert!(creds["expiry"].is_string(), "{creds}");
    assert!(creds["token"].is_null(), "{creds}");
    let token = kept_token(&d, &id);
    assert_eq!(whoami(&api, &token)["username"], user.as_str());
    let again = d
        .invoke("connection_credentials", json!({"id": id}))
        .unwrap();
    assert_eq!(again["expiry"], creds["expiry"]);
    assert!(again["token"].is_null(), "{again}");
    assert_eq!(kept_token(&d, &id), token);

    // A token with two minutes left is renewed before it is handed out.
    let short = d
        .invoke(
            "connection_sign_in",
            json!({"id": id, "user": user, "password": password, "ttl": 120}),
        )
        .unwrap();
    let short_token = kept_token(&d, &id);
    let renewed = d
        .invoke("connection_credentials", json!({"id": id}))
        .unwrap();
    let renewed_token = kept_token(&d, &id);
    assert_ne!(renewed_token, short_token);
    assert!(
        renewed["expiry"].as_str().unwrap() > short["expiry"].as_str().unwrap(),
        "{renewed} after {short}"
    );
    assert_eq!(whoami(&api, &renewed_token)["username"], user.as_str());
    // And on demand.
    let forced = d.invoke("connection_renew", json!({"id": id})).unwrap();
    assert!(forced["expiry"].is_string(), "{forced}");
    assert_ne!(kept_token(&d, &id), renewed_token);

    // An API key: checked, then kept.
    let key: Value = ureq::post(&format!("{api}/apikeys"))
        .set("X-Auth-Token", &token)
        .send_json(json!({}))
        .unwrap()
        .into_json()
        .unwrap();
    let with_key = d
        .invoke(
            "connection_use_api_key",
            json!({"id": id, "apiKey": key["key"]}),
        )
        .unwrap();
    assert_eq!(with_key["user"], user.as_str());
    assert!(with_key["api_key"].is_null(), "{with_key}");
    let bogus = d
        .invoke(
            "connection_use_api_key",
            json!({"id": id, "apiKey": "nope"}),
        )
        .unwrap_err();
    assert_eq!(bogus["code"], "unauthorized", "{bogus}");

    // Signed out and removed: nothing kept.
    d.invoke("connection_sign_out", json!({"id": id})).unwrap();
    assert_eq!(
        d.invoke("connection_credentials", json!({"id": id}))
            .unwrap(),
        Value::Null
    );
    d.invoke("remove_connection", json!({"id": id})).unwrap();
    assert_eq!(d.invoke("list_connections", json!({})).unwrap(), json!([]));

    // A server that is not there: `unavailable`, saying where it looked.
    remote.shutdown();
    let gone = d
        .invoke(
            "save_connection",
            json!({"connection": {"name": "gone", "api_url": "http://127.0.0.1:9/v1"}}),
        )
        .unwrap();
    let e = d
        .invoke(
            "connection_sign_in",
            json!({"id": gone["id"], "user": "a", "password": "b"}),
        )
        .unwrap_err();
    assert_eq!(e["code"], "unavailable", "{e}");
    assert!(
        e["faultstring"]
            .as_str()
            .unwrap()
            .contains("cannot reach gone"),
        "{e}"
    );
}
