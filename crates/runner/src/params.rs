//! Typed access to StackStorm runner parameters and the environment every
//! action process gets.

// Parts are used only by the shell runners.
#![cfg_attr(
    not(any(feature = "local-shell-cmd", feature = "local-shell-script")),
    allow(dead_code)
)]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::protocol::RunnerRequest;
use crate::pyfmt;
use crate::RunError;

/// A `timeout` runner parameter: the limit, and its text as StackStorm prints
/// it in "Action failed to complete in N seconds".
#[derive(Debug, Clone)]
pub(crate) struct Timeout {
    /// `None`: no limit (StackStorm treats a timeout of 0 as none).
    pub limit: Option<Duration>,
    pub display: String,
}

impl Timeout {
    pub fn error_message(&self) -> String {
        format!("Action failed to complete in {} seconds", self.display)
    }
}

pub(crate) struct Params<'a> {
    req: &'a RunnerRequest,
}

impl<'a> Params<'a> {
    pub fn new(req: &'a RunnerRequest) -> Self {
        Self { req }
    }

    /// For the command runners (local and remote): the parameters and the
    /// required `cmd`. An `entry_point` is ignored, as StackStorm's command
    /// runners run `cmd` whatever the metadata's `entry_point` says.
    pub fn for_command(req: &'a RunnerRequest) -> Result<(Self, &'a str), RunError> {
        let params = Self::new(req);
        let cmd = params
            .string("cmd")?
            .ok_or_else(|| RunError::MissingRunnerParameter {
                action_ref: req.action_ref.clone(),
                name: "cmd",
            })?;
        Ok((params, cmd))
    }

    /// A parameter's value; an explicit `null` counts as not given, as in
    /// StackStorm where a null runner parameter falls back to its default.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.req
            .runner_parameters
            .get(name)
            .filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &'static str) -> Result<Option<&'a str>, RunError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.invalid(name, "a string", other)),
        }
    }

    pub fn bool(&self, name: &'static str, default: bool) -> Result<bool, RunError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.invalid(name, "true or false", other)),
        }
    }

    pub fn timeout(&self, default_secs: u64) -> Result<Timeout, RunError> {
        let value = self
            .get("timeout")
            .cloned()
            .unwrap_or_else(|| Value::from(default_secs));
        let secs = match &value {
            Value::Number(n) => n.as_f64().filter(|s| s.is_finite() && *s >= 0.0),
            _ => None,
        };
        let Some(secs) = secs else {
            return Err(self.invalid("timeout", "a number of seconds >= 0", &value));
        };
        Ok(Timeout {
            limit: (secs > 0.0).then(|| Duration::from_secs_f64(secs)),
            display: pyfmt::py_str(&value),
        })
    }

    pub fn cwd(&self) -> Result<Option<PathBuf>, RunError> {
        Ok(self
            .string("cwd")?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from))
    }

    /// The `env` runner parameter. Non-string values are passed the way Python
    /// would print them, since the action sees text either way.
    pub fn env(&self) -> Result<Vec<(String, String)>, RunError> {
        match self.get("env") {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), pyfmt::py_str(v)))
                .collect()),
            Some(other) => Err(self.invalid("env", "an object of NAME: value", other)),
        }
    }

    pub fn invalid(&self, name: &'static str, expected: &'static str, got: &Value) -> RunError {
        invalid_parameter(&self.req.action_ref, name, expected, got.to_string())
    }
}

/// A runner parameter of the wrong type; the value shown is cut at 200 bytes.
pub(crate) fn invalid_parameter(
    action_ref: &str,
    name: &'static str,
    expected: &'static str,
    mut got: String,
) -> RunError {
    if got.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|i| got.is_char_boundary(*i))
            .unwrap_or(0);
        got.truncate(cut);
        got.push('…');
    }
    RunError::InvalidRunnerParameter {
        action_ref: action_ref.to_string(),
        name,
        expected,
        got,
    }
}

/// The pack part of `pack.action`.
pub(crate) fn pack_name(action_ref: &str) -> &str {
    action_ref.split_once('.').map_or(action_ref, |(p, _)| p)
}

/// StackStorm's common action environment. It goes last, so neither the
/// runner's environment nor the `env` parameter can spoof it.
pub(crate) fn st2_action_env(req: &RunnerRequest) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "ST2_ACTION_PACK_NAME".to_string(),
            pack_name(&req.action_ref).to_string(),
        ),
        (
            "ST2_ACTION_EXECUTION_ID".to_string(),
            req.execution_id.clone(),
        ),
    ];
    if let Some(api) = &req.api {
        env.push(("ST2_ACTION_API_URL".to_string(), api.url.clone()));
        env.push(("ST2_ACTION_AUTH_TOKEN".to_string(), api.token.clone()));
    }
    env
}
