// A big workflow watched live through the real thing: `stormdesk serve`
// (release build, the console built into it) runs a with-items task over N
// `true` actions (default 10,000, concurrency 8), Debian's Chromium opens
// the run in the console while it runs, fed by the console's own API
// fetches and event stream, and follows it to the end. Each figure against
// a baseline measured in the same run:
// - opening the big run while it runs (navigation -> the tree counts the
//   nodes of the console's own descendants answer) vs opening a run of 10
//   tasks (navigation -> its 10 tasks shown), and vs a bare fetch() of the
//   same descendants endpoint from a quiet page of the same origin;
// - the longest main-thread task and frame gap while the tree follows the
//   run vs the same page idle after the run (nothing to draw);
// - event to screen for task completions (the execution's end_timestamp ->
//   the tree counts it) vs a raw EventSource on /v1/stream in the same page;
// - the console's requests while it watches, by kind (the output comes
//   from the stream: no request per task);
// - opening the completed big run vs the bare fetch, and vs the 10-task run.
// Page-side probes: bench/ui/probe.js. Usage: bench/ui/live.sh [N]
// [--tasks N] [--concurrency N] [--runs N] [--opens N] [--open-after-ms N].
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(fileURLToPath(import.meta.url), '../../..');
const { chromium } = await import(pathToFileURL(join(repo, 'tests/browser/node_modules/playwright-core/index.mjs')).href);

const options = { tasks: 10_000, concurrency: 8, runs: 1, opens: 5, 'open-after-ms': 3000, baseline: 10 };
const argv = process.argv.slice(2);
if (argv.length > 0 && /^\d+$/.test(argv[0])) argv.unshift('--tasks');
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i]?.replace(/^--/, '');
  const value = Number(argv[i + 1]);
  if (!(key in options) || !Number.isInteger(value) || value < 1) {
    console.error(`live.mjs: bad option ${argv[i]} ${argv[i + 1] ?? ''}: use [N] --tasks N --concurrency N --runs N --opens N --open-after-ms N --baseline N (positive integers)`);
    process.exit(2);
  }
  options[key] = value;
}
const BIN = process.env.STORMDESK_BIN ?? join(repo, 'target/release/stormdesk');
const FINAL = new Set(['succeeded', 'failed', 'timeout', 'canceled', 'abandoned']);

/** The bench pack: a workflow with one with-items task over `true` actions. */
function writePack(dir) {
  mkdirSync(join(dir, 'actions/workflows'), { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), 'ref: uibench\nname: uibench\ndescription: UI live benchmark workflows.\nversion: 1.0.0\n');
  writeFileSync(
    join(dir, 'actions/flow.yaml'),
    'name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nenabled: true\nparameters:\n  tasks:\n    type: integer\n    required: true\n  concurrency:\n    type: integer\n    required: true\n',
  );
  writeFileSync(join(dir, 'actions/true.yaml'), "name: 'true'\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n  cmd:\n    immutable: true\n    default: 'true'\n");
  writeFileSync(
    join(dir, 'actions/workflows/flow.yaml'),
    `version: 1.0
input:
  - tasks
  - concurrency
tasks:
  each:
    with:
      items: <% range(ctx(tasks)) %>
      concurrency: <% ctx(concurrency) %>
    action: uibench.true
`,
  );
}

