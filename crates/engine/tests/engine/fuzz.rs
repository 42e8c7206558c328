//! Fuzz targets (proptest) for what the engine reads from outside: pack and
//! action metadata YAML, pack config schemas and configs (loaded as
//! StackStorm loads them), and parameter values given to actions (coercion,
//! defaults, templates, validation). Each answers with a value or an error
//! naming what is wrong, never a panic.
//!
//! `STORMDESK_FUZZ_CASES` sets the cases per target; `scripts/fuzz.sh` runs
//! them for as long as asked. Failures are kept in `proptest-regressions/`
//! and replayed first: a crash found becomes a test.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};
use stormdesk_engine::params::{resolve_parameters, RenderContext};

fn config(default: u32) -> Config {
    let cases = std::env::var("STORMDESK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

const KEYS: &[&str] = &[
    "name",
    "ref",
    "runner_type",
    "entry_point",
    "description",
    "enabled",
    "parameters",
    "type",
    "default",
    "required",
    "secret",
    "immutable",
    "position",
    "enum",
    "items",
    "properties",
    "cmd",
    "timeout",
    "env",
    "cwd",
    "sudo",
    "kwarg_op",
    "hosts",
    "url",
    "method",
    "version",
    "python_versions",
    "dependencies",
    "additionalProperties",
    "minimum",
    "maximum",
    "format",
    "pattern",
    "minLength",
    "x",
];

const STRINGS: &[&str] = &[
    "string",
    "integer",
    "number",
    "boolean",
    "array",
    "object",
    "null",
    "local-shell-cmd",
    "local-shell-script",
    "python-script",
    "orquesta",
    "noop",
    "http-request",
    "remote-shell-cmd",
    "action-chain",
    "a.sh",
    "../a.sh",
    "/etc/passwd",
    "{{ x }}",
    "{{ config_context.k }}",
    "{% if a %}b{% endif %}",
    "{{ st2kv.system.k }}",
    "",
    " ",
    "0",
    "-1",
    "1e400",
    "true",
    "[1,",
    "{\"a\": 1}",
    "99999999999999999999999",
    "echo {{ a }}",
    "é",
    "\u{0}",
];

/// JSON values built from the words metadata uses.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_string())),
        "[ -~]{0,10}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(KEYS).prop_map(String::from), inner),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A parameter declaration: mostly well formed, with fuzzed fields.
fn param_spec() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "string", "integer", "number", "boolean", "array", "object", "null", "x",
        ]),
        prop::option::of(value()),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0i64..4),
        prop::option::of(prop::collection::vec(value(), 0..3)),
        prop::option::of(value()),
    )
        .prop_map(|(ty, default, required, secret, position, en, extra)| {
            let mut m = Map::new();
            m.insert("type".into(), json!(ty));
            if let Some(d) = default {
                m.insert("default".into(), d);
            }
            m.insert("required".into(), json!(required));
            m.insert("secret".into(), json!(secret));
            if let Some(p) = position {
                m.insert("position".into(), json!(p));
            }
            if let Some(e) = en {
                m.insert("enum".into(), Value::Array(e));
            }
            if let Some(Value::Object(extra)) = extra {
                m.extend(extra);
            }
            Value::Object(m)
        })
}

