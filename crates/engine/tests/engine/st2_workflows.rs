//! Every Orquesta workflow of StackStorm's `examples` pack, unmodified
//! (test data in `../shared/st2-packs`, with StackStorm's `core` beside it),
//! run in one engine, concurrently, with StackStorm's result. The expected
//! outcomes are facts from StackStorm's integration tests
//! (`st2tests/integration/orquesta/test_wiring*.py`: status, output, error
//! messages, which tasks ran), written here as a table; workflows those
//! tests do not cover have the outcome their definition gives in StackStorm
//! (noted "derived"). Cancel, pause and resume (cascading through
//! subworkflows), with-items concurrency and re-runs follow the integration
//! tests' scenarios step by step, driven by the files the workflows wait on.
//!
//! [`NOT_RUN`] lists the workflows that cannot run here and why; the test
//! checks that every workflow of the pack is in exactly one table.

use std::collections::BTreeSet;

use futures::StreamExt;
use serde_json::{json, Value};
use stormdesk_engine::keys::{KeyScope, KeySet};
use stormdesk_engine::{RunRequest, Status};

use crate::st2::{check, object, pack_actions, Check, St2, AT_ONCE};
use crate::st2_scenarios::{scenarios, task_runs};

/// What a workflow gives.
enum Want {
    /// It completes with this status and passes these checks; the listed
    /// tasks (`task` or `parent_task/child_task`) ran with these statuses.
    Done(Status, Vec<Check>, Vec<(&'static str, Status)>),
    /// StackStorm's inspection refuses it: Stormdesk refuses to start it,
    /// with every one of these messages (StackStorm records a failed
    /// execution with them as `errors`, see the README).
    Refused(Vec<&'static str>),
}

struct Wf {
    action: &'static str,
    input: Value,
    want: Want,
}

fn wf(action: &'static str, input: Value, want: Want) -> Wf {
    Wf {
        action,
        input,
        want,
    }
}

fn ok(result: Value) -> Want {
    Want::Done(Status::Succeeded, vec![Check::Eq("", result)], vec![])
}

fn failed(result: Value) -> Want {
    Want::Done(Status::Failed, vec![Check::Eq("", result)], vec![])
}

/// Orquesta's error for a failed task, with its action's result.
fn task_failed(task: &str, result: Value) -> Value {
    json!({"type": "error", "message": "Execution failed. See result for details.", "task_id": task, "result": result})
}

const SHELL_EXIT_1: &str =
    r#"{"failed": true, "return_code": 1, "stderr": "", "stdout": "", "succeeded": false}"#;

fn exit_1() -> Value {
    serde_json::from_str(SHELL_EXIT_1).unwrap()
}

const ABS_VALUE: &str = "YaqlEvaluationException: Unable to evaluate expression '<% abs(8).value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"";

/// Workflows of the pack that cannot run here, with the reason.
const NOT_RUN: &[(&str, &str)] = &[];

/// Workflows that need answers while they run: the named test drives them
/// and checks StackStorm's result.
const ELSEWHERE: &[(&str, &str)] = &[
    ("examples.orquesta-ask-basic", ASKS),
    ("examples.orquesta-ask-consecutive", ASKS),
    ("examples.orquesta_ask_multiple_parameters", ASKS),
    ("examples.orquesta-ask-nested", ASKS),
    ("examples.orquesta-ask-parallel", ASKS),
];

const ASKS: &str =
    "inquiries::stackstorms_ask_workflows_and_chains_run_as_its_integration_tests_say";

fn functions_output() -> Vec<Wf> {
    let data = json!({
        "data_json_str_1": "{\"foo\": {\"bar\": \"foobar\"}}",
        "data_json_str_2": "{\"foo\": {\"bar\": \"foobar\"}}",
        "data_json_str_3": "{\"foo\": {\"bar\": \"foobar\"}}",
        "data_json_obj_1": {"foo": {"bar": "foobar"}},
        "data_json_obj_2": {"foo": {"bar": "foobar"}},
        "data_json_obj_3": {"foo": {"bar": "foobar"}},
        "data_json_obj_4": {"foo": {"bar": "foobar"}},
        "data_yaml_str_1": "foo:\n  bar: foobar\n",
        "data_yaml_str_2": "foo:\n  bar: foobar\n",
        "data_query_1": ["foobar"],
        "data_none_str": "%*****__%NONE%__*****%",
        "data_str": "foobar",
    });
    let mut jinja_data = data.clone();
    jinja_data["data_pipe_str_1"] = json!("{\"foo\": {\"bar\": \"foobar\"}}");
    jinja_data["data_list_str"] = json!("- a: 1\n  b: 2\n- x: 3\n  y: 4\n");
    let path = json!({"basename": "file.txt", "dirname": "/path/to/some"});
    let regex =
        json!({"match": true, "replace": "wxyz", "search": true, "substring": "668 Infinite Dr"});
    let time = json!({"time": "3h25m45s"});
    let version = json!({
        "compare_equal": 0, "compare_more_than": -1, "compare_less_than": 1,
        "equal": true, "more_than": false, "less_than": false, "match": true,
        "bump_major": "1.0.0", "bump_minor": "0.11.0", "bump_patch": "0.10.1", "strip_patch": "0.10",
    });
    let task = json!({
        "last_task4_result": "False", "task9__1__parent": "task8__1", "task9__2__parent": "task8__2",
        "that_task_by_name": "task1", "this_task_by_name": "task1", "this_task_no_arg": "task1",
    });
    let nonexistent = |lang: &str, expr: &str| {
        json!({"output": null, "errors": [{
            "type": "error",
            "message": format!("{lang}EvaluationException: Unable to evaluate expression '{expr}'. ExpressionEvaluationException: Unable to find task execution for \"task0\"."),
            "task_transition_id": "continue__t0", "task_id": "task1", "route": 0,
        }]})
    };
    vec![
        wf(
            "examples.orquesta-test-yaql-data-functions",
            json!({}),
            ok(json!({"output": data})),
        ),
        wf(
            "examples.orquesta-test-jinja-data-functions",
            json!({}),
            ok(json!({"output": jinja_data})),
        ),
        wf(
            "examples.orquesta-test-yaql-path-functions",
            json!({}),
            ok(json!({"output": path})),
        ),
        wf(
            "examples.orquesta-test-jinja-path-functions",
            json!({}),
            ok(json!({"output": path})),
        ),
        wf(
            "examples.orquesta-test-yaql-regex-functions",
            json!({}),
            ok(json!({"output": regex})),
        ),
        wf(
            "examples.orquesta-test-jinja-regex-functions",
            json!({}),
            ok(json!({"output": regex})),
        ),
        wf(
            "examples.orquesta-test-yaql-time-functions",
            json!({}),
            ok(json!({"output": time})),
        ),
        wf(
            "examples.orquesta-test-jinja-time-functions",
            json!({}),
            ok(json!({"output": time})),
        ),
        wf(
            "examples.orquesta-test-yaql-version-functions",
            json!({}),
            ok(json!({"output": version})),
        ),
        wf(
            "examples.orquesta-test-jinja-version-functions",
            json!({}),
            ok(json!({"output": version})),
        ),
        wf(
            "examples.orquesta-test-yaql-task-functions",
            json!({}),
            ok(json!({"output": task})),
        ),
        wf(
            "examples.orquesta-test-jinja-task-functions",
            json!({}),
            ok(json!({"output": task})),
        ),
        wf(
            "examples.orquesta-test-yaql-task-nonexistent",
            json!({}),
            failed(nonexistent("Yaql", "<% task(\"task0\") %>")),
        ),
        wf(
            "examples.orquesta-test-jinja-task-nonexistent",
            json!({}),
            failed(nonexistent("Jinja", "{{ task(\"task0\") }}")),
        ),
    ]
}

/// 100,000 lowercase letters (StackStorm's big data flow test), from a
/// fixed seed.
fn big_text() -> String {
    let mut x: u32 = 2463534242;
    (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

fn cases(t: &St2) -> Vec<Wf> {
    let base = "All your base are belong to us!";
    let unicode = "床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉";
    let big = big_text();
    let exit1 = exit_1();
    let api = t.engine.api_url();
    let mut v = vec![
        wf("examples.orquesta-sequential", json!({"name": "Thanos"}), ok(json!({"output": {"greeting": format!("Thanos, {base}")}}))),
        wf("examples.orquesta-sequential", json!({"name": "薩諾斯"}), ok(json!({"output": {"greeting": format!("薩諾斯, {base}")}}))),
        wf("examples.orquesta-delay", json!({"name": "Thanos", "delay": 1}), ok(json!({"output": {"greeting": format!("Thanos, {base}")}}))),
        wf(
            "examples.orquesta-join",
            json!({}),
            ok(json!({"output": {"messages": ["Fee fi fo fum", "I smell the blood of an English man", "Be alive, or be he dead", "I'll grind his bones to make my bread"]}})),
        ),
        wf("examples.orquesta-rollback-retry", json!({}), ok(json!({"output": null}))),
        wf("examples.orquesta-test-action-less-tasks", json!({"name": "Thanos"}), ok(json!({"output": {"greeting": format!("Thanos, {base}").to_uppercase()}}))),
        wf(
            "examples.orquesta-st2-ctx",
            json!({}),
            Want::Done(Status::Succeeded, vec![Check::EqId("/output/callback", format!("{api}/v1/executions/"))], vec![]),
        ),
        wf(
            "examples.orquesta-subworkflow",
            json!({}),
            Want::Done(
                Status::Succeeded,
                vec![Check::Eq("", json!({"output": null}))],
                vec![
                    ("start", Status::Succeeded),
                    ("subworkflow", Status::Succeeded),
                    ("subworkflow/task1", Status::Succeeded),
                    ("subworkflow/task2", Status::Succeeded),
                    ("subworkflow/task3", Status::Succeeded),
                    ("finish", Status::Succeeded),
                ],
            ),
        ),
        wf("examples.orquesta-data-flow", json!({"a1": "fee fi fo fum"}), ok(json!({"output": {"a5": "fee fi fo fum", "b5": "fee fi fo fum"}}))),
        wf("examples.orquesta-data-flow", json!({"a1": unicode}), ok(json!({"output": {"a5": unicode, "b5": unicode}}))),
        wf("examples.orquesta-data-flow", json!({"a1": big}), ok(json!({"output": {"a5": big, "b5": big}}))),
        // Derived: its three subworkflows succeed; it declares no output.
        wf("examples.orquesta-examples", json!({}), ok(json!({"output": null}))),
        // Derived: core.local's stdout, published and output.
        wf("examples.orquesta-basic", json!({"cmd": "echo 'hello there'"}), ok(json!({"output": {"stdout": "hello there"}}))),
        wf(
            "examples.orquesta-error-handling-continue",
            json!({"cmd": "exit 1"}),
            Want::Done(
                Status::Failed,
                vec![Check::Eq("", json!({"errors": [task_failed("task1", exit1.clone())], "output": {"message": "$%#&@#$!!!"}}))],
                vec![("task1", Status::Failed)],
            ),
        ),
        wf(
            "examples.orquesta-error-handling-fail-manually",
            json!({"cmd": "exit 1"}),
            Want::Done(
                Status::Failed,
                vec![Check::Eq(
                    "",
                    json!({"errors": [task_failed("task1", exit1.clone()), {"task_id": "fail", "type": "error", "message": "Execution failed. See result for details."}], "output": {"message": "$%#&@#$!!!"}}),
                )],
                vec![("task1", Status::Failed), ("task3", Status::Succeeded)],
            ),
        ),
        wf(
            "examples.orquesta-error-handling-noop",
            json!({"cmd": "exit 1"}),
            Want::Done(Status::Succeeded, vec![Check::Eq("", json!({"output": {"message": "$%#&@#$!!!"}}))], vec![("task1", Status::Failed)]),
        ),
        wf(
            "examples.orquesta-remediate-then-fail",
            json!({}),
            Want::Done(
                Status::Failed,
                vec![Check::Eq("", json!({"errors": [task_failed("task1", exit1.clone()), {"task_id": "fail", "type": "error", "message": "Execution failed. See result for details."}], "output": null}))],
                vec![("task1", Status::Failed), ("log", Status::Succeeded)],
            ),
        ),
        // Derived: the same definition as orquesta-remediate-then-fail.
        wf(
            "examples.orquesta-fail-manually",
            json!({}),
            Want::Done(
                Status::Failed,
                vec![Check::Eq("", json!({"errors": [task_failed("task1", exit1.clone()), {"task_id": "fail", "type": "error", "message": "Execution failed. See result for details."}], "output": null}))],
                vec![("task1", Status::Failed), ("log", Status::Succeeded)],
            ),
        ),
        // Derived: task2 fails after task1 published progress 25.
        wf("examples.orquesta-output-on-error", json!({}), failed(json!({"errors": [task_failed("task2", exit1.clone())], "output": {"progress": 25}}))),
        wf("examples.orquesta-fail-input-rendering", json!({}), failed(json!({"errors": [{"type": "error", "message": ABS_VALUE}], "output": null}))),
        wf("examples.orquesta-fail-vars-rendering", json!({}), failed(json!({"errors": [{"type": "error", "message": ABS_VALUE}], "output": null}))),
        wf("examples.orquesta-fail-output-rendering", json!({}), failed(json!({"errors": [{"type": "error", "message": ABS_VALUE}], "output": null}))),
        wf(
            "examples.orquesta-fail-start-task",
            json!({}),
            failed(json!({"errors": [
                {"type": "error", "message": "YaqlEvaluationException: Unable to evaluate expression '<% ctx().name.value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\"", "task_id": "task1", "route": 0},
                {"type": "error", "message": "YaqlEvaluationException: Unable to resolve key 'greeting' in expression '<% ctx().greeting %>' from context."},
            ], "output": null})),
        ),
        wf(
            "examples.orquesta-fail-task-transition",
            json!({}),
            failed(json!({"errors": [{"type": "error", "message": "YaqlEvaluationException: Unable to resolve key 'value' in expression '<% succeeded() and result().value %>' from context.", "task_transition_id": "task2__t0", "task_id": "task1", "route": 0}], "output": {"greeting": null}})),
        ),
        wf(
            "examples.orquesta-fail-task-publish",
            json!({}),
            failed(json!({"errors": [{"type": "error", "message": "YaqlEvaluationException: Unable to resolve key 'value' in expression '<% result().value %>' from context.", "task_transition_id": "task2__t0", "task_id": "task1", "route": 0}], "output": {"greeting": null}})),
        ),
        // StackStorm lists three more errors (std.noop not registered,
        // ctx().foobar before assignment, the `<% <%` parse error); Stormdesk
        // stops at the syntax error (see the README).
        wf("examples.orquesta-fail-inspection", json!({}), Want::Refused(vec!["task \"task2\" input: expected a map of action parameters"])),
        wf(
            "examples.orquesta-fail-inspection-task-contents",
            json!({}),
            Want::Refused(vec![
                "The action reference \"echo\" is not formatted correctly.",
                "The action \"core.echoz\" is not registered in the database.",
                "Action \"core.echo\" is missing required input \"message\".",
                "Action \"core.echo\" has unexpected input \"messages\".",
            ]),
        ),
        // Derived: task2 names an action the pack does not have
        // (`examples.load_and_print_fixture`), which StackStorm's inspection refuses.
        wf(
            "examples.orquesta-data-flow-large-data",
            json!({"file_path": t.path("fixture.json")}),
            Want::Refused(vec!["task \"task2\" action: The action \"examples.load_and_print_fixture\" is not registered in the database."]),
        ),
        // Derived: it needs the `fixtures` pack of StackStorm's own test
        // suite, which is not among these packs; StackStorm refuses it too then.
        wf(
            "examples.render_config_context",
            json!({}),
            Want::Refused(vec!["task \"task1\" action: The action \"fixtures.render_config_context\" is not registered in the database."]),
        ),
        wf(
            "examples.orquesta-with-items",
            json!({"members": ["Lakshmi", "Lindsay", "Tomaz", "Matt", "Drew"]}),
            ok(json!({"output": {"items": ["Lakshmi, resistance is futile!", "Lindsay, resistance is futile!", "Tomaz, resistance is futile!", "Matt, resistance is futile!", "Drew, resistance is futile!"]}})),
        ),
        // Derived: the same output, two items at a time.
        wf(
            "examples.orquesta-with-items-concurrency",
            json!({"members": ["Lakshmi", "Lindsay", "Tomaz"], "concurrency": 2}),
            ok(json!({"output": {"items": ["Lakshmi, resistance is futile!", "Lindsay, resistance is futile!", "Tomaz, resistance is futile!"]}})),
        ),
        wf("examples.orquesta-test-with-items-failure", json!({}), Want::Done(Status::Failed, vec![], vec![("task1", Status::Failed)])),
        // Derived: an empty with-items subworkflow succeeds at once.
        wf(
            "examples.orquesta-test-subworkflow-empty-with-items",
            json!({}),
            Want::Done(Status::Succeeded, vec![Check::Eq("", json!({"output": null}))], vec![("task1", Status::Succeeded), ("task2", Status::Succeeded)]),
        ),
        wf("examples.orquesta-task-retry", json!({}), Want::Done(Status::Succeeded, vec![Check::Eq("", json!({"output": null}))], vec![("delete", Status::Succeeded)])),
        // Derived: keys with periods survive publish and output.
        wf(
            "examples.orquesta-test-field-escaping",
            json!({}),
            ok(json!({"output": {
                "wf.hostname.with.periods": {"hostname.domain.tld": "vars.value.with.periods", "hostname2.domain.tld": {"stdout": "vars.nested.value.with.periods"}},
                "wf.output.with.periods": "vars.nested.value.with.periods",
            }})),
        ),
        // Derived: create_vm's result is published as `extra`.
        wf(
            "examples.orquesta-mock-create-vm",
            json!({"vm_name": "vm1", "ip": "10.0.0.5", "cpu_cores": 2, "memory_mb": 512, "meta": {"owner": "ops"}}),
            Want::Done(
                Status::Succeeded,
                vec![
                    Check::Re("/output/vm_id", r"^vm\d+$"),
                    Check::Eq("/output/ip", json!("10.0.0.5")),
                    // The workflow passes only vm_name and ip: the action's defaults.
                    Check::Eq("/output/extra/10.0.0.5", json!({"cpu_cores": 1, "memory_mb": 1024, "vm_name": "vm1"})),
                    // Orquesta merges a published dict into the one in the context.
                    Check::Eq("/output/extra/owner", json!("ops")),
                ],
                vec![("notify", Status::Succeeded)],
            ),
        ),
        wf("examples.orquesta-st2kv", json!({"key_name": "system.lakshmi"}), ok(json!({"output": {"value": "kanahansnasnasdlsajks"}}))),
        wf("examples.orquesta-st2kv", json!({"key_name": "winson"}), ok(json!({"output": {"value": "SoDiamondEng"}}))),
        // Derived: StackStorm outputs the decrypted value; Stormdesk holds a
        // decrypted datastore secret as the workflow's secret and masks it.
        wf("examples.orquesta-st2kv", json!({"key_name": "system.kami", "decrypt": true}), ok(json!({"output": {"value": "********"}}))),
        // Without decrypt a secret reads as its ciphertext, as in StackStorm:
        // the 8-byte value is one AES block, 57 bytes with header, IV and
        // signature, 114 hex digits.
        wf(
            "examples.orquesta-st2kv",
            json!({"key_name": "system.kami"}),
            Want::Done(Status::Succeeded, vec![Check::Re("/output/value", "^[0-9A-F]{114}$")], vec![]),
        ),
        wf(
            "examples.orquesta-st2kv",
            json!({"key_name": "system.matt", "decrypt": true}),
            Want::Done(Status::Failed, vec![Check::Re("/errors/0/message", "The key \"matt\" does not exist in the StackStorm datastore\\.")], vec![]),
        ),
        // Derived: Orquesta (as StackStorm ships it) binds nothing to `$`, so
        // `<% $.tempfile %>` fails before task1 runs.
        wf(
            "examples.orquesta-test-pause-resume",
            json!({"tempfile": t.path("never-created"), "message": "m"}),
            failed(json!({"errors": [{"type": "error", "message": "YaqlEvaluationException: Unable to evaluate expression '<% $.tempfile %>'. NoFunctionRegisteredException: Unknown function \"#property#tempfile\"", "task_id": "task1", "route": 0}], "output": null})),
        ),
        wf("examples.orquesta-st2kv-default", json!({"key_name": "system.matt", "decrypt": true, "default": "stone"}), ok(json!({"output": {"value_from_yaql": "stone", "value_from_jinja": "stone"}}))),
        // Derived: Orquesta (as StackStorm ships it) binds nothing to `$`, so
        // `<% $.tempfile %>` fails before task1 runs.
        wf(
            "examples.orquesta-test-pause-resume",
            json!({"tempfile": t.path("never-created"), "message": "m"}),
            failed(json!({"errors": [{"type": "error", "message": "YaqlEvaluationException: Unable to evaluate expression '<% $.tempfile %>'. NoFunctionRegisteredException: Unknown function \"#property#tempfile\"", "task_id": "task1", "route": 0}], "output": null})),
        ),
        wf("examples.orquesta-st2kv-default", json!({"key_name": "system.matt", "decrypt": true, "default": ""}), ok(json!({"output": {"value_from_yaql": "", "value_from_jinja": ""}}))),
        // Derived: Orquesta (as StackStorm ships it) binds nothing to `$`, so
        // `<% $.tempfile %>` fails before task1 runs.
        wf(
            "examples.orquesta-test-pause-resume",
            json!({"tempfile": t.path("never-created"), "message": "m"}),
            failed(json!({"errors": [{"type": "error", "message": "YaqlEvaluationException: Unable to evaluate expression '<% $.tempfile %>'. NoFunctionRegisteredException: Unknown function \"#property#tempfile\"", "task_id": "task1", "route": 0}], "output": null})),
        ),
        wf("examples.orquesta-st2kv-default", json!({"key_name": "system.matt", "decrypt": true, "default": null}), ok(json!({"output": {"value_from_yaql": null, "value_from_jinja": null}}))),
    ];
    if t.sshd.is_some() {
        // Derived: every task of the demo succeeds; no output is declared.
        v.push(wf(
            "examples.orquesta-streaming-demo",
            json!({"count": 2, "sleep_delay": 0.01}),
            ok(json!({"output": null})),
        ));
    }
    v.extend(functions_output());
    v
}

/// The status of each listed task (`task` or `parent/child`), checked.
async fn check_tasks(t: &St2, id: &str, tasks: &[(&str, Status)]) -> Result<(), String> {
    for (path, status) in tasks {
        let (first, rest) = path
            .split_once('/')
            .map_or((*path, None), |(a, b)| (a, Some(b)));
        let runs = task_runs(t, id, first).await;
        let Some(run) = runs.last() else {
            return Err(format!("task {first} did not run"));
        };
        let run = match rest {
            None => run.clone(),
            Some(child) => match task_runs(t, &run.id, child).await.pop() {
                Some(c) => c,
                None => return Err(format!("task {path} did not run")),
            },
        };
        if run.status != *status {
            return Err(format!(
                "task {path} is {:?}, StackStorm's is {status:?}",
                run.status
            ));
        }
    }
    Ok(())
}

async fn run_case(t: &St2, c: &Wf) -> Result<(), String> {
    let started = t
        .engine
        .run(RunRequest::new(c.action, object(c.input.clone())))
        .await;
    match (&c.want, started) {
        (Want::Refused(messages), Err(e)) => {
            let e = e.to_string();
            match messages.iter().find(|m| !e.contains(*m)) {
                None => Ok(()),
                Some(m) => Err(format!("refused without StackStorm's {m:?}: {e}")),
            }
        }
        (Want::Refused(_), Ok(e)) => Err(format!(
            "started ({}), StackStorm's inspection refuses it",
            e.id
        )),
        (Want::Done(..), Err(e)) => Err(format!("refused: {e}")),
        (Want::Done(status, checks, tasks), Ok(e)) => {
            let done = t.finish(&e.id).await?;
            check(&done, *status, checks)?;
            check_tasks(t, &done.id, tasks).await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stackstorms_example_workflows_run_with_stackstorms_results() {
    let Some(t) = St2::start().await else { return };
    std::fs::write(t.path("fixture.json"), "{\"fixture\": 1}").unwrap();
    // The workflows' user, whose user-scoped keys st2kv reads.
    let probe = t.run("core.noop", json!({})).await.unwrap();
    let user = probe.context["user"].as_str().unwrap().to_string();
    for (scope, user, name, value, secret) in [
        (
            KeyScope::System,
            None,
            "lakshmi",
            "kanahansnasnasdlsajks",
            false,
        ),
        (KeyScope::User, Some(user), "winson", "SoDiamondEng", false),
        (KeyScope::System, None, "kami", "eggplant", true),
    ] {
        let mut set = KeySet::new(scope, name, value);
        set.user = user;
        set.secret = secret;
        t.engine.key_set(set).await.unwrap();
    }

    // Every workflow of the pack is run here or listed as not running.
    let actions = pack_actions(&t.engine);
    let cases = cases(&t);
    let scenarios = scenarios();
    let covered: BTreeSet<&str> = cases
        .iter()
        .map(|c| c.action)
        .chain(scenarios.iter().flat_map(|s| s.covers.iter().copied()))
        .collect();
    let not_run: BTreeSet<&str> = NOT_RUN.iter().chain(ELSEWHERE).map(|(a, _)| *a).collect();
    for (a, test) in ELSEWHERE {
        let src = include_str!("inquiries.rs");
        let function = test.rsplit("::").next().unwrap();
        assert!(
            src.contains(&format!("fn {function}(")),
            "{a}: no test {test}"
        );
        assert!(
            src.contains(&format!("\"{a}\"")),
            "{a} is listed under {test}, which does not run it"
        );
    }
    for (a, (runner, supported)) in &actions {
        if runner != "orquesta" {
            continue;
        }
        let a = a.as_str();
        if a == "examples.orquesta-streaming-demo" && t.sshd.is_none() {
            continue;
        }
        assert!(
            covered.contains(a) ^ not_run.contains(a),
            "{a} must be either run or listed in NOT_RUN (run: {}, listed: {})",
            covered.contains(a),
            not_run.contains(a)
        );
        assert!(*supported, "{a}");
    }

    for (name, _, _) in crate::st2_scenarios::DIFFERENCES {
        assert!(
            scenarios.iter().any(|s| s.name == *name),
            "DIFFERENCES names {name}, which is not a scenario"
        );
    }

    // A few at a time: the suite shares two cores with other tests.
    let simple = futures::stream::iter(cases.iter().map(|c| run_case(&t, c)))
        .buffered(AT_ONCE)
        .collect::<Vec<_>>();
    let flows = futures::stream::iter(scenarios.iter().map(|s| (s.run)(&t)))
        .buffered(AT_ONCE)
        .collect::<Vec<_>>();
    let (simple, flows) = futures::join!(simple, flows);
    let mut problems = Vec::new();
    for (c, r) in cases.iter().zip(simple) {
        if let Err(e) = r {
            problems.push(format!(
                "{} {}: {e}",
                c.action,
                c.input.to_string().chars().take(200).collect::<String>()
            ));
        }
    }
    for (s, r) in scenarios.iter().zip(flows) {
        if let Err(e) = r {
            problems.push(format!("{}: {e}", s.name));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} workflow runs differ from StackStorm:\n{}",
        problems.len(),
        cases.len() + scenarios.len(),
        problems.join("\n")
    );
}
