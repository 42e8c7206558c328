// The execution's header: status, action, id, revision, who ran it, when
// (absolute with timezone and relative; UTC/local toggle), how long (ticking
// while it runs), Cancel / Pause / Resume / Re-run, and, when it failed,
// where and why: the failing task's path (a link that selects it), its exit
// code or error and the tail of its stderr.

import type { FailureSummary } from '../lib/failure';
import { copyText } from '../lib/save';
import { formatDuration, formatTime, relativeSpan, setZone, zone } from '../lib/time';
import { actionRef, commitOf, contentVersion, isCompleted, isWorkflow, userOf, type Execution, type Status } from '../lib/types';
import { append, clear, h } from './dom';
import { icon } from './icons';
import { elapsed } from './tree-view';

export function statusBadge(status: Status): HTMLElement {
  return h('span', { class: `badge ${statusToneOf(status)}`, 'data-status': status }, status);
}

function statusToneOf(status: Status): string {
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
    default:
      return 'busy';
  }
}

/** `v1.2.0 → 1a2b3c4`: the revision asked for and the commit it resolved to. */
export function revisionText(execution: Execution): string {
  const rev = contentVersion(execution);
  const commit = commitOf(execution);
  const short = commit ? commit.slice(0, 7) : '';
  if (rev && short && !commit?.startsWith(rev)) return `${rev} → ${short}`;
  return rev ?? short;
}

export interface HeaderActions {
  cancel(): Promise<unknown>;
  pause(): Promise<unknown>;
  resume(): Promise<unknown>;
  reRun(): void;
  /** Selects the failing node. */
  showFailure(summary: FailureSummary): void;
  /** Where "back" goes (History with its filters), when the run was opened from there. */
  back: () => string | null;
}

export interface ExecutionHeader {
  readonly element: HTMLElement;
  readonly failure: HTMLElement;
  render(execution: Execution): void;
  /** Updates the times only. */
  tick(): void;
  setFailure(summary: FailureSummary | null): void;
  showError(error: string): void;
  hideError(): void;
}

export function executionHeader(actions: HeaderActions): ExecutionHeader {
  const element = h('div', { class: 'execution-header' });
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const failure = h('div', { class: 'failure', role: 'alert', hidden: true });
  let current: Execution | null = null;

  function button(label: string, title: string, run: () => Promise<unknown>): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'secondary', title, 'data-action': label.toLowerCase() }, label);
    b.addEventListener('click', () => {
      b.disabled = true;
      message.hidden = true;
      run()
        .catch((error: unknown) => showError(error instanceof Error ? error.message : String(error)))
        .finally(() => {
          b.disabled = false;
        });
    });
    return b;
  }

  function showError(text: string): void {
    message.textContent = text;
    message.hidden = false;
  }

  function timing(execution: Execution): string {
    const seconds = elapsed(execution);
    return seconds === null ? '' : formatDuration(seconds);
  }

  function render(execution: Execution): void {
    current = execution;
    clear(element);
    const done = isCompleted(execution.status);
    const workflow = isWorkflow(execution);
    const revision = revisionText(execution);
    const user = userOf(execution);
    const backTo = actions.back();
    const utc = zone() === 'utc';
    const zoneButton = h(
      'button',
      {
        type: 'button',
        class: 'link zone-toggle',
        title: utc ? 'Times are in UTC: show them in local time' : 'Times are in local time: show them in UTC',
        'aria-label': utc ? 'Show times in local time' : 'Show times in UTC',
        onClick: () => setZone(utc ? 'local' : 'utc'),
      },
      utc ? 'show local time' : 'show UTC',
    );
    append(element, [
      h(
        'div',
        { class: 'header-main' },
        backTo ? h('a', { href: backTo, class: 'back-link', title: 'Back to History' }, icon('back'), 'History') : null,
        statusBadge(execution.status),
        h('strong', { class: 'execution-action', title: actionRef(execution) }, actionRef(execution)),
        h(
          'span',
          { class: 'id-group' },
          h('code', { class: 'execution-id', title: 'Execution id' }, execution.id),
          h(
            'button',
            { type: 'button', class: 'icon-button small', title: 'Copy the execution id', 'aria-label': 'Copy execution id', onClick: () => void copyText(execution.id) },
            icon('copy'),
          ),
        ),
        revision ? h('code', { class: 'revision', title: `revision ${contentVersion(execution) ?? '(current)'}, commit ${commitOf(execution) ?? '?'}` }, revision) : null,
        h(
          'span',
          { class: 'buttons' },
          done ? null : button('Cancel', 'Cancel (c)', actions.cancel),
          workflow && (execution.status === 'running' || execution.status === 'resuming') ? button('Pause', 'Pause (p)', actions.pause) : null,
          workflow && (execution.status === 'paused' || execution.status === 'pausing') ? button('Resume', 'Resume (p)', actions.resume) : null,
          button('Re-run', 'Re-run with the same parameters, editable (r)', async () => actions.reRun()),
        ),
      ),
      h(
        'div',
        { class: 'header-meta muted' },
        user ? h('span', { 'data-user': '' }, `by ${user}`) : null,
        h('span', { title: execution.start_timestamp, 'data-started': '' }, `started ${formatTime(execution.start_timestamp)}`, relativeSpan(execution.start_timestamp, { paren: true })),
        execution.end_timestamp ? h('span', { title: execution.end_timestamp }, `ended ${formatTime(execution.end_timestamp, { date: false })}`) : null,
        h('span', {}, done ? 'took ' : 'running for ', h('span', { 'data-timing': '' }, timing(execution))),
        zoneButton,
      ),
      message,
    ]);
  }

  return {
    element,
    failure,
    render,
    tick() {
      if (!current) return;
      const t = element.querySelector<HTMLElement>('[data-timing]');
      if (t) t.textContent = timing(current);
    },
    setFailure(summary) {
      clear(failure);
      failure.hidden = summary === null;
      if (!summary) return;
      const verb = summary.status === 'timeout' ? 'Timed out' : summary.status === 'abandoned' ? 'Abandoned' : 'Failed';
      const where = summary.node
        ? [
            h('strong', {}, `${verb} at `),
            h('button', { type: 'button', class: 'link failure-link', title: 'Show this task', onClick: () => actions.showFailure(summary) }, summary.path),
          ]
        : [h('strong', {}, verb)];
      append(failure, [
        h('p', { class: 'failure-where' }, where, h('span', { class: 'failure-reason' }, `: ${summary.reason}`)),
        summary.tail ? h('pre', { class: 'failure-tail', 'aria-label': 'Last lines of stderr' }, summary.tail) : null,
      ]);
    },
    showError,
    hideError() {
      message.hidden = true;
    },
  };
}
