// The live workflow tree: rows drawn from lib/tree.ts's model, only those in
// view (a virtual list with a fixed row height, so 10,000 nodes cost what 40
// do), updated at most once per animation frame however many events arrive.

import { formatDuration, secondsBetween } from '../lib/time';
import { TreeModel, type NodeStatus, type TreeNode } from '../lib/tree';
import { commitOf, isPendingInquiry, type Execution, type WorkflowGraph } from '../lib/types';
import { h } from './dom';
import { iconHtml, installIcons, statusSymbol } from './icons';

export const ROW_HEIGHT = 26;
/** Rows drawn above and below the visible ones, so fast scrolling shows no gaps. */
const OVERSCAN = 8;
const INDENT = 16;

/** Order of the per-status counts on a row. */
const COUNT_ORDER: NodeStatus[] = [
  'running',
  'succeeded',
  'failed',
  'timeout',
  'canceled',
  'abandoned',
  'paused',
  'pausing',
  'resuming',
  'canceling',
  'delayed',
  'pending',
  'scheduled',
  'requested',
  'waiting',
];

export function statusTone(status: NodeStatus): string {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'failed':
    case 'timeout':
    case 'abandoned':
      return 'bad';
    case 'canceling':
    case 'canceled':
      return 'off';
    case 'paused':
    case 'pausing':
    case 'delayed':
    case 'pending':
      return 'wait';
    case 'waiting':
      return 'none';
    default:
      return 'busy';
  }
}

/** Seconds the execution has run: to its end, or to now while it runs. */
export function elapsed(execution: Execution, now = Date.now()): number | null {
  if (execution.elapsed_seconds !== null && execution.elapsed_seconds !== undefined && execution.end_timestamp) {
    return execution.elapsed_seconds;
  }
  return secondsBetween(execution.start_timestamp, execution.end_timestamp, now);
}

interface Row {
  el: HTMLElement;
  twisty: HTMLElement;
  icon: HTMLElement;
  label: HTMLElement;
  action: HTMLElement;
  commit: HTMLElement;
  attempt: HTMLElement;
  counts: HTMLElement;
  duration: HTMLElement;
  node: TreeNode | null;
  version: number;
  selected: boolean;
}

export interface TreeView {
  readonly element: HTMLElement;
  readonly model: TreeModel;
  /** Shows a new tree: `root` and what is known below it. */
  reset(root: Execution, descendants?: Execution[]): void;
  /** Queues an execution change; drawn with the next frame. */
  apply(execution: Execution): void;
  setGraph(workflowId: string, graph: WorkflowGraph): void;
  select(key: string | null): void;
  readonly selected: TreeNode | null;
  /** Draws pending changes now (tests, benchmarks). */
  flush(): void;
  /** Redraws the rows (after the model changed outside `apply`). */
  redraw(): void;
  destroy(): void;
}

export interface TreeViewOptions {
  onSelect?: (node: TreeNode) => void;
  /** Called after each frame's update: events applied, milliseconds spent (benchmarks). */
  onFlush?: (applied: number, ms: number) => void;
  /** Nodes added or changed by this frame's events, before they are drawn. */
  onApplied?: (nodes: TreeNode[]) => void;
}

