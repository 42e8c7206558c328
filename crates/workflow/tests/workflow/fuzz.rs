//! Fuzz targets (proptest) for what this crate reads from outside: workflow
//! YAML (parsed, then inspected) and YAQL and Jinja expressions (evaluated).
//! Each must answer with a value or an error, never panic or overflow.
//!
//! `STORMDESK_FUZZ_CASES` sets the cases per target (the defaults keep the
//! whole fuzz run of CI near a minute); `scripts/fuzz.sh` runs them for as
//! long as asked. Failures are kept in `proptest-regressions/` beside the
//! crate and replayed first on every run: a crash found becomes a test.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};
use stormdesk_workflow::expr::{evaluate_str, Scope};
use stormdesk_workflow::NoKv;

fn config(default: u32) -> Config {
    let cases = std::env::var("STORMDESK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        max_shrink_iters: 4096,
        ..Config::default()
    }
}

const YAQL: &[&str] = &[
    "ctx()",
    "ctx(xs)",
    "$",
    "$.xs",
    "$.d.a",
    ".",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "=>",
    ",",
    "+",
    "-",
    "*",
    "/",
    "mod",
    "and",
    "or",
    "not",
    "=",
    "!=",
    "<",
    ">=",
    "in",
    "1",
    "0",
    "-1",
    "2.5",
    "'a'",
    "\"b\"",
    "null",
    "true",
    "false",
    "select($ * 2)",
    "where($ > 1)",
    "len()",
    "len",
    "dict(a => 1)",
    "list(1, 2)",
    "str(1)",
    "int('3')",
    "let(x => 1) -> $x",
    "switch(true => 1)",
    "$1",
    ":",
    "?",
    "#",
    "@",
    "\\",
    "distinct()",
    "zip([1], [2])",
    "sum()",
    "join(',')",
    "format('{0}', 1)",
    "regex('a')",
    "'%s'",
    "result()",
    "item()",
    "succeeded()",
    "task('x')",
    "st2kv('k')",
    "json_parse('[1]')",
    "to_json_string($)",
    "keys()",
    "values()",
    "flatten()",
    "first()",
    "last()",
    "max()",
    "min()",
    "sort()",
    "indexOf(1)",
    "toUpper()",
    "split(',')",
    "concat([1])",
    "dict()",
    "[1, 2, 3]",
    "{a => [1]}",
    "$.s.substring(1)",
    "isString($)",
];

const JINJA: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "if",
    "else",
    "endif",
    "for",
    "x",
    "in",
    "endfor",
    "|",
    "upper",
    "default('d')",
    "(",
    ")",
    "'s'",
    "1",
    "+",
    "~",
    "[",
    "]",
    ".",
    "set",
    "=",
    "ctx()",
    "ctx('xs')",
    "ctx().xs",
    "_.xs",
    "json_dump",
    "to_json_string",
    "from_json_string",
    "regex_match('a')",
    "st2kv('k')",
    "length",
    "join(',')",
    "items()",
    "keys()",
    "not",
    "and",
    "or",
    "is defined",
    "none",
    "True",
    "False",
    "{}",
    "[1, 2]",
    "loop.index",
    "-%}",
    "{%-",
    "{#",
    "#}",
    "raw",
    "endraw",
    "filter",
    "endfilter",
    "macro m()",
    "endmacro",
    "m()",
    "int",
    "float",
    "abs",
    "%",
];

/// Random sequences of language tokens and stray characters.
fn soup(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(tokens).prop_map(String::from),
            1 => "[ -~]{0,3}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.join(" "))
}

fn scope_ctx() -> Map<String, Value> {
    let Value::Object(ctx) = json!({"xs": [1, 2, 3], "d": {"a": {"b": 1}}, "s": "abc", "k": null})
    else {
        unreachable!()
    };
    ctx
}

/// An expression as a workflow holds it: YAQL, Jinja, or text around one.
fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        soup(YAQL).prop_map(|s| format!("<% {s} %>")),
        soup(JINJA).prop_map(|s| format!("{{{{ {s} }}}}")),
        soup(JINJA),
        (soup(YAQL), "[ -~]{0,8}").prop_map(|(s, t)| format!("{t}<% {s} %>{t}")),
    ]
}

fn task_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "noop", "fail", "retry", "x y", ""])
        .prop_map(String::from)
}

fn small_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        expression().prop_map(Value::String),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::collection::vec(expression().prop_map(Value::String), 0..3).prop_map(Value::Array),
    ]
}

