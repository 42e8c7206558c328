// The real desktop window: tauri-driver starts the built app
// (target/debug/stormdesk-desktop, UI embedded) under WebKitWebDriver; this
// WebDriver client (plain HTTP, no dependencies) runs examples.hello from the
// window, checks its result and takes screenshots. Then the fast-run race of
// the IPC transport, forced: the page's answers to Run and its backlog reads
// are held until the run's completion event has reached the page, ten runs
// in a row, each must show as it ended with its output; an Inquiry
// (`core.ask`) answered in the window's form; an announcement
// (`core.announcement`) shown as a toast. Run by run.sh under
// Xvfb (also with every CPU busy: run.sh --loaded).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const app = process.env.STORMDESK_DESKTOP ?? join(repo, 'target/debug/stormdesk-desktop');
const driverBin = process.env.TAURI_DRIVER ?? join(process.env.HOME ?? '', '.cargo/bin/tauri-driver');
const out = join(repo, 'target/e2e/desktop');
const port = 4444 + Math.floor(Math.random() * 1000);
const TIMEOUT = 30_000;
mkdirSync(out, { recursive: true });

const home = mkdtempSync(join(tmpdir(), 'stormdesk-desktop-'));
const driver = spawn(driverBin, ['--port', String(port), '--native-port', String(port + 1000)], {
  env: { ...process.env, STORMDESK_HOME: home },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;

async function wd(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

/** Retries `probe` until it returns a truthy value (each try is a real WebDriver round trip). */
async function until(what, probe, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

let session;
try {
  await until('tauri-driver', () => fetch(`${base}/status`).then((r) => r.ok), 15_000);
  session = (await wd('POST', '/session', { capabilities: { alwaysMatch: { 'tauri:options': { application: app } } } })).sessionId;
  const s = `/session/${session}`;
  const find = (css) => wd('POST', `${s}/element`, { using: 'css selector', value: css }).then((e) => Object.values(e)[0]);
  const text = (el) => wd('GET', `${s}/element/${el}/text`);
  const attr = (el, name) => wd('GET', `${s}/element/${el}/attribute/${name}`);
  const script = (source, ...args) => wd('POST', `${s}/execute/sync`, { script: source, args });
  const screenshot = async (name) => {
    const png = await wd('GET', `${s}/screenshot`);
    writeFileSync(join(out, name), Buffer.from(png, 'base64'));
    console.log(`screenshot ${join(out, name)}`);
  };

  // The window shows the catalogue from the embedded engine.
  const hello = await until('the catalogue', () => find('.action-item[data-ref="examples.hello"]'));
  check('window shows the catalogue', true);
  const transport = await text(await find('.transport'));
  check('UI talks to the engine over Tauri IPC', transport === 'desktop', transport);
  await screenshot('01-catalogue.png');

  await wd('POST', `${s}/element/${hello}/click`, {});
  const name = await until('the form', () => find('#param-name'));
  await wd('POST', `${s}/element/${name}/clear`, {});
  await wd('POST', `${s}/element/${name}/value`, { text: 'desktop' });
  await wd('POST', `${s}/element/${await find('form.params button[type="submit"]')}/click`, {});

  const status = await until('a completed run', async () => {
    const badge = await find('.execution-header .badge');
    const value = await attr(badge, 'data-status');
    return ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'].includes(value) ? value : null;
  });
  check('examples.hello succeeded', status === 'succeeded', status);
  const output = await until('the output', async () => {
    const t = await text(await find('pre.output'));
    return t.includes('Hello, desktop') ? t : null;
  });
  check('its output streamed', output.includes('Hello, desktop'), JSON.stringify(output));
  await wd('POST', `${s}/element/${await find('button[role="tab"][data-tab="result"]')}/click`, {});
  const stdout = await until('the result', async () => text(await find('pre[data-part="stdout"]')));
  check('its result shows its stdout', stdout === 'Hello, desktop', JSON.stringify(stdout));
  await screenshot('02-hello-result.png');
  await wd('POST', `${s}/element/${await find('button[role="tab"][data-tab="output"]')}/click`, {});

  // The fast-run race, forced: answers held until the completion reached the page.
  await script(`
    const s = window.__stormdesk;
    const waiting = new Map();
    const ended = new Set();
    const completedStatus = ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'];
    s.backend.onExecution((e) => {
      if (!completedStatus.includes(e.status)) return;
      ended.add(e.id);
      for (const resolve of waiting.get(e.id) ?? []) resolve();
      waiting.delete(e.id);
    });
    const seen = (id) => ended.has(id) ? Promise.resolve() : new Promise((resolve) => waiting.set(id, [...(waiting.get(id) ?? []), resolve]));
    const run = s.backend.run.bind(s.backend);
    s.backend.run = async (request) => { const e = await run(request); await seen(e.id); return e; };
    const output = s.backend.output.bind(s.backend);
    s.backend.output = async (id, after) => { await seen(id); return output(id, after); };
  `);
  let fast = 0;
  for (let run = 0; run < 10; run++) {
    const field = await find('#param-name');
    await wd('POST', `${s}/element/${field}/clear`, {});
    await wd('POST', `${s}/element/${field}/value`, { text: `fast${run}` });
    const before = await text(await find('.execution-id'));
    await wd('POST', `${s}/element/${await find('form.params button[type="submit"]')}/click`, {});
    const shown = await until(`fast run ${run}`, async () => {
      const id = await text(await find('.execution-id'));
      if (id === before) return null;
      const status = await attr(await find('.execution-header .badge'), 'data-status');
      const log = await text(await find('pre.output'));
      return status === 'succeeded' && log.includes(`Hello, fast${run}`) ? { status, log } : null;
    }).catch(() => null);
    if (shown) fast++;
  }
  check('fast runs whose events beat their answers show as they ended, with their output', fast === 10, `${fast} of 10`);

  // History and the dark theme, in the real webview.
  await script('window.location.hash = "#/history"');
  await until('the history row', () => find('tr.execution-row[data-status="succeeded"]'));
  await until('the history row\'s parameters', async () => (await text(await find('tr.execution-row .params-cell'))).includes('name='));
  check('history lists the run', true);
  await screenshot('03-history.png');
  await script("localStorage.setItem('stormdesk.theme', 'dark'); document.documentElement.setAttribute('data-theme', 'dark');");
  await screenshot('04-dark.png');

  // An Inquiry over IPC: asked, counted in the top bar, answered in the window's form.
  await script("window.__stormdesk.backend.run({ action: 'core.ask', parameters: { route: 'desk' } }); return true;");
  await script('window.location.hash = "#/inquiries"');
  await until('the Inquiries count', async () => (await text(await find('.tab[data-view="inquiries"] .count-badge'))) === '1');
  check('the top bar counts the open Inquiry', true);
  const box = await until('the answer form', () => find('.inquiry-card [data-field="continue"] input'));
  await screenshot('05-inquiry.png');
  await wd('POST', `${s}/element/${box}/click`, {});
  await wd('POST', `${s}/element/${await find('.inquiry-card button[type="submit"]')}/click`, {});
  await until('the answered Inquiry to leave the list', () =>
    script("return document.querySelectorAll('.inquiry-card').length === 0 && document.querySelector('.tab[data-view=\"inquiries\"] .count-badge').hidden;"),
  );
  check('an Inquiry answered in the window leaves the list when its completion arrives', true);

  // An announcement over IPC: the `announcement` event becomes a toast with the route, the message and the run.
  await script(
    "window.__stormdesk.backend.run({ action: 'core.announcement', parameters: { route: 'desk', message: { message: '<b>shipped</b>' } } }).then((e) => { window.__announcedId = e.id; }); return true;",
  );
  const announced = await until('the announcement run', () => script('return window.__announcedId ?? null;'));
  const toastText = await until('the announcement toast', async () => text(await find(`.toast[data-execution="${announced}"] .announcement-text`)));
  check('an announcement shows as a toast, its message as text', toastText === 'Announcement on desk: <b>shipped</b>', JSON.stringify(toastText));
  const toastLink = await attr(await find(`.toast[data-execution="${announced}"] a.announcement-link`), 'href');
  // WebKit's driver answers with the resolved address (`tauri://localhost#/...`).
  check('the toast links to the execution that announced', String(toastLink).endsWith(`#/execution/${announced}`), toastLink);
  await screenshot('06-announcement.png');
} catch (error) {
  check(String(error?.message ?? error), false);
} finally {
  // tauri-driver ends the app when the session ends.
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  const exited = new Promise((resolve) => driver.once('exit', resolve));
  driver.kill('SIGTERM');
  await exited;
  try {
    // The app's helpers (a Python environment build) may still be finishing in there.
    rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  } catch (error) {
    console.log(`note: ${home} not removed: ${error.message}`);
  }
}
const failed = checks.filter((c) => !c.ok).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && checks.length > 0 ? 0 : 1);
