// One execution, live: header (status, timing, revision, cancel / pause /
// resume / re-run), for workflows the task tree (ui/tree-view.ts) and, for
// the selected node, its parameters, result, own output and the combined
// output of its subtree.

import { BackendError, type Backend, type OutputFollow } from '../lib/backend';
import type { TreeNode } from '../lib/tree';
import { actionRef, commitOf, contentVersion, isCompleted, isWorkflow, type Execution, type OutputChunk, type Status } from '../lib/types';
import { append, clear, h } from './dom';
import { outputPane } from './output-pane';
import { resultView } from './result-view';
import { elapsed, formatDuration, statusIcon, statusTone, treeView } from './tree-view';

export interface ExecutionView {
  readonly element: HTMLElement;
  /** The root execution shown. */
  readonly current: Execution | null;
  /** Shows `execution` (and, for a workflow, its tree) and follows it live. */
  follow(execution: Execution): void;
  /** Loads and shows an execution by id. */
  open(id: string): Promise<void>;
  /** An update from the event stream. */
  update(execution: Execution): void;
  /** An output chunk from the event stream (feeds the combined tail). */
  output(executionId: string, chunk: OutputChunk): void;
  /** Refetches what is shown (after missed events). */
  refresh(): void;
  cancel(): void;
  /** Pauses a running workflow, resumes a paused one. */
  togglePause(): void;
  reRun(): void;
}

export function statusBadge(status: Status): HTMLElement {
  return h('span', { class: `badge ${statusTone(status)}`, 'data-status': status }, status);
}

/** `v1.2.0 → 1a2b3c4`: the revision asked for and the commit it resolved to. */
export function revisionText(execution: Execution): string {
  const sha = commitOf(execution);
  const rev = contentVersion(execution);
  const commit = sha ? sha.slice(0, 7) : '';
  if (rev && commit && !sha?.startsWith(rev)) {
    return `${rev} → ${commit}`;
  }
  return rev || commit;
}

