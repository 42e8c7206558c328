//! The rehearsal helper: drive a [`Conductor`] with scripted results.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use stormdesk_workflow::{
    Conductor, Env, TaskKey, TaskRequest, TaskResult, TaskStatus, WorkflowSpec, WorkflowStatus,
};

/// A datastore for `st2kv`.
#[derive(Default)]
pub struct TestKv(pub BTreeMap<String, Value>);

impl Env for TestKv {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        let Some(value) = self.0.get(key) else {
            return Ok(None);
        };
        if value.get("undecryptable").is_some() {
            return Err(format!("the secret '{key}' does not decrypt"));
        }
        if decrypt {
            Ok(Some(value.clone()))
        } else if let Some(secret) = value.get("encrypted") {
            Ok(Some(json!(format!(
                "<encrypted:{}>",
                secret.as_str().unwrap_or("")
            ))))
        } else {
            Ok(Some(value.clone()))
        }
    }
}

pub struct Rehearsal {
    pub conductor: Conductor,
    /// Every request issued, in order.
    pub requests: Vec<TaskRequest>,
    /// Issued and not yet answered.
    pub outstanding: Vec<TaskRequest>,
    pub env: TestKv,
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("not an object: {other}"),
    }
}

/// Label of a request: `task`, `task#route`, `task[item]`, `task@attempt`.
pub fn label(key: &TaskKey, attempt: u32) -> String {
    let mut s = key.task.clone();
    if key.route > 0 {
        s.push_str(&format!("#{}", key.route));
    }
    if let Some(i) = key.item {
        s.push_str(&format!("[{i}]"));
    }
    if attempt > 0 {
        s.push_str(&format!("@{attempt}"));
    }
    s
}

/// Parse `task`, `task#route`, `task[item]`, `task#route[item]`.
fn parse_selector(sel: &str) -> (String, Option<u32>, Option<usize>) {
    let (rest, item) = match sel.split_once('[') {
        Some((r, i)) => (
            r,
            Some(i.trim_end_matches(']').parse().expect("item index")),
        ),
        None => (sel, None),
    };
    let (task, route) = match rest.split_once('#') {
        Some((t, r)) => (t.to_string(), Some(r.parse().expect("route"))),
        None => (rest.to_string(), None),
    };
    (task, route, item)
}

pub fn spec(yaml: &str) -> WorkflowSpec {
    WorkflowSpec::from_yaml(yaml).unwrap_or_else(|e| panic!("spec: {e}"))
}

impl Rehearsal {
    pub fn new(yaml: &str, input: Value) -> Rehearsal {
        Self::with_env(yaml, input, TestKv::default())
    }

    pub fn with_env(yaml: &str, input: Value, env: TestKv) -> Rehearsal {
        let conductor = Conductor::new(spec(yaml), obj(input)).unwrap_or_else(|e| panic!("{e}"));
        Self::start(conductor, env)
    }

    pub fn from_conductor(conductor: Conductor) -> Rehearsal {
        Self::start(conductor, TestKv::default())
    }

    fn start(conductor: Conductor, env: TestKv) -> Rehearsal {
        let mut r = Rehearsal {
            conductor,
            requests: Vec::new(),
            outstanding: Vec::new(),
            env,
        };
        let issued = r.conductor.start(&r.env);
        r.take(issued);
        r
    }

    pub fn take(&mut self, issued: Vec<TaskRequest>) {
        self.requests.extend(issued.iter().cloned());
        self.outstanding.extend(issued);
    }

    /// Labels of every request so far.
    pub fn seq(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|r| label(&r.key, r.attempt))
            .collect()
    }

    pub fn find(&self, sel: &str) -> usize {
        let (task, route, item) = parse_selector(sel);
        self.outstanding
            .iter()
            .position(|r| {
                r.key.task == task
                    && (route.is_none() || route == Some(r.key.route))
                    && (item.is_none() || r.key.item == item)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no outstanding request for {sel}; outstanding: {:?}",
                    self.outstanding
                        .iter()
                        .map(|r| label(&r.key, r.attempt))
                        .collect::<Vec<_>>()
                )
            })
    }

    /// Report the first outstanding request matching `sel`.
    pub fn report(&mut self, sel: &str, status: TaskStatus, result: Value) -> Vec<TaskRequest> {
        let pos = self.find(sel);
        let request = self.outstanding.remove(pos);
        let issued = self.conductor.on_task_result(
            TaskResult {
                key: request.key,
                status,
                result,
            },
            &self.env,
        );
        self.take(issued.clone());
        issued
    }

    pub fn ok(&mut self, sel: &str, result: Value) -> Vec<TaskRequest> {
        self.report(sel, TaskStatus::Succeeded, result)
    }

    pub fn fail(&mut self, sel: &str, result: Value) -> Vec<TaskRequest> {
        self.report(sel, TaskStatus::Failed, result)
    }

    /// Run a script of (selector, status, result).
    pub fn script(&mut self, steps: &[(&str, TaskStatus, Value)]) {
        for (sel, status, result) in steps {
            self.report(sel, *status, result.clone());
        }
    }

    /// Answer every outstanding request with success (null result), oldest
    /// first, until nothing is outstanding.
    pub fn succeed_all(&mut self) {
        while let Some(request) = self.outstanding.first().cloned() {
            self.ok(&label_for_find(&request), Value::Null);
        }
    }

    pub fn status(&self) -> WorkflowStatus {
        self.conductor.status()
    }

    pub fn output(&self) -> Value {
        self.conductor.result()["output"].clone()
    }

    /// Every error logged (also those of remediated tasks).
    pub fn errors(&self) -> Vec<Value> {
        self.conductor
            .errors()
            .iter()
            .map(|e| serde_json::to_value(e).expect("error entry"))
            .collect()
    }

    pub fn request(&self, sel: &str) -> &TaskRequest {
        &self.outstanding[self.find(sel)]
    }

    pub fn assert_seq(&self, expected: &[&str]) {
        assert_eq!(self.seq(), expected, "request sequence");
    }
}

fn label_for_find(r: &TaskRequest) -> String {
    let mut s = format!("{}#{}", r.key.task, r.key.route);
    if let Some(i) = r.key.item {
        s.push_str(&format!("[{i}]"));
    }
    s
}

/// Parse a spec that must fail inspection; returns the error lines.
pub fn inspection_errors(yaml: &str) -> Vec<String> {
    match stormdesk_workflow::inspect(&spec(yaml)) {
        Ok(()) => panic!("expected inspection errors"),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

impl Rehearsal {
    pub fn request_count(&self, task: &str) -> usize {
        self.requests.iter().filter(|r| r.key.task == task).count()
    }
}
