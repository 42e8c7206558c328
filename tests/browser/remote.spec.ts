// The console connected to another server: the console served by one
// `stormdesk serve` (the worker's, plain loopback) drives a second one over
// TLS, with a certificate made here (a CA and a server certificate it signs,
// `openssl`), which lets the first console's origin in (`--allow-origin`).
// Chromium trusts that one certificate by its public key
// (`--ignore-certificate-errors-spki-list`), nothing else.
//
// - signs in as a user of the second server (`stormdesk user add`), runs a
//   nested workflow there and sees its live tree; the run records the user;
// - a wrong password and an API key the server does not know: the sign-in
//   screen says the server refused the credentials;
// - the server goes away mid-run (kill -9) and comes back on the same
//   address: the console reconnects and shows every line once, in order;
// - behind a StackStorm-shaped front (Stormdesk's own routes answer 404,
//   output is text, output events carry no seq): the revision picker is
//   hidden, the output is whole and in order.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { Page } from '@playwright/test';

import { CHROMIUM, CHROMIUM_ARGS } from './playwright.config';
import { expect, makeGitPack, REPO, test } from './server';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.STORMDESK_BIN ?? join(REPO, 'target/debug/stormdesk');
const UI = process.env.STORMDESK_UI ?? join(REPO, 'ui/dist');

/** A CA and a server certificate for 127.0.0.1 and localhost, signed by it. */
function makeCerts(dir: string): { cert: string; key: string; spki: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Stormdesk e2e CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf');
  const spkiDer = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).publicKey.export({ type: 'spki', format: 'der' });
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), spki: createHash('sha256').update(spkiDer).digest('base64') };
}

const certDir = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-tls-'));
const certs = makeCerts(certDir);

