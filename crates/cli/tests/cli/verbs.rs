//! StackStorm's verbs in Stormdesk's CLI: `execution cancel|pause|resume|re-run`
//! and `key set|get|list|delete`, against a real `stormdesk serve` (and, for
//! keys, on the store when no engine runs).

use std::path::Path;

use serde_json::Value;

use crate::restart::{kt_pack, wait_for_status};
use crate::{run, serve, stderr, stdout};

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}\n{}", stdout(o), stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

fn keys_round_trip(home: &Path) {
    json(&run(home, &["key", "set", "greeting", "hello", "--json"]));
    let k = json(&run(home, &["key", "get", "greeting", "--json"]));
    assert_eq!(k[0]["value"], "hello");
    assert_eq!(k[0]["scope"], "st2kv.system");
    json(&run(
        home,
        &["key", "set", "pw", "hunter22", "--encrypt", "--json"],
    ));
    // A secret shows as its ciphertext, as in StackStorm; the same
    // ciphertext set back `--encrypted` is stored as it is.
    let masked = json(&run(home, &["key", "get", "pw", "--json"]));
    let ciphertext = masked[0]["value"].as_str().unwrap().to_string();
    assert!(
        masked[0]["encrypted"] == true && ciphertext.bytes().all(|c| c.is_ascii_hexdigit()),
        "{masked}"
    );
    let clear = json(&run(home, &["key", "get", "pw", "--decrypt", "--json"]));
    assert_eq!(clear[0]["value"], "hunter22");
    json(&run(
        home,
        &["key", "set", "copy", &ciphertext, "--encrypted", "--json"],
    ));
    let copy = json(&run(home, &["key", "get", "copy", "--decrypt", "--json"]));
    assert_eq!(
        (&copy[0]["value"], &copy[0]["secret"]),
        (&Value::from("hunter22"), &Value::from(true))
    );
    let o = run(home, &["key", "set", "bad", "hunter22", "--encrypted"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Failed to verify the integrity"),
        "{}",
        stderr(&o)
    );
    run(home, &["key", "delete", "copy"]);
    json(&run(
        home,
        &["key", "set", "mine", "v", "--scope", "user", "--json"],
    ));
    let all = json(&run(home, &["key", "list", "--json"]));
    let names: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["scope"].as_str().unwrap(), k["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("st2kv.system", "greeting"),
            ("st2kv.system", "pw"),
            ("st2kv.user", "mine")
        ]
    );
    let o = run(home, &["key", "delete", "greeting"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(home, &["key", "get", "greeting"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let o = run(home, &["key", "delete", "greeting"]);
    assert!(!o.status.success());
    run(home, &["key", "delete", "pw"]);
    run(home, &["key", "delete", "mine", "--scope", "user"]);
}

#[test]
fn keys_work_with_and_without_a_running_engine() {
    let home = tempfile::tempdir().unwrap();
    keys_round_trip(home.path());
    let _server = serve(home.path());
    keys_round_trip(home.path());
}

#[test]
fn pause_resume_cancel_and_re_run_a_workflow() {
    let home = tempfile::tempdir().unwrap();
    kt_pack(home.path());
    let fifo = home.path().join("gate.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let _server = serve(home.path());
    let listener: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("listener.json")).unwrap())
            .unwrap();
    let url = listener["url"].as_str().unwrap().to_string();
    let token = std::fs::read_to_string(home.path().join("config/token")).unwrap();
    let fifo_arg = format!("fifo={}", fifo.display());
    let wf = json(&run(
        home.path(),
        &["run", "kt.flow", &fifo_arg, "--async", "--json"],
    ));
    let id = wf["id"].as_str().unwrap().to_string();
    wait_for_status(&url, token.trim(), "kt.gate", "running");

    // Pausing waits for the running task; it completes, then the workflow is paused.
    let o = run(home.path(), &["execution", "pause", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pausing"), "{}", stdout(&o));
    std::fs::write(&fifo, "open\n").unwrap();
    wait_for_status(&url, token.trim(), "kt.flow", "paused");
    let o = run(home.path(), &["execution", "resume", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(home.path(), &["execution", "tail", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let done = json(&run(home.path(), &["execution", "get", &id, "--json"]));
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["result"]["output"]["two"], "gate open");

    // Re-run with the same parameters; cancel it while its gate waits.
    let again = json(&run(
        home.path(),
        &["execution", "re-run", &id, "--async", "--json"],
    ));
    let again_id = again["id"].as_str().unwrap().to_string();
    assert_ne!(again_id, id);
    assert_eq!(again["parameters"]["fifo"], fifo.display().to_string());
    wait_for_status(&url, token.trim(), "kt.gate", "running");
    let o = run(home.path(), &["execution", "cancel", &again_id]);
    assert!(o.status.success(), "{}", stderr(&o));
    // It says the status the execution has at that moment: `canceling`
    // while its task's action is still going (`canceled` if that was quick).
    let said = stdout(&o);
    assert!(
        [
            format!("execution {again_id} canceling"),
            format!("execution {again_id} canceled")
        ]
        .contains(&said.trim().to_string()),
        "{said}"
    );
    // The gate's reader goes with the canceled task; let the workflow settle.
    let o = run(home.path(), &["execution", "tail", &again_id]);
    assert_eq!(o.status.code(), Some(1));
    let canceled = json(&run(
        home.path(),
        &["execution", "get", &again_id, "--json"],
    ));
    assert_eq!(canceled["status"], "canceled");
    // Canceling what has completed says so and fails.
    let o = run(home.path(), &["execution", "cancel", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot be canceled"), "{}", stderr(&o));
    // Re-running from a chosen task keeps what the tasks before it published
    // and runs that task again (StackStorm's `st2 execution re-run --tasks`).
    let from = json(&run(
        home.path(),
        &["execution", "re-run", &id, "--tasks", "third", "--json"],
    ));
    assert_ne!(from["id"], id.as_str());
    assert_eq!(from["status"], "succeeded", "{from}");
    assert_eq!(from["result"]["output"]["one"], "one");
    assert_eq!(from["result"]["output"]["two"], "gate open");
    assert_eq!(from["result"]["output"]["three"], "three");
    // `last` is the newest top-level run, for `get` and `tail` as for `re-run`.
    let last = json(&run(home.path(), &["execution", "get", "last", "--json"]));
    assert_eq!(last["id"], from["id"]);
    let from_last = json(&run(
        home.path(),
        &["execution", "re-run", "last", "--tasks", "third", "--json"],
    ));
    assert_eq!(from_last["status"], "succeeded", "{from_last}");
    assert_eq!(
        from_last["context"]["re-run"]["ref"], from["id"],
        "{from_last}"
    );
    // A task that the workflow does not have is refused with its name.
    let o = run(
        home.path(),
        &["execution", "re-run", &id, "--tasks", "nosuch"],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nosuch"), "{}", stderr(&o));

    // `execution list` shows top-level runs, as `st2 execution list` does
    // (`parent=null`); `--showall` adds the tasks, `--parent` lists one
    // execution's children.
    let ids = |args: &[&str]| -> Vec<String> {
        let o = run(home.path(), args);
        assert!(o.status.success(), "{}", stderr(&o));
        let list: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
        list.iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let roots = ids(&["execution", "list", "--json"]);
    let mut expected = vec![
        id.clone(),
        again_id.clone(),
        from["id"].as_str().unwrap().to_string(),
        from_last["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    let mut sorted = roots.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "top-level runs only");
    let all = ids(&["execution", "list", "--showall", "--json", "-n", "100"]);
    let children = ids(&["execution", "list", "--parent", &id, "--json"]);
    assert_eq!(children.len(), 3, "first, second and third: {children:?}");
    assert!(children
        .iter()
        .all(|c| all.contains(c) && !roots.contains(c)));
    assert!(all.len() > roots.len() + children.len());
}

#[test]
fn control_verbs_need_a_running_engine() {
    let home = tempfile::tempdir().unwrap();
    let o = run(
        home.path(),
        &["execution", "cancel", "000000000000000000000000"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no engine is running"),
        "{}",
        stderr(&o)
    );
}
