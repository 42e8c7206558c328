// The console watched live through the real thing: `stormdesk serve`
// (release build, the console built into it), a real workflow run by the
// engine, the console's own API fetches and event stream, in Debian's
// Chromium. Each figure against a baseline measured in the same run:
// - opening the run (navigation -> the tree counts the nodes of the
//   console's own descendants answer) vs a bare fetch() of the same
//   descendants endpoint from a page of the same origin that runs nothing
//   else (live: at the moment the tree is shown; completed: just before
//   each open);
// - event to screen for task completions (the execution's end_timestamp ->
//   the tree counts it) vs a raw EventSource on /v1/stream in the same page
//   receiving the same update;
// - frame work while the run completes (as bench/ui/bench.ts measures it);
// - opening the completed run vs the bare fetch.
// Page-side probes: bench/ui/probe.js. Usage: bench/ui/live.sh [--subflows N]
// [--items N] [--concurrency N] [--runs N] [--opens N].
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(fileURLToPath(import.meta.url), '../../..');
const { chromium } = await import(pathToFileURL(join(repo, 'tests/browser/node_modules/playwright-core/index.mjs')).href);

const options = { subflows: 10, items: 100, concurrency: 10, runs: 5, opens: 15 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i]?.replace(/^--/, '');
  const value = Number(argv[i + 1]);
  if (!(key in options) || !Number.isInteger(value) || value < 1) {
    console.error(`live.mjs: bad option ${argv[i]} ${argv[i + 1] ?? ''}: use --subflows N --items N --concurrency N --runs N --opens N (positive integers)`);
    process.exit(2);
  }
  options[key] = value;
}
const BIN = process.env.STORMDESK_BIN ?? join(repo, 'target/release/stormdesk');
/** Descendants of the root: the subworkflows and their items. */
const NODES = options.subflows * (1 + options.items);
const FINAL = new Set(['succeeded', 'failed', 'timeout', 'canceled', 'abandoned']);

