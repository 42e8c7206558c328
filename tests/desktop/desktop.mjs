// The real desktop window: tauri-driver starts the built app
// (target/debug/stormdesk-desktop, UI embedded) under WebKitWebDriver; this
// WebDriver client (plain HTTP, no dependencies) runs examples.hello from the
// window, checks its result and takes screenshots. Then the fast-run race of
// the IPC transport, forced: the page's answers to Run and its backlog reads
// are held until the run's completion event has reached the page, ten runs
// in a row, each must show as it ended with its output; an Inquiry
// (`core.ask`) answered in the window's form; an announcement
// (`core.announcement`) shown as a toast. Then a remote server: a second
// `stormdesk serve` over TLS whose certificate a CA made here signs (in no
// trust store: the connection's CA field is all the window has), added from
// the title bar, signed in as a user made with `stormdesk user add`; a nested
// workflow's live tree, a run's output and an Inquiry answered there; back
// to the embedded engine. The server lets no other origin in (no
// --allow-origin): the window's requests go through the app. Run by run.sh
// under Xvfb (also with every CPU busy: run.sh --loaded).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const app = process.env.STORMDESK_DESKTOP ?? join(repo, 'target/debug/stormdesk-desktop');
const serverBin = process.env.STORMDESK_BIN ?? join(repo, 'target/debug/stormdesk');
/** The browser tests' packs: a nested workflow (e2e.deploy), numbered output (e2e.numbered). */
const remotePacks = join(repo, 'tests/browser/fixtures/packs');
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

