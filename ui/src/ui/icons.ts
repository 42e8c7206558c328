// The console's icons: one inline SVG sprite, so every status and button
// icon draws the same whatever fonts the system has (Debian's fonts lack
// some symbol glyphs, such as the stopwatch). `icon('failed')` is an element,
// `iconHtml('failed')` the same as markup (for rows drawn with innerHTML).

import type { NodeStatus } from '../lib/tree';

/** Symbol bodies on a 16x16 grid; `currentColor` strokes and fills. */
const SYMBOLS: Record<string, string> = {
  check: '<path d="M3 8.5l3.2 3.2L13 4.8" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/>',
  cross: '<path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/>',
  dot: '<circle cx="8" cy="8" r="4.5" fill="currentColor"/>',
  ring: '<circle cx="8" cy="8" r="4.5" fill="none" stroke="currentColor" stroke-width="1.6"/>',
  half: '<circle cx="8" cy="8" r="5" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M8 3a5 5 0 0 1 0 10z" fill="currentColor"/>',
  clock: '<circle cx="8" cy="8" r="5.6" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M8 4.8V8l2.3 1.6" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/>',
  stopwatch: '<circle cx="8" cy="9.2" r="5" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M6.3 1.8h3.4M8 1.8v2.4M8 9.2l2-2" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/>',
  alert: '<path d="M8 2.2l6.3 11.3H1.7z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"/><path d="M8 6.3v3.4" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/><circle cx="8" cy="11.7" r="0.9" fill="currentColor"/>',
  slash: '<circle cx="8" cy="8" r="5.6" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M4 12l8-8" stroke="currentColor" stroke-width="1.6"/>',
  pause: '<rect x="4" y="3.5" width="2.6" height="9" rx="0.6" fill="currentColor"/><rect x="9.4" y="3.5" width="2.6" height="9" rx="0.6" fill="currentColor"/>',
  play: '<path d="M5 3.5v9l7.5-4.5z" fill="currentColor"/>',
  copy: '<rect x="5.5" y="5.5" width="8" height="8" rx="1.2" fill="none" stroke="currentColor" stroke-width="1.4"/><path d="M10.5 3.5v-.3A1.2 1.2 0 0 0 9.3 2H3.7A1.2 1.2 0 0 0 2.5 3.2v5.6a1.2 1.2 0 0 0 1.2 1.2h.3" fill="none" stroke="currentColor" stroke-width="1.4"/>',
  download: '<path d="M8 2.5v7.5M4.8 7l3.2 3.2L11.2 7M3 13.3h10" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/>',
  back: '<path d="M9.8 3.5L5.3 8l4.5 4.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
  right: '<path d="M6 3.5L10.5 8 6 12.5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
  down: '<path d="M3.5 6L8 10.5 12.5 6" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
  sun: '<circle cx="8" cy="8" r="3" fill="currentColor"/><path d="M8 1v2M8 13v2M1 8h2M13 8h2M3 3l1.4 1.4M11.6 11.6L13 13M3 13l1.4-1.4M11.6 4.4L13 3" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/>',
  moon: '<path d="M12.8 10.4A5.6 5.6 0 0 1 5.6 3.2a5.6 5.6 0 1 0 7.2 7.2z" fill="currentColor"/>',
  megaphone: '<path d="M2.5 6.3v3.4h2.2l5.8 3V3.3l-5.8 3z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/><path d="M5.2 9.9l.9 3.1M12.6 6.2a2.2 2.2 0 0 1 0 3.6" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/>',
  link: '<path d="M6.6 9.4l2.8-2.8M7.2 4.6l1-1a2.5 2.5 0 0 1 3.6 3.6l-1 1M8.8 11.4l-1 1a2.5 2.5 0 0 1-3.6-3.6l1-1" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"/>',
};

const STATUS_SYMBOL: Record<NodeStatus, string> = {
  waiting: 'ring',
  requested: 'half',
  scheduled: 'half',
  delayed: 'clock',
  pending: 'clock',
  running: 'dot',
  succeeded: 'check',
  failed: 'cross',
  timeout: 'stopwatch',
  abandoned: 'alert',
  canceling: 'slash',
  canceled: 'slash',
  pausing: 'pause',
  paused: 'pause',
  resuming: 'play',
};

const NS = 'http://www.w3.org/2000/svg';

/** Adds the sprite to the document once. */
export function installIcons(doc: Document = document): void {
  if (doc.getElementById('stormdesk-icons')) return;
  const sprite = doc.createElementNS(NS, 'svg');
  sprite.setAttribute('id', 'stormdesk-icons');
  sprite.setAttribute('aria-hidden', 'true');
  sprite.setAttribute('style', 'position:absolute;width:0;height:0;overflow:hidden');
  sprite.innerHTML = Object.entries(SYMBOLS)
    .map(([name, body]) => `<symbol id="i-${name}" viewBox="0 0 16 16">${body}</symbol>`)
    .join('');
  doc.body.prepend(sprite);
}

/** The symbol drawn for a status. */
export function statusSymbol(status: NodeStatus): string {
  return STATUS_SYMBOL[status] ?? 'ring';
}

/** `<svg class="i"><use href="#i-NAME"/></svg>` as markup. */
export function iconHtml(name: string, cls = ''): string {
  return `<svg class="i${cls ? ` ${cls}` : ''}" aria-hidden="true"><use href="#i-${name}"></use></svg>`;
}

/** The icon `name` as an element. */
export function icon(name: string, cls = ''): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', `i${cls ? ` ${cls}` : ''}`);
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(NS, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

/** A status's icon as an element (`title` says the status). */
export function statusIconEl(status: NodeStatus): HTMLElement {
  const span = document.createElement('span');
  span.className = 'icon';
  span.title = status;
  span.innerHTML = iconHtml(statusSymbol(status));
  return span;
}
