//! The engine handle: starts the store, listener and background work, and runs actions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::catalog::{self, ActionDetail, ActionSummary, Catalog, PackSummary};
use crate::error::EngineError;
use crate::events::{BusEvent, EventBus};
use crate::git::{WorktreeLease, Worktrees};
use crate::mask::{secret_strings, Secrets};
use crate::model::{
    new_execution_id, now_rfc3339, Event, Execution, ExecutionAction, ExecutionFilter,
    ExecutionOutput, ExecutionRunner, RunRequest, Status, StatusLogEntry,
};
use crate::params::{self, RenderContext};
use crate::paths::Paths;
use crate::store::{Store, WriteOp};
use crate::{launch, reconcile, token};

/// How the engine is set up; everything has a default.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Overrides `STORMDESK_HOME` and the platform directories.
    pub home: Option<PathBuf>,
    /// Extra directories of packs (or single pack directories), loaded after `<data>/packs`.
    pub pack_dirs: Vec<PathBuf>,
    /// Listener address; default `127.0.0.1:0` (a free port).
    pub listen: Option<SocketAddr>,
    /// The `stormdesk-runner` binary; default `STORMDESK_RUNNER`, then next to this executable.
    pub runner_bin: Option<PathBuf>,
    /// Arguments for `runner_bin` (e.g. a subcommand when a binary embeds the runner).
    pub runner_args: Vec<String>,
    /// Callback delivery attempts the runner makes before spooling (default 5).
    pub callback_attempts: Option<u32>,
    /// Keep one runner process started ahead of need, so a run does not wait
    /// for process start-up (long-lived engines: `serve`, the desktop app).
    pub prewarm: bool,
    /// One runner process per run, as before runner processes served one run
    /// after another. Default false; benchmarks set it for a baseline.
    pub single_use_runners: bool,
    /// Do not load the example pack embedded in the binary.
    pub no_examples: bool,
    /// Publish `<data>/listener.json` so other processes (CLI `tail`) find this engine.
    pub advertise: bool,
    /// How a child's completion reaches its workflow: pushed (default) or
    /// polled from the store (StackStorm's old results tracker).
    pub completion: crate::workflow::CompletionMode,
    /// Unused worktrees kept per pack before the least recently used are
    /// removed (default [`crate::git::DEFAULT_KEEP`]).
    pub worktree_keep: Option<usize>,
    /// Deepest nesting of workflows (a top-level run is level 1); a task
    /// that would go deeper fails with an error naming the path. Default
    /// [`DEFAULT_MAX_DEPTH`]. StackStorm has no limit, so a workflow that
    /// calls itself never stops there.
    pub max_depth: Option<usize>,
    /// Most executions running at once under one top-level run. Default
    /// [`DEFAULT_MAX_LIVE_PER_ROOT`].
    pub max_live_per_root: Option<usize>,
    /// How Python environments are built (interpreter, cache, limit).
    pub pyenv: crate::pyenv::PyEnvOptions,
    /// Bytes of output one execution keeps (all streams together; long
    /// result strings are cut to it too, and the result says so in
    /// `truncated`). Default `STORMDESK_MAX_OUTPUT_BYTES`, else
    /// [`stormdesk_runner::cap::DEFAULT_MAX_OUTPUT_BYTES`] (8 MiB).
    pub max_output_bytes: Option<u64>,
    /// How long one minute of an Inquiry's `ttl` lasts (default 60 s);
    /// tests shorten it to see Inquiries expire.
    pub inquiry_ttl_unit: Option<Duration>,
}

/// Default of [`EngineOptions::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 50;
/// Default of [`EngineOptions::max_live_per_root`].
pub const DEFAULT_MAX_LIVE_PER_ROOT: usize = 5_000;

/// How long a canceled runner gets to stop its process tree before it is killed.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How often the spool and adopted runners are checked, besides at start and at runner exit.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// What the engine knows of an execution that has not completed.
pub(crate) struct Live {
    pub execution: Execution,
    /// The runner's callback token (runner routes only), as
    /// [`token::callback_token_hash`] keeps it: the clear token exists only
    /// in the runner's request.
    pub token: String,
    /// sha256 of the action's API token (`ST2_ACTION_AUTH_TOKEN`).
    pub action_token_hash: Option<String>,
    pub runner_pid: Option<u32>,
    pub child_pid: Option<u32>,
    pub control: Option<mpsc::UnboundedSender<launch::Control>>,
    /// Left running by an earlier engine; its runner is not our child.
    pub adopted: bool,
    /// A final report is being committed; until the store has it, other
    /// reports are asked to come again (nothing is acknowledged unstored).
    pub finishing: bool,
}

pub(crate) struct Inner {
    pub paths: Paths,
    pub store: Store,
    pub bus: EventBus,
    pub catalog: RwLock<Catalog>,
    pub pack_dirs: Vec<PathBuf>,
    pub live: Mutex<HashMap<String, Live>>,
    pub worktrees: Worktrees,
    pub workflows: crate::workflow::Workflows,
    /// The ActionChains this engine is running.
    pub chains: crate::chain::Chains,
    /// One minute of an Inquiry's ttl.
    pub inquiry_ttl_unit: Duration,
    /// The root pauses Inquiries under ActionChains asked for, by Inquiry
    /// id, still in flight: an answer waits for its Inquiry's before it
    /// resumes the root, or a late pause would stop the root again after
    /// the resume ([`crate::inquiry`]).
    pub inquiry_pauses: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    /// The worktree each running execution uses, kept from pruning until it completes.
    pub leases: Mutex<HashMap<String, WorktreeLease>>,
    pub pyenvs: crate::pyenv::PyEnvs,
    /// The Python environment each running Python action uses, likewise.
    pub pyenv_leases: Mutex<HashMap<String, crate::pyenv::PyEnvLease>>,
    /// Secret values per execution, kept until its runner has exited and its
    /// spool is applied (output can arrive after the final status).
    pub secrets: Mutex<HashMap<String, Secrets>>,
    pub api_token: String,
    /// Encrypts secret datastore values at rest ([`crate::datastore_key`]).
    pub datastore_key: Arc<crate::datastore_key::DatastoreKey>,
    pub auth: crate::auth::AuthState,
    /// The console's base URL, for executions' `web_url`.
    pub console_url: RwLock<Option<String>>,
    pub runner_bin: PathBuf,
    pub runner_args: Vec<String>,
    pub prewarm: bool,
    pub single_use_runners: bool,
    pub warm: Mutex<launch::WarmPool>,
    pub callback_attempts: u32,
    pub max_depth: usize,
    pub max_live_per_root: usize,
    pub max_output_bytes: u64,
    pub url: RwLock<String>,
    pub shutdown: CancellationToken,
    /// The tasks watching runner processes.
    pub runners: TaskTracker,
}

