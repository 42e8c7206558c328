// The live tree under load, in a real browser, inside the console's real
// two-pane execution view (ui/execution-view.ts: the tree at full height on
// the left, the selected node's details on the right, the output hub and
// the execution cache behind them): a synthetic workflow of 10,000 tasks
// nested three deep (root -> 10 subworkflows -> 10 subworkflows each -> 100
// tasks each), opened as from History, then live events at 1,000/s fed as
// the event stream feeds them. Measures time to show the tree, frame times
// while updating, and event-to-screen latency (event created -> its effect
// observed in the DOM). Baseline in the same run: a plain 10,000-row list
// written with innerHTML. Results in `window.__bench`.
//
// The engine is replaced by an in-memory backend that answers what the view
// asks (the run, its descendants, empty output): this measures the console,
// not the engine.

import '../../ui/src/styles.css';

import type { Backend } from '../../ui/src/lib/backend';
import { ExecutionCache } from '../../ui/src/lib/executions';
import { OutputHub } from '../../ui/src/lib/output-hub';
import type { Execution, Status } from '../../ui/src/lib/types';
import { executionView } from '../../ui/src/ui/execution-view';

const FAN = [10, 10, 100];
const RATE = Number(new URLSearchParams(location.search).get('rate') ?? 1000);
const EVENTS = Number(new URLSearchParams(location.search).get('events') ?? 10_000);

let serial = 0;
const start = new Date(Date.now() - 60_000).toISOString();

function execution(parent: string | null, task: string | null, item: number | null, runner: string, status: Status): Execution {
  const id = (serial++).toString(16).padStart(24, '0');
  const ref = runner === 'orquesta' ? 'bench.flow' : 'bench.step';
  const orquesta: Record<string, unknown> = {};
  if (task) orquesta['task_name'] = task;
  if (item !== null) orquesta['item_id'] = item;
  const e: Execution = {
    id,
    action: { id: ref, ref, uid: `action:${ref}`, name: ref.split('.')[1] as string, pack: 'bench', runner_type: runner, enabled: true, entry_point: '' },
    runner: { name: runner },
    parameters: {},
    status,
    start_timestamp: start,
    children: [],
    context: { user: 'bench', commit: '0123456789abcdef0123456789abcdef01234567', ...(task ? { orquesta } : {}) },
    log: [{ status: 'requested', timestamp: start }],
  };
  if (parent) e.parent = parent;
  return e;
}

/** The workflow: every node, parents first; the leaves are the tasks. */
function workflow(): { root: Execution; all: Execution[]; leaves: Execution[] } {
  const root = execution(null, null, null, 'orquesta', 'running');
  const all: Execution[] = [];
  const leaves: Execution[] = [];
  let level: Execution[] = [root];
  FAN.forEach((fan, depth) => {
    const next: Execution[] = [];
    for (const parent of level) {
      for (let i = 0; i < fan; i++) {
        const leaf = depth === FAN.length - 1;
        const e = execution(parent.id, leaf ? 'step' : `group${depth}`, i, leaf ? 'local-shell-cmd' : 'orquesta', leaf ? 'scheduled' : 'running');
        parent.children.push(e.id);
        next.push(e);
        all.push(e);
        if (leaf) leaves.push(e);
      }
    }
    level = next;
  });
  return { root, all, leaves };
}

/** What the view asks of an engine, answered from memory. */
function memoryBackend(root: Execution, all: Execution[]): Backend {
  const records = new Map<string, Execution>([[root.id, root], ...all.map((e) => [e.id, e] as [string, Execution])]);
  const none = (): Promise<never> => Promise.reject(new Error('not part of the benchmark'));
  return {
    transport: 'http',
    location: 'benchmark',
    listPacks: none,
    listActions: none,
    getAction: none,
    listRevisions: none,
    installPacks: none,
    updatePacks: none,
    run: none,
    reRun: none,
    getExecution: async (id) => records.get(id) as Execution,
    listExecutions: async () => [],
    descendants: async () => all,
    graph: async () => null,
    cancel: none,
    pause: none,
    resume: none,
    output: async () => [],
    listInquiries: async () => [],
    getInquiry: none,
    respondInquiry: none,
    onExecution: async () => () => {},
    onOutput: async () => () => {},
    onResync: async () => () => {},
  };
}

const frame = () => new Promise<number>((r) => requestAnimationFrame(r));
/** Resolves after the next paint: the frame after the one that rendered. */
async function painted(): Promise<number> {
  await frame();
  await frame();
  return performance.now();
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function summary(values: number[]) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : NaN,
  };
}

async function baseline(host: HTMLElement, leaves: Execution[]): Promise<number> {
  const div = document.createElement('div');
  div.style.cssText = 'height: 400px; overflow: auto';
  host.append(div);
  await painted();
  const t0 = performance.now();
  div.innerHTML = leaves.map((e, i) => `<div class="row" data-id="${e.id}"><span>${e.status}</span> step[${i}] <code>${e.action.ref}</code></div>`).join('');
  const t1 = await painted();
  div.remove();
  return t1 - t0;
}

