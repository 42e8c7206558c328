//! Building one environment: a virtualenv made in `<root>/.tmp-<key>-<nonce>`,
//! its requirements installed, the base layer linked in with a `.pth` file,
//! a marker written last, then renamed to `<root>/<key>`. A crash or a
//! failed install leaves no directory that looks complete.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::error::RequirementFailure;
use super::failure::diagnose;
use super::interpreter::{write_atomically, Interpreter};
use super::requirements::Requirements;
use super::tool::{env_python, Failed, Runner, Tool};
use super::{EnvEvent, Progress, PyEnvError};

/// Written last into a finished environment; its presence means complete.
pub const MARKER: &str = ".stormdesk-env.json";
/// The `.pth` file that puts the base layer's site-packages after the
/// environment's own (StackStorm names its own `zzzzzzzzzz__st2__.pth` so it
/// is read last; the same trick).
pub const BASE_PTH: &str = "zzzzzzzzzz__stormdesk_base__.pth";

/// What goes into the environment.
pub enum Install<'a> {
    /// Requirement specifiers (the base layer).
    Specs(&'a [&'a str]),
    /// A pack's requirements file (`-r`).
    File(&'a Requirements),
}

/// One environment to build.
pub struct Build<'a> {
    /// `base`, or the pack's name.
    pub label: &'a str,
    pub key: &'a str,
    /// The directory holding this kind of environment.
    pub root: &'a Path,
    pub interpreter: &'a Interpreter,
    pub install: Install<'a>,
    /// The base layer's site-packages, layered under a pack's environment.
    pub base_site: Option<&'a Path>,
    pub tool: &'a Tool,
    pub cache: &'a Path,
    pub progress: Progress<'a>,
    /// The pack's directory at the revision (for file names in errors).
    pub pack_dir: Option<&'a Path>,
    /// The revision asked for, when not the checked-out one.
    pub revision: Option<&'a str>,
}

#[derive(Serialize)]
struct Marker<'a> {
    key: &'a str,
    env: &'a str,
    python: &'a Path,
    identity: &'a str,
    tool: &'a str,
    requirements: String,
    base: Option<&'a Path>,
    built_at: String,
}

/// Removes a directory when dropped unless disarmed.
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// True when `dir` is a finished environment.
pub fn is_complete(dir: &Path) -> bool {
    dir.join(MARKER).is_file() && env_python(dir).exists()
}

/// The environment's `lib/pythonX.Y/site-packages`.
pub fn site_packages(dir: &Path, version: &str) -> PathBuf {
    dir.join("lib")
        .join(format!("python{version}"))
        .join("site-packages")
}

