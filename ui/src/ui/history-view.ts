// Every execution, newest first: filters (status, pack, action, revision,
// date range), full-text search over parameters and results, live updates.
// A row opens the execution (re-run, cancel, pause and resume are there).

import { BackendError, type Backend } from '../lib/backend';
import { actionRef, commitOf, contentVersion, isCompleted, STATUSES, taskName, type ActionSummary, type Execution, type ExecutionFilter, type PackSummary, type Status } from '../lib/types';
import { clear, h } from './dom';
import { revisionText, statusBadge } from './execution-view';
import { elapsed, formatDuration } from './tree-view';

const PAGE = 100;

export interface HistoryView {
  readonly element: HTMLElement;
  /** Reloads with the current filters. */
  load(): void;
  setCatalog(packs: PackSummary[], actions: ActionSummary[]): void;
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

export function historyView(backend: Backend, onOpen: (execution: Execution) => void): HistoryView {
  const status = h('select', { id: 'history-status', name: 'status', 'aria-label': 'Status' }, h('option', { value: '' }, 'any status'), STATUSES.map((s) => h('option', { value: s }, s)));
  const pack = h('select', { id: 'history-pack', name: 'pack', 'aria-label': 'Pack' }, h('option', { value: '' }, 'any pack'));
  const action = h('input', { id: 'history-action', name: 'action', type: 'text', list: 'history-actions', placeholder: 'action (pack.name)', 'aria-label': 'Action', spellcheck: 'false' });
  const actionList = h('datalist', { id: 'history-actions' });
  const revision = h('input', { id: 'history-revision', name: 'content_version', type: 'text', placeholder: 'revision', 'aria-label': 'Revision', spellcheck: 'false' });
  const since = h('input', { id: 'history-since', name: 'since', type: 'datetime-local', 'aria-label': 'From' });
  const until = h('input', { id: 'history-until', name: 'until', type: 'datetime-local', 'aria-label': 'Until' });
  const q = h('input', { id: 'history-q', name: 'q', type: 'search', placeholder: 'Search parameters and results', 'aria-label': 'Search executions' });
  const tasks = h('input', { id: 'history-tasks', name: 'tasks', type: 'checkbox' });
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
      q,
      status,
      pack,
      action,
      actionList,
      revision,
      h('label', { class: 'inline' }, 'from ', since),
      h('label', { class: 'inline' }, 'until ', until),
      h('label', { class: 'inline' }, tasks, ' include workflow tasks'),
    ),
    message,
    h(
      'table',
      { class: 'executions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'status'), h('th', {}, 'action'), h('th', {}, 'started'), h('th', {}, 'duration'), h('th', {}, 'revision'), h('th', {}, 'id'))),
      rows,
    ),
    empty,
    more,
  );

  let filter: ExecutionFilter = { roots_only: true };
  let shown: Execution[] = [];
  const rowById = new Map<string, HTMLTableRowElement>();
  let token = 0;
  let debounce = 0;

  function currentFilter(): ExecutionFilter {
    const f: ExecutionFilter = { roots_only: !tasks.checked, limit: PAGE, exclude_result: true };
    if (status.value) f.status = status.value as Status;
    if (pack.value) f.pack = pack.value;
    if (action.value.trim()) f.action = action.value.trim();
    if (revision.value.trim()) f.content_version = revision.value.trim();
    const s = toRfc3339(since.value);
    const u = toRfc3339(until.value);
    if (s) f.since = s;
    if (u) f.until = u;
    if (q.value.trim()) f.q = q.value.trim();
    return f;
  }

  function row(e: Execution): HTMLTableRowElement {
    const seconds = elapsed(e);
    const started = new Date(e.start_timestamp);
    const tr = h(
      'tr',
      { 'data-id': e.id, 'data-status': e.status, tabindex: 0, class: 'execution-row' },
      h('td', {}, statusBadge(e.status)),
      h('td', {}, h('span', { class: 'history-action' }, actionRef(e)), taskName(e) ? h('span', { class: 'muted' }, ` (${taskName(e)})`) : null),
      h('td', { title: e.start_timestamp }, Number.isNaN(started.getTime()) ? e.start_timestamp : started.toLocaleString()),
      h('td', {}, seconds === null ? '' : formatDuration(seconds, isCompleted(e.status))),
      h('td', {}, h('code', {}, revisionText(e))),
      h('td', {}, h('code', { class: 'muted' }, e.id.slice(-8))),
    );
    tr.addEventListener('click', () => onOpen(e));
    tr.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') onOpen(e);
      else if (event.key === 'ArrowDown') (tr.nextElementSibling as HTMLElement | null)?.focus();
      else if (event.key === 'ArrowUp') (tr.previousElementSibling as HTMLElement | null)?.focus();
      else return;
      event.preventDefault();
    });
    return tr;
  }

  function render(list: Execution[], append = false): void {
    if (!append) {
      clear(rows);
      rowById.clear();
    }
    for (const e of list) {
      const tr = row(e);
      rowById.set(e.id, tr);
      rows.append(tr);
    }
    empty.hidden = shown.length > 0;
  }

  async function fetchPage(offset: number): Promise<void> {
    const mine = ++token;
    const f = { ...filter, offset: offset || undefined };
    try {
      const page = await backend.listExecutions(f);
      if (mine !== token) return;
      const kept = page.filter((e) => matchesFilter(e, f));
      shown = offset ? [...shown, ...kept] : kept;
      render(kept, offset > 0);
      more.hidden = page.length < PAGE;
      message.hidden = true;
    } catch (error) {
      if (mine !== token) return;
      message.textContent = BackendError.from(error).message;
      message.hidden = false;
    }
  }

  function load(): void {
    filter = currentFilter();
    void fetchPage(0);
  }

  function later(): void {
    clearTimeout(debounce);
    debounce = window.setTimeout(load, 250);
  }

  for (const el of [status, pack, since, until, tasks]) el.addEventListener('change', load);
  for (const el of [action, revision, q]) el.addEventListener('input', later);
  more.addEventListener('click', () => void fetchPage(shown.length));

  return {
    element,
    load,
    setCatalog(packs, actions) {
      const chosen = pack.value;
      clear(pack);
      pack.append(h('option', { value: '' }, 'any pack'), ...packs.map((p) => h('option', { value: p.ref, selected: p.ref === chosen }, p.name)));
      clear(actionList);
      actionList.append(...actions.map((a) => h('option', { value: a.ref })));
    },
    update(e) {
      const existing = rowById.get(e.id);
      if (existing) {
        const tr = row(e);
        existing.replaceWith(tr);
        rowById.set(e.id, tr);
        const i = shown.findIndex((x) => x.id === e.id);
        if (i >= 0) shown[i] = e;
        return;
      }
      // A new run that matches: on top, while the first page is what is shown.
      if (!matchesFilter(e, filter) || element.isConnected === false) return;
      if (shown.length > 0 && Date.parse(e.start_timestamp) < Date.parse((shown[0] as Execution).start_timestamp)) return;
      shown.unshift(e);
      const tr = row(e);
      rowById.set(e.id, tr);
      rows.prepend(tr);
      empty.hidden = true;
    },
    focusSearch() {
      q.focus();
      q.select();
    },
  };
}
