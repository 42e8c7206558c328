//! The requests handed out and not reported yet, in hand-out order, with
//! cheap removal by (task, route, item) (a with-items task may have
//! thousands at once). A request handed out twice while active (Orquesta
//! hands a `join: N` out again when a late branch arrives) is held twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::graph::NodeId;
use crate::hash::FxHashMap;

/// (task node, route, item).
pub type Slot = (NodeId, u32, Option<u32>);

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Active {
    order: BTreeMap<u64, Slot>,
    next: u64,
    /// Oldest hand-out number and number of hand-outs per slot; rebuilt
    /// from `order` after deserialising.
    #[serde(skip)]
    index: FxHashMap<Slot, (u64, u32)>,
}

impl Active {
    fn ensure_index(&mut self) {
        if self.index.is_empty() && !self.order.is_empty() {
            for (seq, slot) in &self.order {
                let e = self.index.entry(*slot).or_insert((*seq, 0));
                e.1 += 1;
            }
        }
    }

    pub fn insert(&mut self, slot: Slot) {
        self.ensure_index();
        let seq = self.next;
        self.next += 1;
        let e = self.index.entry(slot).or_insert((seq, 0));
        e.1 += 1;
        self.order.insert(seq, slot);
    }

    /// Remove the oldest hand-out of `slot`; false when it is not active.
    pub fn remove(&mut self, slot: Slot) -> bool {
        self.ensure_index();
        let Some(&(seq, count)) = self.index.get(&slot) else {
            return false;
        };
        self.order.remove(&seq);
        if count == 1 {
            self.index.remove(&slot);
        } else {
            // Held twice (rare): the next oldest hand-out of the slot.
            let next = self
                .order
                .iter()
                .find(|(_, s)| **s == slot)
                .map(|(k, _)| *k)
                .unwrap_or(seq);
            self.index.insert(slot, (next, count - 1));
        }
        true
    }

    /// Is `slot` handed out and not reported yet?
    pub fn contains(&mut self, slot: Slot) -> bool {
        self.ensure_index();
        self.index.contains_key(&slot)
    }

    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.order.values()
    }
}
