// Every execution, newest first: filters (status, pack, action, revision,
// date range), full-text search over parameters and results, live updates.
// Workflow runs expand to their tasks in place (indented under the run,
// level by level). The filters live in the address (`#/history?status=failed`),
// so a filtered view can be bookmarked or opened in a new tab, and every row
// is a link to its execution.

import { BackendError, type Backend } from '../lib/backend';
import type { ExecutionCache } from '../lib/executions';
import { formatDuration, formatTime, onZoneChange, relativeSpan } from '../lib/time';
import { actionRef, commitOf, contentVersion, isCompleted, isWorkflow, STATUSES, taskName, userOf, type ActionSummary, type Execution, type ExecutionFilter, type PackSummary, type ParamSpec, type Status } from '../lib/types';
import { clear, h } from './dom';
import { revisionText, statusBadge } from './execution-header';
import { icon } from './icons';
import { elapsed } from './tree-view';

const PAGE = 100;
/** Children listed per expanded run. */
const CHILDREN = 1000;

export interface HistoryView {
  readonly element: HTMLElement;
  /** Shows History with the filters of `query` (the address's part after `?`). */
  load(query: string): void;
  /** Reloads with the current filters (after missed events). */
  reload(): void;
  setCatalog(packs: PackSummary[], actions: ActionSummary[]): void;
  /** Each action's own parameters, for the previews. */
  readonly schemas: ReadonlyMap<string, Record<string, ParamSpec>>;
  update(execution: Execution): void;
  focusSearch(): void;
}

