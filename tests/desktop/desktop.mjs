// The real desktop window: tauri-driver starts the built app
// (target/debug/stormdesk-desktop, UI embedded) under WebKitWebDriver; this
// WebDriver client (plain HTTP, no dependencies) runs examples.hello from the
// window, checks its result and takes screenshots. Run by run.sh under Xvfb.
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
  const stdout = await until('the result', async () => text(await find('pre[data-part="stdout"]')));
  check('its result shows its stdout', stdout === 'Hello, desktop', JSON.stringify(stdout));
  const output = await text(await find('.details pre.output'));
  check('its output streamed', output.includes('Hello, desktop'), JSON.stringify(output));
  await screenshot('02-hello-result.png');

  // History and the dark theme, in the real webview.
  await script('window.location.hash = "#/history"');
  await until('the history row', () => find('tr.execution-row[data-status="succeeded"]'));
  check('history lists the run', true);
  await screenshot('03-history.png');
  await script("localStorage.setItem('stormdesk.theme', 'dark'); document.documentElement.setAttribute('data-theme', 'dark');");
  await screenshot('04-dark.png');
} catch (error) {
  check(String(error?.message ?? error), false);
} finally {
  // tauri-driver ends the app when the session ends.
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  driver.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
}
const failed = checks.filter((c) => !c.ok).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 && checks.length > 0 ? 0 : 1);
