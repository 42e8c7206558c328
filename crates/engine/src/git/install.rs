//! Installing a pack from a git URL or a local repository into
//! `<data>/packs/<pack>`, and updating it from its origin.

use std::path::{Path, PathBuf};

use git2::build::{CheckoutBuilder, RepoBuilder};
use git2::{BranchType, FetchOptions, RemoteCallbacks, Repository};
use serde::Serialize;

use super::repo::{is_git_repo, resolve};
use super::GitError;
use crate::pack;

/// Progress of a clone or fetch, for a progress line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub received_objects: usize,
    pub total_objects: usize,
    pub received_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub pack: String,
    pub dir: PathBuf,
    /// The commit checked out; none for a plain directory.
    pub sha: Option<String>,
    /// The branch or tag checked out, when one was asked for or is the default.
    pub revision: Option<String>,
    /// What loaded and what did not.
    pub report: PackReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct Updated {
    pub pack: String,
    pub before: String,
    pub after: String,
    /// The branch followed, or none when the pack is pinned at a tag or commit.
    pub branch: Option<String>,
    /// Tags that did not exist before the fetch.
    pub new_tags: Vec<String>,
}

/// Removes a directory when dropped unless disarmed: nothing half-installed stays.
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn callbacks<'a>(progress: &'a mut dyn FnMut(Progress)) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.transfer_progress(move |p| {
        progress(Progress {
            received_objects: p.received_objects(),
            total_objects: p.total_objects(),
            received_bytes: p.received_bytes(),
        });
        true
    });
    cb
}

/// Where a pack comes from.
enum Source {
    /// A git URL, or a local repository (made absolute so the clone's origin stays valid).
    Git(String),
    /// A plain directory holding a pack: copied, and it has no revisions.
    Directory(PathBuf),
}

fn classify_source(source: &str) -> Result<Source, GitError> {
    let path = Path::new(source);
    let url = source.contains("://") || (source.contains('@') && source.contains(':'));
    if !url && !path.exists() && (path.is_absolute() || source.starts_with('.')) {
        return Err(GitError::Clone {
            source_: source.to_string(),
            message: format!(
                "there is no {} on this machine: give the path of a pack's git repository or directory, or a git URL (https://..., git@host:..., file://...)",
                if path.is_absolute() { "such path" } else { "such path (relative to the engine's working directory)" }
            ),
        });
    }
    if url || !path.exists() {
        return Ok(Source::Git(source.to_string()));
    }
    let abs = path
        .canonicalize()
        .map_err(|e| GitError::io("reading the pack source", path, e))?;
    if is_git_repo(&abs) || abs.join("HEAD").is_file() {
        return Ok(Source::Git(abs.display().to_string()));
    }
    if !abs.is_dir() {
        return Err(GitError::Clone {
            source_: source.to_string(),
            message: format!(
                "{} is neither a git repository nor a pack directory: give a git URL or the directory holding pack.yaml",
                abs.display()
            ),
        });
    }
    Ok(Source::Directory(abs))
}

/// Copies the pack directory `from` to `to` (files, directories, symlinks,
/// modes), iteratively: depth is not limited by the call stack.
fn copy_pack_dir(from: &Path, to: &Path) -> Result<(), GitError> {
    let mut pending = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = pending.pop() {
        std::fs::create_dir_all(&dst).map_err(|e| GitError::io("copying the pack", &dst, e))?;
        let entries =
            std::fs::read_dir(&src).map_err(|e| GitError::io("reading the pack", &src, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| GitError::io("reading the pack", &src, e))?;
            let path = entry.path();
            let target = dst.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| GitError::io("reading the pack", &path, e))?;
            if kind.is_dir() {
                pending.push((path, target));
            } else if kind.is_symlink() {
                let link = std::fs::read_link(&path)
                    .map_err(|e| GitError::io("reading the pack", &path, e))?;
                std::os::unix::fs::symlink(&link, &target)
                    .map_err(|e| GitError::io("copying the pack", &target, e))?;
            } else {
                std::fs::copy(&path, &target)
                    .map_err(|e| GitError::io("copying the pack", &target, e))?;
            }
        }
    }
    Ok(())
}

