//! The revisions of a pack an operator can pick: tags (semver order, newest
//! first, then the others), branches, and recent commits.

use std::cmp::Ordering;
use std::path::Path;

use git2::{BranchType, Commit, Sort};
use serde::{Deserialize, Serialize};

use super::repo::{is_git_repo, open};
use super::GitError;

/// How many commits of the checked-out history the list includes.
pub const RECENT_COMMITS: usize = 20;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RevisionKind {
    Tag,
    Branch,
    Commit,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Revision {
    pub kind: RevisionKind,
    /// Tag or branch name, or the short SHA of a commit.
    pub name: String,
    pub sha: String,
    /// Commit date, RFC 3339.
    pub date: String,
    /// First line of the commit message.
    pub subject: String,
    /// The pack directory has this commit checked out.
    pub checked_out: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckedOut {
    pub sha: String,
    /// The branch, else a tag at that commit, else none (a detached commit).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Revisions {
    pub pack: String,
    pub git: bool,
    /// The URL of the `origin` remote (where `pack update` fetches from), if any.
    #[serde(default)]
    pub origin: Option<String>,
    pub checked_out: Option<CheckedOut>,
    pub revisions: Vec<Revision>,
}

/// Lists the revisions of the pack in `dir`; a pack that is not a git
/// repository has none (`git: false`).
pub fn list_revisions(pack: &str, dir: &Path) -> Result<Revisions, GitError> {
    if !is_git_repo(dir) {
        return Ok(Revisions {
            pack: pack.to_string(),
            git: false,
            origin: None,
            checked_out: None,
            revisions: vec![],
        });
    }
    let repo = open(pack, dir, "HEAD")?;
    let fail = |e: git2::Error| GitError::classify(pack, "HEAD", "listing revisions", e);
    let head_sha = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_commit().ok())
        .map(|c| c.id().to_string());
    let head_branch = repo
        .head()
        .ok()
        .filter(|h| h.is_branch())
        .and_then(|h| h.shorthand().map(str::to_string));

    let mut tags = Vec::new();
    for name in repo.tag_names(None).map_err(fail)?.iter().flatten() {
        let Ok(obj) = repo.revparse_single(&format!("refs/tags/{name}")) else {
            continue;
        };
        let Ok(commit) = obj.peel_to_commit() else {
            continue;
        };
        tags.push(revision(
            RevisionKind::Tag,
            name,
            &commit,
            head_sha.as_deref(),
        ));
    }
    tags.sort_by(tag_order);

    let mut branches: Vec<Revision> = Vec::new();
    for kind in [BranchType::Local, BranchType::Remote] {
        for (branch, _) in repo.branches(Some(kind)).map_err(fail)?.flatten() {
            let Some(full) = branch.get().name().map(str::to_string) else {
                continue;
            };
            let name = match kind {
                BranchType::Local => full.trim_start_matches("refs/heads/").to_string(),
                BranchType::Remote => match full.strip_prefix("refs/remotes/origin/") {
                    Some("HEAD") | None => continue,
                    Some(b) => b.to_string(),
                },
            };
            if branches.iter().any(|b| b.name == name) {
                continue;
            }
            let Ok(commit) = branch.get().peel_to_commit() else {
                continue;
            };
            branches.push(revision(
                RevisionKind::Branch,
                &name,
                &commit,
                head_sha.as_deref(),
            ));
        }
    }
    branches.sort_by(|a, b| {
        let a_head = Some(&a.name) == head_branch.as_ref();
        let b_head = Some(&b.name) == head_branch.as_ref();
        b_head
            .cmp(&a_head)
            .then_with(|| b.date.cmp(&a.date))
            .then_with(|| a.name.cmp(&b.name))
    });

    let mut commits = Vec::new();
    if head_sha.is_some() {
        let mut walk = repo.revwalk().map_err(fail)?;
        walk.push_head().map_err(fail)?;
        walk.set_sorting(Sort::TIME).map_err(fail)?;
        for oid in walk.take(RECENT_COMMITS) {
            let oid = oid.map_err(fail)?;
            let commit = repo.find_commit(oid).map_err(fail)?;
            let short = oid.to_string()[..12].to_string();
            commits.push(revision(
                RevisionKind::Commit,
                &short,
                &commit,
                head_sha.as_deref(),
            ));
        }
    }

    let checked_out = head_sha.map(|sha| CheckedOut {
        name: head_branch
            .clone()
            .or_else(|| tags.iter().find(|t| t.sha == sha).map(|t| t.name.clone())),
        sha,
    });
    let mut revisions = tags;
    revisions.extend(branches);
    revisions.extend(commits);
    let origin = repo
        .find_remote("origin")
        .ok()
        .and_then(|r| r.url().map(str::to_string));
    Ok(Revisions {
        pack: pack.to_string(),
        git: true,
        origin,
        checked_out,
        revisions,
    })
}

fn revision(kind: RevisionKind, name: &str, commit: &Commit, head: Option<&str>) -> Revision {
    let sha = commit.id().to_string();
    Revision {
        kind,
        name: name.to_string(),
        checked_out: head == Some(sha.as_str()),
        date: commit_date(commit),
        subject: commit.summary().unwrap_or("").to_string(),
        sha,
    }
}

pub(crate) fn commit_date(commit: &Commit) -> String {
    let t = commit.time();
    chrono::DateTime::from_timestamp(t.seconds(), 0)
        .map(|utc| {
            let offset = chrono::FixedOffset::east_opt(t.offset_minutes() * 60)
                .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
            utc.with_timezone(&offset).to_rfc3339()
        })
        .unwrap_or_default()
}

/// A tag's version when it reads as semver (`1.2.3`, `v1.2.3`, `1.2`, `v2`).
pub fn tag_version(name: &str) -> Option<semver::Version> {
    let v = name
        .strip_prefix('v')
        .or_else(|| name.strip_prefix('V'))
        .unwrap_or(name);
    if let Ok(version) = semver::Version::parse(v) {
        return Some(version);
    }
    // Short forms: `1.2` and `2` mean `1.2.0` and `2.0.0`.
    let parts: Vec<&str> = v.split('.').collect();
    if parts.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    let padded = match parts.len() {
        1 => format!("{}.0.0", parts[0]),
        _ => format!("{}.{}.0", parts[0], parts[1]),
    };
    semver::Version::parse(&padded).ok()
}

/// Semver tags newest first, then the other tags, newest commit first.
pub(crate) fn tag_order(a: &Revision, b: &Revision) -> Ordering {
    match (tag_version(&a.name), tag_version(&b.name)) {
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.name.cmp(&b.name)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => b.date.cmp(&a.date).then_with(|| a.name.cmp(&b.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, date: &str) -> Revision {
        Revision {
            kind: RevisionKind::Tag,
            name: name.into(),
            sha: String::new(),
            date: date.into(),
            subject: String::new(),
            checked_out: false,
        }
    }

    #[test]
    fn semver_tags_sort_newest_first_then_others_by_date() {
        let mut tags = [
            tag("v1.2.0", "2024-01-01"),
            tag("nightly", "2024-03-01"),
            tag("v1.10.0", "2024-02-01"),
            tag("1.9", "2023-01-01"),
            tag("v2.0.0-rc.1", "2024-04-01"),
            tag("old-release", "2020-01-01"),
            tag("v2.0.0", "2024-05-01"),
        ];
        tags.sort_by(tag_order);
        let names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "v2.0.0",
                "v2.0.0-rc.1",
                "v1.10.0",
                "1.9",
                "v1.2.0",
                "nightly",
                "old-release"
            ]
        );
    }

    #[test]
    fn tag_versions_accept_short_forms_and_reject_words() {
        assert_eq!(tag_version("v2"), Some(semver::Version::new(2, 0, 0)));
        assert_eq!(tag_version("1.4"), Some(semver::Version::new(1, 4, 0)));
        assert_eq!(tag_version("V3.1.4"), Some(semver::Version::new(3, 1, 4)));
        assert_eq!(tag_version("release-1"), None);
        assert_eq!(tag_version("1.2.3.4"), None);
    }
}
