//! Human-readable output for the terminal.

use std::fmt::Write;

use stormdesk_engine::Execution;

pub fn execution_summary(e: &Execution) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "id: {}", e.id);
    let _ = writeln!(s, "action: {}", e.action_ref());
    let _ = writeln!(s, "status: {}", e.status);
    if let Some(elapsed) = e.elapsed_seconds {
        let _ = writeln!(s, "elapsed: {elapsed:.3}s");
    }
    if let Some(cv) = e.content_version() {
        let _ = writeln!(s, "content_version: {cv}");
    }
    if let Some(c) = e.commit() {
        let _ = writeln!(s, "commit: {c}");
    }
    if !e.parameters.is_empty() {
        let _ = writeln!(
            s,
            "parameters: {}",
            serde_json::to_string(&e.parameters).unwrap_or_default()
        );
    }
    if !e.result.is_null() {
        let _ = writeln!(
            s,
            "result:\n{}",
            indent(&serde_json::to_string_pretty(&e.result).unwrap_or_default())
        );
    }
    s
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// One line per execution for `execution list`.
pub fn execution_row(e: &Execution) -> String {
    format!(
        "{:<24}  {:<28}  {:<10}  {}{}",
        e.id,
        e.action_ref(),
        e.status.as_str(),
        e.start_timestamp,
        e.elapsed_seconds
            .map(|s| format!("  {s:.2}s"))
            .unwrap_or_default()
    )
}
