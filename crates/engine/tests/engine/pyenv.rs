//! Python environments per revision, on real packs built by the tests as git
//! repositories and real packages from PyPI: requirements installed and
//! importable, `actions/lib` on the path, one environment per requirements
//! (built once, shared by revisions and concurrent runs), the base layer
//! (st2client, six, PyYAML, requests), a bad requirement named, pruning, the
//! pip fallback, and building at install and with `setup_python_env`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use stormdesk_engine::pyenv::{EnvEvent, PyEnvOptions, ToolChoice};
use stormdesk_engine::{Engine, EngineOptions, RunRequest, Status};

use crate::common::*;
use crate::gitpack::GitPack;

const VER_PY: &str = r#"import importlib.metadata
import sys

import slugify
import tabulate
from st2common.runners.base_action import Action

from formatting import banner


class Ver(Action):
    def run(self):
        print("tabulate %s" % tabulate.__version__)
        return {
            "tabulate": tabulate.__version__,
            "slugify": importlib.metadata.version("python-slugify"),
            "banner": banner(slugify.slugify("Hello World")),
            "table": tabulate.tabulate([["a", 1]], tablefmt="plain"),
            "prefix": sys.prefix,
        }
"#;

/// Pack `pydeps`: `v1.0.0` and `v1.1.0` (same requirements, other code),
/// `v2.0.0` and `main` (newer pins), branch `broken` (a requirement that does
/// not exist). `ver` imports both requirements and `actions/lib/formatting.py`.
fn pydeps_pack(dir: &Path) -> GitPack {
    let mut g = GitPack::init(dir);
    g.write(
        "pack.yaml",
        "ref: pydeps\nname: pydeps\nversion: 1.0.0\ndescription: requirements per revision\n",
    );
    g.write(
        "actions/ver.yaml",
        "name: ver\nrunner_type: python-script\nentry_point: ver.py\n",
    );
    g.write("actions/ver.py", VER_PY);
    g.write(
        "requirements.txt",
        "# pinned\ntabulate==0.8.10\npython-slugify==8.0.1\n",
    );
    g.write(
        "actions/lib/formatting.py",
        "def banner(s):\n    return 'v1:' + s\n",
    );
    let v1 = g.commit("First release");
    g.tag("v1.0.0", v1);
    g.write(
        "actions/lib/formatting.py",
        "def banner(s):\n    return 'v1.1:' + s\n",
    );
    let v11 = g.commit("Same requirements, other code");
    g.tag("v1.1.0", v11);
    g.branch("broken", v11);
    g.write(
        "requirements.txt",
        "tabulate==0.9.0\nstormdesk-no-such-package-xyz==1.0\n",
    );
    g.commit("A requirement that does not exist");
    g.switch("main");
    g.write(
        "requirements.txt",
        "tabulate==0.9.0\npython-slugify==8.0.4\n",
    );
    g.write(
        "actions/lib/formatting.py",
        "def banner(s):\n    return 'v2:' + s\n",
    );
    let v2 = g.commit("Newer pins");
    g.tag("v2.0.0", v2);
    g
}

async fn engine_with(fx: &Fixture, pack: &Path, f: impl FnOnce(&mut EngineOptions)) -> Engine {
    let mut opts = fx.options();
    opts.pack_dirs.push(pack.to_path_buf());
    f(&mut opts);
    Engine::start(opts).await.unwrap()
}

fn at(action: &str, rev: Option<&str>, parameters: serde_json::Map<String, Value>) -> RunRequest {
    RunRequest {
        action: action.into(),
        parameters,
        content_version: rev.map(str::to_string),
        ..Default::default()
    }
}

