//! Python environments per revision: the first run of an action whose
//! environment is new (its requirements built) against `uv venv` + `uv pip
//! install -r` of the same requirements, and what reusing an environment
//! adds to a run, measured in the same run.
//!
//! `bench/pyenv.sh` builds the runner and runs this. Environment:
//! `PYENV_FRESH` (new environments measured, default 5), `PYENV_REUSE`
//! (reuse samples, default 200), `STORMDESK_PYTHON` (the interpreter).
//! Needs uv and PyPI (the cache is warmed first, so downloads are not timed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::{IndexAddOption, Repository, Signature};
use stormdesk_engine::pyenv::PyEnvOptions;
use stormdesk_engine::{Engine, EngineOptions, RunRequest, Status};

/// Pure-Python requirement sets, one per tag `r<i>`.
const SETS: &[(&str, &str)] = &[
    ("0.9.0", "8.0.4"),
    ("0.9.0", "8.0.3"),
    ("0.8.10", "8.0.2"),
    ("0.8.10", "8.0.1"),
    ("0.8.9", "8.0.0"),
    ("0.8.8", "7.0.0"),
    ("0.9.0", "6.1.2"),
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p95(v: &mut [Duration]) -> Duration {
    v.sort();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn requirements(i: usize) -> String {
    let (tab, slug) = SETS[i];
    format!("tabulate=={tab}\npython-slugify=={slug}\n")
}

/// Pack `bench`: tag `r<i>` pins requirement set `i`; `ver` imports them,
/// `sh` is a shell action for the same-revision baseline.
fn build_pack(dir: &Path, sets: usize) {
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: bench\nname: bench\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/ver.yaml"),
        "name: ver\nrunner_type: python-script\nentry_point: ver.py\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/ver.py"),
        "import tabulate\nimport slugify\nfrom st2common.runners.base_action import Action\n\n\nclass Ver(Action):\n    def run(self):\n        return tabulate.__version__\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/sh.yaml"),
        "name: sh\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'true', immutable: true}\n",
    )
    .unwrap();
    let repo = Repository::init(dir).unwrap();
    let sig = Signature::now("Bench", "bench@example.com").unwrap();
    for i in 0..sets {
        std::fs::write(dir.join("requirements.txt"), requirements(i)).unwrap();
        let mut index = repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = repo
            .commit(Some("HEAD"), &sig, &sig, &format!("r{i}"), &tree, &parents)
            .unwrap();
        repo.tag_lightweight(
            &format!("r{i}"),
            &repo.find_object(oid, None).unwrap(),
            false,
        )
        .unwrap();
    }
}

/// `uv venv` + `uv pip install -r` of requirement set `i` into `dest`.
fn uv_baseline(python: &Path, cache: &Path, reqs: &Path, dest: &Path) -> Duration {
    let start = Instant::now();
    for args in [
        vec![
            "venv".into(),
            "-q".into(),
            "--python".into(),
            python.display().to_string(),
            dest.display().to_string(),
        ],
        vec![
            "pip".into(),
            "install".into(),
            "-q".into(),
            "--python".into(),
            dest.join("bin/python").display().to_string(),
            "-r".into(),
            reqs.display().to_string(),
        ],
    ] {
        let status = Command::new("uv")
            .args(&args)
            .env("UV_CACHE_DIR", cache.join("uv"))
            .stdout(Stdio::null())
            .status()
            .expect("uv must be installed for the baseline");
        assert!(status.success(), "uv {args:?}");
    }
    start.elapsed()
}

