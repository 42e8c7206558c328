// A loud run's log in the console's real output view (ui/output-view.ts,
// behind the real output hub, lib/output-hub.ts): `lines` lines (default
// 200,000, what `seq 1 200000` prints) read as a backlog of 4 KiB chunks,
// the way the engine serves a finished run's output. Measures the time from
// show() until the view says it holds every line, the longest main-thread
// task and the line elements made, against a baseline in the same run: the
// same chunks joined, split into lines and the last 5,000 written into one
// <pre> (the least any viewer does). Median of `runs` runs (default 5).
// Results in `window.__bench`.
//
// The engine is replaced by an in-memory source of the chunks: this
// measures the console, not the engine.

import '../../ui/src/styles.css';

import type { Backend } from '../../ui/src/lib/backend';
import { OutputHub } from '../../ui/src/lib/output-hub';
import type { OutputChunk } from '../../ui/src/lib/types';
import { MAX_LINES, outputView } from '../../ui/src/ui/output-view';

const query = new URLSearchParams(location.search);
const LINES = Number(query.get('lines') ?? 200_000);
const RUNS = Number(query.get('runs') ?? 5);

function chunks(id: string): OutputChunk[] {
  let text = '';
  for (let i = 1; i <= LINES; i++) text += `${i}\n`;
  const out: OutputChunk[] = [];
  const timestamp = new Date().toISOString();
  for (let at = 0, seq = 0; at < text.length; at += 4096, seq++) {
    out.push({ execution_id: id, action_ref: 'core.local', runner_ref: 'local-shell-cmd', seq, output_type: 'stdout', data: text.slice(at, at + 4096), timestamp });
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Resolves once `el`'s text is `text`. */
function textBecomes(el: HTMLElement, text: string): Promise<void> {
  return new Promise((done) => {
    if (el.textContent === text) return done();
    const observer = new MutationObserver(() => {
      if (el.textContent === text) {
        observer.disconnect();
        done();
      }
    });
    observer.observe(el, { childList: true, characterData: true, subtree: true });
  });
}

async function viewOnce(run: number): Promise<{ ms: number; longest: number; elements: number }> {
  const id = `loud${run}`;
  const all = chunks(id);
  const source = { output: async (_id: string, afterSeq?: number) => (afterSeq === undefined ? all : all.filter((c) => c.seq > afterSeq)) };
  const hub = new OutputHub(source);
  const view = outputView(source as unknown as Backend, hub);
  const app = document.getElementById('app') as HTMLElement;
  app.replaceChildren(view.element);
  let longest = 0;
  const po = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
  });
  po.observe({ type: 'longtask', buffered: false });
  const note = view.element.querySelector('.output-note') as HTMLElement;
  const start = performance.now();
  view.show([{ id, prefix: '' }], false, id);
  view.setDone(true);
  await textBecomes(note, `${LINES.toLocaleString()} line${LINES === 1 ? '' : 's'}`);
  void (view.element as HTMLElement).offsetHeight;
  const ms = performance.now() - start;
  // Long tasks are reported after they end: wait a turn, then take them.
  await new Promise((done) => setTimeout(done, 50));
  for (const entry of po.takeRecords()) longest = Math.max(longest, entry.duration);
  po.disconnect();
  const elements = view.element.querySelectorAll('.line').length;
  view.clear();
  return { ms, longest, elements };
}

function baselineOnce(run: number): number {
  const all = chunks(`base${run}`);
  const pre = document.createElement('pre');
  (document.getElementById('app') as HTMLElement).replaceChildren(pre);
  const start = performance.now();
  const lines = all.map((c) => c.data).join('').split('\n');
  pre.textContent = lines.slice(-MAX_LINES - 1).join('\n');
  void pre.offsetHeight;
  return performance.now() - start;
}

async function run(): Promise<void> {
  const views: { ms: number; longest: number; elements: number }[] = [];
  const baselines: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    baselines.push(baselineOnce(i));
    views.push(await viewOnce(i));
  }
  (window as unknown as Record<string, unknown>)['__bench'] = {
    page: 'output',
    lines: LINES,
    runs: RUNS,
    viewMs: median(views.map((v) => v.ms)),
    longestTaskMs: median(views.map((v) => v.longest)),
    lineElements: Math.max(...views.map((v) => v.elements)),
    baselineMs: median(baselines),
  };
}

run().catch((error: unknown) => {
  (window as unknown as Record<string, unknown>)['__bench'] = { error: String(error) };
});
