//! The engine's environments: one per key, built once (a per-key lock within
//! the process and a lock file across processes), shared by every run that
//! needs it, leased while a run uses it, and pruned least recently used first
//! beyond the limit, as worktrees are.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::build::{build, is_complete, site_packages, Build, Install, MARKER};
use super::interpreter::{identify, locate, Interpreter};
use super::requirements::Requirements;
use super::tool::{env_python, Tool, ToolChoice};
use super::{Progress, PyEnvError, PyEnvOptions, BASE_REQUIREMENTS, DEFAULT_KEEP};

/// Bumped when the layout of an environment changes, so old ones are not reused.
const LAYOUT: &str = "stormdesk-pyenv-1";
/// Base environments kept besides the one in use (an older interpreter's).
const BASE_KEEP: usize = 2;
/// How often the marker's mtime (the last use other processes see) is renewed.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A finished environment.
#[derive(Debug)]
pub struct Env {
    pub key: String,
    pub dir: PathBuf,
    /// `<dir>/bin/python`.
    pub python: PathBuf,
}

#[derive(Default)]
struct SlotState {
    env: Option<Arc<Env>>,
    /// The last failed build and when it ended: runs that were waiting for it
    /// get its error instead of building again.
    failed: Option<(Instant, PyEnvError)>,
    touched: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    leases: AtomicUsize,
    last_used: Mutex<Option<Instant>>,
}

/// Keeps an environment (and the base layer under it) from being pruned
/// while a run uses it.
pub struct PyEnvLease {
    slot: Arc<Slot>,
    env: Arc<Env>,
    base: Option<Box<PyEnvLease>>,
    fresh: bool,
}

impl PyEnvLease {
    /// The interpreter to run actions with.
    pub fn python(&self) -> &Path {
        &self.env.python
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// This call built the environment.
    pub fn fresh(&self) -> bool {
        self.fresh
    }

    /// The base layer under a pack's environment (`None` for the base itself).
    pub fn base(&self) -> Option<&PyEnvLease> {
        self.base.as_deref()
    }
}

impl Drop for PyEnvLease {
    fn drop(&mut self) {
        *self
            .slot
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.slot.leases.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for PyEnvLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PyEnvLease({})", self.env.dir.display())
    }
}

/// The file in a pack's environments directory that says why its last
/// build failed (see [`PyEnvs::failure`]); a dot name, never an environment.
const FAILED_MARK: &str = ".failed";

/// Where an environment lives: `<root>/base/<key>` or `<root>/packs/<pack>/<key>`.
type SlotKey = (PathBuf, String);

/// Every environment of one engine. Blocking: call from a blocking thread.
pub struct PyEnvs {
    root: PathBuf,
    cache: PathBuf,
    keep: usize,
    python: Option<PathBuf>,
    tool_choice: Option<ToolChoice>,
    interpreter: Mutex<Option<Interpreter>>,
    tool: Mutex<Option<Tool>>,
    slots: Mutex<HashMap<SlotKey, Arc<Slot>>>,
    builds: AtomicUsize,
}

impl PyEnvs {
    /// Environments under `root` (`<data>/virtualenvs`), downloads cached in
    /// `cache` unless the options name another place.
    pub fn new(root: PathBuf, cache: PathBuf, opts: &PyEnvOptions) -> PyEnvs {
        PyEnvs {
            root,
            cache: opts
                .cache_dir
                .clone()
                .or_else(|| std::env::var_os(super::CACHE_VAR).map(PathBuf::from))
                .unwrap_or(cache),
            keep: opts.keep.unwrap_or(DEFAULT_KEEP).max(1),
            python: opts.python.clone(),
            tool_choice: opts.tool,
            interpreter: Mutex::new(None),
            tool: Mutex::new(None),
            slots: Mutex::new(HashMap::new()),
            builds: AtomicUsize::new(0),
        }
    }