/** A CA and a server certificate for 127.0.0.1 and localhost, signed by it (openssl), in `dir`. */
function makeCerts(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=Stormdesk desktop e2e CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** `stormdesk serve` over TLS on a loopback port, with user ada; resolves once it prints its URL. */
async function startRemote(dir) {
  const certs = makeCerts(dir);
  const remoteHome = join(dir, 'home');
  mkdirSync(remoteHome);
  const env = { ...process.env, STORMDESK_HOME: remoteHome, STORMDESK_LOG: process.env.STORMDESK_LOG ?? 'warn' };
  execFileSync(serverBin, ['user', 'add', 'ada', '--password-stdin'], { env, input: 'ada-desktop-pw\n', stdio: ['pipe', 'ignore', 'pipe'] });
  const child = spawn(serverBin, ['serve', '--listen', '127.0.0.1:0', '--tls-cert', certs.cert, '--tls-key', certs.key, '--packs', remotePacks], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the TLS server printed no URL in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => fail(new Error(`the TLS server exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /listening on (https:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1].replace(/\/+$/, ''));
      }
    });
  });
  const token = readFileSync(join(remoteHome, 'config', 'token'), 'utf8').trim();
  /** Test setup and checks only, from Node (which is given the CA for these calls). */
  const api = (path) =>
    new Promise((ok, fail) => {
      const req = httpsRequest(url + path, { ca: certs.ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d.toString()));
        res.on('end', () => ((res.statusCode ?? 500) < 400 ? ok(JSON.parse(body)) : fail(new Error(`${path}: ${res.statusCode} ${body}`))));
      });
      req.on('error', fail);
      req.end();
    });
  return { url, ca: certs.ca, child, api };
}

/** A git repository with tags v1.0.0 and v1.1.0 and branches main and feature/x, in `dir`. */
function makeRepo(dir) {
  mkdirSync(dir);
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
  const git = (...args) => execFileSync('git', args, { cwd: dir, env, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'pack.yaml'), 'ref: examples\nversion: 1.0.0\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'one');
  git('tag', '-a', 'v1.0.0', '-m', 'one');
  git('branch', 'feature/x');
  writeFileSync(join(dir, 'pack.yaml'), 'ref: examples\nversion: 1.1.0\n');
  git('commit', '-q', '-am', 'two');
  git('tag', 'v1.1.0');
}

/**
 * A StackStorm-shaped front (plain HTTP) for `remote`: 404 for Stormdesk's
 * revisions routes (StackStorm has none), packs without Stormdesk's fields,
 * pack examples' metadata with a `repo_url`; the rest passed through (the
 * stream too). Records each
 * `POST /v1/executions` body.
 */
/** What a Stormdesk server adds to StackStorm's pack (`x-stormdesk` in docs/openapi.yaml). */
const STORMDESK_PACK_FIELDS = ['git', 'actions', 'unsupported', 'errors', 'ignored', 'shadows'];

async function stackstormFront(remote, repoUrl) {
  const runs = [];
  const server = createHttpServer((req, res) => {
    if (/^\/v1\/packs\/[^/?]+\/revisions/.test(req.url)) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ faultstring: 'The resource could not be found.' }));
      return;
    }
    // Every pack as StackStorm describes it: without Stormdesk's own fields
    // (the console's capability probe reads `GET /v1/packs/core`).
    const pack = req.method === 'GET' && /^\/v1\/packs(\/[^/?]+)?(\?.*)?$/.test(req.url);
    let body = '';
    req.on('data', (d) => (body += d.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/executions') runs.push(JSON.parse(body));
      const headers = { ...req.headers, host: new URL(remote.url).host };
      // Read and rewritten here: asked for uncompressed.
      if (pack) delete headers['accept-encoding'];
      const upstream = httpsRequest(remote.url + req.url, { method: req.method, headers, ca: remote.ca }, (up) => {
        if (!pack || (up.statusCode ?? 500) >= 400) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        let text = '';
        up.on('data', (d) => (text += d.toString()));
        up.on('end', () => {
          const value = JSON.parse(text);
          for (const p of Array.isArray(value) ? value : [value]) {
            for (const field of STORMDESK_PACK_FIELDS) delete p[field];
            if (p.ref === 'examples') p.repo_url = repoUrl;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(value));
        });
      });
      upstream.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      upstream.end(body || undefined);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, runs, server };
}

let session;
let remote;
let front;
const remoteDir = mkdtempSync(join(tmpdir(), 'stormdesk-desktop-remote-'));
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

  // A remote server over TLS, its CA in no trust store: added from the title bar with its CA.
  remote = await startRemote(remoteDir);
  await script('window.location.hash = "#/"');
  await script(`
    const select = document.querySelector('#connection');
    select.value = '__manage';
    select.dispatchEvent(new Event('change'));
  `);
  const setField = async (css, value) => {
    const el = await until(css, () => find(css));
    await wd('POST', `${s}/element/${el}/clear`, {});
    await wd('POST', `${s}/element/${el}/value`, { text: value });
  };
  await setField('#conn-name', 'team');
  await setField('#conn-api', `${remote.url}/v1`);
  // The PEM set as the field's value (typing its newlines through the driver is slow).
  await script("document.querySelector('#conn-ca').value = arguments[0]; return true;", remote.ca);
  await wd('POST', `${s}/element/${await find('form.connection-form button[type="submit"]')}/click`, {});
  // The page reloads against the new connection: its sign-in screen.
  await setField('#remote-user', 'ada');
  await setField('#remote-password', 'ada-desktop-pw');
  await screenshot('07-remote-sign-in.png');
  await wd('POST', `${s}/element/${await find('form.connect button[type="submit"]')}/click`, {});
  await until('the remote catalogue', () => find('.action-item[data-ref="e2e.deploy"]'), 60_000);
  const location = await text(await find('.transport'));
  check('signed in as a user of the TLS server, its CA given in the connection only', location === `${remote.url}/v1`, location);

  // Output of a run there, streamed through the app.
  await wd('POST', `${s}/element/${await find('.action-item[data-ref="e2e.numbered"]')}/click`, {});
  await setField('#param-lines', '3');
  await setField('#param-pause', '0');
  await wd('POST', `${s}/element/${await find('form.params button[type="submit"]')}/click`, {});
  const remoteOutput = await until('the remote run\'s output', async () => {
    const status = await attr(await find('.execution-header .badge'), 'data-status');
    const log = await text(await find('pre.output'));
    return status === 'succeeded' && log.includes('line 3') ? log : null;
  }, 90_000).catch(() => null);
  check('a run on the remote shows its output', remoteOutput !== null && /line 1[\s\S]*line 2[\s\S]*line 3/.test(remoteOutput), JSON.stringify(remoteOutput));

  // A nested workflow there: its live tree from the remote's stream.
  await script('window.location.hash = "#/action/e2e.deploy"');
  await setField('#param-delay', '0.5');
  // The page notes (on every DOM change, not by polling) whether the tree drew
  // a subworkflow while the workflow was still running.
  await script(`
    window.__liveTree = false;
    const observer = new MutationObserver(() => {
      const badge = document.querySelector('.execution-header .badge');
      if (badge?.getAttribute('data-status') === 'running' && document.querySelector('.tree-row[data-path="hosts[0]"]')) {
        window.__liveTree = true;
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    return true;
  `);
  await wd('POST', `${s}/element/${await find('form.params button[type="submit"]')}/click`, {});
  await until('the subworkflows in the tree', () => find('.tree-row[data-path="hosts[1]"]'), 90_000);
  await screenshot('08-remote-tree.png');
  const deployed = await until('the nested workflow to end', async () => {
    const status = await attr(await find('.execution-header .badge'), 'data-status');
    return ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'].includes(status) ? status : null;
  }, 120_000);
  const treeRows = await until('the whole tree', async () => {
    const counts = await script(`
      const rows = [...document.querySelectorAll('.tree-row:not([hidden])')];
      return { all: rows.length, done: rows.filter((r) => r.getAttribute('data-status') === 'succeeded').length };
    `);
    return counts.all >= 12 && counts.done === counts.all ? counts : null;
  }, 60_000).catch(() => null);
  check('a nested workflow on the remote shows its live tree, every task succeeded', deployed === 'succeeded' && treeRows !== null, `${deployed} ${JSON.stringify(treeRows)}`);
  const live = await script('return window.__liveTree;');
  check('the tree drew the subworkflows while the workflow ran', live === true, String(live));
  const treeOutput = await until('the workflow\'s output', async () => {
    const log = await text(await find('pre.output'));
    return log.includes('stop gamma done') && log.includes('verify') ? log : null;
  }, 60_000).catch(() => null);
  check('the nested workflow\'s output shows every task\'s lines', treeOutput !== null, JSON.stringify(treeOutput?.slice(0, 200)));
  const runs = await remote.api('/v1/executions?action=e2e.deploy');
  check('it ran on the remote, as ada', runs.length === 1 && runs[0].context.user === 'ada', JSON.stringify(runs.map((r) => r.context.user)));

  // An Inquiry on the remote, answered in the window.
  await script("window.__stormdesk.backend.run({ action: 'core.ask', parameters: { route: 'remote' } }).then((e) => { window.__askedId = e.id; }); return true;");
  const asked = await until('the remote Inquiry', () => script('return window.__askedId ?? null;'));
  await script('window.location.hash = "#/inquiries"');
  const remoteBox = await until('the remote answer form', () => find('.inquiry-card [data-field="continue"] input'), 60_000);
  await screenshot('09-remote-inquiry.png');
  await wd('POST', `${s}/element/${remoteBox}/click`, {});
  await wd('POST', `${s}/element/${await find('.inquiry-card button[type="submit"]')}/click`, {});
  await until('the answered remote Inquiry to leave the list', () => script("return document.querySelectorAll('.inquiry-card').length === 0;"), 60_000);
  const answered = await until('the remote Inquiry to succeed', async () => {
    const e = await remote.api(`/v1/executions/${asked}`);
    return e.status === 'succeeded' ? e : null;
  }, 60_000).catch(() => null);
  check('an Inquiry on the remote answered in the window', answered?.result?.response?.continue === true, JSON.stringify(answered?.result));

  // The same server behind a StackStorm-shaped front: the revision picker
  // lists the pack's repo_url by git ls-remote from the app, and the pick
  // travels as StackStorm's content_version runner parameter.
  const repoDir = join(remoteDir, 'examples-repo');
  makeRepo(repoDir);
  front = await stackstormFront(remote, `file://${repoDir}`);
  await script(`
    const select = document.querySelector('#connection');
    select.value = '__manage';
    select.dispatchEvent(new Event('change'));
  `);
  await setField('#conn-name', 'st2');
  await setField('#conn-api', `${front.url}/v1`);
  await wd('POST', `${s}/element/${await find('form.connection-form button[type="submit"]')}/click`, {});
  await setField('#remote-user', 'ada');
  await setField('#remote-password', 'ada-desktop-pw');
  await wd('POST', `${s}/element/${await find('form.connect button[type="submit"]')}/click`, {});
  await until('the catalogue through the front', () => find('.action-item[data-ref="examples.countdown"]'), 60_000);
  // A local-shell-script action: its runner takes content_version.
  await script('window.location.hash = "#/action/examples.countdown"');
  const picker = await until('the revision picker from repo_url', () => find('select#revision'), 60_000).catch(() => null);
  let options = [];
  if (picker) {
    options = await script("return [...document.querySelectorAll('select#revision option')].map((o) => o.value);");
  } else {
    // What the picker was given, for the failure's message.
    await script("window.__stormdesk.backend.listRevisions('examples').then((r) => { window.__revs = JSON.stringify(r); }, (e) => { window.__revs = 'error: ' + e.message; }); return true;");
    options = [await until('the revisions', () => script('return window.__revs ?? null;')).catch(() => 'none'), await script("return document.querySelector('.revision-slot')?.textContent ?? 'no slot';")];
  }
  check(
    'against StackStorm the picker lists the tags and branches of the pack\'s repo_url',
    JSON.stringify(options) === JSON.stringify(['', 'v1.1.0', 'v1.0.0', 'main', 'feature/x']),
    JSON.stringify(options),
  );
  if (picker) {
    await script("const s = document.querySelector('select#revision'); s.value = 'v1.0.0'; s.dispatchEvent(new Event('change')); return true;");
    await until('the form at v1.0.0', () => script("return document.querySelector('select#revision')?.value === 'v1.0.0' && !document.querySelector('form.params button[type=\"submit\"]').disabled;"));
    await screenshot('10-st2-revision-picker.png');
    await wd('POST', `${s}/element/${await find('form.params button[type="submit"]')}/click`, {});
    const sent = await until('the run request', () => front.runs.find((r) => r.action === 'examples.countdown') ?? null).catch(() => null);
    check(
      'the pick is sent as parameters.content_version, as st2 run does',
      sent?.parameters?.content_version === 'v1.0.0' && sent.content_version === undefined,
      JSON.stringify(sent),
    );
  }

  // Back to the embedded engine from the title bar.
  await script(`
    const select = document.querySelector('#connection');
    select.value = 'local';
    select.dispatchEvent(new Event('change'));
  `);
  await until('the embedded catalogue', () => find('.action-item[data-ref="examples.hello"]'), 60_000);
  const back = await until('the IPC transport', async () => ((await text(await find('.transport'))) === 'desktop' ? 'desktop' : null)).catch(() => null);
  check('switched back to the embedded engine', back === 'desktop', String(back));
} catch (error) {
  check(String(error?.message ?? error), false);
} finally {
  // tauri-driver ends the app when the session ends.
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
  front?.server.close();
  if (remote && remote.child.exitCode === null) {
    const gone = new Promise((resolve) => remote.child.once('exit', resolve));
    remote.child.kill('SIGTERM');
    await gone;
  }
  rmSync(remoteDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
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
