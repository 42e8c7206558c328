//! `stormdesk pack install|update|revisions` and `run --content-version` on a
//! real git repository built by the test.

use std::path::Path;

use git2::{IndexAddOption, Repository, Signature};
use serde_json::Value;

use crate::{run, serve, serve_with, stderr, stdout};

/// A pack `gp` with tags v1.0.0 and v2.0.0 on `main`; the script prints its version.
pub(crate) fn git_pack(dir: &Path) -> Repository {
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    let repo = Repository::init(dir).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    std::fs::write(dir.join("pack.yaml"), "ref: gp\nname: gp\nversion: 1.0.0\n").unwrap();
    std::fs::write(
        dir.join("actions/ver.yaml"),
        "name: ver\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {immutable: true, default: 'echo one'}\n",
    )
    .unwrap();
    commit_and_tag(&repo, "v1.0.0");
    std::fs::write(
        dir.join("actions/ver.yaml"),
        "name: ver\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {immutable: true, default: 'echo two'}\n",
    )
    .unwrap();
    commit_and_tag(&repo, "v2.0.0");
    repo
}

fn commit_and_tag(repo: &Repository, tag: &str) {
    let sig = Signature::now("Test", "test@example.com").unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo
        .commit(Some("HEAD"), &sig, &sig, tag, &tree, &parents)
        .unwrap();
    repo.tag_lightweight(tag, &repo.find_object(oid, None).unwrap(), false)
        .unwrap();
}