fn action_yaml() -> impl Strategy<Value = String> {
    let structured = (
        prop::sample::select(vec![
            "local-shell-cmd",
            "local-shell-script",
            "python-script",
            "noop",
            "http-request",
            "orquesta",
            "remote-shell-cmd",
            "unknown",
        ]),
        prop::option::of(prop::sample::select(vec![
            "a.sh",
            "../a.sh",
            "/bin/true",
            "w.yaml",
            "",
        ])),
        prop::collection::btree_map(
            prop::sample::select(vec![
                "a", "b", "count", "cmd", "timeout", "env", "sudo", "hosts",
            ]),
            param_spec(),
            0..5,
        ),
    )
        .prop_map(|(runner, entry, params)| {
            let mut doc = json!({"name": "a", "runner_type": runner, "parameters": params});
            if let Some(e) = entry {
                doc["entry_point"] = json!(e);
            }
            serde_yaml::to_string(&doc).unwrap()
        });
    prop_oneof![
        6 => structured,
        2 => value().prop_map(|v| serde_yaml::to_string(&v).unwrap()),
        1 => "[ -~\n\t]{0,200}",
    ]
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Given values as the API, the CLI (text) and workflows send them.
fn given() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["a", "b", "count", "cmd", "timeout", "env", "zzz"]),
        prop_oneof![
            value(),
            prop::sample::select(STRINGS).prop_map(|s| json!(s))
        ],
        0..4,
    )
    .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn fuzz_pack_and_action_metadata(
        pack in prop_oneof![
            3 => Just("ref: fz\nname: fz\nversion: 0.1.0\n".to_string()),
            1 => value().prop_map(|v| serde_yaml::to_string(&v).unwrap()),
            1 => "[ -~\n]{0,80}",
        ],
        action in action_yaml(),
        schema in prop::option::of(prop::collection::btree_map(
            prop::sample::select(vec!["k", "secret_k", "n"]),
            param_spec(),
            0..3,
        )),
        config_file in prop::option::of(value()),
        given in given(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fz");
        write(&dir.join("pack.yaml"), &pack);
        write(&dir.join("actions/a.yaml"), &action);
        write(&dir.join("actions/a.sh"), "#!/bin/sh\necho a\n");
        if let Some(schema) = &schema {
            write(&dir.join("config.schema.yaml"), &serde_yaml::to_string(schema).unwrap());
        }
        let configs = tmp.path().join("configs");
        if let Some(c) = &config_file {
            write(&configs.join("fz.yaml"), &serde_yaml::to_string(c).unwrap());
        }
        let Ok(loaded) = stormdesk_engine::pack::load_pack(&dir) else { return Ok(()) };
        let config = stormdesk_engine::catalog::pack_config(&loaded, &configs)
            .unwrap_or(Value::Null);
        if let Ok(action) = loaded.get_action("a") {
            let _ = resolve_parameters(action, &given, &RenderContext::new(config));
        }
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// The bundled example pack's actions with fuzzed values: every typed
    /// parameter, defaults, and templates that read other parameters.
    #[test]
    fn fuzz_parameter_coercion_of_the_example_pack(
        which in 0usize..64,
        given in prop::collection::btree_map(
            prop::sample::select(vec![
                "name", "count", "delay", "names", "username", "password", "flag", "tags",
                "cmd", "timeout", "message", "url", "x",
            ]),
            prop_oneof![value(), prop::sample::select(STRINGS).prop_map(|s| json!(s))],
            0..4,
        ),
    ) {
        let pack = examples();
        let mut actions: Vec<_> = pack.actions.values().collect();
        actions.sort_by(|a, b| a.name.cmp(&b.name));
        let action = actions[which % actions.len()];
        let given: Map<String, Value> =
            given.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        match resolve_parameters(action, &given, &RenderContext::default()) {
            Ok(r) => {
                // What was resolved is what the runner gets, typed.
                let declared = action.effective_parameters();
                prop_assert!(r.all.keys().all(|k| declared.contains_key(k)), "{:?}", r.all);
            }
            Err(e) => {
                // Every refusal names the action.
                prop_assert!(e.to_string().contains(&action.ref_), "{}", e);
            }
        }
    }
}

fn examples() -> &'static stormdesk_engine::pack::Pack {
    static PACK: std::sync::OnceLock<stormdesk_engine::pack::Pack> = std::sync::OnceLock::new();
    PACK.get_or_init(|| {
        stormdesk_engine::pack::load_pack(&stormdesk_engine::pack::bundled_examples_dir()).unwrap()
    })
}

/// One engine for every case of the report fuzz: its runner records the
/// request (with the callback token) into a fifo and then stays silent, so
/// the test reports in the runner's place.
struct Reports {
    rt: tokio::runtime::Runtime,
    engine: stormdesk_engine::Engine,
    fifo: std::path::PathBuf,
    _fx: crate::common::Fixture,
}