fn next_entry() -> impl Strategy<Value = Value> {
    (
        prop::option::of(expression()),
        prop::collection::vec((task_name(), small_value()), 0..3),
        prop_oneof![
            task_name().prop_map(Value::String),
            prop::collection::vec(task_name().prop_map(Value::String), 0..3).prop_map(Value::Array),
            Just(Value::Null),
        ],
    )
        .prop_map(|(when, publish, r#do)| {
            let mut m = Map::new();
            if let Some(w) = when {
                m.insert("when".into(), Value::String(w));
            }
            if !publish.is_empty() {
                let p: Vec<Value> = publish.into_iter().map(|(k, v)| json!({ k: v })).collect();
                m.insert("publish".into(), Value::Array(p));
            }
            m.insert("do".into(), r#do);
            Value::Object(m)
        })
}

fn task() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "core.noop",
            "core.local",
            "t.x",
            "",
            "noop",
            "fail",
            "retry",
        ]),
        prop::collection::vec((task_name(), small_value()), 0..3),
        prop::collection::vec(next_entry(), 0..3),
        prop::option::of(prop_oneof![
            Just(json!("all")),
            any::<i64>().prop_map(Value::from),
            small_value()
        ]),
        prop::option::of(prop_oneof![
            expression().prop_map(|e| json!(format!("x in {e}"))),
            small_value().prop_map(|v| json!({"items": v, "concurrency": 2})),
        ]),
        prop::option::of(
            small_value().prop_map(|v| json!({"count": v, "when": "<% failed() %>", "delay": 0})),
        ),
    )
        .prop_map(|(action, input, next, join, with, retry)| {
            let mut m = Map::new();
            m.insert("action".into(), json!(action));
            let input: Map<String, Value> = input.into_iter().collect();
            m.insert("input".into(), Value::Object(input));
            m.insert("next".into(), Value::Array(next));
            if let Some(j) = join {
                m.insert("join".into(), j);
            }
            if let Some(w) = with {
                m.insert("with".into(), w);
            }
            if let Some(r) = retry {
                m.insert("retry".into(), r);
            }
            Value::Object(m)
        })
}

fn workflow() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![json!(1.0), json!("1.0"), json!(2), Value::Null]),
        prop::collection::vec(
            prop_oneof![
                task_name().prop_map(Value::String),
                (task_name(), small_value()).prop_map(|(k, v)| json!({ k: v }))
            ],
            0..3,
        ),
        prop::collection::vec((task_name(), small_value()), 0..3),
        prop::collection::btree_map(task_name(), task(), 0..5),
        prop::collection::vec((task_name(), small_value()), 0..3),
    )
        .prop_map(|(version, input, vars, tasks, output)| {
            let vars: Vec<Value> = vars.into_iter().map(|(k, v)| json!({ k: v })).collect();
            let output: Vec<Value> = output.into_iter().map(|(k, v)| json!({ k: v })).collect();
            let doc = json!({
                "version": version,
                "input": input,
                "vars": vars,
                "tasks": tasks,
                "output": output,
            });
            serde_yaml::to_string(&doc).unwrap()
        })
}

/// `text` with the bytes from `at` (a fraction of its length) replaced.
fn mutate(text: &str, at: f64, len: usize, with: &str) -> String {
    let mut cut = ((text.len() as f64) * at) as usize;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut end = (cut + len).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{with}{}", &text[..cut], &text[end..])
}

fn parse_and_inspect(yaml: &str) {
    if let Ok(spec) = stormdesk_workflow::WorkflowSpec::from_yaml(yaml) {
        let _ = stormdesk_workflow::inspect::inspect(&spec);
    }
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn fuzz_workflow_yaml_structured(yaml in workflow()) {
        parse_and_inspect(&yaml);
    }

    #[test]
    fn fuzz_workflow_yaml_mutated(
        yaml in workflow(),
        at in 0.0f64..1.0,
        len in 0usize..12,
        with in "[ -~\n\t]{0,12}",
    ) {
        parse_and_inspect(&mutate(&yaml, at, len, &with));
    }

    #[test]
    fn fuzz_workflow_yaml_text(text in "[ -~\n\t:{}\\[\\]<%>-]{0,300}") {
        parse_and_inspect(&text);
    }
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn fuzz_yaql_expressions(s in soup(YAQL)) {
        let ctx = scope_ctx();
        let _ = evaluate_str(&format!("<% {s} %>"), &Scope::workflow(&ctx, &NoKv));
    }

    #[test]
    fn fuzz_workflow_jinja_expressions(s in soup(JINJA)) {
        let ctx = scope_ctx();
        let _ = evaluate_str(&format!("{{{{ {s} }}}}"), &Scope::workflow(&ctx, &NoKv));
        let _ = evaluate_str(&s, &Scope::workflow(&ctx, &NoKv));
    }
}
