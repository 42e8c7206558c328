//! Inquiries over IPC (`list_inquiries`, `get_inquiry`, `respond_inquiry`):
//! a real workflow that asks (`core.ask`) in a pack installed from a plain
//! directory, answered as the desktop's user; refusals cross the boundary
//! as `{code, faultstring}` with the engine's message.

use std::sync::mpsc;

use serde_json::{json, Value};
use stormdesk_engine::{Execution, Status};

use super::{desktop, wait_completed, Desktop, TIMEOUT};

/// The first `execution` event that `pick` accepts.
fn wait_for(
    events: &mpsc::Receiver<Execution>,
    what: &str,
    pick: impl Fn(&Execution) -> bool,
) -> Execution {
    loop {
        let execution = events
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("no execution event: {what}"));
        if pick(&execution) {
            return execution;
        }
    }
}

fn asked(e: &Execution) -> bool {
    e.runner_name() == "inquirer" && e.status == Status::Pending
}

/// Installs `asking`: a workflow that asks for approval and a count, then
/// echoes the count.
fn install_asking_pack(d: &Desktop, events: &mpsc::Receiver<Execution>) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    let pack = src.path().join("asking");
    std::fs::create_dir_all(pack.join("actions/workflows")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: asking\nname: asking\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/approve.yaml"),
        "name: approve\nrunner_type: orquesta\nentry_point: workflows/approve.yaml\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/workflows/approve.yaml"),
        r#"version: 1.0
tasks:
  ask:
    action: core.ask
    input:
      route: desk
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
          count: {type: integer, minimum: 1, required: true}
    next:
      - when: <% succeeded() %>
        publish:
          - count: <% result().response.count %>
        do: tell
  tell:
    action: core.echo
    input:
      message: count <% ctx().count %>
output:
  - count: <% ctx().count %>
"#,
    )
    .unwrap();
    let started = d
        .invoke(
            "install_packs",
            json!({ "packs": [pack.to_str().unwrap()] }),
        )
        .expect("install_packs");
    let id = started["id"].as_str().unwrap().to_string();
    let done = wait_completed(events, &id);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    src
}

#[test]
fn answers_a_workflows_inquiry_and_the_workflow_goes_on() {
    let d = desktop();
    let events = d.execution_events();
    let _src = install_asking_pack(&d, &events);
    let run = d
        .invoke("run_action", json!({ "action": "asking.approve" }))
        .expect("run_action");
    let workflow = run["id"].as_str().unwrap().to_string();
    let inquiry = wait_for(&events, "the inquiry goes pending", asked);
    assert_eq!(inquiry.parent.as_deref(), Some(workflow.as_str()));
    wait_for(&events, "the workflow pauses", |e| {
        e.id == workflow && e.status == Status::Paused
    });

    let open = d
        .invoke("list_inquiries", json!({}))
        .expect("list_inquiries");
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["id"], inquiry.id.as_str());
    assert_eq!(open[0]["route"], "desk");
    let one = d
        .invoke("get_inquiry", json!({ "id": inquiry.id }))
        .expect("get_inquiry");
    assert_eq!(
        one["schema"]["properties"]["count"]["minimum"], 1,
        "{one:#}"
    );
    assert_eq!(one["users"], json!([]));

    // Refused answers: the engine's message, and the workflow still waits.
    let err = d
        .invoke(
            "respond_inquiry",
            json!({ "id": inquiry.id, "response": { "approved": true, "count": 0 } }),
        )
        .expect_err("below the minimum");
    assert_eq!(err["code"], "invalid_input", "{err:#}");
    let message = err["faultstring"].as_str().unwrap();
    assert!(
        message.contains("did not pass schema validation"),
        "{message}"
    );
    let err = d
        .invoke(
            "respond_inquiry",
            json!({ "id": inquiry.id, "response": { "approved": true } }),
        )
        .expect_err("count is required");
    assert!(
        err["faultstring"].as_str().unwrap().contains("count"),
        "{err:#}"
    );
    let err = d
        .invoke(
            "respond_inquiry",
            json!({ "id": inquiry.id, "response": "yes" }),
        )
        .expect_err("not an object");
    assert_eq!(err["code"], "invalid_input", "{err:#}");
    let waiting = d
        .invoke("get_execution", json!({ "id": workflow }))
        .expect("get_execution");
    assert_eq!(waiting["status"], "paused", "{waiting:#}");

    let answered = d
        .invoke(
            "respond_inquiry",
            json!({ "id": inquiry.id, "response": { "approved": true, "count": 3 } }),
        )
        .expect("respond_inquiry");
    assert_eq!(
        answered,
        json!({ "id": inquiry.id, "response": { "approved": true, "count": 3 } })
    );
    let done = wait_completed(&events, &workflow);
    assert_eq!(done.status, Status::Succeeded, "{done:#?}");
    assert_eq!(done.result["output"]["count"], 3, "{:#}", done.result);
    let asked_record = d
        .invoke("get_execution", json!({ "id": inquiry.id }))
        .expect("get_execution");
    assert_eq!(asked_record["status"], "succeeded");
    assert_eq!(asked_record["result"]["response"]["count"], 3);

    let open = d
        .invoke("list_inquiries", json!({}))
        .expect("list_inquiries");
    assert_eq!(open, json!([]));
    let err = d
        .invoke("get_inquiry", json!({ "id": inquiry.id }))
        .expect_err("answered");
    assert!(
        err["faultstring"]
            .as_str()
            .unwrap()
            .contains("already been responded to"),
        "{err:#}"
    );
}

#[test]
fn only_the_users_an_inquiry_names_may_answer_it() {
    let d = desktop();
    let events = d.execution_events();
    let run = d
        .invoke(
            "run_action",
            json!({ "action": "core.ask", "parameters": { "users": ["someone-else"] } }),
        )
        .expect("run_action");
    let id = run["id"].as_str().unwrap().to_string();
    wait_for(&events, "the inquiry goes pending", |e| {
        e.id == id && asked(e)
    });
    let one = d
        .invoke("get_inquiry", json!({ "id": id }))
        .expect("get_inquiry");
    assert_eq!(one["users"], json!(["someone-else"]));
    // StackStorm's default schema: one required boolean, `continue`.
    assert_eq!(one["schema"]["properties"]["continue"]["type"], "boolean");

    let err = d
        .invoke(
            "respond_inquiry",
            json!({ "id": id, "response": { "continue": true } }),
        )
        .expect_err("the desktop's user is not someone-else");
    assert_eq!(err["code"], "forbidden", "{err:#}");
    let message: &str = err["faultstring"].as_str().unwrap();
    assert!(
        message.contains("does not have permission") && message.contains("someone-else"),
        "{message}"
    );
    let still: Value = d
        .invoke("get_execution", json!({ "id": id }))
        .expect("get_execution");
    assert_eq!(still["status"], "pending");

    let err = d
        .invoke("get_inquiry", json!({ "id": "nope" }))
        .expect_err("unknown");
    assert_eq!(err["code"], "not_found", "{err:#}");
}
