// One execution, live, in two panes: the header (execution-header.ts: what,
// who, when, how long, where and why it failed, the buttons), for a
// workflow its task tree at full height on the left (tree-view.ts), and the
// selected node's details on the right (node-details.ts: Output | Result |
// Parameters | Timeline). A tree that waits for a response (a pending
// Inquiry, `core.ask`) says so under the header, with a link to each task
// that asks; the first one is selected, so its form is in view.
//
// Records come from events and from answers in any order; the page's
// ExecutionCache keeps the newest of each, so a run whose events arrive
// before the answer that started it (a run that ends within milliseconds)
// is shown as it is, not as it was.

import { BackendError, type Backend } from '../lib/backend';
import type { ExecutionCache } from '../lib/executions';
import { summarizeFailure, type FailureSummary } from '../lib/failure';
import type { OutputHub } from '../lib/output-hub';
import { onZoneChange } from '../lib/time';
import type { TreeNode } from '../lib/tree';
import { isCompleted, isPendingInquiry, isWorkflow, type Execution } from '../lib/types';
import { h } from './dom';
import { executionHeader } from './execution-header';
import { nodeDetails } from './node-details';
import { treeView } from './tree-view';

export { revisionText, statusBadge } from './execution-header';

export interface ExecutionView {
  readonly element: HTMLElement;
  /** The root execution shown. */
  readonly current: Execution | null;
  /** Shows `execution` (and, for a workflow, its tree) and follows it live. */
  follow(execution: Execution): void;
  /** Loads and shows an execution by id. */
  open(id: string): Promise<void>;
  /** A record from the event stream (or any answer). */
  update(execution: Execution): void;
  /** Refetches what is shown (after missed events). */
  refresh(): void;
  cancel(): void;
  /** Pauses a running workflow, resumes a paused one. */
  togglePause(): void;
  reRun(): void;
  /** Where the header's back link goes (History with its filters), or none. */
  setBack(hash: string | null): void;
}

