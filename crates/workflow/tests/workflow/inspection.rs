use serde_json::json;
use stormdesk_workflow::{Conductor, WorkflowError};

use crate::rehearsal::{inspection_errors, obj, spec};

#[test]
fn undefined_task_in_do_suggests_the_closest_name() {
    let errors = inspection_errors(
        r#"
version: 1.0
tasks:
  deploy:
    action: x.y
    next:
      - do: restart
      - when: <% failed() %>
        do: [restart, restat]
  restart:
    action: x.y
"#,
    );
    assert_eq!(
        errors,
        vec![
            r#"task "deploy" next[1].do: The task "restat" is not defined. Did you mean "restart"?"#
        ]
    );
}

/// Orquesta accepts tasks no start task leads to; they never run.
#[test]
fn a_cycle_reachable_only_from_itself_is_accepted_and_never_runs() {
    let s = spec(
        r#"
version: 1.0
tasks:
  start:
    action: x.y
  loop_a:
    action: x.y
    next: [{do: loop_b}]
  loop_b:
    action: x.y
    next: [{do: loop_a}]
"#,
    );
    assert_eq!(stormdesk_workflow::inspect(&s), Ok(()));
    let mut r =
        crate::rehearsal::Rehearsal::from_conductor(Conductor::new(s, obj(json!({}))).unwrap());
    r.succeed_all();
    r.assert_seq(&["start"]);
}

#[test]
fn a_reachable_cycle_is_fine() {
    let s = spec(
        r#"
version: 1.0
vars: [{i: 0}]
tasks:
  init:
    next: [{do: work}]
  work:
    action: x.y
    next:
      - when: <% ctx(i) < 3 %>
        publish: i=<% ctx(i) + 1 %>
        do: work
"#,
    );
    assert_eq!(stormdesk_workflow::inspect(&s), Ok(()));
}

#[test]
fn bad_yaql_and_jinja_syntax_are_reported_with_their_field() {
    let errors = inspection_errors(
        r#"
version: 1.0
input: [x]
tasks:
  t:
    action: x.y
    input:
      a: <% ctx(x) + %>
      b:
        nested: "{{ ctx('x') }"
      c: "{% if %}"
    next:
      - when: <% succeeded( %>
"#,
    );
    assert_eq!(
        errors,
        vec![
            "task \"t\" input.a: invalid expression \"<% ctx(x) + %>\": YaqlGrammarException: Parse error: unexpected end of statement",
            "task \"t\" input.c: invalid expression \"{% if %}\": unexpected end of block",
            "task \"t\" next[0].when: invalid expression \"<% succeeded( %>\": YaqlGrammarException: Parse error: unexpected end of statement",
        ]
    );
}

/// `{{` without a closing `}}` on its line is text, not an expression, as
/// Orquesta reads it.
#[test]
fn unterminated_jinja_is_text() {
    let s = spec("version: 1.0\ninput: [x]\ntasks:\n  t:\n    action: x.y msg=\"{{ ctx('x') \"\n");
    assert_eq!(stormdesk_workflow::inspect(&s), Ok(()));
}

#[test]
fn ctx_variables_must_be_defined_somewhere() {
    let errors = inspection_errors(
        r#"
version: 1.0
input: [name]
vars: [{count: 0}]
tasks:
  t1:
    action: x.y msg=<% ctx(nmae) %> n=<% ctx().count %>
    next:
      - publish: later=<% result() %>
        do: t2
  t2:
    action: x.y v=<% ctx(later) %> j="{{ ctx('undefined_j') }}" k="{{ _.name }}"
output:
  - o: <% $.missing %>
"#,
    );
    assert_eq!(
        errors,
        // Only `ctx(...)` references count (as in Orquesta): `$.missing`
        // and `_.name` are not checked.
        vec![
            r#"task "t1" input.msg: Variable "nmae" is referenced before assignment. Did you mean "name"?"#,
            r#"task "t2" input.j: Variable "undefined_j" is referenced before assignment."#,
        ]
    );
}

/// Orquesta accepts a join with one inbound task; it runs when that task
/// reaches it.
#[test]
fn a_join_with_one_inbound_task_runs() {
    let s = spec(
        r#"
version: 1.0
tasks:
  a:
    action: x.y
    next: [{do: b}]
  b:
    join: all
    action: x.y
"#,
    );
    let mut r =
        crate::rehearsal::Rehearsal::from_conductor(Conductor::new(s, obj(json!({}))).unwrap());
    r.succeed_all();
    r.assert_seq(&["a", "b"]);
}

#[test]
fn no_start_task_is_reported() {
    let errors = inspection_errors(
        "version: 1.0\ntasks:\n  a:\n    action: x.y\n    next: [{do: b}]\n  b:\n    action: x.y\n    next: [{do: a}]\n",
    );
    assert_eq!(
        errors,
        vec!["tasks: Unable to identify any tasks to start the workflow. If the workflow has a loop, please add a task that serves as an entry point (or lead) into the loop."]
    );
}

#[test]
fn the_conductor_refuses_a_workflow_that_fails_inspection() {
    let s = spec("version: 1.0\ntasks:\n  a:\n    action: x.y\n    next: [{do: nowhere}]\n");
    match Conductor::new(s, obj(json!({}))) {
        Err(WorkflowError::Inspection(errors)) => {
            assert_eq!(errors[0].task.as_deref(), Some("a"));
            assert_eq!(errors[0].field, "next[0].do");
        }
        other => panic!("{other:?}"),
    }
}
