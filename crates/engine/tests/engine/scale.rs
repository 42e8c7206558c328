//! A long workflow: a chain of 2,000 `true` tasks runs each task exactly
//! once, in order, and leaves every record in the store; its log is folded
//! into one final snapshot.

use std::path::Path;
use std::time::Duration;

use serde_json::Map;
use stormdesk_engine::{ExecutionFilter, RunRequest, SortOrder, Status};

use crate::common::*;

#[path = "../../benches/support/chain.rs"]
pub mod chain;

/// Pack `long` with `long.chain`: `t0` -> `t1` -> ... of `examples.true`.
fn chain_pack(dir: &Path, tasks: usize) {
    // `task()` reads a result the conductor no longer holds from the store.
    let output = format!(
        "output:\n  - last: <% task(t{}).status %>\n  - first: <% task(t0).result.return_code %>\n",
        tasks - 1
    );
    chain::write_workflow_pack(
        dir,
        "long",
        "chain",
        &chain::chain_definition(tasks, &output),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_2000_tasks_runs_each_once_and_keeps_every_record() {
    const N: usize = 2000;
    let fx = Fixture::new();
    chain_pack(&fx.packs.join("long"), N);
    let engine = fx.engine().await;
    let started = engine
        .run(RunRequest::new("long.chain", Map::new()))
        .await
        .unwrap();
    let done = tokio::time::timeout(Duration::from_secs(1800), engine.wait(&started.id))
        .await
        .expect("the chain completes")
        .unwrap();
    assert_eq!(done.status, Status::Succeeded, "{}", done.result);
    assert_eq!(done.result["output"]["last"], "succeeded");
    assert_eq!(done.result["output"]["first"], 0);

    let children = engine
        .executions(ExecutionFilter {
            parent: Some(started.id.clone()),
            limit: Some(u32::MAX),
            order: SortOrder::Asc,
            exclude_result: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(children.len(), N, "one child per task");
    for (i, child) in children.iter().enumerate() {
        assert_eq!(
            child.task_name(),
            Some(format!("t{i}").as_str()),
            "task {i} ran once, in order"
        );
        assert_eq!(child.status, Status::Succeeded, "t{i}");
        assert_eq!(child.context["orquesta"]["attempt"], 0, "t{i}");
        assert!(child.end_timestamp.is_some(), "t{i} recorded complete");
    }
    // The record lists its children, in start order.
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(done.children, ids);

    // What the store holds: every record, and the log folded into the final
    // snapshot.
    let db = rusqlite::Connection::open(fx.path("stormdesk.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [&started.id], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM executions WHERE parent = ?1 AND status = 'succeeded'"),
        N as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM workflow_log WHERE workflow = ?1"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM workflows WHERE id = ?1"), 1);
    engine.shutdown();
}
