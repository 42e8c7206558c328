//! The conductor's serialisable runtime state, shaped like Orquesta's
//! `WorkflowState` (`orquesta/conducting.py`): contexts, routes, the
//! sequence of task state entries, the staged tasks, and the errors.
//!
//! Orquesta scans its lists for every question ("is any task active?",
//! "which inbound tasks of this join are satisfied?"); here those answers
//! are kept as counters and indexes updated where the state changes, so the
//! cost per task stays flat as workflows grow.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::items::Items;
use super::machines::{St, ALL};
use super::records::Record;
use super::ErrorEntry;
use crate::graph::NodeId;

/// A (node, route) pair: Orquesta's `task__rN`. Serialises as `"node:route"`
/// so it can key a JSON map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub NodeId, pub u32);

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}:{}", self.0, self.1))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        let s = String::deserialize(d)?;
        let (n, r) = s
            .split_once(':')
            .ok_or_else(|| serde::de::Error::custom(format!("bad task key {s:?}")))?;
        let parse = |x: &str| x.parse().map_err(serde::de::Error::custom);
        Ok(Key(parse(n)?, parse(r)?))
    }
}

/// A retry in progress (Orquesta's `retry` in a task state entry).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RetryState {
    pub when: Option<String>,
    pub count: i64,
    pub delay: Option<i64>,
    pub tally: u32,
}

/// One run of a task on a route (Orquesta's task state entry).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Entry {
    pub node: NodeId,
    pub route: u32,
    /// Contexts to merge after the initial one (Orquesta's `ctxs.in`
    /// without its leading 0, which every list has exactly once).
    pub ctxs: Vec<u32>,
    /// Inbound transitions that staged it: edge -> sequence index.
    #[serde(default)]
    pub prev: Prev,
    /// Evaluated outbound transitions, by position in the task's outbound
    /// edges: criteria met, or `None` when not evaluated.
    #[serde(default)]
    pub next: Vec<Option<bool>>,
    pub status: St,
    #[serde(default)]
    pub term: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryState>,
}

impl Entry {
    /// Whether the outbound transition at `pos` was met.
    pub fn next_at(&self, pos: usize) -> Option<bool> {
        self.next.get(pos).copied().flatten()
    }

    pub fn set_next_at(&mut self, pos: usize, value: bool) {
        if self.next.len() <= pos {
            self.next.resize(pos + 1, None);
        }
        self.next[pos] = Some(value);
    }
}

/// A rendered action request: the action (`None` without one) and input.
pub type Rendered = (Option<String>, Map<String, Value>);

/// Inbound transitions of a task run: (edge, the sequence index of the run
/// that took it), sorted by edge (Orquesta's `prev`).
pub type Prev = Vec<(u32, usize)>;

/// Record that the run `idx` took `edge` into a task.
pub fn prev_insert(prev: &mut Prev, edge: u32, idx: usize) {
    match prev.binary_search_by_key(&edge, |(e, _)| *e) {
        Ok(i) => prev[i].1 = idx,
        Err(i) => prev.insert(i, (edge, idx)),
    }
}

/// The contexts and inbound transitions a task run starts from.
pub type Origin = (Vec<u32>, Prev);

/// A task waiting to be handed out (Orquesta's staged entry).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Staged {
    pub node: NodeId,
    pub route: u32,
    /// Contexts after the initial one (see [`Entry::ctxs`]).
    pub ctxs: Vec<u32>,
    #[serde(default)]
    pub prev: Prev,
    pub ready: bool,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub run_on_fail: bool,
    /// Staged again by a retry: its delay replaces the task's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryState>,
    /// Item statuses of a with-items task, once it was handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Items>,
    /// Concurrency and delay of a with-items task, evaluated with its items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<i64>,
    /// Rendered item requests, rendered once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<Rendered>>,
}

impl Staged {
    pub fn counts_as_staged(&self) -> bool {
        self.ready && !self.completed
    }
}

