//! Facts from StackStorm's own filter tests (`st2_facts.jsonl`), the
//! datastore behaviours (`st2kv`, `decrypt_kv`), the function registry,
//! `render_values` and the error contract.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use stormdesk_jinja::{
    call, environment, render_str, render_values, CallContext, Datastore, ErrorClass,
    FunctionErrorKind, KvScope, Options,
};

#[test]
fn stackstorm_filter_test_facts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jinja/st2_facts.jsonl");
    let text = std::fs::read_to_string(path).expect("read st2_facts.jsonl");
    let env = environment(&Options::st2());
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
    {
        let case: Value = serde_json::from_str(line).expect("fact is JSON");
        let got = render_str(&env, case["t"].as_str().unwrap(), &case["v"]);
        match (case.get("want"), got) {
            (Some(want), Ok(s)) => {
                assert_eq!(s, want.as_str().unwrap(), "{} {}", case["src"], case["t"])
            }
            (None, Err(e)) => assert_eq!(
                e.class().as_str(),
                case["error"].as_str().unwrap(),
                "{}",
                case["t"]
            ),
            (want, got) => panic!("{} {}: want {want:?}, got {got:?}", case["src"], case["t"]),
        }
        n += 1;
    }
    assert!(n >= 50, "the fact table has {n} cases");
}

/// The caller's datastore, kept in memory for the test. "Encryption" is
/// base16 so the test can tell ciphertext from plaintext.
struct MemStore(BTreeMap<(bool, String), String>);

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Datastore for MemStore {
    fn get(&self, scope: KvScope, key: &str, decrypt: bool) -> Result<Option<String>, String> {
        let v = self
            .0
            .get(&(scope == KvScope::System, key.to_string()))
            .cloned();
        Ok(match (v, decrypt) {
            (Some(v), true) => Some(self.decrypt(&v)?),
            (v, _) => v,
        })
    }

    fn decrypt(&self, ciphertext: &str) -> Result<String, String> {
        let bytes: Result<Vec<u8>, _> = (0..ciphertext.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(ciphertext.get(i..i + 2).unwrap_or("zz"), 16))
            .collect();
        bytes
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| "the value is not an encrypted datastore value".to_string())
    }
}

