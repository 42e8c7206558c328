// The start screen: what is running now and the most recent runs (top-level
// runs only), updating live, each a link to its execution. Pick an action in
// the sidebar to run it.

import { BackendError, type Backend } from '../lib/backend';
import type { ExecutionCache } from '../lib/executions';
import { formatDuration, formatTime, relativeSpan } from '../lib/time';
import { actionRef, isCompleted, userOf, type Execution, type ParamSpec } from '../lib/types';
import { clear, h } from './dom';
import { statusBadge } from './execution-header';
import { parameterPreview } from './history-view';
import { elapsed } from './tree-view';

const RECENT = 10;

export interface HomeView {
  readonly element: HTMLElement;
  load(): void;
  update(execution: Execution): void;
}

export function homeView(backend: Backend, cache: ExecutionCache, schemas: ReadonlyMap<string, Record<string, ParamSpec>> = new Map()): HomeView {
  const running = h('tbody', {});
  const recent = h('tbody', {});
  const noneRunning = h('p', { class: 'muted' }, 'Nothing is running.');
  const noneRecent = h('p', { class: 'muted' }, 'No runs yet: pick an action on the left to run it.');
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const table = (body: HTMLElement, label: string): HTMLElement =>
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'executions compact', 'aria-label': label },
        h('thead', {}, h('tr', {}, h('th', {}, 'status'), h('th', {}, 'action'), h('th', {}, 'parameters'), h('th', {}, 'started'), h('th', {}, 'took'), h('th', {}, 'by'))),
        body,
      ),
    );
  const element = h(
    'section',
    { class: 'home', 'aria-label': 'Start' },
    h('header', { class: 'action-header' }, h('h1', {}, 'Runs'), h('a', { href: '#/history', class: 'muted' }, 'All of History')),
    message,
    h('h2', {}, 'Running now'),
    table(running, 'Running now'),
    noneRunning,
    h('h2', {}, 'Recent'),
    table(recent, 'Recent runs'),
    noneRecent,
    h('p', { class: 'muted hint' }, 'Pick an action on the left (or press / to search) to run it.'),
  );
  let shown: Execution[] = [];
  let token = 0;

  function row(e: Execution): HTMLTableRowElement {
    const seconds = elapsed(e);
    const tr = h(
      'tr',
      { 'data-run': e.id, 'data-status': e.status, class: 'run-row' },
      h('td', {}, statusBadge(e.status)),
      h('td', {}, h('a', { href: `#/execution/${e.id}`, class: 'history-action', title: actionRef(e) }, actionRef(e))),
      h('td', { class: 'params-cell' }, h('code', {}, parameterPreview(e.parameters, 60, schemas.get(actionRef(e))))),
      h('td', { class: 'when-cell', title: e.start_timestamp }, h('span', {}, formatTime(e.start_timestamp)), relativeSpan(e.start_timestamp, { className: 'muted rel' })),
      h('td', { 'data-took': '' }, seconds === null ? '' : formatDuration(seconds)),
      h('td', {}, userOf(e) ?? ''),
    );
    tr.addEventListener('click', (event) => {
      if (!(event.target as HTMLElement).closest('a')) window.location.hash = `#/execution/${e.id}`;
    });
    return tr;
  }

  function draw(): void {
    clear(running);
    clear(recent);
    const live = shown.filter((e) => !isCompleted(e.status));
    const done = shown.filter((e) => isCompleted(e.status)).slice(0, RECENT);
    running.append(...live.map(row));
    recent.append(...done.map(row));
    noneRunning.hidden = live.length > 0;
    noneRecent.hidden = done.length > 0;
  }

  window.setInterval(() => {
    if (element.hidden) return;
    for (const tr of running.querySelectorAll<HTMLTableRowElement>('tr')) {
      const e = shown.find((x) => x.id === tr.dataset['run']);
      const cell = tr.querySelector<HTMLElement>('[data-took]');
      const seconds = e ? elapsed(e) : null;
      if (cell && seconds !== null) cell.textContent = formatDuration(seconds);
    }
  }, 1000);

  return {
    element,
    load() {
      const mine = ++token;
      Promise.all([
        backend.listExecutions({ roots_only: true, status: 'running', limit: 50, exclude_result: true }),
        backend.listExecutions({ roots_only: true, limit: 30, exclude_result: true }),
      ]).then(
        ([live, latest]) => {
          if (mine !== token) return;
          const all = new Map<string, Execution>();
          for (const e of [...live, ...latest]) all.set(e.id, cache.put(e));
          shown = [...all.values()].sort((a, b) => b.start_timestamp.localeCompare(a.start_timestamp));
          message.hidden = true;
          draw();
        },
        (error: unknown) => {
          if (mine !== token) return;
          message.textContent = BackendError.from(error).message;
          message.hidden = false;
        },
      );
    },
    update(e) {
      if (e.parent) return;
      const i = shown.findIndex((x) => x.id === e.id);
      if (i >= 0) shown[i] = e;
      else shown.unshift(e);
      draw();
    },
  };
}