/// Arrivals at a barrier (join) task on one route: inbound tasks that ran
/// there and, of those, the ones whose transition to the join was met.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default)]
pub struct Arrivals {
    pub seen: u32,
    pub satisfied: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct State {
    pub status: St,
    /// Input and vars rendered, start tasks staged (Orquesta's lazy
    /// workflow state creation).
    #[serde(default)]
    pub initialized: bool,
    pub contexts: Vec<Map<String, Value>>,
    /// Route details: the split transitions (`src__tKEY`) as (node, key).
    pub routes: Vec<Vec<(NodeId, u32)>>,
    pub sequence: Vec<Entry>,
    /// The latest entry per (node, route).
    pub tasks: BTreeMap<Key, usize>,
    /// Staged tasks in staging order.
    pub staged: BTreeMap<u64, Box<Staged>>,
    pub staged_index: BTreeMap<Key, u64>,
    pub next_stage: u64,
    /// Staged entries that are ready and not completed.
    pub staged_ready: u32,
    /// Latest entries per status.
    pub counts: Vec<u32>,
    pub arrivals: BTreeMap<Key, Arrivals>,
    pub errors: Vec<ErrorEntry>,
    pub output: Option<Map<String, Value>>,
    /// StackStorm's task execution records, latest per (task, route).
    #[serde(default)]
    pub records: BTreeMap<Key, Record>,
    /// Sequence entries of each rerun request.
    #[serde(default)]
    pub reruns: Vec<Vec<usize>>,
}

impl State {
    pub fn new() -> State {
        State {
            status: St::Unset,
            initialized: false,
            contexts: Vec::new(),
            routes: Vec::new(),
            sequence: Vec::new(),
            tasks: BTreeMap::new(),
            staged: BTreeMap::new(),
            staged_index: BTreeMap::new(),
            next_stage: 0,
            staged_ready: 0,
            counts: vec![0; ALL.len()],
            arrivals: BTreeMap::new(),
            errors: Vec::new(),
            output: None,
            records: BTreeMap::new(),
            reruns: Vec::new(),
        }
    }

    pub fn entry_idx(&self, node: NodeId, route: u32) -> Option<usize> {
        self.tasks.get(&Key(node, route)).copied()
    }

    pub fn entry(&self, node: NodeId, route: u32) -> Option<&Entry> {
        self.entry_idx(node, route).map(|i| &self.sequence[i])
    }

    pub fn count(&self, status: St) -> u32 {
        self.counts[status as usize]
    }

    /// Any latest entry in an active status.
    pub fn has_active_tasks(&self) -> bool {
        ALL.iter()
            .filter(|s| s.is_active())
            .any(|s| self.count(*s) > 0)
    }

    pub fn has_staged_tasks(&self) -> bool {
        self.staged_ready > 0
    }

    pub fn has_pausing_or_paused_tasks(&self) -> bool {
        self.count(St::Pausing) + self.count(St::Paused) + self.count(St::Pending) > 0
    }

    pub fn has_canceling_or_canceled_tasks(&self) -> bool {
        self.count(St::Canceling) + self.count(St::Canceled) > 0
    }

    pub fn has_paused_tasks(&self) -> bool {
        self.count(St::Paused) + self.count(St::Pending) > 0
    }

    /// Append an entry and make it the latest for its (node, route).
    pub fn push_entry(&mut self, entry: Entry) -> usize {
        let key = Key(entry.node, entry.route);
        self.counts[entry.status as usize] += 1;
        self.sequence.push(entry);
        let idx = self.sequence.len() - 1;
        if let Some(old) = self.tasks.insert(key, idx) {
            let status = self.sequence[old].status;
            self.counts[status as usize] -= 1;
        }
        idx
    }

    pub fn set_status(&mut self, idx: usize, status: St) {
        let old = std::mem::replace(&mut self.sequence[idx].status, status);
        let e = &self.sequence[idx];
        if self.tasks.get(&Key(e.node, e.route)) == Some(&idx) {
            self.counts[old as usize] -= 1;
            self.counts[status as usize] += 1;
        }
    }

    pub fn staged(&self, node: NodeId, route: u32) -> Option<&Staged> {
        self.staged_index
            .get(&Key(node, route))
            .and_then(|k| self.staged.get(k))
            .map(|s| &**s)
    }