/// Clones `source` and checks out `rev` (default: the remote's default branch),
/// then moves it to `<packs_dir>/<pack ref>`. With `force`, an installed pack of
/// the same ref is replaced.
pub fn install_pack(
    packs_dir: &Path,
    source: &str,
    rev: Option<&str>,
    force: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Installed, GitError> {
    let origin = classify_source(source)?;
    std::fs::create_dir_all(packs_dir)
        .map_err(|e| GitError::io("creating the packs directory", packs_dir, e))?;
    let tmp = packs_dir.join(format!(".install-{:08x}", rand::random::<u32>()));
    let mut cleanup = Cleanup(Some(tmp.clone()));
    let (sha, revision) = match &origin {
        Source::Git(url) => clone_at(url, source, &tmp, rev, progress)?,
        Source::Directory(dir) => {
            if let Some(rev) = rev {
                return Err(GitError::Clone {
                    source_: source.to_string(),
                    message: format!(
                        "{} is a plain directory, not a git repository, so it has no revision {rev}: leave out --ref, or install from its git repository",
                        dir.display()
                    ),
                });
            }
            copy_pack_dir(dir, &tmp)?;
            (None, None)
        }
    };
    if !tmp.join("pack.yaml").is_file() && !tmp.join("pack.yml").is_file() {
        return Err(GitError::NotAPack {
            source_: source.to_string(),
            rev: rev.map(str::to_string),
        });
    }
    let loaded = pack::load_pack(&tmp).map_err(|e| GitError::BadPack {
        source_: source.to_string(),
        // The files as the source names them, not the copy being installed.
        message: e
            .to_string()
            .replace(&tmp.display().to_string(), source.trim_end_matches('/')),
    })?;
    let dest = packs_dir.join(&loaded.name);
    if dest.exists() {
        if !force {
            return Err(GitError::AlreadyInstalled {
                pack: loaded.name,
                dir: dest,
            });
        }
        std::fs::remove_dir_all(&dest)
            .map_err(|e| GitError::io("removing the installed pack", &dest, e))?;
    }
    std::fs::rename(&tmp, &dest)
        .map_err(|e| GitError::io("moving the pack into place", &dest, e))?;
    cleanup.0 = None;
    let report = PackReport::of(&pack::load_pack(&dest).unwrap_or(loaded));
    Ok(Installed {
        pack: report.pack.clone(),
        dir: dest,
        sha,
        revision,
        report,
    })
}

/// Clones `url` into `dir` and checks out `rev`; returns the commit and the
/// branch or tag checked out. `rev` that names no revision is tried with a
/// `v` in front, as StackStorm's `st2 pack install pack=1.2.0` finds tag
/// `v1.2.0`.
fn clone_at(
    url: &str,
    source: &str,
    dir: &Path,
    rev: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Option<String>, Option<String>), GitError> {
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(progress));
    let repo = RepoBuilder::new()
        .fetch_options(fetch)
        .clone(url, dir)
        .map_err(|e| GitError::Clone {
            source_: source.to_string(),
            message: e.message().to_string(),
        })?;
    let mut revision = repo
        .head()
        .ok()
        .filter(|h| h.is_branch())
        .and_then(|h| h.shorthand().map(str::to_string));
    if let Some(rev) = rev {
        let picked = pick_rev(&repo, source, rev).map_err(|e| match e {
            // Not installed yet: no `stormdesk pack` command knows it.
            GitError::UnknownRevision { rev, closest, .. } => GitError::UnknownSourceRevision {
                source_: source.to_string(),
                rev,
                closest,
            },
            other => other,
        })?;
        revision = Some(picked);
    }
    let sha = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map(|c| c.id().to_string())
        .map_err(|e| GitError::Clone {
            source_: source.to_string(),
            message: format!("the repository has no commits: {}", e.message()),
        })?;
    Ok((Some(sha), revision))
}

/// Checks out `rev`, or `v<rev>` when only that exists (`1.2.0` finds tag
/// `v1.2.0`); returns the name checked out.
fn pick_rev(repo: &git2::Repository, source: &str, rev: &str) -> Result<String, GitError> {
    match checkout_rev(repo, source, rev) {
        Err(GitError::UnknownRevision { .. }) if !rev.starts_with('v') => {
            let prefixed = format!("v{rev}");
            match checkout_rev(repo, source, &prefixed) {
                Ok(()) => Ok(prefixed),
                // Report the revision as it was asked for.
                Err(_) => checkout_rev(repo, source, rev).map(|()| rev.to_string()),
            }
        }
        other => other.map(|()| rev.to_string()),
    }
}

/// What a loaded pack holds that an operator should know about: actions that
/// did not load, actions whose runner Stormdesk cannot run, and content it
/// ignores. `pack install` prints it; nothing is left unsaid.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PackReport {
    pub pack: String,
    /// Actions that can run.
    pub actions: usize,
    /// `file:line:column: message` per action that did not load.
    pub errors: Vec<String>,
    /// `name: reason` per action of an unsupported runner.
    pub unsupported: Vec<String>,
    /// Sensors, rules, aliases, ... with the reason they are not run.
    pub ignored: Vec<String>,
}

