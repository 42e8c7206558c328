//! `GET /v1/stream`: the event bus as StackStorm's stream
//! (`st2stream/controllers/v1/stream.py`): Server-Sent Events named
//! `st2.execution__create`, `st2.execution__update`,
//! `st2.execution.output__create`, `st2.liveaction__create`,
//! `st2.liveaction__update` and `st2.announcement__<route>`, each carrying
//! the resource as JSON (and Stormdesk's own [`STORMDESK_ANNOUNCEMENT`], only
//! for a stream that asks for it by name); filtered by
//! `events`, `action_refs` and `execution_ids`; ended after the completion of
//! `end_execution_id` when `end_event` names its event. Every event has an
//! `id` ([`ResumePoint`]), so a client resumes with `Last-Event-ID`; a client
//! that falls too far behind has its stream ended, so it resumes.

use std::borrow::Cow;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};

use super::attrs::Params;
use super::{ApiError, Caller};
use crate::engine::Engine;
use crate::events::BusEvent;
use crate::model::{Event, Execution};

pub const EXECUTION_CREATE: &str = "st2.execution__create";
pub const EXECUTION_UPDATE: &str = "st2.execution__update";
pub const OUTPUT_CREATE: &str = "st2.execution.output__create";
pub const LIVEACTION_CREATE: &str = "st2.liveaction__create";
pub const LIVEACTION_UPDATE: &str = "st2.liveaction__update";

/// StackStorm's `LiveActionAPI` view of an execution.
fn liveaction(e: &Execution) -> Value {
    let mut v = json!({
        "id": e.liveaction_id,
        "status": e.status,
        "start_timestamp": e.start_timestamp,
        "action": e.action.ref_,
        "action_is_workflow": e.runner.name == crate::workflow::WORKFLOW_RUNNER,
        "parameters": e.parameters,
        "context": e.context,
        "callback": {},
        "runner_info": {},
    });
    if let Some(end) = &e.end_timestamp {
        v["end_timestamp"] = json!(end);
    }
    if !e.result.is_null() {
        v["result"] = e.result.clone();
    }
    v
}

/// Stormdesk's own event for an announcement: data `{"route", "body",
/// "execution_id"}` (`body` as `st2.announcement__<route>` carries it), the
/// desktop app's `announcement` event. StackStorm's stream has no way to say
/// which execution announced; the console needs it for its link. Sent only to
/// a stream whose `events` filter names it, so StackStorm's clients never see
/// it.
pub const STORMDESK_ANNOUNCEMENT: &str = "stormdesk.announcement";

/// StackStorm's stream name of an announcement on `route`.
pub fn announcement_event(route: &str) -> String {
    format!("st2.announcement__{route}")
}

/// The stream messages of one bus event: `(name, data)`.
fn messages(event: &Event) -> Vec<(Cow<'static, str>, Value)> {
    match event {
        Event::Execution { execution, created } => {
            let (exec_name, live_name) = if *created {
                (EXECUTION_CREATE, LIVEACTION_CREATE)
            } else {
                (EXECUTION_UPDATE, LIVEACTION_UPDATE)
            };
            vec![
                (live_name.into(), liveaction(execution)),
                (
                    exec_name.into(),
                    serde_json::to_value(execution).unwrap_or(Value::Null),
                ),
            ]
        }
        Event::Output { output } => vec![(
            OUTPUT_CREATE.into(),
            serde_json::to_value(output).unwrap_or(Value::Null),
        )],
        Event::Announcement {
            route,
            body,
            execution_id,
        } => vec![
            (announcement_event(route).into(), body.clone()),
            (
                STORMDESK_ANNOUNCEMENT.into(),
                json!({"route": route, "body": body, "execution_id": execution_id}),
            ),
        ],
    }
}

/// Where a client resumes: the SSE `id` it last received. A bus event that
/// makes several messages (an execution's `st2.liveaction__*` and
/// `st2.execution__*` twins, an announcement's two names) gives its last
/// message the event's number (`"700"`) and each one before it the number and
/// its place (`"700-0"`), so a client cut off between them resumes with the
/// next message of that event, neither losing nor repeating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResumePoint {
    event: u64,
    /// The place of the last message received, when not the event's last.
    sent: Option<usize>,
}

impl ResumePoint {
    /// `"700"` or `"700-0"`; anything else is no resume point (the stream
    /// starts at now, as for a client that sends none).
    fn parse(id: &str) -> Option<Self> {
        match id.split_once('-') {
            None => Some(Self {
                event: id.trim().parse().ok()?,
                sent: None,
            }),
            Some((event, sent)) => Some(Self {
                event: event.trim().parse().ok()?,
                sent: Some(sent.trim().parse().ok()?),
            }),
        }
    }

    /// The last bus event received whole.
    fn whole(self) -> u64 {
        match self.sent {
            Some(_) => self.event.saturating_sub(1),
            None => self.event,
        }
    }

    /// Whether message `place` of bus event `event` was received already.
    fn received(self, event: u64, place: usize) -> bool {
        self.event == event && self.sent.is_some_and(|sent| place <= sent)
    }

