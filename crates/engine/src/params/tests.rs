use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::*;
use crate::pack::{bundled_examples_dir, load_pack, Action, Pack, ParamSpec};

fn examples() -> Pack {
    load_pack(&bundled_examples_dir()).unwrap()
}

fn action(runner_type: &str, params_yaml: &str) -> Action {
    let parameters: IndexMap<String, ParamSpec> = serde_yaml::from_str(params_yaml).unwrap();
    Action {
        name: "t".into(),
        pack: "p".into(),
        ref_: "p.t".into(),
        runner_type: runner_type.into(),
        entry_point: None,
        description: None,
        enabled: true,
        parameters,
        meta_file: "actions/t.yaml".into(),
    }
}

fn given(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn resolve(a: &Action, g: Value) -> Result<ResolvedParams, ParamError> {
    resolve_parameters(a, &given(g), &RenderContext::default())
}

fn err(a: &Action, g: Value) -> (ParamError, String) {
    let e = resolve(a, g).unwrap_err();
    let s = e.to_string();
    (e, s)
}

#[test]
fn hello_renders_its_immutable_cmd() {
    let pack = examples();
    let hello = &pack.actions["hello"];
    let r = resolve(hello, json!({})).unwrap();
    assert_eq!(r.runner["cmd"], json!("echo \"Hello, world\""));
    assert_eq!(r.runner["timeout"], json!(60));
    assert_eq!(r.runner["kwarg_op"], json!("--"));
    assert_eq!(r.runner["sudo"], json!(false));
    // Declared but unset: there, as null (StackStorm passes None).
    assert_eq!(r.runner["sudo_password"], serde_json::Value::Null);
    assert!(!r.all.contains_key("sudo_password"));
    assert_eq!(r.action.len(), 1);
    assert_eq!(r.action[0].name, "name");
    assert_eq!(r.action[0].value, json!("world"));
    assert_eq!(r.all["name"], json!("world"));

    let r = resolve(hello, json!({"name": "Ada"})).unwrap();
    assert_eq!(r.runner["cmd"], json!("echo \"Hello, Ada\""));

    let (e, s) = err(hello, json!({"cmd": "rm -rf /"}));
    assert!(matches!(e, ParamError::Immutable { .. }));
    assert!(
        s.contains("parameter 'cmd' of action examples.hello is immutable"),
        "{s}"
    );
    // Sending the default back (a form, a re-run) is fine.
    assert!(resolve(hello, json!({"cmd": "echo \"Hello, {{name}}\""})).is_ok());
}

#[test]
fn countdown_positional_and_coercion() {
    let pack = examples();
    let a = &pack.actions["countdown"];
    let r = resolve(a, json!({"count": "3", "delay": "0.5"})).unwrap();
    assert_eq!(r.all["count"], json!(3));
    assert_eq!(r.all["delay"], json!(0.5));
    assert_eq!(r.runner["timeout"], json!(120));
    let count = r.action.iter().find(|a| a.name == "count").unwrap();
    assert_eq!(count.position, Some(0));
    let delay = r.action.iter().find(|a| a.name == "delay").unwrap();
    assert_eq!(delay.position, None);

    let (e, s) = err(a, json!({"count": "three"}));
    assert!(matches!(e, ParamError::Coercion { .. }), "{e:?}");
    assert!(s.contains("'count'"), "{s}");
    assert!(s.contains("an integer"), "{s}");
    assert!(s.contains("\"three\""), "{s}");

    let r = resolve(a, json!({"timeout": "7"})).unwrap();
    assert_eq!(r.runner["timeout"], json!(7));
}

#[test]
fn unknown_parameter_lists_valid_ones() {
    let pack = examples();
    let (e, s) = err(&pack.actions["hello"], json!({"nmae": "x"}));
    assert!(matches!(e, ParamError::Unknown { .. }));
    assert!(s.contains("has no parameter 'nmae'"), "{s}");
    assert!(s.contains("did you mean 'name'"), "{s}");
    assert!(s.contains("valid parameters: name, cmd, cwd"), "{s}");
}

#[test]
fn required_parameters() {
    let a = action(
        "noop",
        "a: {type: string, required: true}\nb: {type: integer, required: true}\nc: {type: string}\n",
    );
    let (e, s) = err(&a, json!({"c": "x"}));
    assert_eq!(
        e,
        ParamError::MissingRequired {
            action: "p.t".into(),
            names: vec!["a".into(), "b".into()]
        }
    );
    assert!(s.contains("missing required parameters 'a', 'b'"), "{s}");
    // null counts as not given
    let (e, _) = err(&a, json!({"a": null, "b": 1}));
    assert!(matches!(e, ParamError::MissingRequired { .. }));
    let r = resolve(&a, json!({"a": "x", "b": 1})).unwrap();
    assert!(!r.all.contains_key("c"));
}

#[test]
fn type_mismatches() {
    let a = action(
        "noop",
        "s: {type: string}\ni: {type: integer}\nb: {type: boolean}\nl: {type: array}\no: {type: object}\nn: {type: number}\n",
    );
    let (e, s) = err(&a, json!({"s": 5}));
    assert!(matches!(e, ParamError::WrongType { .. }), "{e:?}");
    assert!(s.contains("'s'"), "{s}");
    assert!(s.contains("must be a string, got an integer (5)"), "{s}");
    let (e, _) = err(&a, json!({"i": 1.5}));
    assert!(matches!(e, ParamError::WrongType { .. }), "{e:?}");
    let (e, _) = err(&a, json!({"b": [true]}));
    assert!(matches!(e, ParamError::WrongType { .. }), "{e:?}");
    let (e, s) = err(&a, json!({"b": "perhaps"}));
    assert!(matches!(e, ParamError::Coercion { .. }), "{e:?}");
    assert!(s.contains("true or false"), "{s}");
    let (e, _) = err(&a, json!({"o": "[1]"}));
    assert!(matches!(e, ParamError::Coercion { .. }), "{e:?}");
    let (e, _) = err(&a, json!({"n": "x1"}));
    assert!(matches!(e, ParamError::Coercion { .. }), "{e:?}");

    let r = resolve(
        &a,
        json!({"i": 2.0, "b": "yes", "l": "a,b", "o": "k=v", "n": "3"}),
    )
    .unwrap();
    assert_eq!(
        Value::Object(r.all),
        json!({"i": 2, "b": true, "l": ["a", "b"], "o": {"k": "v"}, "n": 3})
    );
}

#[test]
fn enums_list_allowed_values() {
    let a = action(
        "noop",
        "color: {type: string, enum: [red, green]}\nn: {type: integer, enum: [1, 2]}\n",
    );
    let (e, s) = err(&a, json!({"color": "blue"}));
    assert!(matches!(e, ParamError::NotInEnum { .. }));
    assert!(
        s.contains("must be one of \"red\", \"green\"; got \"blue\""),
        "{s}"
    );
    assert!(resolve(&a, json!({"color": "red", "n": "2"})).is_ok());
    let (e, _) = err(&a, json!({"n": "3"}));
    assert!(matches!(e, ParamError::NotInEnum { .. }));
    // Runner enums apply too.
    let py = action("python-script", "{}");
    let (e, _) = err(&py, json!({"log_level": "LOUD"}));
    assert!(matches!(e, ParamError::NotInEnum { .. }));
}

#[test]
fn defaults_are_applied_and_typed() {
    let a = action(
        "noop",
        "n: {type: integer, default: \"4\"}\nf: {type: boolean, default: false}\nnone: {type: string}\n",
    );
    let r = resolve(&a, json!({})).unwrap();
    assert_eq!(Value::Object(r.all), json!({"n": 4, "f": false}));
}

#[test]
fn rendering_follows_dependencies_whatever_the_order() {
    let a = action(
        "local-shell-cmd",
        r#"
greeting: {type: string, default: "{{ salutation }}, {{ who }}!"}
salutation: {type: string, default: "{{ word | upper }}"}
word: {type: string, default: hello}
who: {type: string, default: "{{ config_context.user }}"}
cmd: {default: "echo '{{ greeting }}'"}
double: {type: integer, default: "{{ times * 2 }}"}
times: {type: integer, default: 2}
items: {type: array, default: ["{{ word }}", "{{ times }}"]}
opts: {type: object, default: {n: "{{ times }}", s: "x{{ times }}"}}
"#,
    );
    let ctx = RenderContext::new(json!({"user": "ops"}));
    let r = resolve_parameters(&a, &Map::new(), &ctx).unwrap();
    assert_eq!(r.all["greeting"], json!("HELLO, ops!"));
    assert_eq!(r.runner["cmd"], json!("echo 'HELLO, ops!'"));
    assert_eq!(r.all["double"], json!(4));
    assert_eq!(r.all["items"], json!(["hello", 2]));
    assert_eq!(r.all["opts"], json!({"n": 2, "s": "x2"}));

    // Given values are rendered too, and a given value changes its readers.
    let r = resolve_parameters(
        &a,
        &given(json!({"word": "hi", "times": "5", "who": "{{ word }}-team"})),
        &ctx,
    )
    .unwrap();
    assert_eq!(r.all["greeting"], json!("HI, hi-team!"));
    assert_eq!(r.all["double"], json!(10));
}

#[test]
fn rendered_text_is_coerced_back_to_the_type() {
    let a = action(
        "noop",
        r#"
base: {type: integer, default: 3}
n: {type: integer, default: "1{{ base }}"}
flag: {type: boolean, default: "{% if base > 2 %}true{% else %}false{% endif %}"}
bad: {type: integer, default: "x{{ base }}"}
"#,
    );
    let (e, s) = err(&a, json!({}));
    assert!(matches!(e, ParamError::Coercion { .. }), "{e:?}");
    assert!(s.contains("'bad'") && s.contains("\"x3\""), "{s}");
    let r = resolve(&a, json!({"bad": 1})).unwrap();
    assert_eq!(r.all["n"], json!(13));
    assert_eq!(r.all["flag"], json!(true));
}

#[test]
fn cycles_are_named() {
    let a = action(
        "noop",
        "a: {default: \"{{ b }}\"}\nb: {default: \"{{ c }}\"}\nc: {default: \"{{ a }}\"}\nd: {default: \"{{ a }}\"}\n",
    );
    let (e, s) = err(&a, json!({}));
    assert_eq!(
        e,
        ParamError::Cycle {
            action: "p.t".into(),
            names: vec!["a".into(), "b".into(), "c".into()]
        }
    );
    assert!(s.contains("a -> b -> c -> a"), "{s}");
    // Breaking the cycle with a plain value works.
    let r = resolve(&a, json!({"c": "x"})).unwrap();
    assert_eq!(r.all["d"], json!("x"));

    let selfref = action("noop", "a: {type: string}\n");
    let (e, _) = err(&selfref, json!({"a": "{{ a }}"}));
    assert!(matches!(e, ParamError::Cycle { ref names, .. } if names == &["a".to_string()]));
}

#[test]
fn undefined_variables_are_named() {
    let a = action(
        "noop",
        "msg: {type: string, default: \"hi {{ nobody }}\"}\n",
    );
    let (e, s) = err(&a, json!({}));
    assert_eq!(
        e,
        ParamError::UndefinedVariable {
            action: "p.t".into(),
            name: "msg".into(),
            variable: Some("nobody".into())
        }
    );
    assert!(s.contains("'msg'") && s.contains("'nobody'"), "{s}");

    let b = action(
        "noop",
        "msg: {type: string, default: \"{{ config_context.missing }}\"}\n",
    );
    let (e, s) = err(&b, json!({}));
    assert!(matches!(e, ParamError::Template { .. }), "{e:?}");
    assert!(s.contains("config_context"), "{s}");

    let c = action("noop", "msg: {type: string, default: \"{{ oops \"}\n");
    let (e, s) = err(&c, json!({}));
    assert!(matches!(e, ParamError::Template { .. }), "{e:?}");
    assert!(s.contains("invalid template syntax"), "{s}");
}

#[test]
fn globals_and_filters_are_not_variables() {
    let a = action(
        "noop",
        "n: {type: array, default: \"{{ range(3) | list }}\"}\nj: {type: string, default: \"{{ {'a': 1} | to_json_string }}\"}\n",
    );
    let r = resolve(&a, json!({})).unwrap();
    assert_eq!(r.all["n"], json!([0, 1, 2]));
    // StackStorm's to_json_string: json.dumps with ", " and ": ".
    assert_eq!(r.all["j"], json!("{\"a\": 1}"));
}

/// Templates as StackStorm renders them: Python methods, Python `str()` in
/// text, StackStorm's filters, `action_context`.
#[test]
fn templates_render_as_stackstorms_jinja() {
    let a = action(
        "noop",
        "names_csv: {type: string, default: \"red,green,blue\"}\nnames: {type: array, default: \"{{ names_csv.split(',') }}\"}\nshout: {type: string, default: \"{{ names_csv.upper() }} {{ names }} {{ none }}\"}\nfirst: {type: string, default: \"{{ names_csv | regex_replace('[aeiou]', '_') }}\"}\nwho: {type: string, default: \"{{ action_context.user }}@{{ action_context.pack }}\"}\n",
    );
    let ctx = RenderContext {
        action_context: json!({"user": "ada", "pack": "p"}),
        ..Default::default()
    };
    let r = resolve_parameters(&a, &Map::new(), &ctx).unwrap();
    assert_eq!(r.all["names"], json!(["red", "green", "blue"]));
    assert_eq!(
        r.all["shout"],
        json!("RED,GREEN,BLUE ['red', 'green', 'blue'] None")
    );
    assert_eq!(r.all["first"], json!("r_d,gr__n,bl__"));
    assert_eq!(r.all["who"], json!("ada@p"));
}

const SECRET: &str = "hunter2-very-secret";

#[test]
fn secrets_never_appear_in_errors() {
    let a = action(
        "noop",
        r#"
password: {type: string, secret: true, required: true}
pin: {type: integer, secret: true}
color: {type: string, secret: true, enum: [red]}
derived: {type: integer, default: "{{ password }}"}
"#,
    );
    let cases = [
        json!({"password": 12345678}),
        json!({"password": SECRET, "pin": SECRET}),
        json!({"password": SECRET, "color": SECRET}),
        json!({"password": SECRET}),
        json!({"password": "{{ hunter2_variable }}"}),
        json!({"password": "{% for %}hunter2-very-secret"}),
    ];
    for (i, g) in cases.iter().enumerate() {
        match resolve(&a, g.clone()) {
            Err(e) => {
                let s = format!("{e} {e:?}");
                assert!(!s.contains("hunter2"), "case {i} leaks: {s}");
                assert!(!s.contains("12345678"), "case {i} leaks: {s}");
            }
            Ok(r) => panic!("case {i} should fail: {:?}", r.masked()),
        }
    }
    // Case 3: the error is about 'derived', rendered from the secret.
    let (e, _) = err(&a, json!({"password": SECRET}));
    assert!(
        matches!(e, ParamError::Coercion { ref name, value: None, .. } if name == "derived"),
        "{e:?}"
    );
}

#[test]
fn secrets_are_masked_in_the_record() {
    let a = action(
        "local-shell-cmd",
        r#"
user: {type: string, default: ops}
password: {type: string, secret: true}
cmd: {default: "login {{ user }} {{ password }}", immutable: true}
"#,
    );
    let r = resolve(&a, json!({"password": SECRET})).unwrap();
    assert_eq!(r.runner["cmd"], json!(format!("login ops {SECRET}")));
    assert!(r.secret_names.contains(&"password".to_string()));
    assert!(
        r.secret_names.contains(&"cmd".to_string()),
        "derived from a secret"
    );
    assert!(r.secret_names.contains(&"sudo_password".to_string()));
    let masked = r.masked();
    assert_eq!(masked["password"], json!("********"));
    assert_eq!(masked["cmd"], json!("********"));
    assert_eq!(masked["user"], json!("ops"));
    assert!(!Value::Object(masked).to_string().contains("hunter2"));
    assert_eq!(r.secret_values().len(), 2);

    let m = mask_secrets(
        &given(json!({"a": 1, "b": "x", "c": null})),
        &["b".to_string(), "c".to_string()],
    );
    assert_eq!(
        Value::Object(m),
        json!({"a": 1, "b": "********", "c": null})
    );
}

#[test]
fn a_secret_with_braces_is_taken_literally() {
    let a = action("noop", "password: {type: string, secret: true}\n");
    let r = resolve(&a, json!({"password": "a{{b"})).unwrap();
    assert_eq!(r.all["password"], json!("a{{b"));
}

#[test]
fn login_example_keeps_password_secret() {
    let pack = examples();
    let login = &pack.actions["login"];
    let r = resolve(login, json!({"username": "ada", "password": "pw"})).unwrap();
    assert_eq!(r.secret_names, vec!["password".to_string()]);
    assert_eq!(r.runner["timeout"], json!(600));
    assert_eq!(r.runner["log_level"], json!("DEBUG"));
    let names: Vec<&str> = r.action.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["username", "password", "remember"]);
    let (e, s) = err(login, json!({"username": "ada"}));
    assert!(matches!(e, ParamError::MissingRequired { .. }));
    assert!(
        s.contains("examples.login") && s.contains("'password'"),
        "{s}"
    );
}

