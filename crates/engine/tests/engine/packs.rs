//! StackStorm content as StackStorm runs it: the bundled `core` pack, a pack
//! of the same name taking its place, every declared parameter reaching the
//! action, workflow inputs without default.

use serde_json::{json, Map, Value};
use stormdesk_engine::{Engine, RunRequest, Status};

use crate::common::{finished, params, Fixture};

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

async fn run(engine: &Engine, action: &str, p: Map<String, Value>) -> stormdesk_engine::Execution {
    let started = engine
        .run(RunRequest {
            action: action.into(),
            parameters: p,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    finished(engine, &started.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_pack_is_always_there_with_stackstorms_actions() {
    let fx = Fixture::new();
    let engine = fx.engine().await;

    let done = run(
        &engine,
        "core.echo",
        params(&[("message", json!("hi there"))]),
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["stdout"], json!("hi there"));

    let done = run(&engine, "core.error", params(&[("message", json!("oops"))])).await;
    assert_eq!(done.result["stderr"], json!("oops"));
    assert_eq!(done.result["stdout"], json!(""));

    // core.local runs bash, as StackStorm's local runner does.
    let done = run(
        &engine,
        "core.local",
        params(&[("cmd", json!("echo $[1+2]"))]),
    )
    .await;
    assert_eq!(done.result["stdout"], json!(3), "{}", done.result);

    let done = run(&engine, "core.noop", Map::new()).await;
    assert_eq!(done.status, Status::Succeeded);

    let done = run(&engine, "core.uuid", Map::new()).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let uuid = done.result["result"].as_str().unwrap().to_string();
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(uuid.as_bytes()[14], b'4', "a uuid4: {uuid}");

    let done = run(&engine, "core.pause", params(&[("max_pause", json!(0))])).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);

    let done = run(
        &engine,
        "core.inject_trigger",
        params(&[
            ("trigger_name", json!("ops.deployed")),
            ("payload", json!({"v": 1})),
        ]),
    )
    .await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["result"]["trigger"], json!("ops.deployed"));
    assert_eq!(done.result["result"]["rules_evaluated"], json!(false));

    // The WinRM actions run (tests/engine/winrm.rs); without the
    // connection StackStorm requires, they are refused naming it.
    let err = engine
        .run(RunRequest {
            action: "core.winrm_cmd".into(),
            parameters: params(&[("cmd", json!("hostname"))]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("host"), "{err}");
    let core = engine
        .packs()
        .into_iter()
        .find(|p| p.ref_ == "core")
        .unwrap();
    assert!(core.errors.is_empty(), "{:?}", core.errors);
    assert!(core.shadows.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_named_core_takes_the_bundled_ones_place_with_a_notice() {
    let fx = Fixture::new();
    let mine = fx.packs.join("mycore");
    write(
        &mine,
        "pack.yaml",
        "ref: core\nname: core\nversion: 9.9.9\n",
    );
    write(
        &mine,
        "actions/echo.yaml",
        "name: echo\nrunner_type: local-shell-cmd\nparameters:\n  message: {type: string}\n  cmd: {default: 'echo mine {{message}}', immutable: true}\n",
    );
    let engine = fx.engine().await;
    let done = run(&engine, "core.echo", params(&[("message", json!("x"))])).await;
    assert_eq!(done.result["stdout"], json!("mine x"));
    let core = engine
        .packs()
        .into_iter()
        .find(|p| p.ref_ == "core")
        .unwrap();
    assert_eq!(core.version.as_deref(), Some("9.9.9"));
    let hidden = core
        .shadows
        .expect("a notice that it hides the bundled core");
    assert!(hidden.ends_with("bundled/core"), "{hidden}");
    // Only what the user's pack has: the bundled core.noop is gone with it.
    assert!(engine.action("core.noop").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_declared_parameter_reaches_a_python_action() {
    let fx = Fixture::new();
    let pack = fx.packs.join("opt");
    write(&pack, "pack.yaml", "ref: opt\nname: opt\nversion: 0.1.0\n");
    write(
        &pack,
        "actions/opt.yaml",
        "name: opt\nrunner_type: python-script\nentry_point: opt.py\nparameters:\n  a: {type: string, required: true}\n  b: {type: string}\n  c: {type: integer, default: 3}\n",
    );
    // No defaults in Python for `b`: StackStorm passes it as None.
    write(
        &pack,
        "actions/opt.py",
        "from st2common.runners.base_action import Action\n\n\nclass Opt(Action):\n    def run(self, a, b, c):\n        return {'a': a, 'b': b, 'c': c}\n",
    );
    let engine = fx.engine().await;
    let done = run(&engine, "opt.opt", params(&[("a", json!("x"))])).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["result"], json!({"a": "x", "b": null, "c": 3}));
    // The record keeps what had a value.
    assert_eq!(done.parameters.get("b"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_input_without_default_is_null() {
    let fx = Fixture::new();
    let pack = fx.packs.join("wfin");
    write(
        &pack,
        "pack.yaml",
        "ref: wfin\nname: wfin\nversion: 0.1.0\n",
    );
    write(
        &pack,
        "actions/flow.yaml",
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nparameters:\n  who: {type: string}\n",
    );
    write(
        &pack,
        "actions/workflows/flow.yaml",
        "version: 1.0\ninput:\n  - who\noutput:\n  - who: <% ctx().who %>\n  - missing: <% ctx().who = null %>\ntasks:\n  t:\n    action: core.noop\n",
    );
    let engine = fx.engine().await;
    let done = run(&engine, "wfin.flow", Map::new()).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"], json!({"who": null, "missing": true}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_templates_read_the_datastore_and_a_decrypted_secret_stays_secret() {
    use stormdesk_engine::keys::{KeyScope, KeySet};
    let fx = Fixture::new();
    let pack = fx.packs.join("kvp");
    write(&pack, "pack.yaml", "ref: kvp\nname: kvp\nversion: 0.1.0\n");
    write(
        &pack,
        "actions/show.yaml",
        "name: show\nrunner_type: local-shell-cmd\nparameters:\n  region: {type: string, default: '{{ st2kv.system.region }}'}\n  token: {type: string, default: '{{ st2kv.system.api_token | decrypt_kv }}'}\n  who: {type: string, default: '{{ action_context.user }} in {{ action_context.pack }}'}\n  cmd: {immutable: true, default: 'echo \"{{region}} {{who}} {{token}}\"'}\n",
    );
    let engine = fx.engine().await;
    engine
        .key_set(KeySet::new(KeyScope::System, "region", "eu-west-1"))
        .await
        .unwrap();
    let mut secret = KeySet::new(KeyScope::System, "api_token", "tok-5ecret-9");
    secret.secret = true;
    engine.key_set(secret).await.unwrap();

    let done = run(&engine, "kvp.show", Map::new()).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    let stdout = done.result["stdout"].as_str().unwrap();
    assert!(stdout.starts_with("eu-west-1 "), "{stdout}");
    assert!(
        stdout.ends_with(" in kvp ********"),
        "the decrypted secret is masked: {stdout}"
    );
    assert_eq!(done.parameters["region"], json!("eu-west-1"));
    // The parameter that decrypted it, and the one rendered from it, are secret.
    assert_eq!(done.parameters["token"], json!("********"));
    assert!(!done.parameters["cmd"].to_string().contains("5ecret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_directory_given_that_is_not_there_is_reported() {
    let fx = Fixture::new();
    let missing = fx.path("pakcs");
    let mut opts = fx.options();
    opts.pack_dirs.push(missing.clone());
    let engine = Engine::start(opts).await.unwrap();
    let errors = engine.pack_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(&missing.display().to_string()) && errors[0].contains("not a directory"),
        "{errors:?}"
    );
    // The other directories still load.
    assert!(engine.packs().iter().any(|p| p.ref_ == "t"));
    engine.shutdown();
}

/// `st2 pack register`: the packs load again, StackStorm's counts come back
/// (only the types asked for), content Stormdesk does not run is named, and
/// a pack that is not there, an unknown type or a broken action file are
/// refused with what to do, while the rest stays loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_packs_loads_them_again_and_counts_what_loaded() {
    use stormdesk_engine::pack_register::RegisterRequest;
    use stormdesk_engine::EngineError;

    let fx = Fixture::new();
    let engine = fx.engine().await;
    let reg = |packs: &[&str], types: &[&str], fail: Option<bool>| RegisterRequest {
        packs: Some(packs.iter().map(|p| p.to_string()).collect()),
        types: Some(types.iter().map(|t| t.to_string()).collect()),
        fail_on_failure: fail,
    };
    let pack = fx.packs.join("reg");
    write(&pack, "pack.yaml", "ref: reg\nname: reg\nversion: 0.1.0\n");
    write(
        &pack,
        "actions/one.yaml",
        "name: one\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo one}\n",
    );
    write(&pack, "rules/r1.yaml", "name: r1\n");
    write(&pack, "rules/r2.yaml", "name: r2\n");
    let err = engine
        .run(RunRequest::new("reg.one", Map::new()))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::PackNotLoaded { .. }), "{err}");
    assert!(
        err.to_string().contains("no pack 'reg' is loaded")
            && err.to_string().contains("stormdesk pack register"),
        "{err}"
    );

    let got = engine.register_packs(&reg(&["reg"], &[], None)).unwrap();
    let counts = serde_json::to_value(&got).unwrap();
    assert_eq!(counts["actions"], 1, "{counts}");
    assert_eq!(counts["rules"], 0, "{counts}");
    assert_eq!(counts["sensors"], 0, "{counts}");
    assert_eq!(counts["configs"], 0, "{counts}");
    assert!(counts["runners"].as_u64().unwrap() >= 10, "{counts}");
    assert_eq!(got.not_run.len(), 1, "{:?}", got.not_run);
    assert!(
        got.not_run[0].starts_with("reg: rules (2 files)"),
        "{:?}",
        got.not_run
    );
    let done = run(&engine, "reg.one", Map::new()).await;
    assert_eq!(done.result["stdout"], json!("one"));

    // Only what was asked for; `actions` brings `runners` along, as in StackStorm.
    let only =
        serde_json::to_value(engine.register_packs(&reg(&[], &["action"], None)).unwrap()).unwrap();
    let keys: Vec<&str> = only
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["actions", "runners"], "{only}");

    let err = engine
        .register_packs(&reg(&["nosuch"], &[], None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Pack \"nosuch\" not found on disk"), "{err}");
    let err = engine
        .register_packs(&reg(&[], &["widgets"], None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown content type \"widgets\""), "{err}");

    write(&pack, "actions/two.yaml", "name: [\n");
    let err = engine
        .register_packs(&reg(&["reg"], &["actions"], None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("two.yaml") && err.contains("fail_on_failure"),
        "{err}"
    );
    // The pack's good action is loaded all the same.
    let done = run(&engine, "reg.one", Map::new()).await;
    assert_eq!(done.status, Status::Succeeded);
    // Told to go on, it counts what loaded and names what did not.
    let counts = engine
        .register_packs(&reg(&["reg"], &["actions"], Some(false)))
        .unwrap();
    assert_eq!(counts.counts["actions"], 1);
    assert_eq!(counts.not_loaded.len(), 1, "{:?}", counts.not_loaded);
    assert!(
        counts.not_loaded[0].contains("two.yaml"),
        "{:?}",
        counts.not_loaded
    );

    // A directory of that name that is no pack says what it lacks.
    std::fs::create_dir_all(fx.packs.join("nometa/actions")).unwrap();
    let err = engine
        .register_packs(&reg(&["nometa"], &[], None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no pack.yaml"), "{err}");
    engine.shutdown();
}
