//! Fuzz target (proptest) for StackStorm's Jinja as parameter templates use
//! it: random templates and expressions render to text or an error, never a
//! panic. `STORMDESK_FUZZ_CASES` sets the cases; `scripts/fuzz.sh` runs it
//! long; failures are kept in `proptest-regressions/` and replayed first.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::json;
use stormdesk_jinja::{environment, eval_expression, render_str, Options};

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

// No `range`: loops over huge ranges are slow by design, not a fault.
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{%-",
    "-%}",
    "{#",
    "#}",
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "x",
    "in",
    "endfor",
    "|",
    "upper",
    "lower",
    "default('d')",
    "(",
    ")",
    "'s'",
    "\"t\"",
    "1",
    "2.5",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "~",
    "[",
    "]",
    ".",
    ",",
    ":",
    "set",
    "=",
    "==",
    "!=",
    "not",
    "and",
    "or",
    "is",
    "defined",
    "none",
    "None",
    "True",
    "False",
    "{}",
    "[1, 2]",
    "{'a': 1}",
    "loop.index",
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
    "length",
    "join(',')",
    "items()",
    "keys()",
    "split(',')",
    "format(1)",
    "replace('a', 'b')",
    "to_json_string",
    "to_yaml_string",
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "regex_match('a')",
    "regex_replace('a', 'b')",
    "regex_substring('a')",
    "use_none",
    "version_compare('1.0')",
    "version_bump_major",
    "basename",
    "dirname",
    "decrypt_kv",
    "jsonpath_query('$.a')",
    "to_complex",
    "st2kv",
    "config_context",
    "action_context",
    "name",
    "count",
    "tags",
    "obj.a",
    "obj['b']",
    "tags[0]",
    "with",
    "endwith",
    "call",
    "endcall",
    "block",
    "endblock",
    "extends",
    "include",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(TOKENS).prop_map(String::from),
            1 => "[ -~]{0,3}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.join(" "))
}

fn context() -> serde_json::Value {
    json!({
        "name": "ops", "count": 3, "tags": ["a", "b"], "obj": {"a": 1, "b": [1, {"c": null}]},
        "config_context": {"k": "v"}, "action_context": {"user": "u"},
    })
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn fuzz_jinja_templates(t in soup()) {
        let env = environment(&Options::st2());
        let _ = render_str(&env, &t, &context());
    }

    #[test]
    fn fuzz_jinja_expressions(t in soup()) {
        let env = environment(&Options::st2());
        let _ = eval_expression(&env, &t, &context());
    }
}

/// Found by `fuzz_jinja_expressions`: minijinja's lexer panicked on a
/// closing delimiter in an expression; it is a syntax error, as in Jinja2.
#[test]
fn delimiters_in_an_expression_are_a_syntax_error_not_a_panic() {
    let env = environment(&Options::st2());
    for expr in ["}} {{", "%} {%", "1 }}", "{{ 1", "#} x"] {
        let e = eval_expression(&env, expr, &context()).unwrap_err();
        assert_eq!(
            e.class(),
            stormdesk_jinja::ErrorClass::Syntax,
            "{expr}: {e}"
        );
    }
}
