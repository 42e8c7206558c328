//! A real git repository of a pack, built commit by commit with git2:
//! tags, branches and commits that change both scripts and action parameters.

use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Oid, Repository, Signature, Time};

pub struct GitPack {
    pub dir: PathBuf,
    pub repo: Repository,
    clock: i64,
}

/// The commits of [`deploy_pack`], by what they hold.
pub struct DeployShas {
    pub v1_0: Oid,
    pub v1_1: Oid,
    pub feature: Oid,
    pub main: Oid,
}

impl GitPack {
    pub fn init(dir: &Path) -> GitPack {
        std::fs::create_dir_all(dir).unwrap();
        let repo = Repository::init(dir).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        GitPack {
            dir: dir.to_path_buf(),
            repo,
            clock: 1_700_000_000,
        }
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Stages everything in the working tree and commits it on HEAD.
    pub fn commit(&mut self, message: &str) -> Oid {
        self.clock += 3600;
        let sig = Signature::new(
            "Stormdesk Test",
            "test@example.com",
            &Time::new(self.clock, 0),
        )
        .unwrap();
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
    }

    pub fn tag(&self, name: &str, oid: Oid) {
        let obj = self.repo.find_object(oid, None).unwrap();
        self.repo.tag_lightweight(name, &obj, false).unwrap();
    }

    /// Creates `name` at `at` and checks it out.
    pub fn branch(&self, name: &str, at: Oid) {
        let commit = self.repo.find_commit(at).unwrap();
        self.repo.branch(name, &commit, true).unwrap();
        self.switch(name);
    }

    pub fn switch(&self, name: &str) {
        self.repo.set_head(&format!("refs/heads/{name}")).unwrap();
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();
    }
}

/// Pack `deploy`: `v1.0.0`, `v1.1.0` (adds a parameter), branch `feature`,
/// and `main` one commit ahead (tagged `nightly`), checked out on `main`.
/// `greet` is a shell script printing its revision; `pyver` a Python action
/// importing a module from its directory and one from the pack's `lib/`.
pub fn deploy_pack(dir: &Path) -> (GitPack, DeployShas) {
    let mut g = GitPack::init(dir);
    g.write(
        "pack.yaml",
        "ref: deploy\nname: deploy\nversion: 1.0.0\ndescription: revisions test pack\n",
    );
    g.write(
        "actions/greet.yaml",
        "name: greet\nrunner_type: local-shell-script\nentry_point: greet.sh\nparameters:\n  who: {type: string, position: 0, default: world}\n",
    );
    g.write("actions/greet.sh", "#!/bin/sh\necho \"v1.0 hello $1\"\n");
    g.write(
        "actions/pyver.yaml",
        "name: pyver\nrunner_type: python-script\nentry_point: pyver.py\n",
    );
    g.write(
        "actions/pyver.py",
        "from st2common.runners.base_action import Action\nfrom helper import VALUE\nfrom packlib import LIB\n\n\nclass PyVer(Action):\n    def run(self):\n        return {\"local\": VALUE, \"lib\": LIB}\n",
    );
    g.write("actions/helper.py", "VALUE = 'one'\n");
    g.write("lib/packlib.py", "LIB = 'one'\n");
    let v1_0 = g.commit("First release");
    g.tag("v1.0.0", v1_0);

    g.write(
        "actions/greet.yaml",
        "name: greet\nrunner_type: local-shell-script\nentry_point: greet.sh\nparameters:\n  who: {type: string, position: 0, default: world}\n  greeting: {type: string, position: 1, default: hello}\n",
    );
    g.write("actions/greet.sh", "#!/bin/sh\necho \"v1.1 $2 $1\"\n");
    g.write("actions/helper.py", "VALUE = 'two'\n");
    g.write("lib/packlib.py", "LIB = 'two'\n");
    let v1_1 = g.commit("Greeting parameter");
    g.tag("v1.1.0", v1_1);

    g.branch("feature", v1_1);
    g.write("actions/greet.sh", "#!/bin/sh\necho \"feature $2 $1\"\n");
    let feature = g.commit("Feature greeting");

    g.switch("main");
    g.write("actions/greet.sh", "#!/bin/sh\necho \"main $2 $1\"\n");
    g.write("actions/helper.py", "VALUE = 'three'\n");
    let main = g.commit("Work after 1.1");
    g.tag("nightly", main);
    (
        g,
        DeployShas {
            v1_0,
            v1_1,
            feature,
            main,
        },
    )
}
