//! Item statuses of a with-items task (Orquesta keeps them in the staged
//! entry), with counts per status and a cursor to the first item not
//! handed out, so that each item event and hand-out costs the same however
//! many items the task has.

use serde::{Deserialize, Serialize};

use super::machines::{St, ALL};

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Items {
    statuses: Vec<St>,
    counts: Vec<u32>,
    /// No item before it is unset.
    next_unset: usize,
}

impl Items {
    pub fn new(count: usize) -> Items {
        let mut counts = vec![0; ALL.len()];
        counts[St::Unset as usize] = count as u32;
        Items {
            statuses: vec![St::Unset; count],
            counts,
            next_unset: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.statuses.len()
    }

    pub fn set(&mut self, item: usize, status: St) {
        let Some(slot) = self.statuses.get_mut(item) else {
            return;
        };
        self.counts[*slot as usize] -= 1;
        *slot = status;
        self.counts[status as usize] += 1;
        if status == St::Unset && item < self.next_unset {
            self.next_unset = item;
        }
    }

    /// Items in any of `statuses`' matches.
    pub fn count(&self, pred: impl Fn(St) -> bool) -> u32 {
        ALL.iter()
            .filter(|s| pred(**s))
            .map(|s| self.counts[*s as usize])
            .sum()
    }

    /// Counts of the items other than `item` (whose status is `status`).
    pub fn others(&self, status: St) -> Vec<u32> {
        let mut counts = self.counts.clone();
        counts[status as usize] = counts[status as usize].saturating_sub(1);
        counts
    }

    pub fn any_active(&self) -> bool {
        self.count(St::is_active) > 0
    }

    pub fn any_incomplete(&self) -> bool {
        self.count(|s| !s.is_completed()) > 0
    }

    /// Up to `room` items not handed out yet, in order.
    pub fn take_unset(&mut self, room: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = self.next_unset;
        while i < self.statuses.len() && out.len() < room {
            if self.statuses[i] == St::Unset {
                out.push(i);
            } else if out.is_empty() {
                self.next_unset = i + 1;
            }
            i += 1;
        }
        out
    }

    /// Reset the items matching `pred` so they run again.
    pub fn reset(&mut self, pred: impl Fn(St) -> bool) {
        for i in 0..self.statuses.len() {
            if pred(self.statuses[i]) {
                self.set(i, St::Unset);
            }
        }
    }
}

/// The `_task_{active|dormant}_items_{...}` suffix of an item event
/// (Orquesta's `add_context_to_task_item_event`), from the other items'
/// status counts.
pub fn item_event(status: St, others: &[u32]) -> String {
    let base = format!("action_{}", status.as_str());
    let contextual = matches!(
        status,
        St::Resuming
            | St::Pending
            | St::Paused
            | St::Succeeded
            | St::Failed
            | St::Timeout
            | St::Abandoned
            | St::Canceled
    );
    if !contextual {
        return base;
    }
    let count = |pred: fn(St) -> bool| -> u32 {
        ALL.iter()
            .filter(|s| pred(**s))
            .map(|s| others[*s as usize])
            .sum()
    };
    let active = count(St::is_active) > 0;
    let mut name = base
        + if active {
            "_task_active"
        } else {
            "_task_dormant"
        };
    if !active {
        if count(|s| matches!(s, St::Pending | St::Paused)) > 0 {
            return name + "_items_paused";
        }
        if count(|s| s == St::Canceled) > 0 {
            return name + "_items_canceled";
        }
        if count(St::is_abended) > 0 {
            return name + "_items_failed";
        }
    }
    let incomplete = count(|s| !s.is_completed()) > 0;
    name.push_str(if incomplete {
        "_items_incomplete"
    } else {
        "_items_completed"
    });
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_events_carry_the_other_items() {
        let mut items = Items::new(3);
        items.set(0, St::Failed);
        items.set(2, St::Succeeded);
        let e = item_event(St::Failed, &items.others(St::Failed));
        assert_eq!(e, "action_failed_task_dormant_items_incomplete");
        items.set(1, St::Running);
        let e = item_event(St::Succeeded, &items.others(St::Succeeded));
        assert_eq!(e, "action_succeeded_task_active_items_incomplete");
    }

    #[test]
    fn unset_items_are_taken_in_order_and_resets_are_found() {
        let mut items = Items::new(4);
        assert_eq!(items.take_unset(2), vec![0, 1]);
        items.set(0, St::Running);
        items.set(1, St::Running);
        assert_eq!(items.take_unset(5), vec![2, 3]);
        items.set(2, St::Succeeded);
        items.set(3, St::Succeeded);
        items.set(0, St::Failed);
        items.set(1, St::Succeeded);
        assert!(items.take_unset(5).is_empty());
        items.reset(St::is_abended);
        assert_eq!(items.take_unset(5), vec![0]);
    }
}