/** `datetime-local` input value (local time) -> RFC 3339 (UTC). */
function toRfc3339(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * The filter applied to what the engine returned too: an engine that does not
 * know a filter parameter ignores it, and the list must still be right.
 */
export function matchesFilter(e: Execution, f: ExecutionFilter): boolean {
  if (f.status && e.status !== f.status) return false;
  if (f.action && actionRef(e) !== f.action) return false;
  if (f.pack && e.action.pack !== f.pack) return false;
  if (f.roots_only && e.parent) return false;
  if (f.content_version && contentVersion(e) !== f.content_version && !(commitOf(e) ?? '').startsWith(f.content_version)) return false;
  const started = Date.parse(e.start_timestamp);
  if (f.since && started < Date.parse(f.since)) return false;
  if (f.until && started > Date.parse(f.until)) return false;
  if (f.q) {
    const haystack = `${actionRef(e)} ${JSON.stringify(e.parameters)} ${JSON.stringify(e.result ?? null)}`.toLowerCase();
    if (!f.q.toLowerCase().split(/\s+/).filter(Boolean).every((t) => haystack.includes(t))) return false;
  }
  return true;
}

/**
 * `name=ops, count=3`: the parameters an operator gave, short. With the
 * action's schema (`declared`, as the action declares its parameters), only
 * its own mutable ones; runner parameters, fixed commands and unset ones stay
 * out (every declared parameter is passed, null when unset).
 */
export function parameterPreview(parameters: Record<string, unknown> | undefined, max = 80, declared?: Record<string, ParamSpec>): string {
  const text = Object.entries(parameters ?? {})
    .filter(([k, v]) => v !== null && v !== undefined && k !== 'content_version')
    .filter(([k]) => (declared ? declared[k] !== undefined && !declared[k]?.immutable : true))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

interface Row {
  tr: HTMLTableRowElement;
  execution: Execution;
  depth: number;
  expanded: boolean;
  /** Rows below it, while expanded. */
  children: string[];
}

export function historyView(backend: Backend, cache: ExecutionCache, onQuery: (hash: string) => void = () => {}): HistoryView {
  const status = h('select', { id: 'history-status', name: 'status', 'aria-label': 'Status' }, h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s }, s)));
  const pack = h('select', { id: 'history-pack', name: 'pack', 'aria-label': 'Pack' }, h('option', { value: '' }, 'any pack'));
  const action = h('input', { id: 'history-action', name: 'action', type: 'text', list: 'history-actions', placeholder: 'action (pack.name)', 'aria-label': 'Action', spellcheck: 'false' });
  const actionList = h('datalist', { id: 'history-actions' });
  const revision = h('input', { id: 'history-revision', name: 'content_version', type: 'text', placeholder: 'revision', 'aria-label': 'Revision', spellcheck: 'false' });
  const since = h('input', { id: 'history-since', name: 'since', type: 'datetime-local', 'aria-label': 'From' });
  const until = h('input', { id: 'history-until', name: 'until', type: 'datetime-local', 'aria-label': 'Until' });
  const q = h('input', { id: 'history-q', name: 'q', type: 'search', placeholder: 'Search parameters and results', 'aria-label': 'Search executions' });
  const tasks = h('input', { id: 'history-tasks', name: 'tasks', type: 'checkbox' });
  // Against StackStorm (no Stormdesk filters): no text, pack or revision
  // filter; status, action, dates and top level only are StackStorm's own.
  const stormdeskFilters = backend.capabilities.historyFilters;
  // Revisions (`content_version`) are Stormdesk's: no column without them.
  const revisions = backend.capabilities.revisions;
  const rows = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const empty = h('p', { class: 'empty', hidden: true }, 'No execution matches.');
  const element = h(
    'section',
    { class: 'history', 'aria-label': 'History' },
    h('header', { class: 'action-header' }, h('h1', {}, 'History')),
    h(
      'form',
      { class: 'filters', role: 'search', onSubmit: (e: Event) => e.preventDefault() },
      stormdeskFilters ? q : null,
      status,
      stormdeskFilters ? pack : null,
      action,
      actionList,
      stormdeskFilters ? revision : null,
      h('label', { class: 'inline' }, 'from ', since),
      h('label', { class: 'inline' }, 'until ', until),
      h('label', { class: 'inline' }, tasks, ' include workflow tasks'),
    ),
    message,
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'executions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { class: 'twisty-cell' }),
            h('th', {}, 'status'),
            h('th', {}, 'action'),
            h('th', {}, 'parameters'),
            h('th', {}, 'started'),
            h('th', {}, 'took'),
            revisions ? h('th', {}, 'revision') : null,
            h('th', {}, 'by'),
            h('th', {}, 'id'),
          ),
        ),
        rows,
      ),
    ),
    empty,
    more,
  );

  let filter: ExecutionFilter = { roots_only: true };
  /** Each action's own parameters (from the catalogue), for the preview. */
  const schemas = new Map<string, Record<string, ParamSpec>>();
  let shownCount = 0;
  const byId = new Map<string, Row>();
  let token = 0;
  let debounce = 0;

  /** The filters as the address's query. */
  function query(): string {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set('q', q.value.trim());
    if (status.value) params.set('status', status.value);
    if (pack.value) params.set('pack', pack.value);
    if (action.value.trim()) params.set('action', action.value.trim());
    if (revision.value.trim()) params.set('content_version', revision.value.trim());
    if (since.value) params.set('since', since.value);
    if (until.value) params.set('until', until.value);
    if (tasks.checked) params.set('tasks', '1');
    return params.toString();
  }

  function setFromQuery(text: string): void {
    const params = new URLSearchParams(text);
    q.value = params.get('q') ?? '';
    status.value = params.get('status') ?? '';
    if (params.get('pack') && ![...pack.options].some((o) => o.value === params.get('pack'))) {
      pack.append(h('option', { value: params.get('pack') ?? '' }, params.get('pack') ?? ''));
    }
    pack.value = params.get('pack') ?? '';
    action.value = params.get('action') ?? '';
    revision.value = params.get('content_version') ?? '';
    since.value = params.get('since') ?? '';
    until.value = params.get('until') ?? '';
    tasks.checked = params.get('tasks') === '1';
  }

  function currentFilter(): ExecutionFilter {
    const f: ExecutionFilter = { roots_only: !tasks.checked, limit: PAGE, exclude_result: true };
    if (status.value) f.status = status.value as Status;
    if (action.value.trim()) f.action = action.value.trim();
    const s = toRfc3339(since.value);
    const u = toRfc3339(until.value);
    if (s) f.since = s;
    if (u) f.until = u;
    if (!stormdeskFilters) return f;
    if (pack.value) f.pack = pack.value;
    if (revision.value.trim()) f.content_version = revision.value.trim();
    if (q.value.trim()) f.q = q.value.trim();
    return f;
  }

  function open(e: Execution): void {
    window.location.hash = `#/execution/${e.id}`;
  }

  function cells(row: Row): HTMLElement[] {
    const e = row.execution;
    const seconds = elapsed(e);
    const expandable = isWorkflow(e) || e.children.length > 0;
    const twisty = expandable
      ? h(
          'button',
          {
            type: 'button',
            class: 'twisty icon-button small',
            'aria-label': `${row.expanded ? 'Collapse' : 'Expand'} ${actionRef(e)}`,
            'aria-expanded': String(row.expanded),
            onClick: (event: Event) => {
              event.stopPropagation();
              void toggle(row);
            },
          },
          icon(row.expanded ? 'down' : 'right'),
        )
      : null;
    const task = taskName(e);
    const preview = parameterPreview(e.parameters, 80, schemas.get(actionRef(e)));
    return [
      h('td', { class: 'twisty-cell' }, twisty),
      h('td', {}, statusBadge(e.status)),
      h(
        'td',
        { class: 'action-cell', style: `padding-left:${0.5 + row.depth * 1.25}rem` },
        h('a', { href: `#/execution/${e.id}`, class: 'history-action', title: actionRef(e) }, task && row.depth > 0 ? task : actionRef(e)),
        task ? h('span', { class: 'muted' }, row.depth > 0 ? ` ${actionRef(e)}` : ` (${task})`) : null,
      ),
      h('td', { class: 'params-cell', title: JSON.stringify(e.parameters ?? {}, null, 1) }, h('code', {}, preview)),
      h('td', { class: 'when-cell', title: e.start_timestamp }, h('span', {}, formatTime(e.start_timestamp)), relativeSpan(e.start_timestamp, { className: 'muted rel' })),
      h('td', {}, seconds === null ? '' : formatDuration(seconds)),
      ...(revisions ? [h('td', {}, h('code', {}, revisionText(e)))] : []),
      h('td', {}, userOf(e) ?? ''),
      h('td', {}, h('code', { class: 'muted' }, e.id.slice(-8))),
    ];
  }

  function makeRow(e: Execution, depth: number): Row {
    const tr = h('tr', { 'data-id': e.id, 'data-status': e.status, 'data-depth': depth, tabindex: 0, class: `execution-row${depth > 0 ? ' child-row' : ''}` });
    const row: Row = { tr, execution: e, depth, expanded: false, children: [] };
    tr.append(...cells(row));
    tr.addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('a, button')) return;
      open(row.execution);
    });
    tr.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') open(row.execution);
      else if (event.key === 'ArrowDown') (tr.nextElementSibling as HTMLElement | null)?.focus();
      else if (event.key === 'ArrowUp') (tr.previousElementSibling as HTMLElement | null)?.focus();
      else if (event.key === 'ArrowRight' && !row.expanded) void toggle(row);
      else if (event.key === 'ArrowLeft') {
        if (row.expanded) void toggle(row);
        else if (row.execution.parent) byId.get(row.execution.parent)?.tr.focus();
      } else return;
      event.preventDefault();
    });
    byId.set(e.id, row);
    return row;
  }

  function redraw(row: Row): void {
    row.tr.dataset['status'] = row.execution.status;
    row.tr.replaceChildren(...cells(row));
  }

  function removeBelow(row: Row): void {
    const stack = [...row.children];
    row.children = [];
    dropEmptyNote(row.tr);
    while (stack.length > 0) {
      const child = byId.get(stack.pop() as string);
      if (!child) continue;
      stack.push(...child.children);
      dropEmptyNote(child.tr);
      child.tr.remove();
      byId.delete(child.execution.id);
    }
  }

  function dropEmptyNote(tr: HTMLTableRowElement): void {
    const next = tr.nextElementSibling;
    if (next?.classList.contains('empty-children')) next.remove();
  }

  /** The last row of `row`'s expanded subtree (where a new child goes after). */
  function lastRowOf(row: Row): HTMLTableRowElement {
    let last = row;
    for (;;) {
      const id = last.children[last.children.length - 1];
      const child = id ? byId.get(id) : undefined;
      if (!child) return last.tr;
      last = child;
    }
  }

  function addChild(parent: Row, e: Execution): void {
    const row = makeRow(e, parent.depth + 1);
    lastRowOf(parent).after(row.tr);
    parent.children.push(e.id);
  }

  async function toggle(row: Row): Promise<void> {
    if (row.expanded) {
      row.expanded = false;
      removeBelow(row);
      redraw(row);
      row.tr.focus();
      return;
    }
    row.expanded = true;
    redraw(row);
    row.tr.focus();
    try {
      const children = await backend.listExecutions({ parent: row.execution.id, limit: CHILDREN, exclude_result: true });
      if (!row.expanded || byId.get(row.execution.id) !== row) return;
      children.sort((a, b) => a.start_timestamp.localeCompare(b.start_timestamp));
      for (const child of children) if (!byId.has(child.id)) addChild(row, cache.put(child));
      if (children.length === 0) row.tr.after(h('tr', { class: 'child-row empty-children' }, h('td', { colspan: revisions ? 9 : 8, class: 'muted' }, 'No tasks.')));
    } catch (error) {
      message.textContent = BackendError.from(error).message;
      message.hidden = false;
    }
  }

  function render(list: Execution[], append = false): void {
    if (!append) {
      clear(rows);
      byId.clear();
    }
    for (const e of list) rows.append(makeRow(e, 0).tr);
    empty.hidden = shownCount > 0;
  }

  async function fetchPage(offset: number): Promise<void> {
    const mine = ++token;
    const f = { ...filter, offset: offset || undefined };
    try {
      const page = await backend.listExecutions(f);
      if (mine !== token) return;
      const kept = page.filter((e) => matchesFilter(e, f)).map((e) => cache.put(e));
      shownCount = offset ? shownCount + kept.length : kept.length;
      render(kept, offset > 0);
      more.hidden = page.length < PAGE;
      message.hidden = true;
    } catch (error) {
      if (mine !== token) return;
      message.textContent = BackendError.from(error).message;
      message.hidden = false;
    }
  }

  function reload(): void {
    filter = currentFilter();
    void fetchPage(0);
  }

  /** A filter changed: the address follows, then the list. */
  function changed(): void {
    const text = query();
    const hash = `#/history${text ? `?${text}` : ''}`;
    if (window.location.hash !== hash) {
      window.history.replaceState(window.history.state, '', hash);
      onQuery(hash);
    }
    reload();
  }

  function later(): void {
    clearTimeout(debounce);
    debounce = window.setTimeout(changed, 250);
  }

  for (const el of [status, pack, since, until, tasks]) el.addEventListener('change', changed);
  for (const el of [action, revision, q]) el.addEventListener('input', later);
  more.addEventListener('click', () => void fetchPage(shownCount));
  onZoneChange(() => {
    for (const row of byId.values()) redraw(row);
  });

  return {
    element,
    schemas,
    load(text) {
      setFromQuery(text);
      reload();
    },
    reload,
    setCatalog(packs, actions) {
      const chosen = pack.value;
      clear(pack);
      pack.append(h('option', { value: '' }, 'any pack'), ...packs.map((p) => h('option', { value: p.ref, selected: p.ref === chosen }, p.name)));
      pack.value = chosen;
      clear(actionList);
      actionList.append(...actions.map((a) => h('option', { value: a.ref })));
      schemas.clear();
      for (const a of actions) schemas.set(a.ref, a.parameters ?? {});
    },
    update(e) {
      const existing = byId.get(e.id);
      if (existing) {
        existing.execution = e;
        redraw(existing);
        return;
      }
      // A task of a run shown expanded: in its place.
      const parent = e.parent ? byId.get(e.parent) : undefined;
      if (parent?.expanded) {
        addChild(parent, e);
        return;
      }
      // A new run that matches: on top, while the first page is what is shown.
      if (!matchesFilter(e, filter) || element.isConnected === false) return;
      const first = rows.querySelector<HTMLTableRowElement>('tr.execution-row');
      const top = first ? byId.get(first.dataset['id'] ?? '') : undefined;
      if (top && Date.parse(e.start_timestamp) < Date.parse(top.execution.start_timestamp)) return;
      shownCount++;
      rows.prepend(makeRow(e, 0).tr);
      empty.hidden = true;
    },
    focusSearch() {
      q.focus();
      q.select();
    },
  };
}

/** Whether a run is still going (for the start screen). */
export function isLive(e: Execution): boolean {
  return !isCompleted(e.status);
}
