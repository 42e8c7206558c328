//! Running at a git revision: how long until a run at a never-seen revision
//! has started (its worktree created, its metadata read, its runner launched),
//! and at an already-seen revision, against `git worktree add --detach` of the
//! same tag measured in the same run, interleaved.
//!
//! `bench/revisions.sh` builds the runner and runs this. Environment:
//! `REV_TAGS` (fresh tags measured, default 40), `REV_FILES` (files in the
//! pack, default 200), `REV_REUSE` (reuse samples, default 300).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::{IndexAddOption, Repository, Signature};
use stormdesk_engine::git::Worktrees;
use stormdesk_engine::{Engine, EngineOptions, RunRequest};

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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A pack of `files` files (actions, scripts, a lib) with `tags` tagged commits.
fn build_pack(dir: &Path, files: usize, tags: usize) {
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: bench\nname: bench\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/go.yaml"),
        "name: go\nrunner_type: local-shell-script\nentry_point: go.sh\n",
    )
    .unwrap();
    for i in 0..files {
        let body = format!(
            "# module {i}\n{}",
            "x = 1  # filler line of a typical module\n".repeat(40)
        );
        let rel = if i % 2 == 0 {
            format!("lib/mod_{i}.py")
        } else {
            format!("actions/act_{i}.py")
        };
        std::fs::write(dir.join(rel), body).unwrap();
    }
    let repo = Repository::init(dir).unwrap();
    let sig = Signature::now("Bench", "bench@example.com").unwrap();
    for t in 0..tags {
        let script = dir.join("actions/go.sh");
        std::fs::write(&script, format!("#!/bin/sh\necho release {t}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut index = repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let oid = repo
            .commit(
                Some("HEAD"),
                &sig,
                &sig,
                &format!("release {t}"),
                &tree,
                &parents,
            )
            .unwrap();
        repo.tag_lightweight(
            &format!("v1.{t}.0"),
            &repo.find_object(oid, None).unwrap(),
            false,
        )
        .unwrap();
    }
}

fn git_worktree_add(repo: &Path, dest: &Path, tag: &str) -> Duration {
    let start = Instant::now();
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["worktree", "add", "--quiet", "--detach"])
        .arg(dest)
        .arg(tag)
        .stdout(Stdio::null())
        .status()
        .expect("git must be installed for the baseline");
    let took = start.elapsed();
    assert!(status.success());
    took
}

fn main() {
    let tags = env("REV_TAGS", 40);
    let files = env("REV_FILES", 200);
    let reuse = env("REV_REUSE", 300);
    let runner = stormdesk_engine::default_runner_bin();
    assert!(
        runner.is_file(),
        "build the runner first: {}",
        runner.display()
    );
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/bench");
    // Two identical repositories: one for us, one for git, so neither warms the other's cache.
    let git_src = home.path().join("git-src/bench");
    build_pack(&src, files, tags * 2 + 1);
    build_pack(&git_src, files, tags * 2 + 1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt.block_on(async {
        Engine::start(EngineOptions {
            home: Some(home.path().join("home")),
            pack_dirs: vec![src.clone()],
            runner_bin: Some(runner),
            prewarm: true,
            worktree_keep: Some(10_000),
            no_examples: true,
            ..Default::default()
        })
        .await
        .unwrap()
    });
    let run = |rev: Option<&str>| {
        rt.block_on(async {
            let start = Instant::now();
            let e = engine
                .run(RunRequest {
                    action: "bench.go".into(),
                    content_version: rev.map(str::to_string),
                    ..Default::default()
                })
                .await
                .unwrap();
            let took = start.elapsed();
            engine.wait(&e.id).await.unwrap();
            took
        })
    };
    // Warm up the engine, the runner and the page cache of both repositories.
    for _ in 0..5 {
        run(None);
    }
    git_worktree_add(&git_src, &home.path().join("git-wt/warm"), "v1.0.0");

    let worktrees = Worktrees::new(home.path().join("wt-only"), 10_000);
    let (mut first_run, mut first_checkout, mut git_add) = (vec![], vec![], vec![]);
    for t in 1..=tags {
        let tag = format!("v1.{t}.0");
        first_run.push(run(Some(&tag)));
        git_add.push(git_worktree_add(
            &git_src,
            &home.path().join(format!("git-wt/{t}")),
            &tag,
        ));
        let other = format!("v1.{}.0", tags + t);
        let start = Instant::now();
        let lease = rt
            .block_on(worktrees.checkout("bench", &src, &other))
            .unwrap();
        first_checkout.push(start.elapsed());
        assert!(lease.fresh());
    }
    let (mut reuse_run, mut plain_run, mut reuse_checkout) = (vec![], vec![], vec![]);
    for i in 0..reuse {
        let tag = format!("v1.{}.0", 1 + i % tags);
        reuse_run.push(run(Some(&tag)));
        plain_run.push(run(None));
        let start = Instant::now();
        let lease = rt
            .block_on(worktrees.checkout("bench", &src, &format!("v1.{}.0", tags + 1 + i % tags)))
            .unwrap();
        reuse_checkout.push(start.elapsed());
        assert!(!lease.fresh());
    }
    let git = median(&mut git_add);
    let first = median(&mut first_run);
    let first_co = median(&mut first_checkout);
    let reuse_r = median(&mut reuse_run);
    let plain = median(&mut plain_run);
    let reuse_co = median(&mut reuse_checkout);
    println!(
        "pack: {} files, {tags} fresh tags, {reuse} reuse samples (medians)",
        files + 3
    );
    println!(
        "git worktree add --detach <tag>           {:>8.3} ms  (baseline)",
        ms(git)
    );
    println!(
        "first run at a new tag: run() returned    {:>8.3} ms  = {:.2}x git",
        ms(first),
        first.as_secs_f64() / git.as_secs_f64()
    );
    println!(
        "first checkout of a new tag (worktree)    {:>8.3} ms  = {:.2}x git",
        ms(first_co),
        first_co.as_secs_f64() / git.as_secs_f64()
    );
    println!(
        "run at a seen tag: run() returned         {:>8.3} ms  (no revision: {:.3} ms, overhead {:+.3} ms)",
        ms(reuse_r),
        ms(plain),
        ms(reuse_r) - ms(plain)
    );
    println!(
        "checkout of a seen tag                    {:>8.3} ms",
        ms(reuse_co)
    );
    engine.shutdown();
}