test.use({ launchOptions: { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${certs.spki}`] } });
test.afterAll(() => rmSync(certDir, { recursive: true, force: true }));

interface Remote {
  url: string;
  home: string;
  token: string;
  child: ChildProcess;
  api<T>(method: string, path: string): Promise<T>;
}

/** `stormdesk serve` over TLS, letting `origin`'s console in. */
async function startRemote(home: string, origin: string, listen = '127.0.0.1:0', packs: string[] = []): Promise<Remote> {
  const child = spawn(
    BIN,
    ['serve', '--listen', listen, '--tls-cert', certs.cert, '--tls-key', certs.key, '--allow-origin', origin, '--ui', UI, '--packs', join(here, 'fixtures/packs'), ...packs.flatMap((p) => ['--packs', p])],
    { env: { ...process.env, STORMDESK_HOME: home, STORMDESK_LOG: process.env.STORMDESK_LOG ?? 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the TLS server printed no URL in 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => fail(new Error(`the TLS server exited (${code}): ${stderr}`)));
    lines.on('line', (line) => {
      const m = /listening on (https:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
  });
  const token = readFileSync(join(home, 'config', 'token'), 'utf8').trim();
  // Test setup only, from Node: it trusts the CA for these calls.
  const agent = new Agent({ ca: readFileSync(join(certDir, 'ca.pem')) });
  const api = <T>(method: string, path: string): Promise<T> =>
    new Promise((ok, fail) => {
      const req = request(url + path, { method, agent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => ((res.statusCode ?? 500) < 400 ? ok(JSON.parse(body) as T) : fail(new Error(`${path}: ${res.statusCode} ${body}`))));
      });
      req.on('error', fail);
      req.end();
    });
  return { url, home, token, child, api };
}

/** Stops the server: `SIGKILL` (gone, no goodbye) or `SIGTERM` (the end of a test). */
async function kill(remote: Remote, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (remote.child.exitCode !== null) return;
  const exited = new Promise((r) => remote.child.once('exit', r));
  remote.child.kill(signal);
  await exited;
}

/** Stops the server and removes its home (its Python environment builder may still be writing there). */
async function cleanUp(remote: Remote): Promise<void> {
  await kill(remote, 'SIGTERM');
  rmSync(remote.home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

function addUser(home: string, name: string, password: string): void {
  execFileSync(BIN, ['user', 'add', name, '--password-stdin'], { env: { ...process.env, STORMDESK_HOME: home }, input: `${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
}

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Every request the page sends to `origin` (the console's, not the test's). */
function recordRequests(page: Page, origin: string): Recorded[] {
  const recorded: Recorded[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(origin) && r.method() !== 'OPTIONS') recorded.push({ method: r.method(), url: r.url(), headers: r.headers(), body: r.postData() });
  });
  return recorded;
}

/**
 * The console's requests against StackStorm's API as docs/openapi.yaml
 * declares it, with openapi-core (tests/api/console_requests.py, beside the
 * server's contract test).
 */
function checkContract(recorded: Recorded[]): void {
  const python = execFileSync('bash', [join(REPO, 'scripts/pyvenv.sh'), 'openapi', 'openapi-core==0.23.1', 'requests==2.32.4'], { encoding: 'utf8' }).trim();
  const file = join(certDir, `requests-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(recorded));
  let out: string;
  try {
    out = execFileSync(python, [join(REPO, 'tests/api/console_requests.py'), join(REPO, 'docs/openapi.yaml'), file], { encoding: 'utf8' });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? error);
  }
  const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { validated: number; failures: string[] };
  expect(report.failures).toEqual([]);
  expect(report.validated).toBeGreaterThan(10);
}

/** docs/remote.md's pictures, taken when `STORMDESK_SCREENSHOTS` is set (`npm run screenshots` runs this file too). */
async function docShot(page: Page, name: string): Promise<void> {
  if (process.env.STORMDESK_SCREENSHOTS) await page.screenshot({ path: join(REPO, 'docs/screenshots', name) });
}

/** Adds the remote in the title bar's dialog; the console reloads onto its sign-in screen. */
async function addConnection(page: Page, name: string, apiUrl: string): Promise<void> {
  await page.locator('#connection').selectOption('__manage');
  const dialog = page.getByRole('dialog', { name: 'Connections' });
  await dialog.locator('#conn-name').fill(name);
  await dialog.locator('#conn-api').fill(apiUrl);
  if (name === 'team') await docShot(page, 'remote-add.png');
  await dialog.getByRole('button', { name: 'Add and connect' }).click();
  await expect(page.getByRole('heading', { name: `Sign in to ${name}` })).toBeVisible();
}

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#remote-user').fill(user);
  await page.locator('#remote-password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('runs a nested workflow on a remote server over TLS and sees its live tree', async ({ consolePage: page, server }) => {
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  addUser(home, 'alice', 'alice-pw');
  const remote = await startRemote(home, server.url);
  const recorded = recordRequests(page, remote.url);
  try {
    await addConnection(page, 'team', `${remote.url}/v1`);
    await signIn(page, 'alice', 'alice-pw');
    // The remote's catalogue: the e2e pack is there, the worker's git pack is not.
    await expect(page.locator('.action-item[data-ref="e2e.deploy"]')).toBeVisible();
    await expect(page.locator('.action-item[data-ref="gitpack.greet"]')).toHaveCount(0);
    await expect(page.locator('.transport')).toHaveText(`${remote.url}/v1`);
    await expect(page.locator('#connection')).toHaveValue(/.+/);

    await page.locator('.action-item[data-ref="e2e.deploy"]').click();
    await page.locator('#param-delay').fill('0.8');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const execution = page.getByRole('region', { name: 'Execution' });
    const tree = execution.getByRole('tree', { name: 'Workflow tree' });
    await expect(tree).toBeVisible();
    await expect(tree.locator('.tree-row.not-reached[data-path="verify"]')).toBeVisible();
    for (const i of [0, 1, 2]) await expect(tree.locator(`.tree-row[data-path="hosts[${i}]"]`)).toBeVisible();
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    await expect(tree.locator('.tree-row:not([hidden])')).toHaveCount(12);
    await expect(tree.locator('.tree-row:not([data-status="succeeded"])')).toHaveCount(0);
    await docShot(page, 'remote-tree.png');

    // It ran there, as alice.
    const runs = await remote.api<{ id: string; context: { user: string } }[]>('GET', '/v1/executions?action=e2e.deploy');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.context.user).toBe('alice');
    // And not here.
    expect(await server.api<unknown[]>('GET', '/v1/executions?action=e2e.deploy&limit=100').then((r) => r.length)).toBe(0);

    // Back to this engine from the title bar.
    await page.locator('#connection').selectOption('local');
    await expect(page.locator('.action-item[data-ref="gitpack.greet"]')).toBeVisible();
    // What the console sent was StackStorm's API as the document declares it.
    checkContract(recorded);
  } finally {
    await cleanUp(remote);
  }
});

test('says so when the remote server refuses the credentials', async ({ consolePage: page, server }) => {
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  addUser(home, 'alice', 'alice-pw');
  const remote = await startRemote(home, server.url);
  try {
    await addConnection(page, 'strict', `${remote.url}/v1`);
    await signIn(page, 'alice', 'wrong');
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('strict refused the credentials');
    await expect(alert).toContainText('invalid or missing credentials');
    await docShot(page, 'remote-refused.png');
    // An API key it does not know: refused when the console checks it.
    await page.locator('#remote-api-key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Sign in to strict' })).toBeVisible();
    await expect(page.getByRole('alert')).toContainText('strict refused the credentials');
    // The right password gets in.
    await signIn(page, 'alice', 'alice-pw');
    await expect(page.locator('.action-item[data-ref="e2e.numbered"]')).toBeVisible();
  } finally {
    await cleanUp(remote);
  }
});

test('renews the token before it expires', async ({ consolePage: page, server }) => {
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  addUser(home, 'alice', 'alice-pw');
  const remote = await startRemote(home, server.url);
  try {
    // The page's clock, moved on below instead of waiting 19 hours.
    await page.clock.install();
    await addConnection(page, 'renewing', `${remote.url}/v1`);
    await signIn(page, 'alice', 'alice-pw');
    await expect(page.locator('.action-item[data-ref="e2e.numbered"]')).toBeVisible();
    const tokens = () => page.evaluate(() => sessionStorage.getItem('stormdesk.tokens'));
    const before = await tokens();
    expect(before).toContain('"token"');

    // A day's token is renewed when a fifth of its life is left.
    const renewal = page.waitForResponse((r) => r.url() === `${remote.url}/auth/v1/tokens` && r.request().method() === 'POST');
    await page.clock.fastForward('20:00:00');
    expect((await renewal).status()).toBe(201);
    await expect.poll(tokens).not.toBe(before);

    // The new token is the one in use.
    const used = page.waitForRequest((r) => r.url().startsWith(`${remote.url}/v1/executions`) && r.method() === 'POST');
    await page.locator('.action-item[data-ref="e2e.numbered"]').click();
    await page.locator('#param-lines').fill('2');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const token = (await used).headers()['x-auth-token'];
    expect(await tokens()).toContain(`"${token}"`);
    expect(before).not.toContain(`"${token}"`);
  } finally {
    await cleanUp(remote);
  }
});

test('the server goes away mid-run and comes back: every line shows once, in order', async ({ consolePage: page, server }) => {
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  addUser(home, 'alice', 'alice-pw');
  let remote = await startRemote(home, server.url);
  try {
    await addConnection(page, 'flaky', `${remote.url}/v1`);
    await signIn(page, 'alice', 'alice-pw');
    await page.locator('.action-item[data-ref="e2e.numbered"]').click();
    await page.locator('#param-lines').fill('60');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const execution = page.getByRole('region', { name: 'Execution' });
    const log = execution.getByLabel('Output log');
    await expect(log.locator('.line', { hasText: 'line 5' })).toHaveCount(1);

    // Gone: kill -9, and the console cannot reach it for a while.
    const listen = new URL(remote.url).host;
    await kill(remote);
    // Back on the same address and home: it adopts the running action.
    remote = await startRemote(home, server.url, listen);

    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    const expected = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`);
    await expect.poll(async () => (await log.locator('.line .text').allTextContents()).map((t) => t.trim()), { timeout: 30_000 }).toEqual(expected);
  } finally {
    await cleanUp(remote);
  }
});

