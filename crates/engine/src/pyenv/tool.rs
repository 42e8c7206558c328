//! The installer: `uv` (from `PATH`, else `python3 -m uv`), else the
//! interpreter's own `venv` module and pip. Output lines stream to the
//! progress callback as they come and are kept for error messages.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use super::{EnvEvent, Progress, PyEnvError};

/// `STORMDESK_PYENV_TOOL`: `uv` or `pip` forces one installer; unset or
/// `auto` picks uv when it is there.
pub const TOOL_VAR: &str = "STORMDESK_PYENV_TOOL";

/// Which installer to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// uv when it is installed, else venv + pip.
    #[default]
    Auto,
    Uv,
    Pip,
}

impl ToolChoice {
    /// From `STORMDESK_PYENV_TOOL`.
    pub fn from_env() -> Result<ToolChoice, PyEnvError> {
        match std::env::var(TOOL_VAR).ok().as_deref() {
            None | Some("") | Some("auto") => Ok(ToolChoice::Auto),
            Some("uv") => Ok(ToolChoice::Uv),
            Some("pip") => Ok(ToolChoice::Pip),
            Some(other) => Err(PyEnvError::Tool {
                env: "Python environments".into(),
                tool: TOOL_VAR.into(),
                doing: "choosing the installer".into(),
                details: format!("'{other}' is not one of auto, uv, pip"),
            }),
        }
    }
}

/// The installer found on this machine.
#[derive(Debug, Clone)]
pub enum Tool {
    /// The command that runs uv (`uv`, or `python3 -m uv`).
    Uv(Vec<OsString>),
    Pip,
}

impl Tool {
    pub fn name(&self) -> &'static str {
        match self {
            Tool::Uv(_) => "uv",
            Tool::Pip => "pip",
        }
    }

    /// Finds the installer `choice` asks for; `python` is the interpreter
    /// environments are built from (it may have uv as a module).
    pub fn detect(choice: ToolChoice, python: &Path) -> Result<Tool, PyEnvError> {
        if choice == ToolChoice::Pip {
            return Ok(Tool::Pip);
        }
        let on_path = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join("uv"))
            .find(|p| p.is_file());
        let candidates: Vec<Vec<OsString>> = on_path
            .map(|p| vec![p.into_os_string()])
            .into_iter()
            .chain([
                vec![python.into(), "-m".into(), "uv".into()],
                vec!["python3".into(), "-m".into(), "uv".into()],
            ])
            .collect();
        for cmd in candidates {
            let ok = Command::new(&cmd[0])
                .args(&cmd[1..])
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(Tool::Uv(cmd));
            }
        }
        match choice {
            ToolChoice::Uv => Err(PyEnvError::Tool {
                env: "Python environments".into(),
                tool: "uv".into(),
                doing: "looking for it".into(),
                details: format!(
                    "it is not on PATH nor a module of {} or python3; install it (`python3 -m pip install uv`, or scripts/setup.sh) or unset {TOOL_VAR}",
                    python.display()
                ),
            }),
            _ => Ok(Tool::Pip),
        }
    }

    /// Creates an empty virtualenv at `dir` from `python`.
    pub fn create(&self, run: &Runner<'_>, python: &Path, dir: &Path) -> Result<(), Failed> {
        match self {
            Tool::Uv(uv) => {
                let mut cmd = command(uv);
                cmd.args(["venv", "--no-project", "--relocatable", "--python"])
                    .arg(python)
                    .arg(dir);
                run.run(cmd)
            }
            Tool::Pip => {
                let mut cmd = Command::new(python);
                cmd.args(["-m", "venv"]).arg(dir);
                run.run(cmd)
            }
        }
    }

    /// Installs `args` (requirement specifiers, or `-r FILE`) into the
    /// environment whose interpreter is `env_python`.
    pub fn install(
        &self,
        run: &Runner<'_>,
        env_python: &Path,
        args: &[OsString],
    ) -> Result<(), Failed> {
        match self {
            Tool::Uv(uv) => {
                let mut cmd = command(uv);
                cmd.args(["pip", "install", "--python"])
                    .arg(env_python)
                    .args(args);
                run.run(cmd)
            }
            Tool::Pip => {
                let mut cmd = Command::new(env_python);
                cmd.args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--progress-bar",
                    "off",
                ])
                .args(args);
                run.run(cmd)
            }
        }
    }
}

fn command(argv: &[OsString]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// A command that failed, with everything it printed.
#[derive(Debug)]
pub struct Failed {
    pub what: String,
    pub output: Vec<String>,
}

/// Runs installer commands for one environment: its environment variables
/// (cache directories, no inherited virtualenv or import path) and the
/// progress callback.
pub struct Runner<'a> {
    pub env_label: &'a str,
    pub cache: &'a Path,
    pub progress: Progress<'a>,
}

impl Runner<'_> {
    fn run(&self, mut cmd: Command) -> Result<(), Failed> {
        let what = format!("{cmd:?}");
        cmd.env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env_remove("VIRTUAL_ENV")
            .env_remove("PIP_REQUIRE_VIRTUALENV")
            .env("PYTHONNOUSERSITE", "1")
            .env("UV_CACHE_DIR", self.cache.join("uv"))
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("PIP_CACHE_DIR", self.cache.join("pip"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Failed {
            what: what.clone(),
            output: vec![format!("could not start it: {e}")],
        })?;
        let (tx, rx) = mpsc::channel::<String>();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
        drop(tx);
        let mut output = Vec::new();
        for line in rx {
            // uv's hint names the temporary directory, renamed away once
            // built: not something to activate.
            if !line.trim_start().starts_with("Activate with:") {
                (self.progress)(&EnvEvent::Output {
                    env: self.env_label.to_string(),
                    line: line.clone(),
                });
            }
            output.push(line);
        }
        for r in readers {
            let _ = r.join();
        }
        let status = child.wait().map_err(|e| Failed {
            what: what.clone(),
            output: vec![format!("could not wait for it: {e}")],
        })?;
        if status.success() {
            Ok(())
        } else {
            output.push(format!("({what} exited with {status})"));
            Err(Failed { what, output })
        }
    }
}

/// `<env>/bin/python`.
pub fn env_python(dir: &Path) -> PathBuf {
    dir.join("bin").join("python")
}
