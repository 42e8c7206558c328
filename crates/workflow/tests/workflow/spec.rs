use serde_json::json;
use stormdesk_workflow::spec::{Join, WithItems};
use stormdesk_workflow::{SpecError, WorkflowSpec};

use crate::rehearsal::spec;

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let err =
        WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  t:\n    action: [unclosed\n").unwrap_err();
    match err {
        SpecError::Yaml { line, column, .. } => {
            assert!(line >= 4, "line {line}");
            assert!(column > 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_task_fields_name_the_task_and_field() {
    let err = WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  deploy:\n    acton: core.local\n")
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("tasks.deploy"), "{text}");
    assert!(text.contains("unknown field `acton`"), "{text}");
    assert!(text.starts_with("line 4, column 5"), "{text}");
}

#[test]
fn unknown_transition_and_workflow_fields_are_rejected() {
    let err =
        WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  t:\n    next:\n      - whn: <% true %>\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("tasks.t.next[0]") && err.contains("unknown field `whn`"),
        "{err}"
    );
    let err = WorkflowSpec::from_yaml("version: 1.0\noutputs: []\ntasks:\n  t: {}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `outputs`"), "{err}");
}

#[test]
fn shape_errors_name_task_and_field() {
    let err = WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  t:\n    join: some\n").unwrap_err();
    assert_eq!(
        err,
        SpecError::Invalid {
            path: "task \"t\" join".into(),
            message: "expected \"all\" or a positive integer".into()
        }
    );
    let err = WorkflowSpec::from_yaml("version: 2.0\ntasks:\n  t: {}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "version: unsupported version 2.0, expected 1.0"
    );
    let err = WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  fail: {}\n").unwrap_err();
    assert!(err.to_string().contains("engine command"), "{err}");
    let err = WorkflowSpec::from_yaml("version: 1.0\ntasks:\n  t:\n    with: plain\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("task \"t\" with: the items must be an expression"),
        "{err}"
    );
}

#[test]
fn short_forms_are_normalised() {
    let s = spec(
        r#"
version: '1.0'
description: demo
input:
  - a
  - b: 2
tasks:
  t:
    action: core.remote hosts=<% item(host) %>, cmd="ls -l"; retries=3
    with: host, command in <% zip(ctx(a), ctx(b)) %>
    join: 2
    next:
      - publish: x=1 y="two words"
        do: u, v
  u:
    with:
      items: <% ctx(a) %>
      concurrency: 2
  v: ~
"#,
    );
    let t = &s.tasks["t"];
    assert_eq!(t.action.as_deref(), Some("core.remote"));
    assert_eq!(
        serde_json::Value::Object(t.input.clone()),
        json!({"hosts": "<% item(host) %>", "cmd": "ls -l", "retries": 3})
    );
    assert_eq!(
        t.with,
        Some(WithItems {
            items: "<% zip(ctx(a), ctx(b)) %>".into(),
            vars: vec!["host".into(), "command".into()],
            concurrency: None
        })
    );
    assert_eq!(t.join, Some(Join::Count(2)));
    assert_eq!(t.next[0].targets, vec!["u", "v"]);
    assert_eq!(t.next[0].publish[1].value, json!("two words"));
    assert_eq!(
        s.tasks["u"].with.as_ref().unwrap().concurrency,
        Some(json!(2))
    );
    assert_eq!(s.input[1].default, Some(json!(2)));
    assert!(s.tasks["v"].is_noop());
    let round: WorkflowSpec = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(round, s);
}
