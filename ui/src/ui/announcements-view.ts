// Announcements in the console (`core.announcement`): each one arrives as a
// toast below the top bar ("Announcement on <route>: <message>", a link to
// the execution that announced it, a button to dismiss it; the newest few
// stay until dismissed), and the top bar's megaphone button opens the list
// of this session's recent ones, counting those not seen yet. Messages are
// text nodes, never markup.

import { RECENT_LIMIT, type AnnouncementLog, type ShownAnnouncement } from '../lib/announcements';
import { formatTime } from '../lib/time';
import { h } from './dom';
import { icon } from './icons';

/** How many toasts show at once (older ones stay in the list). */
const TOASTS_SHOWN = 3;

export interface AnnouncementsView {
  /** The top bar's button (with the unseen count). */
  readonly button: HTMLButtonElement;
  /** The toasts and the list's panel: placed once in the page. */
  readonly overlay: HTMLElement;
}

/** "Announcement on <route>: <message>", as text nodes. */
function line(a: ShownAnnouncement): HTMLElement {
  return h(
    'p',
    { class: 'announcement-text' },
    'Announcement on ',
    h('code', { class: 'announcement-route' }, a.route),
    ': ',
    h('span', { class: 'announcement-message' }, a.message),
  );
}

function executionLink(a: ShownAnnouncement, text: string): HTMLAnchorElement {
  return h('a', { href: `#/execution/${encodeURIComponent(a.executionId)}`, class: 'announcement-link', title: a.executionId }, text);
}

export function announcementsView(log: AnnouncementLog): AnnouncementsView {
  const count = h('span', { class: 'count-badge', hidden: true });
  const button = h(
    'button',
    { type: 'button', class: 'icon-button announce-button', title: 'Recent announcements', 'aria-label': 'Announcements', 'aria-expanded': 'false' },
    icon('megaphone'),
    count,
  );
  const toasts = h('div', { class: 'toasts', role: 'region', 'aria-label': 'New announcements', 'aria-live': 'polite' });
  const list = h('ol', { class: 'announcement-list' });
  const empty = h('p', { class: 'muted empty' }, 'No announcements in this session.');
  const close = h('button', { type: 'button', class: 'icon-button small', title: 'Close', 'aria-label': 'Close' }, icon('cross'));
  const panel = h(
    'section',
    { class: 'announcement-panel', role: 'dialog', 'aria-label': 'Recent announcements', hidden: true },
    h('header', {}, h('h2', {}, 'Recent announcements'), close),
    h('p', { class: 'muted' }, `What `, h('code', {}, 'core.announcement'), ` broadcast while this page was open (the last ${RECENT_LIMIT}).`),
    empty,
    list,
  );
  let unseen = 0;

  function drawCount(): void {
    count.textContent = String(unseen);
    count.hidden = unseen === 0;
    button.setAttribute('aria-label', unseen === 0 ? 'Announcements' : `Announcements: ${unseen} new`);
  }

  function drawList(): void {
    const entries = log.list();
    empty.hidden = entries.length > 0;
    list.replaceChildren(
      ...entries.map((a) =>
        h(
          'li',
          { class: 'announcement-item', 'data-execution': a.executionId },
          line(a),
          h('p', { class: 'muted announcement-meta' }, h('time', { datetime: a.at }, formatTime(a.at)), ' · ', executionLink(a, 'execution')),
        ),
      ),
    );
  }

  function toggle(open: boolean): void {
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) {
      unseen = 0;
      drawCount();
      drawList();
    }
  }

  function toast(a: ShownAnnouncement): void {
    const dismiss = h('button', { type: 'button', class: 'icon-button small', title: 'Dismiss', 'aria-label': 'Dismiss' }, icon('cross'));
    const link = executionLink(a, 'Open the execution');
    const el = h('article', { class: 'toast', 'data-execution': a.executionId }, icon('megaphone'), h('div', { class: 'toast-body' }, line(a), link), dismiss);
    dismiss.addEventListener('click', () => el.remove());
    link.addEventListener('click', () => el.remove());
    toasts.prepend(el);
    while (toasts.children.length > TOASTS_SHOWN) toasts.lastElementChild?.remove();
  }

  log.onAdd((a) => {
    toast(a);
    if (panel.hidden) unseen += 1;
    drawCount();
    if (!panel.hidden) drawList();
  });
  button.addEventListener('click', () => toggle(panel.hidden));
  close.addEventListener('click', () => toggle(false));
  list.addEventListener('click', (event) => {
    if ((event.target as Element | null)?.closest('a')) toggle(false);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden) toggle(false);
  });
  drawCount();
  drawList();
  return { button, overlay: h('div', { class: 'announcements' }, toasts, panel) };
}