#[test]
fn runner_overrides_from_metadata_apply() {
    let pack = examples();
    let sleep = &pack.actions["sleep"];
    let r = resolve(sleep, json!({"seconds": "2"})).unwrap();
    assert_eq!(r.runner["timeout"], json!(60));
    assert_eq!(
        r.runner["cmd"],
        json!("echo \"sleeping 2s\"; sleep 2; echo \"awake\"")
    );
    let r = resolve(sleep, json!({"timeout": 1})).unwrap();
    assert_eq!(r.runner["timeout"], json!(1));
}

/// Integers beyond 64 bits are refused with a clear error, never stored
/// rounded (99999999999999999999999 as JSON is the float 1e23).
#[test]
fn integers_beyond_64_bits_are_refused() {
    let a = action("noop", "n: {type: integer}\n");
    let (_, s) = err(&a, json!({"n": "99999999999999999999999"}));
    assert!(s.contains("beyond 64 bits"), "{s}");
    let big: Value = serde_json::from_str(r#"{"n": 99999999999999999999999}"#).unwrap();
    let (_, s) = err(&a, big);
    assert!(s.contains("'n'") && s.contains("integer"), "{s}");
    let r = resolve(&a, json!({"n": 9223372036854775807i64})).unwrap();
    assert_eq!(r.all["n"], json!(9223372036854775807i64));
    let r = resolve(&a, json!({"n": "-9223372036854775808"})).unwrap();
    assert_eq!(r.all["n"], json!(i64::MIN));
}

#[test]
fn values_nested_beyond_the_limit_are_refused_with_the_parameter_named() {
    let a = action(
        "local-shell-cmd",
        "data: {type: array}\nblob: {type: object, secret: true}",
    );
    let nest = |levels: usize| -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    };
    // The limit itself is fine; one level more is not.
    assert!(resolve(&a, json!({ "data": nest(MAX_PARAM_DEPTH) })).is_ok());
    let (e, msg) = err(&a, json!({ "data": nest(MAX_PARAM_DEPTH + 1) }));
    assert_eq!(e.parameter(), Some("data"));
    assert!(msg.contains("nested more than 100 levels deep"), "{msg}");
    // An object nested as deep, and a secret one, are refused the same way.
    let mut deep = json!({"k": "v"});
    for _ in 0..120 {
        deep = json!({ "k": deep });
    }
    let (e, msg) = err(&a, json!({ "blob": deep }));
    assert_eq!(e.parameter(), Some("blob"));
    assert!(!msg.contains("\"v\""), "{msg}");
}

/// StackStorm renders an object default as its JSON text, keys included
/// (its examples pack's `winrm_powershell_env` names its `env` variable
/// with a template).
#[test]
fn object_keys_are_templates_too() {
    let a = action(
        "local-shell-cmd",
        "name:\n  type: string\n  default: ST2_TEST\nenv:\n  type: object\n  default:\n    \"{{ name }}\": \"value of {{ name }}\"\n",
    );
    let r = resolve(&a, json!({})).unwrap();
    assert_eq!(r.runner["env"], json!({"ST2_TEST": "value of ST2_TEST"}));
    let r = resolve(&a, json!({"name": "OTHER"})).unwrap();
    assert_eq!(r.runner["env"], json!({"OTHER": "value of OTHER"}));
}