/// Builds the environment, unless it is already there; returns its directory.
pub fn build(b: &Build<'_>) -> Result<PathBuf, PyEnvError> {
    let dest = b.root.join(b.key);
    if is_complete(&dest) {
        return Ok(dest);
    }
    std::fs::create_dir_all(b.root)
        .map_err(|e| PyEnvError::io("create the environments directory", b.root, e))?;
    let started = Instant::now();
    let tmp = b
        .root
        .join(format!(".tmp-{}-{:08x}", b.key, rand::random::<u32>()));
    let mut cleanup = Cleanup(Some(tmp.clone()));
    let requirements = match &b.install {
        Install::Specs(specs) => specs.len(),
        Install::File(r) => r.lines.len(),
    };
    (b.progress)(&EnvEvent::Building {
        env: b.label.to_string(),
        key: b.key.to_string(),
        tool: b.tool.name().to_string(),
        requirements,
    });
    let runner = Runner {
        env_label: b.label,
        cache: b.cache,
        progress: b.progress,
    };
    b.tool
        .create(&runner, &b.interpreter.executable, &tmp)
        .map_err(|f| tool_error(b, "creating the virtualenv", f))?;
    let args: Vec<OsString> = match &b.install {
        Install::Specs(specs) => specs.iter().map(OsString::from).collect(),
        Install::File(r) => vec!["-r".into(), r.file.clone().into_os_string()],
    };
    b.tool
        .install(&runner, &env_python(&tmp), &args)
        .map_err(|f| install_error(b, f))?;
    let site = site_packages(&tmp, &b.interpreter.version);
    if let Some(base) = b.base_site {
        // Read by `site` at start-up, after the environment's own packages:
        // the pack's pins win, the base layer fills in the rest.
        let line = format!(
            "import site; site.addsitedir({})\n",
            python_string(&base.display().to_string())
        );
        std::fs::write(site.join(BASE_PTH), line)
            .map_err(|e| PyEnvError::io("write the base layer link in", &site, e))?;
    }
    if matches!(b.tool, Tool::Pip) {
        relocate_scripts(&tmp, &dest)?;
    }
    let marker = Marker {
        key: b.key,
        env: b.label,
        python: &b.interpreter.executable,
        identity: &b.interpreter.identity,
        tool: b.tool.name(),
        requirements: match &b.install {
            Install::Specs(specs) => specs.join("\n"),
            Install::File(r) => r.normalised.clone(),
        },
        base: b.base_site,
        built_at: chrono::Utc::now().to_rfc3339(),
    };
    write_atomically(
        &tmp.join(MARKER),
        &serde_json::to_vec_pretty(&marker).unwrap_or_default(),
    )
    .map_err(|e| PyEnvError::io("write the environment's marker in", &tmp, e))?;
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => cleanup.0 = None,
        // Another process finished the same environment first: same content.
        Err(_) if is_complete(&dest) => {}
        Err(e) => {
            return Err(PyEnvError::io(
                "move the environment into place at",
                &dest,
                e,
            ))
        }
    }
    (b.progress)(&EnvEvent::Built {
        env: b.label.to_string(),
        key: b.key.to_string(),
        dir: dest.clone(),
        millis: started.elapsed().as_millis() as u64,
    });
    Ok(dest)
}

/// A Python string literal for `s`.
fn python_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// pip's scripts name the interpreter by absolute path: point them (and the
/// activate scripts) at the final directory. uv's relocatable environments
/// need nothing.
fn relocate_scripts(tmp: &Path, dest: &Path) -> Result<(), PyEnvError> {
    let bin = tmp.join("bin");
    let (from, to) = (tmp.display().to_string(), dest.display().to_string());
    let entries =
        std::fs::read_dir(&bin).map_err(|e| PyEnvError::io("read the scripts in", &bin, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_symlink() || !path.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // binary
        };
        if text.contains(&from) {
            std::fs::write(&path, text.replace(&from, &to))
                .map_err(|e| PyEnvError::io("rewrite", &path, e))?;
        }
    }
    Ok(())
}

fn tool_error(b: &Build<'_>, doing: &str, f: Failed) -> PyEnvError {
    let d = diagnose(&f.output, None);
    PyEnvError::Tool {
        env: env_name(b),
        tool: b.tool.name().to_string(),
        doing: doing.to_string(),
        details: if d.details.is_empty() {
            f.what
        } else {
            d.details
        },
    }
}

fn install_error(b: &Build<'_>, f: Failed) -> PyEnvError {
    let reqs = match &b.install {
        Install::File(r) => Some(*r),
        Install::Specs(_) => None,
    };
    let d = diagnose(&f.output, reqs);
    match d.requirement {
        Some(requirement) => PyEnvError::Requirement(Box::new(RequirementFailure {
            pack: b.label.to_string(),
            requirement,
            at: d.line.map(|l| {
                let file = b
                    .pack_dir
                    .and_then(|p| l.file.strip_prefix(p).ok())
                    .map(Path::to_path_buf)
                    .unwrap_or(l.file.clone());
                (file, l.line, l.text)
            }),
            reason: d.reason,
            revision: b.revision.map(str::to_string),
            details: d.details,
        })),
        None => PyEnvError::Tool {
            env: env_name(b),
            tool: b.tool.name().to_string(),
            doing: "installing the requirements".into(),
            details: format!("{}\n{}", d.reason, d.details),
        },
    }
}

fn env_name(b: &Build<'_>) -> String {
    if b.base_site.is_none() && matches!(b.install, Install::Specs(_)) {
        "the base Python environment".to_string()
    } else {
        format!("the Python environment of pack '{}'", b.label)
    }
}