export function executionView(backend: Backend, onReRun: (execution: Execution) => void): ExecutionView {
  let root: Execution | null = null;
  /** Every execution id of the tree shown, to route events without a lookup per node. */
  const members = new Set<string>();
  const graphsAsked = new Set<string>();
  let selected: TreeNode | null = null;
  let selectedVersion = '';
  let own: OutputFollow | null = null;
  /** Per execution: the next output seq the combined tail expects. */
  const combinedSeq = new Map<string, number>();
  let combinedFor: string | null = null;
  let loadToken = 0;

  const header = h('div', { class: 'execution-header' });
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const tree = treeView({ onSelect: (node) => selectNode(node) });
  const treeSection = h('section', { class: 'tree-section', hidden: true, 'aria-label': 'Tasks' }, tree.element);
  const detailTitle = h('h2', { class: 'detail-title' });
  const detailFacts = h('div', { class: 'facts' });
  const parameters = h('div', { class: 'parameters' });
  const result = h('div', { class: 'result', 'aria-label': 'Result' });
  const ownOutput = outputPane('Output', false);
  const combined = outputPane('Combined output', true);
  const combinedSection = h('div', { class: 'combined-section', hidden: true }, h('h3', {}, 'Output of every task below'), combined.element);
  const details = h(
    'section',
    { class: 'details', 'aria-label': 'Selected' },
    detailTitle,
    detailFacts,
    h('h3', {}, 'Parameters'),
    parameters,
    h('h3', {}, 'Output'),
    ownOutput.element,
    combinedSection,
    h('h3', {}, 'Result'),
    result,
  );
  const element = h('section', { class: 'execution', hidden: true, 'aria-label': 'Execution' }, header, message, treeSection, details);

  function showError(error: unknown): void {
    message.textContent = BackendError.from(error).message;
    message.hidden = false;
  }

  function button(label: string, title: string, action: () => Promise<unknown>): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'secondary', title, 'data-action': label.toLowerCase() }, label);
    b.addEventListener('click', () => {
      b.disabled = true;
      message.hidden = true;
      action()
        .catch(showError)
        .finally(() => {
          b.disabled = false;
        });
    });
    return b;
  }

  function renderHeader(execution: Execution): void {
    clear(header);
    const done = isCompleted(execution.status);
    const workflow = isWorkflow(execution);
    const revision = revisionText(execution);
    append(header, [
      statusBadge(execution.status),
      h('strong', { class: 'execution-action' }, actionRef(execution)),
      h('code', { class: 'execution-id', title: 'Execution id' }, execution.id),
      revision ? h('code', { class: 'revision', title: `revision ${contentVersion(execution) ?? '(current)'}, commit ${commitOf(execution) ?? '?'}` }, revision) : null,
      h('span', { class: 'muted timing', 'data-timing': '' }, timing(execution)),
      h(
        'span',
        { class: 'buttons' },
        done ? null : button('Cancel', 'Cancel (c)', () => backend.cancel(execution.id).then(apply)),
        workflow && (execution.status === 'running' || execution.status === 'resuming')
          ? button('Pause', 'Pause (p)', () => backend.pause(execution.id).then(apply))
          : null,
        workflow && (execution.status === 'paused' || execution.status === 'pausing')
          ? button('Resume', 'Resume (p)', () => backend.resume(execution.id).then(apply))
          : null,
        button('Re-run', 'Re-run with the same parameters, editable (r)', async () => onReRun(execution)),
      ),
    ]);
  }

  function apply(execution: Execution): void {
    if (!root) return;
    // A record read before the completion event arrived must not undo it.
    if (execution.id === root.id && isCompleted(root.status) && !isCompleted(execution.status)) return;
    if (execution.id === root.id) {
      const changed = execution.status !== root.status;
      root = execution;
      if (changed || header.childElementCount === 0) renderHeader(execution);
      else updateTiming();
    }
    if (members.has(execution.id) || (execution.parent !== undefined && members.has(execution.parent))) {
      members.add(execution.id);
      tree.apply(execution);
      if (isWorkflow(execution)) askGraph(execution.id);
      if (execution.children.length > 0 || execution.parent !== undefined) treeSection.hidden = false;
      if (selected && selected.key === execution.id) {
        // The node object is updated with the tree's next frame; draw from the event.
        renderDetails(selected, execution);
      }
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

  function updateTiming(): void {
    const el = header.querySelector<HTMLElement>('[data-timing]');
    if (el && root) el.textContent = timing(root);
  }

  function selectNode(node: TreeNode): void {
    selected = node;
    renderDetails(node, node.execution);
  }

  function renderDetails(node: TreeNode, execution: Execution | null): void {
    const version = `${node.key}:${execution?.status ?? node.status}:${execution?.end_timestamp ?? ''}`;
    const sameNode = selectedVersion.startsWith(`${node.key}:`);
    if (version === selectedVersion) return;
    selectedVersion = version;
    detailTitle.textContent = tree.model.path(node);
    clear(detailFacts);
    if (!execution) {
      append(detailFacts, [h('span', { class: 'muted' }, `Not reached yet${node.action ? ` · ${node.action}` : ''}`)]);
      clear(parameters);
      clear(result);
      own?.stop();
      own = null;
      ownOutput.clear();
      combinedSection.hidden = true;
      return;
    }
    const seconds = elapsed(execution);
    append(detailFacts, [
      h('span', { class: `icon ${statusTone(execution.status)}` }, statusIcon(execution.status)),
      h('span', {}, execution.status),
      h('span', { class: 'muted' }, actionRef(execution)),
      node.item !== null ? h('span', { class: 'muted' }, `item ${node.item}`) : null,
      commitOf(execution) ? h('code', { class: 'commit', title: commitOf(execution) ?? '' }, (commitOf(execution) ?? '').slice(0, 7)) : null,
      seconds !== null ? h('span', { class: 'muted' }, formatDuration(seconds, true)) : null,
      node.depth > 0 ? h('code', { class: 'muted' }, execution.id) : null,
    ]);
    clear(parameters);
    const entries = Object.entries(execution.parameters ?? {});
    parameters.append(
      entries.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : h(
            'table',
            { class: 'kv' },
            entries.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, h('code', {}, typeof v === 'string' ? v : JSON.stringify(v))))),
          ),
    );
    clear(result);
    if (isCompleted(execution.status)) result.append(resultView(execution));
    else result.append(h('p', { class: 'muted pending' }, 'Running…'));
    if (!sameNode) {
      own?.stop();
      ownOutput.clear();
      const follow = backend.followOutput(execution.id, (chunk) => ownOutput.push(execution.id, chunk));
      own = follow;
      // The completed record, in case its event came before this view knew the execution.
      follow.done.then((done) => {
        if (own === follow) apply(done);
      }, () => {});
      startCombined(node);
    }
  }

  function inSubtree(node: TreeNode | undefined, top: TreeNode): boolean {
    for (let n = node ?? null; n; n = n.parent) if (n === top) return true;
    return false;
  }

  function startCombined(node: TreeNode): void {
    combined.clear();
    combinedSeq.clear();
    const hasTasks = node.children.length > 0 || (node.execution !== null && isWorkflow(node.execution));
    combinedSection.hidden = !hasTasks;
    combinedFor = hasTasks ? node.key : null;
    if (!hasTasks) return;
    // The backlog of the tasks that already ran, oldest first; live chunks follow.
    const nodes = tree.model
      .subtree(node)
      .filter((n) => n !== node && n.execution && n.children.length === 0)
      .slice(0, 100);
    const key = node.key;
    void Promise.all(nodes.map((n) => backend.output(n.key).then((chunks) => ({ n, chunks }), () => ({ n, chunks: [] as OutputChunk[] })))).then(
      (all) => {
        if (combinedFor !== key) return;
        const lines = all.flatMap(({ n, chunks }) => chunks.map((chunk) => ({ n, chunk })));
        lines.sort((a, b) => a.chunk.timestamp.localeCompare(b.chunk.timestamp) || a.chunk.seq - b.chunk.seq);
        for (const { n, chunk } of lines) pushCombined(n, chunk);
        for (const { n } of all) if (n.execution && isCompleted(n.execution.status)) combined.end(n.key, tree.model.path(n));
      },
    );
  }

  function pushCombined(node: TreeNode, chunk: OutputChunk): void {
    const next = combinedSeq.get(node.key) ?? 0;
    if (chunk.seq < next) return;
    combinedSeq.set(node.key, chunk.seq + 1);
    combined.push(node.key, chunk, tree.model.path(node));
  }

  function reset(execution: Execution): void {
    loadToken++;
    root = execution;
    members.clear();
    members.add(execution.id);
    graphsAsked.clear();
    selected = null;
    selectedVersion = '';
    own?.stop();
    own = null;
    element.hidden = false;
    message.hidden = true;
    treeSection.hidden = !isWorkflow(execution) && execution.children.length === 0;
    renderHeader(execution);
    tree.reset(execution);
    tree.flush();
    const node = tree.model.root;
    if (node) selectNode(node);
  }

  async function loadTree(execution: Execution): Promise<void> {
    if (!isWorkflow(execution) && execution.children.length === 0) return;
    const token = loadToken;
    askGraph(execution.id);
    try {
      const all = await backend.descendants(execution.id);
      if (token !== loadToken) return;
      for (const e of all) members.add(e.id);
      for (const e of all) tree.apply(e);
      for (const e of all) if (isWorkflow(e)) askGraph(e.id);
      tree.flush();
    } catch (error) {
      if (token === loadToken) showError(error);
    }
  }

  setInterval(() => {
    if (root && !isCompleted(root.status)) updateTiming();
  }, 1000);

  return {
    element,
    get current() {
      return root;
    },
    follow(execution) {
      reset(execution);
      void loadTree(execution);
      // Events may have come before the run's id was known here.
      backend.getExecution(execution.id).then(apply, () => {});
      element.scrollIntoView({ block: 'nearest' });
    },
    async open(id) {
      try {
        const execution = await backend.getExecution(id);
        reset(execution);
        await loadTree(execution);
      } catch (error) {
        element.hidden = false;
        clear(header);
        showError(error);
      }
    },
    update: apply,
    output(executionId, chunk) {
      if (!combinedFor || !members.has(executionId)) return;
      const top = tree.model.get(combinedFor);
      const node = tree.model.get(executionId);
      if (top && node && inSubtree(node, top)) pushCombined(node, chunk);
    },
    refresh() {
      if (!root) return;
      const id = root.id;
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
  };
}

function timing(execution: Execution): string {
  const started = new Date(execution.start_timestamp);
  const at = Number.isNaN(started.getTime()) ? execution.start_timestamp : started.toLocaleTimeString();
  const seconds = elapsed(execution);
  return `started ${at}${seconds === null ? '' : ` · ${formatDuration(seconds, isCompleted(execution.status))}`}`;
}
