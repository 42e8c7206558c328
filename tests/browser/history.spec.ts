// History as an operator's tool: workflow runs expand to their tasks in
// place; every execution and every filtered view has an address that works
// in a new tab (the session cookie); without a session the page says where
// the token is; parameters at a glance; dates with timezone and relative
// time; running and recent runs on the start screen.
import { completed, expect, test } from './server';

test('a workflow run expands to its tasks in place, level by level', async ({ consolePage: page, server }) => {
  const started = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.deploy', parameters: { delay: 0.05 } });
  await completed(server, started.id);
  await page.goto(`${server.url}/#/history?action=e2e.deploy`);
  const run = page.locator(`tr.execution-row[data-id="${started.id}"]`);
  await expect(run).toBeVisible();
  await run.getByRole('button', { name: 'Expand e2e.deploy' }).click();
  const children = page.locator('tr.execution-row[data-depth="1"]');
  await expect(children).toHaveCount(5);
  // In place: right below their run, in the order they ran.
  const order = await page.locator('tr.execution-row').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-depth')} ${r.querySelector('.history-action')?.textContent}`));
  const at = order.indexOf(`0 e2e.deploy`);
  expect(order.slice(at, at + 6)).toEqual(['0 e2e.deploy', '1 prepare', '1 hosts', '1 hosts', '1 hosts', '1 verify']);
  // A subworkflow expands too; collapsing the run folds everything below it.
  await children.nth(2).getByRole('button', { name: /^Expand / }).click();
  await expect(page.locator('tr.execution-row[data-depth="2"]')).toHaveCount(2);
  await run.getByRole('button', { name: 'Collapse e2e.deploy' }).click();
  await expect(page.locator('tr.execution-row[data-depth="1"], tr.execution-row[data-depth="2"]')).toHaveCount(0);
  await expect(run).toBeVisible();
});

test('filtered views and executions have addresses that open in a new tab', async ({ consolePage: page, server, context }) => {
  const fail = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.fail', parameters: {} });
  await completed(server, fail.id);
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
  await page.locator('#history-status').selectOption('failed');
  await expect(page).toHaveURL(/#\/history\?status=failed$/);
  await expect(page.locator(`tr.execution-row[data-id="${fail.id}"]`)).toBeVisible();

  // The same address in a new tab: the same filter, through the session cookie.
  const second = await context.newPage();
  await second.goto(page.url());
  await expect(second.locator('#history-status')).toHaveValue('failed');
  await expect(second.locator(`tr.execution-row[data-id="${fail.id}"]`)).toBeVisible();
  for (const status of await second.locator('tr.execution-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))) {
    expect(status).toBe('failed');
  }
  // Each row is a link to its execution.
  const link = second.locator(`tr.execution-row[data-id="${fail.id}"] a.history-action`);
  await expect(link).toHaveAttribute('href', `#/execution/${fail.id}`);
  const third = await context.newPage();
  await third.goto(`${server.url}/${await link.getAttribute('href')}`);
  await expect(third.getByRole('region', { name: 'Execution' }).locator('.execution-header .badge')).toHaveAttribute('data-status', 'failed');
  await second.close();
  await third.close();
});

test('without a session the page says where the token is; the token is never left readable', async ({ browser, server, consolePage: page }) => {
  // The signed-in page holds no token: not in storage, not in a cookie scripts can read.
  expect(await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }) + document.cookie)).not.toContain(server.token);
  expect(page.url()).not.toContain('token=');

  const fresh = await browser.newContext();
  const other = await fresh.newPage();
  await other.goto(`${server.url}/#/history`);
  const form = other.getByRole('form', { name: 'Sign in' });
  await expect(form).toBeVisible();
  await expect(form.locator('.token-file')).toHaveText(server.tokenFile);
  await form.getByLabel('API token').fill('not-the-token');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(form.getByRole('alert')).toContainText('not valid');
  await form.getByLabel('API token').fill(server.token);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'History' })).toBeVisible();
  const cookies = await fresh.cookies(server.url);
  const session = cookies.find((c) => c.name.startsWith('stormdesk_session_'));
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  expect(session?.value).not.toBe(server.token);
  await fresh.close();
});

