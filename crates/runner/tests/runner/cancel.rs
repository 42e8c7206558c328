//! Cancel from another thread kills the action's whole process tree.

use std::sync::mpsc;
use std::thread;

use serde_json::json;
use stormdesk_runner::protocol::RunnerStatus;
use stormdesk_runner::{run_with_events, CancelHandle, RunEvent};

use crate::support::{pid_alive, positional, read_pid, request, write_file, WAIT};

enum Seen {
    Started(u32),
    Output(String),
}

#[test]
fn cancel_kills_background_and_foreground_children() {
    let dir = tempfile::tempdir().unwrap();
    let bg_file = dir.path().join("bg.pid");
    let fg_file = dir.path().join("fg.pid");
    // A background grandchild that would outlive its parent, and a foreground
    // child that the script waits for; both record their pids first.
    let script = write_file(
        &dir.path().join("tree.sh"),
        "#!/bin/bash\n\
         sleep 300 &\n\
         echo $! > \"$1\"\n\
         (echo $BASHPID > \"$2\"; echo ready; exec sleep 300)\n",
        true,
    );
    let mut req = request("local-shell-script", json!({"timeout": 600}));
    req.entry_point = Some(script);
    req.action_parameters = vec![
        positional("bg", json!(bg_file.to_str().unwrap()), 0),
        positional("fg", json!(fg_file.to_str().unwrap()), 1),
    ];

    let cancel = CancelHandle::new();
    let (seen_tx, seen_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let runner_cancel = cancel.clone();
    thread::spawn(move || {
        let outcome = run_with_events(
            &req,
            &mut |event| {
                let _ = seen_tx.send(match event {
                    RunEvent::Started { pid } => Seen::Started(pid),
                    RunEvent::Output { data, .. } => Seen::Output(data.to_string()),
                });
            },
            &runner_cancel,
        );
        let _ = done_tx.send(outcome);
    });

    let mut leader = None;
    let mut output = String::new();
    while !output.contains("ready") {
        match seen_rx
            .recv_timeout(WAIT)
            .expect("the script never got ready")
        {
            Seen::Started(pid) => leader = Some(pid as i32),
            Seen::Output(data) => output.push_str(&data),
        }
    }
    let leader = leader.expect("no Started event before output");
    let pids = [leader, read_pid(&bg_file), read_pid(&fg_file)];
    assert!(
        pids.iter().all(|p| pid_alive(*p)),
        "tree not running: {pids:?}"
    );

    cancel.cancel();
    let outcome = done_rx
        .recv_timeout(WAIT)
        .expect("run did not return after cancel")
        .expect("run failed");
    assert_eq!(outcome.status, RunnerStatus::Canceled);
    assert_eq!(outcome.pid, Some(leader as u32));
    assert_eq!(outcome.result["succeeded"], false);
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} survived the cancel");
    }
}

#[test]
fn cancel_before_start_still_reports_canceled() {
    let cancel = CancelHandle::new();
    cancel.cancel();
    let req = request("local-shell-cmd", json!({"cmd": "sleep 300"}));
    let outcome = stormdesk_runner::run(&req, &mut |_, _| {}, &cancel).unwrap();
    assert_eq!(outcome.status, RunnerStatus::Canceled);
}