/** The bench pack: a workflow fanning out to subworkflows, each a with-items task of `core.noop`. */
function writePack(dir) {
  mkdirSync(join(dir, 'actions/workflows'), { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), 'ref: uibench\nname: uibench\ndescription: UI live benchmark workflows.\nversion: 1.0.0\n');
  const meta = (name, params) =>
    `name: ${name}\nrunner_type: orquesta\nentry_point: workflows/${name}.yaml\nenabled: true\nparameters:\n${params
      .map((p) => `  ${p}:\n    type: integer\n    required: true\n`)
      .join('')}`;
  writeFileSync(join(dir, 'actions/flow.yaml'), meta('flow', ['subflows', 'items', 'concurrency']));
  writeFileSync(join(dir, 'actions/sub.yaml'), meta('sub', ['items', 'concurrency']));
  writeFileSync(
    join(dir, 'actions/workflows/flow.yaml'),
    `version: 1.0
input:
  - subflows
  - items
  - concurrency
tasks:
  fan:
    with:
      items: <% range(ctx(subflows)) %>
      concurrency: <% ctx(subflows) %>
    action: uibench.sub
    input:
      items: <% ctx(items) %>
      concurrency: <% ctx(concurrency) %>
`,
  );
  writeFileSync(
    join(dir, 'actions/workflows/sub.yaml'),
    `version: 1.0
input:
  - items
  - concurrency
tasks:
  step:
    with:
      items: <% range(ctx(items)) %>
      concurrency: <% ctx(concurrency) %>
    action: core.noop
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
function latencies(live, rootId, shownAt, snapshot) {
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
  const unseen = NODES - known.size;
  const counts = live.counts;
  const finalAtShown = counts.filter(([at]) => at <= shownAt).reduce((m, [, final]) => Math.max(m, final), 0);
  const screen = [];
  const raw = [];
  const own = [];
  const connections = [];
  let rank = inSnapshot.size + unseen;
  let c = 0;
  for (const [id, parent, end, received] of events) {
    if (inSnapshot.has(id)) continue;
    rank++;
    while (c < counts.length && counts[c][1] < rank) c++;
    if (rank <= finalAtShown || c >= counts.length || parent === rootId || !end || !source.has(id)) continue;
    const endMs = epochMs(end);
    const onScreen = live.timeOrigin + counts[c][0];
    screen.push(onScreen - endMs);
    raw.push(live.timeOrigin + source.get(id) - endMs);
    own.push(counts[c][0] - received);
    connections.push(received - source.get(id));
  }
  return { screen, raw, own, connections, unseen, snapshotFinal: inSnapshot.size };
}

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

  const parameters = { subflows: options.subflows, items: options.items, concurrency: options.concurrency };
  const live = { connections: [], before: [], records: [], requestKinds: {}, treeRefetches: 0, streamConnects: 0, requestsDuring: 0, open: [], bare: [], request: [], dcl: [], render: [], screen: [], raw: [], own: [], work: [], intervals: [], longTasks: 0, longTaskMs: 0, updates: 0, seconds: 0, runSeconds: [] };
  let lastId = null;
  for (let run = 0; run < options.runs; run++) {
    const started = await server.api('POST', '/v1/executions', { action: 'uibench.flow', parameters });
    lastId = started.id;
    const opened = await openRun(context, baseline, server, started.id, `live${run}`);
    const record = await completed(server, started.id, 600_000);
    if (record.status !== 'succeeded') throw new Error(`run ${started.id} ended ${record.status}: ${JSON.stringify(record.result)}`);
    const allShownAt = await opened.page.evaluate((n) => window.__live.finalAt(n), NODES);
    const data = await opened.page.evaluate(() => {
      const l = window.__live;
      l.closeStream();
      return { es: l.es, conn: l.conn, requests: l.requests, counts: l.counts, work: l.work, frames: l.frames, longTasks: l.longTasks, updates: l.updates, timeOrigin: l.timeOrigin };
    });
    await opened.page.close();
    const runSeconds = (epochMs(record.end_timestamp) - epochMs(record.start_timestamp)) / 1000;
    live.runSeconds.push(runSeconds);
    const inWindow = ([at]) => at >= opened.shownAt && at <= allShownAt;
    const l = latencies(data, started.id, opened.shownAt, opened.desc?.final ?? []);
    const updates = data.updates.filter((at) => at >= opened.shownAt && at <= allShownAt).length;
    const frames = data.frames.filter((at) => at >= opened.shownAt && at <= allShownAt);
    console.error(
      `run ${run + 1}/${options.runs}: ${runSeconds.toFixed(2)} s; tree shown at ${ms(opened.shownAt)} (${opened.desc?.n} records in the answer; ` +
        `${l.snapshotFinal} final in the answer, ${l.unseen} final nodes neither in it nor seen on the console's stream, ${l.screen.length} completions measured after the tree was shown, ${updates} updates over ${((allShownAt - opened.shownAt) / 1000).toFixed(2)} s)`,
    );
    live.open.push(opened.shownAt);
    live.bare.push(opened.bare.ms);
    live.records.push(`${opened.desc?.n}/${opened.bare.n}`);
    if (opened.phases.request) live.request.push(opened.phases.request.ms);
    live.dcl.push(opened.phases.domContentLoaded);
    if (opened.phases.request) live.before.push(opened.phases.request.start - opened.phases.domContentLoaded);
    live.render.push(opened.shownAt - opened.phases.descAt);
    live.screen.push(...l.screen);
    live.raw.push(...l.raw);
    live.own.push(...l.own);
    live.connections.push(...l.connections);
    live.work.push(...data.work.filter(inWindow).map(([, w]) => w));
    for (let i = 1; i < frames.length; i++) live.intervals.push(frames[i] - frames[i - 1]);
    for (const [at, d] of data.longTasks) {
      if (at >= opened.shownAt && at <= allShownAt) {
        live.longTasks++;
        live.longTaskMs += d;
      }
    }
    live.updates += updates;
    const during = data.requests.filter(inWindow).map(([, path]) => path);
    live.treeRefetches += during.filter((path) => path.endsWith('/children')).length;
    live.streamConnects += data.requests.filter(([, path]) => path === '/v1/stream').length;
    live.requestsDuring += during.length;
    for (const path of during) {
      const kind = path.replace(/^\/v1\/executions\/[^/]+/, '/v1/executions/{id}');
      live.requestKinds[kind] = (live.requestKinds[kind] ?? 0) + 1;
    }
    live.seconds += (allShownAt - opened.shownAt) / 1000;
  }

  // The last run again, completed: opened as from History.
  const done = { before: [], open: [], bare: [], request: [], dcl: [], render: [] };
  for (let i = 0; i < options.opens; i++) {
    // The baseline first, on a quiet server (the console, once open, reads
    // its nodes' output, which would load the server under the baseline).
    const bare = await bareFetch(baseline, lastId);
    const page = await context.newPage();
    await page.goto(`${server.url}/?bench=done${i}#/execution/${lastId}`, { waitUntil: 'commit' });
    const shownAt = await page.evaluate((n) => window.__live.finalAt(n), NODES);
    const p = await phases(page);
    if (bare.n !== NODES) throw new Error(`the descendants endpoint answered ${bare.n} records, expected ${NODES}`);
    done.open.push(shownAt);
    done.bare.push(bare.ms);
    if (p.request) done.request.push(p.request.ms);
    done.dcl.push(p.domContentLoaded);
    if (p.request) done.before.push(p.request.start - p.domContentLoaded);
    done.render.push(shownAt - p.descAt);
    await page.close();
  }

  const open = stats(live.open);
  const bare = stats(live.bare);
  const screen = stats(live.screen);
  const raw = stats(live.raw);
  const own = stats(live.own);
  const work = stats(live.work);
  const intervals = stats(live.intervals);
  const dOpen = stats(done.open);
  const dBare = stats(done.bare);
  out(`UI live benchmark: the console served by \`stormdesk serve\` (release build, console built in), Chromium ${browser.version()}`);
  out(`  workflow: ${options.subflows} subworkflows x with-items over ${options.items} core.noop items (concurrency ${options.concurrency} each): ${NODES + 1} executions a run; ${options.runs} live runs (${live.runSeconds.map((s) => `${s.toFixed(1)} s`).join(', ')}), ${options.opens} opens of the completed run`);
  out(`  load average (1/5/15 min): at start ${loadStart}; at end ${load()} (2 cores shared with other builds)`);
  out('opening the run while it runs (navigation -> the tree counts the nodes of the console\'s own descendants answer):');
  out(`  console:                ${line(open)}`);
  out(`    of which: page loaded (DOMContentLoaded) ${line(stats(live.dcl))}`);
  out(`    page loaded -> descendants requested (sign-in check, packs and actions, the execution): ${line(stats(live.before))}`);
  out(`    the console's descendants request (Resource Timing, request to last byte): ${line(stats(live.request))}`);
  out(`    descendants answer parsed -> tree drawn: ${line(stats(live.render))}`);
  out(`  baseline, bare fetch() of /v1/executions/{id}/children?depth=-1 (+ JSON parse) from a quiet page of the same origin, at the moment the tree is shown (the server is also answering the console's output requests then): ${line(bare)}`);
  out(`  records in the answers, console/bare fetch: ${live.records.join(', ')}`);
  out(`  ratio console/bare fetch: p50 ${ratio(open.p50, bare.p50)}`);
  out(`task completions, end_timestamp -> on screen (${live.updates} updates over ${live.seconds.toFixed(1)} s while watched, ${(live.updates / Math.max(live.seconds, 1e-9)).toFixed(0)}/s):`);
  out(`  console (the tree's root row counts it): ${line(screen)}`);
  out(`  baseline, raw EventSource on /v1/stream receives it: ${line(raw)}`);
  out(`  the console's own cost (on screen - arrival on its own stream connection, per completion): ${line(own)}`);
  out(`  (arrival on the console's connection - arrival at the EventSource: ${line(stats(live.connections))}; two connections, each served on its own)`);
  out(`  ratio console/EventSource: p50 ${ratio(screen.p50, raw.p50)}  p95 ${ratio(screen.p95, raw.p95)}`);
  out(`  the console's requests while watched: ${live.requestsDuring} (${Object.entries(live.requestKinds).map(([k, n]) => `${k} ${n}`).join(', ')}); descendants refetches (resync after missed events): ${live.treeRefetches}; stream connections: ${live.streamConnects} in ${options.runs} pages`);
  out('frame work while the run completes (animation-frame callbacks + the style/layout they cause):');
  out(`  ${line(work)}`);
  out(`  frame interval ${line(intervals)}; ${live.intervals.filter((f) => f > 20).length} over 20 ms; long tasks (> 50 ms): ${live.longTasks} (${ms(live.longTaskMs)})`);
  out(`opening the completed run (navigation -> the tree counts all ${NODES} nodes final):`);
  out(`  console:                ${line(dOpen)}`);
  out(`    of which: page loaded (DOMContentLoaded) ${line(stats(done.dcl))}`);
  out(`    page loaded -> descendants requested: ${line(stats(done.before))}`);
  out(`    the console's descendants request (Resource Timing): ${line(stats(done.request))}`);
  out(`    descendants answer parsed -> tree drawn: ${line(stats(done.render))}`);
  out(`  baseline, bare fetch() of the same endpoint (+ JSON parse) from the quiet page, just before each open: ${line(dBare)}`);
  out(`  ratio console/bare fetch: p50 ${ratio(dOpen.p50, dBare.p50)}`);
  out(JSON.stringify({ options, live: { open, bare, screen, raw, own, work, intervals }, completed: { open: dOpen, bare: dBare } }));
} finally {
  await browser.close();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
}
mkdirSync(join(repo, 'bench/out'), { recursive: true });
writeFileSync(join(repo, 'bench/out/ui-live.txt'), report.join('\n') + '\n');
