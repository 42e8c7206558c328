// The Inquiries screen (`#/inquiries`): every open Inquiry, newest first,
// each with what asked it (the workflow and the task, a link to the run with
// the task selected), its route, when it times out, who may answer, and its
// answer form. Live: an Inquiry appears when it goes pending and leaves when
// it is answered (here, in the run's tree, by the CLI or the API), times out
// or is canceled. The top bar's tab shows how many wait.

import type { Backend } from '../lib/backend';
import { rootOf, type InquiryTracker, type OpenInquiry } from '../lib/inquiries';
import { formatTime, relativeSpan } from '../lib/time';
import { actionRef, taskName } from '../lib/types';
import { h } from './dom';
import { inquiryForm } from './inquiry-form';

export interface InquiriesView {
  readonly element: HTMLElement;
  /** The top bar's tab, with the count. */
  readonly tab: HTMLAnchorElement;
}

export function inquiriesView(backend: Backend, tracker: InquiryTracker): InquiriesView {
  const count = h('span', { class: 'count-badge', hidden: true });
  const tab = h('a', { href: '#/inquiries', class: 'tab', 'data-view': 'inquiries', title: 'Inquiries waiting for a response' }, 'Inquiries', count);
  const list = h('div', { class: 'inquiry-list' });
  const empty = h('p', { class: 'muted empty' }, 'Nothing is waiting for a response.');
  const element = h(
    'section',
    { class: 'inquiries', 'aria-label': 'Inquiries', hidden: true },
    h('h1', {}, 'Waiting for a response'),
    h(
      'p',
      { class: 'muted' },
      'Workflows that ask (',
      h('code', {}, 'core.ask'),
      ') pause here until someone answers. The answer must match the question\u2019s schema; the workflow goes on as soon as it is accepted.',
    ),
    empty,
    list,
  );
  /** Cards by Inquiry id; a card whose Inquiry is known keeps its form (typing survives updates). */
  const cards = new Map<string, { el: HTMLElement; formShown: boolean }>();

  function describe(entry: OpenInquiry): HTMLElement {
    const e = entry.execution;
    if (!e) return h('span', { class: 'muted' }, 'Loading…');
    const root = rootOf(e);
    const task = taskName(e);
    const href = root === e.id ? `#/execution/${e.id}` : `#/execution/${root}`;
    return h(
      'span',
      {},
      task ? 'Task ' : 'Asked by ',
      h('a', { href, class: 'inquiry-source' }, task ?? actionRef(e)),
      root === e.id ? '' : ' of run ',
      root === e.id ? '' : h('code', {}, root),
      ` · asked ${formatTime(e.start_timestamp)}`,
      relativeSpan(e.start_timestamp, { paren: true }),
    );
  }

  function card(entry: OpenInquiry): HTMLElement {
    const known = cards.get(entry.id);
    const el = known?.el ?? h('article', { class: 'inquiry-card', 'data-inquiry': entry.id });
    const head = h('header', {}, h('p', { class: 'inquiry-source-line' }, describe(entry)), h('code', { class: 'muted inquiry-id' }, entry.id));
    if (!known) {
      el.append(head, h('div', { class: 'inquiry-body' }, h('p', { class: 'muted' }, 'Loading the question…')));
      cards.set(entry.id, { el, formShown: false });
    } else el.querySelector('header')?.replaceWith(head);
    const state = cards.get(entry.id) as { el: HTMLElement; formShown: boolean };
    if (entry.inquiry && !state.formShown) {
      state.formShown = true;
      el.querySelector('.inquiry-body')?.replaceChildren(inquiryForm(backend, entry.inquiry, entry.execution));
    }
    return el;
  }

  function draw(): void {
    const open = tracker.list();
    count.textContent = String(open.length);
    count.hidden = open.length === 0;
    tab.setAttribute('aria-label', open.length === 0 ? 'Inquiries' : `Inquiries: ${open.length} waiting for a response`);
    empty.hidden = open.length > 0;
    const ids = new Set(open.map((o) => o.id));
    for (const [id, c] of cards) {
      if (!ids.has(id)) {
        c.el.remove();
        cards.delete(id);
      }
    }
    // Newest first; cards keep their elements (and what is typed in them).
    let before: Element | null = list.firstElementChild;
    for (const entry of open) {
      const el = card(entry);
      if (el !== before) list.insertBefore(el, before);
      before = el.nextElementSibling;
    }
  }

  tracker.onChange(draw);
  draw();
  return { element, tab };
}
