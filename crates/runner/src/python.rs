//! StackStorm's `python-script` runner: runs an unmodified StackStorm Python
//! action through `python/wrapper.py`, which provides the `st2common` /
//! `st2actions` `Action` base class, the logger and the action service.
//!
//! Channels to the wrapper: everything (parameters, pack config, paths) goes
//! as one JSON document on stdin, so parameter size is not limited by argv;
//! the action's return value comes back in a private result file, so whatever
//! the action prints stays its own stdout.
//!
//! The process, as StackStorm's `python_runner.py` sets it up: the
//! interpreter is the pack's environment (`RunnerRequest::python`), whose
//! `bin/` goes first on `PATH`; `PYTHONPATH` is the pack's `lib/`, its
//! `actions/lib/` and the wrapper's StackStorm modules (in that order), so
//! processes the action starts see them too; `ST2_ACTION_*` and StackStorm's
//! datastore variables (`ST2_API_URL`, `ST2_AUTH_TOKEN`) are set.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::params::{pack_name, st2_action_env, Params};
use crate::protocol::{RunnerRequest, RunnerStatus};
use crate::python_files;
use crate::scratch::{private_dir, unique};
use crate::shell::{run_process, Group, ProcessSpec};
use crate::{CancelHandle, RunError, RunEvent, RunOutcome};

/// StackStorm's default `timeout` for `python-script`, in seconds.
const DEFAULT_TIMEOUT: u64 = 600;
const DEFAULT_LOG_LEVEL: &str = "DEBUG";
/// Exit code of the wrapper when `run()` returned a tuple whose first item is
/// not a boolean (StackStorm's `PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE`).
const INVALID_STATUS_EXIT_CODE: i32 = 220;
/// The interpreter when the request names none (library use without an
/// engine); the engine reads it too, for the interpreter it builds
/// environments from.
pub const PYTHON_ENV_VAR: &str = "STORMDESK_PYTHON";

