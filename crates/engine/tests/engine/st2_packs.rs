//! StackStorm's own `core`, `linux` and `examples` packs, unmodified (test
//! data in `../shared/st2-packs`), run in one engine: every action of theirs
//! that can run on this machine runs, concurrently, and its status and
//! result are StackStorm's for the same inputs (derived from the action's
//! code and StackStorm's runners: `contrib/runners/*`). Shell and Python
//! actions run locally (Python ones in the pack's environment, built from
//! its `requirements.txt`), HTTP ones against a listener on 127.0.0.1,
//! remote ones over a real sshd on 127.0.0.1 that is their `localhost`.
//!
//! [`NOT_RUN`] lists the actions that do not run in this test, with the
//! reason (what the machine lacks, or the test elsewhere in this suite that
//! drives them, checked by name); the test checks that every action of the
//! packs is in exactly one of the two tables and that an action listed as
//! failing here still fails, so a regression and an improvement both show. Orquesta workflows are in
//! `st2_workflows.rs`. The README's "What of a StackStorm pack runs" points
//! here.

use std::collections::BTreeSet;
use std::path::Path;

use futures::StreamExt;
use serde_json::{json, Value};
use stormdesk_engine::Status;

use crate::st2::{check, make_executable, on_path, pack_actions, prerequisite, St2, AT_ONCE};
use crate::st2_actions::{cases, Case};

