// The live execution tree as data: a workflow, its tasks (child executions),
// their subworkflows' tasks, to any depth, plus the tasks not reached yet
// (from the workflow's graph). Folded one execution event at a time: each
// event touches one node and its ancestors' counts, never the whole tree.
// No DOM here; ui/tree-view.ts draws it.

import { actionRef, attemptOf, itemIndex, taskName, type Execution, type Status, type WorkflowGraph } from './types';

const COMPLETED: ReadonlySet<NodeStatus> = new Set<NodeStatus>(['succeeded', 'failed', 'timeout', 'canceled', 'abandoned']);
/** Statuses that are a failure to look at. */
export const FAILED: ReadonlySet<NodeStatus> = new Set<NodeStatus>(['failed', 'timeout', 'abandoned']);

/** An execution's status, or `waiting` for a task the workflow has not reached. */
export type NodeStatus = Status | 'waiting';

export interface TreeNode {
  /** The execution id; placeholders: `<workflow id>/~<task>`. */
  readonly key: string;
  execution: Execution | null;
  status: NodeStatus;
  /** Task name in the parent workflow (`context.orquesta.task_name`). */
  task: string | null;
  /** with-items index (`context.orquesta.item_id`). */
  item: number | null;
  /** Retry attempt (`context.orquesta.attempt`), 0 for the first try. */
  attempt: number | null;
  /** Why a task that has no execution failed (it could not start: the workflow's error). */
  error: string | null;
  action: string | null;
  label: string;
  parent: TreeNode | null;
  children: TreeNode[];
  depth: number;
  expanded: boolean;
  /** Descendants by status (not the node itself). */
  counts: Map<NodeStatus, number>;
  /** Bumped on every change the row shows. */
  version: number;
}

function label(task: string | null, item: number | null, action: string | null): string {
  const name = task ?? action?.split('.').slice(1).join('.') ?? action ?? '?';
  return item === null ? name : `${name}[${item}]`;
}

export class TreeModel {
  root: TreeNode | null = null;
  private readonly nodes = new Map<string, TreeNode>();
  /** Executions whose parent has not arrived yet, by parent id. */
  private readonly orphans = new Map<string, Execution[]>();
  /** The flat row list changed: a node was added, removed, expanded or collapsed. */
  structureChanged = true;
  /** How deep nodes start expanded. */
  expandDepth = Number.POSITIVE_INFINITY;
  /** Nodes added or changed since the last `takeTouched()`. */
  private touched: TreeNode[] = [];
  /** Per parent: how many of its children have no execution (not reached, or could not start). */
  private readonly unreached = new Map<TreeNode, number>();
  /** Per parent: where its last child was put (where the next one most likely goes). */
  private readonly lastAt = new Map<TreeNode, number>();
  /** Per parent: the last child with an execution of each task (items and retries go after it). */
  private readonly lastOfTask = new Map<TreeNode, Map<string, TreeNode>>();

