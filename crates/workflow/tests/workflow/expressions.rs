use std::collections::BTreeMap;

use serde_json::{json, Value};
use stormdesk_workflow::expr::{evaluate_str, Scope};
use stormdesk_workflow::{NoKv, WorkflowStatus};

use crate::rehearsal::{obj, Rehearsal, TestKv};

fn ctx() -> serde_json::Map<String, Value> {
    obj(json!({
        "n": 7, "f": 2.5, "s": "abc", "xs": [1, 2, 3], "d": {"k": "v", "n": {"deep": true}},
        "empty": [], "nothing": null, "words": ["a", "b"], "js": "{\"a\": [1]}"
    }))
}

fn yaql(expr: &str) -> Value {
    let ctx = ctx();
    evaluate_str(&format!("<% {expr} %>"), &Scope::workflow(&ctx, &NoKv))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn yaql_err(expr: &str) -> String {
    let ctx = ctx();
    evaluate_str(&format!("<% {expr} %>"), &Scope::workflow(&ctx, &NoKv))
        .expect_err(expr)
        .to_string()
}

#[test]
fn yaql_context_access() {
    let cases: &[(&str, Value)] = &[
        ("ctx().n", json!(7)),
        ("ctx(n)", json!(7)),
        ("ctx('s')", json!("abc")),
        ("ctx(\"s\")", json!("abc")),
        ("ctx().d.k", json!("v")),
        ("ctx(d).n.deep", json!(true)),
        ("ctx().d['k']", json!("v")),
        ("ctx().d.get(missing)", json!(null)),
        ("ctx().xs[0]", json!(1)),
        ("ctx().xs[-1]", json!(3)),
        // As in Orquesta, `$` is not the context at the top level.
        ("$", json!(null)),
    ];
    for (expr, expected) in cases {
        assert_eq!(&yaql(expr), expected, "{expr}");
    }
}

#[test]
fn yaql_operators() {
    let cases: &[(&str, Value)] = &[
        ("1 + 2 * 3", json!(7)),
        ("(1 + 2) * 3", json!(9)),
        ("ctx().n - 10", json!(-3)),
        ("-ctx().n", json!(-7)),
        ("7 / 2", json!(3)),
        ("7.0 / 2", json!(3.5)),
        ("7 mod 3", json!(1)),
        ("-7 mod 3", json!(2)),
        ("ctx().f * 2", json!(5.0)),
        ("'a' + 'b' + ctx().s", json!("ababc")),
        ("ctx().xs + [4]", json!([1, 2, 3, 4])),
        ("ctx().n = 7", json!(true)),
        ("ctx().n != 7", json!(false)),
        ("ctx().n < 8 and ctx().n >= 7", json!(true)),
        ("ctx().n > 8 or ctx().n <= 6", json!(false)),
        ("not ctx().empty", json!(true)),
        ("not (ctx().n = 7)", json!(false)),
        ("2 in ctx().xs", json!(true)),
        ("'bc' in ctx().s", json!(true)),
        ("ctx().nothing = null", json!(true)),
        ("1 = 1.0", json!(true)),
        ("'abc' < 'abd'", json!(true)),
        ("true and false or true", json!(true)),
        ("[1, 'x', null]", json!([1, "x", null])),
        ("{'a' => 1, b => 2}", json!({"a": 1, "b": 2})),
        ("ctx().s =~ '^a'", json!(true)),
        ("ctx().xs.where($ > 1).select($ * 10)", json!([20, 30])),
        ("let(k => 2) -> ctx().xs.select($ * $k)", json!([2, 4, 6])),
    ];
    for (expr, expected) in cases {
        assert_eq!(&yaql(expr), expected, "{expr}");
    }
}

#[test]
fn yaql_functions_and_methods() {
    let cases: &[(&str, Value)] = &[
        ("len(ctx().xs)", json!(3)),
        ("ctx().xs.len()", json!(3)),
        ("len(ctx().s)", json!(3)),
        ("str(ctx().n)", json!("7")),
        ("int('42') + 1", json!(43)),
        ("int(ctx().f)", json!(2)),
        ("float(ctx().n)", json!(7.0)),
        ("bool(ctx().empty)", json!(false)),
        ("bool(ctx().s)", json!(true)),
        ("list(1, 2)", json!([1, 2])),
        ("ctx().xs.toList()", json!([1, 2, 3])),
        ("ctx().d.keys().orderBy($)", json!(["k", "n"])),
        ("dict(a => 1, b => ctx().n)", json!({"a": 1, "b": 7})),
        ("dict([['x', 1]])", json!({"x": 1})),
        ("ctx().words.join(', ')", json!("a, b")),
        ("', '.join(ctx().words)", json!("a, b")),
        (
            "zip(ctx().words, ctx().xs)",
            json!([["a", 1], ["b", 2], [null, 3]]),
        ),
        (
            "zip(ctx().words, ctx().xs, pad => 0)",
            json!([["a", 1], ["b", 2], [0, 3]]),
        ),
        ("json(ctx().js).a[0]", json!(1)),
        ("ctx().s.toUpper()", json!("ABC")),
    ];
    for (expr, expected) in cases {
        assert_eq!(&yaql(expr), expected, "{expr}");
    }
}

#[test]
fn yaql_errors_say_what_went_wrong() {
    assert!(yaql_err("ctx(nope)")
        .contains("VariableUndefinedError: The variable \"nope\" is undefined."));
    assert!(yaql_err("1 +").contains("YaqlGrammarException"));
    assert!(yaql_err("ctx().xs[10]").contains("IndexError: tuple index out of range"));
    assert!(yaql_err("1 / 0").contains("ZeroDivisionError"));
    assert!(yaql_err("'a' + 1").contains("NoMatchingFunctionException"));
    assert!(yaql_err("frobnicate(1)").contains("Unknown function \"frobnicate\""));
    assert!(yaql_err("len(1, 2)").contains("No function \"len\" matches"));
    assert!(yaql_err("item(x)").contains("Item is not type of collections.Mapping."));
    assert!(yaql_err("succeeded()").contains("The current task is not set in the context."));
    assert!(yaql_err("result()").contains("The current task is not set in the context."));
    let e = yaql_err("ctx().d['nope']");
    assert!(
        e.contains(
            "Unable to resolve key 'nope' in expression '<% ctx().d['nope'] %>' from context."
        ),
        "{e}"
    );
}

fn jinja(expr: &str) -> Value {
    let ctx = ctx();
    evaluate_str(expr, &Scope::workflow(&ctx, &NoKv)).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

#[test]
fn jinja_expressions_keep_types_and_templates_render_text() {
    let cases: &[(&str, Value)] = &[
        ("{{ ctx('xs') }}", json!([1, 2, 3])),
        ("{{ ctx().n + 1 }}", json!(8)),
        ("{{ _.d.k }}", json!("v")),
        ("{{ ctx('xs') | length }}", json!(3)),
        (
            "{{ zip(ctx('words'), ctx('xs')) }}",
            json!([["a", 1], ["b", 2], [null, 3]]),
        ),
        ("{{ json(ctx('js')).a }}", json!([1])),
        ("n={{ ctx('n') }}", json!("n=7")),
        (
            "{% for w in ctx('words') %}[{{ w }}]{% endfor %}",
            json!("[a][b]"),
        ),
        ("{{ ctx('n') > 3 and 'big' or 'small' }}", json!("big")),
    ];
    for (expr, expected) in cases {
        assert_eq!(&jinja(expr), expected, "{expr}");
    }
    let ctx = ctx();
    let e = evaluate_str("{{ ctx('nope') }}", &Scope::workflow(&ctx, &NoKv)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "JinjaEvaluationException: Unable to evaluate expression '{{ ctx('nope') }}'. \
         VariableUndefinedError: The variable \"nope\" is undefined."
    );
    // An attribute that does not exist leaves the expression unresolved.
    let e = evaluate_str("{{ ctx().nope }}", &Scope::workflow(&ctx, &NoKv)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "JinjaEvaluationException: There are unresolved variables: ctx().nope"
    );
}

#[test]
fn workflow_functions_in_jinja_transitions() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - when: "{{ succeeded() and result().code == 0 }}"
        publish:
          - status1: "{{ task_status('t1') }}"
          - out: "{{ result().out }}"
        do: t2
      - when: "{{ failed() }}"
        do: t3
  t2:
    with: "{{ ctx('out') }}"
    action: x.item value="{{ item() }}"
  t3:
    action: x.y
output:
  - status1: "{{ ctx('status1') }}"
  - completed: "{{ task_status('t2') }}"
"#,
        json!({}),
    );
    r.ok("t1", json!({"code": 0, "out": ["p", "q"]}));
    r.assert_seq(&["t1", "t2[0]", "t2[1]"]);
    assert_eq!(r.request("t2[1]").input, obj(json!({"value": "q"})));
    r.succeed_all();
    assert_eq!(r.status(), WorkflowStatus::Succeeded);
    assert_eq!(
        r.output(),
        json!({"status1": "succeeded", "completed": "succeeded"})
    );
}

