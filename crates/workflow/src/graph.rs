//! The workflow graph as Orquesta composes it (`orquesta/composers/native.py`
//! over `orquesta/specs/native/v1/models.py`), computed once per spec so
//! the conductor never rescans the spec while conducting.
//!
//! - Nodes are the tasks plus the engine commands `continue`, `fail` and
//!   `noop`, each one node however many transitions lead to it.
//! - An edge is one (task, transition, target) of the spec; edges between
//!   the same two nodes are numbered by a `key` in transition order, and
//!   Orquesta names a transition `target__tKEY` and a route step
//!   `source__tKEY`.
//! - `do: retry` is not an edge: it gives the task a retry policy of
//!   `count: 3` and `when:` the transition's condition (default
//!   `<% completed() %>`), replacing the task's own `retry`.
//! - A split task (reached by more than one transition, no `join`, not in a
//!   cycle) runs once per inbound branch, each on its own route.

use std::sync::OnceLock;

use crate::hash::FxHashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{Join, WorkflowSpec};

/// A node: a task index, or `tasks.len() + k` for the engine commands in
/// [`COMMANDS`] order.
pub type NodeId = u32;

/// Engine commands that are nodes of the graph, in node order.
pub const COMMANDS: [&str; 3] = ["continue", "fail", "noop"];

/// One transition edge.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Edge {
    pub src: NodeId,
    pub dst: NodeId,
    /// Number of this edge among the edges from `src` to `dst`.
    pub key: u32,
    /// The index of the transition in the source task's `next` (its
    /// `when` is the edge's criteria).
    pub transition: usize,
}

/// A join: wait for all inbound tasks or for N of them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Barrier {
    All,
    Count(u32),
}

/// A retry policy: the task's `retry`, or the one `do: retry` implies.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub when: Option<String>,
    pub count: Value,
    pub delay: Option<Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Graph {
    /// Node names: task names, then the commands.
    pub names: Vec<String>,
    /// Node by name, built on first use (not serialised).
    #[serde(skip)]
    index: OnceLock<FxHashMap<String, NodeId>>,
    /// Distinct barrier (join) successors per node.
    pub barrier_succ: Vec<Vec<NodeId>>,
    pub tasks: usize,
    pub edges: Vec<Edge>,
    /// Outbound edges per node, sorted by target name (then key).
    pub out: Vec<Vec<u32>>,
    /// Inbound edges per node, sorted by source name.
    pub inbound: Vec<Vec<u32>>,
    /// Distinct inbound source nodes per node.
    pub sources: Vec<u32>,
    /// The task's join, if any.
    pub barrier: Vec<Option<Barrier>>,
    pub retry: Vec<Option<RetryPolicy>>,
    /// Reached from a start task (part of Orquesta's graph).
    pub reachable: Vec<bool>,
    pub in_cycle: Vec<bool>,
    /// Split task: runs once per inbound branch (new route).
    pub split: Vec<bool>,
    /// Start tasks (no inbound transition in the spec), sorted by name.
    pub roots: Vec<NodeId>,
}

