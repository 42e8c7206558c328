// A real `stormdesk serve` per test worker: its own STORMDESK_HOME in a
// temporary directory, the bundled example pack, the fixture packs (e2e,
// asks) and a git pack with tagged revisions built here with the `git` command.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { test as base, expect, type Page } from '@playwright/test';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
const BIN = process.env.STORMDESK_BIN ?? join(REPO, 'target/debug/stormdesk');
const UI = process.env.STORMDESK_UI ?? join(REPO, 'ui/dist');

export interface Server {
  url: string;
  token: string;
  home: string;
  /** The token file (`<home>/config/token`). */
  tokenFile: string;
  /** GET/POST the API directly (test setup only; the UI is what is tested). */
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Stops the server (SIGTERM) and, unless `keepHome`, removes its home. */
  stop(options?: { keepHome?: boolean }): Promise<void>;
}

/** Where a server starts: a fresh home and any free port, or an earlier server's home and address (a restart). */
export interface ServerOptions {
  home?: string;
  listen?: string;
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, {
    cwd,
    stdio: 'ignore',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'e2e',
      GIT_AUTHOR_EMAIL: 'e2e@example.invalid',
      GIT_COMMITTER_NAME: 'e2e',
      GIT_COMMITTER_EMAIL: 'e2e@example.invalid',
    },
  });
}

/** `gitpack`: v1.0.0 (greet takes `name`), v1.1.0 (+`greeting`), then main (+`shout`). */
export function makeGitPack(root: string): string {
  const dir = join(root, 'gitpack');
  mkdirSync(join(dir, 'actions'), { recursive: true });
  writeFileSync(join(dir, 'pack.yaml'), 'ref: gitpack\nname: gitpack\ndescription: A git pack with tagged revisions.\nversion: 1.0.0\n');
  const action = (extra: string, cmd: string) =>
    `name: greet\nrunner_type: local-shell-cmd\nenabled: true\nparameters:\n  name:\n    type: string\n    default: world\n${extra}  cmd:\n    immutable: true\n    default: '${cmd}'\n`;
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'actions/greet.yaml'), action('', 'echo "v1 hello {{name}}"'));
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'First greeting');
  git(dir, 'tag', 'v1.0.0');
  writeFileSync(
    join(dir, 'actions/greet.yaml'),
    action('  greeting:\n    type: string\n    default: Hello\n', 'echo "v1.1 {{greeting}} {{name}}"'),
  );
  git(dir, 'commit', '-q', '-am', 'Configurable greeting');
  git(dir, 'tag', 'v1.1.0');
  writeFileSync(
    join(dir, 'actions/greet.yaml'),
    action('  greeting:\n    type: string\n    default: Hello\n  shout:\n    type: boolean\n    default: false\n', 'echo "main {{greeting}} {{name}}"'),
  );
  git(dir, 'commit', '-q', '-am', 'Shout option');
  return dir;
}

export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'stormdesk-e2e-'));
  const packs = join(home, 'extra-packs');
  const gitpack = join(packs, 'gitpack');
  if (options.home === undefined) {
    mkdirSync(packs);
    makeGitPack(packs);
  }
  const child: ChildProcess = spawn(
    BIN,
    // The repository's examples pack too: it takes the place of the bundled
    // copy (the Packs screen shows the shadowing).
    ['serve', '--listen', options.listen ?? '127.0.0.1:0', '--ui', UI, '--packs', join(REPO, 'packs/examples'), '--packs', join(here, 'fixtures/packs'), '--packs', gitpack],
    { env: { ...process.env, STORMDESK_HOME: home, STORMDESK_LOG: process.env.STORMDESK_LOG ?? 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const { url, token } = await new Promise<{ url: string; token: string }>((ok, fail) => {
    let url = '';
    const timer = setTimeout(() => fail(new Error(`stormdesk serve printed no console URL in 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => fail(new Error(`stormdesk serve exited (${code}): ${stderr}`)));
    lines.on('line', (line) => {
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening) url = listening[1]!;
      const console = /^console: (\S+)\?token=(\S+)/.exec(line);
      if (console) {
        clearTimeout(timer);
        ok({ url: url || console[1]!.replace(/\/$/, ''), token: console[2]! });
      }
    });
  });
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    url,
    token,
    home,
    tokenFile: join(home, 'config', 'token'),
    api,
    async stop(options = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      if (!options.keepHome) rmSync(home, { recursive: true, force: true });
    },
  };
}

export const test = base.extend<{ consolePage: Page }, { server: Server }>({
  server: [
    async ({}, use) => {
      const server = await startServer();
      await use(server);
      await server.stop();
    },
    { scope: 'worker' },
  ],
  /** The console, loaded and connected (its catalogue shown). */
  consolePage: async ({ page, server }, use) => {
    await page.goto(`${server.url}/?token=${server.token}`);
    await expect(page.locator('.action-item').first()).toBeVisible();
    await use(page);
  },
});

export { expect };

/** A tab of the selected node's details (Output, Result, Parameters, Timeline). */
export function tab(page: Page, name: 'Output' | 'Result' | 'Parameters' | 'Timeline') {
  return page.getByRole('region', { name: 'Execution' }).getByRole('tab', { name, exact: true });
}

/** Waits for an execution to complete, through the API; returns its record. */
export async function completed(server: Server, id: string): Promise<{ id: string; status: string; result?: unknown }> {
  let record: { id: string; status: string; result?: unknown } = { id, status: '' };
  await expect
    .poll(
      async () => {
        record = await server.api('GET', `/v1/executions/${id}`);
        return ['succeeded', 'failed', 'timeout', 'canceled', 'abandoned'].includes(record.status);
      },
      { timeout: 60_000 },
    )
    .toBe(true);
  return record;
}

/** Opens an action's form from the catalogue. */
export async function openAction(page: Page, ref: string): Promise<void> {
  await page.locator(`.action-item[data-ref="${ref}"]`).click();
  await expect(page.getByRole('heading', { level: 1, name: ref, exact: true })).toBeVisible();
}
