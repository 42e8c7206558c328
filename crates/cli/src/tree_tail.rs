//! Following a workflow and all its descendants in one stream: every output
//! line is prefixed by its task path (`deploy > hosts[2] > restart | text`),
//! and each child gets a start and a finish line.

use std::collections::HashMap;
use std::io::Write;

use stormdesk_engine::{Execution, ExecutionOutput, Status};

struct Node {
    path: String,
    started: bool,
    finished: bool,
    /// An Inquiry of it was announced as waiting for a response.
    asked: bool,
    last_seq: Option<u64>,
    /// The end of the last chunk when it had no newline yet.
    partial: String,
}

pub struct TreeTail {
    root: String,
    nodes: HashMap<String, Node>,
    only: Option<String>,
}

fn label(e: &Execution) -> String {
    let task = e.task_name().unwrap_or(e.action_ref()).to_string();
    let item = e.context.get("orquesta").and_then(|o| o.get("item_id"));
    match item.and_then(|i| i.as_u64()) {
        Some(i) => format!("{task}[{i}]"),
        None => task,
    }
}

impl TreeTail {
    pub fn new(root: &Execution, only: Option<&str>) -> TreeTail {
        let mut nodes = HashMap::new();
        nodes.insert(
            root.id.clone(),
            Node {
                path: String::new(),
                started: true,
                finished: false,
                asked: false,
                last_seq: None,
                partial: String::new(),
            },
        );
        TreeTail {
            root: root.id.clone(),
            nodes,
            only: only.map(str::to_string),
        }
    }

    /// A new or changed execution: descendants get their start and finish lines.
    pub fn execution(&mut self, e: &Execution) {
        if e.id == self.root {
            return;
        }
        if !self.nodes.contains_key(&e.id) {
            let Some(parent) = e.parent.as_ref().and_then(|p| self.nodes.get(p)) else {
                return;
            };
            let path = if parent.path.is_empty() {
                label(e)
            } else {
                format!("{} > {}", parent.path, label(e))
            };
            self.nodes.insert(
                e.id.clone(),
                Node {
                    path,
                    started: false,
                    finished: false,
                    asked: false,
                    last_seq: None,
                    partial: String::new(),
                },
            );
        }
        let node = self.nodes.get_mut(&e.id).expect("inserted above");
        let mut out = std::io::stdout().lock();
        if !node.started {
            node.started = true;
            let _ = writeln!(out, "{} ▸ started {}", node.path, e.action_ref());
        }
        // An Inquiry (`core.ask`) waits for a person: say how to answer.
        if e.status == Status::Pending && e.runner_name() == "inquirer" && !node.asked {
            node.asked = true;
            let _ = writeln!(
                out,
                "{} ▸ waiting for a response: stormdesk inquiry respond {} name=value ... (or answer in the console)",
                node.path, e.id
            );
        }
        if e.status.is_completed() && !node.finished {
            node.finished = true;
            if !node.partial.is_empty() {
                let _ = writeln!(out, "{} | {}", node.path, std::mem::take(&mut node.partial));
            }
            let took = e
                .elapsed_seconds
                .map(|s| format!(" in {s:.2} s"))
                .unwrap_or_default();
            let _ = writeln!(out, "{} ▸ {}{took}", node.path, e.status);
        }
        let _ = out.flush();
    }

    /// Output of a descendant, each complete line prefixed by its path.
    pub fn output(&mut self, id: &str, chunk: &ExecutionOutput) {
        let Some(node) = self.nodes.get_mut(id) else {
            return;
        };
        if node.last_seq.is_some_and(|l| chunk.seq <= l) {
            return;
        }
        node.last_seq = Some(chunk.seq);
        if self.only.as_deref().is_some_and(|s| s != chunk.output_type) {
            return;
        }
        node.partial.push_str(&chunk.data);
        let mut out = std::io::stdout().lock();
        while let Some(nl) = node.partial.find('\n') {
            let line: String = node.partial.drain(..=nl).collect();
            let line = line.trim_end_matches('\n');
            if node.path.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                let _ = writeln!(out, "{} | {line}", node.path);
            }
        }
        let _ = out.flush();
    }

    pub fn knows(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }
}