impl PackReport {
    pub fn of(p: &pack::Pack) -> PackReport {
        PackReport {
            pack: p.name.clone(),
            actions: p.actions.len(),
            errors: p.errors.iter().map(|e| e.to_string()).collect(),
            unsupported: p
                .unsupported
                .iter()
                .map(|u| format!("{}: {}", u.name, u.reason))
                .collect(),
            ignored: p.ignored.iter().map(|i| i.to_string()).collect(),
        }
    }
}

/// Checks out a branch (as a local branch following origin's) or, for a tag or
/// commit, a detached HEAD.
fn checkout_rev(repo: &Repository, source: &str, rev: &str) -> Result<(), GitError> {
    let oid = resolve(repo, source, rev)?;
    let commit = repo
        .find_commit(oid)
        .map_err(|e| GitError::classify(source, rev, "reading the commit", e))?;
    let fail = |e: git2::Error| GitError::classify(source, rev, "checking out the revision", e);
    let remote_branch = repo
        .find_branch(&format!("origin/{rev}"), BranchType::Remote)
        .is_ok();
    let is_tag = repo.find_reference(&format!("refs/tags/{rev}")).is_ok();
    repo.checkout_tree(commit.as_object(), Some(CheckoutBuilder::new().force()))
        .map_err(fail)?;
    if remote_branch && !is_tag {
        let mut branch = match repo.find_branch(rev, BranchType::Local) {
            Ok(b) => b,
            Err(_) => repo.branch(rev, &commit, true).map_err(fail)?,
        };
        branch
            .set_upstream(Some(&format!("origin/{rev}")))
            .map_err(fail)?;
        repo.set_head(&format!("refs/heads/{rev}")).map_err(fail)?;
    } else {
        repo.set_head_detached(oid).map_err(fail)?;
    }
    Ok(())
}

/// Fetches every branch and tag from origin, then fast-forwards the checked-out
/// branch; a pack pinned at a tag or commit stays where it is.
pub fn update_pack(
    pack_name: &str,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Updated, GitError> {
    if !is_git_repo(dir) {
        return Err(GitError::NotInstalled {
            pack: pack_name.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    let repo = super::repo::open(pack_name, dir, "HEAD")?;
    let fail = |doing: &str| {
        let doing = doing.to_string();
        move |e: git2::Error| GitError::classify(pack_name, "HEAD", &doing, e)
    };
    let before = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map(|c| c.id().to_string())
        .map_err(fail("reading HEAD"))?;
    let tags_before: Vec<String> = repo
        .tag_names(None)
        .map(|t| t.iter().flatten().map(str::to_string).collect())
        .unwrap_or_default();
    let mut remote = repo.find_remote("origin").map_err(|_| GitError::NoOrigin {
        pack: pack_name.to_string(),
    })?;
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(progress));
    remote
        .fetch(
            &[
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            Some(&mut fetch),
            None,
        )
        .map_err(
            |e| match GitError::classify(pack_name, "HEAD", "fetching", e) {
                GitError::Other { message, .. } => GitError::Fetch {
                    pack: pack_name.to_string(),
                    message,
                },
                other => other,
            },
        )?;
    let mut new_tags: Vec<String> = repo
        .tag_names(None)
        .map(|t| t.iter().flatten().map(str::to_string).collect())
        .unwrap_or_default();
    new_tags.retain(|t| !tags_before.contains(t));
    let head = repo.head().map_err(fail("reading HEAD"))?;
    let branch = head
        .is_branch()
        .then(|| head.shorthand().unwrap_or("").to_string());
    let mut after = before.clone();
    if let Some(b) = &branch {
        if let Ok(upstream) = repo.find_branch(&format!("origin/{b}"), BranchType::Remote) {
            let target = upstream
                .get()
                .peel_to_commit()
                .map_err(fail("reading origin"))?;
            let ours = git2::Oid::from_str(&before).map_err(fail("reading HEAD"))?;
            if target.id() != ours {
                let (ahead, _behind) = repo
                    .graph_ahead_behind(ours, target.id())
                    .map_err(fail("comparing with origin"))?;
                if ahead > 0 {
                    return Err(GitError::Diverged {
                        pack: pack_name.to_string(),
                        branch: b.clone(),
                    });
                }
                repo.checkout_tree(target.as_object(), Some(CheckoutBuilder::new().safe()))
                    .map_err(|e| GitError::LocalChanges {
                        pack: pack_name.to_string(),
                        message: e.message().to_string(),
                    })?;
                let mut reference = repo.head().map_err(fail("reading HEAD"))?;
                reference
                    .set_target(target.id(), "stormdesk pack update: fast-forward")
                    .map_err(fail("moving the branch"))?;
                after = target.id().to_string();
            }
        }
    }
    new_tags.sort();
    Ok(Updated {
        pack: pack_name.to_string(),
        before,
        after,
        branch,
        new_tags,
    })
}