  /** The nodes added or changed since the last call (adopted orphans included). */
  takeTouched(): TreeNode[] {
    const out = this.touched;
    this.touched = [];
    return out;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(key: string): TreeNode | undefined {
    return this.nodes.get(key);
  }

  /** Starts over with `root` (the execution shown) and what is known below it. */
  reset(root: Execution, descendants: Execution[] = []): void {
    this.nodes.clear();
    this.orphans.clear();
    this.unreached.clear();
    this.lastAt.clear();
    this.lastOfTask.clear();
    this.touched = [];
    this.root = this.makeNode(root, null);
    this.touched.push(this.root);
    this.nodes.set(root.id, this.root);
    // Parents before children whatever the order given.
    for (const execution of descendants) this.apply(execution);
    this.structureChanged = true;
  }

  /** Folds one execution change in; returns the node it touched (if it belongs to this tree). */
  apply(execution: Execution): TreeNode | null {
    const known = this.nodes.get(execution.id);
    if (known) {
      this.update(known, execution);
      this.touched.push(known);
      return known;
    }
    if (!execution.parent) return null;
    const parent = this.nodes.get(execution.parent);
    if (!parent) {
      // Its parent may still come (events of a subtree arrive parent first,
      // but a snapshot may not be ordered). Kept only while the tree is shown.
      const waiting = this.orphans.get(execution.parent);
      if (waiting) {
        const i = waiting.findIndex((e) => e.id === execution.id);
        if (i >= 0) waiting[i] = execution;
        else waiting.push(execution);
      } else this.orphans.set(execution.parent, [execution]);
      return null;
    }
    const node = this.makeNode(execution, parent);
    this.insert(parent, node);
    this.touched.push(node);
    const adopted = this.orphans.get(execution.id);
    if (adopted) {
      this.orphans.delete(execution.id);
      for (const child of adopted) this.apply(child);
    }
    return node;
  }

  /** Shows the workflow's tasks not reached yet, greyed, in definition order. */
  setGraph(workflowId: string, graph: WorkflowGraph): void {
    const workflow = this.nodes.get(workflowId);
    if (!workflow) return;
    const present = new Set(workflow.children.map((c) => c.task));
    for (const task of graph.tasks) {
      const key = `${workflowId}/~${task.name}`;
      if (this.nodes.has(key) || present.has(task.name)) continue;
      const node: TreeNode = {
        key,
        execution: null,
        status: 'waiting',
        task: task.name,
        item: null,
        attempt: null,
        error: null,
        action: task.action,
        label: task.name,
        parent: workflow,
        children: [],
        depth: workflow.depth + 1,
        expanded: false,
        counts: new Map(),
        version: 0,
      };
      this.nodes.set(key, node);
      workflow.children.push(node);
      this.unreached.set(workflow, (this.unreached.get(workflow) ?? 0) + 1);
      this.adjustCounts(workflow, 'waiting', 1);
      this.structureChanged = true;
    }
  }

  /**
   * A task of `workflowId` failed without an execution (its action could
   * not start: the workflow's `errors` name it): shown failed with `message`,
   * never as not reached.
   */
  failTask(workflowId: string, task: string, message: string): void {
    const workflow = this.nodes.get(workflowId);
    if (!workflow || workflow.children.some((c) => c.task === task && c.execution)) return;
    const key = `${workflowId}/~${task}`;
    let node = this.nodes.get(key);
    if (!node) {
      node = {
        key,
        execution: null,
        status: 'waiting',
        task,
        item: null,
        attempt: null,
        error: null,
        action: null,
        label: task,
        parent: workflow,
        children: [],
        depth: workflow.depth + 1,
        expanded: false,
        counts: new Map(),
        version: 0,
      };
      this.nodes.set(key, node);
      workflow.children.push(node);
      this.unreached.set(workflow, (this.unreached.get(workflow) ?? 0) + 1);
      this.adjustCounts(workflow, 'waiting', 1);
      this.structureChanged = true;
    }
    if (node.status !== 'failed') {
      this.adjustCounts(workflow, node.status, -1);
      this.adjustCounts(workflow, 'failed', 1);
      node.status = 'failed';
    }
    node.error = message;
    node.version++;
  }

  /**
   * Where `top`'s subtree failed: of the failed nodes with no failed node
   * below them, the one that ended first (tasks that could not start count
   * as ending with their workflow). Null when nothing below failed.
   */
  firstFailure(top: TreeNode | null = this.root): TreeNode | null {
    if (!top) return null;
    let best: TreeNode | null = null;
    let bestEnd = Number.POSITIVE_INFINITY;
    const stack: TreeNode[] = [top];
    while (stack.length > 0) {
      const node = stack.pop() as TreeNode;
      let failedBelow = false;
      for (let i = node.children.length - 1; i >= 0; i--) {
        const child = node.children[i] as TreeNode;
        if (FAILED.has(child.status) || child.counts.has('failed') || child.counts.has('timeout') || child.counts.has('abandoned')) {
          failedBelow = true;
          stack.push(child);
        }
      }
      if (failedBelow || !FAILED.has(node.status) || node === top) continue;
      const endOf = (n: TreeNode | null): number => {
        for (let at = n; at; at = at.parent) {
          const t = at.execution?.end_timestamp ? Date.parse(at.execution.end_timestamp) : NaN;
          if (!Number.isNaN(t)) return t;
        }
        return Number.POSITIVE_INFINITY;
      };
      const end = endOf(node);
      if (best === null || end < bestEnd) {
        best = node;
        bestEnd = end;
      }
    }
    if (best === null && FAILED.has(top.status) && top.children.length === 0) return top;
    return best;
  }

  toggle(node: TreeNode, expanded = !node.expanded): void {
    if (node.children.length === 0 || node.expanded === expanded) return;
    node.expanded = expanded;
    node.version++;
    this.structureChanged = true;
  }

  /** The rows to draw: every node whose ancestors are all expanded, depth first. */
  visible(): TreeNode[] {
    const rows: TreeNode[] = [];
    if (!this.root) return rows;
    const stack: TreeNode[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop() as TreeNode;
      rows.push(node);
      if (node.expanded) {
        for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as TreeNode);
      }
    }
    return rows;
  }

