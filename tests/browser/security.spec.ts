// The console talks to its own origin only: a crafted link with `?api=`
// pointing elsewhere sends nothing there, not the token, not a request. A
// second listener stands in for the attacker and records anything it gets.
import { createServer, type IncomingMessage } from 'node:http';

import { expect, openAction, test } from './server';

async function recorder(): Promise<{ url: string; seen: { method: string; url: string; headers: IncomingMessage['headers'] }[]; close(): Promise<void> }> {
  const seen: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    // Answer like an engine would, so a page that talked to it would carry on.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*' });
    res.end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('a crafted ?api= link sends nothing to the other address', async ({ page, server }) => {
  const attacker = await recorder();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  // The link an attacker would send: the real console, told to use another API, with the token.
  await page.goto(`${server.url}/?api=${encodeURIComponent(attacker.url)}&token=${server.token}`);
  await expect(page.locator('.action-item').first()).toBeVisible();
  // Use it: run something, look at History and Packs.
  await openAction(page, 'examples.hello');
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await expect(page.getByRole('region', { name: 'Execution' }).locator('.execution-header .badge')).toHaveAttribute('data-status', 'succeeded');
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
  await expect(page.locator('tr.execution-row').first()).toBeVisible();
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'Packs' }).click();
  await expect(page.locator('.pack-card').first()).toBeVisible();
  await page.reload();
  await expect(page.locator('.pack-card').first()).toBeVisible();

  expect(attacker.seen).toEqual([]);
  const origin = new URL(server.url).origin;
  for (const url of requested) if (!url.startsWith('data:')) expect(new URL(url).origin).toBe(origin);
  // The token left the address bar and is nowhere scripts can read it.
  expect(page.url()).not.toContain(server.token);
  expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie)).not.toContain(server.token);
  await attacker.close();
});

test('without a session, a crafted ?api= link still talks only to its own origin', async ({ browser, server }) => {
  const attacker = await recorder();
  const context = await browser.newContext();
  const page = await context.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`${server.url}/?api=${encodeURIComponent(attacker.url)}`);
  const form = page.getByRole('form', { name: 'Sign in' });
  await expect(form).toBeVisible();
  await form.getByLabel('API token').fill(server.token);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.action-item').first()).toBeVisible();
  expect(attacker.seen).toEqual([]);
  for (const url of requested) if (!url.startsWith('data:')) expect(new URL(url).origin).toBe(new URL(server.url).origin);
  await context.close();
  await attacker.close();
});
