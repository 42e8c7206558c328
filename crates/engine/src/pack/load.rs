//! Reading a pack directory: `pack.yaml`, `config.schema.yaml`, `actions/*.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::action::{parse_action, FileProblem, Parsed};
use super::config::read_config_schema;
use super::meta::PackMeta;
use super::{ActionFileError, IgnoredContent, Pack, PackError, UnsupportedAction};

/// Pack content StackStorm loads and Stormdesk does not run, with the reason
/// shown to the operator.
const IGNORED_KINDS: &[(&str, &str)] = &[
    (
        "sensors",
        "Stormdesk runs no sensors; start their actions from the console, the CLI or the API",
    ),
    (
        "rules",
        "Stormdesk has no rules engine; rules are not evaluated",
    ),
    (
        "aliases",
        "Stormdesk has no ChatOps; action aliases are not served",
    ),
    (
        "policies",
        "Stormdesk does not apply action policies (concurrency, retry on failure)",
    ),
    (
        "triggers",
        "Stormdesk has no triggers; trigger types are not registered",
    ),
];

/// Loads the pack in `dir`. Broken or unsupported actions do not fail the
/// pack: they are listed in [`Pack::errors`] and [`Pack::unsupported`].
pub fn load_pack(dir: &Path) -> Result<Pack, PackError> {
    if !dir.is_dir() {
        return Err(PackError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let meta_file = ["pack.yaml", "pack.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| PackError::MissingMeta {
            dir: dir.to_path_buf(),
        })?;
    let text = read(&meta_file)?;
    if text.trim().is_empty() {
        return Err(PackError::InvalidMeta {
            file: meta_file,
            message:
                "the file is empty: add at least `ref: <pack>`, `name`, `description` and `version`"
                    .into(),
        });
    }
    let meta: PackMeta =
        serde_yaml::from_str(&text).map_err(|e| PackError::yaml(&meta_file, &e))?;
    let name = meta.pack_ref().map_err(|message| PackError::InvalidMeta {
        file: meta_file.clone(),
        message,
    })?;
    let config_schema = read_config_schema(dir)?;

    let mut pack = Pack {
        name,
        dir: dir.to_path_buf(),
        meta,
        actions: BTreeMap::new(),
        unsupported: Vec::new(),
        errors: Vec::new(),
        config_schema,
        ignored: ignored_content(dir),
    };
    load_actions(&mut pack)?;
    Ok(pack)
}

/// Counts the metadata files of each kind of content Stormdesk does not run.
fn ignored_content(dir: &Path) -> Vec<IgnoredContent> {
    IGNORED_KINDS
        .iter()
        .filter_map(|&(kind, reason)| {
            let files = metadata_files(&dir.join(kind)).ok()?.len();
            (files > 0).then_some(IgnoredContent {
                kind,
                files,
                reason,
            })
        })
        .collect()
}

fn read(path: &Path) -> Result<String, PackError> {
    std::fs::read_to_string(path).map_err(|source| PackError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn metadata_files(actions_dir: &Path) -> Result<Vec<PathBuf>, PackError> {
    let entries = std::fs::read_dir(actions_dir).map_err(|source| PackError::Io {
        path: actions_dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    Ok(files)
}

fn load_actions(pack: &mut Pack) -> Result<(), PackError> {
    let actions_dir = pack.dir.join("actions");
    if !actions_dir.is_dir() {
        return Ok(());
    }
    // Workflow definitions live in actions/workflows/ and are only reached
    // through an action's entry_point: the scan is not recursive.
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for file in metadata_files(&actions_dir)? {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                pack.errors.push(ActionFileError {
                    file,
                    name: None,
                    line: None,
                    column: None,
                    message: format!("cannot read the file: {e}"),
                });
                continue;
            }
        };
        let parsed = parse_action(&pack.name, &file, &text);
        let name = match &parsed {
            Ok(Parsed::Action(a)) => Some(a.name.clone()),
            Ok(Parsed::Unsupported { name, .. }) => Some(name.clone()),
            Err(_) => None,
        };
        if let Some(name) = name {
            if let Some(first) = seen.get(&name) {
                pack.errors.push(ActionFileError {
                    file: file.clone(),
                    name: Some(name.clone()),
                    line: None,
                    column: None,
                    message: format!(
                        "action '{name}' is already defined in {}; rename one of them",
                        first.display()
                    ),
                });
                continue;
            }
            seen.insert(name, file.clone());
        }
        match parsed {
            Ok(Parsed::Action(a)) => {
                pack.actions.insert(a.name.clone(), *a);
            }
            Ok(Parsed::Unsupported {
                name,
                runner_type,
                reason,
            }) => pack.unsupported.push(UnsupportedAction {
                name,
                file,
                runner_type,
                reason,
            }),
            Err(FileProblem {
                line,
                column,
                message,
                name,
            }) => pack.errors.push(ActionFileError {
                file,
                name,
                line,
                column,
                message,
            }),
        }
    }
    // A workflow definition kept next to the metadata files (older packs do
    // that) is an action's entry point, not a broken action.
    let entry_points: Vec<PathBuf> = pack
        .actions
        .values()
        .filter_map(|a| a.entry_point_path())
        .collect();
    pack.errors.retain(|e| !entry_points.contains(&e.file));
    Ok(())
}

/// Loads every subdirectory of `dir` that has a `pack.yaml`, in name order.
/// Packs that fail to load, and a second pack claiming a ref already taken,
/// come back as errors; the others load regardless.
pub fn load_packs_dir(dir: &Path) -> (Vec<Pack>, Vec<PackError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            return (
                Vec::new(),
                vec![PackError::Io {
                    path: dir.to_path_buf(),
                    source,
                }],
            )
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            // Hidden directories are work in progress (e.g. an install being cloned).
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            !hidden && p.is_dir() && (p.join("pack.yaml").is_file() || p.join("pack.yml").is_file())
        })
        .collect();
    dirs.sort();
    let mut packs: Vec<Pack> = Vec::new();
    let mut errors = Vec::new();
    for d in dirs {
        match load_pack(&d) {
            Ok(p) => {
                if let Some(first) = packs.iter().find(|q| q.name == p.name) {
                    errors.push(PackError::DuplicatePack {
                        name: p.name.clone(),
                        first: first.dir.clone(),
                        second: p.dir.clone(),
                    });
                } else {
                    packs.push(p);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (packs, errors)
}