async function startServe(home, packs) {
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--packs', packs], {
    env: { ...process.env, STORMDESK_HOME: home, STORMDESK_LOG: process.env.STORMDESK_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const found = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`stormdesk serve printed no console URL in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => fail(new Error(`stormdesk serve exited (${code}): ${stderr}`)));
    lines.on('line', (line) => {
      const console_ = /^console: (\S+?)\/?\?token=(\S+)/.exec(line);
      if (console_) {
        clearTimeout(timer);
        ok({ url: console_[1], token: console_[2] });
      }
    });
  });
  const api = async (method, path, body) => {
    const response = await fetch(found.url + path, {
      method,
      headers: { Authorization: `Bearer ${found.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { ...found, api, stop };
}

/** Polls the execution every 200 ms until it has a final status. */
async function completed(server, id, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await server.api('GET', `/v1/executions/${id}`);
    if (FINAL.has(record.status)) return record;
    if (Date.now() > deadline) throw new Error(`execution ${id} still ${record.status} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Epoch milliseconds (fractional) of a StackStorm timestamp with microseconds. */
function epochMs(iso) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) throw new Error(`unexpected timestamp ${iso}`);
  const frac = (m[2] ?? '0').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${m[1]}${m[3]}`) + Number(frac) / 1000;
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const stats = (values) => ({ n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: values.length ? Math.max(...values) : NaN });
const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
const line = (s) => `p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  max ${ms(s.max)}  (n=${s.n})`;
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');

/**
 * The baseline's page: a page of the console's origin that runs nothing
 * else (`/console/info`, a JSON answer), where a bare fetch() of the
 * descendants endpoint is timed.
 */
async function bareFetch(page, id) {
  return page.evaluate(async (id) => {
    const start = performance.now();
    const response = await fetch(`/v1/executions/${encodeURIComponent(id)}/children?depth=-1`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const value = await response.json();
    return { ms: performance.now() - start, n: value.length };
  }, id);
}

/** Where the time to open went: document loaded, descendants answered, tree shown (ms since navigation). */
async function phases(page) {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const l = window.__live;
    return { domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN, descAt: l.desc?.at ?? NaN, request: l.descRequest() };
  });
}

/** Opens the run's page in a new tab; resolves when the tree counts the nodes of the console's own descendants answer. */
async function openRun(context, baseline, server, id, tag) {
  const page = await context.newPage();
  await page.goto(`${server.url}/?bench=${tag}#/execution/${id}`, { waitUntil: 'commit' });
  const shownAt = await page.evaluate(() => window.__live.shown());
  const desc = await page.evaluate(() => window.__live.desc);
  const bare = await bareFetch(baseline, id);
  return { page, shownAt, desc, phases: await phases(page), bare };
}

/**
 * Event to screen, per task completion received after the tree was shown.
 * The tree draws only the rows in view, so a completion is seen on screen
 * through the root row's counts, which every completion changes. The
 * console counts the nodes final in its descendants answer (`snapshot`),
 * then one more for each completion event of another node, in the order
 * its own stream connection delivers them: the k-th such completion is on
 * screen when the root row counts the snapshot's plus k final nodes. The
 * raw EventSource's receipt of the same execution's update is the baseline.
 */
function latencies(live, rootId, shownAt, snapshot, nodes) {
  const first = (list) => {
    const seen = new Set();
    return list.filter(([id]) => id !== rootId && !seen.has(id) && seen.add(id));
  };
  const events = first(live.conn);
  const source = new Map(first(live.es).map(([id, , , , at]) => [id, at]));
  const inSnapshot = new Set(snapshot);
  const known = new Set(snapshot);
  for (const [id] of events) known.add(id);
  // Final before both the console's stream connected and its answer was read: none expected.
  const unseen = nodes - known.size;
  const counts = live.counts;
  const finalAtShown = counts.filter(([at]) => at <= shownAt).reduce((m, [, final]) => Math.max(m, final), 0);
  const screen = [];
  const raw = [];
  const own = [];
  const connections = [];
  let rank = inSnapshot.size + unseen;
  let c = 0;
  for (const [id, , end, received] of events) {
    if (inSnapshot.has(id)) continue;
    rank++;
    while (c < counts.length && counts[c][1] < rank) c++;
    if (rank <= finalAtShown || c >= counts.length || !end || !source.has(id)) continue;
    const endMs = epochMs(end);
    const onScreen = live.timeOrigin + counts[c][0];
    screen.push(onScreen - endMs);
    raw.push(live.timeOrigin + source.get(id) - endMs);
    own.push(counts[c][0] - received);
    connections.push(received - source.get(id));
  }
  return { screen, raw, own, connections, unseen, snapshotFinal: inSnapshot.size };
}

/** Frames and long tasks of `page` over the next `ms` milliseconds (the page idle: the baseline of frame gaps). */
async function idleWindow(page, ms) {
  return page.evaluate(
    (ms) =>
      new Promise((resolve) => {
        const l = window.__live;
        const from = performance.now();
        setTimeout(() => {
          const to = performance.now();
          const frames = l.frames.filter((at) => at >= from && at <= to);
          const gaps = [];
          for (let i = 1; i < frames.length; i++) gaps.push(frames[i] - frames[i - 1]);
          const longTasks = l.longTasks.filter(([at]) => at >= from && at <= to).map(([, d]) => d);
          resolve({ gaps, longTasks });
        }, ms);
      }),
    ms,
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** When the tree counts `n` nodes final (ms since navigation); fails with what it shows after `timeoutMs`. */
async function finalAt(page, n, timeoutMs = 120_000) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(async () => {
      const shows = await page
        .evaluate(() => ({ counts: window.__live.counts.slice(-3), requests: window.__live.requests.length }))
        .catch((e) => String(e));
      fail(new Error(`the tree did not count ${n} final nodes in ${timeoutMs / 1000} s: ${JSON.stringify(shows)}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([page.evaluate((n) => window.__live.finalAt(n), n), late]);
  } finally {
    clearTimeout(timer);
  }
}
const kindOf = (path) => path.replace(/^\/v1\/executions\/[^/]+/, '/v1/executions/{id}');
const kinds = (paths) => {
  const k = {};
  for (const path of paths) k[kindOf(path)] = (k[kindOf(path)] ?? 0) + 1;
  return Object.entries(k)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
};
const outputReads = (paths) => paths.filter((p) => /^\/v1\/executions\/[^/]+\/output$/.test(p)).length;

const N = options.tasks;
const home = mkdtempSync(join(tmpdir(), 'stormdesk-uilive-'));
const packs = join(home, 'bench-packs');
writePack(join(packs, 'uibench'));
const report = [];
const out = (s = '') => {
  report.push(s);
  console.log(s);
};
const loadStart = load();
const server = await startServe(home, packs);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript({ content: readFileSync(join(repo, 'bench/ui/probe.js'), 'utf8') });
  // Sign in once (the session cookie), and load the console's assets.
  const signIn = await context.newPage();
  await signIn.goto(`${server.url}/?token=${server.token}`);
  await signIn.locator('.action-item[data-ref="uibench.flow"]').waitFor({ timeout: 30_000 });
  await signIn.close();
  const baseline = await context.newPage();
  await baseline.goto(`${server.url}/console/info`);

  // The baseline run: the same workflow over `baseline` tasks, opened as it ended.
  const small = await server.api('POST', '/v1/executions', { action: 'uibench.flow', parameters: { tasks: options.baseline, concurrency: options.concurrency } });
  await completed(server, small.id, 120_000);
  const smallOpen = [];
  const smallRequests = [];
  let smallIdle = null;
  for (let i = 0; i < options.opens; i++) {
    const page = await context.newPage();
    await page.goto(`${server.url}/?bench=small${i}#/execution/${small.id}`, { waitUntil: 'commit' });
    const shownAt = await finalAt(page, options.baseline);
    smallOpen.push(shownAt);
    smallRequests.push((await page.evaluate(() => window.__live.requests)).filter(([at]) => at <= shownAt).length);
    if (i === options.opens - 1) smallIdle = await idleWindow(page, 2000);
    await page.close();
  }

  const parameters = { tasks: N, concurrency: options.concurrency };
  const live = { open: [], bare: [], nodesAtOpen: [], dcl: [], request: [], render: [], openRequests: [], screen: [], raw: [], own: [], work: [], gaps: [], longTasks: [], idleGaps: [], idleLong: [], updates: 0, seconds: 0, during: [], runSeconds: [], endLag: [], heap: [], hub: [] };
  let lastId = null;
  for (let run = 0; run < options.runs; run++) {
    const started = await server.api('POST', '/v1/executions', { action: 'uibench.flow', parameters });
    lastId = started.id;
    await sleep(options['open-after-ms']);
    const opened = await openRun(context, baseline, server, started.id, `live${run}`);
    const record = await completed(server, started.id, 3_600_000);
    if (record.status !== 'succeeded') throw new Error(`run ${started.id} ended ${record.status}: ${JSON.stringify(record.result)}`);
    const allShownAt = await finalAt(opened.page, N);
    const idle = await idleWindow(opened.page, 2000);
    const data = await opened.page.evaluate(() => {
      const l = window.__live;
      l.closeStream();
      return { es: l.es, conn: l.conn, requests: l.requests, counts: l.counts, work: l.work, frames: l.frames, longTasks: l.longTasks, updates: l.updates, timeOrigin: l.timeOrigin, heap: performance.memory?.usedJSHeapSize ?? NaN, hub: { logs: window.__stormdesk?.hub?.logCount ?? NaN, reads: window.__stormdesk?.hub?.readCount ?? NaN } };
    });
    await opened.page.close();
    const runSeconds = (epochMs(record.end_timestamp) - epochMs(record.start_timestamp)) / 1000;
    live.runSeconds.push(runSeconds);
    live.endLag.push(data.timeOrigin + allShownAt - epochMs(record.end_timestamp));
    live.heap.push(data.heap);
    live.hub.push(data.hub);
    const inWindow = ([at]) => at >= opened.shownAt && at <= allShownAt;
    const l = latencies(data, started.id, opened.shownAt, opened.desc?.final ?? [], N);
    const updates = data.updates.filter((at) => at >= opened.shownAt && at <= allShownAt).length;
    const frames = data.frames.filter((at) => at >= opened.shownAt && at <= allShownAt);
    console.error(
      `run ${run + 1}/${options.runs}: ${N} tasks in ${runSeconds.toFixed(2)} s; opened after ${options['open-after-ms']} ms with ${opened.desc?.n} nodes, shown at ${ms(opened.shownAt)}; ` +
        `${l.screen.length} completions measured after, ${updates} updates over ${((allShownAt - opened.shownAt) / 1000).toFixed(2)} s`,
    );
    live.open.push(opened.shownAt);
    live.bare.push(opened.bare.ms);
    live.nodesAtOpen.push(opened.desc?.n ?? 0);
    live.dcl.push(opened.phases.domContentLoaded);
    if (opened.phases.request) live.request.push(opened.phases.request.ms);
    live.render.push(opened.shownAt - opened.phases.descAt);
    live.openRequests.push(data.requests.filter(([at]) => at <= opened.shownAt).map(([, path]) => path));
    live.screen.push(...l.screen);
    live.raw.push(...l.raw);
    live.own.push(...l.own);
    live.work.push(...data.work.filter(inWindow).map(([, w]) => w));
    for (let i = 1; i < frames.length; i++) live.gaps.push(frames[i] - frames[i - 1]);
    live.longTasks.push(...data.longTasks.filter(inWindow).map(([, d]) => d));
    live.idleGaps.push(...idle.gaps);
    live.idleLong.push(...idle.longTasks);
    live.updates += updates;
    live.seconds += (allShownAt - opened.shownAt) / 1000;
    live.during.push(...data.requests.filter(inWindow).map(([, path]) => path));
  }

  // The last big run again, completed: opened as from History.
  const done = { open: [], bare: [], request: [], render: [] };
  for (let i = 0; i < options.opens; i++) {
    // The baseline first, on a quiet server.
    const bare = await bareFetch(baseline, lastId);
    const page = await context.newPage();
    await page.goto(`${server.url}/?bench=done${i}#/execution/${lastId}`, { waitUntil: 'commit' });
    const shownAt = await finalAt(page, N);
    const p = await phases(page);
    if (bare.n !== N) throw new Error(`the descendants endpoint answered ${bare.n} records, expected ${N}`);
    done.open.push(shownAt);
    done.bare.push(bare.ms);
    if (p.request) done.request.push(p.request.ms);
    done.render.push(shownAt - p.descAt);
    await page.close();
  }

  const open = stats(live.open);
  const bare = stats(live.bare);
  const smallS = stats(smallOpen);
  const screen = stats(live.screen);
  const raw = stats(live.raw);
  const work = stats(live.work);
  const gaps = stats(live.gaps);
  const idleGaps = stats([...live.idleGaps, ...(smallIdle?.gaps ?? [])]);
  const longest = live.longTasks.length ? Math.max(...live.longTasks) : 0;
  const idleLongest = Math.max(0, ...live.idleLong, ...(smallIdle?.longTasks ?? []));
  const dOpen = stats(done.open);
  const dBare = stats(done.bare);
  out(`UI live benchmark, a big workflow: the console served by \`stormdesk serve\` (release build, console built in), Chromium ${browser.version()}`);
  out(`  workflow: with-items over ${N} \`true\` tasks (local-shell-cmd, concurrency ${options.concurrency}); ${options.runs} live run(s) (${live.runSeconds.map((s) => `${s.toFixed(1)} s, ${((s * 1000) / N).toFixed(2)} ms a task`).join('; ')}); baseline: the same workflow over ${options.baseline} tasks`);
  out(`  load average (1/5/15 min): at start ${loadStart}; at end ${load()} (2 cores shared with other builds)`);
  out(`opening the run while it runs, ${options['open-after-ms']} ms after it started (navigation -> the tree counts the nodes of the console's own descendants answer: ${live.nodesAtOpen.join(', ')} nodes):`);
  out(`  console:                ${line(open)}   (goal: under 1,000 ms)`);
  out(`    of which: page loaded (DOMContentLoaded) ${line(stats(live.dcl))}`);
  out(`    the console's descendants request (Resource Timing, request to last byte): ${line(stats(live.request))}`);
  out(`    descendants answer parsed -> tree drawn: ${line(stats(live.render))}`);
  out(`    requests before the tree showed: ${live.openRequests.map((paths) => `${paths.length} (${kinds(paths)})`).join('; ')}`);
  out(`  baseline, opening the ${options.baseline}-task run (navigation -> its ${options.baseline} tasks shown, final): ${line(smallS)}; ${smallRequests.join(', ')} requests`);
  out(`  baseline, bare fetch() of /v1/executions/{id}/children?depth=-1 (+ JSON parse) from a quiet page, at the moment the tree is shown: ${line(bare)}`);
  out(`  ratio console/${options.baseline}-task run: p50 ${ratio(open.p50, smallS.p50)}; console/bare fetch: p50 ${ratio(open.p50, bare.p50)}`);
  out(`following it (tree shown -> every task final on screen; ${live.updates} updates over ${live.seconds.toFixed(1)} s, ${(live.updates / Math.max(live.seconds, 1e-9)).toFixed(0)}/s):`);
  out(`  longest main-thread task: ${ms(longest)} (${live.longTasks.length} over 50 ms, ${ms(live.longTasks.reduce((a, b) => a + b, 0))} in all); idle page (baseline): ${ms(idleLongest)}`);
  out(`  frame gap: ${line(gaps)}; ${live.gaps.filter((g) => g > 50).length} over 50 ms`);
  out(`  baseline, frame gap of the idle page (after the run, and the ${options.baseline}-task run's page): ${line(idleGaps)}`);
  out(`  ratio frame gap following/idle: p50 ${ratio(gaps.p50, idleGaps.p50)}  p95 ${ratio(gaps.p95, idleGaps.p95)}  max ${ratio(gaps.max, idleGaps.max)}`);
  out(`  frame work (animation-frame callbacks + the style/layout they cause): ${line(work)}`);
  out(`  task completion, end_timestamp -> on screen: ${line(screen)}; baseline, raw EventSource receives it: ${line(raw)}; ratio p50 ${ratio(screen.p50, raw.p50)} p95 ${ratio(screen.p95, raw.p95)}`);
  out(`  the run's end -> the tree shows every task final: ${live.endLag.map((v) => ms(v)).join(', ')}`);
  out(`  the console's requests while following: ${live.during.length} (${kinds(live.during) || 'none'}); output reads: ${outputReads(live.during)} for ${N} tasks`);
  out(`  page JS heap after the run: ${live.heap.map((b) => (Number.isFinite(b) ? `${(b / 1e6).toFixed(1)} MB` : 'n/a')).join(', ')}; output logs held: ${live.hub.map((h) => `${h.logs} (${h.reads} store reads in all)`).join(', ')}`);
  out(`opening the completed run (navigation -> the tree counts all ${N} tasks final):`);
  out(`  console:                ${line(dOpen)}`);
  out(`    the console's descendants request (Resource Timing): ${line(stats(done.request))}`);
  out(`    descendants answer parsed -> tree drawn: ${line(stats(done.render))}`);
  out(`  baseline, bare fetch() of the same endpoint (+ JSON parse) from the quiet page, just before each open: ${line(dBare)}`);
  out(`  ratio console/bare fetch: p50 ${ratio(dOpen.p50, dBare.p50)}; console/${options.baseline}-task run: p50 ${ratio(dOpen.p50, smallS.p50)}`);
  out(JSON.stringify({ options, live: { open, bare, small: smallS, gaps, idleGaps, longest, idleLongest, work, screen, raw, outputReads: outputReads(live.during), requests: live.during.length }, completed: { open: dOpen, bare: dBare } }));
} finally {
  await browser.close();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
}
mkdirSync(join(repo, 'bench/out'), { recursive: true });
writeFileSync(join(repo, 'bench/out/ui-live.txt'), report.join('\n') + '\n');
