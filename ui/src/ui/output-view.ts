// Output as the operator reads it: the lines of one execution, or of every
// task below a workflow node merged in time order, each line prefixed with
// its task path (`deploy > hosts[2] > restart`). Lines come from
// lib/output-hub.ts (backlog and live merged by seq, nothing dropped), are
// drawn at most once per frame, and a line that has not ended yet shows as
// it grows. A toolbar toggles per-line timestamps, copies what is shown and
// downloads the whole log.

import type { Backend } from '../lib/backend';
import type { OutputHub } from '../lib/output-hub';
import { outputTimestamps, saveOutputTimestamps } from '../lib/prefs';
import { saveText } from '../lib/save';
import { formatTime, onZoneChange } from '../lib/time';
import type { OutputChunk } from '../lib/types';
import { h } from './dom';
import { icon } from './icons';

/** Lines kept on screen; the download has them all. */
export const MAX_LINES = 5000;

export interface OutputSourceSpec {
  /** Execution id. */
  id: string;
  /** Task path shown before each line (multi-execution views). */
  prefix: string;
}

export interface OutputView {
  readonly element: HTMLElement;
  /**
   * Shows these executions' output; `multi` prefixes lines with their task
   * path. `all` lists every execution the download takes (default: those shown).
   */
  show(sources: OutputSourceSpec[], multi: boolean, name: string, all?: () => OutputSourceSpec[]): void;
  /** Adds an execution to what is shown (a task that appeared). */
  add(source: OutputSourceSpec): void;
  /** Whether every execution shown has completed (for "No output" vs "Waiting for output"). */
  setDone(done: boolean): void;
  /** Stops following (the view is hidden or replaced). */
  clear(): void;
  /** Plain text of what is shown (copy). */
  text(): string;
}

/** How a line reads: errors red, warnings amber, the rest plain (stderr or not). */
export function lineTone(text: string): '' | 'bad' | 'warn' {
  if (/\b(ERROR|CRITICAL|FATAL)\b|Traceback \(most recent call last\)|^\s*[A-Za-z_.]*(Error|Exception)\b:/.test(text)) return 'bad';
  if (/\bWARN(ING)?\b/.test(text)) return 'warn';
  return '';
}

interface Line {
  /** Sort key: time of the chunk the line started in, source order, seq, index. */
  t: number;
  source: number;
  seq: number;
  index: number;
  stream: string;
  timestamp: string;
  prefix: string;
  text: string;
  /** Its element, made only when the line is drawn (a line past the cap never is). */
  el: HTMLElement | null;
}

interface Source {
  spec: OutputSourceSpec;
  order: number;
  unsubscribe: () => void;
  /** The line still growing, per stream. */
  partial: Map<string, Line>;
  loaded: boolean;
}

function before(a: Line, b: Line): boolean {
  if (a.t !== b.t) return a.t < b.t;
  if (a.source !== b.source) return a.source < b.source;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.index < b.index;
}

