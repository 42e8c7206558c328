//! The event bus: every event gets a sequence number; recent events are kept so
//! a stream can resume after a reconnect (`Last-Event-ID`).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::model::Event;

/// Events kept for resuming streams.
const REPLAY: usize = 8192;
/// Subscriber queue; a subscriber further behind than this sees `Lagged`.
const CAPACITY: usize = 16384;

/// An event with its bus sequence number.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BusEvent {
    pub id: u64,
    #[serde(flatten)]
    pub event: Event,
}

pub struct EventBus {
    tx: broadcast::Sender<BusEvent>,
    recent: Mutex<(u64, VecDeque<BusEvent>)>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus {
            tx,
            recent: Mutex::new((0, VecDeque::with_capacity(REPLAY))),
        }
    }

    pub fn publish(&self, event: Event) {
        // The lock orders sequence numbers and sends the same way.
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.0 += 1;
        let ev = BusEvent {
            id: recent.0,
            event,
        };
        if recent.1.len() == REPLAY {
            recent.1.pop_front();
        }
        recent.1.push_back(ev.clone());
        let _ = self.tx.send(ev);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.tx.subscribe()
    }

    /// Subscribes and returns the kept events after `last_id`, atomically, so
    /// nothing is missed or seen twice. `None` when `last_id` is too old.
    pub fn resume(&self, last_id: u64) -> (Option<Vec<BusEvent>>, broadcast::Receiver<BusEvent>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let oldest = recent.1.front().map(|e| e.id).unwrap_or(recent.0 + 1);
        if last_id + 1 < oldest && last_id < recent.0 {
            return (None, rx);
        }
        let replay = recent
            .1
            .iter()
            .filter(|e| e.id > last_id)
            .cloned()
            .collect();
        (Some(replay), rx)
    }
}