/// Why an action of StackStorm's packs does not run here.
enum NotRun {
    /// It needs what this machine does not have (the internet, a Windows
    /// host); it is not attempted.
    Needs(&'static str),
    /// It needs answers, pauses or cancels while it runs; the named test
    /// (in this suite) drives it and checks StackStorm's result.
    Elsewhere(&'static str),
}

const EXAMPLE_CHAINS: &str = "chains::stackstorms_example_chains_run_with_stackstorms_results";
const CONTROLLED_CHAINS: &str = "chains::stackstorms_pause_resume_and_cancel_chains";
/// WinRM: against a loopback WS-Management endpoint (no Windows host here).
const WINRM_CORE: &str =
    "winrm::core_winrm_cmd_runs_with_stackstorms_result_and_the_password_kept_secret";
const WINRM_EXAMPLES: &str = "winrm::stackstorms_example_winrm_actions_run_unmodified";
const ASKS: &str =
    "inquiries::stackstorms_ask_workflows_and_chains_run_as_its_integration_tests_say";

/// Every action of `core`, `linux` and `examples` (workflows aside) that
/// does not run on this machine, and why. The README lists them too.
const NOT_RUN: &[(&str, NotRun)] = &[
    ("core.ask", NotRun::Elsewhere(ASKS)),
    ("core.announcement", NotRun::Elsewhere("inquiries::announcements_go_out_on_the_bus_with_their_route")),
    ("core.winrm_cmd", NotRun::Elsewhere(WINRM_CORE)),
    ("core.winrm_ps_cmd", NotRun::Elsewhere(WINRM_EXAMPLES)),
    ("examples.winrm_get_uptime", NotRun::Elsewhere(WINRM_EXAMPLES)),
    ("examples.winrm_get_ipconfig", NotRun::Elsewhere(WINRM_EXAMPLES)),
    ("examples.winrm_powershell_env", NotRun::Elsewhere(WINRM_EXAMPLES)),
    ("linux.diag_loadavg", NotRun::Needs("a process table that holds still: its links hand the stderr of check_processes (a traceback when a process exits mid-scan) to netstat and lsof as pids, so its outcome depends on what else runs on the machine; each of its actions runs here on its own")),
    ("examples.weather", NotRun::Needs("the internet: its immutable url is api.openweathermap.org")),
    ("examples.chain-sequential", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.chain-test-cancel", NotRun::Elsewhere(CONTROLLED_CHAINS)),
    ("examples.chain-test-cancel-with-subworkflow", NotRun::Needs("a pause point: its workflow reads `<% $.tempfile %>`, which Orquesta 1.2.0 (and Stormdesk) refuse (`$` is null outside a query), so it fails before there is anything to cancel; a chain canceling the workflow it runs is chains::a_chain_pauses_and_cancels_the_workflow_it_runs")),
    ("examples.chain-test-inquiry", NotRun::Elsewhere(ASKS)),
    ("examples.chain-test-inquiry-parent", NotRun::Elsewhere(ASKS)),
    ("examples.chain-test-pause-resume", NotRun::Elsewhere(CONTROLLED_CHAINS)),
    ("examples.chain-test-pause-resume-with-subchain", NotRun::Elsewhere(CONTROLLED_CHAINS)),
    ("examples.chain-test-pause-resume-with-subworkflow", NotRun::Needs("a pause point: its workflow reads `<% $.tempfile %>`, which Orquesta 1.2.0 (and Stormdesk) refuse (`$` is null outside a query), so it fails before there is anything to pause; a chain pausing the workflow it runs is chains::a_chain_pauses_and_cancels_the_workflow_it_runs")),
    ("examples.data_jinja_filter", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.decrypt_kv_jinja_filter", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.echochain", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.echochain-param", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.echochain_task_failure", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.echochain_top_level_failure", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.forloop_chain", NotRun::Needs("the internet: its links fetch GitHub pages")),
    ("examples.json_escape_jinja_filter", NotRun::Needs("the slack pack (its link is slack.post_message)")),
    ("examples.publish_data", NotRun::Needs("StackStorm's own API and web UI on this host (its links call them)")),
    ("examples.regex_jinja_filter", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.time_jinja_filter", NotRun::Elsewhere(EXAMPLE_CHAINS)),
    ("examples.version_jinja_filter", NotRun::Elsewhere(EXAMPLE_CHAINS)),
];

/// Actions that run here but fail for a reason of this machine or of
/// Stormdesk (not StackStorm's result), with the parameters they are tried with.
fn failing_here() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "core.inject_trigger",
            "Stormdesk has no triggers or rules: the action posts to StackStorm's webhook API (`/v1/webhooks/st2`) through `datastore_service.get_api_client()`",
            json!({"trigger": "core.st2.webhook", "payload": {"a": 1}}),
        ),
        (
            "linux.wait_for_ssh",
            "it imports StackStorm's own SSH client and configuration (`st2common.runners.paramiko_ssh`, `oslo_config`), which are StackStorm's internals, not part of the action API Stormdesk provides",
            json!({"hostname": "127.0.0.1", "port": 1, "retries": 1, "sleep_delay": 0, "ssh_timeout": 1}),
        ),
    ]
}

/// Files and processes the cases act on.
fn prepare(t: &St2) -> Vec<std::process::Child> {
    let w = |name: &str, text: &str| {
        let path = t.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    w("cp-src", "copy me\n");
    w("mv-src", "move me\n");
    w("rm-me", "remove me\n");
    w("rsync-src/file.txt", "synced\n");
    w("scp-src", "copied\n");
    w("fixture.json", "{\"fixture\": [\"data\", 1]}");
    std::fs::create_dir_all(t.path("cwd")).unwrap();
    // A sendmail that keeps the message it is given.
    w(
        "sendmail",
        &format!("#!/bin/sh\ncat > '{}'\n", t.path("mail.txt").display()),
    );
    make_executable(&t.path("sendmail"));
    // Processes for lsof and check_processes (`sd-st2-victim`, in its own
    // directory) and for pkill (`sd-st2-prey`).
    std::fs::create_dir_all(t.path("lsof")).unwrap();
    ["sd-st2-victim", "sd-st2-prey"]
        .iter()
        .map(|name| {
            let program = t.path(name);
            std::fs::copy("/bin/sleep", &program).unwrap();
            std::process::Command::new(&program)
                .arg("300")
                .current_dir(t.path("lsof"))
                .spawn()
                .unwrap()
        })
        .collect()
}

fn present(t: &St2, program: &str) -> bool {
    match program {
        "sshd" => t.sshd.is_some(),
        "dns" => t.dns.is_some(),
        p => on_path(p) || Path::new("/usr/sbin").join(p).is_file(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_own_actions_run_with_stackstorms_results() {
    let Some(t) = St2::start().await else { return };
    let actions = pack_actions(&t.engine);

    // Every action of the packs is accounted for exactly once.
    let cases = cases(&t);
    let failing = failing_here();
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    for (a, _) in NOT_RUN {
        assert!(listed.insert(a), "{a} is listed twice in NOT_RUN");
    }
    for (a, _, _) in &failing {
        assert!(
            listed.insert(a),
            "{a} is both run and listed as not running"
        );
    }
    let run: BTreeSet<&str> = cases.iter().map(|c| c.action).collect();
    for a in &run {
        assert!(
            !listed.contains(a),
            "{a} is both run and listed as not running"
        );
    }
    let workflows: BTreeSet<&str> = actions
        .iter()
        .filter(|(_, (runner, _))| runner.as_str() == "orquesta")
        .map(|(a, _)| a.as_str())
        .collect();
    let unaccounted: Vec<&str> = actions
        .keys()
        .map(String::as_str)
        .filter(|a| !workflows.contains(a) && !run.contains(a) && !listed.contains(a))
        .collect();
    assert!(
        unaccounted.is_empty(),
        "actions of StackStorm's packs neither run nor listed as not running: {unaccounted:?}"
    );
    for a in listed.iter().chain(run.iter()) {
        assert!(
            actions.contains_key(*a),
            "{a} is not an action of StackStorm's packs"
        );
    }

    // An action run elsewhere is named in that test's source or data.
    let elsewhere = [
        include_str!("chains.rs"),
        include_str!("data/st2_example_chains.yaml"),
        include_str!("inquiries.rs"),
        include_str!("winrm.rs"),
    ];
    for (a, why) in NOT_RUN {
        match why {
            NotRun::Elsewhere(test) => {
                let function = test.rsplit("::").next().unwrap();
                assert!(
                    elsewhere
                        .iter()
                        .any(|src| src.contains(&format!("fn {function}("))),
                    "{a}: the test {test} it is listed under does not exist"
                );
                assert!(
                    elsewhere.iter().any(|src| src.contains(&format!("\"{a}\""))
                        || src.contains(&format!("action: {a}\n"))),
                    "{a} is listed under {test}, which does not run it"
                );
            }
            NotRun::Needs(_) => {}
        }
    }

    let mut victims = prepare(&t);
    let mut skipped = Vec::new();
    let runnable: Vec<&Case> = cases
        .iter()
        .filter(|c| {
            let missing: Vec<&str> = c
                .needs
                .iter()
                .copied()
                .filter(|p| !present(&t, p))
                .collect();
            if missing.is_empty() {
                return true;
            }
            for m in &missing {
                prerequisite(false, m, &format!("install {m} to run {}", c.action));
            }
            skipped.push(c.action);
            false
        })
        .collect();
    let runs = runnable.iter().map(|c| t.run(c.action, c.params.clone()));
    let fails = failing
        .iter()
        .map(|(a, _, params)| t.run(a, params.clone()));
    // A few at a time: the suite shares two cores with other tests.
    let (done, fails): (Vec<_>, Vec<_>) = futures::join!(
        futures::stream::iter(runs).buffered(AT_ONCE).collect(),
        futures::stream::iter(fails).buffered(AT_ONCE).collect()
    );
    for v in &mut victims {
        let _ = v.kill();
        let _ = v.wait();
    }

    let mut problems = Vec::new();
    for (c, outcome) in runnable.iter().zip(done) {
        let verdict = outcome.and_then(|e| check(&e, c.status, &c.checks));
        if let Err(e) = verdict {
            problems.push(format!("{} {}: {e}", c.action, c.params));
        }
    }
    for ((a, reason, _), outcome) in failing.iter().zip(fails) {
        match outcome {
            Ok(e) if e.status == Status::Succeeded => problems.push(format!(
                "{a} is listed as failing here ({reason}) but succeeded: move it to the cases with StackStorm's result"
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("{a}: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} runs differ from StackStorm:\n{}",
        problems.len(),
        runnable.len() + failing.len(),
        problems.join("\n")
    );
    if !skipped.is_empty() {
        eprintln!("SKIPPED (prerequisites missing): {skipped:?}");
    }
    for (a, why) in NOT_RUN {
        match why {
            NotRun::Needs(reason) => eprintln!("not run: {a}: {reason}"),
            NotRun::Elsewhere(test) => eprintln!("run in {test}: {a}"),
        }
    }
}
