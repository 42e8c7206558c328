//! `GET /v1/stream`: the event bus as Server-Sent Events, resumable with `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::{errors::BroadcastStreamRecvError, BroadcastStream};

use super::{require_api, ApiError};
use crate::engine::Engine;
use crate::events::BusEvent;

#[derive(Debug, Deserialize, Default)]
pub(super) struct StreamQuery {
    /// Only events of these executions (comma-separated ids).
    execution: Option<String>,
}

pub(super) async fn stream(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    require_api(&engine, &headers)?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (replay, rx) = match last_id {
        Some(id) => {
            let (replay, rx) = engine.bus().resume(id);
            (replay.unwrap_or_default(), rx)
        }
        None => (Vec::new(), engine.bus().subscribe()),
    };
    let wanted: Option<Vec<String>> = q
        .execution
        .map(|s| s.split(',').map(str::to_string).collect());
    let live = BroadcastStream::new(rx).filter_map(|item| async move {
        match item {
            Ok(ev) => Some(ev),
            // A slow client misses events; it can reload the records it shows.
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "stream client fell behind");
                None
            }
        }
    });
    let events = stream::iter(replay)
        .chain(live)
        .filter(move |ev| {
            let keep = wanted
                .as_ref()
                .map(|w| w.iter().any(|id| id == ev.event.execution_id()))
                .unwrap_or(true);
            async move { keep }
        })
        .map(|ev: BusEvent| {
            let data = serde_json::to_string(&ev).unwrap_or_default();
            Ok(SseEvent::default()
                .id(ev.id.to_string())
                .event(ev.event.name())
                .data(data))
        });
    let shutdown = engine.inner.shutdown.clone().cancelled_owned();
    let events = events.take_until(shutdown);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