    /// Change a staged entry, keeping the ready count right.
    pub fn with_staged<R>(
        &mut self,
        node: NodeId,
        route: u32,
        f: impl FnOnce(&mut Staged) -> R,
    ) -> Option<R> {
        let k = *self.staged_index.get(&Key(node, route))?;
        let s = self.staged.get_mut(&k)?;
        let before = s.counts_as_staged();
        let r = f(s);
        let after = s.counts_as_staged();
        match (before, after) {
            (false, true) => self.staged_ready += 1,
            (true, false) => self.staged_ready -= 1,
            _ => {}
        }
        Some(r)
    }

    /// Stage a task; it replaces an entry staged under the same key (the
    /// conductor never stages a key twice, so this does not happen).
    pub fn add_staged(&mut self, staged: Staged) {
        let key = Key(staged.node, staged.route);
        if staged.counts_as_staged() {
            self.staged_ready += 1;
        }
        let k = self.next_stage;
        self.next_stage += 1;
        self.staged.insert(k, Box::new(staged));
        if let Some(old) = self.staged_index.insert(key, k) {
            if let Some(s) = self.staged.remove(&old) {
                if s.counts_as_staged() {
                    self.staged_ready -= 1;
                }
            }
        }
    }

    /// Orquesta's `remove_staged_task`: kept while any item is active.
    pub fn remove_staged(&mut self, node: NodeId, route: u32) {
        let Some(&k) = self.staged_index.get(&Key(node, route)) else {
            return;
        };
        let items_active = self.staged[&k]
            .items
            .as_ref()
            .is_some_and(Items::any_active);
        if items_active {
            return;
        }
        if let Some(s) = self.staged.remove(&k) {
            if s.counts_as_staged() {
                self.staged_ready -= 1;
            }
        }
        self.staged_index.remove(&Key(node, route));
    }

    /// The initial context merged with `ids` in order (Orquesta's
    /// `get_task_context` of `[0] + ids`): later ones overwrite, dicts merge
    /// key by key.
    pub fn merged(&self, ids: &[u32]) -> Map<String, Value> {
        let mut out = self.contexts.first().cloned().unwrap_or_default();
        for id in ids {
            merge_into(&mut out, &self.contexts[*id as usize]);
        }
        out
    }

    /// Append an error entry unless the same one is logged already.
    pub fn log(&mut self, entry: ErrorEntry) {
        if !self.errors.contains(&entry) {
            self.errors.push(entry);
        }
    }
}

/// Orquesta's `merge_dicts(left, right, overwrite=True)`, iteratively.
pub fn merge_into(left: &mut Map<String, Value>, right: &Map<String, Value>) {
    // Depth follows the data; walk it with an explicit stack of paths.
    let mut stack: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = stack.pop() {
        let Some(r) = lookup(right, &path) else {
            continue;
        };
        let Some(l) = lookup_mut(left, &path) else {
            continue;
        };
        for (k, v) in r {
            match (l.get_mut(k), v) {
                (Some(Value::Object(_)), Value::Object(_)) => {
                    let mut p = path.clone();
                    p.push(k.clone());
                    stack.push(p);
                }
                _ => {
                    l.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

fn lookup<'a>(map: &'a Map<String, Value>, path: &[String]) -> Option<&'a Map<String, Value>> {
    let mut cur = map;
    for k in path {
        cur = cur.get(k)?.as_object()?;
    }
    Some(cur)
}

fn lookup_mut<'a>(
    map: &'a mut Map<String, Value>,
    path: &[String],
) -> Option<&'a mut Map<String, Value>> {
    let mut cur = map;
    for k in path {
        cur = cur.get_mut(k)?.as_object_mut()?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_and_overwrites() {
        let mut left = json!({"a": {"x": 1, "y": 2}, "b": 1})
            .as_object()
            .unwrap()
            .clone();
        let right = json!({"a": {"y": 3, "z": 4}, "b": [1]})
            .as_object()
            .unwrap()
            .clone();
        merge_into(&mut left, &right);
        assert_eq!(
            Value::Object(left),
            json!({"a": {"x": 1, "y": 3, "z": 4}, "b": [1]})
        );
    }

    #[test]
    fn keys_serialise_as_strings() {
        let mut m = BTreeMap::new();
        m.insert(Key(3, 1), 7usize);
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"3:1":7}"#);
        let back: BTreeMap<Key, usize> = serde_json::from_str(&s).unwrap();
        assert_eq!(back[&Key(3, 1)], 7);
    }
}