pub(crate) fn run(
    req: &RunnerRequest,
    on_event: &mut dyn FnMut(RunEvent<'_>),
    cancel: &CancelHandle,
) -> Result<RunOutcome, RunError> {
    let entry_point = crate::entry_point(req)?;
    let params = Params::new(req);
    let timeout = params.timeout(DEFAULT_TIMEOUT)?;
    let log_level = params.string("log_level")?.unwrap_or(DEFAULT_LOG_LEVEL);

    let mut env = params.env()?;
    // As in StackStorm: the runner owns the import path, the action may not
    // replace it.
    env.retain(|(name, _)| !name.eq_ignore_ascii_case("PYTHONPATH"));
    env.extend(st2_action_env(req));
    if let Some(api) = &req.api {
        // What StackStorm sets for datastore access through st2client.
        env.push(("ST2_API_URL".into(), api.url.clone()));
        env.push(("ST2_AUTH_TOKEN".into(), api.token.clone()));
    }

    let dir = private_dir().map_err(|(path, source)| RunError::PythonWrapper { path, source })?;
    let files = python_files::install(&dir)?;
    let result_file = ResultFile::create(&dir)?;
    env.push(("PYTHONPATH".into(), python_path(req, &files.lib)));
    // As in StackStorm, a PATH in the `env` parameter wins.
    let user_path = env.iter().any(|(name, _)| name == "PATH");
    if let Some(bin) = req.python.as_deref().and_then(Path::parent) {
        if !user_path {
            env.push(("PATH".into(), path_with(bin)));
        }
    }

    let parameters: Map<String, Value> = req
        .action_parameters
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    let config = match &req.pack_config {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let mut stdin = serde_json::to_vec(&json!({
        "entry_point": entry_point,
        "pack": pack_name(&req.action_ref),
        "config": config,
        "parameters": parameters,
        "log_level": log_level,
        "result_file": result_file.path,
    }))
    .expect("a JSON value always serialises");
    stdin.push(b'\n');

    let python = match &req.python {
        Some(p) => p.clone().into_os_string(),
        None => std::env::var_os(PYTHON_ENV_VAR).unwrap_or_else(|| OsString::from("python3")),
    };
    let spec = ProcessSpec {
        program: python.clone(),
        // -u: unbuffered, so output streams live as in StackStorm.
        args: vec!["-u".into(), files.wrapper.into_os_string()],
        env,
        env_remove: Vec::new(),
        cwd: None,
        stdin: Some(stdin),
        keep_stdin_open: false,
        group: Group::Own,
        timeout: timeout.limit,
    };
    let out = run_process(spec, on_event, cancel).map_err(|source| RunError::Spawn {
        action_ref: req.action_ref.clone(),
        program: python.to_string_lossy().into_owned(),
        hint: format!("install Python 3 or point {PYTHON_ENV_VAR} at a Python 3 interpreter"),
        source,
    })?;

    let returned = result_file.read();
    let mut exit_code = out.exit_code;
    let mut result = Map::new();
    if out.timed_out {
        // StackStorm kills a timed-out Python action with SIGKILL.
        exit_code = -9;
        result.insert("error".into(), timeout.error_message().into());
    } else if exit_code == INVALID_STATUS_EXIT_CODE {
        result.insert("error".into(), out.stderr.trim_end().into());
    }
    let (action_status, value) = match returned {
        Returned::Result { status, result } => (status, result),
        // StackStorm's result when the action printed no result at all
        // (exception, timeout, cancel): the string "None".
        Returned::Nothing => (None, Value::String("None".into())),
        Returned::Unparsable(text) => (None, Value::String(text)),
    };
    result.insert("result".into(), value);
    result.insert("stdout".into(), out.stdout.into());
    result.insert("stderr".into(), out.stderr.into());
    result.insert("exit_code".into(), exit_code.into());

    let status = if out.canceled {
        RunnerStatus::Canceled
    } else if out.timed_out {
        RunnerStatus::Timeout
    } else if exit_code == 0 && action_status != Some(false) {
        RunnerStatus::Succeeded
    } else {
        RunnerStatus::Failed
    };
    Ok(RunOutcome {
        status,
        result: Value::Object(result),
        pid: Some(out.pid),
    })
}

/// `PYTHONPATH` of the action: the pack's `lib/` (StackStorm's common pack
/// libs), `actions/lib/` (always on StackStorm's path), then the StackStorm
/// modules; only directories that exist, except the last.
fn python_path(req: &RunnerRequest, st2_lib: &Path) -> String {
    let mut parts: Vec<PathBuf> = Vec::new();
    if let Some(pack) = &req.pack_dir {
        for dir in [pack.join("lib"), pack.join("actions").join("lib")] {
            if dir.is_dir() {
                parts.push(dir);
            }
        }
    }
    parts.push(st2_lib.to_path_buf());
    let joined = std::env::join_paths(parts).unwrap_or_default();
    joined.to_string_lossy().into_owned()
}

/// `PATH` with the environment's `bin/` first, as StackStorm's sandbox path.
fn path_with(bin: &Path) -> String {
    let mut parts = vec![bin.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&path).filter(|p| p != bin));
    }
    let joined = std::env::join_paths(parts).unwrap_or_default();
    joined.to_string_lossy().into_owned()
}

/// The file the wrapper writes `{"status": bool|null, "result": ...}` to.
struct ResultFile {
    path: PathBuf,
}

enum Returned {
    Result { status: Option<bool>, result: Value },
    Nothing,
    Unparsable(String),
}

#[derive(Deserialize)]
struct WrapperResult {
    #[serde(default)]
    status: Option<bool>,
    #[serde(default)]
    result: Value,
}

impl ResultFile {
    fn create(dir: &Path) -> Result<Self, RunError> {
        let path = dir.join(format!("result-{}-{}.json", std::process::id(), unique()));
        // Created up front, exclusively and private, so the path handed to
        // the wrapper cannot be a planted symlink.
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| RunError::PythonWrapper {
                path: path.clone(),
                source,
            })?;
        Ok(Self { path })
    }

    fn read(&self) -> Returned {
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        if text.trim().is_empty() {
            return Returned::Nothing;
        }
        match serde_json::from_str::<WrapperResult>(&text) {
            Ok(r) => Returned::Result {
                status: r.status,
                result: r.result,
            },
            Err(_) => Returned::Unparsable(text),
        }
    }
}

impl Drop for ResultFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
