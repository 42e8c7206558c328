//! Workflow packs of many `examples.true` tasks, written for the workflow
//! benchmarks (`benches/workflow.rs`, `benches/scale.rs`) and the long-chain
//! test (`tests/engine/scale.rs`), which include this file by path.

use std::path::Path;

/// An Orquesta sequential chain `t0` -> `t1` -> ... of `tasks` tasks of
/// `examples.true`, each run when the one before succeeded; `tail` is
/// appended as it is (an `output:` section, or nothing).
pub fn chain_definition(tasks: usize, tail: &str) -> String {
    let mut def = String::with_capacity(tasks * 80 + tail.len());
    def.push_str("version: 1.0\ntasks:\n");
    for i in 0..tasks {
        def.push_str(&format!("  t{i}:\n    action: examples.true\n"));
        if i + 1 < tasks {
            def.push_str(&format!(
                "    next:\n      - when: <% succeeded() %>\n        do: t{}\n",
                i + 1
            ));
        }
    }
    def.push_str(tail);
    def
}

/// Pack `pack` in `dir` with one Orquesta action `action` whose workflow is
/// `definition` (`actions/workflows/<action>.yaml`).
pub fn write_workflow_pack(dir: &Path, pack: &str, action: &str, definition: &str) {
    std::fs::create_dir_all(dir.join("actions/workflows")).unwrap();
    std::fs::write(
        dir.join("pack.yaml"),
        format!("ref: {pack}\nname: {pack}\nversion: 1.0.0\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("actions/{action}.yaml")),
        format!("name: {action}\nrunner_type: orquesta\nentry_point: workflows/{action}.yaml\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("actions/workflows/{action}.yaml")),
        definition,
    )
    .unwrap();
}