    /// How many environments this instance has built (base layers included).
    pub fn builds(&self) -> usize {
        self.builds.load(Ordering::Acquire)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of a pack's environments.
    pub fn pack_root(&self, pack: &str) -> PathBuf {
        self.root.join("packs").join(pack)
    }

    fn base_root(&self) -> PathBuf {
        self.root.join("base")
    }

    /// The interpreter environments are built from (asked once per engine).
    pub fn interpreter(&self) -> Result<Interpreter, PyEnvError> {
        let mut known = self.interpreter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = known.as_ref() {
            return Ok(i.clone());
        }
        let python = locate(self.python.as_deref())?;
        std::fs::create_dir_all(&self.root)
            .map_err(|e| PyEnvError::io("create the environments directory", &self.root, e))?;
        let found = identify(&python, &self.root.join("interpreters.json"))?;
        *known = Some(found.clone());
        Ok(found)
    }

    fn tool(&self, python: &Path) -> Result<Tool, PyEnvError> {
        let mut known = self.tool.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = known.as_ref() {
            return Ok(t.clone());
        }
        let choice = match self.tool_choice {
            Some(c) => c,
            None => ToolChoice::from_env()?,
        };
        let tool = Tool::detect(choice, python)?;
        *known = Some(tool.clone());
        Ok(tool)
    }

    /// The key of the base layer for `interpreter`.
    pub fn base_key(interpreter: &Interpreter) -> String {
        digest(&[
            LAYOUT,
            "base",
            &interpreter.identity,
            &interpreter.executable.display().to_string(),
            &BASE_REQUIREMENTS.join("\n"),
        ])
    }

    /// The key of a pack's environment for these requirements.
    pub fn pack_key(interpreter: &Interpreter, base_key: &str, reqs: &Requirements) -> String {
        digest(&[
            LAYOUT,
            "pack",
            &interpreter.identity,
            &interpreter.executable.display().to_string(),
            base_key,
            &reqs.normalised,
        ])
    }

    /// The base layer, built on first use.
    pub fn base(&self, progress: Progress<'_>) -> Result<PyEnvLease, PyEnvError> {
        let interpreter = self.interpreter()?;
        let key = Self::base_key(&interpreter);
        let root = self.base_root();
        self.ensure(&root, &key, false, |tool| {
            build(&Build {
                label: "base",
                key: &key,
                root: &root,
                interpreter: &interpreter,
                install: Install::Specs(BASE_REQUIREMENTS),
                base_site: None,
                tool,
                cache: &self.cache,
                progress,
                pack_dir: None,
                revision: None,
            })
        })
        .inspect(|lease| {
            if lease.fresh {
                self.prune_dir(&root, BASE_KEEP);
            }
        })
    }

    /// The environment for `pack` as it is in `pack_dir` (a revision's
    /// worktree or the pack's own directory): its `requirements.txt` over the
    /// base layer, or the base layer alone when it has none. Built on first
    /// use; the pack's least recently used environments beyond the limit are
    /// pruned after a build.
    pub fn for_pack(
        &self,
        pack: &str,
        pack_dir: &Path,
        revision: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<PyEnvLease, PyEnvError> {
        let made = self.pack_env(pack, pack_dir, revision, false, progress);
        self.note_outcome(pack, revision, &made);
        made
    }

    /// As [`PyEnvs::for_pack`], but the pack's environment is made anew even
    /// when it exists (StackStorm's `setup_virtualenv` without `update`).
    pub fn rebuild_for_pack(
        &self,
        pack: &str,
        pack_dir: &Path,
        revision: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<PyEnvLease, PyEnvError> {
        let made = self.pack_env(pack, pack_dir, revision, true, progress);
        self.note_outcome(pack, revision, &made);
        made
    }

    /// Why the environment of `pack` as installed (no revision asked for)
    /// could not be made, the last time it was tried; `None` once one was
    /// made. Kept on disk beside the environments
    /// (`<root>/packs/<pack>/.failed`), so every process on the same data
    /// (the engine, `stormdesk pack install`) sees it and pack listings can
    /// say so.
    pub fn failure(&self, pack: &str) -> Option<String> {
        std::fs::read_to_string(self.pack_root(pack).join(FAILED_MARK)).ok()
    }

    fn note_outcome(
        &self,
        pack: &str,
        revision: Option<&str>,
        made: &Result<PyEnvLease, PyEnvError>,
    ) {
        if revision.is_some_and(|r| !r.is_empty()) {
            return;
        }
        let mark = self.pack_root(pack).join(FAILED_MARK);
        match made {
            Ok(_) => {
                let _ = std::fs::remove_file(&mark);
            }
            Err(e) => {
                let _ = std::fs::create_dir_all(self.pack_root(pack));
                if let Err(io) = std::fs::write(&mark, e.to_string()) {
                    tracing::warn!(path = %mark.display(), error = %io, "could not record the failed environment");
                }
            }
        }
    }

    fn pack_env(
        &self,
        pack: &str,
        pack_dir: &Path,
        revision: Option<&str>,
        force: bool,
        progress: Progress<'_>,
    ) -> Result<PyEnvLease, PyEnvError> {
        if pack.is_empty() || pack.starts_with('.') || pack.contains(['/', '\\', '\0']) {
            return Err(PyEnvError::Requirements {
                pack: pack.to_string(),
                file: pack_dir.to_path_buf(),
                line: None,
                message: "the pack's name cannot name a directory of environments; give the pack a plain `ref` in pack.yaml".into(),
            });
        }
        let base = self.base(progress)?;
        let Some(reqs) = Requirements::read(pack, pack_dir)? else {
            return Ok(base);
        };
        let interpreter = self.interpreter()?;
        let key = Self::pack_key(&interpreter, &base.env.key, &reqs);
        let root = self.pack_root(pack);
        let base_site = site_packages(&base.env.dir, &interpreter.version);
        let mut lease = self.ensure(&root, &key, force, |tool| {
            build(&Build {
                label: pack,
                key: &key,
                root: &root,
                interpreter: &interpreter,
                install: Install::File(&reqs),
                base_site: Some(&base_site),
                tool,
                cache: &self.cache,
                progress,
                pack_dir: Some(pack_dir),
                revision,
            })
        })?;
        lease.base = Some(Box::new(base));
        if lease.fresh {
            self.prune_dir(&root, self.keep);
        }
        Ok(lease)
    }

    /// The environment `key` under `root`: known, on disk, or built by `make`
    /// while holding the key's lock (in this process and across processes).
    fn ensure(
        &self,
        root: &Path,
        key: &str,
        force: bool,
        make: impl FnOnce(&Tool) -> Result<PathBuf, PyEnvError>,
    ) -> Result<PyEnvLease, PyEnvError> {
        let arrived = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let slot = slots
                .entry((root.to_path_buf(), key.to_string()))
                .or_default()
                .clone();
            slot.leases.fetch_add(1, Ordering::AcqRel);
            slot
        };
        let result = self.ensure_slot(&slot, root, key, arrived, force, make);
        match result {
            Ok((env, fresh)) => {
                *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                Ok(PyEnvLease {
                    slot,
                    env,
                    base: None,
                    fresh,
                })
            }
            Err(e) => {
                slot.leases.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    fn ensure_slot(
        &self,
        slot: &Slot,
        root: &Path,
        key: &str,
        arrived: Instant,
        force: bool,
        make: impl FnOnce(&Tool) -> Result<PathBuf, PyEnvError>,
    ) -> Result<(Arc<Env>, bool), PyEnvError> {
        // Held for the whole build: runs that need the same environment wait here.
        let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        if force {
            state.env = None;
            state.failed = None;
        }
        if let Some(env) = state.env.clone() {
            if env.python.exists() {
                touch(&mut state, &env.dir);
                return Ok((env, false));
            }
            state.env = None; // removed by another process
        }
        if let Some((at, err)) = &state.failed {
            if *at >= arrived {
                return Err(err.clone());
            }
        }
        let dir = root.join(key);
        if !force && is_complete(&dir) {
            let env = Arc::new(env_at(key, &dir));
            state.env = Some(env.clone());
            touch(&mut state, &dir);
            return Ok((env, false));
        }
        std::fs::create_dir_all(root)
            .map_err(|e| PyEnvError::io("create the environments directory", root, e))?;
        let _lock = lock_file(&root.join(format!(".{key}.lock")), true)?;
        if force && dir.exists() {
            remove_env(root, &dir);
        }
        let fresh = !is_complete(&dir);
        let built = if fresh {
            let interpreter = self.interpreter()?;
            let tool = self.tool(&interpreter.executable)?;
            self.builds.fetch_add(1, Ordering::AcqRel);
            make(&tool)
        } else {
            // Another process built it while this one waited for the lock.
            Ok(dir)
        };
        match built {
            Ok(dir) => {
                let env = Arc::new(env_at(key, &dir));
                state.env = Some(env.clone());
                state.failed = None;
                touch(&mut state, &dir);
                Ok((env, fresh))
            }
            Err(e) => {
                state.failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Removes the least recently used environments of `pack` beyond the
    /// limit that no run holds; returns what was removed.
    pub fn prune(&self, pack: &str) -> Vec<PathBuf> {
        self.prune_dir(&self.pack_root(pack), self.keep)
    }

    fn prune_dir(&self, root: &Path, keep: usize) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let mut candidates: Vec<(Option<Instant>, SystemTime, String, PathBuf)> = Vec::new();
        {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let on_disk = list(root);
            if on_disk.len() <= keep {
                return removed;
            }
            let excess = on_disk.len() - keep;
            for (key, dir) in on_disk {
                let last = match slots.get(&(root.to_path_buf(), key.clone())) {
                    Some(slot) if slot.leases.load(Ordering::Acquire) > 0 => continue,
                    Some(slot) => *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()),
                    None => None,
                };
                let mtime = std::fs::metadata(dir.join(MARKER))
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                candidates.push((last, mtime, key, dir));
            }
            // Unused since this engine started first (oldest use on disk
            // first), then the least recently used.
            candidates.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, _, key, dir) in candidates.into_iter().take(excess) {
                slots.remove(&(root.to_path_buf(), key));
                removed.push(dir);
            }
        }
        for dir in &removed {
            remove_env(root, dir);
        }
        removed
    }

    /// At start: removes half-built environments no process is building and
    /// half-removed ones.
    pub fn clean(&self) {
        let mut roots = vec![self.base_root()];
        if let Ok(packs) = std::fs::read_dir(self.root.join("packs")) {
            roots.extend(packs.flatten().map(|e| e.path()));
        }
        for root in roots {
            let Ok(entries) = std::fs::read_dir(&root) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".trash-") {
                    let _ = std::fs::remove_dir_all(entry.path());
                } else if let Some(rest) = name.strip_prefix(".tmp-") {
                    let key = rest.rsplit_once('-').map_or(rest, |(k, _)| k);
                    // Nobody holds the key's lock: nobody is building it.
                    if lock_file(&root.join(format!(".{key}.lock")), false).is_ok() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
    }

    /// Forgets every environment of a pack and removes them (the pack was
    /// removed or replaced).
    pub fn remove_pack(&self, pack: &str) {
        let root = self.pack_root(pack);
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| k.0 != root);
        let _ = std::fs::remove_dir_all(root);
    }
}

/// Finished environments under `root`, by key.
pub fn list(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!name.starts_with('.') && is_complete(&e.path())).then(|| (name, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Removes an environment, renamed away first so a half-removed one never
/// looks usable.
fn remove_env(root: &Path, dir: &Path) {
    let trash = root.join(format!(".trash-{:08x}", rand::random::<u32>()));
    let target = if std::fs::rename(dir, &trash).is_ok() {
        trash
    } else {
        dir.to_path_buf()
    };
    if let Err(e) = std::fs::remove_dir_all(&target) {
        tracing::warn!(path = %dir.display(), error = %e, "could not remove a Python environment");
    }
}

fn env_at(key: &str, dir: &Path) -> Env {
    Env {
        key: key.to_string(),
        dir: dir.to_path_buf(),
        python: env_python(dir),
    }
}

/// Renews the marker's mtime, which other processes prune by.
fn touch(state: &mut SlotState, dir: &Path) {
    if state.touched.is_some_and(|t| t.elapsed() < TOUCH_EVERY) {
        return;
    }
    state.touched = Some(Instant::now());
    if let Ok(f) = File::options().append(true).open(dir.join(MARKER)) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// An exclusive lock on `path` (created), released when dropped.
fn lock_file(path: &Path, wait: bool) -> Result<Flock<File>, PyEnvError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| PyEnvError::io("open the lock file", path, e))?;
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    Flock::lock(file, arg).map_err(|(_, errno)| PyEnvError::Io {
        doing: "lock".into(),
        path: path.to_path_buf(),
        message: errno.desc().to_string(),
    })
}

/// The first 16 hex digits of the SHA-256 of the parts (NUL-separated).
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
