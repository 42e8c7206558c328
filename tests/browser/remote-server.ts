// The second server of the remote-console tests (remote*.spec.ts): a
// `stormdesk serve` over TLS with a certificate made here (a CA and a server
// certificate it signs, `openssl`), which lets the first console's origin in
// (`--allow-origin`); a StackStorm-shaped front before it; and the steps the
// tests share (connecting, signing in, recording and checking what the
// console sends). Chromium trusts the one certificate by its public key
// (`SPKI_ARGS`), nothing else.
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
import { expect, REPO } from './server';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.STORMDESK_BIN ?? join(REPO, 'target/debug/stormdesk');
const UI = process.env.STORMDESK_UI ?? join(REPO, 'ui/dist');

/** A CA and a server certificate for 127.0.0.1 and localhost, signed by it. */
export function makeCerts(dir: string): { cert: string; key: string; spki: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Stormdesk e2e CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf');
  const spkiDer = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).publicKey.export({ type: 'spki', format: 'der' });
  return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), spki: createHash('sha256').update(spkiDer).digest('base64') };
}

export const certDir = mkdtempSync(join(tmpdir(), 'stormdesk-e2e-tls-'));
export const certs = makeCerts(certDir);
// One set per test worker, for every spec file it runs: gone when the worker ends.
process.on('exit', () => rmSync(certDir, { recursive: true, force: true }));

/** Chromium's launch options trusting the server certificate's key (`test.use({ launchOptions })`). */
export const TLS_LAUNCH = { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${certs.spki}`] };


export interface Remote {
  url: string;
  home: string;
  token: string;
  child: ChildProcess;
  api<T>(method: string, path: string): Promise<T>;
}

/** `stormdesk serve` over TLS, letting `origin`'s console in. */
export async function startRemote(home: string, origin: string, listen = '127.0.0.1:0', packs: string[] = []): Promise<Remote> {
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
export async function kill(remote: Remote, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (remote.child.exitCode !== null) return;
  const exited = new Promise((r) => remote.child.once('exit', r));
  remote.child.kill(signal);
  await exited;
}

/** Stops the server and removes its home (its Python environment builder may still be writing there). */
export async function cleanUp(remote: Remote): Promise<void> {
  await kill(remote, 'SIGTERM');
  rmSync(remote.home, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

export function addUser(home: string, name: string, password: string): void {
  execFileSync(BIN, ['user', 'add', name, '--password-stdin'], { env: { ...process.env, STORMDESK_HOME: home }, input: `${password}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
}

export interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

/** Every request the page sends to `origin` (the console's, not the test's). */
export function recordRequests(page: Page, origin: string): Recorded[] {
  const recorded: Recorded[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(origin) && r.method() !== 'OPTIONS') recorded.push({ method: r.method(), url: r.url(), headers: r.headers(), body: r.postData() });
  });
  return recorded;
}

/**
 * The console's requests against StackStorm's API as docs/openapi.yaml
 * declares it, with openapi-core (tests/api/console_requests.py, beside the
 * server's contract test). `stackstorm`: requests to a StackStorm-shaped
 * front (`/api/v1`, `/stream/v1`), held to StackStorm's API alone (no
 * Stormdesk route, parameter or body field).
 */