/**
 * A server that answers as StackStorm would where Stormdesk adds to its API:
 * an HTTPS proxy in front of `remote` (same certificate) that answers 404 for
 * Stormdesk's own routes (pack revisions, the workflow graph), drops the
 * output log's `format`/`after` parameters (StackStorm answers with text) and
 * the `seq` of output events (StackStorm does not number them).
 */
async function stackstormShaped(remote: Remote): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(remote.url);
  const agent = new Agent({ ca: readFileSync(join(certDir, 'ca.pem')) });
  const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
    const url = new URL(req.url ?? '/', remote.url);
    if (/^\/v1\/packs\/[^/]+\/revisions$|^\/v1\/executions\/[^/]+\/graph$/.test(url.pathname)) {
      res.writeHead(404, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': req.headers.origin ?? '*' });
      res.end(JSON.stringify({ faultstring: 'The resource could not be found.' }));
      return;
    }
    if (/\/output$/.test(url.pathname)) {
      url.searchParams.delete('format');
      url.searchParams.delete('after');
    }
    const headers = { ...req.headers, host: upstream.host };
    const forward = request(url, { method: req.method, headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!url.pathname.endsWith('/stream')) {
        up.pipe(res);
        return;
      }
      // Output events without their sequence numbers, line by line.
      let buffer = '';
      up.on('data', (d: Buffer) => {
        buffer += d.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith('data:') && line.includes('"seq"')) {
            const event = JSON.parse(line.slice(5)) as Record<string, unknown>;
            if ('output_type' in event) delete event['seq'];
            res.write(`data: ${JSON.stringify(event)}\n`);
          } else {
            res.write(`${line}\n`);
          }
        }
      });
      up.on('end', () => res.end(buffer));
    });
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

