//! The key-value datastore (`/v1/keys`) through a real socket and real SQLite,
//! from the API token and from a running Python action's `self.action_service`.

use serde_json::{json, Value};
use stormdesk_engine::keys::{KeyFilter, KeyScope, KeySet};
use stormdesk_engine::{RunRequest, Status};

use crate::common::*;

/// A blocking request (ureq) off the runtime's threads: `(status, JSON body or Null)`.
async fn call(method: &str, url: String, token: &str, body: Option<Value>) -> (u16, Value) {
    let (method, token) = (method.to_string(), token.to_string());
    tokio::task::spawn_blocking(move || {
        let req = ureq::request(&method, &url).set("Authorization", &format!("Bearer {token}"));
        let resp = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let (status, resp) = match resp {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(code, r)) => (code, r),
            Err(e) => panic!("{method} {url}: {e}"),
        };
        let text = resp.into_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
    .await
    .unwrap()
}

/// Percent-encodes a key name for the path, as clients do (':' and '.' included).
fn enc(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn key_url(base: &str, name: &str, query: &str) -> String {
    format!("{base}/v1/keys/{}{query}", enc(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_list_delete_through_the_socket() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (base, token) = (engine.api_url(), engine.api_token().to_string());
    let name = "examples.Login:counter";

    let (status, body) = call("GET", key_url(&base, name, "?scope=system"), &token, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], json!("not_found"));
    let message = body["faultstring"].as_str().unwrap();
    assert!(
        message.contains(name) && message.contains("system"),
        "{message}"
    );

    let (status, body) = call(
        "PUT",
        key_url(&base, name, "?scope=system"),
        &token,
        Some(json!({"name": name, "value": "1", "scope": "system"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // StackStorm's KeyValuePairAPI: full scope names, ids, `encrypted`.
    assert_eq!(
        body,
        json!({
            "id": body["id"], "uid": format!("key_value_pair:st2kv.system:{name}"),
            "name": name, "value": "1", "scope": "st2kv.system", "secret": false,
            "encrypted": false,
        })
    );
    assert_eq!(body["id"].as_str().unwrap().len(), 24);

    // Replacing keeps one key; scope defaults to system.
    let (status, _) = call(
        "PUT",
        key_url(&base, name, ""),
        &token,
        Some(json!({"name": name, "value": "2"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call("GET", key_url(&base, name, ""), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], json!("2"));

    // Same name in the user scope is another key.
    let (status, _) = call(
        "PUT",
        key_url(&base, name, "?scope=user"),
        &token,
        Some(json!({"name": name, "value": "mine", "scope": "user"})),
    )
    .await;
    assert_eq!(status, 200);
    for (key, value) in [
        ("examples.Login:other", "x"),
        ("examples.Other:y", "y"),
        ("a_%b", "z"),
    ] {
        let (status, _) = call(
            "PUT",
            key_url(&base, key, ""),
            &token,
            Some(json!({"name": key, "value": value, "ttl": 3600})),
        )
        .await;
        assert_eq!(status, 200);
    }

    let names = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|k| {
                format!(
                    "{}/{}",
                    k["scope"].as_str().unwrap(),
                    k["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let list = format!("{base}/v1/keys");
    let (status, body) = call(
        "GET",
        format!("{list}?prefix=examples.Login%3A"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        names(&body),
        [
            "st2kv.system/examples.Login:counter",
            "st2kv.system/examples.Login:other"
        ]
    );
    let other = &body[1];
    assert!(
        other["expire_timestamp"].as_str().unwrap().ends_with('Z'),
        "{other}"
    );
    let (_, body) = call(
        "GET",
        format!("{list}?prefix=examples.Login%3A&scope=all"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        names(&body),
        [
            "st2kv.system/examples.Login:counter",
            "st2kv.system/examples.Login:other",
            "st2kv.user/examples.Login:counter"
        ]
    );
    let (_, body) = call("GET", format!("{list}?scope=user"), &token, None).await;
    assert_eq!(names(&body), ["st2kv.user/examples.Login:counter"]);
    // A user-scoped key belongs to the caller (the local user here) and is
    // shown with its owner; another user's keys are apart.
    assert_eq!(body[0]["user"], json!(engine.local_user()));
    let (_, body) = call(
        "GET",
        format!("{list}?scope=user&user=someone-else"),
        &token,
        None,
    )
    .await;
    assert_eq!(names(&body), Vec::<String>::new());
    // A prefix is plain text: '_' and '%' are not wildcards.
    let (_, body) = call("GET", format!("{list}?prefix={}", enc("a_%")), &token, None).await;
    assert_eq!(names(&body), ["st2kv.system/a_%b"]);
    let (_, body) = call("GET", format!("{list}?limit=2&offset=1"), &token, None).await;
    assert_eq!(names(&body).len(), 2);

    let (status, body) = call(
        "DELETE",
        key_url(&base, name, "?scope=system"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = call(
        "DELETE",
        key_url(&base, name, "?scope=system"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], json!("not_found"));
    let (status, _) = call("GET", key_url(&base, name, ""), &token, None).await;
    assert_eq!(status, 404);
    // The user-scope key is untouched.
    let (status, body) = call("GET", key_url(&base, name, "?scope=user"), &token, None).await;
    assert_eq!((status, body["value"].clone()), (200, json!("mine")));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_and_bad_input_are_refused() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (base, token) = (engine.api_url(), engine.api_token().to_string());
    for (method, url, body) in [
        ("GET", key_url(&base, "k", ""), None),
        ("GET", format!("{base}/v1/keys"), None),
        ("PUT", key_url(&base, "k", ""), Some(json!({"value": "v"}))),
        ("DELETE", key_url(&base, "k", ""), None),
    ] {
        let (status, resp) = call(method, url.clone(), "not-the-token", body).await;
        assert_eq!(status, 401, "{method} {url}");
        assert_eq!(resp["code"], json!("unauthorized"));
    }
    assert!(engine
        .key_list(KeyFilter::default(), false)
        .await
        .unwrap()
        .is_empty());

    for (body, needle) in [
        (json!({"value": 5}), "not a string"),
        (json!({"name": "k"}), "needs a \"value\""),
        (json!({"value": "v", "ttl": -5}), "ttl"),
        (
            json!({"value": "v", "scope": "galaxy"}),
            "unknown scope 'galaxy'",
        ),
        (
            json!({"value": "v", "encrypted": true}),
            "Failed to verify the integrity of the provided value for key \"k\"",
        ),
        (
            json!({"value": "v", "encrypted": "yes"}),
            "not true or false",
        ),
    ] {
        let (status, resp) = call("PUT", key_url(&base, "k", ""), &token, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_eq!(resp["code"], json!("invalid_input"));
        let message = resp["faultstring"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (status, resp) = call("GET", key_url(&base, "k", "?decrypt=maybe"), &token, None).await;
    assert_eq!(status, 400, "{resp}");
    engine.shutdown();
}

/// StackStorm's ciphertext: upper-case hex of header, IV, blocks and signature.
fn is_ciphertext(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() >= 2 * (5 + 16 + 16 + 20)
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_are_encrypted_at_rest_and_shown_as_ciphertext() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (base, token) = (engine.api_url(), engine.api_token().to_string());
    let (status, body) = call(
        "PUT",
        key_url(&base, "db_password", ""),
        &token,
        Some(json!({"name": "db_password", "value": "hunter22", "secret": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(is_ciphertext(&body["value"]), "{body}");
    assert_eq!(
        (&body["secret"], &body["encrypted"]),
        (&json!(true), &json!(true))
    );

    let (_, got) = call("GET", key_url(&base, "db_password", ""), &token, None).await;
    assert!(is_ciphertext(&got["value"]), "{got}");
    assert_eq!(
        got["value"], body["value"],
        "the stored ciphertext, as StackStorm shows it"
    );
    assert_eq!(got["encrypted"], json!(true));
    let (_, clear) = call(
        "GET",
        key_url(&base, "db_password", "?decrypt=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        (&clear["value"], &clear["encrypted"]),
        (&json!("hunter22"), &json!(false))
    );
    let (_, list) = call("GET", format!("{base}/v1/keys"), &token, None).await;
    assert_eq!(list[0]["value"], got["value"]);
    let (_, list) = call("GET", format!("{base}/v1/keys?decrypt=true"), &token, None).await;
    assert_eq!(list[0]["value"], json!("hunter22"));

    // A value already encrypted with this key (as `st2 key load` sends an
    // exported secret) is stored as it is, and is secret.
    let (status, copy) = call(
        "PUT",
        key_url(&base, "copy", ""),
        &token,
        Some(json!({"value": got["value"], "encrypted": true})),
    )
    .await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(
        (&copy["value"], &copy["secret"]),
        (&got["value"], &json!(true))
    );
    let (_, clear) = call("GET", key_url(&base, "copy", "?decrypt=true"), &token, None).await;
    assert_eq!(clear["value"], json!("hunter22"));

    engine.shutdown();
    let bytes = store_bytes(&fx);
    assert!(bytes.contains("db_password"), "the store was read");
    assert!(
        !bytes.contains("hunter22"),
        "a secret is never in the store in clear"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_an_earlier_version_kept_in_clear_are_encrypted_at_start() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let set = KeySet {
        secret: true,
        ..KeySet::new(KeyScope::System, "legacy", "swordfish42")
    };
    engine.key_set(set).await.unwrap();
    engine.shutdown();
    drop(engine);
    // What an earlier version left: the value in clear, no `encrypted` mark.
    let db = fx.home.path().join("stormdesk.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c.execute(
            "UPDATE keys SET value = 'swordfish42', encrypted = 0 WHERE name = 'legacy'",
            [],
        )
        .unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    assert!(store_bytes(&fx).contains("swordfish42"));

    let engine = fx.engine().await;
    let stored: (String, bool) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT value, encrypted FROM keys WHERE name = 'legacy'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(stored.1 && is_ciphertext(&json!(stored.0)), "{stored:?}");
    assert!(
        !store_bytes(&fx).contains("swordfish42"),
        "the clear text is overwritten, not just unlinked"
    );
    let got = engine
        .key_get(KeyScope::System, None, "legacy", true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.value, "swordfish42");
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_does_not_decrypt_says_which_key_and_why() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let set = KeySet {
        secret: true,
        ..KeySet::new(KeyScope::System, "pin", "4242")
    };
    engine.key_set(set).await.unwrap();
    engine.shutdown();
    drop(engine);
    // The key file replaced by another key: the stored ciphertext no longer verifies.
    let key_file = fx.home.path().join("config").join("datastore_key.json");
    std::fs::remove_file(&key_file).unwrap();
    let engine = fx.engine().await;
    assert!(key_file.is_file(), "a new key is made");
    let err = engine
        .key_get(KeyScope::System, None, "pin", true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'pin'")
            && err.contains("datastore_key.json")
            && err.contains("signature does not match")
            && !err.contains("4242"),
        "{err}"
    );
    // Without decryption the ciphertext is still shown.
    let got = engine
        .key_get(KeyScope::System, None, "pin", false)
        .await
        .unwrap()
        .unwrap();
    assert!(is_ciphertext(&json!(got.value)));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_invisible() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let (base, token) = (engine.api_url(), engine.api_token().to_string());
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let stale = KeySet {
        expire_at: Some(past),
        ..KeySet::new(KeyScope::System, "lock:deploy", "held")
    };
    engine.key_set(stale).await.unwrap();
    let fresh = KeySet::new(KeyScope::System, "lock:build", "held")
        .with_ttl(3600)
        .unwrap();
    let stored = engine.key_set(fresh).await.unwrap();
    assert!(stored.expire_timestamp.is_some());

    let (status, _) = call("GET", key_url(&base, "lock:deploy", ""), &token, None).await;
    assert_eq!(status, 404);
    let (_, body) = call(
        "GET",
        format!("{base}/v1/keys?prefix=lock%3A"),
        &token,
        None,
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["name"], json!("lock:build"));
    // Gone already, so there is nothing to delete.
    let (status, _) = call("DELETE", key_url(&base, "lock:deploy", ""), &token, None).await;
    assert_eq!(status, 404);
    // StackStorm's ttl 0 means no expiry; setting again revives the name.
    let (status, body) = call(
        "PUT",
        key_url(&base, "lock:deploy", ""),
        &token,
        Some(json!({"name": "lock:deploy", "value": "again", "ttl": 0})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.get("expire_timestamp").is_none(), "{body}");
    let got = engine
        .key_get(KeyScope::System, None, "lock:deploy", false)
        .await
        .unwrap();
    assert_eq!(got.unwrap().value, "again");
    engine.shutdown();
}

const KV_ACTION_YAML: &str = r#"name: kv
runner_type: python-script
entry_point: kv.py
parameters: {}
"#;

const KV_ACTION_PY: &str = r#"import os

from st2common.runners.base_action import Action


class Kv(Action):
    def run(self):
        svc = self.action_service
        svc.set_value('counter', '1', local=False)
        svc.set_value('note', 'local one')
        svc.set_value('pin', '4242', local=False, encrypt=True)
        return {
            "counter": svc.get_value('counter', local=False),
            "note": svc.get_value('note'),
            "pin_masked": svc.get_value('pin', local=False),
            "pin": svc.get_value('pin', local=False, decrypt=True),
            "absent": svc.get_value('absent', local=False),
            "listed": sorted(k["name"] for k in svc.list_values(local=False)),
            "token": os.environ["ST2_ACTION_AUTH_TOKEN"],
        }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_action_uses_the_datastore_with_its_own_token() {
    let fx = Fixture::new();
    let actions = fx.packs.join("t").join("actions");
    std::fs::write(actions.join("kv.yaml"), KV_ACTION_YAML).unwrap();
    std::fs::write(actions.join("kv.py"), KV_ACTION_PY).unwrap();
    let engine = fx.engine().await;
    let e = engine
        .run(RunRequest {
            action: "t.kv".into(),
            parameters: Default::default(),
            content_version: None,
            ..Default::default()
        })
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let result = &done.result["result"];
    assert_eq!(result["counter"], json!("1"));
    assert_eq!(result["note"], json!("local one"));
    assert!(is_ciphertext(&result["pin_masked"]), "{result}");
    // Read in clear by the action, the secret is one of its secrets: masked
    // in what it reports (StackStorm would show it).
    assert_eq!(result["pin"], json!("********"));
    assert_eq!(result["absent"], Value::Null);
    assert_eq!(result["listed"], json!(["counter", "pin", "t.Kv:note"]));

    let (base, token) = (engine.api_url(), engine.api_token().to_string());
    let (status, body) = call(
        "GET",
        key_url(&base, "counter", "?scope=system"),
        &token,
        None,
    )
    .await;
    assert_eq!((status, body["value"].clone()), (200, json!("1")));
    // Local keys are named "<pack>.<Class>:<name>", as in StackStorm.
    let (status, body) = call("GET", key_url(&base, "t.Kv:note", ""), &token, None).await;
    assert_eq!((status, body["value"].clone()), (200, json!("local one")));

    // The callback token worked only while its execution ran.
    let callback_token = result["token"].as_str().unwrap();
    assert_ne!(callback_token, token);
    let (status, _) = call("GET", key_url(&base, "counter", ""), callback_token, None).await;
    assert_eq!(status, 401);
    engine.shutdown();
}

const DECRYPTING_WORKFLOW: &str = r#"version: 1.0
input:
  - from_input: <% st2kv('system.vault', decrypt => true) %>
vars:
  - from_vars: <% st2kv('system.vault', decrypt => true) %>
  - shown: <% st2kv('system.vault') %>
tasks:
  say:
    action: core.echo message="pw=<% ctx(from_vars) %>"
output:
  - from_input: <% ctx(from_input) %>
  - from_vars: <% ctx(from_vars) %>
  - shown: <% ctx(shown) %>
"#;

/// A datastore secret a workflow decrypts becomes one of its secrets: masked
/// in its output and in its tasks' parameters and output, and never in the
/// store in clear; read without decryption it is the ciphertext, as in
/// StackStorm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_a_workflow_decrypts_is_masked_in_its_records() {
    let fx = Fixture::new();
    let actions = fx.packs.join("t").join("actions");
    std::fs::create_dir_all(actions.join("workflows")).unwrap();
    std::fs::write(
        actions.join("decrypts.yaml"),
        "name: decrypts\nrunner_type: orquesta\nentry_point: workflows/decrypts.yaml\n",
    )
    .unwrap();
    std::fs::write(actions.join("workflows/decrypts.yaml"), DECRYPTING_WORKFLOW).unwrap();
    let engine = fx.engine().await;
    let set = KeySet {
        secret: true,
        ..KeySet::new(KeyScope::System, "vault", "zebra-crossing-77")
    };
    engine.key_set(set).await.unwrap();
    let e = engine
        .run(RunRequest {
            action: "t.decrypts".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = finished(&engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let output = &done.result["output"];
    assert_eq!(output["from_input"], json!("********"), "{output}");
    assert_eq!(output["from_vars"], json!("********"), "{output}");
    assert!(is_ciphertext(&output["shown"]), "{output}");
    let tasks = engine
        .executions(stormdesk_engine::ExecutionFilter {
            parent: Some(e.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].parameters["message"], json!("pw=********"));
    assert_eq!(tasks[0].result["stdout"], json!("pw=********"));
    engine.shutdown();
    let bytes = store_bytes(&fx);
    assert!(bytes.contains("pw=********"), "the store was read");
    assert!(!bytes.contains("zebra-crossing-77"));
}

/// Secrets a run's parameter templates decrypt are masked in its output too,
/// also when the output is read as JSON (a PIN printed alone is a number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_a_parameter_decrypts_is_masked_in_the_output_even_as_a_number() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    for (name, value) in [("vault", "CLEAR-VAULT-4242"), ("pin", "918273645")] {
        let set = KeySet {
            secret: true,
            ..KeySet::new(KeyScope::System, name, value)
        };
        engine.key_set(set).await.unwrap();
    }
    let mut ids = Vec::new();
    for cmd in [
        "echo {{ st2kv.system.vault | decrypt_kv }}",
        "echo {{ st2kv.system.pin | decrypt_kv }}",
    ] {
        let e = engine
            .run(RunRequest {
                action: "core.local".into(),
                parameters: [("cmd".to_string(), json!(cmd))].into_iter().collect(),
                ..Default::default()
            })
            .await
            .unwrap();
        let done = finished(&engine, &e.id).await;
        assert_eq!(done.status, Status::Succeeded, "{}", done.result);
        assert_eq!(done.result["stdout"], json!("********"), "{}", done.result);
        let printed: String = engine
            .output(&e.id, None)
            .await
            .unwrap()
            .iter()
            .map(|c| c.data.clone())
            .collect();
        assert_eq!(printed, "********\n");
        ids.push(e.id);
    }
    engine.shutdown();
    let bytes = store_bytes(&fx);
    assert!(!bytes.contains("CLEAR-VAULT-4242") && !bytes.contains("918273645"));
}