export function outputView(backend: Backend, hub: OutputHub): OutputView {
  const times = h('input', { type: 'checkbox', class: 'output-times', checked: outputTimestamps(), 'aria-label': 'Timestamps' });
  const copyButton = h('button', { type: 'button', class: 'icon-button small', title: 'Copy the output shown', 'aria-label': 'Copy output' }, icon('copy'));
  const downloadButton = h('button', { type: 'button', class: 'icon-button small', title: 'Download the whole log', 'aria-label': 'Download log' }, icon('download'));
  const note = h('span', { class: 'muted output-note', role: 'status' });
  const hidden = h('p', { class: 'muted output-hidden', hidden: true });
  const body = h('div', { class: 'output-lines' });
  const empty = h('p', { class: 'muted output-empty' }, 'Loading output…');
  const pane = h('pre', { class: 'output', 'aria-label': 'Output log', 'aria-live': 'polite', tabindex: 0 }, hidden, body, empty);
  const toolbar = h(
    'div',
    { class: 'output-toolbar' },
    h('label', { class: 'inline' }, times, ' Timestamps'),
    note,
    copyButton,
    downloadButton,
  );
  const element = h('div', { class: 'output-view' }, toolbar, pane);

  let sources: Source[] = [];
  let everything: (() => OutputSourceSpec[]) | null = null;
  let multi = false;
  let name = 'output';
  let done = false;
  let lines: Line[] = [];
  let dropped = 0;
  let queue: Line[] = [];
  let frame = 0;
  let generation = 0;

  function applyTimes(): void {
    pane.classList.toggle('with-times', times.checked);
  }
  applyTimes();
  times.addEventListener('change', () => {
    saveOutputTimestamps(times.checked);
    applyTimes();
  });
  onZoneChange(() => {
    for (const line of lines) {
      const ts = line.el?.firstChild as HTMLElement | null | undefined;
      if (ts) ts.textContent = formatTime(line.timestamp, { date: false, ms: true, zone: false });
    }
  });

  function drawEmpty(): void {
    if (lines.length > 0 || queue.length > 0) {
      empty.hidden = true;
      return;
    }
    empty.hidden = false;
    const loaded = sources.every((s) => s.loaded);
    empty.textContent = !loaded ? 'Loading output…' : done ? 'No output' : sources.length === 0 ? 'No task has started yet.' : 'Waiting for output…';
  }

  function makeLine(source: Source, chunk: OutputChunk, index: number, text: string): Line {
    const t = Date.parse(chunk.timestamp);
    return {
      t: Number.isNaN(t) ? 0 : t,
      source: source.order,
      seq: chunk.seq,
      index,
      stream: chunk.output_type,
      timestamp: chunk.timestamp,
      prefix: source.spec.prefix,
      text,
      el: null,
    };
  }

  /** The line's element, made on first use. */
  function draw(line: Line): HTMLElement {
    if (!line.el) {
      line.el = h(
        'div',
        { class: `line ${line.stream === 'stderr' ? 'err' : 'out'}` },
        h('span', { class: 'ts' }, formatTime(line.timestamp, { date: false, ms: true, zone: false })),
        multi ? h('span', { class: 'prefix' }, line.prefix) : null,
        h('span', { class: 'text' }),
      );
      paint(line, line.el);
    }
    return line.el;
  }

  function paint(line: Line, el: HTMLElement): void {
    (el.lastChild as HTMLElement).textContent = line.text;
    const tone = lineTone(line.text);
    el.classList.toggle('bad', tone === 'bad');
    el.classList.toggle('warn', tone === 'warn');
  }

  function setText(line: Line, text: string): void {
    line.text = text;
    if (line.el) paint(line, line.el);
  }

  function receive(source: Source, chunks: OutputChunk[], mine: number): void {
    if (mine !== generation) return;
    if (chunks.length === 0) {
      source.loaded = true;
      schedule();
      return;
    }
    for (const chunk of chunks) {
      const pieces = chunk.data.replace(/\r\n/g, '\n').split('\n');
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        if (last && piece === '') return; // The chunk ended its line.
        const growing = source.partial.get(chunk.output_type);
        if (i === 0 && growing) {
          setText(growing, growing.text + piece);
          if (!last) source.partial.delete(chunk.output_type);
          return;
        }
        const line = makeLine(source, chunk, i, piece);
        queue.push(line);
        if (last) source.partial.set(chunk.output_type, line);
      });
    }
    schedule();
  }

  function schedule(): void {
    if (frame === 0) frame = requestAnimationFrame(flush);
  }

  /** Index where `line` goes in `lines` (after every line before it). */
  function position(line: Line): number {
    let lo = 0;
    let hi = lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(line, lines[mid] as Line)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  function flush(): void {
    frame = 0;
    const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 8;
    const batch = queue;
    queue = [];
    // Lines in order go to the end: gathered, cut to the cap, then drawn in
    // one fragment, so a burst of any size makes at most MAX_LINES elements.
    let tail: Line[] = [];
    const appendTail = (): void => {
      if (tail.length === 0) return;
      trim();
      // `tail` is the end of `lines`: what the cap left of it is drawn.
      const fragment = document.createDocumentFragment();
      for (const line of tail.slice(tail.length - Math.min(tail.length, lines.length))) fragment.appendChild(draw(line));
      body.appendChild(fragment);
      tail = [];
    };
    for (const line of batch) {
      const last = lines[lines.length - 1];
      if (!last || !before(line, last)) {
        lines.push(line);
        tail.push(line);
        continue;
      }
      appendTail();
      const at = position(line);
      if (at === 0 && dropped > 0) {
        // Older than what is kept on screen: only the download has it.
        dropped++;
        continue;
      }
      const next = lines[at] as Line;
      lines.splice(at, 0, line);
      body.insertBefore(draw(line), draw(next));
    }
    appendTail();
    trim();
    hidden.hidden = dropped === 0;
    hidden.textContent = `${dropped.toLocaleString()} earlier line${dropped === 1 ? '' : 's'} not shown here: Download has the whole log.`;
    note.textContent = lines.length > 0 ? `${(lines.length + dropped).toLocaleString()} line${lines.length + dropped === 1 ? '' : 's'}` : '';
    drawEmpty();
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  }

  /** Keeps the last MAX_LINES lines on the page; the rest are counted. */
  function trim(): void {
    const excess = lines.length - MAX_LINES;
    if (excess <= 0) return;
    for (const line of lines.splice(0, excess)) {
      line.el?.remove();
      line.el = null;
    }
    dropped += excess;
  }

  function add(spec: OutputSourceSpec): void {
    if (sources.some((s) => s.spec.id === spec.id)) return;
    const mine = generation;
    const source: Source = { spec, order: sources.length, unsubscribe: () => {}, partial: new Map(), loaded: false };
    sources.push(source);
    source.unsubscribe = hub.subscribe(spec.id, (chunks) => {
      if (hub.loaded(spec.id)) source.loaded = true;
      receive(source, chunks, mine);
    });
    schedule();
  }

  function clear(): void {
    generation++;
    for (const s of sources) s.unsubscribe();
    sources = [];
    lines = [];
    queue = [];
    dropped = 0;
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    body.replaceChildren();
    hidden.hidden = true;
    note.textContent = '';
    drawEmpty();
  }

  function text(): string {
    return lines.map((l) => `${times.checked ? `${l.timestamp} ` : ''}${multi ? `${l.prefix} | ` : ''}${l.text}`).join('\n');
  }

  async function download(): Promise<void> {
    note.textContent = 'Preparing the log…';
    const all: Line[] = [];
    const specs = everything ? everything() : sources.map((s) => s.spec);
    for (const [order, spec] of specs.entries()) {
      const source = { spec, order };
      if (specs.length > 20) note.textContent = `Preparing the log… ${order + 1} of ${specs.length}`;
      const chunks = await backend.output(spec.id);
      const partial = new Map<string, Line>();
      for (const chunk of chunks) {
        const pieces = chunk.data.replace(/\r\n/g, '\n').split('\n');
        pieces.forEach((piece, i) => {
          const last = i === pieces.length - 1;
          if (last && piece === '') return;
          const growing = partial.get(chunk.output_type);
          if (i === 0 && growing) {
            growing.text += piece;
            if (!last) partial.delete(chunk.output_type);
            return;
          }
          const t = Date.parse(chunk.timestamp);
          const line = { t: Number.isNaN(t) ? 0 : t, source: source.order, seq: chunk.seq, index: i, stream: chunk.output_type, timestamp: chunk.timestamp, prefix: source.spec.prefix, text: piece } as Line;
          all.push(line);
          if (last) partial.set(chunk.output_type, line);
        });
      }
    }
    all.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    const content = `${all.map((l) => `${times.checked ? `${l.timestamp} ` : ''}${multi ? `${l.prefix} | ` : ''}${l.text}`).join('\n')}\n`;
    const where = await saveText(`${name}.log`, content);
    note.textContent = where ? `Saved ${where}` : `Downloaded ${name}.log`;
  }

  copyButton.addEventListener('click', () => {
    void navigator.clipboard?.writeText(text()).then(
      () => (note.textContent = 'Copied'),
      () => (note.textContent = 'Copy is not allowed here'),
    );
  });
  downloadButton.addEventListener('click', () => {
    downloadButton.disabled = true;
    download()
      .catch((error: unknown) => {
        note.textContent = `Download failed: ${error instanceof Error ? error.message : String(error)}`;
      })
      .finally(() => {
        downloadButton.disabled = false;
      });
  });

  return {
    element,
    show(list, isMulti, fileName, all) {
      clear();
      multi = isMulti;
      name = fileName;
      everything = all ?? null;
      pane.classList.toggle('combined', multi);
      for (const spec of list) add(spec);
      drawEmpty();
    },
    add(spec) {
      add(spec);
    },
    setDone(value) {
      if (done === value) return;
      done = value;
      drawEmpty();
    },
    clear,
    text,
  };
}