export function checkContract(recorded: Recorded[], stackstorm = false): void {
  const python = execFileSync('bash', [join(REPO, 'scripts/pyvenv.sh'), 'openapi', 'openapi-core==0.23.1', 'requests==2.32.4'], { encoding: 'utf8' }).trim();
  const file = join(certDir, `requests-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(recorded));
  let out: string;
  try {
    out = execFileSync(python, [join(REPO, 'tests/api/console_requests.py'), join(REPO, 'docs/openapi.yaml'), file, ...(stackstorm ? ['--stackstorm'] : [])], { encoding: 'utf8' });
  } catch (error) {
    out = String((error as { stdout?: string }).stdout ?? error);
  }
  const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { validated: number; failures: string[] };
  expect(report.failures).toEqual([]);
  expect(report.validated).toBeGreaterThan(10);
}

/** docs/remote.md's pictures, taken when `STORMDESK_SCREENSHOTS` is set (`npm run screenshots` runs this file too). */
export async function docShot(page: Page, name: string): Promise<void> {
  if (process.env.STORMDESK_SCREENSHOTS) await page.screenshot({ path: join(REPO, 'docs/screenshots', name) });
}

/** Adds the remote in the title bar's dialog; the console reloads onto its sign-in screen. */
export async function addConnection(page: Page, name: string, apiUrl: string): Promise<void> {
  await page.locator('#connection').selectOption('__manage');
  const dialog = page.getByRole('dialog', { name: 'Connections' });
  await dialog.locator('#conn-name').fill(name);
  await dialog.locator('#conn-api').fill(apiUrl);
  if (name === 'team') await docShot(page, 'remote-add.png');
  await dialog.getByRole('button', { name: 'Add and connect' }).click();
  await expect(page.getByRole('heading', { name: `Sign in to ${name}` })).toBeVisible();
}

export async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#remote-user').fill(user);
  await page.locator('#remote-password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}


/** Stormdesk's own routes (operations tagged `stormdesk` in docs/openapi.yaml): StackStorm has none of them. */
const STORMDESK_ROUTES: [string, RegExp][] = [
  ['POST', /^\/v1\/packs$/],
  ['POST', /^\/v1\/packs\/update$/],
  ['POST', /^\/v1\/packs\/reload$/],
  ['GET', /^\/v1\/packs\/[^/]+\/revisions$/],
  ['POST', /^\/v1\/packs\/[^/]+\/update$/],
  ['GET', /^\/v1\/executions\/[^/]+\/graph$/],
];

/** What Stormdesk says about a pack besides StackStorm's fields (`x-stormdesk` in docs/openapi.yaml, and the Packs screen's extras). */
const STORMDESK_PACK_FIELDS = ['git', 'actions', 'unsupported', 'errors', 'ignored', 'shadows'];

/** The API path behind StackStorm's nginx layout (`/api/v1`, `/auth/v1`, `/stream/v1/stream`), or null. */
function stormdeskPath(pathname: string): string | null {
  if (pathname === '/stream/v1/stream') return '/v1/stream';
  if (pathname.startsWith('/auth/v1/')) return pathname;
  if (pathname === '/api/v1/stream') return null;
  if (pathname === '/api/v1' || pathname.startsWith('/api/v1/')) return pathname.slice('/api'.length);
  return null;
}

/**
 * A server that answers as StackStorm would where Stormdesk adds to its API:
 * an HTTPS proxy in front of `remote` (same certificate) laid out as
 * StackStorm is behind its nginx (`/api/v1`, `/auth/v1`, `/stream/v1/stream`),
 * that answers 404 for Stormdesk's own routes, drops the output log's
 * `format`/`after` parameters (StackStorm answers with text), describes packs
 * without Stormdesk's fields, and drops the `seq` of output events
 * (StackStorm does not number them). `url` is its root: the console's API
 * URL is `${url}/api/v1`.
 */
export async function stackstormShaped(remote: Remote): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(remote.url);
  const agent = new Agent({ ca: readFileSync(join(certDir, 'ca.pem')) });
  const server = createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
    const incoming = new URL(req.url ?? '/', remote.url);
    const path = stormdeskPath(incoming.pathname);
    const method = req.method ?? 'GET';
    if (path === null || (method !== 'OPTIONS' && STORMDESK_ROUTES.some(([m, route]) => m === method && route.test(path)))) {
      res.writeHead(404, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': req.headers.origin ?? '*' });
      res.end(JSON.stringify({ faultstring: 'The resource could not be found.' }));
      return;
    }
    const url = new URL(path + incoming.search, remote.url);
    if (/\/output$/.test(url.pathname)) {
      url.searchParams.delete('format');
      url.searchParams.delete('after');
    }
    const packs = method === 'GET' && /^\/v1\/packs(\/[^/]+)?$/.test(url.pathname);
    const headers = { ...req.headers, host: upstream.host };
    // Bodies rewritten here are read plain.
    if (packs) delete headers['accept-encoding'];
    const forward = request(url, { method, headers, agent }, (up) => {
      if (packs) {
        let body = '';
        up.on('data', (d: Buffer) => (body += d.toString()));
        up.on('end', () => {
          let out = body;
          if ((up.statusCode ?? 500) < 400) {
            const strip = (pack: Record<string, unknown>) => {
              for (const field of STORMDESK_PACK_FIELDS) delete pack[field];
              return pack;
            };
            const value = JSON.parse(body) as Record<string, unknown> | Record<string, unknown>[];
            out = JSON.stringify(Array.isArray(value) ? value.map(strip) : strip(value));
          }
          const answer = { ...up.headers };
          delete answer['content-length'];
          delete answer['transfer-encoding'];
          res.writeHead(up.statusCode ?? 502, { ...answer, 'content-length': Buffer.byteLength(out) });
          res.end(out);
        });
        return;
      }
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
