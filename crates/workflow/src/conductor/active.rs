//! The requests handed out and not reported yet, in hand-out order, with
//! O(log n) removal by key (a with-items task may have thousands at once).
//! A key handed out twice while active (Orquesta hands a `join: N` out again
//! when a late branch arrives) is held twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TaskKey;
use crate::hash::FxHashMap;

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Active {
    order: BTreeMap<u64, TaskKey>,
    next: u64,
    /// Hand-out numbers per key; rebuilt from `order` after deserialising.
    #[serde(skip)]
    index: FxHashMap<TaskKey, Vec<u64>>,
}

impl Active {
    fn ensure_index(&mut self) {
        if self.index.is_empty() && !self.order.is_empty() {
            for (seq, key) in &self.order {
                self.index.entry(key.clone()).or_default().push(*seq);
            }
        }
    }

    pub fn insert(&mut self, key: TaskKey) {
        self.ensure_index();
        let seq = self.next;
        self.next += 1;
        self.index.entry(key.clone()).or_default().push(seq);
        self.order.insert(seq, key);
    }

    /// Remove the oldest hand-out of `key`; false when it is not active.
    pub fn remove(&mut self, key: &TaskKey) -> bool {
        self.ensure_index();
        let Some(seqs) = self.index.get_mut(key) else {
            return false;
        };
        let seq = seqs.remove(0);
        if seqs.is_empty() {
            self.index.remove(key);
        }
        self.order.remove(&seq);
        true
    }

    pub fn keys(&self) -> impl Iterator<Item = &TaskKey> {
        self.order.values()
    }
}