async function run(): Promise<void> {
  const host = document.getElementById('app') as HTMLElement;
  const { root, all, leaves } = workflow();
  // Warm up the JIT and styles once, off the record.
  await baseline(host, leaves.slice(0, 500));

  const baselineMs = await baseline(host, leaves);

  // 1. Time to show: an existing 10,000-task run opened in the two-pane view.
  const work: number[] = [];
  let recording = false;
  const backend = memoryBackend(root, all);
  const cache = new ExecutionCache();
  const view = executionView(backend, new OutputHub(backend), cache, () => {}, (_applied, ms) => {
    if (!recording) return;
    // The frame's update plus the style and layout it causes.
    const t = performance.now();
    void view.element.offsetHeight;
    work.push(ms + performance.now() - t);
  });
  // As the console lays out an execution opened on its own.
  const layout = document.createElement('div');
  layout.className = 'layout execution-only';
  layout.style.cssText = 'height: 780px; display: grid; grid-template-columns: 1fr';
  const content = document.createElement('main');
  content.className = 'content';
  content.append(view.element);
  layout.append(content);
  host.append(layout);
  await painted();
  const t0 = performance.now();
  await view.open(root.id);
  const showMs = (await painted()) - t0;
  const treeElement = view.element.querySelector<HTMLElement>('.tree') as HTMLElement;
  const nodes = treeElement.querySelectorAll('.tree-row').length > 0 ? all.length + 1 : 0;
  const rowsInDom = treeElement.querySelectorAll('.tree-row:not([hidden])').length;
  const treeHeight = treeElement.getBoundingClientRect().height;

  // 2. Live: each leaf goes running, then succeeded, at RATE events per second.
  const events: { execution: Execution; at: number }[] = [];
  for (let i = 0; events.length < EVENTS && i < leaves.length; i++) {
    const leaf = leaves[i] as Execution;
    events.push({ execution: { ...leaf, status: 'running' }, at: 0 });
    events.push({
      execution: { ...leaf, status: 'succeeded', end_timestamp: new Date().toISOString(), elapsed_seconds: 0.5, result: { succeeded: true, return_code: 0, stdout: 'ok', stderr: '' } },
      at: 0,
    });
  }
  // Event-to-screen: the root row shows how many tasks started (running +
  // succeeded) and finished (succeeded); each change observed there tells
  // which events are on screen.
  const rootRow = () => treeElement.querySelector<HTMLElement>(`.tree-row[data-key="${root.id}"]`);
  const count = (status: string) => Number(rootRow()?.querySelector(`[data-status="${status}"]`)?.textContent?.replace(/\D/g, '') || 0);
  const startedEvents: number[] = [];
  const finishedEvents: number[] = [];
  events.forEach((e, i) => (e.execution.status === 'running' ? startedEvents : finishedEvents).push(i));
  const baseRunning = count('running');
  let seenStarted = 0;
  let seenFinished = 0;
  const latencies: number[] = [];
  const observer = new MutationObserver(() => {
    const now = performance.now();
    const finished = count('succeeded');
    const started = finished + count('running') - baseRunning;
    while (seenStarted < started && seenStarted < startedEvents.length) latencies.push(now - (events[startedEvents[seenStarted++] as number] as { at: number }).at);
    while (seenFinished < finished && seenFinished < finishedEvents.length) latencies.push(now - (events[finishedEvents[seenFinished++] as number] as { at: number }).at);
  });
  observer.observe(treeElement, { subtree: true, childList: true, characterData: true, attributes: true });

  const frames: number[] = [];
  let longTasks = 0;
  let longTaskMs = 0;
  const po = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      longTasks++;
      longTaskMs += entry.duration;
    }
  });
  try {
    po.observe({ type: 'longtask', buffered: false });
  } catch {
    // No long-task timing in this browser.
  }
  let measuring = true;
  let last = performance.now();
  const tick = (now: number) => {
    frames.push(now - last);
    last = now;
    if (measuring) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);

  recording = true;
  const liveStart = performance.now();
  await new Promise<void>((done) => {
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.min(events.length, Math.floor(((performance.now() - liveStart) * RATE) / 1000));
      for (; sent < due; sent++) {
        const e = events[sent] as { execution: Execution; at: number };
        e.at = performance.now();
        // As the event stream's handler does (ui/main.ts).
        view.update(cache.put(e.execution));
      }
      if (sent >= events.length) {
        clearInterval(timer);
        done();
      }
    }, 4);
  });
  const liveMs = performance.now() - liveStart;
  await painted();
  await painted();
  measuring = false;
  observer.disconnect();
  po.disconnect();
  frames.shift();

  (window as unknown as Record<string, unknown>)['__bench'] = {
    nodes,
    rowsInDom,
    treeHeight,
    baselineListMs: baselineMs,
    treeShowMs: showMs,
    events: events.length,
    rate: RATE,
    liveSeconds: liveMs / 1000,
    frameIntervalMs: summary(frames),
    droppedFrames: frames.filter((f) => f > 20).length,
    frameWorkMs: summary(work),
    longTasks,
    longTaskMs,
    eventToScreenMs: summary(latencies),
    eventsObserved: latencies.length,
    finalSucceeded: count('succeeded'),
  };
}

run().catch((error: unknown) => {
  (window as unknown as Record<string, unknown>)['__bench'] = { error: String(error) };
});