export function treeView(options: TreeViewOptions = {}): TreeView {
  installIcons();
  const model = new TreeModel();
  const spacer = h('div', { class: 'tree-spacer' });
  const element = h(
    'div',
    { class: 'tree', role: 'tree', tabindex: 0, 'aria-label': 'Workflow tree' },
    spacer,
  );
  const pool: Row[] = [];
  let rows: TreeNode[] = [];
  let queue: Execution[] = [];
  let frame = 0;
  let selectedKey: string | null = null;
  let forceRows = false;
  let ticker = 0;

  function makeRow(): Row {
    const twisty = h('span', { class: 'twisty' });
    const icon = h('span', { class: 'icon' });
    const label = h('span', { class: 'label' });
    const action = h('span', { class: 'node-action' });
    const commit = h('code', { class: 'commit' });
    const attempt = h('span', { class: 'attempt' });
    const counts = h('span', { class: 'counts' });
    const duration = h('span', { class: 'duration' });
    const el = h('div', { class: 'tree-row', role: 'treeitem' }, twisty, icon, label, attempt, action, commit, counts, duration);
    const row: Row = { el, twisty, icon, label, action, commit, attempt, counts, duration, node: null, version: -1, selected: false };
    el.addEventListener('click', (event) => {
      if (!row.node) return;
      if (twisty.contains(event.target as Node)) {
        model.toggle(row.node);
        schedule();
        return;
      }
      selectNode(row.node);
    });
    el.addEventListener('dblclick', () => {
      if (row.node) {
        model.toggle(row.node);
        schedule();
      }
    });
    spacer.append(el);
    return row;
  }

  function drawCounts(row: Row, node: TreeNode): void {
    const parts: string[] = [];
    if (node.children.length > 0 && (!node.expanded || node.depth === 0 || node.execution?.runner.name === 'orquesta')) {
      for (const status of COUNT_ORDER) {
        const n = node.counts.get(status);
        if (n) parts.push(`<span class="count ${statusTone(status)}" data-status="${status}" title="${n} ${status}">${iconHtml(statusSymbol(status))}${n}</span>`);
      }
    }
    const html = parts.join('');
    if (row.counts.innerHTML !== html) row.counts.innerHTML = html;
  }

  function drawDuration(row: Row, node: TreeNode, now: number): void {
    const execution = node.execution;
    const seconds = execution ? elapsed(execution, now) : null;
    const text = seconds === null ? '' : formatDuration(seconds);
    if (row.duration.textContent !== text) row.duration.textContent = text;
  }

  function drawRow(row: Row, node: TreeNode, index: number, now: number): void {
    const selected = node.key === selectedKey;
    if (row.node !== node || row.version !== node.version || row.selected !== selected) {
      row.node = node;
      row.version = node.version;
      row.selected = selected;
      const el = row.el;
      el.dataset['key'] = node.key;
      el.dataset['status'] = node.status;
      el.dataset['path'] = node.label;
      // Only a task the workflow has not reached is greyed: one that failed
      // without an execution (its action could not start) is a failure.
      el.className = `tree-row ${statusTone(node.status)}${selected ? ' selected' : ''}${node.status === 'waiting' ? ' not-reached' : ''}`;
      el.setAttribute('aria-level', String(node.depth + 1));
      el.setAttribute('aria-selected', String(selected));
      if (node.children.length > 0) el.setAttribute('aria-expanded', String(node.expanded));
      else el.removeAttribute('aria-expanded');
      el.style.paddingLeft = `${6 + node.depth * INDENT}px`;
      row.twisty.innerHTML = node.children.length === 0 ? '' : iconHtml(node.expanded ? 'down' : 'right');
      row.icon.innerHTML = iconHtml(statusSymbol(node.status));
      row.icon.className = `icon ${statusTone(node.status)}`;
      row.icon.title = node.error ? `${node.status}: ${node.error}` : node.status;
      row.label.textContent = node.label;
      row.label.title = node.label;
      row.attempt.textContent = node.attempt ? `retry ${node.attempt}` : '';
      row.action.textContent = node.depth === 0 ? '' : node.action ?? '';
      // A pending Inquiry (`core.ask`) says what it waits for.
      const asks = node.execution !== null && isPendingInquiry(node.execution);
      if (asks) row.action.textContent = 'waiting for a response';
      row.action.classList.toggle('asks', asks);
      if (asks) el.dataset['asks'] = '';
      else delete el.dataset['asks'];
      const sha = node.execution ? commitOf(node.execution) : null;
      row.commit.textContent = sha ? sha.slice(0, 7) : '';
      row.commit.title = sha ?? '';
      drawCounts(row, node);
    }
    el_translate(row.el, index);
    drawDuration(row, node, now);
  }

  function el_translate(el: HTMLElement, index: number): void {
    const y = `translateY(${index * ROW_HEIGHT}px)`;
    if (el.style.transform !== y) el.style.transform = y;
  }

  function render(): void {
    if (model.structureChanged || forceRows) {
      rows = model.visible();
      model.structureChanged = false;
      forceRows = false;
      spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    }
    const height = element.clientHeight || 400;
    const first = Math.max(0, Math.floor(element.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((element.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const needed = last - first;
    while (pool.length < needed) pool.push(makeRow());
    const now = Date.now();
    for (let i = 0; i < pool.length; i++) {
      const row = pool[i] as Row;
      const index = first + i;
      if (index < last) {
        if (row.el.hidden) row.el.hidden = false;
        drawRow(row, rows[index] as TreeNode, index, now);
      } else if (!row.el.hidden) {
        row.el.hidden = true;
        row.node = null;
      }
    }
  }

  function flush(): void {
    const started = performance.now();
    frame = 0;
    const batch = queue;
    queue = [];
    for (const execution of batch) model.apply(execution);
    const touched = model.takeTouched();
    if (options.onApplied && touched.length > 0) options.onApplied(touched);
    render();
    options.onFlush?.(batch.length, performance.now() - started);
  }

  function schedule(): void {
    if (frame === 0) frame = requestAnimationFrame(flush);
  }

  function selectNode(node: TreeNode): void {
    selectedKey = node.key;
    schedule();
    options.onSelect?.(node);
  }

  function scrollIntoView(index: number): void {
    const top = index * ROW_HEIGHT;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + ROW_HEIGHT > element.scrollTop + element.clientHeight) {
      element.scrollTop = top + ROW_HEIGHT - element.clientHeight;
    }
  }

  element.addEventListener('scroll', schedule, { passive: true });
  element.addEventListener('keydown', (event) => {
    if (rows.length === 0) return;
    let index = rows.findIndex((n) => n.key === selectedKey);
    const node = index >= 0 ? (rows[index] as TreeNode) : null;
    switch (event.key) {
      case 'ArrowDown':
        index = Math.min(rows.length - 1, index + 1);
        break;
      case 'ArrowUp':
        index = Math.max(0, index - 1);
        break;
      case 'Home':
        index = 0;
        break;
      case 'End':
        index = rows.length - 1;
        break;
      case 'ArrowRight':
        if (node && node.children.length > 0 && !node.expanded) model.toggle(node, true);
        else if (node?.expanded) index += 1;
        break;
      case 'ArrowLeft':
        if (node && node.expanded && node.children.length > 0) model.toggle(node, false);
        else if (node?.parent) index = rows.indexOf(node.parent);
        break;
      case 'Enter':
      case ' ':
        if (node) model.toggle(node);
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
    const target = rows[Math.max(0, Math.min(rows.length - 1, index))];
    if (target && target.key !== selectedKey) {
      selectNode(target);
      scrollIntoView(rows.indexOf(target));
    }
    schedule();
  });

  // Running durations tick once a second; only rows in view are touched.
  ticker = window.setInterval(() => {
    const now = Date.now();
    for (const row of pool) {
      if (row.node?.execution && !row.el.hidden && !row.node.execution.end_timestamp) drawDuration(row, row.node, now);
    }
  }, 1000);

  return {
    element,
    model,
    reset(root, descendants = []) {
      queue = [];
      model.reset(root, descendants);
      selectedKey = root.id;
      element.scrollTop = 0;
      forceRows = true;
      schedule();
    },
    apply(execution) {
      queue.push(execution);
      schedule();
    },
    setGraph(workflowId, graph) {
      // Executions queued before the graph arrived take their places first.
      for (const execution of queue) model.apply(execution);
      queue = [];
      model.setGraph(workflowId, graph);
      schedule();
    },
    select(key) {
      selectedKey = key;
      const node = key ? model.get(key) : undefined;
      if (node) {
        // Reveal it.
        for (let p = node.parent; p; p = p.parent) model.toggle(p, true);
        render();
        scrollIntoView(rows.indexOf(node));
        options.onSelect?.(node);
      }
      schedule();
    },
    get selected() {
      return selectedKey ? model.get(selectedKey) ?? null : null;
    },
    flush() {
      if (frame) cancelAnimationFrame(frame);
      flush();
    },
    redraw() {
      forceRows = true;
      schedule();
    },
    destroy() {
      if (frame) cancelAnimationFrame(frame);
      clearInterval(ticker);
    },
  };
}
