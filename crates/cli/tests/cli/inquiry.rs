//! `stormdesk inquiry list|get|respond` against a running `stormdesk serve`:
//! a workflow asks, the CLI shows what it asks, a wrong answer is refused
//! with StackStorm's message, a right one (as `name=value`, converted to the
//! schema's types) lets the workflow finish.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::restart::wait_for_status;
use crate::{run, stderr, stdout, stormdesk};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_cli_lists_shows_and_answers_inquiries() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("packs/qa");
    write(
        &dir.join("pack.yaml"),
        "ref: qa\nname: qa\nversion: 0.1.0\n",
    );
    write(
        &dir.join("actions/deploy.yaml"),
        "name: deploy\nrunner_type: orquesta\nentry_point: workflows/deploy.yaml\n",
    );
    write(
        &dir.join("actions/workflows/deploy.yaml"),
        r#"version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      route: ops
      schema:
        type: object
        properties:
          approved: {type: boolean, description: Deploy now?, required: true}
          replicas: {type: integer, description: How many?}
    next:
      - when: <% succeeded() %>
        publish:
          - replicas: <% result().response.replicas %>
output:
  - replicas: <% ctx().replicas %>
"#,
    );
    let mut child = stormdesk(home.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serve = Serve(child);
    let listener: Value =
        serde_json::from_str(&std::fs::read_to_string(home.path().join("listener.json")).unwrap())
            .unwrap();
    let api = listener["url"].as_str().unwrap().to_string();
    let token = std::fs::read_to_string(home.path().join("config/token"))
        .unwrap()
        .trim()
        .to_string();

    let none = run(home.path(), &["inquiry", "list"]);
    assert_eq!(
        stdout(&none).trim(),
        "no open inquiries",
        "{}",
        stderr(&none)
    );
    let started = run(home.path(), &["run", "qa.deploy", "--async", "--json"]);
    assert!(started.status.success(), "{}", stderr(&started));
    let wf: Value = serde_json::from_str(&stdout(&started)).unwrap();
    wait_for_status(&api, &token, "qa.deploy", "paused");

    let list = run(home.path(), &["inquiry", "list", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&list)).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["route"], "ops");
    // Following the run says what it waits for and how to answer.
    let mut tail = crate::stormdesk(home.path())
        .args(["execution", "tail", wf["id"].as_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, from_tail) = std::sync::mpsc::channel::<String>();
    let out = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let hint = format!("waiting for a response: stormdesk inquiry respond {id}");
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains(&hint)) {
        match from_tail.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = tail.kill();
                panic!("no hint from execution tail ({e}); it printed {seen:?}");
            }
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let text = stdout(&run(home.path(), &["inquiry", "list"]));
    assert!(
        text.contains(&id) && text.contains("approved, replicas"),
        "{text}"
    );
    let shown = stdout(&run(home.path(), &["inquiry", "get", &id]));
    assert!(
        shown.contains("approved: \"boolean\" (required)  Deploy now?"),
        "{shown}"
    );

    let wrong = run(home.path(), &["inquiry", "respond", &id, "replicas=3"]);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains(&format!(
            "Response for inquiry \"{id}\" did not pass schema validation."
        )),
        "{}",
        stderr(&wrong)
    );
    let not_a_number = run(home.path(), &["inquiry", "respond", &id, "replicas=many"]);
    assert!(stderr(&not_a_number).contains("replicas=many: not a whole number"));

    let ok = run(
        home.path(),
        &["inquiry", "respond", &id, "approved=yes", "replicas=3"],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains(&format!("Response accepted for inquiry {id}.")),
        "{}",
        stdout(&ok)
    );
    wait_for_status(&api, &token, "qa.deploy", "succeeded");
    let done = run(
        home.path(),
        &["execution", "get", wf["id"].as_str().unwrap(), "--json"],
    );
    let done: Value = serde_json::from_str(&stdout(&done)).unwrap();
    assert_eq!(done["result"]["output"]["replicas"], 3, "{done}");
    let again = run(home.path(), &["inquiry", "respond", &id, "approved=true"]);
    assert!(
        stderr(&again).contains("has already been responded to"),
        "{}",
        stderr(&again)
    );
}
