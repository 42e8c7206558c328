//! Guard rails of the YAQL implementation: nesting at the limit evaluates
//! within a small stack, nesting past it and runaway recursion are clear
//! errors, and random token soup never panics (a seeded fuzz run; set
//! `YAQL_FUZZ_CASES` and `YAQL_FUZZ_SEED` for a longer or another one).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use stormdesk_workflow::expr::yaql::{evaluate_text, lib, parse, parser::MAX_NESTING};
use stormdesk_workflow::expr::Scope;
use stormdesk_workflow::NoKv;

fn eval(text: &str) -> Result<Value, String> {
    let ctx = json!({"xs": [1, 2, 3], "d": {"a": {"b": 1}}, "s": "abc"});
    let Value::Object(ctx) = ctx else {
        unreachable!()
    };
    evaluate_text(text, &Scope::workflow(&ctx, &NoKv)).map_err(|e| e.message())
}

/// Expressions nested as deep as the parser allows, in every way nesting
/// can happen.
fn deepest() -> Vec<String> {
    let n = MAX_NESTING - 2;
    vec![
        format!("<% {}1{} %>", "(".repeat(n), ")".repeat(n)),
        format!("<% {}1{} %>", "[".repeat(n), "]".repeat(n)),
        format!("<% {}1{} %>", "abs(".repeat(n), ")".repeat(n)),
        format!("<% {}1 %>", "-".repeat(n)),
        format!("<% {}true %>", "not ".repeat(n)),
        format!("<% {} %>", vec!["1"; n].join(" + ")),
        format!("<% ctx().xs{} %>", ".select($)".repeat(n / 2)),
        format!("<% {}1{} %>", "{a => ".repeat(n / 2), "}".repeat(n / 2)),
        format!(
            "<% {}${} %>",
            "[1].select(".repeat(n / 3),
            ")".repeat(n / 3)
        ),
    ]
}

#[test]
fn nesting_at_the_limit_fits_in_a_small_stack() {
    // Half of the 2 MiB a test thread gets, in a debug build.
    let worker = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            for text in deepest() {
                let r = eval(&text);
                assert!(
                    r.is_ok() || r.as_ref().is_err_and(|e| e.contains("RecursionError")),
                    "{text}: {r:?}"
                );
            }
        })
        .expect("spawn");
    worker
        .join()
        .expect("deep expressions evaluate without overflow");
}

#[test]
fn nesting_past_the_limit_is_a_clear_error() {
    for text in [
        format!("{}1{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}1", "-".repeat(5000)),
        vec!["1"; 5000].join(" + "),
        format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
    ] {
        let e = parse(&text).unwrap_err();
        assert_eq!(e.class, "YaqlGrammarException");
        assert!(e.message.contains("nested deeper than"), "{}", e.message);
    }
}

#[test]
fn runaway_recursion_is_a_clear_error() {
    let e = eval("<% def(f, f($)) -> f(1) %>").unwrap_err();
    assert!(e.contains("RecursionError"), "{e}");
    let e = eval("<% def(f, [f($)]) -> f(1) %>").unwrap_err();
    assert!(e.contains("RecursionError"), "{e}");
    let e = eval("<% sequence() %>").unwrap_err();
    assert!(e.contains("CollectionTooLargeException"), "{e}");
}

const TOKENS: &[&str] = &[
    "1", "2.5", "0", "-", "+", "*", "/", " mod ", "=", "!=", "<", ">", "<=", ">=", " and ", " or ",
    " not ", " in ", "=~", "!~", "->", "=>", ".", "?.", ",", "(", ")", "[", "]", "{", "}", "$",
    "$1", "$x", "'a'", "\"b\"", "`c`", "true", "false", "null", "x", "ctx()", "ctx().xs", "ctx(d)",
    "#", "'", "let(", "def(", "f(", "switch(", "$.", "select(", "where(", " ",
];

#[test]
fn random_token_soup_never_panics() {
    let names: Vec<&str> = lib::names()
        .into_iter()
        .filter(|n| {
            !n.starts_with('#')
                && !n.starts_with('*')
                && !matches!(
                    *n,
                    "sequence" | "repeat" | "cycle" | "generate" | "generateMany"
                )
        })
        .collect();
    let cases: usize = std::env::var("YAQL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seed = std::env::var("YAQL_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut parsed = 0;
    for _ in 0..cases {
        let len = rng.gen_range(1..16);
        let mut text = String::new();
        for _ in 0..len {
            if rng.gen_bool(0.25) {
                text.push_str(names[rng.gen_range(0..names.len())]);
                text.push('(');
            } else {
                text.push_str(TOKENS[rng.gen_range(0..TOKENS.len())]);
            }
        }
        if parse(&text).is_ok() {
            parsed += 1;
        }
        // Any result or error is fine; a panic fails the test.
        let _ = eval(&format!("<% {text} %>"));
    }
    assert!(parsed > 0, "the fuzz run produced no valid expression");
}

#[test]
fn endless_generators_end_with_an_error() {
    for text in [
        "<% sequence().any($ < 0) %>",
        "<% 1.repeat().where($ = 2).first() %>",
        "<% [1].cycle().join([2], $1 = $2, $1) %>",
    ] {
        let e = eval(text).unwrap_err();
        assert!(e.contains("CollectionTooLargeException"), "{text}: {e}");
    }
    assert_eq!(
        eval("<% sequence().where($ > 3).take(2) %>").unwrap(),
        json!([4, 5])
    );
}
