//! One workflow's conducting state, as saved in the store's `workflows` table.

use serde::{Deserialize, Serialize};
use stormdesk_workflow::{Conductor, TaskKey, TaskRequest};

#[derive(Serialize, Deserialize)]
pub(crate) struct Run {
    pub conductor: Conductor,
    /// Child executions launched and not yet fed back, by task.
    pub active: Vec<(TaskKey, String)>,
    /// Requests the conductor issued that are not launched yet: between the
    /// conductor and the launch, or held while the workflow is paused.
    pub pending: Vec<TaskRequest>,
    /// Requests waiting for their `delay`.
    pub delayed: Vec<TaskRequest>,
    /// The pack of the workflow action and, when the top-level run asked for
    /// a revision, the commit its same-pack tasks run at.
    pub pack: String,
    pub commit: Option<String>,
    /// Holds secret inputs: its state is saved masked and cannot resume after a restart.
    #[serde(default)]
    pub has_secrets: bool,
    #[serde(skip)]
    pub done: bool,
}

impl Run {
    pub fn new(
        conductor: Conductor,
        pack: String,
        commit: Option<String>,
        has_secrets: bool,
    ) -> Run {
        Run {
            conductor,
            active: vec![],
            pending: vec![],
            delayed: vec![],
            pack,
            commit,
            has_secrets,
            done: false,
        }
    }

    pub fn active_children(&self) -> Vec<String> {
        self.active.iter().map(|(_, c)| c.clone()).collect()
    }
}