impl Graph {
    pub fn new(spec: &WorkflowSpec) -> Graph {
        let tasks = spec.tasks.len();
        let mut names: Vec<String> = spec.tasks.keys().cloned().collect();
        names.extend(COMMANDS.iter().map(|c| c.to_string()));
        let n = names.len();
        let node_of = |name: &str| -> Option<NodeId> {
            spec.tasks
                .get_index_of(name)
                .or_else(|| COMMANDS.iter().position(|c| *c == name).map(|k| tasks + k))
                .map(|i| i as NodeId)
        };

        // Every (task, transition, target) of the spec, including
        // unreachable tasks: Orquesta's split and start-task tests count them.
        let mut prev_count = vec![0u32; n];
        let mut succ: Vec<Vec<NodeId>> = vec![Vec::new(); n];
        let mut retry: Vec<Option<RetryPolicy>> = spec
            .tasks
            .values()
            .map(|t| {
                t.retry.as_ref().map(|r| RetryPolicy {
                    when: r.when.clone(),
                    count: r.count.clone(),
                    delay: r.delay.clone(),
                })
            })
            .chain(std::iter::repeat_n(None, COMMANDS.len()))
            .collect();
        // Per task: (target, transition index), sorted by target name.
        let mut next: Vec<Vec<(&str, usize)>> = Vec::with_capacity(tasks);
        for (t, task) in spec.tasks.values().enumerate() {
            let mut list = Vec::new();
            for (i, tr) in task.next.iter().enumerate() {
                for target in &tr.targets {
                    list.push((target.as_str(), i));
                }
            }
            list.sort_by(|a, b| a.0.cmp(b.0));
            for (target, _) in &list {
                if let Some(dst) = node_of(target) {
                    prev_count[dst as usize] += 1;
                    succ[t].push(dst);
                }
            }
            next.push(list);
        }
        let in_cycle = cycles(&succ);

        let mut roots: Vec<NodeId> = (0..tasks)
            .filter(|t| prev_count[*t] == 0)
            .map(|t| t as NodeId)
            .collect();
        roots.sort_by(|a, b| names[*a as usize].cmp(&names[*b as usize]));

        // Orquesta's composition: breadth-first from the start tasks.
        let mut reachable = vec![false; n];
        let mut edges: Vec<Edge> = Vec::new();
        // Orquesta finds an existing edge by (source, target, criteria,
        // transition); the transition decides the criteria.
        let mut seen_edges: FxHashMap<(NodeId, NodeId, usize), ()> = FxHashMap::default();
        let mut pair_keys: FxHashMap<(NodeId, NodeId), u32> = FxHashMap::default();
        let mut queue: std::collections::VecDeque<NodeId> = roots.iter().copied().collect();
        let mut processed = vec![false; n];
        while let Some(node) = queue.pop_front() {
            reachable[node as usize] = true;
            if (node as usize) >= tasks || processed[node as usize] {
                // Commands have no transitions; a task's edges are added the
                // first time it is processed (later visits find them).
                continue;
            }
            processed[node as usize] = true;
            for (target, transition) in &next[node as usize] {
                let when = &spec.tasks[node as usize].next[*transition].when;
                if *target == "retry" {
                    retry[node as usize] = Some(RetryPolicy {
                        when: Some(when.clone().unwrap_or_else(|| "<% completed() %>".into())),
                        count: Value::from(3),
                        delay: None,
                    });
                    continue;
                }
                let Some(dst) = node_of(target) else { continue };
                if !reachable[dst as usize] || !in_cycle[dst as usize] {
                    queue.push_back(dst);
                }
                let id = (node, dst, *transition);
                if seen_edges.insert(id, ()).is_some() {
                    continue;
                }
                let key = pair_keys.entry((node, dst)).or_insert(0);
                edges.push(Edge {
                    src: node,
                    dst,
                    key: *key,
                    transition: *transition,
                });
                *key += 1;
            }
        }

        let mut out: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut inbound: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, e) in edges.iter().enumerate() {
            out[e.src as usize].push(i as u32);
            inbound[e.dst as usize].push(i as u32);
        }
        let name_of = |node: NodeId| names[node as usize].as_str();
        for list in &mut out {
            list.sort_by(|a, b| {
                let (a, b) = (&edges[*a as usize], &edges[*b as usize]);
                name_of(a.dst).cmp(name_of(b.dst)).then(a.key.cmp(&b.key))
            });
        }
        for list in &mut inbound {
            list.sort_by(|a, b| {
                name_of(edges[*a as usize].src).cmp(name_of(edges[*b as usize].src))
            });
        }
        let sources = inbound
            .iter()
            .map(|list| {
                let mut s: Vec<NodeId> = list.iter().map(|id| edges[*id as usize].src).collect();
                s.sort_unstable();
                s.dedup();
                s.len() as u32
            })
            .collect();
        let barrier = (0..n)
            .map(|t| {
                spec.tasks
                    .get_index(t)
                    .and_then(|(_, task)| match task.join? {
                        Join::All => Some(Barrier::All),
                        Join::Count(k) => Some(Barrier::Count(k)),
                    })
            })
            .collect::<Vec<_>>();
        let split = (0..n)
            .map(|t| barrier[t].is_none() && prev_count[t] > 1 && !in_cycle[t])
            .collect();
        let mut barrier_succ: Vec<Vec<NodeId>> = vec![Vec::new(); n];
        for e in &edges {
            let list = &mut barrier_succ[e.src as usize];
            if barrier[e.dst as usize].is_some() && !list.contains(&e.dst) {
                list.push(e.dst);
            }
        }
        Graph {
            names,
            index: OnceLock::new(),
            barrier_succ,
            tasks,
            edges,
            out,
            inbound,
            sources,
            barrier,
            retry,
            reachable,
            in_cycle,
            split,
            roots,
        }
    }

    pub fn name(&self, node: NodeId) -> &str {
        &self.names[node as usize]
    }

    pub fn is_command(&self, node: NodeId) -> bool {
        node as usize >= self.tasks
    }

    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.index
            .get_or_init(|| {
                self.names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i as NodeId))
                    .collect()
            })
            .get(name)
            .copied()
    }

    /// The `continue` command node.
    pub fn continue_node(&self) -> NodeId {
        self.tasks as NodeId
    }

    /// How many distinct inbound tasks must be satisfied before the node
    /// runs: `join: all` = all of them, `join: N`, else 1.
    pub fn requirement(&self, node: NodeId) -> u32 {
        match self.barrier[node as usize] {
            Some(Barrier::All) => self.sources[node as usize],
            // Orquesta reads `join: 0` as 1 (`get_barrier(...) or 1`).
            Some(Barrier::Count(0)) | None => 1,
            Some(Barrier::Count(k)) => k,
        }
    }

    pub fn has_barrier(&self, node: NodeId) -> bool {
        self.barrier[node as usize].is_some()
    }
}

