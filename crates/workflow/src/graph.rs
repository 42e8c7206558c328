//! Facts about the task graph computed once per spec: inbound edges (for
//! start tasks, joins and splits), cycles, and resolved transition targets,
//! so the conductor never rescans the spec while conducting.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::spec::{Join, WorkflowSpec};

/// A resolved entry of a transition's `do`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Task(usize),
    Continue,
    Fail,
    Noop,
    Retry,
    /// A name that is neither a task nor a command (reported by inspection).
    Undefined,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Graph {
    /// `targets[task][transition]`.
    pub targets: Vec<Vec<Vec<Target>>>,
    /// Inbound edges per task, one per (source task, transition).
    pub inbound_edges: Vec<u32>,
    /// Distinct inbound source tasks per task.
    pub inbound_sources: Vec<u32>,
    pub in_cycle: Vec<bool>,
    /// Tasks without inbound edges, in definition order.
    pub starts: Vec<usize>,
}

impl Graph {
    pub fn new(spec: &WorkflowSpec) -> Graph {
        let n = spec.tasks.len();
        let mut targets = Vec::with_capacity(n);
        let mut inbound_edges = vec![0u32; n];
        let mut sources: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (src, task) in spec.tasks.values().enumerate() {
            let mut per_task = Vec::with_capacity(task.next.len());
            for transition in &task.next {
                let mut resolved: Vec<Target> = Vec::with_capacity(transition.targets.len());
                let mut seen = BTreeSet::new();
                for name in &transition.targets {
                    let target = match name.as_str() {
                        "continue" => Target::Continue,
                        "fail" => Target::Fail,
                        "noop" => Target::Noop,
                        "retry" => Target::Retry,
                        _ => spec
                            .tasks
                            .get_index_of(name)
                            .map_or(Target::Undefined, Target::Task),
                    };
                    if let Target::Task(t) = target {
                        // A task named twice in one `do` is one edge.
                        if !seen.insert(t) {
                            continue;
                        }
                        inbound_edges[t] += 1;
                        // Sources are visited in order, so a repeat is the last one.
                        if sources[t].last() != Some(&src) {
                            sources[t].push(src);
                        }
                    }
                    resolved.push(target);
                }
                per_task.push(resolved);
            }
            targets.push(per_task);
        }
        let in_cycle = cycles(&targets);
        let starts = (0..n).filter(|t| inbound_edges[*t] == 0).collect();
        Graph {
            targets,
            inbound_edges,
            inbound_sources: sources.iter().map(|s| s.len() as u32).collect(),
            in_cycle,
            starts,
        }
    }

    /// Successor tasks of a task, over all transitions.
    pub fn successors(&self, task: usize) -> impl Iterator<Item = usize> + '_ {
        self.targets[task].iter().flatten().filter_map(|t| match t {
            Target::Task(t) => Some(*t),
            _ => None,
        })
    }

    /// How many distinct inbound tasks must arrive before a join runs.
    pub fn join_requirement(&self, spec: &WorkflowSpec, task: usize) -> Option<u32> {
        match spec.tasks[task].join? {
            Join::All => Some(self.inbound_sources[task]),
            Join::Count(n) => Some(n),
        }
    }

    /// A task reached by more than one edge without a join runs once per
    /// inbound branch, each on its own route (Orquesta's split).
    pub fn is_split(&self, spec: &WorkflowSpec, task: usize) -> bool {
        spec.tasks[task].join.is_none() && self.inbound_edges[task] > 1 && !self.in_cycle[task]
    }
}

/// Tasks on a cycle (in a strongly connected component with an edge inside
/// it), by an iterative Tarjan so deep chains cannot overflow the stack.
fn cycles(targets: &[Vec<Vec<Target>>]) -> Vec<bool> {
    let n = targets.len();
    let succ: Vec<Vec<usize>> = targets
        .iter()
        .map(|ts| {
            ts.iter()
                .flatten()
                .filter_map(|t| match t {
                    Target::Task(t) => Some(*t),
                    _ => None,
                })
                .collect()
        })
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
    fn finds_cycles_and_starts() {
        let spec = WorkflowSpec::from_yaml(
            "version: 1.0\ntasks:\n  a:\n    next: [{do: b}]\n  b:\n    next: [{do: c}]\n  c:\n    next: [{when: '<% false %>', do: b}, {do: d}]\n  d: {}\n",
        )
        .unwrap();
        let g = Graph::new(&spec);
        assert_eq!(g.starts, vec![0]);
        assert_eq!(g.in_cycle, vec![false, true, true, false]);
    }
}