test('rows show parameters, dates with timezone and relative time, who ran it', async ({ consolePage: page, server }) => {
  const marker = `preview${Date.now()}`;
  const hello = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.hello', parameters: { name: marker } });
  await completed(server, hello.id);
  await page.goto(`${server.url}/#/history?action=examples.hello`);
  const row = page.locator(`tr.execution-row[data-id="${hello.id}"]`);
  await expect(row.locator('.params-cell')).toHaveText(`name=${marker}`);
  await expect(row.locator('.when-cell')).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+(just now|\d+ s ago|\d+ min ago)$/);
  await expect(row.locator('td').nth(7)).not.toBeEmpty();
});

test('relative times stay true while the page is open', async ({ page, server }) => {
  await page.clock.install();
  const run = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
  await completed(server, run.id);
  await page.goto(`${server.url}/?token=${server.token}#/history`);
  const when = page.locator(`tr.execution-row[data-id="${run.id}"] .when-cell .rel`);
  await expect(when).toHaveText(/^(just now|\d+ s ago)$/);
  await page.clock.fastForward('05:00');
  await expect(when).toHaveText(/^5 min ago$/);
});

test('the start screen shows what is running and the recent runs', async ({ consolePage: page, server }) => {
  const sleeper = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.sleep', parameters: { seconds: 60 } });
  const done = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
  await completed(server, done.id);
  await page.goto(`${server.url}/#/`);
  const running = page.getByRole('table', { name: 'Running now' });
  const recent = page.getByRole('table', { name: 'Recent runs' });
  await expect(running.locator(`tr[data-run="${sleeper.id}"]`)).toBeVisible();
  await expect(recent.locator(`tr[data-run="${done.id}"]`)).toBeVisible();
  // Live: once canceled it moves to the recent runs.
  await server.api('DELETE', `/v1/executions/${sleeper.id}`);
  await expect(recent.locator(`tr[data-run="${sleeper.id}"]`)).toHaveAttribute('data-status', 'canceled');
  await expect(running.locator(`tr[data-run="${sleeper.id}"]`)).toHaveCount(0);
  // A long action name and long parameters still fit a 1400 px window.
  const long = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'e2e.long_tasks', parameters: {} });
  await completed(server, long.id);
  await page.setViewportSize({ width: 1400, height: 900 });
  await expect(recent.locator(`tr[data-run="${long.id}"]`)).toBeVisible();
  const box = page.locator('.home .table-scroll').filter({ has: recent });
  expect(await box.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
  await recent.locator(`tr[data-run="${done.id}"] a`).click();
  await expect(page).toHaveURL(new RegExp(`#/execution/${done.id}$`));
});

test('a run that starts while the console is still connecting its stream shows up', async ({ page, server }) => {
  // The stream is held back: the console loads the start screen without it
  // (after waiting a while), then a run starts, then the stream connects.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(
    (url) => url.pathname === '/v1/stream',
    async (route) => {
      await held;
      await route.continue();
    },
  );
  const listed = page.waitForResponse((r) => r.url().includes('/v1/executions?') && r.url().includes('roots_only=true'));
  await page.goto(`${server.url}/?token=${server.token}#/`);
  await listed;
  const run = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
  await completed(server, run.id);
  release();
  await expect(page.getByRole('table', { name: 'Recent runs' }).locator(`tr[data-run="${run.id}"]`)).toBeVisible();
});

test('History fits a window narrower than 1000 px', async ({ consolePage: page, server }) => {
  // A run of its own: the test does not depend on what earlier tests left.
  const run = await server.api<{ id: string }>('POST', '/v1/executions', { action: 'examples.true', parameters: {} });
  await completed(server, run.id);
  await page.setViewportSize({ width: 900, height: 700 });
  await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: 'History' }).click();
  await expect(page.locator('tr.execution-row').first()).toBeVisible();
  // The page itself never scrolls sideways; the table scrolls in its own box.
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  const box = page.locator('.history .table-scroll');
  await box.evaluate((el) => (el.scrollLeft = el.scrollWidth));
  await expect(page.locator('tr.execution-row').first().locator('td').last()).toBeInViewport();
});