fn reports() -> &'static Reports {
    static R: std::sync::OnceLock<Reports> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let fx = crate::common::Fixture::new();
        let fifo = fx.path("requests.fifo");
        crate::common::mkfifo(&fifo);
        let runner = fx.path("silent-runner.sh");
        write(
            &runner,
            &format!(
                "#!/bin/bash\nIFS= read -r serve\nIFS= read -r line\nprintf '%s\\n' \"$line\" > {}\nexec cat > /dev/null\n",
                fifo.display()
            ),
        );
        std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let engine = rt.block_on(async {
            stormdesk_engine::Engine::start(stormdesk_engine::EngineOptions {
                runner_bin: Some(runner),
                ..fx.options()
            })
            .await
            .unwrap()
        });
        Reports {
            rt,
            engine,
            fifo,
            _fx: fx,
        }
    })
}

/// A report as a runner sends it: mostly well formed, with fuzzed fields.
fn report() -> impl Strategy<Value = (bool, Value)> {
    let update = (
        prop::sample::select(vec![
            "running",
            "succeeded",
            "failed",
            "timeout",
            "canceled",
            "abandoned",
            "x",
            "",
        ]),
        prop::option::of(value()),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(status, result, pid)| {
            let mut m = json!({ "status": status });
            if let Some(r) = result {
                m["result"] = r;
            }
            if let Some(p) = pid {
                m["pid"] = json!(p);
            }
            m
        });
    let chunks = prop::collection::vec(
        (
            any::<u64>(),
            prop::sample::select(vec!["stdout", "stderr", "other", "x"]),
            "[ -~\n]{0,20}",
        )
            .prop_map(|(seq, stream, data)| json!({"seq": seq % 64, "stream": stream, "data": data, "timestamp": "t"})),
        0..4,
    )
    .prop_map(Value::Array);
    prop_oneof![
        3 => update.prop_map(|u| (true, u)),
        3 => chunks.prop_map(|c| (false, c)),
        1 => value().prop_map(|v| (true, v)),
        1 => value().prop_map(|v| (false, v)),
    ]
}

proptest! {
    #![proptest_config(config(120))]

    /// Random report sequences on the runner's routes of a live execution:
    /// each is applied or refused, the record stays readable, and a proper
    /// final report still completes it.
    #[test]
    fn fuzz_runner_reports(sequence in prop::collection::vec(report(), 1..6)) {
        let r = reports();
        r.rt.block_on(async {
            let e = r
                .engine
                .run(stormdesk_engine::RunRequest {
                    action: "t.echo".into(),
                    parameters: crate::common::params(&[("msg", json!("fz"))]),
                    ..Default::default()
                })
                .await
                .unwrap();
            let fifo = r.fifo.clone();
            let line = tokio::task::spawn_blocking(move || std::fs::read_to_string(fifo))
                .await
                .unwrap()
                .unwrap();
            let request: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(request["execution_id"], json!(e.id));
            let token = request["callback"]["token"].as_str().unwrap().to_string();
            let router = stormdesk_engine::api::router(r.engine.clone());
            for (is_update, body) in &sequence {
                let (method, uri) = if *is_update {
                    ("PUT", format!("/runner/v1/executions/{}", e.id))
                } else {
                    ("POST", format!("/runner/v1/executions/{}/output", e.id))
                };
                let (status, answer) =
                    crate::api::call(router.clone(), method, &uri, &token, Some(body.clone())).await;
                assert!(
                    status.is_success() || status.is_client_error(),
                    "{method} {body}: {status} {answer}"
                );
            }
            let now = r.engine.execution(&e.id).await.unwrap();
            if !now.status.is_completed() {
                let (status, answer) = crate::api::call(
                    router.clone(),
                    "PUT",
                    &format!("/runner/v1/executions/{}", e.id),
                    &token,
                    Some(json!({"status": "succeeded", "result": {"stdout": "fz"}})),
                )
                .await;
                assert!(status.is_success(), "{status} {answer}");
            }
            let done = crate::common::finished(&r.engine, &e.id).await;
            assert!(done.status.is_completed());
            let (status, _) = crate::api::call(
                router,
                "GET",
                &format!("/v1/executions/{}", e.id),
                r.engine.api_token(),
                None,
            )
            .await;
            assert!(status.is_success());
        });
    }
}
