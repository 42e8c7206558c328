// Output as it streams: one execution's chunks as they come, or a combined
// tail of a whole subtree where each line carries its task path
// (`deploy > hosts[2] > restart`). Appends are batched per animation frame and
// the pane keeps the last MAX_PIECES pieces.

import type { OutputChunk } from '../lib/types';
import { h } from './dom';

const MAX_PIECES = 5000;

export interface OutputPane {
  readonly element: HTMLElement;
  clear(): void;
  /** One chunk; `prefix` (combined panes) is the task path of its execution. */
  push(executionId: string, chunk: OutputChunk, prefix?: string): void;
  /** Ends the execution's unfinished line (combined panes). */
  end(executionId: string, prefix?: string): void;
}

export function outputPane(label: string, combined: boolean): OutputPane {
  const element = h('pre', { class: combined ? 'output combined' : 'output', 'aria-label': label, 'aria-live': 'polite' });
  let pending: Node[] = [];
  let frame = 0;
  const partial = new Map<string, { text: string; stream: string }>();

  function flush(): void {
    frame = 0;
    if (pending.length === 0) return;
    const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - 4;
    const fragment = document.createDocumentFragment();
    fragment.append(...pending);
    pending = [];
    element.append(fragment);
    let excess = element.childNodes.length - MAX_PIECES;
    while (excess-- > 0 && element.firstChild) element.firstChild.remove();
    if (atBottom) element.scrollTop = element.scrollHeight;
  }

  function queue(node: Node): void {
    pending.push(node);
    if (frame === 0) frame = requestAnimationFrame(flush);
  }

  function line(prefix: string, text: string, stream: string): Node {
    return h('span', { class: `line ${stream}` }, h('span', { class: 'prefix' }, prefix), text, '\n');
  }

  return {
    element,
    clear() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      pending = [];
      partial.clear();
      element.replaceChildren();
    },
    push(executionId, chunk, prefix = '') {
      if (!combined) {
        queue(h('span', { class: `chunk ${chunk.output_type}` }, chunk.data));
        return;
      }
      const key = `${executionId}:${chunk.output_type}`;
      const before = partial.get(key)?.text ?? '';
      const pieces = (before + chunk.data).split('\n');
      const rest = pieces.pop() ?? '';
      for (const piece of pieces) queue(line(prefix, piece, chunk.output_type));
      if (rest) partial.set(key, { text: rest, stream: chunk.output_type });
      else partial.delete(key);
    },
    end(executionId, prefix = '') {
      for (const stream of ['stdout', 'stderr', 'other']) {
        const key = `${executionId}:${stream}`;
        const left = partial.get(key);
        if (left) {
          queue(line(prefix, left.text, left.stream));
          partial.delete(key);
        }
      }
    },
  };
}
