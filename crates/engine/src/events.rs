//! The event bus: every event gets a sequence number; recent events are kept so
//! a stream can resume after a reconnect (`Last-Event-ID`).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::model::Event;

/// Events kept for resuming streams: at most this many, and at most about
/// [`REPLAY_BYTES`] of them in memory. A client further behind reloads the
/// records it shows from the store.
const REPLAY: usize = 2048;
const REPLAY_BYTES: usize = 2 << 20;
/// Subscriber queue; a subscriber further behind than this sees `Lagged`.
const CAPACITY: usize = 16384;

/// An event with its bus sequence number.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BusEvent {
    pub id: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Recent events, within a budget however many events a long run publishes.
struct Recent {
    last: u64,
    events: VecDeque<(BusEvent, usize)>,
    bytes: usize,
}

pub struct EventBus {
    tx: broadcast::Sender<BusEvent>,
    recent: Mutex<Recent>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

/// Roughly what an event holds in memory, in bytes: its text plus a
/// little per value. Walks the values without copying them.
fn approx_size(event: &Event) -> usize {
    match event {
        Event::Output { output } => 256 + output.data.len(),
        Event::Execution { execution, .. } => {
            let e = execution.as_ref();
            let size = 1024 + e.id.len() * (1 + e.children.len()) + e.log.len() * 64;
            let values = std::iter::once(&e.result)
                .chain(e.parameters.values())
                .chain(e.context.values());
            size + (e.parameters.len() + e.context.len()) * 48 + values_size(values)
        }
        Event::Announcement {
            route,
            body,
            execution_id,
        } => 256 + route.len() + execution_id.len() + values_size(std::iter::once(body)),
    }
}

/// Roughly what `values` hold in memory, walked with a stack.
fn values_size<'a>(values: impl Iterator<Item = &'a serde_json::Value>) -> usize {
    let mut size = 0;
    let mut stack: Vec<&serde_json::Value> = values.collect();
    while let Some(v) = stack.pop() {
        size += 32;
        match v {
            serde_json::Value::String(s) => size += s.len(),
            serde_json::Value::Array(a) => stack.extend(a.iter()),
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    size += k.len() + 16;
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    size
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus {
            tx,
            recent: Mutex::new(Recent {
                last: 0,
                events: VecDeque::new(),
                bytes: 0,
            }),
        }
    }

    pub fn publish(&self, event: Event) {
        let size = approx_size(&event);
        // The lock orders sequence numbers and sends the same way.
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.last += 1;
        let ev = BusEvent {
            id: recent.last,
            event,
        };
        if size > REPLAY_BYTES / 4 {
            // Too big to keep: a stream cannot resume across it, so every
            // earlier event goes too (such a client reloads from the store).
            recent.events.clear();
            recent.bytes = 0;
        } else {
            recent.bytes += size;
            recent.events.push_back((ev.clone(), size));
            while recent.events.len() > REPLAY || recent.bytes > REPLAY_BYTES {
                match recent.events.pop_front() {
                    Some((_, old)) => recent.bytes -= old,
                    None => break,
                }
            }
        }
        let _ = self.tx.send(ev);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.tx.subscribe()
    }

    /// Subscribes, and says the id of the last event published before: the
    /// receiver gets every event after it.
    pub fn subscribe_after(&self) -> (u64, broadcast::Receiver<BusEvent>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        (recent.last, self.tx.subscribe())
    }

    /// Subscribes and returns the kept events after `last_id`, atomically, so
    /// nothing is missed or seen twice. `None` when `last_id` is too old.
    pub fn resume(&self, last_id: u64) -> (Option<Vec<BusEvent>>, broadcast::Receiver<BusEvent>) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        let oldest = recent
            .events
            .front()
            .map(|(e, _)| e.id)
            .unwrap_or(recent.last + 1);
        if last_id + 1 < oldest && last_id < recent.last {
            return (None, rx);
        }
        let replay = recent
            .events
            .iter()
            .filter(|(e, _)| e.id > last_id)
            .map(|(e, _)| e.clone())
            .collect();
        (Some(replay), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExecutionOutput, OutputChunk, Stream};

    fn output(seq: u64, data: &str) -> Event {
        Event::Output {
            output: ExecutionOutput::from_parts(
                "e1",
                "p.a",
                "local-shell-cmd",
                &OutputChunk {
                    seq,
                    stream: Stream::Stdout,
                    timestamp: "2024-01-01T00:00:00.000000Z".into(),
                    data: data.into(),
                },
            ),
        }
    }

    #[test]
    fn resume_replays_what_followed_and_forgets_beyond_the_budget() {
        let bus = EventBus::new();
        for i in 0..3 {
            bus.publish(output(i, "x"));
        }
        let (replay, _rx) = bus.resume(1);
        let replay = replay.unwrap();
        assert_eq!(replay.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(replay[0].event, output(1, "x"));
        // Big events push old ones out: a resume from before them is refused.
        let big = "y".repeat(REPLAY_BYTES / 5);
        for i in 3..9 {
            bus.publish(output(i, &big));
        }
        assert!(bus.resume(1).0.is_none());
        let (replay, _rx) = bus.resume(7);
        assert_eq!(replay.unwrap().len(), 2);
        // One too big to keep at all: nothing before it can be resumed.
        bus.publish(output(9, &"z".repeat(REPLAY_BYTES)));
        assert!(bus.resume(8).0.is_none());
        let (replay, _rx) = bus.resume(10);
        assert_eq!(replay.unwrap().len(), 0);
    }
}
