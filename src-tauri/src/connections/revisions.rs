//! The revision picker against a server without Stormdesk's
//! `/v1/packs/{pack}/revisions` (a plain StackStorm): the desktop lists the
//! pack's tags and branches itself, by `git ls-remote` (through git2) on the
//! `repo_url` of the pack's metadata.
//!
//! StackStorm keeps a pack's metadata as it is in `pack.yaml` (`PackDB` is a
//! dynamic document, `PackAPI` allows additional properties:
//! `st2common/st2common/models/db/pack.py`, `models/api/pack.py`), so
//! `repo_url` is there when the pack declares it; `GET /v1/packs/{ref}`
//! answers with it (`/v1/packs?ref=` where the first is not routed). A run
//! at a revision then sends StackStorm's `content_version` runner parameter
//! (`local-shell-script` and `python-script`: `st2 run ... content_version=v1.2.0`), which
//! the UI does; the listing here has no commit dates or subjects (`ls-remote`
//! reads refs only) and no recent commits.

use git2::{Direction, Remote};
use serde::Serialize;
use serde_json::Value;
use stormdesk_engine::git::{tag_version, CheckedOut, Revision, RevisionKind, Revisions};

/// Why the revisions of a pack cannot be listed from its repository.
#[derive(Debug, thiserror::Error)]
pub enum RevisionsError {
    /// The pack's metadata names no repository.
    #[error("pack '{pack}' has no repo_url in its metadata (pack.yaml): the revision picker needs the URL of its git repository there")]
    NoRepoUrl { pack: String },
    /// `git ls-remote` failed (unreachable, not a repository, refused).
    #[error("cannot list the revisions of pack '{pack}' from {url}: {message}. The desktop app reads that repository itself, without credentials: check that it is reachable from this machine")]
    Unreachable {
        pack: String,
        url: String,
        message: String,
    },
}

/// A ref of a remote repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub kind: RevisionKind,
    /// The tag or branch name (without `refs/tags/`, `refs/heads/`).
    pub name: String,
    /// The commit: an annotated tag's peeled target.
    pub sha: String,
}

/// `git ls-remote url`: the repository's tags and branches, the default
/// branch (its `HEAD`) first among the branches when it names one.
/// `url` is anything git2 fetches from: `https://`, `ssh://`, `file://`, a path.
pub fn ls_remote(pack: &str, url: &str) -> Result<Vec<RemoteRef>, RevisionsError> {
    let fail = |e: git2::Error| RevisionsError::Unreachable {
        pack: pack.to_string(),
        url: url.to_string(),
        message: e.message().to_string(),
    };
    let mut remote = Remote::create_detached(url).map_err(fail)?;
    remote.connect(Direction::Fetch).map_err(fail)?;
    let default_branch = remote
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().map(str::to_string))
        .and_then(|b| b.strip_prefix("refs/heads/").map(str::to_string));
    let mut tags: Vec<RemoteRef> = Vec::new();
    let mut branches: Vec<RemoteRef> = Vec::new();
    for head in remote.list().map_err(fail)? {
        let sha = head.oid().to_string();
        if let Some(tag) = head.name().strip_prefix("refs/tags/") {
            // `v1^{}` is the commit an annotated tag `v1` points at.
            if let Some(peeled) = tag.strip_suffix("^{}") {
                match tags.iter_mut().find(|t| t.name == peeled) {
                    Some(t) => t.sha = sha,
                    None => tags.push(remote_ref(RevisionKind::Tag, peeled, sha)),
                }
            } else if !tags.iter().any(|t| t.name == tag) {
                tags.push(remote_ref(RevisionKind::Tag, tag, sha));
            }
        } else if let Some(branch) = head.name().strip_prefix("refs/heads/") {
            branches.push(remote_ref(RevisionKind::Branch, branch, sha));
        }
    }
    let _ = remote.disconnect();
    tags.sort_by(|a, b| match (tag_version(&a.name), tag_version(&b.name)) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.name.cmp(&b.name)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
    branches.sort_by(|a, b| {
        let a_default = Some(&a.name) == default_branch.as_ref();
        let b_default = Some(&b.name) == default_branch.as_ref();
        b_default.cmp(&a_default).then_with(|| a.name.cmp(&b.name))
    });
    tags.extend(branches);
    Ok(tags)
}

fn remote_ref(kind: RevisionKind, name: &str, sha: String) -> RemoteRef {
    RemoteRef {
        kind,
        name: name.to_string(),
        sha,
    }
}

/// The pack's `repo_url` from StackStorm's pack metadata: `GET /v1/packs/{ref}`
/// answers with the pack, `GET /v1/packs?ref=` with a list of it.
pub fn repo_url(pack_metadata: &Value) -> Option<String> {
    let pack = match pack_metadata {
        Value::Array(list) => list.first()?,
        other => other,
    };
    pack.get("repo_url")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
}

/// What the picker gets: the engine's shape, marked as listed from the
/// repository (the UI offers it only for actions that take StackStorm's
/// `content_version`, and sends the pick as that parameter).
#[derive(Debug, Clone, Serialize)]
pub struct ListedRevisions {
    #[serde(flatten)]
    pub revisions: Revisions,
    /// Always true here: the list came from `git ls-remote` of `origin`.
    pub ls_remote: bool,
}

/// The picker's data for `pack` from its metadata (`pack_metadata`, as the
/// server answered it): the tags and branches of its `repo_url`. The tag
/// matching the pack's `version` is marked installed (StackStorm installs a
/// pack at the tag of its version: `st2 pack install name=1.2.0`).
pub fn list_from_metadata(
    pack: &str,
    pack_metadata: &Value,
) -> Result<ListedRevisions, RevisionsError> {
    let url = repo_url(pack_metadata).ok_or_else(|| RevisionsError::NoRepoUrl {
        pack: pack.to_string(),
    })?;
    let refs = ls_remote(pack, &url)?;
    let meta = match pack_metadata {
        Value::Array(list) => list.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    let version = meta
        .get("version")
        .and_then(Value::as_str)
        .and_then(tag_version);
    let revisions: Vec<Revision> = refs
        .into_iter()
        .map(|r| Revision {
            checked_out: r.kind == RevisionKind::Tag
                && version.is_some()
                && tag_version(&r.name) == version,
            kind: r.kind,
            name: r.name,
            sha: r.sha,
            date: String::new(),
            subject: String::new(),
        })
        .collect();
    let checked_out = revisions
        .iter()
        .find(|r| r.checked_out)
        .map(|r| CheckedOut {
            sha: r.sha.clone(),
            name: Some(r.name.clone()),
        });
    Ok(ListedRevisions {
        revisions: Revisions {
            pack: pack.to_string(),
            git: true,
            origin: Some(url),
            checked_out,
            revisions,
        },
        ls_remote: true,
    })
}