fn kv() -> TestKv {
    let mut m = BTreeMap::new();
    m.insert("api_url".to_string(), json!("https://api"));
    m.insert("token".to_string(), json!({"encrypted": "s3cret"}));
    m.insert("broken".to_string(), json!({"undecryptable": true}));
    TestKv(m)
}

#[test]
fn st2kv_is_answered_by_the_callers_env() {
    let mut r = Rehearsal::with_env(
        r#"
version: 1.0
vars:
  - url: <% st2kv('api_url') %>
tasks:
  t:
    action: core.http
    input:
      url: <% ctx(url) %>
      clear: <% st2kv('token', decrypt => true) %>
      masked: <% st2kv('token') %>
      jinja: "{{ st2kv('token', decrypt=true) }}"
"#,
        json!({}),
        kv(),
    );
    let input = &r.request("t").input;
    assert_eq!(input["url"], json!("https://api"));
    assert_eq!(input["clear"], json!({"encrypted": "s3cret"}));
    assert_eq!(input["jinja"], json!({"encrypted": "s3cret"}));
    assert_eq!(input["masked"], json!("<encrypted:s3cret>"));
    r.succeed_all();
}

#[test]
fn a_missing_st2kv_key_fails_the_workflow_clearly() {
    let mut r = Rehearsal::with_env(
        "version: 1.0\ntasks:\n  t:\n    action: x.y k=<% st2kv('nope') %>\n",
        json!({}),
        kv(),
    );
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let msg = r.errors()[0]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("The key \"nope\" does not exist in the StackStorm datastore."),
        "{msg}"
    );
    assert_eq!(r.errors()[0]["task_id"], "t");
    r.succeed_all();

    // The message names the key as the datastore keeps it: without the
    // `system.` scope prefix (StackStorm's `_derive_scope_and_key`).
    let mut r = Rehearsal::with_env(
        "version: 1.0\ntasks:\n  t:\n    action: x.y k=<% st2kv('system.nope') %>\n",
        json!({}),
        kv(),
    );
    let msg = r.errors()[0]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("The key \"nope\" does not exist in the StackStorm datastore."),
        "{msg}"
    );
    r.succeed_all();
}