async fn run_ok(engine: &Engine, req: RunRequest) -> stormdesk_engine::Execution {
    let e = engine.run(req).await.unwrap();
    let done = finished(engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    done
}

/// Finished environments under `<home>/virtualenvs/packs/<pack>`.
fn envs_of(fx: &Fixture, pack: &str) -> Vec<PathBuf> {
    stormdesk_engine::pyenv::list(&fx.home.path().join("virtualenvs/packs").join(pack))
        .into_iter()
        .map(|(_, dir)| dir)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_revision_runs_with_its_own_requirements_built_once_and_shared() {
    let fx = Fixture::new();
    let src = fx.path("src/pydeps");
    let _git = pydeps_pack(&src);
    let engine = engine_with(&fx, &src, |_| {}).await;

    // Six runs at once over four revisions with two sets of requirements.
    let revs = [
        Some("v1.0.0"),
        Some("v1.1.0"),
        Some("v2.0.0"),
        None,
        Some("v1.0.0"),
        Some("v2.0.0"),
    ];
    let runs = revs
        .iter()
        .map(|rev| run_ok(&engine, at("pydeps.ver", *rev, Default::default())));
    let done = futures::future::join_all(runs).await;

    let expect = |rev: Option<&str>| match rev {
        Some("v1.0.0") => ("0.8.10", "8.0.1", "v1:hello-world"),
        Some("v1.1.0") => ("0.8.10", "8.0.1", "v1.1:hello-world"),
        _ => ("0.9.0", "8.0.4", "v2:hello-world"),
    };
    for (rev, e) in revs.iter().zip(&done) {
        let (tab, slug, banner) = expect(*rev);
        let r = &e.result["result"];
        assert_eq!(r["tabulate"], json!(tab), "{rev:?}: {}", e.result);
        assert_eq!(r["slugify"], json!(slug), "{rev:?}");
        assert_eq!(r["banner"], json!(banner), "{rev:?}");
        assert_eq!(r["table"], json!("a  1"), "{rev:?}");
        assert_eq!(e.result["stdout"], json!(format!("tabulate {tab}\n")));
        let prefix = PathBuf::from(r["prefix"].as_str().unwrap());
        assert!(
            prefix.starts_with(fx.home.path().join("virtualenvs/packs/pydeps")),
            "{}",
            prefix.display()
        );
    }
    // The base layer and one environment per set of requirements.
    assert_eq!(engine.python_envs().builds(), 3);
    assert_eq!(envs_of(&fx, "pydeps").len(), 2);

    // Runs after that reuse them.
    run_ok(
        &engine,
        at("pydeps.ver", Some("v1.1.0"), Default::default()),
    )
    .await;
    assert_eq!(engine.python_envs().builds(), 3);
    engine.shutdown();

    // So does another engine (another process would too): they are on disk.
    let again = engine_with(&fx, &src, |_| {}).await;
    run_ok(&again, at("pydeps.ver", Some("v1.0.0"), Default::default())).await;
    assert_eq!(again.python_envs().builds(), 0);
    again.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requirement_that_cannot_be_installed_is_named_with_its_line() {
    let fx = Fixture::new();
    let src = fx.path("src/pydeps");
    let git = pydeps_pack(&src);
    let engine = engine_with(&fx, &src, |_| {}).await;

    let err = engine
        .run(at("pydeps.ver", Some("broken"), Default::default()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.to_body().code, "pack_error", "{msg}");
    for part in [
        "pack 'pydeps'",
        "requirement 'stormdesk-no-such-package-xyz==1.0'",
        "requirements.txt line 2",
        "stormdesk pack setup-venv pydeps --content-version broken",
    ] {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
    // Nothing half-made is left, and other revisions are not affected.
    assert!(envs_of(&fx, "pydeps").is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(fx.home.path().join("virtualenvs/packs/pydeps"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    run_ok(
        &engine,
        at("pydeps.ver", Some("v2.0.0"), Default::default()),
    )
    .await;

    // The pack as checked out holds the broken requirement: its listing
    // says its environment failed and why, until one is made.
    let env_error = |engine: &Engine| {
        engine
            .packs()
            .into_iter()
            .find(|p| p.ref_ == "pydeps")
            .unwrap()
            .python_env_error
    };
    assert_eq!(env_error(&engine), None);
    git.switch("broken");
    engine
        .setup_python_env("pydeps", None, false, Arc::new(|_: &EnvEvent| {}))
        .await
        .unwrap_err();
    let said = env_error(&engine).expect("the failed environment is listed");
    assert!(said.contains("requirements.txt line 2"), "{said}");
    git.switch("main");
    engine
        .setup_python_env("pydeps", None, false, Arc::new(|_: &EnvEvent| {}))
        .await
        .unwrap();
    assert_eq!(env_error(&engine), None);
    engine.shutdown();
}

const BASE_PY: &str = r#"import os
import sys

import requests
import six
import st2client
import yaml
from st2client.client import Client
from st2common.runners.base_action import Action


class Base(Action):
    def run(self):
        client = Client()
        try:
            import boto3  # noqa: F401 (the machine's Python may have it; actions must not see it)
            machine_packages = True
        except ImportError:
            machine_packages = False
        return {
            "st2client": st2client.__version__,
            "six": six.__version__,
            "yaml": yaml.__version__,
            "requests": requests.__version__,
            "client_api": client.endpoints["api"],
            # st2client's resource managers take the token from ST2_AUTH_TOKEN.
            "client_token": os.environ["ST2_AUTH_TOKEN"] == os.environ["ST2_ACTION_AUTH_TOKEN"],
            "api_url": os.environ["ST2_ACTION_API_URL"],
            "pack": os.environ["ST2_ACTION_PACK_NAME"],
            "execution": os.environ["ST2_ACTION_EXECUTION_ID"],
            "path": sys.path,
            "prefix": sys.prefix,
            "base_prefix": sys.base_prefix,
            "machine_packages": machine_packages,
            "PATH": os.environ["PATH"].split(os.pathsep)[0],
        }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_without_requirements_runs_on_the_base_layer_in_a_bare_python() {
    let fx = Fixture::new();
    let actions = fx.packs.join("t/actions");
    std::fs::write(
        actions.join("base.yaml"),
        "name: base\nrunner_type: python-script\nentry_point: base.py\n",
    )
    .unwrap();
    std::fs::write(actions.join("base.py"), BASE_PY).unwrap();
    let engine = fx.engine().await;
    let done = run_ok(&engine, at("t.base", None, Default::default())).await;
    let r = &done.result["result"];
    assert_eq!(r["st2client"], json!("3.9.0"));
    assert_eq!(r["six"], json!("1.17.0"));
    assert_eq!(r["yaml"], json!("6.0.3"));
    assert_eq!(r["requests"], json!("2.32.4"));
    // st2client is configured as StackStorm configures it for actions.
    assert_eq!(r["client_api"], r["api_url"]);
    assert_eq!(r["client_token"], json!(true));
    assert_eq!(r["api_url"], json!(format!("{}/v1", engine.api_url())));
    assert_eq!(r["pack"], json!("t"));
    assert_eq!(r["execution"], json!(done.id));

    // The environment is the base layer, its bin/ first on PATH, and nothing
    // of the machine's own site-packages is on the path.
    let venvs = fx.home.path().join("virtualenvs");
    let prefix = PathBuf::from(r["prefix"].as_str().unwrap());
    assert!(
        prefix.starts_with(venvs.join("base")),
        "{}",
        prefix.display()
    );
    assert_eq!(r["PATH"], json!(prefix.join("bin").display().to_string()));
    assert_eq!(r["machine_packages"], json!(false));
    for entry in r["path"].as_array().unwrap() {
        let entry = entry.as_str().unwrap();
        if entry.contains("-packages") {
            assert!(
                Path::new(entry).starts_with(&venvs),
                "a site directory outside the environments: {entry}"
            );
        }
    }
    assert_eq!(engine.python_envs().builds(), 1);
    engine.shutdown();
}

const HOLD_PY: &str = r#"import six
from st2common.runners.base_action import Action


class Hold(Action):
    def run(self, fifo=None):
        if fifo:
            with open(fifo) as f:
                f.read()
        return six.__version__
"#;

/// Pack `sixes`: revisions `r1`..`r3` pinning six 1.15, 1.16, 1.14 (the base
/// layer has 1.17: the pack's pin wins).
fn sixes_pack(dir: &Path) -> GitPack {
    let mut g = GitPack::init(dir);
    g.write("pack.yaml", "ref: sixes\nname: sixes\nversion: 1.0.0\n");
    g.write(
        "actions/hold.yaml",
        "name: hold\nrunner_type: python-script\nentry_point: hold.py\nparameters:\n  fifo: {type: string}\n",
    );
    g.write("actions/hold.py", HOLD_PY);
    for (tag, version) in [("r1", "1.15.0"), ("r2", "1.16.0"), ("r3", "1.14.0")] {
        g.write("requirements.txt", &format!("six=={version}\n"));
        let c = g.commit(tag);
        g.tag(tag, c);
    }
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_environments_beyond_the_limit_are_pruned_and_leased_ones_kept() {
    let fx = Fixture::new();
    let src = fx.path("src/sixes");
    let _git = sixes_pack(&src);
    let engine = engine_with(&fx, &src, |o| o.pyenv.keep = Some(1)).await;
    let mut rx = engine.subscribe();

    // r1 holds its environment while it runs.
    let fifo = fx.path("hold.fifo");
    mkfifo(&fifo);
    let held = engine
        .run(at(
            "sixes.hold",
            Some("r1"),
            params(&[("fifo", json!(fifo.display().to_string()))]),
        ))
        .await
        .unwrap();
    wait_status(&mut rx, &held.id, Status::Running).await;
    let r1_env = envs_of(&fx, "sixes");
    assert_eq!(r1_env.len(), 1);

    let done = run_ok(&engine, at("sixes.hold", Some("r2"), Default::default())).await;
    assert_eq!(done.result["result"], json!("1.16.0"));
    let done = run_ok(&engine, at("sixes.hold", Some("r3"), Default::default())).await;
    assert_eq!(done.result["result"], json!("1.14.0"));
    // r3's build pruned r2's (unused); r1's is leased by the running action.
    let left = envs_of(&fx, "sixes");
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&r1_env[0]));

    std::fs::write(&fifo, "go").unwrap();
    let done = finished(&engine, &held.id).await;
    assert_eq!(done.result["result"], json!("1.15.0"), "{}", done.result);

    // Now nothing is leased: one is kept, the most recently used (r1).
    let removed = engine.python_envs().prune("sixes");
    assert_eq!(removed.len(), 1);
    assert_eq!(envs_of(&fx, "sixes"), r1_env);

    // A pruned environment is built again when a run needs it.
    let builds = engine.python_envs().builds();
    let done = run_ok(&engine, at("sixes.hold", Some("r2"), Default::default())).await;
    assert_eq!(done.result["result"], json!("1.16.0"));
    assert_eq!(engine.python_envs().builds(), builds + 1);
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_builds_the_environment_and_setup_python_env_redoes_it_at_a_revision() {
    let fx = Fixture::new();
    let src = fx.path("src/pydeps");
    let _git = pydeps_pack(&src);
    let engine = fx.engine().await;
    let installed = engine
        .install_pack(src.to_str().unwrap(), None, false)
        .await
        .unwrap();
    assert_eq!(installed.pack, "pydeps");
    assert_eq!(
        engine.python_envs().builds(),
        2,
        "base and main's requirements"
    );
    assert_eq!(envs_of(&fx, "pydeps").len(), 1);

    let events = Arc::new(Mutex::new(Vec::<EnvEvent>::new()));
    let sink = events.clone();
    let summary = engine
        .setup_python_env(
            "pydeps",
            Some("v1.0.0"),
            true,
            Arc::new(move |e: &EnvEvent| sink.lock().unwrap().push(e.clone())),
        )
        .await
        .unwrap();
    assert!(summary.built);
    assert!(summary.python.is_file(), "{}", summary.python.display());
    assert_eq!(summary.commit.as_deref().map(|c| c.len()), Some(40));
    let events = events.lock().unwrap().clone();
    assert!(matches!(
        events.first(),
        Some(EnvEvent::Building { env, requirements: 2, .. }) if env == "pydeps"
    ));
    assert!(events
        .iter()
        .any(|e| matches!(e, EnvEvent::Output { line, .. } if line.contains("tabulate"))));
    assert!(matches!(events.last(), Some(EnvEvent::Built { dir, .. }) if *dir == summary.dir));
    assert_eq!(envs_of(&fx, "pydeps").len(), 2);

    // Made anew: same key, built again.
    let again = engine
        .setup_python_env("pydeps", Some("v1.0.0"), true, Arc::new(|_: &EnvEvent| {}))
        .await
        .unwrap();
    assert_eq!(again.dir, summary.dir);
    assert!(again.built);
    let done = run_ok(
        &engine,
        at("pydeps.ver", Some("v1.0.0"), Default::default()),
    )
    .await;
    assert_eq!(done.result["result"]["tabulate"], json!("0.8.10"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uv_environments_are_built_with_venv_and_pip() {
    let fx = Fixture::new();
    let src = fx.path("src/pydeps");
    let _git = pydeps_pack(&src);
    let engine = engine_with(&fx, &src, |o| {
        o.pyenv = PyEnvOptions {
            tool: Some(ToolChoice::Pip),
            ..pyenv_options()
        }
    })
    .await;
    let done = run_ok(
        &engine,
        at("pydeps.ver", Some("v2.0.0"), Default::default()),
    )
    .await;
    assert_eq!(done.result["result"]["tabulate"], json!("0.9.0"));
    assert_eq!(done.result["result"]["slugify"], json!("8.0.4"));
    let marker = envs_of(&fx, "pydeps")[0].join(stormdesk_engine::pyenv::MARKER);
    let marker: Value = serde_json::from_slice(&std::fs::read(marker).unwrap()).unwrap();
    assert_eq!(marker["tool"], json!("pip"));

    let msg = engine
        .run(at("pydeps.ver", Some("broken"), Default::default()))
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "requirement 'stormdesk-no-such-package-xyz==1.0'",
        "requirements.txt line 2",
    ] {
        assert!(msg.contains(part), "{part:?} not in: {msg}");
    }
    engine.shutdown();
}
