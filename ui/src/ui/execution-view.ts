// One execution: status badge, live output, result.

import { BackendError, type Backend, type OutputFollow } from '../lib/backend';
import { isCompleted, type Execution, type OutputChunk, type Status } from '../lib/types';
import { append, clear, h } from './dom';

export interface ExecutionView {
  readonly element: HTMLElement;
  /** Shows `execution` and follows its output until it completes. */
  follow(execution: Execution): void;
  /** An update from the event stream: applied if it is the execution shown. */
  update(execution: Execution): void;
  /** Refetches the execution shown (after missed events). */
  refresh(): void;
}

function tone(status: Status): string {
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

export function statusBadge(status: Status): HTMLElement {
  return h('span', { class: `badge ${tone(status)}`, 'data-status': status }, status);
}

export function executionView(backend: Backend): ExecutionView {
  let current: Execution | null = null;
  let following: OutputFollow | null = null;

  const header = h('div', { class: 'execution-header' });
  const output = h('pre', { class: 'output', 'aria-label': 'Output', 'aria-live': 'polite' });
  const result = h('pre', { class: 'result', 'aria-label': 'Result' });
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const element = h(
    'section',
    { class: 'execution', hidden: true, 'aria-label': 'Execution' },
    header,
    message,
    h('h3', {}, 'Output'),
    output,
    h('h3', {}, 'Result'),
    result,
  );

  function showError(error: unknown): void {
    message.textContent = BackendError.from(error).message;
    message.hidden = false;
  }

  function renderHeader(execution: Execution): void {
    clear(header);
    const cancel = h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onClick: () => {
          cancel.disabled = true;
          backend.cancel(execution.id).then(apply, showError);
        },
      },
      'Cancel',
    );
    append(header, [
      statusBadge(execution.status),
      h('code', { class: 'execution-id', title: 'Execution id' }, execution.id),
      h('span', { class: 'muted' }, timing(execution)),
      isCompleted(execution.status) ? null : cancel,
    ]);
  }

  function apply(execution: Execution): void {
    if (!current || execution.id !== current.id) return;
    current = execution;
    renderHeader(execution);
    result.textContent = isCompleted(execution.status) ? JSON.stringify(execution.result, null, 2) : '';
    result.classList.toggle('pending', !isCompleted(execution.status));
  }

  function appendChunk(chunk: OutputChunk): void {
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.append(h('span', { class: `chunk ${chunk.stream}` }, chunk.data));
    if (atBottom) output.scrollTop = output.scrollHeight;
  }

  return {
    element,
    follow(execution) {
      following?.stop();
      current = execution;
      element.hidden = false;
      message.hidden = true;
      clear(output);
      apply(execution);
      element.scrollIntoView({ block: 'nearest' });
      const follow = backend.followOutput(execution.id, appendChunk);
      following = follow;
      follow.done.then(
        (done) => {
          if (following === follow) apply(done);
        },
        (error: unknown) => {
          if (following === follow) showError(error);
        },
      );
    },
    update: apply,
    refresh() {
      if (current) backend.getExecution(current.id).then(apply, showError);
    },
  };
}

function timing(execution: Execution): string {
  const started = new Date(execution.start_timestamp);
  const at = Number.isNaN(started.getTime()) ? execution.start_timestamp : started.toLocaleTimeString();
  if (execution.elapsed_seconds !== null && execution.elapsed_seconds !== undefined) {
    return `${execution.action} · started ${at} · ${execution.elapsed_seconds.toFixed(2)} s`;
  }
  return `${execution.action} · started ${at}`;
}