#[test]
fn an_st2kv_key_that_cannot_be_read_fails_the_workflow_with_the_reason() {
    let mut r = Rehearsal::with_env(
        "version: 1.0\ntasks:\n  t:\n    action: x.y k=<% st2kv('broken', decrypt => true) %>\n",
        json!({}),
        kv(),
    );
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let msg = r.errors()[0]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("the secret 'broken' does not decrypt"),
        "{msg}"
    );
    assert!(!msg.contains("does not exist"), "{msg}");
    r.succeed_all();
}

#[test]
fn an_expression_error_in_a_transition_fails_the_workflow_naming_task_and_expression() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - when: <% result().items[5] = 1 %>
        do: t2
  t2:
    action: x.y
"#,
        json!({}),
    );
    r.ok("t1", json!({"items": [1]}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let e = &r.errors()[0];
    assert_eq!(e["task_id"], "t1");
    assert_eq!(e["route"], 0);
    assert_eq!(e["task_transition_id"], "t2__t0");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "YaqlEvaluationException: Unable to evaluate expression '<% result().items[5] = 1 %>'."
        ),
        "{msg}"
    );
}

#[test]
fn an_expression_error_in_publish_or_output_fails_the_workflow() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t1:
    action: x.y
    next:
      - publish: v=<% result().a.b %>
output:
  - o: <% ctx(v) %>
"#,
        json!({}),
    );
    r.ok("t1", json!({"a": 1}));
    assert_eq!(r.status(), WorkflowStatus::Failed);
    let messages: Vec<String> = r
        .errors()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert!(messages[0].contains("'<% result().a.b %>'"), "{messages:?}");
    assert_eq!(r.errors()[0]["task_transition_id"], "continue__t0");
    assert!(messages[1].contains("'<% ctx(v) %>'"), "{messages:?}");
    assert!(r.errors()[1].get("task_id").is_none());
}

#[test]
fn result_and_item_functions_in_yaql() {
    let mut r = Rehearsal::new(
        r#"
version: 1.0
tasks:
  t:
    with: x in <% [10, 20] %>
    action: x.y v=<% item(x) * 2 %>
    next:
      - when: <% succeeded() and len(result()) = 2 %>
        publish: total=<% result()[0] + result()[1] %>
output:
  - total: <% ctx(total) %>
  - status: <% task_status(t) %>
"#,
        json!({}),
    );
    assert_eq!(r.request("t[1]").input, obj(json!({"v": 40})));
    r.ok("t[0]", json!(1));
    r.ok("t[1]", json!(2));
    assert_eq!(r.output(), json!({"total": 3, "status": "succeeded"}));
}

#[test]
fn a_workflow_whose_input_or_vars_fail_to_render_has_only_that_error_and_no_output() {
    for (input, vars) in [
        ("  - name: <% abs(8).value %>\n", "  - greeting: null\n"),
        ("  - name\n", "  - greeting: <% abs(8).value %>\n"),
    ] {
        let r = Rehearsal::new(&format!(
            "version: 1.0\ninput:\n{input}vars:\n{vars}output:\n  - greeting: <% ctx().greeting %>\ntasks:\n  t:\n    action: x.y\n"
        ), json!({}));
        assert_eq!(r.status(), WorkflowStatus::Failed);
        assert_eq!(r.output(), Value::Null);
        let errors = r.errors();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0]["message"],
            "YaqlEvaluationException: Unable to evaluate expression '<% abs(8).value %>'. NoFunctionRegisteredException: Unknown function \"#property#value\""
        );
    }
}
