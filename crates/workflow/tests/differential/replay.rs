//! Our side of a case: drive the conductor with the results Orquesta's run
//! was fed, in the same order, and compare every request and the outcome.

use std::collections::VecDeque;

use serde_json::{json, Map, Value};
use stormdesk_workflow::{
    Conductor, Env, RerunOptions, TaskHold, TaskKey, TaskRequest, TaskResult, TaskStatus,
    WorkflowSpec, WorkflowStatus,
};

use crate::compare::{diff_errors, diff_value};
use crate::Case;

/// The case's datastore.
struct Kv(Map<String, Value>);

impl Env for Kv {
    fn st2kv(&self, key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(self.0.get(key).cloned())
    }
}

fn status(s: &str) -> TaskStatus {
    match s {
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "timeout" => TaskStatus::Timeout,
        "abandoned" => TaskStatus::Abandoned,
        "canceled" => TaskStatus::Canceled,
        other => panic!("unsupported scripted status {other:?}"),
    }
}

fn hold(s: &Value) -> TaskHold {
    match s.as_str() {
        Some("pending") => TaskHold::Pending,
        Some("paused") => TaskHold::Paused,
        other => panic!("unsupported hold {other:?}"),
    }
}

/// A request as the driver records it.
fn request_json(r: &TaskRequest) -> Value {
    json!({
        "task": r.key.task,
        "route": r.key.route,
        "item": r.key.item,
        "action": r.action,
        "input": r.input,
        "delay": r.delay_seconds.map(|d| d as i64),
        "attempt": r.attempt,
    })
}

fn theirs_request(t: &Value) -> Value {
    json!({
        "task": t["task"],
        "route": t["route"],
        "item": t["item"],
        "action": t["action"],
        "input": if t["input"].is_null() { json!({}) } else { t["input"].clone() },
        "delay": t["delay"],
        "attempt": t["attempt"],
    })
}

