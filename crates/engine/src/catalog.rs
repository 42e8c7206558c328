//! The loaded packs and their actions, and the summaries faces show.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::error::EngineError;
use crate::model::resource_id;
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
    "winrm-cmd",
    "winrm-ps-cmd",
    "winrm-ps-script",
];

/// A pack as the API shows it: StackStorm's `PackAPI`
/// (`st2common/models/api/pack.py`), with Stormdesk's `path` of the pack
/// directory, `git`, the number of runnable `actions`, the `unsupported`
/// ones and metadata `errors`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PackSummary {
    pub id: String,
    /// `pack:<ref>`.
    pub uid: String,
    #[serde(rename = "ref")]
    pub ref_: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub contributors: Vec<String>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub python_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stackstorm_version: Option<String>,
    pub path: String,
    /// The pack directory is a git repository, so it can run at other revisions.
    pub git: bool,
    /// How many of its actions can run.
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
    /// Why the pack's Python environment (its `requirements.txt`, as
    /// installed) could not be made, the last time it was tried: its Python
    /// actions cannot run until it is (`stormdesk pack setup-venv <pack>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_env_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct UnsupportedSummary {
    pub name: String,
    pub file: String,
    pub reason: String,
}

/// An action as the API shows it: StackStorm's `ActionAPI`
/// (`st2common/models/api/action.py`) with Stormdesk's `supported` and
/// `unsupported_reason`. In a listing and at `/v1/actions/{ref}`,
/// `parameters` are the action's own (as its metadata declares them); the
/// overview (`/v1/actions/views/overview/{ref}`, [`ActionDetail`]) merges
/// the runner's parameters in, in metadata order.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ActionSummary {
    pub id: String,
    /// `action:<pack>:<name>`.
    pub uid: String,
    #[serde(rename = "ref")]
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub runner_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// Relative to the pack's `actions/`; empty for none, as in StackStorm.
    #[serde(default)]
    pub entry_point: String,
    #[serde(default)]
    pub parameters: IndexMap<String, ParamSpec>,
    #[serde(default)]
    pub tags: Vec<Value>,
    pub supported: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_reason: Option<String>,
}

/// An action with its full, effective parameter schema (runner parameters
/// merged in): StackStorm's action overview.
pub type ActionDetail = ActionSummary;

/// A runner type as the API shows it: StackStorm's `RunnerTypeAPI`, with
/// Stormdesk's `supported` and `unsupported_reason`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RunnerTypeSummary {
    pub id: String,
    /// `runner_type:<name>`.
    pub uid: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub runner_package: String,
    pub runner_module: String,
    pub runner_parameters: IndexMap<String, ParamSpec>,
    pub supported: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_reason: Option<String>,
}

/// Every runner type StackStorm defines, supported or not.
pub fn runner_type_summaries() -> Vec<RunnerTypeSummary> {
    pack::runner_types::runner_types()
        .iter()
        .map(|r| RunnerTypeSummary {
            id: resource_id("runner_type", r.name),
            uid: format!("runner_type:{}", r.name),
            name: r.name.to_string(),
            description: match r.unsupported_reason() {
                None => format!("StackStorm's {} runner", r.name),
                Some(reason) => reason,
            },
            enabled: r.is_supported(),
            runner_package: r.name.replace('-', "_"),
            runner_module: r.name.replace('-', "_"),
            runner_parameters: r.parameters().clone(),
            supported: r.is_supported(),
            unsupported_reason: r.unsupported_reason(),
        })
        .collect()
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
            // A directory given that is not there (a mistyped `--packs`) is
            // said, not skipped in silence: its packs would be missing.
            if !dir.is_dir() {
                catalog
                    .errors
                    .push(PackError::NotADirectory { path: dir.clone() });
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
            .ok_or_else(|| EngineError::PackNotLoaded {
                action: action_ref.to_string(),
                pack: pack_name.to_string(),
            })?;
        find_action(pack, action_ref, action_name).map(|a| (pack, a))
    }

    pub fn pack_summaries(&self) -> Vec<PackSummary> {
        self.packs
            .iter()
            .map(|p| PackSummary {
                id: resource_id("pack", &p.name),
                uid: format!("pack:{}", p.name),
                ref_: p.name.clone(),
                name: p.meta.name.clone().unwrap_or_else(|| p.name.clone()),
                description: p.meta.description.clone(),
                version: p.meta.version.clone(),
                author: p.meta.author.clone(),
                email: p.meta.email.clone(),
                keywords: p.meta.keywords.clone(),
                contributors: p.meta.contributors.clone(),
                dependencies: p.meta.dependencies.clone(),
                python_versions: p.meta.python_versions.clone(),
                stackstorm_version: p.meta.stackstorm_version.clone(),
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
                python_env_error: None,
            })
            .collect()
    }

    /// Every action, runnable or not, by ref; parameters as declared.
    pub fn action_summaries(&self) -> Vec<ActionSummary> {
        let mut out = Vec::new();
        for p in &self.packs {
            for a in p.actions.values() {
                out.push(summary(p, a, a.parameters.clone()));
            }
            for u in &p.unsupported {
                let ref_ = format!("{}.{}", p.name, u.name);
                out.push(ActionSummary {
                    id: resource_id("action", &ref_),
                    uid: format!("action:{}:{}", p.name, u.name),
                    ref_,
                    pack: p.name.clone(),
                    name: u.name.clone(),
                    runner_type: u.runner_type.clone(),
                    description: None,
                    enabled: false,
                    entry_point: String::new(),
                    parameters: IndexMap::new(),
                    tags: Vec::new(),
                    supported: false,
                    unsupported_reason: Some(u.reason.clone()),
                });
            }
        }
        out.sort_by(|a, b| a.ref_.cmp(&b.ref_));
        out
    }

    /// A runnable action with its effective parameter schema.
    pub fn action_detail(&self, action_ref: &str) -> Result<ActionDetail, EngineError> {
        let (p, a) = self.action(action_ref)?;
        Ok(detail(p, a))
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

/// The detail faces show for one action of a pack: its effective parameters.
pub fn detail(pack: &Pack, action: &Action) -> ActionDetail {
    summary(pack, action, action.effective_parameters())
}

/// Runner types the engine runs: the runners, and workflows (conducted in-process).
pub fn is_supported(runner_type: &str) -> bool {
    SUPPORTED_RUNNERS.contains(&runner_type) || crate::nesting::in_process(runner_type)
}

fn summary(p: &Pack, a: &Action, parameters: IndexMap<String, ParamSpec>) -> ActionSummary {
    let supported = is_supported(&a.runner_type);
    ActionSummary {
        id: resource_id("action", &a.ref_),
        uid: format!("action:{}:{}", p.name, a.name),
        ref_: a.ref_.clone(),
        pack: p.name.clone(),
        name: a.name.clone(),
        runner_type: a.runner_type.clone(),
        description: a.description.clone(),
        enabled: a.enabled,
        entry_point: a.entry_point.clone().unwrap_or_default(),
        parameters,
        tags: Vec::new(),
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
