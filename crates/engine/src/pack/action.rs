//! Action metadata (`actions/*.yaml`) and parameter schemas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::runner_types::{self, RunnerType};

/// The JSON types a parameter may declare.
pub const PARAM_TYPES: &[&str] = &[
    "string", "integer", "number", "boolean", "array", "object", "null",
];

/// Attributes of a runner parameter that action metadata may override,
/// as in StackStorm; any other attribute must repeat the runner's value.
pub const RUNNER_PARAM_OVERRIDABLE_ATTRS: &[&str] =
    &["default", "description", "enum", "immutable", "required"];

/// One parameter's schema, with StackStorm's YAML key names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// `Some(Value::Null)` when the metadata says `default: null`: StackStorm
    /// counts a declared null default as a default (an immutable parameter may
    /// rely on it, and the parameter then reaches the action as `None`).
    #[serde(
        default,
        deserialize_with = "declared",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<Value>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enum_: Option<Vec<Value>>,
    #[serde(default)]
    pub immutable: bool,
    #[serde(default)]
    pub secret: bool,
    /// Positional argument index for script runners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other JSON-schema keywords, kept as written (`items`, `minimum`, ...).
    #[serde(flatten, default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// Keeps an explicit `null` as `Some(Value::Null)`; an absent key stays `None`.
fn declared<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ParamSpec {
    /// `items.type` of an array parameter, if declared.
    pub fn items_type(&self) -> Option<&str> {
        self.extra.get("items")?.get("type")?.as_str()
    }
}

/// One action, as its metadata file declares it.
///
/// For a parameter that overrides a runner parameter, `parameters` holds the
/// merged schema (the runner's attributes with the action's overrides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub pack: String,
    /// `pack.name`
    #[serde(rename = "ref")]
    pub ref_: String,
    /// Canonical runner type name (aliases such as `run-local` are resolved).
    pub runner_type: String,
    /// Relative to the pack's `actions/` directory.
    pub entry_point: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub parameters: IndexMap<String, ParamSpec>,
    /// The metadata file this action was read from.
    pub meta_file: PathBuf,
}

impl Action {
    /// The runner type, when it is one Stormdesk knows.
    pub fn runner(&self) -> Option<&'static RunnerType> {
        runner_types::runner_type(&self.runner_type)
    }

    /// Whether `name` is a parameter of this action's runner (rather than of the action).
    pub fn is_runner_param(&self, name: &str) -> bool {
        self.runner()
            .is_some_and(|r| r.parameters().contains_key(name))
    }

    pub fn is_workflow(&self) -> bool {
        self.runner_type == "orquesta"
    }

    /// Absolute (or pack-relative, when the pack was loaded from a relative
    /// path) path of the entry point: metadata files live in `actions/`.
    pub fn entry_point_path(&self) -> Option<PathBuf> {
        let ep = self
            .entry_point
            .as_deref()
            .filter(|e| !e.trim().is_empty())?;
        Some(actions_dir_of(&self.meta_file).join(ep))
    }

    /// Runner parameters merged with the action's parameters, action ones first
    /// in their declared order, then the remaining runner parameters.
    ///
    /// Where the action redeclares a runner parameter, the action's overridable
    /// attributes win (`default`, `description`, `enum`, `immutable`,
    /// `required`) and the rest (`type`, `secret`, `position`, ...) stay the
    /// runner's.
    pub fn effective_parameters(&self) -> IndexMap<String, ParamSpec> {
        let empty = IndexMap::new();
        let runner = self.runner().map(|r| r.parameters()).unwrap_or(&empty);
        let mut out = IndexMap::with_capacity(self.parameters.len() + runner.len());
        for (name, spec) in &self.parameters {
            let merged = match runner.get(name) {
                Some(base) => merge_runner_override(base, spec),
                None => spec.clone(),
            };
            out.insert(name.clone(), merged);
        }
        for (name, spec) in runner {
            if !out.contains_key(name) {
                out.insert(name.clone(), spec.clone());
            }
        }
        out
    }
}