export function executionView(
  backend: Backend,
  hub: OutputHub,
  cache: ExecutionCache,
  onReRun: (execution: Execution) => void,
  /** For benchmarks: called after each frame's tree update (events applied, ms spent). */
  onFlush?: (applied: number, ms: number) => void,
): ExecutionView {
  let root: Execution | null = null;
  const members = new Set<string>();
  const graphsAsked = new Set<string>();
  let loadToken = 0;
  let back: string | null = null;
  /** The tree has been loaded (descendants read) for this root. */
  let treeLoaded = false;
  /** The operator picked a node: a failure no longer moves the selection. */
  let picked = false;
  /** Failures already opened, by root id. */
  const failureShown = new Set<string>();
  /**
   * An execution being opened whose record has not answered yet: the
   * records that come meanwhile (its tasks may start and end before the
   * answer, after the tree's read), folded in once it is shown.
   */
  let opening: { id: string; records: Execution[] } | null = null;

  const header = executionHeader({
    cancel: () => (root ? backend.cancel(root.id).then(apply) : Promise.resolve()),
    pause: () => (root ? backend.pause(root.id).then(apply) : Promise.resolve()),
    resume: () => (root ? backend.resume(root.id).then(apply) : Promise.resolve()),
    reRun: () => {
      if (root) onReRun(root);
    },
    showFailure: (summary) => {
      if (summary.node) select(summary.node.key);
    },
    back: () => back,
  });
  const tree = treeView({
    onSelect: (node) => {
      picked = true;
      showNode(node);
    },
    onApplied: (nodes) => applied(nodes),
    onFlush,
  });
  const details = nodeDetails(backend, hub, tree.model, { select: (node) => select(node.key) });
  const treePane = h('section', { class: 'tree-pane', 'aria-label': 'Tasks' }, tree.element);
  const panes = h('div', { class: 'panes' }, treePane, details.element);
  const askingNote = h('div', { class: 'asking', role: 'status', hidden: true });
  const element = h('section', { class: 'execution', hidden: true, 'aria-label': 'Execution' }, header.element, header.failure, askingNote, panes);
  /** Pending Inquiries in the tree, by execution id. */
  const asking = new Map<string, TreeNode>();
  /** Inquiries already brought into view, by id. */
  const askingShown = new Set<string>();

  /** The run whose opening failed, opened again by the next refresh. */
  let failedOpen: string | null = null;

  function showError(error: unknown): void {
    header.showError(BackendError.from(error).message);
  }

  function select(key: string): void {
    tree.select(key);
  }

  function showNode(node: TreeNode): void {
    details.show(node, node === tree.model.root);
  }

  function setTreeShown(shown: boolean): void {
    element.classList.toggle('has-tree', shown);
    treePane.hidden = !shown;
  }

  function hasTree(execution: Execution): boolean {
    return isWorkflow(execution) || execution.children.length > 0;
  }

  /** Records the tree took in: workflows' errors for tasks that never started, output completions, failure. */
  function applied(nodes: TreeNode[]): void {
    let structure = false;
    for (const node of nodes) {
      const e = node.execution;
      if (!e || !isCompleted(e.status)) continue;
      if (isWorkflow(e)) structure = markUnstarted(node, e) || structure;
    }
    if (structure) tree.redraw();
    details.treeChanged(nodes);
    updateFailure();
    updateAsking(nodes);
  }

  /** The note under the header: which tasks wait for a response (each a link that selects it). */
  function updateAsking(nodes: TreeNode[]): void {
    let changed = false;
    for (const node of nodes) {
      const e = node.execution;
      if (e?.runner.name !== 'inquirer') continue;
      if (isPendingInquiry(e)) changed = !asking.has(node.key) || changed;
      else changed = asking.has(node.key) || changed;
      if (isPendingInquiry(e)) asking.set(node.key, node);
      else asking.delete(node.key);
    }
    if (changed) drawAsking();
    // The first question asked comes into view once, unless the operator picked a node.
    const first = [...asking.values()][0];
    if (first && treeLoaded && !picked && !askingShown.has(first.key)) {
      askingShown.add(first.key);
      if (first !== tree.model.root) tree.select(first.key);
    }
  }

  function drawAsking(): void {
    askingNote.hidden = asking.size === 0;
    askingNote.replaceChildren();
    if (asking.size === 0) return;
    const links = [...asking.values()].map((node) =>
      node === tree.model.root
        ? null
        : h('button', { type: 'button', class: 'link', 'data-key': node.key, onClick: () => select(node.key) }, tree.model.path(node)),
    );
    askingNote.append(
      h('strong', {}, 'Waiting for a response'),
      links.some((l) => l) ? ' at ' : '',
      ...links.flatMap((l, i) => (l ? (i > 0 ? [', ', l] : [l]) : [])),
      '.',
    );
  }

  /** A task the workflow's errors name that has no execution could not start: shown failed. */
  function markUnstarted(node: TreeNode, workflow: Execution): boolean {
    const result = workflow.result as { errors?: unknown } | undefined;
    const errors = Array.isArray(result?.errors) ? (result?.errors as Record<string, unknown>[]) : [];
    let changed = false;
    for (const error of errors) {
      const task = typeof error?.['task_id'] === 'string' ? (error['task_id'] as string) : null;
      if (!task || node.children.some((c) => c.task === task && c.execution)) continue;
      // Orquesta's message is generic ("Execution failed. See result for
      // details."); the reason is in the entry's result.
      const detail = error['result'] as { error?: unknown } | undefined;
      const message =
        typeof detail?.error === 'string' ? detail.error : typeof error['message'] === 'string' ? (error['message'] as string) : JSON.stringify(error);
      tree.model.failTask(node.key, task, message);
      changed = true;
    }
    return changed;
  }

  function updateFailure(): void {
    if (!root) return;
    const summary: FailureSummary | null = summarizeFailure(tree.model, root);
    header.setFailure(summary);
    // The tree opens on the first failure, once, unless the operator picked a node.
    if (summary?.node && treeLoaded && !picked && !failureShown.has(root.id) && summary.node !== tree.model.root) {
      failureShown.add(root.id);
      tree.select(summary.node.key);
    }
  }

  function apply(incoming: Execution): void {
    if (opening && root?.id !== opening.id) {
      opening.records.push(incoming);
      return;
    }
    if (!root) return;
    const execution = cache.put(incoming);
    if (isCompleted(execution.status)) hub.completed(execution.id);
    if (execution.id === root.id) {
      const before = root;
      root = execution;
      if (before.status !== execution.status || before !== execution) header.render(execution);
      if (hasTree(execution)) setTreeShown(true);
      if (isCompleted(execution.status)) updateFailure();
    }
    const parent = execution.parent;
    if (members.has(execution.id) || (parent !== undefined && (members.has(parent) || tree.model.get(parent) !== undefined))) {
      members.add(execution.id);
      tree.apply(execution);
      if (isWorkflow(execution)) askGraph(execution.id);
      if (execution.parent !== undefined) setTreeShown(true);
      details.refresh(execution);
    } else if (!treeLoaded && execution.parent !== undefined && hasTree(root)) {
      // Perhaps a task of a subworkflow the tree's read has not brought yet
      // (created after that read, arrived before its answer): the tree
      // keeps it aside until its parent comes.
      tree.apply(execution);
    }
  }

  function askGraph(id: string): void {
    if (graphsAsked.has(id)) return;
    graphsAsked.add(id);
    const token = loadToken;
    void backend.graph(id).then((graph) => {
      if (graph && token === loadToken) tree.setGraph(id, graph);
    });
  }

  function reset(execution: Execution): void {
    if (opening && opening.id !== execution.id) opening = null;
    loadToken++;
    root = cache.put(execution);
    members.clear();
    members.add(root.id);
    asking.clear();
    askingNote.hidden = true;
    askingNote.replaceChildren();
    graphsAsked.clear();
    treeLoaded = false;
    picked = false;
    element.hidden = false;
    header.hideError();
    header.setFailure(null);
    setTreeShown(hasTree(root));
    header.render(root);
    tree.reset(root);
    tree.flush();
    const node = tree.model.root;
    if (node) showNode(node);
  }

  /** Reads the tree below `execution` (`early`: the same read, already on its way). */
  async function loadTree(execution: Execution, early?: Promise<Execution[]>): Promise<void> {
    const token = loadToken;
    if (!hasTree(execution)) {
      treeLoaded = true;
      return;
    }
    askGraph(execution.id);
    try {
      const all = await (early ?? backend.descendants(execution.id));
      if (token !== loadToken) return;
      for (const e of all) members.add(e.id);
      for (const e of all) tree.apply(cache.put(e));
      for (const e of all) if (isWorkflow(e)) askGraph(e.id);
      treeLoaded = true;
      tree.flush();
      updateFailure();
    } catch (error) {
      if (token === loadToken) showError(error);
    }
  }

  // The header's clock; the tree ticks its own rows.
  window.setInterval(() => {
    if (root && !isCompleted(root.status)) header.tick();
  }, 250);
  onZoneChange(() => {
    if (root) header.render(root);
    const node = details.node;
    if (node) details.show(node, node === tree.model.root);
  });

  return {
    element,
    get current() {
      return root;
    },
    follow(execution) {
      reset(execution);
      void loadTree(root ?? execution);
      // Events may have come before the run's id was known here.
      backend.getExecution(execution.id).then(apply, () => {});
      element.scrollIntoView({ block: 'nearest' });
    },
    async open(id) {
      failedOpen = null;
      try {
        const known = cache.get(id);
        if (known) reset(known);
        else opening = { id, records: [] };
        // The tree's read goes with the record's, not after it: a run opens
        // in one round trip (and never waits for the catalogue).
        const early = backend.descendants(id);
        early.catch(() => {});
        const execution = await backend.getExecution(id);
        const meanwhile = opening?.id === id ? opening.records : [];
        if (opening?.id === id) opening = null;
        if (!known || root?.id !== id) reset(execution);
        else apply(execution);
        for (const record of meanwhile) apply(record);
        await loadTree(root ?? execution, root?.id === id ? early : undefined);
      } catch (error) {
        if (opening?.id === id) opening = null;
        failedOpen = id;
        element.hidden = false;
        showError(error);
      }
    },
    update: apply,
    refresh() {
      // A run that could not open (the engine was away) opens now.
      if (failedOpen !== null && failedOpen !== root?.id) {
        void this.open(failedOpen);
        return;
      }
      if (!root) return;
      const id = root.id;
      hub.resync();
      backend.getExecution(id).then((e) => {
        apply(e);
        return loadTree(e);
      }, showError);
    },
    cancel() {
      if (root && !isCompleted(root.status)) backend.cancel(root.id).then(apply, showError);
    },
    togglePause() {
      if (!root || !isWorkflow(root)) return;
      if (root.status === 'running') backend.pause(root.id).then(apply, showError);
      else if (root.status === 'paused' || root.status === 'pausing') backend.resume(root.id).then(apply, showError);
    },
    reRun() {
      if (root) onReRun(root);
    },
    setBack(hash) {
      back = hash;
      if (root) header.render(root);
    },
  };
}
