//! Packs from git: revisions, runs at a revision through worktrees, install,
//! update and every error path, on real repositories built by the tests.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use stormdesk_engine::git::{RevisionKind, Worktrees};
use stormdesk_engine::{Engine, EngineError, EngineOptions, RunRequest, Status};

use crate::common::*;
use crate::gitpack::{deploy_pack, DeployShas, GitPack};

struct GitFixture {
    fx: Fixture,
    src: PathBuf,
    git: GitPack,
    shas: DeployShas,
}

impl GitFixture {
    fn new() -> GitFixture {
        let fx = Fixture::new();
        let src = fx.path("src/deploy");
        let (git, shas) = deploy_pack(&src);
        GitFixture { fx, src, git, shas }
    }

    /// An engine that loads the repository directly as a pack directory.
    async fn engine(&self) -> Engine {
        self.engine_with(|_| {}).await
    }

    async fn engine_with(&self, f: impl FnOnce(&mut EngineOptions)) -> Engine {
        let mut opts = self.fx.options();
        opts.pack_dirs.push(self.src.clone());
        f(&mut opts);
        Engine::start(opts).await.unwrap()
    }

    fn worktrees_dir(&self) -> PathBuf {
        self.fx.home.path().join("worktrees/deploy")
    }
}

fn at(action: &str, rev: Option<&str>, p: Map<String, Value>) -> RunRequest {
    RunRequest {
        action: action.into(),
        parameters: p,
        content_version: rev.map(str::to_string),
        ..Default::default()
    }
}

async fn run_ok(engine: &Engine, req: RunRequest) -> stormdesk_engine::Execution {
    let e = engine.run(req).await.unwrap();
    let done = finished(engine, &e.id).await;
    assert_eq!(done.status, Status::Succeeded, "{:?}", done.result);
    done
}

