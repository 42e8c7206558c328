// Runs the built benchmark page (target/bench-ui) in Debian's Chromium via
// playwright-core and prints the figures.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(fileURLToPath(import.meta.url), '../../..');
const { chromium } = await import(pathToFileURL(join(repo, 'tests/browser/node_modules/playwright-core/index.mjs')).href);
const dist = join(repo, 'target/bench-ui');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    const body = await readFile(join(dist, path === '/' ? 'index.html' : path.slice(1)));
    res.writeHead(200, { 'Content-Type': types[extname(path)] ?? 'text/html' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/${process.argv[2] ? `?${process.argv[2]}` : ''}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.waitForFunction(() => window.__bench, null, { timeout: 120_000 });
  const r = await page.evaluate(() => window.__bench);
  if (r.error) throw new Error(r.error);
  const ms = (v) => `${v.toFixed(1)} ms`;
  const target = (ok) => (ok ? 'ok' : 'MISSED');
  if (r.page === 'output') {
    console.log(`UI output benchmark, the output view (Chromium ${browser.version()}, ${r.lines.toLocaleString('en')} lines as a backlog of 4 KiB chunks, median of ${r.runs})`);
    console.log(`  time to show every line counted: ${ms(r.viewMs)}   longest main-thread task ${ms(r.longestTaskMs)}   line elements ${r.lineElements}`);
    console.log(`  baseline, split and write the last lines into one <pre>: ${ms(r.baselineMs)}   ratio view/baseline ${(r.viewMs / r.baselineMs).toFixed(2)}x`);
    console.log(JSON.stringify(r));
  } else {
  console.log(`UI tree benchmark, two-pane execution view (Chromium ${browser.version()}, ${r.nodes} nodes, ${r.rowsInDom} rows in the DOM, tree ${Math.round(r.treeHeight)} px tall)`);
  console.log(`  time to show the tree:     ${ms(r.treeShowMs)}   (target < 1000 ms: ${target(r.treeShowMs < 1000)})`);
  console.log(`  baseline, plain 10,000-row innerHTML list: ${ms(r.baselineListMs)}   ratio tree/baseline ${(r.treeShowMs / r.baselineListMs).toFixed(2)}x`);
  console.log(`  live: ${r.events} events at ${r.rate}/s over ${r.liveSeconds.toFixed(1)} s`);
  console.log(`  frame work (update + style/layout) p50 ${ms(r.frameWorkMs.p50)}  p95 ${ms(r.frameWorkMs.p95)}  p99 ${ms(r.frameWorkMs.p99)}  max ${ms(r.frameWorkMs.max)}  (${r.frameWorkMs.n} updates; target p95 < 16 ms: ${target(r.frameWorkMs.p95 < 16)})`);
  console.log(`  frame interval (rAF) p50 ${ms(r.frameIntervalMs.p50)}  p95 ${ms(r.frameIntervalMs.p95)}  max ${ms(r.frameIntervalMs.max)}; ${r.droppedFrames} of ${r.frameIntervalMs.n} frames over 20 ms`);
  console.log(`  long tasks (> 50 ms): ${r.longTasks} (${ms(r.longTaskMs)} total)`);
  console.log(`  event-to-screen p50 ${ms(r.eventToScreenMs.p50)}  p95 ${ms(r.eventToScreenMs.p95)}  p99 ${ms(r.eventToScreenMs.p99)}  max ${ms(r.eventToScreenMs.max)}  (${r.eventsObserved} events; target p95 < 100 ms: ${target(r.eventToScreenMs.p95 < 100)})`);
  console.log(JSON.stringify(r));
  }
} finally {
  await browser.close();
  server.close();
}