fn main() {
    let fresh = env("PYENV_FRESH", 5).min(SETS.len() - 1);
    let reuse = env("PYENV_REUSE", 200);
    let runner = stormdesk_engine::default_runner_bin();
    assert!(
        runner.is_file(),
        "build the runner first: {}",
        runner.display()
    );
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/bench");
    build_pack(&src, fresh + 1);
    let cache = home.path().join("cache");
    let python = std::env::var_os("STORMDESK_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.is_file()))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt.block_on(async {
        Engine::start(EngineOptions {
            home: Some(home.path().join("home")),
            pack_dirs: vec![src.clone()],
            runner_bin: Some(runner),
            prewarm: true,
            no_examples: true,
            pyenv: PyEnvOptions {
                python: Some(python.clone()),
                cache_dir: Some(cache.clone()),
                keep: Some(100),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap()
    });
    // (until run() returned, until completed)
    let run = |action: &str, rev: &str| {
        rt.block_on(async {
            let start = Instant::now();
            let e = engine
                .run(RunRequest {
                    action: action.into(),
                    content_version: Some(rev.to_string()),
                    ..Default::default()
                })
                .await
                .unwrap();
            let scheduled = start.elapsed();
            let done = engine.wait(&e.id).await.unwrap();
            assert_eq!(done.status, Status::Succeeded, "{}", done.result);
            (scheduled, start.elapsed())
        })
    };
    let reqs_dir = home.path().join("reqs");
    std::fs::create_dir_all(&reqs_dir).unwrap();
    let req_file = |i: usize| {
        let p = reqs_dir.join(format!("r{i}.txt"));
        std::fs::write(&p, requirements(i)).unwrap();
        p
    };

    // Warm-up: the base layer, set 0, every set's downloads in the cache,
    // the runner and the page cache; none of it is timed.
    run("bench.ver", "r0");
    for i in 0..=fresh {
        uv_baseline(
            &python,
            &cache,
            &req_file(i),
            &home.path().join(format!("warm/{i}")),
        );
    }
    let builds_before = engine.python_envs().builds();

    let (mut ours, mut uv) = (vec![], vec![]);
    for i in 1..=fresh {
        let dest = home.path().join(format!("uv/{i}"));
        // Alternate which goes first, so neither always finds a warmer machine.
        if i % 2 == 0 {
            uv.push(uv_baseline(&python, &cache, &req_file(i), &dest));
            ours.push(run("bench.ver", &format!("r{i}")).1);
        } else {
            ours.push(run("bench.ver", &format!("r{i}")).1);
            uv.push(uv_baseline(&python, &cache, &req_file(i), &dest));
        }
    }
    assert_eq!(engine.python_envs().builds(), builds_before + fresh);

    let (mut py_sched, mut sh_sched, mut py_done, mut lookup) = (vec![], vec![], vec![], vec![]);
    let pack_dir = src.clone();
    for i in 0..reuse {
        let rev = format!("r{}", 1 + i % fresh);
        let (s, d) = run("bench.ver", &rev);
        py_sched.push(s);
        py_done.push(d);
        sh_sched.push(run("bench.sh", &rev).0);
        // The step a Python run adds, as the engine calls it.
        let start = Instant::now();
        let envs = engine.clone();
        let dir = pack_dir.clone();
        rt.block_on(async move {
            tokio::task::spawn_blocking(move || {
                envs.python_envs()
                    .for_pack("bench", &dir, None, &|_| {})
                    .map(drop)
            })
            .await
        })
        .unwrap()
        .unwrap();
        lookup.push(start.elapsed());
    }
    assert_eq!(engine.python_envs().builds(), builds_before + fresh);

    let (ours_m, uv_m) = (median(&mut ours), median(&mut uv));
    let (py_m, sh_m) = (median(&mut py_sched), median(&mut sh_sched));
    println!(
        "{fresh} new environments (2 pure-Python requirements each, warm cache), {reuse} reuse samples (medians)"
    );
    println!(
        "uv venv + uv pip install -r                {:>9.1} ms  (baseline)",
        ms(uv_m)
    );
    println!(
        "first run, new environment: until done     {:>9.1} ms  = {:.2}x uv",
        ms(ours_m),
        ours_m.as_secs_f64() / uv_m.as_secs_f64()
    );
    println!(
        "run at a seen revision: run() returned     {:>9.3} ms  (shell action at the same revision: {:.3} ms, {:+.3} ms)",
        ms(py_m),
        ms(sh_m),
        ms(py_m) - ms(sh_m)
    );
    println!(
        "environment lookup a run adds              {:>9.3} ms  (p95 {:.3} ms)",
        ms(median(&mut lookup.clone())),
        ms(p95(&mut lookup))
    );
    println!(
        "run at a seen revision: until done         {:>9.1} ms",
        ms(median(&mut py_done))
    );
    engine.shutdown();
}