fn store() -> Arc<MemStore> {
    let mut m = BTreeMap::new();
    m.insert((true, "foo".to_string()), "bar".to_string());
    m.insert((true, "a.b".to_string()), "nested".to_string());
    m.insert((true, "json".to_string()), r#"{"k": [1, 2]}"#.to_string());
    m.insert((true, "secret".to_string()), hex("s3cr3t"));
    m.insert((false, "mine".to_string()), "user value".to_string());
    Arc::new(MemStore(m))
}

#[test]
fn st2kv_namespace_in_parameter_templates() {
    let env = environment(&Options::st2().with_datastore(store()));
    let r = |t: &str| render_str(&env, t, &json!({}));
    assert_eq!(r("{{ st2kv.system.foo }}").unwrap(), "bar");
    assert_eq!(r("{{ st2kv.system.a.b }}").unwrap(), "nested");
    assert_eq!(r("{{ st2kv.user.mine }}").unwrap(), "user value");
    assert_eq!(r("[{{ st2kv.system.nope }}]").unwrap(), "[]");
    assert_eq!(
        r("{{ (st2kv.system.json | from_json_string).k[1] }}").unwrap(),
        "2"
    );
    assert_eq!(r("{{ st2kv.system.foo.upper() }}").unwrap(), "BAR");
    assert_eq!(
        r("{{ st2kv.system.secret | decrypt_kv }}").unwrap(),
        "s3cr3t"
    );
    let err = r("{{ st2kv.system.nope | decrypt_kv }}").unwrap_err();
    assert!(err.to_string().contains("st2kv.system.nope"), "{err}");
    assert_eq!(err.class(), ErrorClass::Runtime);
}

#[test]
fn st2kv_function_in_orquesta() {
    let env = environment(&Options::orquesta().with_datastore(store()));
    let r = |t: &str| render_str(&env, t, &json!({}));
    assert_eq!(r("{{ st2kv('system.foo') }}").unwrap(), "bar");
    assert_eq!(
        r("{{ st2kv('system.secret', decrypt=true) }}").unwrap(),
        "s3cr3t"
    );
    assert_eq!(r("{{ st2kv('mine') }}").unwrap(), "user value");
    assert_eq!(r("{{ st2kv('system.nope', default='d') }}").unwrap(), "d");
    let err = r("{{ st2kv('system.nope') }}").unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Orquesta has no decrypt_kv or to_complex.
    assert_eq!(
        r("{{ 1 | to_complex }}").unwrap_err().class(),
        ErrorClass::UnknownFilter
    );
}

#[test]
fn registry_calls_functions_by_name() {
    let s = store();
    let cx = CallContext {
        datastore: Some(s.as_ref()),
    };
    let none = Map::new();
    let call1 = |name: &str, args: &[Value]| call(name, args, &none, &cx).expect("known function");
    assert_eq!(
        call1("to_json_string", &[json!({"a": [1, 2]})]).unwrap(),
        json!("{\"a\": [1,2]}")
    );
    assert_eq!(
        call1("json_parse", &[json!("[1, 2]")]).unwrap(),
        json!([1, 2])
    );
    assert_eq!(
        call1("yaml_dump", &[json!({"b": 1, "a": [true]})]).unwrap(),
        json!("a:\n- true\nb: 1\n")
    );
    assert_eq!(
        call1("regex_substring", &[json!("a1 b2"), json!("(\\w)(\\d)")]).unwrap(),
        json!(["a", "1"])
    );
    assert_eq!(
        call1("version_match", &[json!("1.2.3"), json!(">=1.0.0")]).unwrap(),
        json!(true)
    );
    assert_eq!(
        call1("st2kv", &[json!("system.foo")]).unwrap(),
        json!("bar")
    );
    let mut kw = Map::new();
    kw.insert("indent".into(), json!(2));
    assert_eq!(
        call("to_json_string", &[json!([1])], &kw, &cx)
            .unwrap()
            .unwrap(),
        json!("[\n  1\n]")
    );
    let e = call1("regex_substring", &[json!("ab"), json!("z")]).unwrap_err();
    assert_eq!(e.kind, FunctionErrorKind::Index);
    let e = call1("from_json_string", &[json!("{secret-ish}")]).unwrap_err();
    assert_eq!(e.kind, FunctionErrorKind::Value);
    assert!(
        !e.message.contains("secret-ish"),
        "errors never quote the value: {e}"
    );
    assert!(
        call("ctx", &[], &none, &cx).is_none(),
        "Orquesta's own functions are the caller's"
    );
    let no_store = CallContext::default();
    let e = call("st2kv", &[json!("system.foo")], &none, &no_store)
        .unwrap()
        .unwrap_err();
    assert_eq!(e.kind, FunctionErrorKind::Datastore);
}

#[test]
fn render_values_as_stackstorm() {
    let env = environment(&Options::st2());
    let mapping: Map<String, Value> = serde_json::from_value(json!({
        "list": ["{{ a }}", 2],
        "text": "{{ a }}-{{ b }}",
        "same": 5,
        "plain": "no template",
        "whole": "{{ __context.a }}",
    }))
    .unwrap();
    let context: Map<String, Value> = serde_json::from_value(json!({"a": "x", "b": true})).unwrap();
    let out = render_values(&env, &mapping, &context).unwrap();
    assert_eq!(out["list"], json!(["x", 2]));
    assert_eq!(out["text"], json!("x-True"));
    assert_eq!(out["same"], json!(5));
    assert_eq!(out["plain"], json!("no template"));
    assert_eq!(out["whole"], json!("x"));
    let bad: Map<String, Value> = serde_json::from_value(json!({"k": "{{ nope }}"})).unwrap();
    let e = render_values(&env, &bad, &context).unwrap_err();
    assert!(e.to_string().contains("`k`"), "{e}");
    assert_eq!(e.class(), ErrorClass::Undefined);
}

#[test]
fn errors_keep_class_and_location_and_can_be_redacted() {
    let env = environment(&Options::st2());
    let e = render_str(&env, "line one\n{{ x | nosuch }}", &json!({"x": 1})).unwrap_err();
    assert_eq!(e.class(), ErrorClass::UnknownFilter);
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = render_str(&env, "{% if %}", &json!({})).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Syntax);
    let e = render_str(&env, "{{ missing }}", &json!({})).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Undefined);
    let lenient = environment(&Options::st2().allow_undefined(true));
    assert_eq!(
        render_str(&lenient, "[{{ missing }}]", &json!({})).unwrap(),
        "[]"
    );
    let e = render_str(&env, "{{ x.bad() }}", &json!({"x": "hunter2"})).unwrap_err();
    let red = e.redacted(&["hunter2"]);
    assert!(!red.to_string().contains("hunter2"));
}