fn actions_dir_of(meta_file: &Path) -> PathBuf {
    meta_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("actions"))
}

/// The action's view of a runner parameter: non-overridable attributes come
/// from the runner, overridable ones from the action when it sets them.
fn merge_runner_override(base: &ParamSpec, action: &ParamSpec) -> ParamSpec {
    let mut extra = base.extra.clone();
    for (k, v) in &action.extra {
        extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ParamSpec {
        type_: base.type_.clone().or_else(|| action.type_.clone()),
        required: action.required,
        default: action.default.clone().or_else(|| base.default.clone()),
        enum_: action.enum_.clone().or_else(|| base.enum_.clone()),
        immutable: action.immutable || base.immutable,
        secret: base.secret || action.secret,
        position: base.position.or(action.position),
        description: action
            .description
            .clone()
            .or_else(|| base.description.clone()),
        extra,
    }
}

/// The largest integer a JSON float holds exactly (2^53 - 1).
const MAX_EXACT_FLOAT_INT: f64 = 9_007_199_254_740_991.0;

/// Whether `value` has JSON type `ty` (StackStorm/JSON-schema names).
/// An integer-valued float counts as an integer; any number as a number.
pub fn value_matches_type(ty: &str, value: &Value) -> bool {
    match ty {
        "string" => value.is_string(),
        // A float is an integer only while it is exact: 1e23 read as JSON is
        // not 99999999999999999999999 any more, so it is refused, not stored.
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64()
                    || n.is_u64()
                    || n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() <= MAX_EXACT_FLOAT_INT)
            }
            _ => false,
        },
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// The JSON type name of a value, for messages.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---- reading metadata files ------------------------------------------------

/// Where a problem in a metadata file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileProblem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The action's name when it could be read before the problem.
    pub name: Option<String>,
}

impl FileProblem {
    fn plain(name: Option<&str>, message: String) -> Self {
        FileProblem {
            line: None,
            column: None,
            message,
            name: name.map(str::to_string),
        }
    }

    pub(crate) fn from_yaml(name: Option<&str>, e: &serde_yaml::Error) -> Self {
        let loc = e.location();
        FileProblem {
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: strip_yaml_location(&e.to_string()),
            name: name.map(str::to_string),
        }
    }
}

/// serde_yaml appends " at line L column C"; we report the location separately.
pub(crate) fn strip_yaml_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
struct ActionFile {
    name: Option<String>,
    runner_type: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    entry_point: Option<String>,
    #[serde(default)]
    pack: Option<String>,
    #[serde(default)]
    parameters: Option<IndexMap<String, ParamSpec>>,
}

/// Only which attribute keys each parameter sets, to apply StackStorm's
/// override rules.
#[derive(Deserialize)]
struct ParamKeys {
    #[serde(default)]
    parameters: Option<IndexMap<String, Option<IndexMap<String, Value>>>>,
}

/// What one metadata file turned out to be.
#[derive(Debug)]
pub(crate) enum Parsed {
    Action(Box<Action>),
    Unsupported {
        name: String,
        runner_type: String,
        reason: String,
    },
}