#[test]
fn install_list_revisions_and_run_at_a_revision() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/gp");
    git_pack(&src);

    let o = run(home.path(), &["pack", "install", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("installed pack gp at main ("),
        "{}",
        stdout(&o)
    );

    let o = run(home.path(), &["pack", "revisions", "gp", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let revs: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = revs["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "tag")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v2.0.0", "v1.0.0"]);
    let o = run(home.path(), &["pack", "revisions", "gp"]);
    assert!(stdout(&o).contains("* branch main"), "{}", stdout(&o));

    let o = run(
        home.path(),
        &["run", "gp.ver", "--content-version", "v1.0.0", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["result"]["stdout"], "one");
    assert_eq!(e["parameters"]["content_version"], "v1.0.0");
    assert_eq!(e["context"]["commit"].as_str().unwrap().len(), 40);
    let o = run(home.path(), &["run", "gp.ver", "--json"]);
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["result"]["stdout"], "two");

    // Bad input exits 2 with a message naming the pack and the revision.
    let o = run(
        home.path(),
        &["run", "gp.ver", "--content-version", "v1.0.1"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("revision 'v1.0.1' not found in pack 'gp' (closest: v1.0.0"),
        "{}",
        stderr(&o)
    );
    let o = run(home.path(), &["pack", "install", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already installed"), "{}", stderr(&o));
    let o = run(home.path(), &["pack", "revisions", "examples"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a git repository"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_running_server_sees_installed_and_updated_packs_at_once() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/gp");
    let repo = git_pack(&src);
    let _server = serve(home.path());

    let o = run(
        home.path(),
        &["pack", "install", src.to_str().unwrap(), "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The run goes through the server (it says so), which reloaded its packs.
    let url = serde_json::from_str::<Value>(
        &std::fs::read_to_string(home.path().join("listener.json")).unwrap(),
    )
    .unwrap()["console"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(home.path(), &["run", "gp.ver"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("started on {url}")),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).starts_with("two\n"), "{}", stdout(&o));

    std::fs::write(
        src.join("actions/ver.yaml"),
        "name: ver\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {immutable: true, default: 'echo three'}\n",
    )
    .unwrap();
    commit_and_tag(&repo, "v3.0.0");
    let o = run(home.path(), &["pack", "update", "gp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("new tags: v3.0.0"), "{}", stdout(&o));
    let o = run(home.path(), &["run", "gp.ver"]);
    assert!(
        stderr(&o).contains(&format!("started on {url}")),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).starts_with("three\n"), "{}", stdout(&o));
    let o = run(
        home.path(),
        &["run", "gp.ver", "--content-version", "v1.0.0", "--json"],
    );
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["result"]["stdout"], "one");
}

/// `stormdesk pack register`: without an engine it loads and checks the
/// packs here; with one running, that engine picks up an action added on
/// disk at once; a pack that is not there fails with what to do.
#[test]
fn pack_register_checks_packs_or_makes_the_running_engine_load_them() {
    let home = tempfile::tempdir().unwrap();
    let pack = home.path().join("packs/rp");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: rp\nname: rp\nversion: 1.0.0\n",
    )
    .unwrap();
    let action = |name: &str| {
        std::fs::write(
            pack.join(format!("actions/{name}.yaml")),
            format!("name: {name}\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {{default: echo {name}}}\n"),
        )
        .unwrap()
    };
    action("first");

    let o = run(home.path(), &["pack", "register", "rp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("no engine is running") && stdout(&o).contains("actions       1"),
        "{}",
        stdout(&o)
    );

    let _server = serve(home.path());
    action("second");
    let o = run(home.path(), &["pack", "register", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let counts: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(counts["actions"].as_u64().unwrap() >= 2, "{counts}");
    let o = run(home.path(), &["run", "rp.second"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("second\n"), "{}", stdout(&o));

    let o = run(home.path(), &["pack", "register", "nosuch"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Pack \"nosuch\" not found on disk"),
        "{}",
        stderr(&o)
    );
}

/// `stormdesk pack remove`: an installed pack goes with its worktrees (the
/// running engine forgets it at once); StackStorm's system packs and packs
/// Stormdesk did not install are refused with what to do.
#[test]
fn pack_remove_takes_away_installed_packs_only() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/gp");
    git_pack(&src);
    let o = run(home.path(), &["pack", "install", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        home.path(),
        &["run", "gp.ver", "--content-version", "v1.0.0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(home.path().join("worktrees/gp").exists());
    let _server = serve(home.path());

    let o = run(home.path(), &["pack", "remove", "gp"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("removed pack gp ("),
        "{}",
        stdout(&o)
    );
    assert!(!home.path().join("packs/gp").exists());
    assert!(!home.path().join("worktrees/gp").exists());
    // The server forgot it.
    let o = run(home.path(), &["run", "gp.ver"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("'gp.ver' not found"), "{}", stderr(&o));

    let o = run(home.path(), &["pack", "remove", "core"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Uninstall includes an uninstallable pack - core."),
        "{}",
        stderr(&o)
    );
    let o = run(home.path(), &["pack", "remove", "examples"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("which Stormdesk did not install"),
        "{}",
        stderr(&o)
    );
    let o = run(home.path(), &["pack", "remove", "nosuch"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("pack 'nosuch' not found"),
        "{}",
        stderr(&o)
    );
}

/// With an engine running, `action list|get` and `pack list` show what it
/// has loaded (its own `--packs` included); with `--packs` here, what this
/// command loads.
#[test]
fn action_and_pack_listings_show_the_running_engine() {
    let home = tempfile::tempdir().unwrap();
    let mine = home.path().join("mine");
    let pack = mine.join("only");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: only\nname: only\nversion: 2.0.0\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/there.yaml"),
        "name: there\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo there}\n",
    )
    .unwrap();
    let _server = serve_with(home.path(), &["--packs", mine.to_str().unwrap()]);

    let o = run(home.path(), &["action", "get", "only.there"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let action: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(action["ref"], "only.there");
    assert_eq!(action["parameters"]["cmd"]["default"], "echo there");
    let o = run(home.path(), &["action", "list"]);
    assert!(stdout(&o).contains("only.there"), "{}", stdout(&o));
    let o = run(home.path(), &["pack", "list", "--json"]);
    let packs: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        packs.as_array().unwrap().iter().any(|p| p["ref"] == "only"),
        "{packs}"
    );
    let o = run(home.path(), &["action", "get", "only.nothere"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("'only.nothere' not found"),
        "{}",
        stderr(&o)
    );

    // --packs here: this command's own view, without the engine's pack.
    let other = home.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let o = run(
        home.path(),
        &["--packs", other.to_str().unwrap(), "action", "list"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("only.there"), "{}", stdout(&o));
}
