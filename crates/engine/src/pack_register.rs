//! StackStorm's pack registration (`POST /v1/packs/register`, `st2 pack
//! register`): the engine loads its packs again and counts what it loaded,
//! by content type, in the shape of StackStorm's `PackRegisterController`
//! (`st2api/controllers/v1/packs.py`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::pack::runner_types::runner_types;

/// StackStorm's content types (`PackRegisterController.CONTENT_TYPES`); a
/// request may name each in the singular or the plural.
const CONTENT_TYPES: [(&str, &str); 10] = [
    ("runner", "runners"),
    ("action", "actions"),
    ("trigger", "triggers"),
    ("sensor", "sensors"),
    ("rule", "rules"),
    ("rule_type", "rule_types"),
    ("alias", "aliases"),
    ("policy_type", "policy_types"),
    ("policy", "policies"),
    ("config", "configs"),
];

/// What a registration loaded: StackStorm's counts by content type (only the
/// types asked for), and what Stormdesk found but does not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// `runners`, `actions`, `configs`, ...: how many were loaded. Sensors,
    /// rules, triggers, aliases and policies are always 0: Stormdesk does not
    /// run them (see `not_run`).
    #[serde(flatten)]
    pub counts: BTreeMap<&'static str, usize>,
    /// One line per pack and kind of content it holds that Stormdesk does not
    /// run (`examples: rules (12 files): Stormdesk has no rules engine ...`), and per
    /// action whose runner it cannot run. Empty lists are left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    /// What failed to load (a pack, an action file), with why; only with
    /// `fail_on_failure: false`, which otherwise refuses the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_loaded: Vec<String>,
}

/// A registration request: StackStorm's `PackRegisterRequestAPI`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RegisterRequest {
    /// Pack refs to count; all packs when absent or empty.
    #[serde(default)]
    pub packs: Option<Vec<String>>,
    /// Content types (`action`, `actions`, `all`, ...); all when absent.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// StackStorm's default is `true`: a pack that fails to load fails the
    /// request (400) with its error. The other packs are loaded either way.
    #[serde(default)]
    pub fail_on_failure: Option<bool>,
}

impl Engine {
    /// Loads the packs again and counts what was loaded (StackStorm's
    /// `st2 pack register`). Errors: [`EngineError::BadRequest`] for an
    /// unknown content type, a named pack that is not there, or (with
    /// `fail_on_failure`) a pack that failed to load; the engine runs with
    /// the packs it loaded in each case.
    pub fn register_packs(&self, req: &RegisterRequest) -> Result<Registered, EngineError> {
        let types = requested_types(req.types.as_deref())?;
        self.reload_packs();
        let catalog = self.catalog();
        let named: Option<Vec<&str>> = req
            .packs
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| p.iter().map(String::as_str).collect());
        if let Some(named) = &named {
            for pack in named {
                if catalog.pack(pack).is_err() {
                    return Err(EngineError::BadRequest(not_found(
                        pack,
                        &self.inner.pack_dirs,
                        &catalog,
                    )));
                }
            }
        }
        let failures = failures_in(&catalog, named.as_deref());
        if !failures.is_empty() && req.fail_on_failure.unwrap_or(true) {
            return Err(EngineError::BadRequest(format!(
                "Failed to register packs: {} (with fail_on_failure: false the API registers what loads and lists these under not_loaded)",
                failures.join("; ")
            )));
        }
        let mut registered = count(&catalog, named.as_deref(), &types, &self.paths().configs());
        registered.not_loaded = failures;
        Ok(registered)
    }
}

/// StackStorm's "not found on disk", with what is there instead: a
/// directory of that name without `pack.yaml`, one whose `pack.yaml` gives
/// another ref, one that failed to load, or nothing at all.
fn not_found(pack: &str, dirs: &[std::path::PathBuf], catalog: &Catalog) -> String {
    let head = format!("Pack \"{pack}\" not found on disk");
    for base in dirs {
        let dir = if base.file_name().is_some_and(|n| n == pack) && base.is_dir() {
            base.clone()
        } else {
            base.join(pack)
        };
        if !dir.is_dir() {
            continue;
        }
        if !dir.join("pack.yaml").is_file() {
            return format!(
                "{head}: {} has no pack.yaml. Add one with at least `ref: {pack}`, `name`, `description` and `version`, then register again",
                dir.display()
            );
        }
        if let Some(other) = catalog.packs.iter().find(|p| p.dir == dir) {
            return format!(
                "{head}: the pack in {} has the ref '{}' (its pack.yaml); register it by that name, or change its `ref`",
                dir.display(),
                other.name
            );
        }
        let why: Vec<String> = catalog
            .errors
            .iter()
            .map(|e| e.to_string())
            .filter(|e| e.contains(&dir.display().to_string()))
            .collect();
        if !why.is_empty() {
            return format!("{head}: {} did not load: {}", dir.display(), why.join("; "));
        }
    }
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    format!(
        "{head}: no pack with that ref is in the pack directories ({}){}",
        dirs.join(", "),
        failures_text(catalog)
    )
}