/// A run resolved and registered, not yet recorded or started
/// ([`Engine::prepare_run`]).
pub(crate) struct Prepared {
    pub execution: Execution,
    request: stormdesk_runner::protocol::RunnerRequest,
    /// The workflow to conduct and its first step.
    workflow: Option<(crate::workflow::Run, crate::workflow::Step)>,
    chain: Option<PreparedChain>,
    /// To commit before the run starts, in order.
    pub ops: Vec<WriteOp>,
}

/// An ActionChain read and inspected, to run once recorded.
struct PreparedChain {
    spec: crate::chain::ChainSpec,
    pack: String,
    /// The commit the chain's same-pack links run at.
    pin: Option<String>,
}

/// The engine. Cheap to clone; background work stops when `shutdown` is called.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    pub async fn start(opts: EngineOptions) -> Result<Engine, EngineError> {
        let paths = Paths::resolve(opts.home.as_deref())?;
        paths.create_all()?;
        let api_token = token::load_or_create_api_token(&paths.token_file())?;
        let local_user = crate::auth::load_or_create_local_user(&paths.credentials_file())?;
        let datastore_key = Arc::new(crate::datastore_key::DatastoreKey::load_or_create(
            &paths.datastore_key_file(),
        )?);
        let store = Store::open(&paths.db(), &datastore_key)?;
        // Lowest precedence first: the bundled packs, then installed packs,
        // then the directories given; a later pack of the same name wins.
        let mut pack_dirs = vec![crate::bundled::install_core(&paths.data)?];
        if !opts.no_examples {
            pack_dirs.push(crate::bundled::install_examples(&paths.data)?);
        }
        // Where installed packs go: made now, so only the directories given
        // can be missing (and are reported then).
        let installed = paths.packs();
        std::fs::create_dir_all(&installed)
            .map_err(|e| EngineError::io("cannot create the packs directory", &installed, e))?;
        pack_dirs.push(installed);
        pack_dirs.extend(opts.pack_dirs.iter().cloned());
        let catalog = Catalog::load(&pack_dirs);
        let git_packs: Vec<(String, PathBuf)> = catalog
            .packs
            .iter()
            .filter(|p| crate::git::is_git_repo(&p.dir))
            .map(|p| (p.name.clone(), p.dir.clone()))
            .collect();
        for e in &catalog.errors {
            tracing::warn!(error = %e, "pack not loaded");
        }
        // A pack replacing a bundled one (a user's `core`, an installed
        // `examples`) is the point of the bundled ones being lowest: said
        // once at info (and in `pack list` and the console's Packs screen).
        // Two of the user's own packs of one name are a mistake: a warning.
        let bundled = &pack_dirs[..pack_dirs.len() - opts.pack_dirs.len() - 1];
        for s in &catalog.shadowed {
            if bundled.iter().any(|dir| s.hidden.starts_with(dir)) {
                tracing::info!("{s}");
            } else {
                tracing::warn!("{s}");
            }
        }
        let worktrees = Worktrees::new(
            paths.worktrees(),
            opts.worktree_keep.unwrap_or(crate::git::DEFAULT_KEEP),
        );
        let pyenvs =
            crate::pyenv::PyEnvs::new(paths.virtualenvs(), paths.python_cache(), &opts.pyenv);
        let inner = Arc::new(Inner {
            runner_bin: opts
                .runner_bin
                .clone()
                .unwrap_or_else(launch::default_runner_bin),
            runner_args: opts.runner_args.clone(),
            prewarm: opts.prewarm,
            single_use_runners: opts.single_use_runners,
            warm: Mutex::new(launch::WarmPool::default()),
            inquiry_pauses: Mutex::new(HashMap::new()),
            callback_attempts: opts.callback_attempts.unwrap_or(5),
            max_depth: opts.max_depth.unwrap_or(DEFAULT_MAX_DEPTH).max(1),
            max_live_per_root: opts
                .max_live_per_root
                .unwrap_or(DEFAULT_MAX_LIVE_PER_ROOT)
                .max(1),
            max_output_bytes: opts
                .max_output_bytes
                .or_else(|| {
                    std::env::var("STORMDESK_MAX_OUTPUT_BYTES")
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(stormdesk_runner::cap::DEFAULT_MAX_OUTPUT_BYTES)
                .max(1),
            paths,
            store,
            datastore_key,
            bus: EventBus::new(),
            catalog: RwLock::new(catalog),
            pack_dirs,
            live: Mutex::new(HashMap::new()),
            worktrees,
            workflows: crate::workflow::Workflows::new(opts.completion),
            chains: crate::chain::Chains::default(),
            inquiry_ttl_unit: opts.inquiry_ttl_unit.unwrap_or(Duration::from_secs(60)),
            leases: Mutex::new(HashMap::new()),
            pyenvs,
            pyenv_leases: Mutex::new(HashMap::new()),
            secrets: Mutex::new(HashMap::new()),
            api_token,
            auth: crate::auth::AuthState::new(local_user),
            console_url: RwLock::new(None),
            url: RwLock::new(String::new()),
            shutdown: CancellationToken::new(),
            runners: TaskTracker::new(),
        });
        let engine = Engine { inner };
        engine.load_auth().await?;
        let addr = opts
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let bound = crate::api::serve(engine.clone(), addr).await?;
        *engine.inner.url.write().unwrap_or_else(|e| e.into_inner()) = format!("http://{bound}");
        if opts.advertise {
            reconcile::advertise(&engine.inner.paths, &engine.api_url(), None)?;
        }
        let in_process = reconcile::at_start(&engine).await?;
        crate::nesting::recover(&engine, in_process).await?;
        if let crate::workflow::CompletionMode::Poll(every) = opts.completion {
            crate::workflow::spawn_tracker(&engine, every);
        }
        // Half-made worktrees of a crash and stale `.git/worktrees` entries go
        // before the first run can look at them.
        let bg = engine.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for (name, dir) in git_packs {
                bg.inner.worktrees.clean(&name, &dir);
            }
            bg.inner.pyenvs.clean();
        })
        .await;
        if opts.prewarm {
            launch::prewarm(&engine);
            engine.prewarm_python();
        }
        let bg = engine.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECONCILE_EVERY);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = bg.inner.shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = reconcile::periodic(&bg).await {
                            tracing::warn!(error = %e, "reconcile failed");
                        }
                        launch::trim_idle(&bg, launch::IDLE_LIMIT);
                    }
                }
            }
        });
        Ok(engine)
    }

    /// Stops the listener and background work. Running runners keep going and
    /// report to the next engine (or spool).
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        launch::drop_warm(self);
        reconcile::unadvertise(&self.inner.paths, &self.api_url());
    }

    /// Waits (at most `limit`) until every run handed to a runner process is
    /// reported, so the last reports reach the listener before a short-lived
    /// engine stops; then the runner processes waiting for a next run are
    /// told to exit and waited for.
    pub async fn wait_for_runners(&self, limit: Duration) {
        let wait = async {
            self.runs_handed_out_ended().await;
            launch::retire_idle(self).await;
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            self.inner.runners.reopen();
        }
    }

    /// Returns once every run handed to a runner process has ended (and its
    /// runner is back in the pool or gone); runs handed out later are
    /// tracked as before.
    async fn runs_handed_out_ended(&self) {
        self.inner.runners.close();
        self.inner.runners.wait().await;
        self.inner.runners.reopen();
    }

    pub fn api_url(&self) -> String {
        self.inner
            .url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn api_token(&self) -> &str {
        &self.inner.api_token
    }

    /// The console that shows this engine's executions (e.g. `stormdesk
    /// serve --listen`): executions started from now on get a `web_url`.
    /// The listener file says it too, when it names this engine, so the
    /// command line names the address people use.
    pub fn set_console_url(&self, url: Option<String>) {
        let advertised = reconcile::live_listener(&self.inner.paths)
            .is_some_and(|l| l.pid == std::process::id() && l.url == self.api_url());
        if advertised {
            if let Err(e) = reconcile::advertise(&self.inner.paths, &self.api_url(), url.as_deref())
            {
                tracing::warn!(error = %e, "the listener file does not name the console");
            }
        }
        *self
            .inner
            .console_url
            .write()
            .unwrap_or_else(|e| e.into_inner()) = url;
    }

    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    /// Reloads every pack from disk (after an install or an edit).
    pub fn reload_packs(&self) {
        let catalog = Catalog::load(&self.inner.pack_dirs);
        *self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner()) = catalog;
    }

    pub(crate) fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.inner.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Every loaded pack, with what did not load and whether its Python
    /// environment could not be made.
    pub fn packs(&self) -> Vec<PackSummary> {
        let mut packs = self.catalog().pack_summaries();
        for p in &mut packs {
            p.python_env_error = self.inner.pyenvs.failure(&p.ref_);
        }
        packs
    }

    /// Packs that failed to load, with the reason.
    pub fn pack_errors(&self) -> Vec<String> {
        self.catalog()
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    pub fn actions(&self) -> Vec<ActionSummary> {
        self.catalog().action_summaries()
    }

    pub fn action(&self, action_ref: &str) -> Result<ActionDetail, EngineError> {
        self.catalog().action_detail(action_ref)
    }

    /// The file an action's `entry_point` names.
    pub fn entry_point_file(&self, action_ref: &str) -> Result<PathBuf, EngineError> {
        let catalog = self.catalog();
        let (pack, action) = catalog.action(action_ref)?;
        catalog::entry_point_path(pack, action).ok_or_else(|| {
            EngineError::NotFound(format!("action '{action_ref}' has no entry point"))
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.inner.bus.subscribe()
    }

    /// Why `id` (with `status`) cannot be `verb` (canceled, paused,
    /// resumed) here: [`EngineError::NotHere`] when it is not completed but
    /// this engine does not run it (a `stormdesk run` of its own on the same
    /// data), else [`EngineError::NotActive`].
    pub(crate) fn cannot_control(
        &self,
        id: &str,
        status: Status,
        verb: &'static str,
    ) -> EngineError {
        let here = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id);
        if !status.is_completed() && !here {
            EngineError::NotHere {
                id: id.to_string(),
                status: status.to_string(),
                verb,
            }
        } else {
            EngineError::NotActive {
                id: id.to_string(),
                status: status.to_string(),
                verb,
            }
        }
    }

    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    /// Validates, records and starts an execution; returns once it is scheduled.
    pub async fn run(&self, req: RunRequest) -> Result<Execution, EngineError> {
        self.run_with_parent(req, None, Map::new()).await
    }

    pub(crate) async fn run_with_parent(
        &self,
        req: RunRequest,
        parent: Option<String>,
        context: Map<String, Value>,
    ) -> Result<Execution, EngineError> {
        self.run_from(req, parent, context, None).await
    }

    /// As [`Engine::run_with_parent`]; a workflow re-run from chosen tasks
    /// (`rerun`) continues the original's conductor instead of starting anew.
    pub(crate) async fn run_from(
        &self,
        req: RunRequest,
        parent: Option<String>,
        context: Map<String, Value>,
        rerun: Option<crate::workflow::RerunFrom>,
    ) -> Result<Execution, EngineError> {
        let mut prepared = self.prepare_run(req, parent, context, rerun).await?;
        let ops = WriteOp::Batch(std::mem::take(&mut prepared.ops));
        if prepared.execution.parent.is_none() {
            // A top-level run's id goes back to whoever asked (an API client,
            // `stormdesk run --async`): it is stored before it is given out.
            if let Err(e) = self.inner.store.write(ops).await {
                self.forget(&prepared.execution.id);
                return Err(e);
            }
        } else {
            // A child (a chain's link; a workflow's tasks are committed with
            // the step that starts them): queued, not awaited. The writer
            // keeps order, and until it commits the live map answers every
            // read of it.
            self.inner.store.write_nowait(ops)?;
        }
        self.start_prepared(prepared).await
    }

    /// Everything of a run up to its start: the action and parameters are
    /// resolved, the execution is known as live, and `ops` holds what must be
    /// committed before it starts (its record; a workflow's first snapshot).
    /// Nothing is written or published yet, so a workflow step commits the
    /// records of the children it starts together with its own log row.
    /// `rerun`: a workflow re-run from chosen tasks continues the original's
    /// conductor instead of starting anew.
    pub(crate) async fn prepare_run(
        &self,
        mut req: RunRequest,
        parent: Option<String>,
        mut context: Map<String, Value>,
        rerun: Option<crate::workflow::RerunFrom>,
    ) -> Result<Prepared, EngineError> {
        if let Some(parent) = &parent {
            self.check_limits(parent, &req.action)?;
        }
        for (k, v) in std::mem::take(&mut req.context) {
            context.entry(k).or_insert(v);
        }
        let user = req
            .user
            .clone()
            .or_else(|| {
                context
                    .get("user")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| self.local_user().to_string());
        context.insert("user".into(), Value::String(user));
        // The revision may come as StackStorm's runner parameter too; either
        // way it is the engine's to resolve, never passed on as a parameter.
        let content_version = match req.parameters.remove("content_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(rev)) => Some(rev),
            Some(other) => {
                return Err(EngineError::BadRequest(format!(
                "action '{}': content_version {other} must be a string (a tag, branch or commit)",
                req.action
            )))
            }
        };
        let content_version = req
            .content_version
            .take()
            .or(content_version)
            .filter(|r| !r.is_empty());
        let lease = match &content_version {
            Some(rev) => Some(self.checkout_for(&req.action, rev).await?),
            None => None,
        };
        let id = new_execution_id();
        let prepared = {
            let catalog = self.catalog();
            let (pack, action) = match &lease {
                Some(lease) => crate::pack_revisions::action_in_checkout(
                    lease.checkout(),
                    &req.action,
                    content_version.as_deref().unwrap_or_default(),
                )?,
                None => catalog.action(&req.action)?,
            };
            if !action.enabled {
                return Err(EngineError::DisabledAction(req.action.clone()));
            }
            let commit = match &lease {
                Some(lease) => Some(lease.checkout().sha.clone()),
                None => crate::git::head_commit(&pack.dir),
            };
            let config = catalog::pack_config(pack, &self.inner.paths.configs())?;
            let datastore = std::sync::Arc::new(params::datastore::KvStore::for_user(
                self.inner.paths.db(),
                self.inner.datastore_key.clone(),
                context
                    .get("user")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ));
            let resolved = params::resolve_parameters(
                action,
                &req.parameters,
                &RenderContext {
                    config: config.clone(),
                    action_context: self.action_context(&pack.name, &context),
                    datastore: Some(datastore.clone()),
                },
            )?;
            // Datastore secrets the templates decrypted are the run's
            // secrets too, in its output as in its parameters.
            let decrypted: Vec<String> = datastore
                .take_clear_values()
                .into_iter()
                .flat_map(|v| secret_strings(&Value::String(v)))
                .collect();
            // A workflow's secrets are its tasks' secrets too, whatever
            // parameter they are passed as.
            let inherited: Vec<String> = parent
                .as_ref()
                .and_then(|p| {
                    let secrets = self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner());
                    secrets.get(p).map(|s| s.values().to_vec())
                })
                .unwrap_or_default();
            let secrets = Secrets::new(
                resolved
                    .secret_names
                    .iter()
                    .filter_map(|n| resolved.all.get(n))
                    .flat_map(secret_strings)
                    .chain(inherited)
                    .chain(decrypted),
            );
            let conductor = match rerun {
                Some(from) if action.runner_type == crate::workflow::WORKFLOW_RUNNER => {
                    let user = context
                        .get("user")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    Some(crate::workflow::rerun_conductor(
                        self,
                        &req.action,
                        user,
                        from,
                    )?)
                }
                Some(_) => {
                    return Err(EngineError::BadRequest(format!(
                        "'{}' is not a workflow; tasks can only be given to re-run a workflow",
                        req.action
                    )))
                }
                None if action.runner_type == crate::workflow::WORKFLOW_RUNNER => Some((
                    crate::workflow::prepare(
                        &req.action,
                        catalog::entry_point_path(pack, action).as_deref(),
                        &resolved.declared,
                        self.st2_context(&id, &req.action, &pack.name, &context),
                        pack,
                        &catalog,
                    )?,
                    crate::workflow::Step::Start,
                )),
                None => None,
            };
            // A chain file is read and inspected before anything is recorded.
            let chain = if action.runner_type == crate::chain::CHAIN_RUNNER {
                Some(crate::chain::prepare(
                    &catalog,
                    lease.as_ref().map(|l| l.checkout()),
                    &req.action,
                    catalog::entry_point_path(pack, action).as_deref(),
                )?)
            } else {
                None
            };
            let request = stormdesk_runner::protocol::RunnerRequest {
                execution_id: String::new(),
                runner_type: action.runner_type.clone(),
                action_ref: action.ref_.clone(),
                runner_parameters: resolved.runner.clone(),
                action_parameters: resolved.action.clone(),
                entry_point: catalog::entry_point_path(pack, action),
                pack_dir: Some(pack.dir.clone()),
                pack_config: config,
                python: None,
                callback: None,
                spool_dir: Some(self.inner.paths.spool()),
                secrets: secrets.values().to_vec(),
                api: None,
                max_output_bytes: Some(self.inner.max_output_bytes),
            };
            let mut masked = params::mask_secrets(&resolved.all, &resolved.secret_names);
            // A workflow's secret passed to a task as an ordinary parameter
            // is still a secret in the task's record.
            for value in masked.values_mut() {
                secrets.mask_value(value);
            }
            if let Some(rev) = &content_version {
                masked.insert("content_version".into(), Value::String(rev.clone()));
            }
            let mut embedded = ExecutionAction::new(&action.ref_, &action.runner_type);
            embedded.description = action.description.clone();
            embedded.enabled = action.enabled;
            embedded.entry_point = action.entry_point.clone().unwrap_or_default();
            (
                request,
                masked,
                secrets,
                commit,
                (conductor, chain),
                pack.name.clone(),
                embedded,
            )
        };
        let (mut request, parameters, secrets, commit, (conductor, chain), pack_name, embedded) =
            prepared;
        let python_env = match (&request.pack_dir, request.runner_type.as_str()) {
            (Some(dir), crate::python_envs::PYTHON_RUNNER) => Some(
                self.python_env_for_run(&pack_name, dir, content_version.as_deref())
                    .await?,
            ),
            (_, runner) if crate::python_envs::WINRM_RUNNERS.contains(&runner) => {
                Some(self.python_base_for_run().await?)
            }
            _ => None,
        };
        request.python = python_env.as_ref().map(|l| l.python().to_path_buf());
        request.execution_id = id.clone();
        context
            .entry("pack".to_string())
            .or_insert_with(|| Value::String(pack_name.clone()));
        if let Some(sha) = &commit {
            context.insert("commit".into(), Value::String(sha.clone()));
        }
        let now = now_rfc3339();
        let web_url = self
            .inner
            .console_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|base| format!("{}/#/execution/{id}", base.trim_end_matches('/')));
        let mut execution = Execution {
            id: id.clone(),
            action: embedded,
            runner: ExecutionRunner::new(&request.runner_type),
            liveaction_id: id.clone(),
            status: Status::Requested,
            start_timestamp: now.clone(),
            end_timestamp: None,
            elapsed_seconds: None,
            web_url,
            parameters,
            context,
            result: Value::Null,
            parent,
            children: vec![],
            log: vec![StatusLogEntry {
                status: Status::Requested,
                timestamp: now.clone(),
            }],
        };
        execution.status = Status::Scheduled;
        execution.log.push(StatusLogEntry {
            status: Status::Scheduled,
            timestamp: now,
        });
        let token = token::random_token();
        let token_hash = token::callback_token_hash(&token);
        let action_token = token::random_token();
        let action_token_hash = crate::auth::hash_secret(&action_token);
        if let Some(lease) = lease {
            self.keep_worktree(&id, lease);
        }
        if let Some(lease) = python_env {
            self.keep_python_env(&id, lease);
        }
        if !secrets.is_empty() {
            self.inner
                .secrets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone(), secrets);
        }
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                Live {
                    execution: execution.clone(),
                    token: token_hash.clone(),
                    action_token_hash: Some(action_token_hash.clone()),
                    runner_pid: None,
                    child_pid: None,
                    control: None,
                    adopted: false,
                    finishing: false,
                },
            );
        let mut ops = vec![WriteOp::Upsert {
            execution: Box::new(execution.clone()),
            callback_token: Some(token_hash),
            action_token_hash: Some(action_token_hash),
            runner_pid: None,
        }];
        // A parent's `children` are read from the children's records
        // (store::fill_children); the parent's record is not rewritten.
        let api_url = self.api_url();
        request.api = Some(stormdesk_runner::protocol::ApiAccess {
            url: format!("{}/v1", api_url.trim_end_matches('/')),
            token: action_token,
        });
        request.callback = Some(stormdesk_runner::protocol::Callback {
            discover: Some(self.inner.paths.listener_file()),
            url: api_url,
            token,
            attempts: self.inner.callback_attempts,
            backoff_ms: 50,
        });
        tracing::info!(execution = %id, action = %req.action, "scheduled");
        let workflow = match conductor {
            Some((conductor, first)) => {
                // Tasks of the workflow's pack run at the commit asked for.
                let pin = content_version.as_ref().and(commit.clone());
                let has_secrets = !request.secrets.is_empty();
                let run = crate::workflow::Run::new(conductor, pack_name.clone(), pin, has_secrets);
                Some(crate::workflow::prepare_run(
                    self, &execution, run, first, &mut ops,
                ))
            }
            None => None,
        };
        let chain = chain.map(|spec| PreparedChain {
            spec,
            pack: pack_name,
            pin: content_version.as_ref().and(commit),
        });
        Ok(Prepared {
            execution,
            request,
            workflow,
            chain,
            ops,
        })
    }

    /// Starts a prepared run whose `ops` are committed or queued: announces
    /// it, then starts its runner (or conducts the workflow or chain, or
    /// runs it in-process: Inquiries, announcements).
    pub(crate) async fn start_prepared(
        &self,
        prepared: Prepared,
    ) -> Result<Execution, EngineError> {
        let Prepared {
            execution,
            request,
            workflow,
            chain,
            ..
        } = prepared;
        let id = execution.id.clone();
        let for_task = execution.parent.is_some();
        self.inner.bus.publish(Event::Execution {
            execution: Box::new(execution),
            created: true,
        });
        if let Some((run, first)) = workflow {
            crate::workflow::begin(self, &id, run, first);
            return self.current(&id).await;
        }
        if let Some(chain) = chain {
            crate::chain::begin(self, &id, chain.spec, &request, chain.pack, chain.pin);
            return self.current(&id).await;
        }
        match request.runner_type.as_str() {
            crate::inquiry::INQUIRY_RUNNER => {
                crate::inquiry::begin(self, &id, &request.runner_parameters).await?;
                return self.current(&id).await;
            }
            crate::announcement::ANNOUNCEMENT_RUNNER => {
                crate::announcement::run(self, &id, &request).await?;
                return self.current(&id).await;
            }
            _ => {}
        }
        if let Err(e) = launch::spawn(self, request, for_task).await {
            let message = e.to_string();
            self.finish(&id, Status::Failed, serde_json::json!({ "error": message }))
                .await?;
            return Err(e);
        }
        self.current(&id).await
    }

    /// The record as it is now (live, else stored), without its children.
    pub(crate) async fn current(&self, id: &str) -> Result<Execution, EngineError> {
        if let Some(l) = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(l.execution.clone());
        }
        self.inner
            .store
            .execution(id)
            .await?
            .ok_or_else(|| EngineError::UnknownExecution(id.to_string()))
    }

    /// The context StackStorm gives a workflow (`ctx().st2`, `ctx().parent`;
    /// `orquesta_runner.py`, `_construct_st2_context`): the execution's id
    /// (also the workflow execution's: Stormdesk has no separate record for
    /// it), the API's URL, user, pack, action and runner, and the
    /// execution's own context as `parent`.
    fn st2_context(
        &self,
        id: &str,
        action: &str,
        pack: &str,
        context: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut st2 = Map::new();
        st2.insert("action_execution_id".into(), Value::String(id.to_string()));
        st2.insert(
            "api_url".into(),
            Value::String(format!("{}/v1", self.public_api_url())),
        );
        let user = context
            .get("user")
            .cloned()
            .unwrap_or_else(|| Value::String(self.local_user().to_string()));
        st2.insert("user".into(), user);
        st2.insert("pack".into(), Value::String(pack.to_string()));
        st2.insert("action".into(), Value::String(action.to_string()));
        st2.insert(
            "runner".into(),
            Value::String(crate::workflow::WORKFLOW_RUNNER.to_string()),
        );
        st2.insert(
            "workflow_execution_id".into(),
            Value::String(id.to_string()),
        );
        for key in ["api_user", "source_channel"] {
            if let Some(v) = context.get(key) {
                st2.insert(key.into(), v.clone());
            }
        }
        let mut out = Map::new();
        out.insert("st2".into(), Value::Object(st2));
        let mut parent = context.clone();
        parent
            .entry("pack".to_string())
            .or_insert_with(|| Value::String(pack.to_string()));
        out.insert("parent".into(), Value::Object(parent));
        out
    }

    /// `action_context` for parameter templates: the execution's context as
    /// StackStorm gives it to parameter rendering (`user`, `pack`, and for a
    /// workflow task `parent` and `orquesta`), plus `api_url`.
    fn action_context(&self, pack: &str, context: &Map<String, Value>) -> Value {
        let mut ac = context.clone();
        ac.insert("pack".into(), Value::String(pack.to_string()));
        ac.insert(
            "api_url".into(),
            Value::String(format!("{}/v1", self.public_api_url())),
        );
        Value::Object(ac)
    }

    /// The API's address as people reach it, StackStorm's
    /// `get_full_public_api_url()` (what `ctx(st2).api_url` gives): the
    /// console's (`serve --listen`) when there is one, else the engine's
    /// own listener. Actions' st2client calls use `ST2_ACTION_API_URL`,
    /// the engine's own listener, either way.
    fn public_api_url(&self) -> String {
        self.inner
            .console_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| self.api_url())
    }

    /// Refuses a child of `parent` that would nest too deep or that would
    /// have too many executions running under one top-level run.
    fn check_limits(&self, parent: &str, action: &str) -> Result<(), EngineError> {
        let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
        // The ancestors, nearest first, walked with a loop (never the stack).
        let mut chain: Vec<&Execution> = Vec::new();
        let mut next = Some(parent);
        while let Some(id) = next {
            let Some(l) = live.get(id) else { break };
            chain.push(&l.execution);
            next = l.execution.parent.as_deref();
            if chain.len() > self.inner.max_depth + 1 {
                break;
            }
        }
        let path = || {
            let mut names: Vec<String> = chain
                .iter()
                .rev()
                .map(|e| match e.task_name() {
                    Some(task) => format!("{task} ({})", e.action.ref_),
                    None => e.action.ref_.clone(),
                })
                .collect();
            names.push(action.to_string());
            if names.len() > 8 {
                let tail = names.split_off(names.len() - 4);
                names.truncate(3);
                names.push("...".into());
                names.extend(tail);
            }
            names.join(" > ")
        };
        if chain.len() + 1 > self.inner.max_depth {
            return Err(EngineError::Limit(format!(
                "running {action} would nest workflows {} levels deep, beyond the limit of {} ({}); a workflow that calls itself needs a condition that ends it, or raise the limit (--max-depth)",
                chain.len() + 1,
                self.inner.max_depth,
                path()
            )));
        }
        let root = chain.last().map_or(parent, |e| e.id.as_str());
        let under_root = live
            .values()
            .filter(|l| !l.execution.status.is_completed())
            .filter(|l| {
                let mut at = Some(l.execution.id.as_str());
                while let Some(id) = at {
                    if id == root {
                        return true;
                    }
                    at = live.get(id).and_then(|x| x.execution.parent.as_deref());
                }
                false
            })
            .count();
        if under_root >= self.inner.max_live_per_root {
            return Err(EngineError::Limit(format!(
                "running {action} would make {} executions run at once under {} ({}), beyond the limit of {}; lower the concurrency of with-items tasks or raise the limit (--max-live-per-root)",
                under_root + 1,
                root,
                path(),
                self.inner.max_live_per_root
            )));
        }
        Ok(())
    }

    /// Waits until the execution has completed and returns its final record.
    pub async fn wait(&self, id: &str) -> Result<Execution, EngineError> {
        let mut rx = self.inner.bus.subscribe();
        loop {
            let current = self.current(id).await?;
            if current.status.is_completed() {
                // Stored before it was announced: read back with its children.
                return self.execution(id).await;
            }
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        if let Event::Execution { execution, .. } = &ev.event {
                            if execution.id == id && execution.status.is_completed() {
                                return self.execution(id).await;
                            }
                        }
                    }
                    // Fell behind: look at the record again.
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(EngineError::StoreClosed)
                    }
                }
            }
        }
    }

    /// Cancels a running execution: the runner kills the action's whole process group.
    pub async fn cancel(&self, id: &str) -> Result<Execution, EngineError> {
        if self.inner.workflows.get(id).is_some() {
            return crate::workflow::cancel(self, id).await;
        }
        if self.inner.chains.get(id).is_some() {
            return crate::chain::cancel(self, id).await;
        }
        self.cancel_action(id).await
    }

    /// Cancels an execution that is not a workflow (a workflow's cascade
    /// calls this for the actions it waits on).
    pub(crate) async fn cancel_action(&self, id: &str) -> Result<Execution, EngineError> {
        enum Found {
            Gone,
            Already(Execution),
            Canceling(Execution, Option<mpsc::UnboundedSender<launch::Control>>),
        }
        let found = {
            let mut live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            match live.get_mut(id) {
                None => Found::Gone,
                // Completed but not yet forgotten: as good as gone.
                Some(entry) if entry.execution.status.is_completed() => Found::Gone,
                Some(entry) if entry.execution.status == Status::Canceling => {
                    Found::Already(entry.execution.clone())
                }
                Some(entry) => {
                    set_status(&mut entry.execution, Status::Canceling);
                    Found::Canceling(entry.execution.clone(), entry.control.clone())
                }
            }
        };
        let (execution, control) = match found {
            Found::Gone => {
                let current = self.execution(id).await?;
                return Err(self.cannot_control(id, current.status, "canceled"));
            }
            Found::Already(e) => return Ok(e),
            Found::Canceling(e, c) => (e, c),
        };
        self.persist(&execution, true).await?;
        match control {
            Some(control) => {
                let _ = control.send(launch::Control::Cancel);
            }
            // Adopted from an earlier engine: no stdin to talk to, so kill the group.
            None => {
                let pids = {
                    let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
                    live.get(id).map(|l| (l.runner_pid, l.child_pid))
                };
                if let Some((runner, child)) = pids {
                    launch::kill_groups(runner, child);
                }
                self.finish(
                    id,
                    Status::Canceled,
                    serde_json::json!({"error": "canceled by user"}),
                )
                .await?;
            }
        }
        Ok(execution)
    }

    /// The record as it is now, with its `children` (read from the store:
    /// a child committed a moment ago may be missing while the writer works).
    pub async fn execution(&self, id: &str) -> Result<Execution, EngineError> {
        let live = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|l| l.execution.clone());
        match live {
            Some(mut execution) => {
                execution.children = self.inner.store.children(id).await?;
                Ok(execution)
            }
            None => self
                .inner
                .store
                .execution(id)
                .await?
                .ok_or_else(|| EngineError::UnknownExecution(id.to_string())),
        }
    }

    pub async fn executions(&self, filter: ExecutionFilter) -> Result<Vec<Execution>, EngineError> {
        self.inner.store.executions(filter).await
    }

    /// How many executions match `filter` (its `limit` and `offset` aside).
    pub async fn count_executions(&self, filter: ExecutionFilter) -> Result<u64, EngineError> {
        self.inner.store.count_executions(filter).await
    }

    /// The output recorded so far, in order, after chunk `after_seq` when given.
    pub async fn output(
        &self,
        id: &str,
        after_seq: Option<u64>,
    ) -> Result<Vec<ExecutionOutput>, EngineError> {
        let execution = self.current(id).await?;
        let chunks = self.inner.store.output(id, after_seq).await?;
        Ok(chunks
            .iter()
            .map(|c| ExecutionOutput::new(&execution, c))
            .collect())
    }

    /// Once every run handed to a runner has ended (and its runner is back
    /// in the pool), dismisses the runners that waited longer than `idle`
    /// (the engine does this every 30 s for those waiting over a minute).
    /// Returns how many wait now and how many were dismissed. For tests and
    /// diagnostics.
    #[doc(hidden)]
    pub async fn trim_waiting_runners(&self, idle: Duration) -> (usize, usize) {
        self.runs_handed_out_ended().await;
        let dismissed = launch::trim_idle(self, idle);
        (launch::waiting(self), dismissed)
    }

    /// How many executions the engine holds secret values for (in memory
    /// only, for masking): each is forgotten once its execution completed
    /// and its runner exited. For tests and diagnostics.
    #[doc(hidden)]
    pub fn held_secrets(&self) -> usize {
        self.inner
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Drops what the engine holds for an execution that could not be recorded.
    fn forget(&self, id: &str) {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.inner
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.inner
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.inner
            .pyenv_leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Adds `values` to the secrets of `id`, a live execution: masked in its
    /// result and in the records of the children it starts from now on. For
    /// datastore secrets a workflow (`st2kv(..., decrypt=true)`) or an
    /// ActionChain (`decrypt_kv`) decrypts.
    pub(crate) fn add_secrets(&self, id: &str, values: Vec<String>) {
        if !self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
        {
            return;
        }
        let values: Vec<String> = values
            .into_iter()
            .flat_map(|v| secret_strings(&Value::String(v)))
            .collect();
        let mut secrets = self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner());
        let held = secrets.entry(id.to_string()).or_default();
        if values
            .iter()
            .all(|v| v.len() < 3 || held.values().contains(v))
        {
            return;
        }
        *held = Secrets::new(held.values().iter().cloned().chain(values));
    }

    /// Whether the engine holds secret values for `id`.
    pub(crate) fn has_secrets(&self, id: &str) -> bool {
        self.inner
            .secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .is_some_and(|s| !s.is_empty())
    }

    /// Runs `f` with the secret values of `id`, if it has any.
    pub(crate) fn with_secrets(&self, id: &str, f: impl FnOnce(&Secrets)) {
        let secrets = self.inner.secrets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = secrets.get(id) {
            f(s);
        }
    }

    /// Writes the record and publishes it; `keep_token` keeps the callback token valid.
    pub(crate) async fn persist(
        &self,
        execution: &Execution,
        keep_token: bool,
    ) -> Result<(), EngineError> {
        self.inner
            .store
            .write(self.upsert(execution, keep_token))
            .await?;
        self.publish(execution);
        Ok(())
    }

    /// As `persist`, for intermediate states whose loss in a crash loses
    /// nothing (the final report follows): queued, not awaited.
    pub(crate) fn persist_soon(
        &self,
        execution: &Execution,
        keep_token: bool,
    ) -> Result<(), EngineError> {
        self.inner
            .store
            .write_nowait(self.upsert(execution, keep_token))?;
        self.publish(execution);
        Ok(())
    }

    fn upsert(&self, execution: &Execution, keep_token: bool) -> WriteOp {
        let (callback_token, action_token_hash, runner_pid) = {
            let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            live.get(&execution.id)
                .map(|l| {
                    (
                        keep_token.then(|| l.token.clone()),
                        l.action_token_hash.clone().filter(|_| keep_token),
                        l.runner_pid,
                    )
                })
                .unwrap_or((None, None, None))
        };
        WriteOp::Upsert {
            execution: Box::new(execution.clone()),
            callback_token,
            action_token_hash,
            runner_pid,
        }
    }

    fn publish(&self, execution: &Execution) {
        self.inner.bus.publish(Event::Execution {
            execution: Box::new(execution.clone()),
            created: false,
        });
    }

    /// Completes an execution (first completion wins), masks secrets in the result,
    /// and forgets its callback token.
    ///
    /// The completion is taken only once the store has committed it: if the
    /// store cannot write (a full disk), the execution stays as it was, the
    /// error goes back to the caller (a runner gets HTTP 503 and keeps its
    /// result in its spool), and a later report can complete it.
    ///
    /// Runs to the end on a task of its own even when the caller goes away
    /// (a runner killed while its final report is handled drops the request
    /// mid-way): a completion half done would leave the execution marked
    /// "being saved" for good, and its workflow waiting for ever.
    pub(crate) async fn finish(
        &self,
        id: &str,
        status: Status,
        result: Value,
    ) -> Result<Option<Execution>, EngineError> {
        let (engine, owned) = (self.clone(), id.to_string());
        match tokio::spawn(async move { engine.finish_now(&owned, status, result).await }).await {
            Ok(done) => done,
            Err(e) => Err(EngineError::Busy(format!(
                "the completion of execution {id} did not finish ({e}); report again"
            ))),
        }
    }

    async fn finish_now(
        &self,
        id: &str,
        status: Status,
        mut result: Value,
    ) -> Result<Option<Execution>, EngineError> {
        let execution = {
            let mut live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            let Some(entry) = live.get_mut(id) else {
                return Ok(None);
            };
            if entry.execution.status.is_completed() {
                return Ok(None);
            }
            if entry.finishing {
                return Err(EngineError::Busy(format!(
                    "the completion of execution {id} is being saved; report again"
                )));
            }
            entry.finishing = true;
            self.with_secrets(id, |secrets| secrets.mask_value(&mut result));
            let status = if entry.execution.status == Status::Canceling
                && !matches!(status, Status::Succeeded)
            {
                Status::Canceled
            } else {
                status
            };
            let mut done = entry.execution.clone();
            complete(&mut done, status, result);
            done
        };
        // Stored first; then forgotten as running; then announced, so whoever
        // hears of the completion finds it everywhere.
        if let Err(e) = self.inner.store.write(self.upsert(&execution, false)).await {
            if let Some(entry) = self
                .inner
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(id)
            {
                entry.finishing = false;
            }
            tracing::error!(execution = %id, error = %e, "the completion was not saved; it stays pending until it can be");
            return Err(e);
        }
        tracing::info!(execution = %id, status = %execution.status, "completed");
        // The completion is announced whole, `children` included, as
        // StackStorm's update event is: a parent's record does not list them
        // (they are read from their own records), and every child's record
        // is committed before its parent can complete.
        let mut execution = execution;
        if matches!(
            execution.runner_name(),
            crate::workflow::WORKFLOW_RUNNER | crate::chain::CHAIN_RUNNER
        ) {
            match self.inner.store.children(id).await {
                Ok(children) => execution.children = children,
                Err(e) => {
                    tracing::warn!(execution = %id, error = %e, "children not read for the completion event")
                }
            }
        }
        let had_runner = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some_and(|l| l.runner_pid.is_some() || l.control.is_some());
        // A runner's output may still arrive after its final status, so its
        // secrets go when it exits (launch.rs); a workflow has no runner.
        if !had_runner {
            self.inner
                .secrets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
        self.publish(&execution);
        self.inner
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.inner
            .pyenv_leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        crate::nesting::child_completed(self, &execution);
        Ok(Some(execution))
    }
}

pub(crate) fn set_status(execution: &mut Execution, status: Status) {
    execution.status = status;
    execution.log.push(StatusLogEntry {
        status,
        timestamp: now_rfc3339(),
    });
}

pub(crate) fn complete(execution: &mut Execution, status: Status, result: Value) {
    set_status(execution, status);
    let end = now_rfc3339();
    if let (Ok(start), Ok(stop)) = (
        chrono::DateTime::parse_from_rfc3339(&execution.start_timestamp),
        chrono::DateTime::parse_from_rfc3339(&end),
    ) {
        execution.elapsed_seconds =
            Some((stop - start).num_microseconds().unwrap_or(0) as f64 / 1e6);
    }
    execution.end_timestamp = Some(end);
    execution.result = result;
}

/// The login name of the account running Stormdesk.
pub(crate) fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "stormdesk".to_string())
}