/// Reads one action metadata file of pack `pack`.
pub(crate) fn parse_action(pack: &str, file: &Path, text: &str) -> Result<Parsed, FileProblem> {
    if text.trim().is_empty() {
        return Err(FileProblem::plain(
            None,
            "the file is empty; an action needs at least `name` and `runner_type`".into(),
        ));
    }
    let raw: ActionFile =
        serde_yaml::from_str(text).map_err(|e| FileProblem::from_yaml(None, &e))?;
    let name = match raw.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            return Err(FileProblem::plain(
                None,
                "`name` is missing: add `name: <action name>`".into(),
            ))
        }
    };
    let nm = Some(name.as_str());
    if let Some(p) = raw.pack.as_deref() {
        if p != pack {
            return Err(FileProblem::plain(
                nm,
                format!("`pack: {p}` does not match the pack it is in ({pack}); remove the `pack` key or set it to {pack}"),
            ));
        }
    }
    let Some(declared_runner) = raw.runner_type.as_deref().map(str::trim) else {
        return Err(FileProblem::plain(
            nm,
            format!(
                "`runner_type` is missing: set it to one of {}",
                runner_types::supported_runner_types().join(", ")
            ),
        ));
    };
    let runner = match runner_types::runner_type(declared_runner) {
        Some(r) if r.is_supported() => r,
        other => {
            let runner_type = other.map_or(declared_runner, |r| r.name).to_string();
            let reason = runner_types::unsupported_reason(&runner_type)
                .unwrap_or_else(|| format!("runner type {runner_type} is not supported yet"));
            return Ok(Parsed::Unsupported {
                name,
                runner_type,
                reason,
            });
        }
    };

    let mut parameters = raw.parameters.unwrap_or_default();
    let keys: ParamKeys = serde_yaml::from_str(text).map_err(|e| FileProblem::from_yaml(nm, &e))?;
    let keys = keys.parameters.unwrap_or_default();
    let mut positions: BTreeMap<u64, String> = BTreeMap::new();
    for (pname, spec) in parameters.iter_mut() {
        if let Some(t) = spec.type_.as_deref() {
            if !PARAM_TYPES.contains(&t) {
                return Err(FileProblem::plain(
                    nm,
                    format!(
                        "parameter '{pname}' has unknown type '{t}'; use one of {}",
                        PARAM_TYPES.join(", ")
                    ),
                ));
            }
        }
        let written = keys.get(pname).and_then(|k| k.as_ref());
        let set: Vec<&str> = written
            .map(|k| k.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let base = runner.parameters().get(pname);
        check_immutable(pname, base, &set).map_err(|m| FileProblem::plain(nm, m))?;
        if let Some(base) = base {
            *spec = override_runner_param(pname, base, spec, &set)
                .map_err(|m| FileProblem::plain(nm, m))?;
        }
        if let Some(pos) = written.and_then(|k| k.get("position")) {
            let Some(pos) = pos.as_u64() else {
                return Err(FileProblem::plain(
                    nm,
                    format!("parameter '{pname}' has position {pos}; positions are whole numbers from 0"),
                ));
            };
            if let Some(other) = positions.insert(pos, pname.clone()) {
                return Err(FileProblem::plain(
                    nm,
                    format!("parameters {pname} and {other} have the same position {pos}; positions must be unique"),
                ));
            }
        }
    }
    check_contiguous(&positions).map_err(|m| FileProblem::plain(nm, m))?;

    let entry_point = raw.entry_point.filter(|e| !e.trim().is_empty());
    if runner.needs_entry_point {
        let Some(ep) = entry_point.as_deref() else {
            return Err(FileProblem::plain(
                nm,
                format!(
                    "runner type {} needs `entry_point` (a path relative to actions/)",
                    runner.name
                ),
            ));
        };
        let path = actions_dir_of(file).join(ep);
        if !path.is_file() {
            return Err(FileProblem::plain(
                nm,
                format!("entry point {ep} does not exist (looked for {}); fix `entry_point` or add the file", path.display()),
            ));
        }
        inside_pack(file, &path).map_err(|m| FileProblem::plain(nm, m))?;
    }

    Ok(Parsed::Action(Box::new(Action {
        ref_: format!("{pack}.{name}"),
        name,
        pack: pack.to_string(),
        runner_type: runner.name.to_string(),
        entry_point,
        description: raw.description,
        enabled: raw.enabled,
        parameters,
        meta_file: file.to_path_buf(),
    })))
}

