//! The loaded packs and their actions, and the summaries faces show.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::error::EngineError;
use crate::pack::{self, Action, Pack, PackError, ParamSpec};

/// Runner types the engine runs today (the pack loader also knows workflows
/// and other StackStorm runners, which load but are refused here with a reason).
pub const SUPPORTED_RUNNERS: &[&str] = &[
    "local-shell-cmd",
    "local-shell-script",
    "python-script",
    "noop",
    "http-request",
    "remote-shell-cmd",
    "remote-shell-script",
];

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PackSummary {
    #[serde(rename = "ref")]
    pub ref_: String,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub path: String,
    /// The pack directory is a git repository, so it can run at other revisions.
    pub git: bool,
    pub actions: usize,
    pub unsupported: Vec<UnsupportedSummary>,
    /// Action metadata files that could not be read, as `file:line:column: message`.
    pub errors: Vec<String>,
    /// What the pack holds that Stormdesk does not run (sensors, rules,
    /// aliases, policies), one line per kind with the reason.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// The directory of a pack of the same name that this one hides.
    #[serde(default)]
    pub shadows: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct UnsupportedSummary {
    pub name: String,
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ActionSummary {
    #[serde(rename = "ref")]
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub runner_type: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub supported: bool,
    pub unsupported_reason: Option<String>,
}

/// An action with its full, effective parameter schema (runner parameters merged in).
#[derive(Debug, Clone, Serialize)]
pub struct ActionDetail {
    #[serde(flatten)]
    pub summary: ActionSummary,
    pub entry_point: Option<String>,
    pub parameters: IndexMap<String, ParamSpec>,
}

/// Every pack found, plus the packs that failed to load (with why).
#[derive(Debug, Default)]
pub struct Catalog {
    pub packs: Vec<Pack>,
    pub errors: Vec<PackError>,
    /// Packs hidden by a later pack of the same name (e.g. the bundled `core`
    /// by an installed `core`).
    pub shadowed: Vec<Shadowed>,
}

/// A pack that another pack of the same name replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Shadowed {
    pub pack: String,
    /// The directory of the pack that is used.
    pub used: PathBuf,
    /// The directory of the pack that is not.
    pub hidden: PathBuf,
}

impl std::fmt::Display for Shadowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pack '{}' in {} takes the place of the pack of the same name in {}",
            self.pack,
            self.used.display(),
            self.hidden.display()
        )
    }
}

impl Catalog {
    /// Loads every pack in each directory; later directories win on name clashes.
    pub fn load(dirs: &[PathBuf]) -> Catalog {
        let mut catalog = Catalog::default();
        for dir in dirs {
            if !dir.is_dir() {
                continue;
            }
            let (packs, errors) = if dir.join("pack.yaml").is_file() {
                match pack::load_pack(dir) {
                    Ok(p) => (vec![p], vec![]),
                    Err(e) => (vec![], vec![e]),
                }
            } else {
                pack::load_packs_dir(dir)
            };
            for p in packs {
                if let Some(i) = catalog.packs.iter().position(|old| old.name == p.name) {
                    let old = catalog.packs.remove(i);
                    catalog.shadowed.push(Shadowed {
                        pack: p.name.clone(),
                        used: p.dir.clone(),
                        hidden: old.dir,
                    });
                }
                catalog.packs.push(p);
            }
            catalog.errors.extend(errors);
        }
        catalog.packs.sort_by(|a, b| a.name.cmp(&b.name));
        catalog
    }