    /// The SSE `id` of message `place` of `count` of bus event `event`.
    fn id_of(event: u64, place: usize, count: usize) -> String {
        if place + 1 == count {
            event.to_string()
        } else {
            format!("{event}-{place}")
        }
    }
}

fn list(q: &Params, name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = q
        .all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    (!values.is_empty()).then_some(values)
}

struct Filter {
    events: Option<Vec<String>>,
    action_refs: Option<Vec<String>>,
    execution_ids: Option<Vec<String>>,
}

impl Filter {
    fn keeps(&self, name: &str, event: &Event) -> bool {
        let (id, action) = match event {
            Event::Execution { execution, .. } => (&execution.id, &execution.action.ref_),
            Event::Output { output } => (&output.execution_id, &output.action_ref),
            // Stormdesk's own announcement event: only when asked by name.
            Event::Announcement { .. } if name == STORMDESK_ANNOUNCEMENT => {
                return self
                    .events
                    .as_ref()
                    .is_some_and(|names| names.iter().any(|n| n == name));
            }
            // Announcements go to every listener that asks for their name
            // (or for everything), whatever action or execution it follows.
            Event::Announcement { .. } => {
                return self
                    .events
                    .as_ref()
                    .is_none_or(|names| names.iter().any(|n| n == name));
            }
        };
        self.events
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
            && self
                .action_refs
                .as_ref()
                .is_none_or(|refs| refs.contains(action))
            && self
                .execution_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(id))
    }
}

pub(super) async fn stream(
    State(engine): State<Engine>,
    _caller: Caller,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let q = Params::parse(raw.as_deref());
    let filter = Filter {
        events: list(&q, "events"),
        action_refs: list(&q, "action_refs"),
        // `execution` is the name Stormdesk's faces used before.
        execution_ids: list(&q, "execution_ids").or_else(|| list(&q, "execution")),
    };
    let end = match (q.get("end_execution_id"), q.get("end_event")) {
        (Some(id), Some(event)) => Some((id.to_string(), event.to_string())),
        _ => None,
    };
    let (end_tx, end_rx) = tokio::sync::oneshot::channel::<()>();
    let end_tx = std::sync::Mutex::new(Some(end_tx));
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(ResumePoint::parse);
    let (replay, rx) = match resume {
        Some(point) => {
            let (replay, rx) = engine.bus().resume(point.whole());
            (replay.unwrap_or_default(), rx)
        }
        None => {
            let (last, rx) = engine.bus().subscribe_after();
            // The execution the stream is to end with may have completed
            // before the client subscribed (a `packs.uninstall` refused at
            // once): its final update comes first, so the stream ends
            // instead of waiting for ever. StackStorm's stream would wait.
            let mut replay = Vec::new();
            if let Some((id, _)) = &end {
                if let Ok(done) = engine.execution(id).await {
                    if done.status.is_completed() {
                        replay.push(BusEvent {
                            id: last,
                            event: Event::Execution {
                                execution: Box::new(done),
                                created: false,
                            },
                        });
                    }
                }
            }
            (replay, rx)
        }
    };
    // A client too slow to keep up has missed events: its stream ends
    // rather than going on with a hole, so it reconnects with
    // `Last-Event-ID` and (when that is older than the replay window) reloads
    // the records it shows, as the console does. StackStorm's stream queues
    // without bound instead.
    let live = BroadcastStream::new(rx)
        .take_while(|item| {
            let behind = match item {
                Ok(_) => false,
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "stream client fell behind: its stream ends so it resumes"
                    );
                    true
                }
            };
            futures::future::ready(!behind)
        })
        .filter_map(|item| futures::future::ready(item.ok()));
    let events = stream::iter(replay)
        .chain(live)
        .flat_map(move |ev: BusEvent| {
            let kept: Vec<(Cow<'static, str>, Value)> = messages(&ev.event)
                .into_iter()
                .filter(|(name, _)| filter.keeps(name, &ev.event))
                .collect();
            let count = kept.len();
            let out: Vec<(String, Cow<'static, str>, Value, bool)> = kept
                .into_iter()
                .enumerate()
                .filter(|(place, _)| !resume.is_some_and(|r| r.received(ev.id, *place)))
                .map(|(place, (name, data))| {
                    let ends = end.as_ref().is_some_and(|(id, event)| {
                        event == name.as_ref()
                            && data.get("id").and_then(Value::as_str) == Some(id)
                            && data
                                .get("status")
                                .and_then(Value::as_str)
                                .and_then(crate::model::Status::parse)
                                .is_some_and(|s| s.is_completed())
                    });
                    (ResumePoint::id_of(ev.id, place, count), name, data, ends)
                })
                .collect();
            stream::iter(out)
        })
        .map(move |(id, name, data, ends)| {
            if ends {
                // The stream ends once this last event has gone out.
                if let Some(tx) = end_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let _ = tx.send(());
                }
            }
            Ok(SseEvent::default()
                .id(id)
                .event(name.as_ref())
                .data(data.to_string()))
        })
        .take_until(async move {
            if end_rx.await.is_err() {
                // No end asked: never.
                futures::future::pending::<()>().await;
            }
        });
    let shutdown = engine.inner.shutdown.clone().cancelled_owned();
    let events = events.take_until(shutdown);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