test('against a StackStorm-shaped server: no revision picker, output read as text', async ({ consolePage: page, server }) => {
  const home = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-remote-'));
  const packs = join(home, 'extra-packs');
  mkdirSync(packs);
  const gitpack = makeGitPack(packs);
  addUser(home, 'alice', 'alice-pw');
  const remote = await startRemote(home, server.url, '127.0.0.1:0', [gitpack]);
  const st2 = await stackstormShaped(remote);
  const recorded = recordRequests(page, st2.url);
  try {
    // Straight to the Stormdesk server: its git pack has a revision picker.
    await addConnection(page, 'direct', `${remote.url}/v1`);
    await signIn(page, 'alice', 'alice-pw');
    await page.locator('.action-item[data-ref="gitpack.greet"]').click();
    await expect(page.locator('#revision')).toBeVisible();

    // Through the StackStorm-shaped front: hidden, not broken.
    await addConnection(page, 'st2', `${st2.url}/v1`);
    await signIn(page, 'alice', 'alice-pw');
    await page.locator('.action-item[data-ref="gitpack.greet"]').click();
    await expect(page.getByRole('heading', { level: 1, name: 'gitpack.greet' })).toBeVisible();
    await expect(page.locator('#param-name')).toBeVisible();
    await expect(page.locator('#revision')).toHaveCount(0);

    // Output from StackStorm's text, live, each line once and in order.
    await page.locator('.action-item[data-ref="e2e.numbered"]').click();
    await page.locator('#param-lines').fill('30');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const execution = page.getByRole('region', { name: 'Execution' });
    const log = execution.getByLabel('Output log');
    await expect(log.locator('.line', { hasText: 'line 3' }).first()).toBeVisible();
    await expect(execution.locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded', { timeout: 60_000 });
    const expected = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    await expect.poll(async () => (await log.locator('.line .text').allTextContents()).map((t) => t.trim()), { timeout: 30_000 }).toEqual(expected);
    checkContract(recorded);
  } finally {
    await st2.close();
    await cleanUp(remote);
  }
});
