// The right pane of the execution view: the selected node's facts (path,
// status, times with timezone and relative, ticking duration, who ran it,
// with-items item and "2 of 4", retry attempt) and its details in tabs:
// Output | Result | Parameters | Timeline. One scroll per pane. A pending
// Inquiry (`core.ask`) shows, above the tabs, its prompt and answer form.

import { BackendError, type Backend } from '../lib/backend';
import type { OutputHub } from '../lib/output-hub';
import { copyText } from '../lib/save';
import { formatDuration, formatTime, relativeSpan } from '../lib/time';
import { FAILED, type TreeModel, type TreeNode } from '../lib/tree';
import { actionRef, commitOf, isCompleted, isPendingInquiry, isWorkflow, itemsCount, userOf, type Execution } from '../lib/types';
import { append, clear, h } from './dom';
import { icon, iconHtml, statusSymbol } from './icons';
import { inquiryForm } from './inquiry-form';
import { outputView, type OutputSourceSpec } from './output-view';
import { resultView } from './result-view';
import { gantt, statusLog } from './timeline-view';
import { elapsed, statusTone } from './tree-view';

export type Tab = 'output' | 'result' | 'parameters' | 'timeline';
const TABS: [Tab, string][] = [
  ['output', 'Output'],
  ['result', 'Result'],
  ['parameters', 'Parameters'],
  ['timeline', 'Timeline'],
];

/** Executions whose output a workflow node's Output tab follows at most. */
const MAX_SOURCES = 1000;
/**
 * Of those, the tasks whose output must be read from the store (they
 * started before the console followed the stream: one request each), the
 * most recently started first. Tasks that start while the run is watched
 * cost no request (lib/output-hub.ts), so a run watched from its start is
 * followed whole and one opened mid-run costs a bounded number of reads.
 */
const MAX_READ_SOURCES = 50;

export interface NodeDetails {
  readonly element: HTMLElement;
  readonly node: TreeNode | null;
  /** Shows `node`; `isRoot` leaves out what the execution's header already says. */
  show(node: TreeNode, isRoot: boolean): void;
  /** The shown node's record changed. */
  refresh(execution: Execution): void;
  /** Nodes of the tree were added or changed. */
  treeChanged(nodes: TreeNode[]): void;
  selectTab(tab: Tab): void;
  clear(): void;
}

export interface NodeDetailsOptions {
  /** Select a node in the tree (a bar of the timeline, a workflow error's task). */
  select(node: TreeNode): void;
}

/**
 * The value a with-items task ran with: its parameters that differ from its
 * sibling items' (one is the item), e.g. `web2`. Empty when unknown.
 */
export function itemValue(node: TreeNode): string {
  const execution = node.execution;
  if (node.item === null || !execution || !node.parent) return '';
  const siblings = node.parent.children.filter((s) => s !== node && s.task === node.task && s.item !== null && s.execution);
  if (siblings.length === 0) return '';
  const mine = execution.parameters ?? {};
  const varying = Object.keys(mine).filter((k) => siblings.some((s) => JSON.stringify((s.execution as Execution).parameters?.[k]) !== JSON.stringify(mine[k])));
  if (varying.length === 0 || varying.length > 2) return '';
  return varying.map((k) => (typeof mine[k] === 'string' ? (mine[k] as string) : JSON.stringify(mine[k]))).join(', ');
}

function inSubtree(node: TreeNode, top: TreeNode): boolean {
  for (let n: TreeNode | null = node; n; n = n.parent) if (n === top) return true;
  return false;
}