/// An entry point must be a file of the pack: `../x.sh`, an absolute path
/// elsewhere or a symlink that leads out of the pack is refused, as
/// StackStorm refuses entry points outside the pack directory
/// (`st2common/content/utils.py`, `get_entry_point_abs_path`). Symlinks are
/// resolved first, which StackStorm does not do.
fn inside_pack(meta_file: &Path, entry_point: &Path) -> Result<(), String> {
    let actions = actions_dir_of(meta_file);
    let pack = actions.parent().unwrap_or(&actions);
    let (Ok(pack), Ok(target)) = (pack.canonicalize(), entry_point.canonicalize()) else {
        return Ok(());
    };
    if target.starts_with(&pack) {
        return Ok(());
    }
    Err(format!(
        "entry point {} leads outside the pack (to {}); keep the file inside the pack directory",
        entry_point.display(),
        target.display()
    ))
}

/// StackStorm's rule for `immutable` in action metadata
/// (`st2common/validators/api/action.py`, `_validate_parameters`): a runner
/// parameter that the runner already declares immutable cannot be declared
/// immutable again, and an immutable parameter needs a `default` key, its own
/// or the runner's (`default: null` counts).
fn check_immutable(name: &str, base: Option<&ParamSpec>, set: &[&str]) -> Result<(), String> {
    if !set.contains(&"immutable") {
        return Ok(());
    }
    let has_default = set.contains(&"default") || base.is_some_and(|b| b.default.is_some());
    if base.is_some_and(|b| b.immutable) {
        return Err(format!(
            "runner parameter '{name}' is declared immutable in the runner; remove `immutable` from it"
        ));
    }
    if !has_default {
        return Err(format!(
            "immutable parameter '{name}' needs a default value: add `default:` or remove `immutable: true`"
        ));
    }
    Ok(())
}

/// Positions must run without gaps (StackStorm's
/// `_validate_position_values_contiguous`).
fn check_contiguous(positions: &BTreeMap<u64, String>) -> Result<(), String> {
    let (Some((&min, _)), Some((&max, _))) =
        (positions.first_key_value(), positions.last_key_value())
    else {
        return Ok(());
    };
    if max - min + 1 == positions.len() as u64 {
        return Ok(());
    }
    let listed: Vec<String> = positions.iter().map(|(p, n)| format!("{n}={p}")).collect();
    Err(format!(
        "parameter positions must be contiguous, without gaps; found {}",
        listed.join(", ")
    ))
}

/// Applies StackStorm's rules for an action parameter that redeclares a
/// runner parameter; `set` lists the attribute keys the action wrote.
fn override_runner_param(
    name: &str,
    base: &ParamSpec,
    action: &ParamSpec,
    set: &[&str],
) -> Result<ParamSpec, String> {
    let base_json = serde_json::to_value(base).unwrap_or(Value::Null);
    let action_json = serde_json::to_value(action).unwrap_or(Value::Null);
    for key in set {
        if RUNNER_PARAM_OVERRIDABLE_ATTRS.contains(key) {
            continue;
        }
        let runner_val = base_json.get(*key).cloned().unwrap_or(Value::Null);
        let action_val = action_json.get(*key).cloned().unwrap_or(Value::Null);
        let same =
            runner_val == action_val || (runner_val.is_null() && action_val == Value::Bool(false));
        if !same {
            return Err(format!(
                "attribute '{key}' of runner parameter '{name}' cannot be overridden; only {} can: remove '{key}' from '{name}'",
                RUNNER_PARAM_OVERRIDABLE_ATTRS.join(", ")
            ));
        }
    }
    let pick = |key: &str| set.contains(&key);
    Ok(ParamSpec {
        type_: base.type_.clone(),
        required: if pick("required") {
            action.required
        } else {
            base.required
        },
        default: if pick("default") {
            action.default.clone()
        } else {
            base.default.clone()
        },
        enum_: if pick("enum") {
            action.enum_.clone()
        } else {
            base.enum_.clone()
        },
        immutable: if pick("immutable") {
            action.immutable
        } else {
            base.immutable
        },
        secret: base.secret,
        position: base.position,
        description: if pick("description") {
            action.description.clone()
        } else {
            base.description.clone()
        },
        extra: base.extra.clone(),
    })
}