/// The plural names of the types asked for, in StackStorm's order.
fn requested_types(types: Option<&[String]>) -> Result<Vec<&'static str>, EngineError> {
    let Some(types) = types.filter(|t| !t.is_empty()) else {
        return Ok(CONTENT_TYPES.iter().map(|(_, p)| *p).collect());
    };
    if types.iter().any(|t| t == "all") {
        return Ok(CONTENT_TYPES.iter().map(|(_, p)| *p).collect());
    }
    for t in types {
        if !CONTENT_TYPES.iter().any(|(s, p)| t == s || t == p) {
            return Err(EngineError::BadRequest(format!(
                "unknown content type \"{t}\": use one of {} (or all)",
                CONTENT_TYPES
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(CONTENT_TYPES
        .iter()
        .filter(|(s, p)| types.iter().any(|t| t == s || t == p))
        .map(|(_, p)| *p)
        .collect())
}

/// Pack-level load errors (a pack that did not load at all) and action files
/// that could not be read, of the named packs (all when `None`).
fn failures_in(catalog: &Catalog, named: Option<&[&str]>) -> Vec<String> {
    let wanted = |name: &str| named.is_none_or(|n| n.contains(&name));
    let mut out: Vec<String> = Vec::new();
    if named.is_none() {
        out.extend(catalog.errors.iter().map(|e| e.to_string()));
    }
    for pack in catalog.packs.iter().filter(|p| wanted(&p.name)) {
        out.extend(pack.errors.iter().map(|e| format!("{}: {e}", pack.name)));
    }
    out
}

fn failures_text(catalog: &Catalog) -> String {
    if catalog.errors.is_empty() {
        return String::new();
    }
    let errors: Vec<String> = catalog.errors.iter().map(|e| e.to_string()).collect();
    format!("; packs that failed to load: {}", errors.join("; "))
}

/// StackStorm's result keys: the dependent types it registers first
/// (`runners` for actions, `rule_types` for rules, `policy_types` for
/// policies), then each asked-for type.
fn count(
    catalog: &Catalog,
    named: Option<&[&str]>,
    types: &[&'static str],
    configs_dir: &std::path::Path,
) -> Registered {
    let packs: Vec<_> = catalog
        .packs
        .iter()
        .filter(|p| named.is_none_or(|n| n.contains(&p.name.as_str())))
        .collect();
    let asked = |t: &str| types.contains(&t);
    let mut counts = BTreeMap::new();
    if asked("runners") || asked("actions") {
        counts.insert("runners", runner_types().len());
    }
    if asked("rule_types") || asked("rules") {
        counts.insert("rule_types", 0);
    }
    if asked("policy_types") || asked("policies") {
        counts.insert("policy_types", 0);
    }
    let mut not_run = Vec::new();
    for kind in [
        "actions", "triggers", "sensors", "rules", "aliases", "policies", "configs",
    ] {
        if !asked(kind) {
            continue;
        }
        let n = match kind {
            "actions" => packs
                .iter()
                .map(|p| p.actions.len() + p.unsupported.len())
                .sum(),
            "configs" => packs
                .iter()
                .filter(|p| configs_dir.join(format!("{}.yaml", p.name)).is_file())
                .count(),
            _ => 0,
        };
        counts.insert(kind, n);
        for pack in &packs {
            if kind == "actions" {
                not_run.extend(
                    pack.unsupported
                        .iter()
                        .map(|u| format!("{}.{}: {}", pack.name, u.name, u.reason)),
                );
            }
            not_run.extend(
                pack.ignored
                    .iter()
                    .filter(|i| i.kind == kind)
                    .map(|i| format!("{}: {i}", pack.name)),
            );
        }
    }
    Registered {
        counts,
        not_run,
        not_loaded: Vec::new(),
    }
}