export function nodeDetails(backend: Backend, hub: OutputHub, model: TreeModel, options: NodeDetailsOptions): NodeDetails {
  let tab: Tab = 'output';
  let node: TreeNode | null = null;
  let root = false;
  let multi = false;
  const sourced = new Set<string>();
  /** Of `sourced`, those read from the store. */
  let readSources = 0;
  /** Tasks below the node whose output is not followed (past MAX_SOURCES or MAX_READ_SOURCES). */
  const overflow = new Set<string>();

  const title = h('h2', { class: 'detail-title' });
  const facts = h('div', { class: 'facts node-facts' });
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const panels = new Map<Tab, HTMLElement>();
  const tablist = h('div', { class: 'tabs detail-tabs', role: 'tablist', 'aria-label': 'Details' });
  for (const [id, label] of TABS) {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${id}`, 'aria-controls': `panel-${id}`, 'data-tab': id, class: 'tab' }, label);
    b.addEventListener('click', () => selectTab(id));
    tabButtons.set(id, b);
    tablist.append(b);
    panels.set(id, h('div', { class: `tab-panel panel-${id}`, role: 'tabpanel', id: `panel-${id}`, 'aria-labelledby': `tab-${id}` }));
  }
  tablist.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const order = TABS.map(([id]) => id);
    const next = order[(order.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : order.length - 1)) % order.length] as Tab;
    selectTab(next);
    tabButtons.get(next)?.focus();
    event.preventDefault();
  });
  const output = outputView(backend, hub);
  const overflowNote = h('p', { class: 'muted', hidden: true });
  (panels.get('output') as HTMLElement).append(overflowNote, output.element);
  const detailsHeader = h('header', { class: 'details-header' }, title, facts);
  const inquirySlot = h('div', { class: 'inquiry-slot', hidden: true });
  const element = h('section', { class: 'details', 'aria-label': 'Selected' }, detailsHeader, inquirySlot, tablist, [...panels.values()]);
  /** The pending Inquiry whose form is shown (drawn once: typing survives events). */
  let asking: string | null = null;

  /** A pending Inquiry's prompt and form; nothing for any other node. */
  function drawInquiry(): void {
    const e = node?.execution ?? null;
    const pending = e && isPendingInquiry(e) ? e : null;
    if ((pending?.id ?? null) === asking) return;
    asking = pending?.id ?? null;
    clear(inquirySlot);
    inquirySlot.hidden = pending === null;
    if (!pending) return;
    const panel = h(
      'section',
      { class: 'inquiry-panel', 'aria-label': 'Waiting for a response' },
      h('p', { class: 'inquiry-waiting' }, icon('clock'), ' Waiting for a response'),
    );
    inquirySlot.append(panel);
    backend.getInquiry(pending.id).then(
      (inquiry) => {
        if (asking === pending.id) panel.append(inquiryForm(backend, inquiry, pending));
      },
      (error: unknown) => {
        if (asking === pending.id) panel.append(h('p', { class: 'error', role: 'alert' }, BackendError.from(error).message));
      },
    );
  }

  function selectTab(next: Tab): void {
    tab = next;
    for (const [id, b] of tabButtons) {
      b.setAttribute('aria-selected', String(id === tab));
      b.classList.toggle('active', id === tab);
      b.tabIndex = id === tab ? 0 : -1;
    }
    for (const [id, panel] of panels) panel.hidden = id !== tab;
    drawPanel();
  }

  function fact(label: string, value: Node | string, attrs: Record<string, string> = {}): HTMLElement {
    return h('span', { class: 'fact', ...attrs }, h('span', { class: 'muted' }, `${label} `), typeof value === 'string' ? h('strong', {}, value) : value);
  }

  function drawFacts(): void {
    clear(facts);
    if (!node) return;
    // A run without a tree: the execution's header says it all.
    detailsHeader.hidden = root && node.children.length === 0 && !(node.execution && isWorkflow(node.execution));
    title.textContent = model.path(node);
    title.title = title.textContent;
    const e = node.execution;
    if (!e) {
      const status = h('span', { class: `icon ${statusTone(node.status)}` });
      status.innerHTML = iconHtml(statusSymbol(node.status));
      append(facts, [
        h('span', { class: 'fact', 'data-fact': 'status' }, status, ` ${node.status === 'waiting' ? 'not reached yet' : node.status}`),
        node.action ? fact('action', node.action) : null,
        node.error ? h('span', { class: 'fact bad' }, node.error) : null,
      ]);
      return;
    }
    if (root) {
      // The header says the rest.
      title.textContent = model.path(node);
      return;
    }
    const status = h('span', { class: `icon ${statusTone(e.status)}` });
    status.innerHTML = iconHtml(statusSymbol(e.status));
    const count = itemsCount(e);
    const value = itemValue(node);
    const seconds = elapsed(e);
    append(facts, [
      h('span', { class: 'fact', 'data-fact': 'status' }, status, ` ${e.status}`),
      fact('action', actionRef(e), { 'data-fact': 'action', title: actionRef(e) }),
      node.item !== null
        ? fact('item', `${value ? `${value} · ` : ''}${node.item + 1}${count !== null ? ` of ${count}` : ''}`, { 'data-fact': 'item', title: `item index ${node.item}` })
        : null,
      node.attempt ? fact('attempt', `${node.attempt + 1} (retry ${node.attempt})`, { 'data-fact': 'attempt' }) : null,
      fact('started', h('strong', { title: e.start_timestamp }, formatTime(e.start_timestamp), relativeSpan(e.start_timestamp, { paren: true, className: 'muted rel' })), { 'data-fact': 'started' }),
      e.end_timestamp ? fact('ended', h('strong', { title: e.end_timestamp }, formatTime(e.end_timestamp)), { 'data-fact': 'ended' }) : null,
      fact('took', h('strong', { 'data-duration': '' }, seconds === null ? '' : formatDuration(seconds)), { 'data-fact': 'duration' }),
      userOf(e) ? fact('by', userOf(e) as string, { 'data-fact': 'user' }) : null,
      commitOf(e) ? fact('commit', h('code', { title: commitOf(e) ?? '' }, (commitOf(e) ?? '').slice(0, 7))) : null,
      h(
        'span',
        { class: 'fact' },
        h('a', { href: `#/execution/${e.id}`, class: 'execution-link', title: 'Open this execution on its own' }, h('code', {}, e.id)),
        copyButton('Copy the execution id', () => e.id),
      ),
    ]);
  }

  function copyButton(label: string, value: () => string): HTMLElement {
    return h('button', { type: 'button', class: 'icon-button small', title: label, 'aria-label': label, onClick: () => void copyText(value()) }, icon('copy'));
  }

  function drawPanel(): void {
    const panel = panels.get(tab) as HTMLElement;
    if (!node || tab === 'output') return;
    clear(panel);
    const e = node.execution;
    if (tab === 'result') {
      if (!e) panel.append(h('p', { class: node.error ? 'error' : 'muted' }, node.error ?? 'Not reached yet: no result.'));
      else if (isCompleted(e.status) && e.result !== undefined) {
        panel.append(
          resultView(e, {
            onTask: (task) => {
              // The task's failed execution (a with-items item, a retry), else its last.
              const runs = (node as TreeNode).children.filter((c) => c.task === task);
              const target = runs.find((c) => FAILED.has(c.status)) ?? runs[runs.length - 1];
              if (target) options.select(target);
            },
          }),
        );
      } else panel.append(h('p', { class: 'muted pending' }, isCompleted(e.status) ? 'Loading the result…' : 'Running: the result shows when it ends.'));
    } else if (tab === 'parameters') {
      const entries = Object.entries(e?.parameters ?? {});
      panel.append(
        entries.length === 0
          ? h('p', { class: 'muted' }, e ? 'No parameters.' : 'Not reached yet.')
          : h(
              'div',
              { class: 'parameters' },
              h('div', { class: 'result-tools' }, copyButton('Copy the parameters as JSON', () => JSON.stringify(e?.parameters ?? {}, null, 2))),
              h(
                'table',
                { class: 'kv' },
                entries.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, h('code', {}, typeof v === 'string' ? v : JSON.stringify(v))))),
              ),
            ),
      );
    } else if (tab === 'timeline') {
      const workflow = node.children.length > 0 || (e !== null && isWorkflow(e));
      if (workflow) panel.append(h('h3', {}, 'Tasks over time'), gantt(model, node, options.select));
      if (e) panel.append(h('h3', {}, 'Status log'), statusLog(e));
      else panel.append(h('p', { class: 'muted' }, 'Not reached yet.'));
    }
  }

  function sourceOf(n: TreeNode): OutputSourceSpec | null {
    if (!n.execution || isWorkflow(n.execution)) return null;
    return { id: n.key, prefix: model.path(n) };
  }

  function follow(spec: OutputSourceSpec): void {
    if (sourced.size >= MAX_SOURCES) {
      overflow.add(spec.id);
      return;
    }
    sourced.add(spec.id);
    output.add(spec);
  }

  /** Follows these nodes' output: those the stream brings whole at once, the others newest first while reads are allowed. */
  function addSources(nodes: Iterable<TreeNode>): void {
    const toRead: [TreeNode, OutputSourceSpec][] = [];
    for (const n of nodes) {
      if (sourced.has(n.key) || overflow.has(n.key)) continue;
      const spec = sourceOf(n);
      if (!spec) continue;
      if (hub.streams(n.key)) follow(spec);
      else toRead.push([n, spec]);
    }
    const started = (n: TreeNode): string => n.execution?.start_timestamp ?? '';
    toRead.sort(([a], [b]) => (started(a) < started(b) ? 1 : started(a) > started(b) ? -1 : 0));
    for (const [, spec] of toRead) {
      if (multi && readSources >= MAX_READ_SOURCES) {
        overflow.add(spec.id);
        continue;
      }
      readSources++;
      follow(spec);
    }
  }

  /** Says how many tasks' output is not followed (once per batch of changes). */
  function drawOverflow(): void {
    overflowNote.hidden = overflow.size === 0;
    if (overflow.size > 0) {
      overflowNote.textContent = `The output of ${overflow.size.toLocaleString()} more tasks is not followed here (Download has it all): select a subworkflow or a task to see its own.`;
    }
  }

  function startOutput(): void {
    sourced.clear();
    readSources = 0;
    overflow.clear();
    overflowNote.hidden = true;
    if (!node) return;
    const e = node.execution;
    multi = node.children.length > 0 || (e !== null && isWorkflow(e));
    const name = `${(e ? actionRef(e) : node.label).replace(/[^A-Za-z0-9._-]+/g, '_')}${e ? `-${e.id.slice(-8)}` : ''}`;
    output.show([], multi, name, () =>
      multi ? model.subtree(node as TreeNode).filter((n) => n !== node).flatMap((n) => sourceOf(n) ?? []) : node?.execution ? [{ id: node.key, prefix: model.path(node) }] : [],
    );
    if (multi) {
      const top = node;
      addSources(model.subtree(node).filter((n) => n !== top));
    } else if (e) addSources([node]);
    drawOverflow();
    output.setDone(e !== null ? isCompleted(e.status) : node.status !== 'waiting');
  }

  let tickTimer = 0;
  function tick(): void {
    const e = node?.execution;
    if (!e) return;
    const d = facts.querySelector<HTMLElement>('[data-duration]');
    const seconds = elapsed(e);
    if (d && seconds !== null) d.textContent = formatDuration(seconds);
  }
  function startTicking(): void {
    window.clearInterval(tickTimer);
    const e = node?.execution;
    if (!e || isCompleted(e.status)) return;
    // Tenths while under ten seconds, then seconds.
    tickTimer = window.setInterval(() => {
      tick();
      const now = node?.execution;
      if (!now || isCompleted(now.status)) window.clearInterval(tickTimer);
    }, 100);
  }

  let timelineFrame = 0;
  selectTab('output');

  return {
    element,
    get node() {
      return node;
    },
    show(next, isRoot) {
      node = next;
      root = isRoot;
      drawFacts();
      drawInquiry();
      startOutput();
      drawPanel();
      startTicking();
    },
    refresh(execution) {
      if (!node || node.key !== execution.id) return;
      // The node's own record may be one frame behind the event: draw from the event.
      node.execution = execution;
      drawFacts();
      drawInquiry();
      if (!multi) addSources([node]);
      output.setDone(isCompleted(execution.status));
      if (tab !== 'output') drawPanel();
      startTicking();
    },
    treeChanged(nodes) {
      if (!node) return;
      let below = false;
      const added: TreeNode[] = [];
      for (const n of nodes) {
        if (n === node) {
          drawFacts();
          drawInquiry();
          if (n.execution) output.setDone(isCompleted(n.execution.status));
          continue;
        }
        if (!inSubtree(n, node)) continue;
        below = true;
        if (multi) added.push(n);
      }
      if (added.length > 0) addSources(added);
      if (below && multi) drawOverflow();
      if (below && tab === 'timeline' && timelineFrame === 0) {
        // At most a few redraws a second, however many events come.
        timelineFrame = window.setTimeout(() => {
          timelineFrame = 0;
          if (tab === 'timeline') drawPanel();
        }, 300);
      }
    },
    selectTab,
    clear() {
      window.clearInterval(tickTimer);
      output.clear();
      node = null;
      drawInquiry();
      clear(facts);
      title.textContent = '';
    },
  };
}