/// Entries of `.git/worktrees` (git's administrative directories).
fn admin_entries(repo_dir: &Path) -> Vec<String> {
    match std::fs::read_dir(repo_dir.join(".git/worktrees")) {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect(),
        Err(_) => vec![],
    }
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_list_tags_in_semver_order_branches_and_commits() {
    let gf = GitFixture::new();
    let engine = gf.engine().await;
    let revs = engine.revisions("deploy").await.unwrap();
    assert!(revs.git);
    let tags: Vec<&str> = revs
        .revisions
        .iter()
        .filter(|r| r.kind == RevisionKind::Tag)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(tags, ["v1.1.0", "v1.0.0", "nightly"]);
    let branches: Vec<&str> = revs
        .revisions
        .iter()
        .filter(|r| r.kind == RevisionKind::Branch)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(branches, ["main", "feature"], "checked-out branch first");
    let commits: Vec<&str> = revs
        .revisions
        .iter()
        .filter(|r| r.kind == RevisionKind::Commit)
        .map(|r| r.subject.as_str())
        .collect();
    assert_eq!(
        commits,
        ["Work after 1.1", "Greeting parameter", "First release"]
    );
    let checked = revs.checked_out.unwrap();
    assert_eq!(checked.sha, gf.shas.main.to_string());
    assert_eq!(checked.name.as_deref(), Some("main"));
    let v10 = revs.revisions.iter().find(|r| r.name == "v1.0.0").unwrap();
    assert_eq!(v10.sha, gf.shas.v1_0.to_string());
    assert_eq!(v10.subject, "First release");
    assert!(v10.date.starts_with("2023-11-"), "{}", v10.date);
    assert!(!v10.checked_out);
    assert!(revs
        .revisions
        .iter()
        .filter(|r| r.checked_out)
        .all(|r| r.sha == gf.shas.main.to_string()));

    // A pack that is not a git repository has no revisions.
    let plain = engine.revisions("t").await.unwrap();
    assert!(!plain.git);
    assert!(plain.revisions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_use_the_script_and_parameters_of_the_asked_revision() {
    let gf = GitFixture::new();
    let engine = gf.engine().await;

    let v10 = run_ok(&engine, at("deploy.greet", Some("v1.0.0"), Map::new())).await;
    assert_eq!(v10.result["stdout"], json!("v1.0 hello world"));
    assert_eq!(v10.content_version(), Some("v1.0.0"));
    assert_eq!(
        v10.commit().map(str::to_string),
        Some(gf.shas.v1_0.to_string())
    );

    let v11 = run_ok(
        &engine,
        at(
            "deploy.greet",
            Some("v1.1.0"),
            params(&[("greeting", json!("hey"))]),
        ),
    )
    .await;
    assert_eq!(v11.result["stdout"], json!("v1.1 hey world"));
    assert_eq!(
        v11.commit().map(str::to_string),
        Some(gf.shas.v1_1.to_string())
    );

    // `greeting` does not exist at v1.0.0: the parameters come from that revision.
    let err = engine
        .run(at(
            "deploy.greet",
            Some("v1.0.0"),
            params(&[("greeting", json!("hey"))]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");
    assert!(err.to_string().contains("greeting"), "{err}");

    let feature = run_ok(&engine, at("deploy.greet", Some("feature"), Map::new())).await;
    assert_eq!(feature.result["stdout"], json!("feature hello world"));
    assert_eq!(
        feature.commit().map(str::to_string),
        Some(gf.shas.feature.to_string())
    );

    let short = gf.shas.v1_1.to_string()[..7].to_string();
    let by_sha = run_ok(&engine, at("deploy.greet", Some(&short), Map::new())).await;
    assert_eq!(by_sha.result["stdout"], json!("v1.1 hello world"));
    assert_eq!(by_sha.content_version(), Some(short.as_str()));
    assert_eq!(
        by_sha.commit().map(str::to_string),
        Some(gf.shas.v1_1.to_string())
    );

    // Without a revision: the checked-out content, with its commit recorded.
    let installed = run_ok(&engine, at("deploy.greet", None, Map::new())).await;
    assert_eq!(installed.result["stdout"], json!("main hello world"));
    assert_eq!(
        installed.commit().map(str::to_string),
        Some(gf.shas.main.to_string())
    );
    assert_eq!(installed.content_version(), None);

    // The action's detail at a revision shows that revision's parameters.
    let old = engine
        .action_at("deploy.greet", Some("v1.0.0"))
        .await
        .unwrap();
    assert!(!old.parameters.contains_key("greeting"));
    let new = engine
        .action_at("deploy.greet", Some("v1.1.0"))
        .await
        .unwrap();
    assert!(new.parameters.contains_key("greeting"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_actions_import_local_modules_and_lib_from_the_revision() {
    let gf = GitFixture::new();
    let engine = gf.engine().await;
    for (rev, want) in [(Some("v1.0.0"), "one"), (Some("v1.1.0"), "two")] {
        let done = run_ok(&engine, at("deploy.pyver", rev, Map::new())).await;
        assert_eq!(
            done.result["result"],
            json!({"local": want, "lib": want}),
            "{rev:?}"
        );
    }
    let head = run_ok(&engine, at("deploy.pyver", None, Map::new())).await;
    assert_eq!(
        head.result["result"],
        json!({"local": "three", "lib": "two"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revision_names_the_pack_and_the_closest_revisions() {
    let gf = GitFixture::new();
    let engine = gf.engine().await;
    let err = engine
        .run(at("deploy.greet", Some("v1.1.1"), Map::new()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.code(), "not_found", "{msg}");
    assert!(
        msg.contains("'v1.1.1'") && msg.contains("'deploy'"),
        "{msg}"
    );
    assert!(msg.contains("v1.1.0"), "closest tags listed: {msg}");
    assert!(msg.contains("stormdesk pack revisions deploy"), "{msg}");

    let err = engine
        .run(at("deploy.greet", Some("featur"), Map::new()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("feature"), "{err}");

    // Nothing was recorded for refused runs.
    let all = engine.executions(Default::default()).await.unwrap();
    assert!(all.is_empty(), "{all:?}");

    // An action that only exists later is named as missing at that revision.
    let mut g = gf.git;
    g.write(
        "actions/newer.yaml",
        "name: newer\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo new'}\n",
    );
    g.commit("Add newer");
    engine.reload_packs();
    let err = engine
        .run(at("deploy.newer", Some("v1.0.0"), Map::new()))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("action 'deploy.newer' does not exist at revision 'v1.0.0' of pack 'deploy'"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_that_is_not_a_git_repository_refuses_a_revision_clearly() {
    let fx = Fixture::new();
    let engine = fx.engine().await;
    let err = engine
        .run(at("t.echo", Some("v1"), params(&[("msg", json!("x"))])))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.code(), "invalid_input", "{msg}");
    assert!(
        msg.contains("pack 't'") && msg.contains("is not a git repository") && msg.contains("'v1'"),
        "{msg}"
    );
    assert!(msg.contains("stormdesk pack install"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_runs_over_four_revisions_share_four_worktrees() {
    let gf = GitFixture::new();
    let engine = gf.engine().await;
    let revs = ["v1.0.0", "v1.1.0", "feature", "nightly"];
    let want = [
        "v1.0 hello world",
        "v1.1 hello world",
        "feature hello world",
        "main hello world",
    ];
    let mut runs = Vec::new();
    for i in 0..20 {
        let engine = engine.clone();
        let rev = revs[i % 4];
        runs.push(tokio::spawn(async move {
            let e = engine
                .run(at("deploy.greet", Some(rev), Map::new()))
                .await
                .unwrap();
            (i, finished(&engine, &e.id).await)
        }));
    }
    for run in runs {
        let (i, done) = run.await.unwrap();
        assert_eq!(done.status, Status::Succeeded, "{:?}", done.result);
        assert_eq!(
            done.result["stdout"],
            json!(want[i % 4]),
            "run {i} at {}",
            revs[i % 4]
        );
    }
    let mut shas = vec![
        gf.shas.v1_0.to_string(),
        gf.shas.v1_1.to_string(),
        gf.shas.feature.to_string(),
        gf.shas.main.to_string(),
    ];
    shas.sort();
    assert_eq!(
        dir_names(&gf.worktrees_dir()),
        shas,
        "one worktree per commit, nothing half-made"
    );
    assert_eq!(
        admin_entries(&gf.src).len(),
        4,
        "{:?}",
        admin_entries(&gf.src)
    );
    // git itself sees four valid worktrees.
    let repo = git2::Repository::open(&gf.src).unwrap();
    let names = repo.worktrees().unwrap();
    assert_eq!(names.len(), 4);
    for name in names.iter().flatten() {
        repo.find_worktree(name).unwrap().validate().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_create_each_worktree_exactly_once() {
    let gf = GitFixture::new();
    let worktrees = std::sync::Arc::new(Worktrees::new(gf.fx.path("wt"), 16));
    let revs = ["v1.0.0", "v1.1.0", "feature", "main"];
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (w, src) = (worktrees.clone(), gf.src.clone());
        tasks.push(tokio::spawn(async move {
            let lease = w.checkout("deploy", &src, revs[i % 4]).await.unwrap();
            let script =
                std::fs::read_to_string(lease.checkout().dir.join("actions/greet.sh")).unwrap();
            (i, lease.fresh(), lease.checkout().sha.clone(), script)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (i, fresh, sha, script) = t.await.unwrap();
        created += usize::from(fresh);
        let want = match i % 4 {
            0 => (gf.shas.v1_0, "v1.0"),
            1 => (gf.shas.v1_1, "v1.1"),
            2 => (gf.shas.feature, "feature"),
            _ => (gf.shas.main, "main"),
        };
        assert_eq!(sha, want.0.to_string());
        assert!(script.contains(want.1), "{script}");
    }
    assert_eq!(created, 4, "each commit's worktree is created exactly once");

    // Reuse is served from memory; a new cache (a restarted engine) reuses the disk.
    let again = worktrees
        .checkout("deploy", &gf.src, "v1.0.0")
        .await
        .unwrap();
    assert!(!again.fresh());
    let restarted = Worktrees::new(gf.fx.path("wt"), 16);
    let reused = restarted
        .checkout("deploy", &gf.src, "v1.0.0")
        .await
        .unwrap();
    assert_eq!(reused.checkout().dir, again.checkout().dir);
    assert_eq!(admin_entries(&gf.src).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_worktrees_beyond_the_limit_are_pruned_and_git_is_kept_clean() {
    let gf = GitFixture::new();
    let worktrees = Worktrees::new(gf.fx.path("wt"), 2);
    let held = worktrees
        .checkout("deploy", &gf.src, "v1.0.0")
        .await
        .unwrap();
    for rev in ["v1.1.0", "feature", "main"] {
        let lease = worktrees.checkout("deploy", &gf.src, rev).await.unwrap();
        drop(lease);
        worktrees.prune("deploy", &gf.src);
    }
    let left = dir_names(&gf.fx.path("wt/deploy"));
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&gf.shas.v1_0.to_string()),
        "the worktree in use is never pruned: {left:?}"
    );
    assert!(
        left.contains(&gf.shas.main.to_string()),
        "most recent kept: {left:?}"
    );
    assert_eq!(
        admin_entries(&gf.src).len(),
        2,
        "{:?}",
        admin_entries(&gf.src)
    );
    drop(held);
    // A pruned revision comes back on demand.
    let back = worktrees
        .checkout("deploy", &gf.src, "v1.1.0")
        .await
        .unwrap();
    assert!(back.fresh());
    assert!(back.checkout().dir.join("actions/greet.sh").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_made_worktrees_and_stale_entries_are_cleaned_at_start() {
    let gf = GitFixture::new();
    let wt = gf.worktrees_dir();
    {
        let engine = gf.engine().await;
        run_ok(&engine, at("deploy.greet", Some("v1.0.0"), Map::new())).await;
    }
    // A crash mid-creation leaves a temporary directory; a removed worktree a stale entry.
    std::fs::create_dir_all(wt.join(".tmp-deadbeef-0001")).unwrap();
    std::fs::write(wt.join(".tmp-deadbeef-0001/half"), "x").unwrap();
    let stale = gf.src.join(".git/worktrees/0123456789ab-00000001");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(
        stale.join("gitdir"),
        format!("{}/gone/.git\n", wt.display()),
    )
    .unwrap();
    std::fs::write(stale.join("commondir"), "../..\n").unwrap();
    std::fs::write(stale.join("HEAD"), format!("{}\n", gf.shas.v1_0)).unwrap();
    let engine = gf.engine().await;
    assert!(
        !wt.join(".tmp-deadbeef-0001").exists(),
        "half-made worktree removed at start"
    );
    assert!(!stale.exists(), "stale entry pruned at start");
    assert_eq!(admin_entries(&gf.src).len(), 1);
    let done = run_ok(&engine, at("deploy.greet", Some("v1.0.0"), Map::new())).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    assert_eq!(
        admin_entries(&gf.src).len(),
        1,
        "the surviving worktree is reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_repository_is_reported_with_pack_and_revision() {
    let gf = GitFixture::new();
    // Remove the blob of v1.0.0's greet.sh from the object database.
    let blob = {
        let commit = gf.git.repo.find_commit(gf.shas.v1_0).unwrap();
        let tree = commit.tree().unwrap();
        tree.get_path(Path::new("actions/greet.sh"))
            .unwrap()
            .id()
            .to_string()
    };
    let object = gf
        .src
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    std::fs::remove_file(&object).unwrap();
    let engine = gf.engine().await;
    let err = engine
        .run(at("deploy.greet", Some("v1.0.0"), Map::new()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EngineError::Git(_)), "{msg}");
    assert!(
        msg.contains("corrupt") && msg.contains("'deploy'") && msg.contains("'v1.0.0'"),
        "{msg}"
    );
    assert!(
        dir_names(&gf.worktrees_dir()).is_empty(),
        "nothing half-made: {:?}",
        dir_names(&gf.worktrees_dir())
    );
    assert!(admin_entries(&gf.src).is_empty());
    // Other revisions still run.
    run_ok(&engine, at("deploy.greet", Some("v1.1.0"), Map::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_leaves_no_half_made_worktree() {
    if !root_or_skip("mounting a tiny tmpfs to fill the disk") {
        return;
    }
    let mut gf = GitFixture::new();
    gf.git.branch("big", gf.shas.main);
    gf.git.write("actions/data.bin", &"x".repeat(512 * 1024));
    gf.git.commit("Big file");
    let wt_root = gf.fx.home.path().join("worktrees");
    std::fs::create_dir_all(&wt_root).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&wt_root)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let guard = Unmount(wt_root.clone());
    let engine = gf.engine().await;
    let err = engine
        .run(at("deploy.greet", Some("big"), Map::new()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("could not create the worktree of pack 'deploy' at revision 'big'"),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("space"), "{msg}");
    assert!(
        dir_names(&wt_root.join("deploy")).is_empty(),
        "{:?}",
        dir_names(&wt_root.join("deploy"))
    );
    assert!(
        admin_entries(&gf.src).is_empty(),
        "{:?}",
        admin_entries(&gf.src)
    );
    drop(guard);
    // With room again, the same revision runs.
    let done = run_ok(&engine, at("deploy.greet", Some("big"), Map::new())).await;
    assert_eq!(done.result["stdout"], json!("main hello world"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_from_a_path_and_a_url_then_update_from_origin() {
    let gf = GitFixture::new();
    let engine = gf.engine_with(|o| o.pack_dirs.clear()).await;
    assert!(engine.action("deploy.greet").is_err());

    let installed = engine
        .install_pack(gf.src.to_str().unwrap(), None, false)
        .await
        .unwrap();
    assert_eq!(installed.pack, "deploy");
    assert_eq!(installed.sha, Some(gf.shas.main.to_string()));
    assert_eq!(installed.revision.as_deref(), Some("main"));
    assert_eq!(installed.dir, gf.fx.home.path().join("packs/deploy"));
    let summary = engine
        .packs()
        .into_iter()
        .find(|p| p.ref_ == "deploy")
        .unwrap();
    assert!(summary.git);
    let done = run_ok(&engine, at("deploy.greet", Some("v1.0.0"), Map::new())).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    // Remote branches are revisions too.
    let done = run_ok(&engine, at("deploy.greet", Some("feature"), Map::new())).await;
    assert_eq!(done.result["stdout"], json!("feature hello world"));

    let again = engine
        .install_pack(gf.src.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "conflict");
    assert!(
        again.to_string().contains("stormdesk pack update deploy"),
        "{again}"
    );

    // Upstream moves on: update fetches the new tag and fast-forwards main.
    let mut g = gf.git;
    g.write("actions/greet.sh", "#!/bin/sh\necho \"v1.2 $2 $1\"\n");
    let v12 = g.commit("Release 1.2");
    g.tag("v1.2.0", v12);
    let updated = engine.update_pack("deploy").await.unwrap();
    assert_eq!(updated.before, gf.shas.main.to_string());
    assert_eq!(updated.after, v12.to_string());
    assert_eq!(updated.new_tags, ["v1.2.0"]);
    assert_eq!(updated.branch.as_deref(), Some("main"));
    let done = run_ok(&engine, at("deploy.greet", None, Map::new())).await;
    assert_eq!(done.result["stdout"], json!("v1.2 hello world"));
    let revs = engine.revisions("deploy").await.unwrap();
    assert_eq!(revs.revisions[0].name, "v1.2.0");

    // A file:// URL pinned at a tag, replacing the installed pack.
    let url = format!("file://{}", gf.src.display());
    // `1.0.0` finds tag `v1.0.0`, as StackStorm's pack install does.
    let pinned = engine
        .install_pack(&url, Some("1.0.0"), true)
        .await
        .unwrap();
    assert_eq!(pinned.sha, Some(gf.shas.v1_0.to_string()));
    assert_eq!(pinned.revision.as_deref(), Some("v1.0.0"));
    let done = run_ok(&engine, at("deploy.greet", None, Map::new())).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    let revs = engine.revisions("deploy").await.unwrap();
    assert_eq!(revs.checked_out.unwrap().name.as_deref(), Some("v1.0.0"));
    // Pinned at a tag, an update fetches but does not move.
    let updated = engine.update_pack("deploy").await.unwrap();
    assert_eq!(updated.after, gf.shas.v1_0.to_string());
    assert_eq!(updated.branch, None);
}

/// A pack removed and installed again, or its worktrees deleted by another
/// process (`stormdesk pack remove` or `pack install --force` from the
/// command line while the engine runs): a revision run before runs again,
/// from a worktree made anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_run_before_its_pack_was_removed_and_installed_again_runs_again() {
    let gf = GitFixture::new();
    let engine = gf.engine_with(|o| o.pack_dirs.clear()).await;
    let src = gf.src.to_str().unwrap();
    let greet = || at("deploy.greet", Some("v1.0.0"), Map::new());
    engine.install_pack(src, None, false).await.unwrap();
    let done = run_ok(&engine, greet()).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    engine.uninstall_pack("deploy").unwrap();
    engine.install_pack(src, None, false).await.unwrap();
    let done = run_ok(&engine, greet()).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    std::fs::remove_dir_all(gf.worktrees_dir()).unwrap();
    let done = run_ok(&engine, greet()).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_refuses_what_is_not_a_git_pack_and_update_reports_locks() {
    let gf = GitFixture::new();
    let engine = gf.engine_with(|o| o.pack_dirs.clear()).await;

    // A plain directory without a pack.
    let plain = gf.fx.path("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let err = engine
        .install_pack(plain.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("holds no StackStorm pack"),
        "{err}"
    );

    // A repository without pack.yaml.
    let mut nopack = GitPack::init(&gf.fx.path("nopack"));
    nopack.write("README.md", "no pack here\n");
    nopack.commit("Readme");
    let err = engine
        .install_pack(nopack.dir.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("holds no StackStorm pack"),
        "{err}"
    );

    // A URL that does not answer.
    let err = engine
        .install_pack("http://127.0.0.1:9/nothing.git", None, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not clone 'http://127.0.0.1:9/nothing.git'"),
        "{err}"
    );
    // A path that is not there says so (not "unsupported URL protocol").
    let gone = gf.fx.path("no/such/pack");
    let err = engine
        .install_pack(gone.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "could not clone '{}': there is no such path on this machine",
            gone.display()
        )),
        "{err}"
    );
    // A pack.yaml that cannot be read is named as the source has it, not
    // as the copy being installed.
    let mut noref = GitPack::init(&gf.fx.path("noref"));
    noref.write("pack.yaml", "description: no ref, no name\n");
    noref.commit("Pack without a ref");
    let err = engine
        .install_pack(noref.dir.to_str().unwrap(), None, false)
        .await
        .unwrap_err();
    let said = err.to_string();
    assert!(
        said.starts_with(&format!(
            "the pack in '{}' cannot be loaded: ",
            noref.dir.display()
        )) && said.contains(&format!("{}/pack.yaml", noref.dir.display()))
            && !said.contains(".install-"),
        "{said}"
    );
    // Nothing half-installed is left.
    let left: Vec<String> = dir_names(&gf.fx.home.path().join("packs"));
    assert!(left.is_empty(), "{left:?}");

    // Unknown revision at install: named in the source, with what to do (no
    // `stormdesk pack` command knows a pack that is not installed).
    let err = engine
        .install_pack(gf.src.to_str().unwrap(), Some("v9"), false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "revision 'v9' not found in '{}'",
            gf.src.display()
        )) && err.to_string().contains("git ls-remote"),
        "{err}"
    );
    assert!(dir_names(&gf.fx.home.path().join("packs")).is_empty());

    // A lock held by another git process stops the update with a clear message.
    engine
        .install_pack(gf.src.to_str().unwrap(), None, false)
        .await
        .unwrap();
    let mut g = gf.git;
    g.write("actions/greet.sh", "#!/bin/sh\necho moved\n");
    g.commit("Move main");
    let lock = gf
        .fx
        .home
        .path()
        .join("packs/deploy/.git/refs/remotes/origin/main.lock");
    std::fs::write(&lock, "").unwrap();
    let err = engine.update_pack("deploy").await.unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    assert!(
        err.to_string().contains("locked by another git process"),
        "{err}"
    );
    std::fs::remove_file(&lock).unwrap();
    let updated = engine.update_pack("deploy").await.unwrap();
    assert_ne!(updated.before, updated.after);

    // Updating a pack that is not from git.
    let err = engine.update_pack("examples").await.unwrap_err();
    assert!(
        err.to_string().contains("is not installed from git"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_revisions_shows_actions_at_a_revision_and_runs_there() {
    use axum::http::StatusCode;
    let gf = GitFixture::new();
    let engine = gf.engine().await;
    let router = stormdesk_engine::api::router(engine.clone());
    let token = engine.api_token().to_string();
    let call = |method: &'static str, uri: &'static str, body: Option<Value>| {
        crate::api::call(router.clone(), method, uri, &token, body)
    };

    let (status, revs) = call("GET", "/v1/packs/deploy/revisions", None).await;
    assert_eq!(status, StatusCode::OK, "{revs}");
    assert_eq!(revs["git"], json!(true));
    assert_eq!(revs["revisions"][0]["name"], json!("v1.1.0"));
    assert_eq!(revs["checked_out"]["name"], json!("main"));

    let (_, packs) = call("GET", "/v1/packs", None).await;
    let deploy = packs
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ref"] == "deploy")
        .unwrap();
    assert_eq!(deploy["git"], json!(true));

    let (status, old) = call(
        "GET",
        "/v1/actions/deploy.greet?content_version=v1.0.0",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert!(old["parameters"].get("greeting").is_none());
    let (_, new) = call("GET", "/v1/actions/deploy.greet", None).await;
    assert!(new["parameters"].get("greeting").is_some());

    let (status, err) = call("GET", "/v1/actions/deploy.greet?content_version=nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["code"], json!("not_found"));
    assert!(err["faultstring"]
        .as_str()
        .unwrap()
        .contains("revision 'nope' not found in pack 'deploy'"));

    let (status, created) = call(
        "POST",
        "/v1/executions",
        Some(json!({"action": "deploy.greet", "content_version": "v1.0.0"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let done = finished(&engine, created["id"].as_str().unwrap()).await;
    assert_eq!(done.result["stdout"], json!("v1.0 hello world"));
    assert_eq!(
        done.commit().map(str::to_string),
        Some(gf.shas.v1_0.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_and_all_its_tasks_run_at_the_revision_of_the_top_level_run() {
    let mut gf = GitFixture::new();
    let flow = |g: &GitPack| {
        g.write(
            "actions/flow.yaml",
            "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n",
        );
        g.write(
            "actions/workflows/flow.yaml",
            r#"version: 1.0
tasks:
  greet:
    action: deploy.greet
    next:
      - when: <% succeeded() %>
        publish:
          - here: <% result().stdout %>
        do: elsewhere
  elsewhere:
    action: deploy.greet
    input:
      content_version: feature
    next:
      - when: <% succeeded() %>
        publish:
          - there: <% result().stdout %>
output:
  - here: <% ctx().here %>
  - there: <% ctx().there %>
"#,
        );
    };
    gf.git.branch("flows-1", gf.shas.v1_0);
    flow(&gf.git);
    let f1 = gf.git.commit("Flow on 1.0");
    gf.git.tag("flow-v1", f1);
    gf.git.branch("flows-2", gf.shas.v1_1);
    flow(&gf.git);
    let f2 = gf.git.commit("Flow on 1.1");
    gf.git.tag("flow-v2", f2);
    gf.git.switch("main");
    let engine = gf.engine().await;

    for (rev, sha, want) in [
        ("flow-v1", f1, "v1.0 hello world"),
        ("flow-v2", f2, "v1.1 hello world"),
    ] {
        let done = run_ok(&engine, at("deploy.flow", Some(rev), Map::new())).await;
        assert_eq!(done.commit().map(str::to_string), Some(sha.to_string()));
        assert_eq!(
            done.result["output"],
            json!({"here": want, "there": "feature hello world"}),
            "{rev}"
        );
        let children = engine.descendants(&done.id, 1).await.unwrap();
        assert_eq!(
            children[0].commit().map(str::to_string),
            Some(sha.to_string()),
            "tasks inherit the commit"
        );
        assert_eq!(
            children[1].commit().map(str::to_string),
            Some(gf.shas.feature.to_string()),
            "unless they pick one"
        );
    }
    // The installed checkout (main) has no such workflow.
    let err = engine
        .run(at("deploy.flow", None, Map::new()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worktrees_are_clean_checkouts_with_modes_links_and_filters() {
    use std::os::unix::fs::PermissionsExt;
    let mut gf = GitFixture::new();
    gf.git.branch("extras", gf.shas.main);
    std::os::unix::fs::symlink("greet.sh", gf.src.join("actions/link.sh")).unwrap();
    gf.git.write("lib/deep/nested/mod.py", "X = 1\n");
    let plain = gf.git.commit("Link and nested dir");
    gf.git.write(".gitattributes", "*.txt text eol=crlf\n");
    gf.git.write("notes.txt", "one\ntwo\n");
    let filtered = gf.git.commit("Attributes");
    let worktrees = Worktrees::new(gf.fx.path("wt"), 16);
    for (rev, oid) in [
        ("v1.1.0", gf.shas.v1_1),
        ("extras~1", plain),
        ("extras", filtered),
    ] {
        let lease = worktrees.checkout("deploy", &gf.src, rev).await.unwrap();
        let dir = lease.checkout().dir.clone();
        assert_eq!(lease.checkout().sha, oid.to_string());
        let wt = git2::Repository::open(&dir).unwrap();
        assert_eq!(wt.head().unwrap().target(), Some(oid));
        let changed: Vec<String> = wt
            .statuses(Some(git2::StatusOptions::new().include_untracked(true)))
            .unwrap()
            .iter()
            .map(|s| format!("{:?} {}", s.status(), s.path().unwrap_or("")))
            .collect();
        assert!(changed.is_empty(), "{rev}: {changed:?}");
        let mode = std::fs::metadata(dir.join("actions/greet.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{rev}: scripts stay executable");
    }
    let extras = worktrees
        .checkout("deploy", &gf.src, "extras~1")
        .await
        .unwrap();
    let link = extras.checkout().dir.join("actions/link.sh");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("greet.sh"));
    assert!(extras
        .checkout()
        .dir
        .join("lib/deep/nested/mod.py")
        .is_file());
    let filtered = worktrees
        .checkout("deploy", &gf.src, "extras")
        .await
        .unwrap();
    let notes = std::fs::read_to_string(filtered.checkout().dir.join("notes.txt")).unwrap();
    assert_eq!(notes, "one\r\ntwo\r\n", ".gitattributes filters apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_copies_a_plain_pack_directory_and_reports_what_does_not_run() {
    let gf = GitFixture::new();
    let engine = gf.engine_with(|o| o.pack_dirs.clear()).await;
    let src = gf.fx.path("plainpack");
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "pack.yaml",
        "ref: plainpack\nname: plainpack\nversion: 0.1.0\n",
    );
    write(
        "actions/hi.yaml",
        "name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo plain\n",
    );
    write(
        "actions/broken.yaml",
        "name: broken\nrunner_type: local-shell-cmd\nparameters:\n  x:\n    type: strin\n",
    );
    write(
        "actions/chain.yaml",
        "name: chain\nrunner_type: telepathy\n",
    );
    write("sensors/watch.yaml", "class_name: Watch\n");
    write("rules/r1.yaml", "name: r1\n");
    write("rules/r2.yaml", "name: r2\n");

    // A revision makes no sense for a directory.
    let err = engine
        .install_pack(src.to_str().unwrap(), Some("v1"), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("plain directory"), "{err}");

    let installed = engine
        .install_pack(src.to_str().unwrap(), None, false)
        .await
        .unwrap();
    assert_eq!(installed.sha, None);
    assert_eq!(installed.pack, "plainpack");
    assert!(installed.dir.join("actions/hi.yaml").is_file());
    let r = &installed.report;
    assert_eq!(r.actions, 1);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert!(
        r.errors[0].contains("broken.yaml") && r.errors[0].contains("strin"),
        "{:?}",
        r.errors
    );
    assert_eq!(r.unsupported.len(), 1);
    assert!(
        r.unsupported[0].starts_with("chain: unknown runner type 'telepathy'"),
        "{:?}",
        r.unsupported
    );
    assert_eq!(r.ignored.len(), 2, "{:?}", r.ignored);
    assert!(
        r.ignored[0].starts_with("sensors (1 file)"),
        "{:?}",
        r.ignored
    );
    assert!(
        r.ignored[1].starts_with("rules (2 files)"),
        "{:?}",
        r.ignored
    );

    let done = run_ok(&engine, at("plainpack.hi", None, Map::new())).await;
    assert_eq!(done.result["stdout"], json!("plain"));
    // A broken action says why it did not load, not "not found".
    let err = engine
        .run(stormdesk_engine::RunRequest {
            action: "plainpack.broken".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("invalid metadata") && msg.contains("strin"),
        "{msg}"
    );
    let summary = engine
        .packs()
        .into_iter()
        .find(|p| p.ref_ == "plainpack")
        .unwrap();
    assert!(!summary.git);
    assert_eq!(summary.ignored, r.ignored);
}
