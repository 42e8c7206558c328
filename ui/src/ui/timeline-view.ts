// The Timeline tab: for a workflow node, one bar per task over time (a
// Gantt chart: when each started and ended, the running ones growing), and
// for any node its status log with timestamps.

import { formatDuration, formatTime, secondsBetween } from '../lib/time';
import type { TreeModel, TreeNode } from '../lib/tree';
import { isWorkflow, type Execution } from '../lib/types';
import { h } from './dom';
import { iconHtml, statusSymbol } from './icons';
import { statusTone } from './tree-view';

/** Bars drawn at most; the rest are counted. */
const MAX_BARS = 400;

function time(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? NaN : t;
}

/** The status log of one execution: each status and when, with the offset from its start. */
export function statusLog(execution: Execution): HTMLElement {
  const start = time(execution.start_timestamp);
  const entries = execution.log ?? [];
  if (entries.length === 0) return h('p', { class: 'muted' }, 'No status changes recorded.');
  return h(
    'table',
    { class: 'kv status-log', 'aria-label': 'Status log' },
    h('thead', {}, h('tr', {}, h('th', {}, 'status'), h('th', {}, 'at'), h('th', {}, 'after start'))),
    h(
      'tbody',
      {},
      entries.map((entry) => {
        const at = time(entry.timestamp);
        const icon = h('span', { class: `icon ${statusTone(entry.status)}` });
        icon.innerHTML = iconHtml(statusSymbol(entry.status));
        return h(
          'tr',
          { 'data-status': entry.status },
          h('th', {}, icon, ` ${entry.status}`),
          h('td', { title: entry.timestamp }, formatTime(entry.timestamp, { ms: true })),
          h('td', {}, Number.isNaN(at) || Number.isNaN(start) ? '' : `+${formatDuration(Math.max(0, (at - start) / 1000))}`),
        );
      }),
    ),
  );
}

/**
 * The Gantt chart of `top`'s subtree: every execution below it, depth first,
 * as a bar from its start to its end (to now while it runs).
 */
export function gantt(model: TreeModel, top: TreeNode, onSelect: (node: TreeNode) => void, now = Date.now()): HTMLElement {
  const nodes = model.subtree(top).filter((n) => n !== top && n.execution);
  if (nodes.length === 0) return h('p', { class: 'muted' }, 'No task has started yet.');
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const n of nodes) {
    const e = n.execution as Execution;
    const s = time(e.start_timestamp);
    const end = e.end_timestamp ? time(e.end_timestamp) : now;
    if (!Number.isNaN(s)) first = Math.min(first, s);
    if (!Number.isNaN(end)) last = Math.max(last, end);
  }
  if (!Number.isFinite(first) || !Number.isFinite(last)) return h('p', { class: 'muted' }, 'No times recorded.');
  const span = Math.max(1, last - first);
  const shown = nodes.slice(0, MAX_BARS);
  const rows = shown.map((n) => {
    const e = n.execution as Execution;
    // A record without a start (not yet filled in) is drawn from the first
    // start; every bar keeps a visible width, the last one too (an instant
    // task that ends the run would otherwise start at 100% with no room).
    const s = Number.isNaN(time(e.start_timestamp)) ? first : time(e.start_timestamp);
    const endAt = e.end_timestamp ? time(e.end_timestamp) : now;
    const end = Number.isNaN(endAt) ? s : endAt;
    const width = Math.max(0.4, ((end - s) / span) * 100);
    const left = Math.min(((s - first) / span) * 100, 100 - width);
    const seconds = secondsBetween(e.start_timestamp, e.end_timestamp, now);
    const title = `${model.path(n)}: ${n.status}, ${formatTime(e.start_timestamp, { ms: true })}${seconds === null ? '' : `, ${formatDuration(seconds)}`}`;
    return h(
      'div',
      { class: `gantt-row ${statusTone(n.status)}`, 'data-key': n.key, 'data-status': n.status, title, onClick: () => onSelect(n) },
      h('span', { class: 'gantt-label', style: `padding-left:${(n.depth - top.depth - 1) * 12}px` }, n.label),
      h(
        'span',
        { class: 'gantt-track' },
        h('span', {
          class: `gantt-bar${isWorkflow(e) ? ' workflow' : ''}${e.end_timestamp ? '' : ' running'}`,
          style: `left:${left.toFixed(3)}%;width:${width.toFixed(3)}%`,
        }),
      ),
      h('span', { class: 'gantt-duration' }, seconds === null ? '' : formatDuration(seconds)),
    );
  });
  return h(
    'div',
    { class: 'gantt', role: 'figure', 'aria-label': 'Timeline' },
    h(
      'div',
      { class: 'gantt-axis' },
      h('span', { class: 'gantt-label muted' }, formatTime(new Date(first).toISOString(), { date: true, zone: true }).split(' ')[0]),
      h(
        'span',
        { class: 'gantt-scale' },
        h('span', {}, formatTime(new Date(first).toISOString(), { date: false, ms: true })),
        h('span', {}, formatTime(new Date(last).toISOString(), { date: false, ms: true })),
      ),
      h('span', { class: 'gantt-duration' }, formatDuration(span / 1000)),
    ),
    rows,
    nodes.length > MAX_BARS ? h('p', { class: 'muted' }, `${nodes.length - MAX_BARS} more tasks not drawn: select a subworkflow to see its own.`) : null,
  );
}
