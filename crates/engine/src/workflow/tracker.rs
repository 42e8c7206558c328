//! Poll completion: the results tracker StackStorm used before push. Every
//! interval it reads each active child from the store and feeds those that
//! completed to their workflow.

use std::time::Duration;

use stormdesk_workflow::TaskResult;

use super::{advance, task_key, task_status, Step};
use crate::engine::Engine;

pub(crate) fn spawn_tracker(engine: &Engine, every: Duration) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = engine.inner.shutdown.cancelled() => break,
                _ = tick.tick() => poll(&engine).await,
            }
        }
    });
}

async fn poll(engine: &Engine) {
    for id in engine.inner.workflows.ids() {
        let Some(run) = engine.inner.workflows.get(&id) else {
            continue;
        };
        let children = run.lock().await.active_children();
        for child in children {
            let Ok(e) = engine.current(&child).await else {
                continue;
            };
            if !e.status.is_completed() {
                continue;
            }
            let Some(key) = task_key(&e.context) else {
                continue;
            };
            let step = Step::Result {
                child: e.id.clone(),
                result: TaskResult {
                    key,
                    status: task_status(e.status),
                    result: e.result,
                },
            };
            advance(engine, &id, step).await;
        }
    }
}