/// Orquesta's `in_cycle` (a walk from the task's successors comes back to
/// it), for every node at once: the nodes of a strongly connected component
/// with an edge inside it, found by an iterative Tarjan so that deep chains
/// cannot overflow the stack.
fn cycles(succ: &[Vec<NodeId>]) -> Vec<bool> {
    let n = succ.len();
    let succ: Vec<Vec<usize>> = succ
        .iter()
        .map(|s| s.iter().map(|t| *t as usize).collect())
        .collect();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut in_cycle = vec![false; n];
    let mut next_index = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut child)) = work.last_mut() {
            if let Some(&w) = succ[v].get(*child) {
                *child += 1;
                if index[w] == usize::MAX {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = component.len() > 1 || succ[v].contains(&v);
                for w in component {
                    in_cycle[w] = cyclic;
                }
            }
        }
    }
    in_cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_numbered_per_target_and_commands_are_nodes() {
        let spec = WorkflowSpec::from_yaml(
            "version: 1.0\ntasks:\n  a:\n    next:\n      - when: <% succeeded() %>\n        do: b\n      - when: <% failed() %>\n        do: [b, continue]\n  b: {}\n",
        )
        .unwrap();
        let g = Graph::new(&spec);
        assert_eq!(g.roots, vec![0]);
        let keys: Vec<(String, u32)> = g.out[0]
            .iter()
            .map(|e| {
                (
                    g.name(g.edges[*e as usize].dst).to_string(),
                    g.edges[*e as usize].key,
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![("b".into(), 0), ("b".into(), 1), ("continue".into(), 0)]
        );
        // b has two inbound transitions (from one task): a split.
        assert!(g.split[1]);
    }

    #[test]
    fn finds_cycles() {
        let spec = WorkflowSpec::from_yaml(
            "version: 1.0\ntasks:\n  a:\n    next: [{do: b}]\n  b:\n    next: [{do: c}]\n  c:\n    next: [{when: '<% false %>', do: b}, {do: d}]\n  d: {}\n",
        )
        .unwrap();
        let g = Graph::new(&spec);
        assert_eq!(&g.in_cycle[..4], &[false, true, true, false]);
    }
}
