//! Python environments from the command line: built at `pack install` with
//! progress, per revision with `pack setup-venv --content-version`, and a
//! requirement that cannot be installed named with its line.

use std::path::Path;
use std::process::Output;

use git2::{IndexAddOption, Repository, Signature};
use serde_json::Value;

use crate::{stderr, stdout, stormdesk};

/// Downloads shared by every test run, and Debian's bare interpreter when
/// there is one, so nothing depends on what the machine's python3 has.
fn run_py(home: &Path, args: &[&str]) -> Output {
    let mut cmd = stormdesk(home);
    if std::env::var_os("STORMDESK_PYENV_CACHE").is_none() {
        cmd.env(
            "STORMDESK_PYENV_CACHE",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv-cache"),
        );
    }
    if Path::new("/usr/bin/python3").is_file() {
        cmd.env("STORMDESK_PYTHON", "/usr/bin/python3");
    }
    cmd.args(args).output().unwrap()
}

fn commit(repo: &Repository, message: &str) -> git2::Oid {
    let sig = Signature::now("Test", "test@example.com").unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .unwrap()
}

/// Pack `clipy`: `v1.0.0` pins tabulate 0.8.10, `v2.0.0` 0.9.0, `v3.0.0`
/// adds a requirement that does not exist.
fn py_pack(dir: &Path) {
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    let repo = Repository::init(dir).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: clipy\nname: clipy\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/ver.yaml"),
        "name: ver\nrunner_type: python-script\nentry_point: ver.py\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/ver.py"),
        "import tabulate\nfrom st2common.runners.base_action import Action\n\n\nclass Ver(Action):\n    def run(self):\n        return tabulate.__version__\n",
    )
    .unwrap();
    for (tag, reqs) in [
        ("v1.0.0", "tabulate==0.8.10\n"),
        ("v2.0.0", "tabulate==0.9.0\n"),
        (
            "v3.0.0",
            "tabulate==0.9.0\nstormdesk-no-such-package-xyz==1.0\n",
        ),
    ] {
        std::fs::write(dir.join("requirements.txt"), reqs).unwrap();
        let oid = commit(&repo, tag);
        repo.tag_lightweight(tag, &repo.find_object(oid, None).unwrap(), false)
            .unwrap();
    }
}

fn result(o: &Output) -> Value {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    let e: Value = serde_json::from_str(&stdout(o)).unwrap();
    assert_eq!(e["status"], "succeeded", "{e}");
    e["result"]["result"].clone()
}

#[test]
fn install_builds_the_environment_and_setup_venv_redoes_it_per_revision() {
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src/clipy");
    py_pack(&src);

    let o = run_py(
        home.path(),
        &["pack", "install", src.to_str().unwrap(), "--ref", "v1.0.0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let progress = stderr(&o);
    for part in [
        "building the base Python environment",
        "building the Python environment of pack clipy",
        "tabulate==0.8.10",
        "ready in",
    ] {
        assert!(progress.contains(part), "{part:?} not in: {progress}");
    }
    // Nothing points at the temporary directory the environment was built in.
    assert!(!progress.contains("Activate with"), "{progress}");
    assert_eq!(
        result(&run_py(home.path(), &["run", "clipy.ver", "--json"])),
        "0.8.10"
    );

    let o = run_py(
        home.path(),
        &["pack", "setup-venv", "clipy", "--content-version", "v2.0.0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("built"), "{}", stdout(&o));
    assert!(stderr(&o).contains("tabulate==0.9.0"), "{}", stderr(&o));
    assert_eq!(
        result(&run_py(
            home.path(),
            &["run", "clipy.ver", "--content-version", "v2.0.0", "--json"]
        )),
        "0.9.0"
    );

    let o = run_py(
        home.path(),
        &["pack", "setup-venv", "clipy", "--content-version", "v3.0.0"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    for part in [
        "requirement 'stormdesk-no-such-package-xyz==1.0' (requirements.txt line 2)",
        "stormdesk pack setup-venv clipy --content-version v3.0.0",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }

    // Installed at that revision, the pack loads but its environment
    // cannot be made: `pack list` says so, and how to retry.
    let o = run_py(
        home.path(),
        &[
            "pack",
            "install",
            src.to_str().unwrap(),
            "--ref",
            "v3.0.0",
            "--force",
        ],
    );
    assert!(!o.status.success(), "{}", stdout(&o));
    let listed = stdout(&run_py(home.path(), &["pack", "list"]));
    assert!(
        listed.contains("python environment failed (its Python actions cannot run; retry with `stormdesk pack setup-venv clipy`)")
            && listed.contains("requirements.txt line 2"),
        "{listed}"
    );
}