    pub fn pack(&self, name: &str) -> Result<&Pack, EngineError> {
        self.packs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| EngineError::UnknownPack(name.to_string()))
    }

    /// Finds a runnable action by `pack.name`.
    pub fn action(&self, action_ref: &str) -> Result<(&Pack, &Action), EngineError> {
        let (pack_name, action_name) = action_ref
            .split_once('.')
            .ok_or_else(|| EngineError::UnknownAction(action_ref.to_string()))?;
        let pack = self
            .packs
            .iter()
            .find(|p| p.name == pack_name)
            .ok_or_else(|| EngineError::UnknownAction(action_ref.to_string()))?;
        find_action(pack, action_ref, action_name).map(|a| (pack, a))
    }

    pub fn pack_summaries(&self) -> Vec<PackSummary> {
        self.packs
            .iter()
            .map(|p| PackSummary {
                ref_: p.name.clone(),
                name: p.meta.name.clone().unwrap_or_else(|| p.name.clone()),
                description: p.meta.description.clone(),
                version: p.meta.version.clone(),
                path: p.dir.display().to_string(),
                git: crate::git::is_git_repo(&p.dir),
                actions: p.actions.len(),
                unsupported: p
                    .unsupported
                    .iter()
                    .map(|u| UnsupportedSummary {
                        name: u.name.clone(),
                        file: u.file.display().to_string(),
                        reason: u.reason.clone(),
                    })
                    .collect(),
                errors: p.errors.iter().map(|e| e.to_string()).collect(),
                ignored: p.ignored.iter().map(|i| i.to_string()).collect(),
                shadows: self
                    .shadowed
                    .iter()
                    .rev()
                    .find(|s| s.pack == p.name && s.used == p.dir)
                    .map(|s| s.hidden.display().to_string()),
            })
            .collect()
    }

    pub fn action_summaries(&self) -> Vec<ActionSummary> {
        let mut out = Vec::new();
        for p in &self.packs {
            for a in p.actions.values() {
                out.push(summary(p, a));
            }
            for u in &p.unsupported {
                out.push(ActionSummary {
                    ref_: format!("{}.{}", p.name, u.name),
                    pack: p.name.clone(),
                    name: u.name.clone(),
                    runner_type: String::new(),
                    description: None,
                    enabled: false,
                    supported: false,
                    unsupported_reason: Some(u.reason.clone()),
                });
            }
        }
        out.sort_by(|a, b| a.ref_.cmp(&b.ref_));
        out
    }

    pub fn action_detail(&self, action_ref: &str) -> Result<ActionDetail, EngineError> {
        let (p, a) = self.action(action_ref)?;
        Ok(ActionDetail {
            summary: summary(p, a),
            entry_point: a.entry_point.clone(),
            parameters: a.effective_parameters(),
        })
    }
}

/// A runnable action of `pack` by name, or why it cannot run.
pub fn find_action<'p>(
    pack: &'p Pack,
    action_ref: &str,
    action_name: &str,
) -> Result<&'p Action, EngineError> {
    if let Some(action) = pack.actions.get(action_name) {
        if !is_supported(&action.runner_type) {
            return Err(EngineError::UnsupportedAction {
                action: action_ref.to_string(),
                reason: format!("runner type {} is not supported yet", action.runner_type),
            });
        }
        return Ok(action);
    }
    if let Some(u) = pack.unsupported.iter().find(|u| u.name == action_name) {
        return Err(EngineError::UnsupportedAction {
            action: action_ref.to_string(),
            reason: u.reason.clone(),
        });
    }
    // An action whose metadata did not load: say why, not "not found".
    match pack.get_action(action_name) {
        Err(e @ PackError::BrokenAction { .. }) => Err(e.into()),
        _ => Err(EngineError::UnknownAction(action_ref.to_string())),
    }
}

/// The detail faces show for one action of a pack.
pub fn detail(pack: &Pack, action: &Action) -> ActionDetail {
    ActionDetail {
        summary: summary(pack, action),
        entry_point: action.entry_point.clone(),
        parameters: action.effective_parameters(),
    }
}

/// Runner types the engine runs: the runners, and workflows (conducted in-process).
pub fn is_supported(runner_type: &str) -> bool {
    SUPPORTED_RUNNERS.contains(&runner_type) || runner_type == crate::workflow::WORKFLOW_RUNNER
}

fn summary(p: &Pack, a: &Action) -> ActionSummary {
    let supported = is_supported(&a.runner_type);
    ActionSummary {
        ref_: a.ref_.clone(),
        pack: p.name.clone(),
        name: a.name.clone(),
        runner_type: a.runner_type.clone(),
        description: a.description.clone(),
        enabled: a.enabled,
        supported,
        unsupported_reason: (!supported)
            .then(|| format!("runner type {} is not supported yet", a.runner_type)),
    }
}

/// The entry point's absolute path: relative to the pack's `actions/` directory.
pub fn entry_point_path(pack: &Pack, action: &Action) -> Option<PathBuf> {
    action
        .entry_point
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| pack.dir.join("actions").join(e))
}

pub fn pack_config(pack: &Pack, configs: &Path) -> Result<Value, EngineError> {
    Ok(pack::load_pack_config(pack, configs)?)
}