  /** The node and everything below it, depth first. */
  subtree(node: TreeNode): TreeNode[] {
    const out: TreeNode[] = [];
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop() as TreeNode;
      out.push(n);
      for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i] as TreeNode);
    }
    return out;
  }

  /** `deploy > hosts[2] > restart`: the labels from the root down to `node`. */
  path(node: TreeNode): string {
    const parts: string[] = [];
    for (let n: TreeNode | null = node; n; n = n.parent) {
      // The root by its action's name, without the pack: `deploy`, not `ops.deploy`.
      parts.push(n.parent ? n.label : n.label.slice(n.label.indexOf('.') + 1));
    }
    return parts.reverse().join(' > ');
  }

  private makeNode(execution: Execution, parent: TreeNode | null): TreeNode {
    const task = taskName(execution);
    const item = itemIndex(execution);
    const depth = parent ? parent.depth + 1 : 0;
    return {
      key: execution.id,
      execution,
      status: execution.status,
      task,
      item,
      attempt: attemptOf(execution),
      error: null,
      action: actionRef(execution),
      label: parent ? label(task, item, actionRef(execution)) : actionRef(execution),
      parent,
      children: [],
      depth,
      expanded: depth < this.expandDepth,
      counts: new Map(),
      version: 0,
    };
  }

  /**
   * Where `target` is among `siblings`, searched outwards from `hint` (the
   * last place a child went): a task after the previous one, an item after
   * the previous item, found in a step or two however many siblings.
   */
  private static near(siblings: TreeNode[], hint: number, found: (n: TreeNode) => boolean): number {
    const n = siblings.length;
    const from = Math.min(Math.max(hint, 0), n - 1);
    for (let d = 0; d < n; d++) {
      const up = from + d;
      const down = from - d - 1;
      if (up < n && found(siblings[up] as TreeNode)) return up;
      if (down >= 0 && found(siblings[down] as TreeNode)) return down;
      if (up >= n && down < 0) break;
    }
    return -1;
  }

  private insert(parent: TreeNode, node: TreeNode): void {
    const siblings = parent.children;
    const hint = this.lastAt.get(parent) ?? siblings.length - 1;
    let at = -1;
    // After the last sibling of the same task (with-items, retries); items
    // mostly arrive in order, so the search around the last insertion stops early.
    let ofTask = this.lastOfTask.get(parent);
    const previous = node.task === null ? undefined : ofTask?.get(node.task);
    if (previous) {
      const last = TreeModel.near(siblings, hint, (s) => s === previous);
      if (last >= 0) {
        at = last + 1;
        while (at < siblings.length && (siblings[at] as TreeNode).task === node.task && (siblings[at] as TreeNode).execution !== null) at++;
      }
    }
    if (at < 0) {
      const placeholder = node.task === null ? undefined : this.nodes.get(`${parent.key}/~${node.task}`);
      if (placeholder) {
        // The task was reached: it takes its place in definition order.
        at = TreeModel.near(siblings, hint + 1, (s) => s === placeholder);
        // In its place (the array does not move).
        siblings[at] = node;
        this.nodes.delete(placeholder.key);
        this.unreached.set(parent, (this.unreached.get(parent) ?? 1) - 1);
        this.adjustCounts(parent, 'waiting', -1);
      } else if ((this.unreached.get(parent) ?? 0) === 0) {
        at = siblings.length;
      } else {
        // Reached tasks before the ones not reached yet.
        at = siblings.findIndex((s) => s.execution === null);
        if (at < 0) at = siblings.length;
      }
    }
    if (siblings[at] !== node) {
      if (at === siblings.length) siblings.push(node);
      else siblings.splice(at, 0, node);
    }
    this.lastAt.set(parent, at);
    if (node.task !== null && node.execution) {
      if (!ofTask) {
        ofTask = new Map();
        this.lastOfTask.set(parent, ofTask);
      }
      ofTask.set(node.task, node);
    }
    this.nodes.set(node.key, node);
    this.adjustCounts(parent, node.status, 1);
    this.structureChanged = true;
  }

  private update(node: TreeNode, execution: Execution): void {
    const before = node.status;
    // A stale record (read before the completion arrived) never undoes it.
    if (node.execution && COMPLETED.has(before) && !COMPLETED.has(execution.status)) return;
    node.execution = execution;
    node.status = execution.status;
    node.version++;
    if (before !== execution.status && node.parent) {
      this.adjustCounts(node.parent, before, -1);
      this.adjustCounts(node.parent, execution.status, 1);
    }
  }

  /** Adds `delta` to `status` in the counts of `from` and every ancestor. */
  private adjustCounts(from: TreeNode, status: NodeStatus, delta: number): void {
    for (let n: TreeNode | null = from; n; n = n.parent) {
      const next = (n.counts.get(status) ?? 0) + delta;
      if (next === 0) n.counts.delete(status);
      else n.counts.set(status, next);
      n.version++;
    }
  }
}
