// The live tree under load, in a real browser: a synthetic workflow of 10,000
// tasks nested three deep (root -> 10 subworkflows -> 10 subworkflows each ->
// 100 tasks each), then live events at 1,000/s. Measures time to show the
// tree, frame times while updating, and event-to-screen latency (event
// created -> its effect observed in the DOM). Baseline in the same run: a
// plain 10,000-row list written with innerHTML. Results in `window.__bench`.

import '../../ui/src/styles.css';

import type { Execution, Status } from '../../ui/src/lib/types';
import { treeView } from '../../ui/src/ui/tree-view';

const FAN = [10, 10, 100];
const RATE = Number(new URLSearchParams(location.search).get('rate') ?? 1000);
const EVENTS = Number(new URLSearchParams(location.search).get('events') ?? 10_000);

let serial = 0;
const start = new Date(Date.now() - 60_000).toISOString();

function execution(parent: string | null, task: string | null, item: number | null, runner: string, status: Status): Execution {
  const id = (serial++).toString(16).padStart(24, '0');
  const context: Record<string, unknown> = {};
  if (task) context['task'] = task;
  if (item !== null) context['item'] = item;
  return {
    id,
    action: runner === 'orquesta' ? 'bench.flow' : 'bench.step',
    runner,
    parameters: {},
    status,
    start_timestamp: start,
    end_timestamp: null,
    elapsed_seconds: null,
    result: null,
    content_version: null,
    commit: '0123456789abcdef0123456789abcdef01234567',
    parent,
    children: [],
    context,
  log: [],
  } as Execution;
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
  div.innerHTML = leaves.map((e, i) => `<div class="row" data-id="${e.id}"><span>${e.status}</span> step[${i}] <code>${e.action}</code></div>`).join('');
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

  // 1. Time to show: an existing 10,000-task run opened in the view.
  const work: number[] = [];
  let recording = false;
  const tree = treeView({
    onFlush: (_applied, ms) => {
      if (!recording) return;
      // The frame's update plus the style and layout it causes.
      const t = performance.now();
      void tree.element.offsetHeight;
      work.push(ms + performance.now() - t);
    },
  });
  tree.element.style.height = '480px';
  host.append(tree.element);
  await painted();
  const t0 = performance.now();
  tree.reset(root, all);
  tree.flush();
  const showMs = (await painted()) - t0;
  const nodes = tree.model.size;
  const rowsInDom = tree.element.querySelectorAll('.tree-row:not([hidden])').length;

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
  const rootRow = () => tree.element.querySelector<HTMLElement>(`.tree-row[data-key="${root.id}"]`);
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
  observer.observe(tree.element, { subtree: true, childList: true, characterData: true, attributes: true });

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
        tree.apply(e.execution);
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

/**
 * `?demo`: a small nested run in mid-flight, drawn by the same component,
 * for the docs' picture while the engine's workflows are not there to show.
 */
async function demo(): Promise<void> {
  const host = document.getElementById('app') as HTMLElement;
  host.style.padding = '16px';
  const tree = treeView();
  tree.element.style.height = '420px';
  host.append(tree.element);
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  const node = (parent: Execution | null, task: string | null, item: number | null, action: string, runner: string, status: Status, started: number, took: number | null): Execution => {
    const e = execution(parent?.id ?? null, task, item, runner, status);
    e.action = action;
    e.start_timestamp = ago(started);
    if (took !== null) {
      e.end_timestamp = ago(started - took);
      e.elapsed_seconds = took;
    }
    return e;
  };
  const root = node(null, null, null, 'ops.deploy', 'orquesta', 'running', 42, null);
  const all: Execution[] = [node(root, 'prepare', null, 'ops.step', 'local-shell-cmd', 'succeeded', 42, 3.2)];
  const hosts = ['alpha', 'beta', 'gamma', 'delta'];
  hosts.forEach((_, i) => {
    const status: Status = i < 2 ? 'succeeded' : i === 2 ? 'running' : 'scheduled';
    const sub = node(root, 'hosts', i, 'ops.restart_host', 'orquesta', status, 38 - i * 6, i < 2 ? 11.5 : null);
    all.push(sub);
    if (i <= 2) all.push(node(sub, 'stop', null, 'ops.step', 'local-shell-cmd', 'succeeded', 38 - i * 6, 4.1));
    if (i < 2) all.push(node(sub, 'restart', null, 'ops.step', 'local-shell-cmd', i === 1 ? 'failed' : 'succeeded', 33 - i * 6, 6.3));
    if (i === 2) all.push(node(sub, 'restart', null, 'ops.step', 'local-shell-cmd', 'running', 20, null));
  });
  tree.reset(root, all);
  tree.setGraph(root.id, { tasks: ['prepare', 'hosts', 'verify', 'notify'].map((name) => ({ name, action: `ops.${name === 'hosts' ? 'restart_host' : 'step'}`, next: [] })) });
  for (const sub of all.filter((e) => e.runner === 'orquesta')) {
    tree.setGraph(sub.id, { tasks: ['stop', 'restart', 'check'].map((name) => ({ name, action: 'ops.step', next: [] })) });
  }
  tree.flush();
  const first = tree.model.get(all[1]?.id ?? '');
  if (first) tree.model.toggle(first, false);
  tree.select(all.find((e) => e.context['task'] === 'restart' && e.status === 'running')?.id ?? null);
  tree.flush();
  await painted();
  (window as unknown as Record<string, unknown>)['__bench'] = { demo: true };
}

(new URLSearchParams(location.search).has('demo') ? demo() : run()).catch((error: unknown) => {
  (window as unknown as Record<string, unknown>)['__bench'] = { error: String(error) };
});
