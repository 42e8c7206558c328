//! One ActionChain's progress, as StackStorm's runner keeps it
//! (`ActionChainRunner._run_chain`): the variables, each link's result by
//! name, the `tasks` list of the result, what was published, the status the
//! chain ends with, and the link running now. Saved after every step (the
//! store's `workflows` table), so a chain survives an engine restart.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::spec::{ChainSpec, Link};
use crate::model::{now_rfc3339, Status};

/// Where the chain stands, besides the link it runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    Running,
    /// Asked to pause: pauses once the running link completes or holds.
    Pausing,
    Paused,
    /// Asked to cancel: canceled once the running link completes.
    Canceling,
}

/// The link whose execution runs now.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Current {
    pub link: String,
    pub child: String,
    /// When the link was started (StackStorm's `created_at`).
    pub created_at: String,
    /// The child reported `pending` or `paused` and has not completed.
    #[serde(default)]
    pub held: Option<Status>,
    /// The child's result when it reported `pending`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub held_result: Value,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub(crate) struct ChainRun {
    pub spec: ChainSpec,
    /// The chain action's parameters (clear values: never saved when the
    /// chain has secrets, see `has_secrets`).
    pub parameters: Map<String, Value>,
    /// The pack config (`config_context`).
    pub config: Value,
    /// `{"execution_id": <chain>, ...the chain's context}`: the `parent` of
    /// every link and `action_context.parent` in templates.
    pub parent_context: Map<String, Value>,
    /// The pack of the chain action, and the commit its same-pack links
    /// run at when the chain was run at a revision.
    pub pack: String,
    pub commit: Option<String>,
    pub display_published: bool,
    pub vars: Map<String, Value>,
    /// Each link's result by name (StackStorm's `context_result`).
    pub results: Map<String, Value>,
    /// The `tasks` of the result, one entry per link run.
    pub tasks: Vec<Value>,
    pub published: Map<String, Value>,
    pub phase: Phase,
    /// The status the chain ends with unless something stops it: the
    /// status of the last link run (failed before any link ran).
    pub chain_status: Status,
    /// A top-level error (`error` in the result).
    pub error: Option<String>,
    pub current: Option<Current>,
    #[serde(default)]
    pub has_secrets: bool,
    /// `vars` were rendered (the chain started).
    #[serde(default)]
    pub started: bool,
}

/// What the chain does after a link's execution completed.
pub(crate) enum After {
    /// Run this link next.
    Next(String),
    /// Stop: finish with the chain's status (or pause/cancel, as asked).
    Stop,
}

impl ChainRun {
    /// StackStorm's chain result: `{"tasks": [...]}`, `published` with
    /// `display_published`, and `error` when the chain failed outright.
    pub fn result(&self) -> Value {
        let mut out = Map::new();
        out.insert("tasks".into(), Value::Array(self.tasks.clone()));
        if self.display_published {
            out.insert("published".into(), Value::Object(self.published.clone()));
        }
        if let Some(e) = &self.error {
            out.insert("error".into(), Value::String(e.clone()));
        }
        Value::Object(out)
    }

    /// StackStorm's `_format_action_exec_result`: one entry of `tasks`.
    pub fn entry(
        link: &str,
        child: Option<&str>,
        created_at: &str,
        state: Status,
        result: &Value,
    ) -> Value {
        json!({
            "id": link,
            "name": link,
            "execution_id": child,
            "liveaction_id": child,
            "workflow": null,
            "created_at": isotime(created_at),
            "updated_at": isotime(&now_rfc3339()),
            "state": state,
            "result": result,
        })
    }

    /// A top-level error stops the chain as failed.
    pub fn fail(&mut self, message: String) {
        self.chain_status = Status::Failed;
        self.error = Some(message);
    }

    /// The link after `link` for a link execution that ended with
    /// `status` (`get_next_node`), and the chain's status from it. A name
    /// that is not a link stops the chain with StackStorm's error.
    pub fn next_after(&mut self, link: &Link, status: Status) -> After {
        let target = match status {
            Status::Succeeded => {
                self.chain_status = Status::Succeeded;
                link.on_success.clone()
            }
            Status::Canceled => {
                self.chain_status = Status::Canceled;
                return After::Stop;
            }
            Status::Timeout => {
                self.chain_status = Status::Timeout;
                link.on_failure.clone()
            }
            _ => {
                self.chain_status = Status::Failed;
                link.on_failure.clone()
            }
        };
        let Some(target) = target else {
            return After::Stop;
        };
        if self.spec.link(&target).is_some() {
            return After::Next(target);
        }
        self.fail(format!(
            "Failed to get next node \"{}\".. Unable to find node with name \"{target}\".",
            link.name
        ));
        After::Stop
    }

    /// Records a finished link: its entry (replacing the provisional entry
    /// of a held link) and its result for later templates.
    pub fn record(
        &mut self,
        link: &str,
        child: Option<&str>,
        created_at: &str,
        state: Status,
        result: Value,
    ) {
        let provisional = self.tasks.last().is_some_and(|t| {
            t["name"] == link && child.is_some() && t["execution_id"].as_str() == child
        });
        if provisional {
            self.tasks.pop();
        }
        self.tasks
            .push(ChainRun::entry(link, child, created_at, state, &result));
        self.results.insert(link.to_string(), result);
    }

    /// The name of the link a resumed chain runs next, from its last entry
    /// (StackStorm's `resume` reading `result.tasks[-1]`); `None` when the
    /// chain ends there.
    pub fn next_on_resume(&mut self) -> Option<String> {
        let Some(last) = self.tasks.last().cloned() else {
            return Some(self.spec.default.clone());
        };
        let name = last["name"].as_str().unwrap_or_default().to_string();
        let state = last["state"]
            .as_str()
            .and_then(Status::parse)
            .unwrap_or(Status::Failed);
        let link = self.spec.link(&name)?.clone();
        match self.next_after(&link, state) {
            After::Next(n) => Some(n),
            After::Stop => None,
        }
    }
}

/// StackStorm's `isotime.format` of a timestamp: microseconds and `+00:00`.
pub(crate) fn isotime(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}
