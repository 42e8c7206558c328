//! A long workflow: a chain of 2,000 `true` tasks runs each task exactly
//! once, in order, and leaves every record in the store; its log is folded
//! into one final snapshot.

use std::path::Path;
use std::time::Duration;

use serde_json::Map;
use stormdesk_engine::{ExecutionFilter, RunRequest, SortOrder, Status};

use crate::common::*;

/// Pack `long` with `long.chain`: `t0` -> `t1` -> ... of `examples.true`.
fn chain_pack(dir: &Path, tasks: usize) {
    std::fs::create_dir_all(dir.join("actions/workflows")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: long\nname: long\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/chain.yaml"),
        "name: chain\nrunner_type: orquesta\nentry_point: workflows/chain.yaml\n",
    )
    .unwrap();
    let mut def = String::from("version: 1.0\ntasks:\n");
    for i in 0..tasks {
        def.push_str(&format!("  t{i}:\n    action: examples.true\n"));
        if i + 1 < tasks {
            def.push_str(&format!(
                "    next:\n      - when: <% succeeded() %>\n        do: t{}\n",
                i + 1
            ));
        }
    }
    // `task()` reads a result the conductor no longer holds from the store.
    def.push_str(
        "output:\n  - last: <% task(t1999).status %>\n  - first: <% task(t0).result.return_code %>\n",
    );
    std::fs::write(dir.join("actions/workflows/chain.yaml"), def).unwrap();
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