/// Replace what `mask` matches in every string of a value.
fn masked(value: &Value, mask: Option<&regex::Regex>) -> Value {
    let Some(re) = mask else {
        return value.clone();
    };
    match value {
        Value::String(s) => Value::String(re.replace_all(s, "<masked>").into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(|v| masked(v, mask)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), masked(v, mask)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Run the case through the conductor; `Err` describes the first difference.
pub fn compare_case(case: &Case, theirs: &Value) -> Result<(), String> {
    let mask = case
        .mask
        .as_deref()
        .map(|m| regex::Regex::new(m).unwrap_or_else(|e| panic!("case {}: mask: {e}", case.name)));
    let theirs = &masked(theirs, mask.as_ref());
    if let Some(crash) = theirs.get("crash").and_then(Value::as_str) {
        return Err(format!("the reference crashed: {crash}"));
    }
    let definition = case.definition();
    let ours = WorkflowSpec::from_yaml(&definition)
        .map_err(|e| e.to_string())
        .and_then(|spec| {
            Conductor::with_context(spec, case.input.clone(), case.parent_context())
                .map_err(|e| e.to_string())
        });
    let refused = theirs.get("inspection").filter(|v| !v.is_null());
    let mut conductor = match (ours, refused) {
        (Err(_), Some(_)) => return Ok(()),
        (Err(e), None) => return Err(format!("we refuse the workflow, Orquesta accepts it: {e}")),
        (Ok(_), Some(errors)) => {
            return Err(format!(
                "Orquesta refuses the workflow, we accept it: {errors}"
            ))
        }
        (Ok(c), None) => c,
    };
    let env = Kv(case.kv.clone());
    let trace = theirs["trace"].as_array().cloned().unwrap_or_default();
    let mut queue: VecDeque<TaskRequest> = conductor.start(&env).into();
    let mut steps: VecDeque<_> = {
        let mut s = case.steps.clone();
        s.sort_by_key(|s| s.after);
        s.into()
    };
    let mut fed = 0;
    let mut step_log = Vec::new();
    loop {
        while steps.front().is_some_and(|s| s.after <= fed) {
            let step = steps.pop_front().expect("step");
            let mut error = Value::Null;
            // StackStorm refuses to pause or cancel a completed workflow, and
            // to resume one that is not paused; the conductor ignores those.
            let before = conductor.status();
            let refused = |ok: bool| if ok { Value::Null } else { json!("refused") };
            match step.action.as_str() {
                "pause" => {
                    error = refused(!before.is_completed());
                    conductor.request_pause()
                }
                "resume" => {
                    error = refused(matches!(
                        before,
                        WorkflowStatus::Paused | WorkflowStatus::Pausing
                    ));
                    queue.extend(conductor.request_resume(&env))
                }
                "cancel" => {
                    error = refused(!before.is_completed());
                    conductor.request_cancel()
                }
                "rerun" => {
                    let options = RerunOptions {
                        tasks: step.tasks.clone(),
                        reset: step.reset.clone(),
                    };
                    match conductor.request_rerun(&options, &env) {
                        Ok(more) => queue.extend(more),
                        Err(e) => error = json!(e.to_string()),
                    }
                }
                other => panic!("unknown step {other:?}"),
            }
            step_log.push(json!({"after": fed, "action": step.action, "error": error}));
        }
        if fed >= trace.len() {
            break;
        }
        let expected = &trace[fed];
        let Some(req) = queue.pop_front() else {
            return Err(format!(
                "request #{fed}: we have nothing to run, Orquesta runs {}",
                theirs_request(expected)
            ));
        };
        let (mine, want) = (
            masked(&request_json(&req), mask.as_ref()),
            theirs_request(expected),
        );
        if mine != want {
            return Err(format!(
                "request #{fed} differs:\n  ours:     {mine}\n  orquesta: {want}\n  sequence so far (orquesta): {}",
                theirs["sequence"]
            ));
        }
        let key = TaskKey {
            task: req.key.task.clone(),
            route: req.key.route,
            item: req.key.item,
        };
        if expected["phase"] == "hold" {
            conductor.on_task_held(&key, hold(&expected["status"]), &env);
            let status = serde_json::to_value(conductor.status()).expect("status");
            if status != expected["workflow_status"] {
                return Err(format!(
                    "request #{fed} held ({}): workflow status ours {status}, orquesta {}",
                    expected["status"], expected["workflow_status"]
                ));
            }
            queue.push_back(req);
            fed += 1;
            continue;
        }
        let status = status(expected["status"].as_str().unwrap_or("succeeded"));
        let resume_first = match expected["held"].as_str() {
            // An expired Inquiry times out first, then the workflow resumes.
            Some("pending") => status != TaskStatus::Timeout,
            Some(_) => {
                queue.extend(conductor.on_task_resumed(&key, &env));
                false
            }
            None => false,
        };
        let resume_held = |conductor: &mut Conductor, queue: &mut VecDeque<TaskRequest>| {
            if matches!(
                conductor.status(),
                WorkflowStatus::Paused | WorkflowStatus::Pausing
            ) {
                queue.extend(conductor.request_resume(&env));
            }
        };
        if resume_first {
            resume_held(&mut conductor, &mut queue);
        }
        let result = TaskResult {
            key: TaskKey {
                task: req.key.task.clone(),
                route: req.key.route,
                item: req.key.item,
            },
            status,
            result: expected["result"].clone(),
        };
        queue.extend(conductor.on_task_result(result, &env));
        if expected["held"] == "pending" && !resume_first {
            resume_held(&mut conductor, &mut queue);
        }
        fed += 1;
    }
    // Requests left when the reference stopped.
    let pending: Vec<Value> = queue
        .iter()
        .map(|r| masked(&request_json(r), mask.as_ref()))
        .collect();
    let their_pending: Vec<Value> = theirs["pending"]
        .as_array()
        .map(|p| p.iter().map(theirs_request).collect())
        .unwrap_or_default();
    let mut diffs = Vec::new();
    if pending != their_pending {
        diffs.push(format!(
            "requests not run:\n  ours:     {pending:?}\n  orquesta: {their_pending:?}"
        ));
    }
    let their_steps: Vec<Value> = theirs["steps"].as_array().cloned().unwrap_or_default();
    let step_errors =
        |v: &[Value]| -> Vec<bool> { v.iter().map(|s| !s["error"].is_null()).collect() };
    if step_errors(&step_log) != step_errors(&their_steps) {
        diffs.push(format!(
            "steps:\n  ours:     {step_log:?}\n  orquesta: {their_steps:?}"
        ));
    }
    let status = serde_json::to_value(conductor.status()).expect("status");
    if status != theirs["status"] {
        diffs.push(format!(
            "status: ours {status}, orquesta {}",
            theirs["status"]
        ));
    }
    let output = masked(
        &conductor
            .output()
            .cloned()
            .map(Value::Object)
            .unwrap_or(Value::Null),
        mask.as_ref(),
    );
    if let Some(d) = diff_value("output", &output, &theirs["output"]) {
        diffs.push(d);
    }
    let errors = masked(
        &serde_json::to_value(conductor.errors()).expect("errors"),
        mask.as_ref(),
    );
    if let Some(d) = diff_errors("errors", &errors, &theirs["errors"]) {
        diffs.push(d);
    }
    let result = masked(&conductor.result(), mask.as_ref());
    if let Some(d) = diff_value(
        "result.output",
        &result["output"],
        &theirs["result"]["output"],
    ) {
        diffs.push(d);
    }
    if result.get("errors").is_some() != theirs["result"].get("errors").is_some() {
        diffs.push(format!(
            "result: ours {result}, StackStorm {}",
            theirs["result"]
        ));
    }
    let routes = json!(conductor.routes());
    if routes != theirs["routes"] {
        diffs.push(format!(
            "routes: ours {routes}, orquesta {}",
            theirs["routes"]
        ));
    }
    let sequence = json!(conductor.sequence());
    if sequence != theirs["sequence"] {
        diffs.push(format!(
            "sequence:\n  ours:     {sequence}\n  orquesta: {}",
            theirs["sequence"]
        ));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}
