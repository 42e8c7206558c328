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
// - behind a StackStorm-shaped front (StackStorm's URL layout, Stormdesk's
//   own routes answer 404, output is text, output events carry no seq): the
//   revision picker is hidden, the output is whole and in order.
// The rest against that front (every screen, an Inquiry answered) is in
// remote-stackstorm.spec.ts; the shared parts in remote-server.ts.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { addConnection, addUser, checkContract, cleanUp, docShot, kill, recordRequests, signIn, stackstormShaped, startRemote, TLS_LAUNCH } from './remote-server';
import { expect, makeGitPack, test } from './server';

test.use({ launchOptions: TLS_LAUNCH });

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
    await addConnection(page, 'st2', `${st2.url}/api/v1`);
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
    checkContract(recorded, true);
  } finally {
    await st2.close();
    await cleanUp(remote);
  }
});
